# sharpeyes_module(NAME <name> [SOURCES ...] [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One static library per top folder: sharpeyes::<name>, public headers in <name>/include.
function(sharpeyes_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target sharpeyes_${M_NAME})
  if(M_SOURCES)
    add_library(${target} STATIC ${M_SOURCES})
    target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                               PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    target_compile_options(${target} PRIVATE ${SHARPEYES_WARNINGS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} INTERFACE ${M_PUBLIC_DEPS})
  endif()
  add_library(sharpeyes::${M_NAME} ALIAS ${target})
endfunction()

# sharpeyes_test(NAME <name> SOURCES ... LIBS ... LABELS unit|integration [TIMEOUT s]
#                [RESOURCE_LOCK x] [ENV VAR=value ...] [NEEDS_BINARY])
# One CTest test per executable; GoogleTest prints each case. NEEDS_BINARY: the test runs the
# built `sharpeyes` executable (path in SHARPEYES_BINARY), so building the test builds it first.
# Tests include tests/support (process.h: child processes, waitFor).
function(sharpeyes_test)
  cmake_parse_arguments(T "NEEDS_BINARY" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;RESOURCE_LOCK;ENV" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  if(T_NEEDS_BINARY)
    add_dependencies(${T_NAME} sharpeyes)
  endif()
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock
                                          Threads::Threads)
  target_compile_options(${T_NAME} PRIVATE ${SHARPEYES_WARNINGS})
  target_compile_definitions(${T_NAME} PRIVATE
    SHARPEYES_BINARY="$<TARGET_FILE:sharpeyes>"
    SHARPEYES_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  if(T_RESOURCE_LOCK)
    set_tests_properties(${T_NAME} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
  if(T_ENV)
    set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENV}")
  endif()
endfunction()
