#include "repo/report_repository.hpp"

#include <algorithm>
#include <set>

#include "common/hash.hpp"
#include "repo/validate.hpp"

namespace k9::repo {
using db::MutationRejected;
using nlohmann::json;

namespace {

constexpr const char* kCreate = "report.create";
constexpr const char* kUpdate = "report.update";
constexpr const char* kDelete = "report.delete";
constexpr const char* kSetFavorite = "report.set_favorite";
constexpr const char* kReplaceFavorites = "report.replace_favorites";

constexpr const char* kColumns =
    "id, title, author, strftime(date, '%Y-%m-%d'), user_id, CAST(reference AS VARCHAR), "
    "CAST(favorites AS VARCHAR), epoch_us(created_at), epoch_us(updated_at)";

Report report_at(const duck::Result& r, std::size_t row) {
    Report rep;
    rep.id = r.text(0, row);
    rep.title = r.text(1, row);
    rep.author = r.text(2, row);
    rep.date = r.text(3, row);
    rep.user_id = r.text(4, row);
    rep.reference = json::parse(r.text(5, row));
    if (auto fav = r.optional_text(6, row))
        rep.favorites = json::parse(*fav).get<std::vector<std::string>>();
    rep.created_at = r.int64(7, row);
    rep.updated_at = r.int64(8, row);
    return rep;
}

[[noreturn]] void not_found(const std::string& report_id) {
    throw MutationRejected(MutationRejected::Reason::NotFound,
                           "report " + report_id + " not found");
}

void check_favorites(const std::vector<std::string>& ids) {
    if (ids.size() > kMaxFavorites) {
        throw InvalidInput("favorites", "at most " + std::to_string(kMaxFavorites) + " favorites");
    }
    for (const auto& id : ids) check_id("favorites", id);
}

// Keeps the first occurrence of each id, in order.
std::vector<std::string> unique_in_order(const std::vector<std::string>& ids) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& id : ids) {
        if (seen.insert(id).second) out.push_back(id);
    }
    return out;
}

// Sets r's favorites and writes them; returns the row as written.
json write_favorites(duck::Connection& conn, Report& r, std::vector<std::string> favs, Micros now) {
    r.favorites = std::move(favs);
    r.updated_at = now;
    conn.prepared("UPDATE reports SET favorites = ?, updated_at = ? WHERE id = ? AND user_id = ?")
        .bind(1, json(r.favorites).dump())
        .bind_timestamp(2, now)
        .bind(3, r.id)
        .bind(4, r.user_id)
        .execute();
    return r.to_json();
}

Report existing(duck::Connection& conn, const json& p) {
    const std::string id = p.at("id").get<std::string>();
    auto r = find_report(conn, p.at("user_id").get<std::string>(), id);
    if (!r) not_found(id);
    return *r;
}

// Each mutation returns the row as it wrote it (Report::to_json): the caller answers
// with it, without reading the row again.
json apply_create(duck::Connection& conn, const json& p) {
    Report r;
    r.id = p.at("id").get<std::string>();
    r.title = p.at("title").get<std::string>();
    r.author = p.at("author").get<std::string>();
    r.date = p.at("date").get<std::string>();
    r.user_id = p.at("user_id").get<std::string>();
    r.reference = p.at("reference");
    r.favorites = p.at("favorites").get<std::vector<std::string>>();
    r.created_at = r.updated_at = p.at("now").get<Micros>();
    conn.prepared(
            "INSERT INTO reports (id, title, author, date, user_id, reference, favorites, "
            "created_at, updated_at) VALUES (?, ?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?)")
        .bind(1, p.at("id").get<std::string>())
        .bind(2, p.at("title").get<std::string>())
        .bind(3, p.at("author").get<std::string>())
        .bind(4, p.at("date").get<std::string>())
        .bind(5, p.at("user_id").get<std::string>())
        .bind(6, p.at("reference").dump())
        .bind(7, p.at("favorites").dump())
        .bind_timestamp(8, p.at("now").get<Micros>())
        .bind_timestamp(9, p.at("now").get<Micros>())
        .execute();
    return r.to_json();
}

