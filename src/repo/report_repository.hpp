#pragma once
// ReportRepository: a user's reports and the favorite products on each. Every
// operation is scoped to one user: another user's report is "not found". Reads use
// prepared statements; writes are typed mutations (repo/report_mutations.hpp) with ids
// and timestamps made here, so they replay identically.

#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "db/manager.hpp"
#include "db/mutation.hpp"
#include "repo/models.hpp"

namespace k9::repo {

class ReportRepository {
  public:
    explicit ReportRepository(db::DatabaseManager& manager, Clock clock = system_clock())
        : manager_(manager), clock_(std::move(clock)) {}

    // Newest first. `cursor` is the next_cursor of the previous page. Throws
    // InvalidInput for a bad limit or cursor.
    ReportPage list_for_user(const std::string& user_id, std::size_t limit = kDefaultPageSize,
                             const std::optional<std::string>& cursor = std::nullopt);
    std::optional<Report> get(const std::string& user_id, const std::string& report_id);
    Report create(const std::string& user_id, const NewReport& report);
    // Each of these throws db::MutationRejected(NotFound) when the user has no such report.
    Report update(const std::string& user_id, const std::string& report_id,
                  const ReportPatch& patch);
    void remove(const std::string& user_id, const std::string& report_id);
    Report set_favorite(const std::string& user_id, const std::string& report_id,
                        const std::string& product_id, bool favorite);
    Report replace_favorites(const std::string& user_id, const std::string& report_id,
                             const std::vector<std::string>& product_ids);

  private:
    db::DatabaseManager& manager_;
    Clock clock_;
};

std::optional<Report> find_report(duck::Connection& conn, const std::string& user_id,
                                  const std::string& report_id);

}  // namespace k9::repo
