# Included from tests/CMakeLists.txt: every fuzz target is compiled into
# fuzz_regressions_test (a normal executable, no libFuzzer) with its entry point renamed
# k9_<target>, so the normal test suite replays the seed corpora and the regression inputs.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
foreach(t ${K9_FUZZ_TARGETS})
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/${t}.cpp
    PROPERTIES COMPILE_DEFINITIONS K9_FUZZ_ENTRY=k9_${t})
  target_sources(fuzz_regressions_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp)
endforeach()
target_compile_definitions(fuzz_regressions_test PRIVATE K9_FUZZ_DIR="${CMAKE_CURRENT_LIST_DIR}")
