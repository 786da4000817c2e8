# Helpers shared by every module's CMakeLists.txt.

# relais_module_test(NAME LABEL SOURCES... LIBS ...): one GoogleTest binary per module, labelled.
function(relais_module_test name label)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT RELAIS_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} PROPERTIES LABELS "${label}" DISCOVERY_TIMEOUT 60)
endfunction()

# relais_fuzz_target(NAME SOURCE LIBS ...): a libFuzzer binary (only with RELAIS_FUZZ=ON) and a
# `long`-labelled CTest entry that runs it for RELAIS_FUZZ_SECONDS against its seed corpus.
set(RELAIS_FUZZ_SECONDS 60 CACHE STRING "Seconds per fuzz target in the long test run")
function(relais_fuzz_target name source)
  cmake_parse_arguments(ARG "" "CORPUS" "LIBS" ${ARGN})
  if(NOT RELAIS_FUZZ)
    return()
  endif()
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
                   ${CMAKE_SOURCE_DIR}/tests/fuzz/run_fuzz.sh $<TARGET_FILE:${name}>
                   ${ARG_CORPUS} ${work} ${RELAIS_FUZZ_SECONDS})
  set_tests_properties(${name} PROPERTIES LABELS "long;fuzz" TIMEOUT 600)
endfunction()
