#include "repo/report_repository.hpp"

#include <set>

#include "common/hash.hpp"
#include "repo/report_mutations.hpp"
#include "repo/validate.hpp"

namespace k9::repo {
using nlohmann::json;

namespace {

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
    return manager_.apply(CreateReport{.id = new_uuid_v7(now / 1000),
                                       .user_id = user_id,
                                       .title = report.title,
                                       .author = report.author,
                                       .date = report.date,
                                       .reference = report.reference,
                                       .favorites = unique_in_order(report.favorites),
                                       .now = now});
}

Report ReportRepository::update(const std::string& user_id, const std::string& report_id,
                                const ReportPatch& patch) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    if (patch.title) check_text("title", *patch.title, true);
    if (patch.author) check_text("author", *patch.author, true);
    if (patch.date) check_date("date", *patch.date);
    if (patch.reference && patch.reference->is_null())
        throw InvalidInput("reference", "reference cannot be null");
    return manager_.apply(UpdateReport{.id = report_id,
                                       .user_id = user_id,
                                       .title = patch.title,
                                       .author = patch.author,
                                       .date = patch.date,
                                       .reference = patch.reference,
                                       .now = clock_()});
}

void ReportRepository::remove(const std::string& user_id, const std::string& report_id) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    manager_.apply(DeleteReport{.id = report_id, .user_id = user_id});
}

Report ReportRepository::set_favorite(const std::string& user_id, const std::string& report_id,
                                      const std::string& product_id, bool favorite) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    check_id("product_id", product_id);
    return manager_.apply(SetFavorite{.id = report_id,
                                      .user_id = user_id,
                                      .product_id = product_id,
                                      .favorite = favorite,
                                      .now = clock_()});
}

Report ReportRepository::replace_favorites(const std::string& user_id, const std::string& report_id,
                                           const std::vector<std::string>& product_ids) {
    check_id("user_id", user_id);
    check_id("report_id", report_id);
    check_favorites(product_ids);
    return manager_.apply(ReplaceFavorites{.id = report_id,
                                           .user_id = user_id,
                                           .favorites = unique_in_order(product_ids),
                                           .now = clock_()});
}

}  // namespace k9::repo
