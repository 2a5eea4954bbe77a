#pragma once
// k9db commands. Each prints its result on stdout and returns an ExitCode; logs go
// to stderr as JSON lines. Unexpected errors propagate to main().

#include <filesystem>
#include <ostream>
#include <string>

#include "cli/context.hpp"

namespace k9::cli {

inline constexpr const char* kDefaultDownloadFile = "/tmp/k9_api_test.db";

int run_config(Context& ctx, std::ostream& out);
// `optional_object`: a missing snapshot is reported but is not a failure (--all).
int run_download(Context& ctx, const std::filesystem::path& file, bool optional_object,
                 std::ostream& out);
int run_upload(Context& ctx, const std::filesystem::path& file, bool force, std::ostream& out);
int run_manager(Context& ctx, std::ostream& out);
int run_status(Context& ctx, bool as_json, std::ostream& out);
int run_persist(Context& ctx, std::ostream& out);
int run_sql(Context& ctx, const std::string& sql, const std::string& user, std::ostream& out);
int run_verify(Context& ctx, std::ostream& out);
int run_versions(Context& ctx, std::ostream& out);
int run_token(Context& ctx, const std::string& user, long ttl_seconds, bool admin,
              std::ostream& out);
int run_restore(Context& ctx, const std::string& version_id, std::ostream& out);

}  // namespace k9::cli
