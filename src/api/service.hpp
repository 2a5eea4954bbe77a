#pragma once
// Service: everything behind the front doors, built from the configuration: the store,
// the DatabaseManager (cold start happens in open()), the repositories, the
// authenticator, the persistence policy and the Router.

#include <memory>

#include "api/auth.hpp"
#include "api/auto_persist.hpp"
#include "api/router.hpp"
#include "config/config.hpp"

namespace k9::api {

class Service {
  public:
    Service(const config::Config& config, const k9::EnvLookup& env,
            const Clock& clock = system_clock(), JwksFetch fetch = {});
    ~Service();

    // Cold start: throws db::ColdStartError / SchemaTooNew (nothing created then).
    void open();
    Router& router() { return *router_; }
    AutoPersist& persist() { return *persist_; }
    db::DatabaseManager& manager() { return *manager_; }

  private:
    std::shared_ptr<store::ObjectStore> store_;
    std::unique_ptr<db::DatabaseManager> manager_;
    std::unique_ptr<repo::UserRepository> users_;
    std::unique_ptr<repo::ReportRepository> reports_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<AutoPersist> persist_;
    std::unique_ptr<Router> router_;
    config::ApiSettings settings_;
    Clock clock_;
};

}  // namespace k9::api
