#pragma once
// Test-only crash injection. K9_TEST_CRASH_POINTS="journal.append:0.05,snapshot.upload:0.2"
// makes crash_point(name) kill the process (SIGKILL: no cleanup, no flush) with that
// probability, so the tests can stop a writer in the middle of each step of the commit,
// apply, snapshot and compaction paths. Unset (always, in production): does nothing.

namespace k9 {

void crash_point(const char* name);

}  // namespace k9
