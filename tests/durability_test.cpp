// Zero lost acknowledged writes: N writer processes x M writes against one store
// (file:// and S3 on moto), killed at random (SIGKILL during append, apply, snapshot
// and compaction, and from outside) and restarted as new containers (empty local
// folder). At the end every acknowledged write is present exactly once and fresh
// replicas agree table by table. The same scenario in snapshot mode (the seed's design)
// reports how many acknowledged writes it loses: the baseline journal mode beats.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <random>
#include <set>

#include "api/wiring.hpp"
#include "db/manager.hpp"
#include "db/snapshot.hpp"
#include "repo/mutations.hpp"
#include "store/open_store.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

constexpr int kWriters = 4;
constexpr int kWrites = 25;
constexpr const char* kCrashPoints =
    "journal.append:0.03,journal.appended:0.03,journal.committed:0.02,journal.apply:0.05,"
    "snapshot.upload:0.1,snapshot.uploaded:0.1,compaction.delete:0.2";

struct Outcome {
    int acknowledged = 0;
    int lost = 0;
    int duplicated = 0;
    int restarts = 0;
    bool converged = false;
};

class DurabilityTest : public ::testing::Test {
  protected:
    test::Env store_env(bool s3) {
        test::Env env = test::base_env();
        env["K9_LOG_LEVEL"] = "ERROR";
        if (s3) {
            auto& moto = test::Moto::instance();
            moto.create_bucket("k9-durability");
            for (auto& [k, v] : moto.aws_env()) env[k] = v;
            env["K9_STORE_URL"] = "s3://k9-durability/" + test::unique_name();
        } else {
            env["K9_STORE_URL"] = "file://" + (tmp_ / ("store-" + test::unique_name())).string();
        }
        return env;
    }

