# include/wiretag/version.h in the build dir: the project VERSION, plus `git describe` of the
# source at configure time when it is a git checkout and git is installed (a tarball build
# gets the plain version). Nothing is downloaded.
set(WIRETAG_GIT_DESCRIBE "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" describe --always --dirty
                  OUTPUT_VARIABLE WIRETAG_GIT_DESCRIBE OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET RESULT_VARIABLE _wt_git_rc)
  if(NOT _wt_git_rc EQUAL 0)
    set(WIRETAG_GIT_DESCRIBE "")
  elseif(WIRETAG_GIT_DESCRIBE MATCHES "^[0-9a-f]+(-dirty)?$")
    set(WIRETAG_GIT_DESCRIBE "g${WIRETAG_GIT_DESCRIBE}")  # no tag: a bare hash, as `g<hash>`
  endif()
endif()
if(WIRETAG_GIT_DESCRIBE STREQUAL "")
  set(WIRETAG_VERSION_STRING "${PROJECT_VERSION}")
else()
  set(WIRETAG_VERSION_STRING "${PROJECT_VERSION} (${WIRETAG_GIT_DESCRIBE})")
endif()
set(WIRETAG_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/include")
configure_file("${PROJECT_SOURCE_DIR}/include/wiretag/version.h.in"
               "${WIRETAG_GENERATED_INCLUDE_DIR}/wiretag/version.h" @ONLY)
message(STATUS "wiretag version ${WIRETAG_VERSION_STRING}")
