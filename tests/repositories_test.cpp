// UserRepository and ReportRepository on a real DuckDB through the manager.
#include <gtest/gtest.h>

#include "repo/report_repository.hpp"
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

TEST_F(RepositoriesTest, MutationsReplayToTheSameState) {
    // Every write is a Mutation whose parameters carry ids and time: applying the
    // recorded mutations to a fresh database must give identical tables.
    std::vector<db::Mutation> recorded;
    db::MutationRegistry recording;
    for (const char* name : {"user.upsert_profile", "report.create", "report.update",
                             "report.delete", "report.set_favorite", "report.replace_favorites"}) {
        recording.add(name, [&recorded, name](duck::Connection& c, const nlohmann::json& p) {
            recorded.push_back({name, p});
            return repo::k9_mutations().find(name)(c, p);
        });
    }
    db::ManagerOptions o;
    o.db_path = tmp_ / "recorded.db";
    o.key = "databases/recorded.db";
    o.mutations = &recording;
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Snapshot;
    db::DatabaseManager m(o, store_);
    repo::UserRepository users(m);
    repo::ReportRepository reports(m);
    users.upsert_profile("u1", {"Ann", {}, {}, {}});
    auto r1 = reports.create("u1", report("one"));
    auto r2 = reports.create("u1", report("two"));
    reports.update("u1", r1.id, {std::string("one!"), {}, {}, {}});
    reports.set_favorite("u1", r1.id, "p9", true);
    reports.replace_favorites("u1", r2.id, {"a", "b"});
    reports.remove("u1", r2.id);

    db::ManagerOptions o2 = o;
    o2.db_path = tmp_ / "replayed.db";
    o2.key = "databases/replayed.db";
    o2.mutations = &repo::k9_mutations();
    o2.schema = &repo::k9_schema();
    db::DatabaseManager replay(o2, store_);
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
    EXPECT_EQ(tables(m), tables(replay));
}

}  // namespace
}  // namespace k9
