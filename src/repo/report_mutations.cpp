#include "repo/report_mutations.hpp"

#include <algorithm>

#include "common/json_integer.hpp"
#include "db/mutation.hpp"
#include "repo/report_repository.hpp"

namespace k9::repo {
using db::MutationRejected;
using nlohmann::json;

namespace {

[[noreturn]] void not_found(const std::string& report_id) {
    throw MutationRejected(MutationRejected::Reason::NotFound,
                           "report " + report_id + " not found");
}

Report existing(duck::Connection& conn, const std::string& user_id, const std::string& id) {
    auto r = find_report(conn, user_id, id);
    if (!r) not_found(id);
    return *r;
}

template <typename T>
void set_if_present(const json& p, const char* key, std::optional<T>& out) {
    if (p.contains(key)) out = p.at(key).get<T>();
}

template <typename T>
void put_if_set(json& p, const char* key, const std::optional<T>& v) {
    if (v) p[key] = *v;
}

// Sets r's favorites and writes them; returns the row as written.
Report write_favorites(duck::Connection& conn, Report r, std::vector<std::string> favs,
                       Micros now) {
    r.favorites = std::move(favs);
    r.updated_at = now;
    conn.prepared("UPDATE reports SET favorites = ?, updated_at = ? WHERE id = ? AND user_id = ?")
        .bind(1, json(r.favorites).dump())
        .bind_timestamp(2, now)
        .bind(3, r.id)
        .bind(4, r.user_id)
        .execute();
    return r;
}

}  // namespace

// ---- report.create ----------------------------------------------------------------------

json CreateReport::params() const {
    return {{"id", id},     {"user_id", user_id},     {"title", title},         {"author", author},
            {"date", date}, {"reference", reference}, {"favorites", favorites}, {"now", now}};
}

CreateReport CreateReport::from_params(const json& p) {
    return {.id = p.at("id").get<std::string>(),
            .user_id = p.at("user_id").get<std::string>(),
            .title = p.at("title").get<std::string>(),
            .author = p.at("author").get<std::string>(),
            .date = p.at("date").get<std::string>(),
            .reference = p.at("reference"),
            .favorites = p.at("favorites").get<std::vector<std::string>>(),
            .now = json_integer<Micros>(p.at("now"))};
}

namespace {

constexpr std::size_t kCreateColumns = 9;
constexpr std::size_t kCreateRowsPerInsert = 32;  // 0.09 ms a row against 0.5 alone

// INSERT of `rows` reports, each row's parameters bound by bind_create.
std::string insert_reports_sql(std::size_t rows) {
    std::string sql =
        "INSERT INTO reports (id, title, author, date, user_id, reference, favorites, "
        "created_at, updated_at) VALUES ";
    for (std::size_t r = 0; r < rows; ++r) {
        if (r > 0) sql += ", ";
        sql += "(?, ?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?)";
    }
    return sql;
}

void bind_create(duck::Statement& stmt, std::size_t row, const CreateReport& c) {
    const std::size_t at = row * kCreateColumns;
    stmt.bind(at + 1, c.id)
        .bind(at + 2, c.title)
        .bind(at + 3, c.author)
        .bind(at + 4, c.date)
        .bind(at + 5, c.user_id)
        .bind(at + 6, c.reference.dump())
        .bind(at + 7, json(c.favorites).dump())
        .bind_timestamp(at + 8, c.now)
        .bind_timestamp(at + 9, c.now);
}

}  // namespace

void CreateReport::apply_all(duck::Connection& conn, const std::vector<CreateReport>& many) {
    std::size_t i = 0;
    if (many.size() >= kCreateRowsPerInsert) {
        static const std::string sql = insert_reports_sql(kCreateRowsPerInsert);
        auto& stmt = conn.prepared(sql);
        for (; i + kCreateRowsPerInsert <= many.size(); i += kCreateRowsPerInsert) {
            for (std::size_t r = 0; r < kCreateRowsPerInsert; ++r)
                bind_create(stmt, r, many[i + r]);
            stmt.execute();
        }
    }
    for (; i < many.size(); ++i) many[i].apply(conn);
}

Report CreateReport::apply(duck::Connection& conn) const {
    static const std::string sql = insert_reports_sql(1);
    auto& stmt = conn.prepared(sql);
    bind_create(stmt, 0, *this);
    stmt.execute();
    return {.id = id,
            .title = title,
            .author = author,
            .date = date,
            .user_id = user_id,
            .reference = reference,
            .favorites = favorites,
            .created_at = now,
            .updated_at = now};
}

// ---- report.update ----------------------------------------------------------------------

json UpdateReport::params() const {
    json p = {{"id", id}, {"user_id", user_id}, {"now", now}};
    put_if_set(p, "title", title);
    put_if_set(p, "author", author);
    put_if_set(p, "date", date);
    put_if_set(p, "reference", reference);
    return p;
}

UpdateReport UpdateReport::from_params(const json& p) {
    UpdateReport u{.id = p.at("id").get<std::string>(),
                   .user_id = p.at("user_id").get<std::string>(),
                   .now = json_integer<Micros>(p.at("now"))};
    set_if_present(p, "title", u.title);
    set_if_present(p, "author", u.author);
    set_if_present(p, "date", u.date);
    if (p.contains("reference")) u.reference = p.at("reference");
    return u;
}

Report UpdateReport::apply(duck::Connection& conn) const {
    Report r = existing(conn, user_id, id);
    if (title) r.title = *title;
    if (author) r.author = *author;
    if (date) r.date = *date;
    if (reference) r.reference = *reference;
    r.updated_at = now;
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
    return r;
}

// ---- report.delete ----------------------------------------------------------------------

json DeleteReport::params() const {
    return {{"id", id}, {"user_id", user_id}};
}

DeleteReport DeleteReport::from_params(const json& p) {
    return {.id = p.at("id").get<std::string>(), .user_id = p.at("user_id").get<std::string>()};
}

std::string DeleteReport::apply(duck::Connection& conn) const {
    auto r = conn.prepared("DELETE FROM reports WHERE id = ? AND user_id = ?")
                 .bind(1, id)
                 .bind(2, user_id)
                 .execute();
    if (r.rows_changed() == 0) not_found(id);
    return id;
}

// ---- report.set_favorite ----------------------------------------------------------------

json SetFavorite::params() const {
    return {{"id", id},
            {"user_id", user_id},
            {"product_id", product_id},
            {"favorite", favorite},
            {"now", now}};
}

SetFavorite SetFavorite::from_params(const json& p) {
    return {.id = p.at("id").get<std::string>(),
            .user_id = p.at("user_id").get<std::string>(),
            .product_id = p.at("product_id").get<std::string>(),
            .favorite = p.at("favorite").get<bool>(),
            .now = json_integer<Micros>(p.at("now"))};
}

Report SetFavorite::apply(duck::Connection& conn) const {
    Report r = existing(conn, user_id, id);
    std::vector<std::string> favs = r.favorites;
    auto it = std::find(favs.begin(), favs.end(), product_id);
    if (favorite) {
        if (it == favs.end()) {
            if (favs.size() >= kMaxFavorites) {
                throw MutationRejected(MutationRejected::Reason::Conflict,
                                       "report " + r.id + " already has the maximum of " +
                                           std::to_string(kMaxFavorites) + " favorites");
            }
            favs.push_back(product_id);
        }
    } else if (it != favs.end()) {
        favs.erase(it);
    }
    return write_favorites(conn, std::move(r), std::move(favs), now);
}

// ---- report.replace_favorites -----------------------------------------------------------

json ReplaceFavorites::params() const {
    return {{"id", id}, {"user_id", user_id}, {"favorites", favorites}, {"now", now}};
}

ReplaceFavorites ReplaceFavorites::from_params(const json& p) {
    return {.id = p.at("id").get<std::string>(),
            .user_id = p.at("user_id").get<std::string>(),
            .favorites = p.at("favorites").get<std::vector<std::string>>(),
            .now = json_integer<Micros>(p.at("now"))};
}

Report ReplaceFavorites::apply(duck::Connection& conn) const {
    return write_favorites(conn, existing(conn, user_id, id), favorites, now);
}

}  // namespace k9::repo
