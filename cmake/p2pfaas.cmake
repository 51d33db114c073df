# Shared settings for project targets: strict warnings only on our own code.
function(p2pfaas_target_defaults target)
  # -Wmismatched-new-delete: GCC 12 false positive on Asio's coroutine frame allocator at -O2
  # (GCC bug 109224); the frames are allocated and freed by the same class operators.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers
    -Wno-mismatched-new-delete)
  target_compile_definitions(${target} PUBLIC P2PFAAS_VERSION="${PROJECT_VERSION}")
endfunction()

# p2pfaas_library(name SOURCES ... DEPS ...): one module, one static library.
function(p2pfaas_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  p2pfaas_target_defaults(${name})
endfunction()

# p2pfaas_test(name SOURCES ... DEPS ... [LABELS ...]): one GoogleTest binary registered with CTest.
function(p2pfaas_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  p2pfaas_target_defaults(${name})
  if("unit" IN_LIST ARG_LABELS)
    set_property(GLOBAL APPEND PROPERTY P2PFAAS_UNIT_TESTS ${name})
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${name}." DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
