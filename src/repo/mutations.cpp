#include "repo/mutations.hpp"

#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations() {
    static const db::MutationRegistry registry = [] {
        db::MutationRegistry r;
        UserRepository::register_mutations(r);
        ReportRepository::register_mutations(r);
        return r;
    }();
    return registry;
}

}  // namespace k9::repo
