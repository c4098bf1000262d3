# Helpers that give every Kiln target the same warnings and sanitizer flags.
# -Wno-restrict: GCC 12 reports false positives for `"literal" + std::string` at -O2 (GCC PR 105329).
set(KILN_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-restrict)
set(KILN_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

function(kiln_target_options target)
  target_compile_options(${target} PRIVATE ${KILN_WARNINGS})
  if(KILN_SANITIZE)
    target_compile_options(${target} PRIVATE ${KILN_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${KILN_SANITIZER_FLAGS})
  endif()
endfunction()

# kiln_library(name SOURCES ... DEPS ...): a module library, includable as "module/header.h".
function(kiln_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  kiln_target_options(${name})
endfunction()

# kiln_test(name SOURCES ... DEPS ...): a GoogleTest binary registered with CTest.
function(kiln_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  kiln_target_options(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "KILN_SOURCE_DIR=${PROJECT_SOURCE_DIR};KILN_BINARY_DIR=${PROJECT_BINARY_DIR}"
    LABELS "${ARG_LABELS}")
endfunction()