json apply_update(duck::Connection& conn, const json& p) {
    Report r = existing(conn, p);
    if (p.contains("title")) r.title = p["title"].get<std::string>();
    if (p.contains("author")) r.author = p["author"].get<std::string>();
    if (p.contains("date")) r.date = p["date"].get<std::string>();
    if (p.contains("reference")) r.reference = p["reference"];
    r.updated_at = p.at("now").get<Micros>();
    conn.prepared(
            "UPDATE reports SET title = ?, author = ?, date = CAST(? AS DATE), reference = ?, "
            "updated_at = ? WHERE id = ? AND user_id = ?")
        .bind(1, r.title)
        .bind(2, r.author)
        .bind(3, r.date)
        .bind(4, r.reference.dump())
        .bind_timestamp(5, r.updated_at)
        .bind(6, r.id)
        .bind(7, r.user_id)
        .execute();
    return r.to_json();
}

json apply_delete(duck::Connection& conn, const json& p) {
    const std::string id = p.at("id").get<std::string>();
    auto r = conn.prepared("DELETE FROM reports WHERE id = ? AND user_id = ?")
                 .bind(1, id)
                 .bind(2, p.at("user_id").get<std::string>())
                 .execute();
    if (r.rows_changed() == 0) not_found(id);
    return {{"id", id}, {"deleted", true}};
}

json apply_set_favorite(duck::Connection& conn, const json& p) {
    Report r = existing(conn, p);
    const std::string product = p.at("product_id").get<std::string>();
    std::vector<std::string> favs = r.favorites;
    auto it = std::find(favs.begin(), favs.end(), product);
    if (p.at("favorite").get<bool>()) {
        if (it == favs.end()) {
            if (favs.size() >= kMaxFavorites) {
                throw MutationRejected(MutationRejected::Reason::Conflict,
                                       "report " + r.id + " already has the maximum of " +
                                           std::to_string(kMaxFavorites) + " favorites");
            }
            favs.push_back(product);
        }
    } else if (it != favs.end()) {
        favs.erase(it);
    }
    return write_favorites(conn, r, std::move(favs), p.at("now").get<Micros>());
}

json apply_replace_favorites(duck::Connection& conn, const json& p) {
    Report r = existing(conn, p);
    return write_favorites(conn, r, p.at("favorites").get<std::vector<std::string>>(),
                           p.at("now").get<Micros>());
}

// Cursor: base64url("<created_at micros>:<id>") of the last item on a page.
std::string encode_cursor(const Report& r) {
    return base64url_encode(std::to_string(r.created_at) + ":" + r.id);
}

std::pair<Micros, std::string> decode_cursor(const std::string& cursor) {
    try {
        const std::string text = base64url_decode(cursor);
        const auto colon = text.find(':');
        if (colon == std::string::npos || colon == 0) throw std::invalid_argument("no separator");
        std::size_t used = 0;
        const Micros t = std::stoll(text.substr(0, colon), &used);
        if (used != colon) throw std::invalid_argument("bad time");
        check_id("cursor", text.substr(colon + 1));
        return {t, text.substr(colon + 1)};
    } catch (const std::exception&) {
        throw InvalidInput("cursor", "cursor is not one this API returned");
    }
}

}  // namespace

std::optional<Report> find_report(duck::Connection& conn, const std::string& user_id,
                                  const std::string& report_id) {
    auto r = conn.prepared(std::string("SELECT ") + kColumns +
                           " FROM reports WHERE id = ? AND user_id = ?")
                 .bind(1, report_id)
                 .bind(2, user_id)
                 .execute();
    if (r.rows() == 0) return std::nullopt;
    return report_at(r, 0);
}

