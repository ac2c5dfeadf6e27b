# One library per folder of userspace/, and each folder's headers ("<folder>/x.h") reachable
# only through an include root that holds that folder alone, made public by its library. A
# folder thus includes only the folders its target_link_libraries name (the arrows of
# docs/architecture.md): a forbidden include does not compile (ctest build.folder_arrows).
set(WIRETAG_INCLUDE_ROOTS "${PROJECT_BINARY_DIR}/include_roots")

# The include root of userspace/<folder>: <roots>/<folder>/<folder> → the source folder.
function(wiretag_folder_root folder out)
  set(root "${WIRETAG_INCLUDE_ROOTS}/${folder}")
  if(NOT EXISTS "${root}/${folder}")
    file(MAKE_DIRECTORY "${root}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/userspace/${folder}" "${root}/${folder}" SYMBOLIC)
  endif()
  set(${out} "${root}" PARENT_SCOPE)
endfunction()

# target exposes userspace/<folder>'s headers (PUBLIC for libraries, PRIVATE otherwise).
function(wiretag_folder_headers target folder)
  wiretag_folder_root(${folder} root)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE "${root}")
  else()
    target_include_directories(${target} PUBLIC "${root}")
  endif()
endfunction()
