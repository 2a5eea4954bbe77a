#include "api/service.hpp"

#include "api/wiring.hpp"
#include "repo/mutations.hpp"
#include "store/open_store.hpp"

namespace k9::api {

Service::Service(const config::Config& config, const k9::EnvLookup& env, const Clock& clock,
                 JwksFetch fetch)
    : settings_(config.api), clock_(clock) {
    store_ = store::open_store(config.store, config.s3, env);
    db::ManagerOptions options = api::manager_options(config);
    options.clock = clock;
    manager_ = std::make_unique<db::DatabaseManager>(options, store_);
    users_ = std::make_unique<repo::UserRepository>(*manager_, clock);
    reports_ = std::make_unique<repo::ReportRepository>(*manager_, clock);
    auth_ = std::make_unique<Authenticator>(config.api, clock, std::move(fetch));
}

Service::~Service() {
    if (persist_) persist_->stop();
}

void Service::open() {
    manager_->open();
    persist_ = std::make_unique<AutoPersist>(
        *manager_,
        PersistPolicy{settings_.persist_writes, settings_.persist_interval_s,
                      settings_.persist_tail},
        clock_);
    router_ = std::make_unique<Router>(
        RouteContext{*manager_, *users_, *reports_, *persist_}, *auth_,
        AdminPolicy{settings_.admin_group, settings_.admin_calls_per_minute},
        static_cast<std::size_t>(settings_.response_cache_mb) << 20);
}

}  // namespace k9::api
