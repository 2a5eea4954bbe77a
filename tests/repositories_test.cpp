// UserRepository and ReportRepository on a real DuckDB through the manager.
#include <gtest/gtest.h>

#include "db/journal.hpp"
#include "repo/mutations.hpp"
#include "repo/report_mutations.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_mutations.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"

namespace k9 {
namespace {

using db::MutationRejected;
using repo::InvalidInput;
using repo::NewReport;

class RepositoriesTest : public ::testing::Test {
  protected:
    RepositoriesTest() { manager_ = test::make_manager(tmp_ / "k9.db", store_); }
    // A clock that moves one millisecond per call, so ordering is deterministic.
    Clock stepping_clock() {
        return [this] { return now_ += 1000; };
    }
    NewReport report(const std::string& title) {
        return {title, "Author", "2024-05-01", {{"product", "p1"}}, {}};
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
    std::unique_ptr<db::DatabaseManager> manager_;
    Micros now_ = 1'700'000'000'000'000;
};

TEST_F(RepositoriesTest, ProfileIsCreatedOnFirstWriteThenPatched) {
    repo::UserRepository users(*manager_, stepping_clock());
    EXPECT_FALSE(users.get_user("sub-1"));
    auto u = users.upsert_profile(
        "sub-1", {"Ann", std::string("ann@example.com"), {}, nlohmann::json{{"theme", "dark"}}});
    EXPECT_EQ(u.name, "Ann");
    EXPECT_EQ(u.email, "ann@example.com");
    EXPECT_EQ(u.preferences["theme"], "dark");
    EXPECT_EQ(u.created_at, u.updated_at);

    auto v = users.upsert_profile(
        "sub-1", {std::nullopt, std::optional<std::string>{}, std::string("https://x/a.png"), {}});
    EXPECT_EQ(v.name, "Ann");                    // unchanged
    EXPECT_FALSE(v.email.has_value());           // cleared
    EXPECT_EQ(v.avatar_url, "https://x/a.png");  // set
    EXPECT_EQ(v.preferences["theme"], "dark");   // unchanged
    EXPECT_EQ(v.created_at, u.created_at);
    EXPECT_GT(v.updated_at, u.updated_at);
}

TEST_F(RepositoriesTest, ProfileInputIsValidated) {
    repo::UserRepository users(*manager_);
    EXPECT_THROW(users.upsert_profile("u", {std::string("  "), {}, {}, {}}), InvalidInput);
    EXPECT_THROW(users.upsert_profile("u", {"Ann", std::string("not-an-email"), {}, {}}),
                 InvalidInput);
    EXPECT_THROW(users.upsert_profile("u", {"Ann", {}, std::string("ftp://x"), {}}), InvalidInput);
    EXPECT_THROW(users.upsert_profile("u", {"Ann", {}, {}, nlohmann::json::array()}), InvalidInput);
    EXPECT_THROW(users.upsert_profile("", {"Ann", {}, {}, {}}), InvalidInput);
    EXPECT_THROW(users.upsert_profile("u", {std::nullopt, {}, {}, {}}),
                 MutationRejected);  // no name yet
    EXPECT_EQ(manager_->status().seq, 0);
}

TEST_F(RepositoriesTest, ReportsAreListedNewestFirstWithACursor) {
    repo::ReportRepository reports(*manager_, stepping_clock());
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i)
        ids.push_back(reports.create("u1", report("r" + std::to_string(i))).id);
    reports.create("u2", report("someone else's"));

