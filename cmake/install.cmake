# What `cmake --install` puts where (GNUInstallDirs; prefix /usr/local unless --prefix is given):
#   bin/                      screen3d, screen3d-image, screen3d-queue, screen3d-report, screen3d-print-filter
#   lib/libscreen3d.so.*      the C API (only s3d_* exported), with include/screen3d/s3d.h and
#   lib/pkgconfig/screen3d.pc for `pkg-config --cflags --libs screen3d`
#   libexec/screen3d/         screen3d-cad-reader, the OpenCASCADE process the engine starts per STEP or
#                             IGES file (found relative to the program or library that runs the engine)
#   share/screen3d/demo.s3db  the demo signature database (benign stand-ins: for trying the tools out;
#                             screening needs an operator's own database, --db or SCREEN3D_DB)
#   share/doc/screen3d/       README.md
# tests/install_test.sh installs into a temporary prefix and uses the installed tree on its own.
install(TARGETS screen3d screen3d-image screen3d-queue screen3d-report screen3d-print-filter
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS screen3d_c
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/screen3d)
install(TARGETS screen3d-cad-reader RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/screen3d)
install(FILES ${S3D_DEMO_DB} DESTINATION ${CMAKE_INSTALL_DATADIR}/screen3d)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(RELATIVE_PATH S3D_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_CURRENT_LIST_DIR}/screen3d.pc.in ${PROJECT_BINARY_DIR}/screen3d.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/screen3d.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
