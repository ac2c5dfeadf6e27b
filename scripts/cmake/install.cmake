# Install rules and the .deb (CPack). docs/ops.md, "Install".
#
#   cmake --install build [--prefix /usr]      binaries, ui/, api/ and docs, systemd units,
#                                              environment files in WIRETAG_ENV_DIR
#   cpack --config build/CPackConfig.cmake     build/wiretag_<version>_<arch>.deb, prefix /usr
#
# The units and environment files name the installed paths, so they are configured when they
# are installed (the prefix of `cmake --install --prefix` or of the package), not before.
include(GNUInstallDirs)
# `make install` and cpack install what is built, without building every target first (the
# test suite is not installed): build wiretag-server wiretag-agent wiretag, then install.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(WIRETAG_ENV_DIR "/etc/wiretag" CACHE PATH
    "the services' environment files (server.env, agent.env); absolute: the units read them there")
set(WIRETAG_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "systemd units, relative to the install prefix (/usr/lib/systemd/system in the package)")

install(TARGETS wiretag-server wiretag-agent wiretag RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ui/ DESTINATION ${CMAKE_INSTALL_DATADIR}/wiretag/ui)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/api/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/api)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/ops.md
              ${PROJECT_SOURCE_DIR}/docs/server.md ${PROJECT_SOURCE_DIR}/docs/agent.md
              ${PROJECT_SOURCE_DIR}/docs/cli.md ${PROJECT_SOURCE_DIR}/docs/metrics.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(CODE "
  set(WIRETAG_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(WIRETAG_STAGE_DIR \"${PROJECT_BINARY_DIR}/packaging\")
  set(WIRETAG_ENV_DIR \"${WIRETAG_ENV_DIR}\")
  set(WIRETAG_REL_BIN_DIR \"${CMAKE_INSTALL_BINDIR}\")
  set(WIRETAG_REL_DATA_DIR \"${CMAKE_INSTALL_DATADIR}\")
  set(WIRETAG_REL_DOC_DIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(WIRETAG_SYSTEMD_UNIT_DIR \"${WIRETAG_SYSTEMD_UNIT_DIR}\")
  include(\"${PROJECT_SOURCE_DIR}/scripts/cmake/install_units.cmake\")
")

# The .deb: everything above under /usr, the environment files in /etc/wiretag as conffiles
# (an upgrade keeps the operator's edits), the wiretag user made by postinst.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wiretag)
set(CPACK_PACKAGE_VENDOR wiretag)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "wiretag maintainers <wiretag@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "app-to-app network policy enforcement with TC BPF: policy server, cell agent, CLI")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# DESTDIR staging with the real prefix: the units must name /usr/bin, and the environment
# files' absolute /etc/wiretag must land in the package, never on the building host.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, iproute2")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bpftool")
# The server's store may be PostgreSQL (--db), on this host or another.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/debian/conffiles
     "${WIRETAG_ENV_DIR}/server.env\n${WIRETAG_ENV_DIR}/agent.env\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm ${PROJECT_BINARY_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