    auto page1 = reports.list_for_user("u1", 3);
    ASSERT_EQ(page1.items.size(), 3u);
    EXPECT_EQ(page1.items[0].id, ids[6]);
    EXPECT_EQ(page1.items[2].id, ids[4]);
    ASSERT_TRUE(page1.next_cursor);
    auto page2 = reports.list_for_user("u1", 3, page1.next_cursor);
    ASSERT_EQ(page2.items.size(), 3u);
    EXPECT_EQ(page2.items[0].id, ids[3]);
    auto page3 = reports.list_for_user("u1", 3, page2.next_cursor);
    ASSERT_EQ(page3.items.size(), 1u);
    EXPECT_EQ(page3.items[0].id, ids[0]);
    EXPECT_FALSE(page3.next_cursor);
}

TEST_F(RepositoriesTest, ReportsWithTheSameTimestampPageWithoutGapsOrRepeats) {
    repo::ReportRepository reports(*manager_, [] { return Micros{42}; });
    std::set<std::string> created, seen;
    for (int i = 0; i < 5; ++i) created.insert(reports.create("u1", report("same time")).id);
    std::optional<std::string> cursor;
    do {
        auto page = reports.list_for_user("u1", 2, cursor);
        for (const auto& r : page.items)
            EXPECT_TRUE(seen.insert(r.id).second) << "repeated " << r.id;
        cursor = page.next_cursor;
    } while (cursor);
    EXPECT_EQ(seen, created);
}

TEST_F(RepositoriesTest, BadLimitsAndCursorsAreInvalidInput) {
    repo::ReportRepository reports(*manager_);
    EXPECT_THROW(reports.list_for_user("u1", 0), InvalidInput);
    EXPECT_THROW(reports.list_for_user("u1", 101), InvalidInput);
    EXPECT_THROW(reports.list_for_user("u1", 10, std::string("!!not-a-cursor")), InvalidInput);
    EXPECT_THROW(reports.list_for_user("u1", 10, std::string("bm9jb2xvbg")),
                 InvalidInput);  // "nocolon"
}

TEST_F(RepositoriesTest, CreateGetUpdateDelete) {
    repo::ReportRepository reports(*manager_, stepping_clock());
    auto r =
        reports.create("u1", {"Title", "Me", "2024-02-29", {{"a", {1, 2}}}, {"p1", "p2", "p1"}});
    EXPECT_EQ(r.favorites, (std::vector<std::string>{"p1", "p2"}));
    EXPECT_EQ(r.date, "2024-02-29");
    EXPECT_EQ(r.reference["a"][1], 2);
    EXPECT_EQ(r.id.size(), 36u);

    auto got = reports.get("u1", r.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->to_json(), r.to_json());

    auto u =
        reports.update("u1", r.id, {std::string("New title"), {}, std::string("2025-01-31"), {}});
    EXPECT_EQ(u.title, "New title");
    EXPECT_EQ(u.author, "Me");
    EXPECT_EQ(u.date, "2025-01-31");
    EXPECT_GT(u.updated_at, r.updated_at);
    EXPECT_EQ(u.created_at, r.created_at);

    reports.remove("u1", r.id);
    EXPECT_FALSE(reports.get("u1", r.id));
    EXPECT_THROW(reports.remove("u1", r.id), MutationRejected);
}

TEST_F(RepositoriesTest, ReportInputIsValidated) {
    repo::ReportRepository reports(*manager_);
    EXPECT_THROW(reports.create("u1", {"", "a", "2024-01-01", {{"x", 1}}, {}}), InvalidInput);
    EXPECT_THROW(reports.create("u1", {"t", "", "2024-01-01", {{"x", 1}}, {}}), InvalidInput);
    EXPECT_THROW(reports.create("u1", {"t", "a", "2023-02-29", {{"x", 1}}, {}}), InvalidInput);
    EXPECT_THROW(reports.create("u1", {"t", "a", "01/02/2024", {{"x", 1}}, {}}), InvalidInput);
    EXPECT_THROW(reports.create("u1", {"t", "a", "2024-01-01", nullptr, {}}), InvalidInput);
    EXPECT_THROW(reports.create("u1", {"t", "a", "2024-01-01", {{"x", 1}}, {""}}), InvalidInput);
    EXPECT_EQ(manager_->status().seq, 0);
}

TEST_F(RepositoriesTest, FavoritesSetOneAndReplaceAll) {
    repo::ReportRepository reports(*manager_, stepping_clock());
    auto r = reports.create("u1", report("fav"));
    EXPECT_TRUE(r.favorites.empty());
    r = reports.set_favorite("u1", r.id, "p1", true);
    r = reports.set_favorite("u1", r.id, "p2", true);
    r = reports.set_favorite("u1", r.id, "p1", true);  // already there: no duplicate
    EXPECT_EQ(r.favorites, (std::vector<std::string>{"p1", "p2"}));
    r = reports.set_favorite("u1", r.id, "p1", false);
    EXPECT_EQ(r.favorites, (std::vector<std::string>{"p2"}));
    r = reports.set_favorite("u1", r.id, "absent", false);  // removing what is not there is fine
    EXPECT_EQ(r.favorites, (std::vector<std::string>{"p2"}));
    r = reports.replace_favorites("u1", r.id, {"x", "y", "x"});
    EXPECT_EQ(r.favorites, (std::vector<std::string>{"x", "y"}));
    r = reports.replace_favorites("u1", r.id, {});
    EXPECT_TRUE(r.favorites.empty());
}

TEST_F(RepositoriesTest, AUserCannotSeeOrChangeAnotherUsersReport) {
    repo::ReportRepository reports(*manager_);
    auto mine = reports.create("alice", report("alice's"));
    EXPECT_FALSE(reports.get("bob", mine.id));
    EXPECT_THROW(reports.update("bob", mine.id, {std::string("stolen"), {}, {}, {}}),
                 MutationRejected);
    EXPECT_THROW(reports.remove("bob", mine.id), MutationRejected);
    EXPECT_THROW(reports.set_favorite("bob", mine.id, "p", true), MutationRejected);
    EXPECT_THROW(reports.replace_favorites("bob", mine.id, {"p"}), MutationRejected);
    EXPECT_TRUE(reports.list_for_user("bob").items.empty());
    EXPECT_EQ(reports.get("alice", mine.id)->title, "alice's");
}

TEST_F(RepositoriesTest, EveryWritesJournalFormReplaysToTheSameState) {
    // Each write is a typed mutation whose journal form carries its ids and time: the
    // entries the journal holds, applied by name to a fresh database (from_params, then
    // apply), must give identical tables.
    auto live = test::make_journal_manager(tmp_ / "live.db", store_);
    repo::UserRepository users(*live);
    repo::ReportRepository reports(*live);
    users.upsert_profile("u1", {"Ann", std::string("a@example.com"), {}, nlohmann::json::object()});
    users.upsert_profile("u1", {{}, std::optional<std::string>(), {}, nlohmann::json(nullptr)});
    auto r1 = reports.create("u1", report("one"));
    auto r2 = reports.create("u1", report("two"));
    reports.update("u1", r1.id, {std::string("one!"), {}, std::string("2024-06-01"), {}});
    reports.set_favorite("u1", r1.id, "p9", true);
    reports.replace_favorites("u1", r2.id, {"a", "b"});
    reports.remove("u1", r2.id);

    std::vector<db::Mutation> recorded;
    db::Journal journal(*store_, test::kSnapshotKey);
    for (const auto& [partition, seqs] : journal.list_all()) {
        for (const auto s : seqs) {
            const auto entry = journal.read(partition, s);
            ASSERT_TRUE(entry);
            for (const auto& m : entry->mutations) recorded.push_back(m);
        }
    }
    ASSERT_EQ(recorded.size(), 8u);
    db::ManagerOptions o;
    o.db_path = tmp_ / "replayed.db";
    o.key = "databases/replayed.db";
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Snapshot;
    db::DatabaseManager replay(o, store_);
    for (const auto& mut : recorded) replay.apply(mut);

    auto tables = [](db::DatabaseManager& mm) {
        return mm.read([](duck::Connection& c) {
            std::string out;
            for (const char* t : {"users", "reports"}) {
                out += c.query(std::string("SELECT count(*)::VARCHAR || ':' || "
                                           "coalesce(sum(hash(x)), 0)::VARCHAR FROM ") +
                               t + " x")
                           .text(0, 0) +
                       ";";
            }
            return out;
        });
    };
    EXPECT_EQ(tables(*live), tables(replay));
}

// The journal form of every mutation, as entries of every k9 since the first hold it: a
// key renamed here would make those entries unreadable.
TEST(TypedMutations, TheirJournalFormsNeverChange) {
    using nlohmann::json;
    const json reference = {{"product", "p1"}};
    EXPECT_EQ(repo::CreateReport({"r", "u", "T", "A", "2024-05-01", reference, {"x"}, 7}).params(),
              json::parse(R"({"id":"r","user_id":"u","title":"T","author":"A","date":"2024-05-01",
                              "reference":{"product":"p1"},"favorites":["x"],"now":7})"));
    EXPECT_EQ(repo::UpdateReport({"r", "u", "T", {}, {}, json(nullptr), 7}).params(),
              json::parse(R"({"id":"r","user_id":"u","title":"T","reference":null,"now":7})"));
    EXPECT_EQ(repo::DeleteReport({"r", "u"}).params(), json::parse(R"({"id":"r","user_id":"u"})"));
    EXPECT_EQ(repo::SetFavorite({"r", "u", "p", false, 7}).params(),
              json::parse(R"({"id":"r","user_id":"u","product_id":"p","favorite":false,"now":7})"));
    EXPECT_EQ(repo::ReplaceFavorites({"r", "u", {"a", "b"}, 7}).params(),
              json::parse(R"({"id":"r","user_id":"u","favorites":["a","b"],"now":7})"));
    EXPECT_EQ(repo::UpsertProfile({"u", "N", std::optional<std::string>(), {}, json(nullptr), 7})
                  .params(),
              json::parse(R"({"user_id":"u","name":"N","email":null,"preferences":null,"now":7})"));
    EXPECT_EQ(repo::UpsertProfile({"u", {}, {}, std::string("https://a/b"), {}, 7}).params(),
              json::parse(R"({"user_id":"u","avatar_url":"https://a/b","now":7})"));
}

template <typename M>
void expect_round_trip(const M& m) {
    EXPECT_EQ(M::from_params(m.params()).params(), m.params()) << M::kName;
}

TEST(TypedMutations, FromParamsReadsBackWhatParamsWrote) {
    using nlohmann::json;
    expect_round_trip(repo::CreateReport{"r", "u", "T", "A", "2024-05-01", {{"k", 1}}, {}, 7});
    expect_round_trip(repo::UpdateReport{"r", "u", {}, "A", "2024-05-02", json::array(), 7});
    expect_round_trip(repo::DeleteReport{"r", "u"});
    expect_round_trip(repo::SetFavorite{"r", "u", "p", true, 7});
    expect_round_trip(repo::ReplaceFavorites{"r", "u", {"a"}, 7});
    expect_round_trip(
        repo::UpsertProfile{"u", {}, std::optional<std::string>(), {}, json{{"theme", "dark"}}, 7});
    // A clearing (null) email is kept apart from an absent one.
    const auto cleared =
        repo::UpsertProfile::from_params(json::parse(R"({"user_id":"u","email":null,"now":1})"));
    ASSERT_TRUE(cleared.email.has_value());
    EXPECT_FALSE(cleared.email->has_value());
    EXPECT_FALSE(cleared.avatar_url.has_value());
    EXPECT_THROW(repo::CreateReport::from_params(json::parse(R"({"id":"r"})")), json::exception);
}

TEST_F(RepositoriesTest, AWriteAnswersWithTheRowItWroteWithoutReadingItAgain) {
    repo::ReportRepository reports(*manager_, stepping_clock());
    const auto created = reports.create("u1", report("one"));
    const auto stored = reports.get("u1", created.id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(created.to_json(), stored->to_json()) << "the answer is the row as stored";
    const auto changed = reports.set_favorite("u1", created.id, "p2", true);
    EXPECT_EQ(changed.to_json(), reports.get("u1", created.id)->to_json());
}

}  // namespace
}  // namespace k9
