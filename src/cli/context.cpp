#include "cli/context.hpp"

#include "api/wiring.hpp"
#include "cli/progress.hpp"
#include "repo/mutations.hpp"
#include "store/open_store.hpp"

namespace k9::cli {

Context::Context(k9::EnvLookup env) : env_(std::move(env)) {}
Context::~Context() = default;

const config::Config& Context::config() {
    if (!config_) config_ = config::load_config(env_);
    return *config_;
}

std::shared_ptr<store::ObjectStore> Context::store_ptr() {
    if (!store_) store_ = store::open_store(config().store, config().s3, env_);
    return store_;
}

db::DatabaseManager& Context::manager() {
    if (!manager_) {
        db::ManagerOptions options = api::manager_options(config());
        cold_start_progress_ = std::make_unique<Progress>("cold start: download");
        options.download_progress = cold_start_progress_->callback();
        manager_ = std::make_unique<db::DatabaseManager>(options, store_ptr());
    }
    return *manager_;
}

}  // namespace k9::cli
