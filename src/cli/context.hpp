#pragma once
// What every k9db command needs, made on first use: the configuration, the object
// store and the DatabaseManager.

#include <memory>

#include "config/config.hpp"
#include "db/manager.hpp"
#include "store/object_store.hpp"

namespace k9::cli {

enum ExitCode : int { kOk = 0, kFailed = 1, kUsage = 2, kConflict = 3 };

class Progress;

class Context {
  public:
    explicit Context(k9::EnvLookup env);
    ~Context();

    const config::Config& config();
    store::ObjectStore& store() { return *store_ptr(); }
    std::shared_ptr<store::ObjectStore> store_ptr();
    db::DatabaseManager& manager();
    // The snapshot's URL, e.g. s3://bucket/databases/k9_api_dev.db.
    std::string remote_url() { return store().url_for(config().key); }

  private:
    k9::EnvLookup env_;
    std::optional<config::Config> config_;
    std::shared_ptr<store::ObjectStore> store_;
    std::unique_ptr<Progress> cold_start_progress_;
    std::unique_ptr<db::DatabaseManager> manager_;
};

}  // namespace k9::cli
