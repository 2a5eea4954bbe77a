// A writer process for the durability torture test: inserts reports "w<id>-<i>" for
// i = 1..count through the DatabaseManager (configured from the environment like the
// service), appends each acknowledged i to an ack log (fsync), persists every few
// writes, and is killed at random (K9_TEST_CRASH_POINTS, and SIGKILL from the test).
// Restarted, it continues after the last acknowledged write. K9_TORTURE_RETENTION_S
// overrides the journal retention (the test uses 0: pruning at every compaction).
//
//   k9_torture_writer ID COUNT ACK_LOG PERSIST_EVERY
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "api/wiring.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "store/open_store.hpp"

using namespace k9;

namespace {

int last_acked(const std::string& path) {
    std::ifstream in(path);
    int last = 0;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) last = std::max(last, std::atoi(line.c_str()));
    }
    return last;
}

void ack(const std::string& path, int i) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const std::string line = std::to_string(i) + "\n";
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd) != 0) {
        std::perror("ack log");
        std::exit(3);
    }
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: k9_torture_writer ID COUNT ACK_LOG PERSIST_EVERY\n");
        return 2;
    }
    const std::string id = argv[1];
    const int count = std::atoi(argv[2]);
    const std::string ack_log = argv[3];
    const int persist_every = std::atoi(argv[4]);
    log::configure_from_environment();

    const auto env = k9::process_env();
    const auto cfg = config::load_config(env);
    db::ManagerOptions options = api::manager_options(cfg);
    // The test prunes at once to meet fencing often: a retention below the safe minimum
    // that the configuration refuses (K9_JOURNAL_RETENTION), so it is set here.
    if (const char* r = std::getenv("K9_TORTURE_RETENTION_S"))
        options.journal_retention_s = std::atoll(r);
    db::DatabaseManager manager(options, store::open_store(cfg.store, cfg.s3, env));

    for (int attempt = 0;; ++attempt) {  // a cold start can meet a store mid-change: retry
        try {
            manager.open();
            break;
        } catch (const std::exception& e) {
            if (attempt > 50) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    for (int i = last_acked(ack_log) + 1; i <= count; ++i) {
        const std::string report = "w" + id + "-" + std::to_string(i);
        const db::Mutation m{"report.create",
                             {{"id", report},
                              {"user_id", "torture"},
                              {"title", report},
                              {"author", "writer " + id},
                              {"date", "2024-01-01"},
                              {"reference", {{"writer", id}, {"i", i}}},
                              {"favorites", nlohmann::json::array()},
                              {"now", 1'700'000'000'000'000LL + i}},
                             "torture"};  // one user, one partition: every writer races every other
        for (int tries = 0;; ++tries) {
            try {
                manager.apply(m);
                break;
            } catch (const duck::Error& e) {
                // Written by an earlier run whose answer never came: it is in.
                if (std::string(e.what()).find("Duplicate key") != std::string::npos) break;
                if (tries > 50) throw;
            } catch (const std::exception& e) {
                if (tries > 50) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        ack(ack_log, i);
        if (persist_every > 0 && i % persist_every == 0) {
            try {
                manager.persist();
            } catch (const std::exception&) {
                // Snapshot mode: a conflict leaves the writes local (and lost with the container).
            }
        }
    }
    return 0;
}
