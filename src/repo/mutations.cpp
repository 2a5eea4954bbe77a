#include "repo/mutations.hpp"

#include "repo/report_mutations.hpp"
#include "repo/user_mutations.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations() {
    static const db::MutationRegistry registry = [] {
        db::MutationRegistry r;
        r.add<UpsertProfile>();
        r.add<CreateReport>();
        r.add<UpdateReport>();
        r.add<DeleteReport>();
        r.add<SetFavorite>();
        r.add<ReplaceFavorites>();
        return r;
    }();
    return registry;
}

}  // namespace k9::repo
