# The fuzz targets: tests/fuzz/<name>.cpp, seeds in corpus/<name>/, crashes kept in
# regressions/<name>/. Shared by tests/fuzz/CMakeLists.txt (libFuzzer) and regressions.cmake.
set(K9_FUZZ_TARGETS
  fuzz_config
  fuzz_database_file
  fuzz_journal_entry
  fuzz_jwt
  fuzz_lambda_event
  fuzz_request_bodies
  fuzz_s3_xml
  fuzz_sigv4)