    Outcome run(test::Env env, bool journal) {
        env["K9_DURABILITY"] = journal ? "journal" : "snapshot";
        env["K9_TORTURE_RETENTION_S"] = "0";  // prune at every compaction: fencing is met often
        if (journal) env["K9_TEST_CRASH_POINTS"] = kCrashPoints;
        const auto scenario = tmp_ / test::unique_name();
        std::filesystem::create_directories(scenario);
        std::mt19937 rng(12345);
        Outcome out;
        std::vector<std::unique_ptr<test::BackgroundProcess>> procs(kWriters);
        std::vector<int> incarnation(kWriters, 0);
        std::vector<std::size_t> acked_at_start(kWriters, 0);
        auto ack_log = [&](int w) { return scenario / ("acks-" + std::to_string(w)); };
        auto acked = [&](int w) {
            std::set<int> s;
            std::ifstream in(ack_log(w));
            for (std::string l; std::getline(in, l);) {
                if (!l.empty()) s.insert(std::stoi(l));
            }
            return s;
        };
        auto start = [&](int w) {
            // A new container each time: an empty local folder.
            const auto dir =
                scenario / ("w" + std::to_string(w) + "-" + std::to_string(incarnation[w]++));
            std::filesystem::create_directories(dir);
            acked_at_start[w] = acked(w).size();
            test::Env e = env;
            e["K9_DB_PATH"] = (dir / "k9.db").string();
            procs[w] = std::make_unique<test::BackgroundProcess>(
                std::vector<std::string>{(test::bin_dir() / "k9_torture_writer").string(),
                                         std::to_string(w), std::to_string(kWrites),
                                         ack_log(w).string(), "5"},
                e, dir / "log");
        };
        for (int w = 0; w < kWriters; ++w) start(w);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
        for (;;) {
            if (std::chrono::steady_clock::now() > deadline) {
                std::string logs;
                for (int w = 0; w < kWriters; ++w) {
                    const auto log =
                        scenario /
                        ("w" + std::to_string(w) + "-" +
                         std::to_string(incarnation[static_cast<std::size_t>(w)] - 1)) /
                        "log";
                    std::ifstream in(log);
                    std::string text((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
                    if (text.size() > 1500) text = "..." + text.substr(text.size() - 1500);
                    logs += "\nwriter " + std::to_string(w) + " (" +
                            std::to_string(acked(w).size()) +
                            " acknowledged), the log of its last start:\n" + text;
                }
                ADD_FAILURE() << "the writers did not finish in time" << logs;
                return out;
            }
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::uniform_int_distribution<>(30, 120)(rng)));
            // Now and then a container is reclaimed from outside, whatever it is doing. Every
            // other incarnation of a writer is spared until it has acknowledged a write, so
            // that the run ends on a loaded machine (the sanitizer suite beside other tests),
            // where a start can take longer than the time between kills.
            const int victim = std::uniform_int_distribution<>(0, kWriters * 3)(rng);
            if (victim < kWriters && procs[victim] && procs[victim]->running()) {
                const auto v = static_cast<std::size_t>(victim);
                const bool spared =
                    incarnation[v] % 2 == 0 && acked(victim).size() == acked_at_start[v];
                if (!spared) procs[victim]->stop(SIGKILL);
            }
            bool all_done = true;
            for (int w = 0; w < kWriters; ++w) {
                if (procs[w]->running()) {
                    all_done = false;
                    continue;
                }
                if (static_cast<int>(acked(w).size()) < kWrites) {
                    all_done = false;
                    ++out.restarts;
                    start(w);
                }
            }
            if (all_done) break;
        }
        // Fresh replicas: cold start from the store, compare, and count.
        std::vector<std::map<std::string, db::TableSummary>> replicas;
        std::map<std::string, int> present;
        for (int r = 0; r < 3; ++r) {
            auto e = env;
            e.erase("K9_TEST_CRASH_POINTS");
            const auto dir = scenario / ("replica" + std::to_string(r));
            std::filesystem::create_directories(dir);
            e["K9_DB_PATH"] = (dir / "k9.db").string();
            const auto cfg = config::load_config(k9::map_env(e));
            db::DatabaseManager m(api::manager_options(cfg),
                                  store::open_store(cfg.store, cfg.s3, k9::map_env(e)));
            m.refresh_all();  // journal mode: a cold start reads the snapshot; this reads every
                              // partition
            auto tables = m.read([](duck::Connection& c) { return db::summarize_tables(c); });
            tables.erase("schema_migrations");
            replicas.push_back(tables);
            if (r == 0) {
                m.read([&](duck::Connection& c) {
                    auto res = c.query("SELECT id, count(*) FROM reports GROUP BY id");
                    for (std::size_t i = 0; i < res.rows(); ++i)
                        present[res.text(0, i)] = static_cast<int>(res.int64(1, i));
                    return 0;
                });
            }
        }
        out.converged = replicas[0] == replicas[1] && replicas[1] == replicas[2];
        for (int w = 0; w < kWriters; ++w) {
            for (int i : acked(w)) {
                ++out.acknowledged;
                const auto it = present.find("w" + std::to_string(w) + "-" + std::to_string(i));
                if (it == present.end())
                    ++out.lost;
                else if (it->second > 1)
                    ++out.duplicated;
            }
        }
        return out;
    }

    test::TempDir tmp_;
};

void report(const char* what, const Outcome& o) {
    std::printf("%s: %d acknowledged writes, %d lost, %d duplicated, %d restarts, replicas %s\n",
                what, o.acknowledged, o.lost, o.duplicated, o.restarts,
                o.converged ? "agree" : "DIFFER");
}

// Journal mode's promise: every write acknowledged, none lost or applied twice, every
// replica the same, in a run that really killed writers.
void expect_nothing_lost(const Outcome& o) {
    EXPECT_EQ(o.acknowledged, kWriters * kWrites);
    EXPECT_EQ(o.lost, 0);
    EXPECT_EQ(o.duplicated, 0);
    EXPECT_TRUE(o.converged);
    EXPECT_GT(o.restarts, 0) << "the scenario killed nobody: it proves nothing";
}

TEST_F(DurabilityTest, JournalLosesNothingOnTheFileStore) {
    const auto o = run(store_env(false), true);
    report("journal, file://", o);
    expect_nothing_lost(o);
}

TEST_F(DurabilityTest, JournalLosesNothingOnS3) {
    const auto o = run(store_env(true), true);
    report("journal, s3:// (moto)", o);
    expect_nothing_lost(o);
}

TEST_F(DurabilityTest, SnapshotModeBaseline) {
    const auto o = run(store_env(false), false);
    report("snapshot (the seed's design), file://", o);
    EXPECT_EQ(o.acknowledged, kWriters * kWrites);
    EXPECT_TRUE(o.converged);
    EXPECT_EQ(o.duplicated, 0);
    // No assertion on losses: this is the baseline the journal mode beats.
    RecordProperty("lost_acknowledged_writes", o.lost);
}

}  // namespace
}  // namespace k9
