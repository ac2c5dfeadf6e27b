# wiretag_bpf_skeleton(NAME SOURCE): clang → BPF ELF → `bpftool gen skeleton` → NAME.skel.h,
# exposed as the INTERFACE library NAME_skel. The ELF is embedded in the skeleton header,
# so every binary that includes it carries its BPF programs.
find_program(WIRETAG_CLANG NAMES clang clang-14 REQUIRED)
find_program(WIRETAG_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(WIRETAG_BPF_CFLAGS -g -O2 -target bpf -Wall -Wextra -Werror
    -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
    -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})

function(wiretag_bpf_skeleton name source)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/skel/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${WIRETAG_CLANG} ${WIRETAG_BPF_CFLAGS} -MD -MF ${obj}.d -c ${source} -o ${obj}
    DEPENDS ${source}
    DEPFILE ${obj}.d
    COMMENT "BPF ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/skel
    COMMAND sh -c "${WIRETAG_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "skeleton ${name}"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR}/skel)
  add_dependencies(${name}_skel ${name}_skel_gen)
endfunction()
