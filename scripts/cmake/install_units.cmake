# Run by `cmake --install` and by cpack (see install.cmake): the systemd units and the
# environment files, with the paths of this installation (CMAKE_INSTALL_PREFIX is the
# install-time prefix here; file(INSTALL) adds DESTDIR).
set(WIRETAG_BIN_DIR "${CMAKE_INSTALL_PREFIX}/${WIRETAG_REL_BIN_DIR}")
set(WIRETAG_UI_INSTALL_DIR "${CMAKE_INSTALL_PREFIX}/${WIRETAG_REL_DATA_DIR}/wiretag/ui")
set(WIRETAG_DOC_DIR "${CMAKE_INSTALL_PREFIX}/${WIRETAG_REL_DOC_DIR}")
set(stage "${WIRETAG_STAGE_DIR}/stage")
foreach(unit wiretag-server.service wiretag-agent.service)
  configure_file("${WIRETAG_SOURCE_DIR}/packaging/systemd/${unit}.in" "${stage}/${unit}" @ONLY)
endforeach()
foreach(env server.env agent.env)
  configure_file("${WIRETAG_SOURCE_DIR}/packaging/etc/${env}.in" "${stage}/${env}" @ONLY)
endforeach()
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${WIRETAG_SYSTEMD_UNIT_DIR}" TYPE FILE
     FILES "${stage}/wiretag-server.service" "${stage}/wiretag-agent.service")
file(INSTALL DESTINATION "${WIRETAG_ENV_DIR}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${stage}/server.env" "${stage}/agent.env")