ReportPage ReportRepository::list_for_user(const std::string& user_id, std::size_t limit,
                                           const std::optional<std::string>& cursor) {
    check_id("user_id", user_id);
    if (limit < 1 || limit > kMaxPageSize) {
        throw InvalidInput("limit", "limit must be between 1 and " + std::to_string(kMaxPageSize));
    }
    std::optional<std::pair<Micros, std::string>> after;
    if (cursor) after = decode_cursor(*cursor);
    return manager_.read([&](duck::Connection& conn) {
        std::string sql = std::string("SELECT ") + kColumns + " FROM reports WHERE user_id = ?";
        if (after) sql += " AND (created_at < ? OR (created_at = ? AND id < ?))";
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?";
        auto& stmt = conn.prepared(sql);
        std::size_t i = 1;
        stmt.bind(i++, user_id);
        if (after) {
            stmt.bind_timestamp(i++, after->first);
            stmt.bind_timestamp(i++, after->first);
            stmt.bind(i++, after->second);
        }
        stmt.bind(i++, static_cast<std::int64_t>(limit + 1));
        auto r = stmt.execute();
        ReportPage page;
        for (std::size_t row = 0; row < r.rows() && row < limit; ++row)
            page.items.push_back(report_at(r, row));
        if (r.rows() > limit) page.next_cursor = encode_cursor(page.items.back());
        return page;
    });
}

std::optional<Report> ReportRepository::get(const std::string& user_id,
                                            const std::string& report_id) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    return manager_.read(
        [&](duck::Connection& conn) { return find_report(conn, user_id, report_id); });
}

Report ReportRepository::create(const std::string& user_id, const NewReport& report) {
    check_id("user_id", user_id);
    check_text("title", report.title, true);
    check_text("author", report.author, true);
    check_date("date", report.date);
    if (report.reference.is_null()) throw InvalidInput("reference", "reference is required");
    check_favorites(report.favorites);
    const Micros now = clock_();
    const std::string id = new_uuid_v7(now / 1000);
    return Report::from_json(manager_.apply({kCreate,
                                             {{"id", id},
                                              {"user_id", user_id},
                                              {"title", report.title},
                                              {"author", report.author},
                                              {"date", report.date},
                                              {"reference", report.reference},
                                              {"favorites", unique_in_order(report.favorites)},
                                              {"now", now}},
                                             user_id}));
}

Report ReportRepository::update(const std::string& user_id, const std::string& report_id,
                                const ReportPatch& patch) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    json params = {{"id", report_id}, {"user_id", user_id}, {"now", clock_()}};
    if (patch.title) check_text("title", *patch.title, true), params["title"] = *patch.title;
    if (patch.author) check_text("author", *patch.author, true), params["author"] = *patch.author;
    if (patch.date) check_date("date", *patch.date), params["date"] = *patch.date;
    if (patch.reference) {
        if (patch.reference->is_null()) throw InvalidInput("reference", "reference cannot be null");
        params["reference"] = *patch.reference;
    }
    return Report::from_json(manager_.apply({kUpdate, params, user_id}));
}

void ReportRepository::remove(const std::string& user_id, const std::string& report_id) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    manager_.apply({kDelete, {{"id", report_id}, {"user_id", user_id}}, user_id});
}

Report ReportRepository::set_favorite(const std::string& user_id, const std::string& report_id,
                                      const std::string& product_id, bool favorite) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    check_id("product_id", product_id);
    return Report::from_json(manager_.apply({kSetFavorite,
                                             {{"id", report_id},
                                              {"user_id", user_id},
                                              {"product_id", product_id},
                                              {"favorite", favorite},
                                              {"now", clock_()}},
                                             user_id}));
}

Report ReportRepository::replace_favorites(const std::string& user_id, const std::string& report_id,
                                           const std::vector<std::string>& product_ids) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    check_favorites(product_ids);
    return Report::from_json(manager_.apply({kReplaceFavorites,
                                             {{"id", report_id},
                                              {"user_id", user_id},
                                              {"favorites", unique_in_order(product_ids)},
                                              {"now", clock_()}},
                                             user_id}));
}

void ReportRepository::register_mutations(db::MutationRegistry& registry) {
    registry.add(kCreate, apply_create);
    registry.add(kUpdate, apply_update);
    registry.add(kDelete, apply_delete);
    registry.add(kSetFavorite, apply_set_favorite);
    registry.add(kReplaceFavorites, apply_replace_favorites);
}

}  // namespace k9::repo
