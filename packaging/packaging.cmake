# Installation layout and the Debian package (CPack DEB). Included last by the top-level
# CMakeLists.txt, once every target exists. See docs/operations.md.
#
#   cmake --install build --prefix /usr      binaries, systemd units, example configs
#   cpack -G DEB --config build/CPackConfig.cmake   ->  relais_<version>_<arch>.deb
#
# Layout (relative to the prefix; the .deb uses /usr):
#   bin/relaisd, bin/relais, bin/relais-inbox, bin/relais-import (bin/relais-hospital when built)
#   lib/systemd/system/relaisd.service, relais-inbox@.service, relais-nats@.service (units)
#   share/relais/examples/   relaisd.conf, relaisd-jetstream.conf, relais-inbox.conf,
#                            nats/relais-n{1,2,3}.conf, relaisd.service.d/jetstream.conf
#   share/doc/relais/        operations.md, scale-out.md, README.md
include(GNUInstallDirs)

set(_relais_programs relaisd relais relais-inbox relais-import)
if(TARGET relais-hospital)
  list(APPEND _relais_programs relais-hospital)
endif()
foreach(_program IN LISTS _relais_programs)
  if(NOT TARGET ${_program})
    message(FATAL_ERROR "packaging: target ${_program} is missing")
  endif()
endforeach()
install(TARGETS ${_relais_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Relative to the prefix: /usr/lib/systemd/system in the package (a directory systemd reads on
# Debian 12), and `cmake --install --prefix /tmp/x` stays inside /tmp/x.
set(RELAIS_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "where the systemd units are installed, relative to the prefix")
# relais-nats@.service runs Debian's nats-server for JetStream mode (docs/scale-out.md); it is
# installed disabled, like the others.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/systemd/relaisd.service
              ${CMAKE_CURRENT_LIST_DIR}/systemd/relais-inbox@.service
              ${CMAKE_CURRENT_LIST_DIR}/systemd/relais-nats@.service
        DESTINATION ${RELAIS_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/examples/relaisd.conf
              ${CMAKE_CURRENT_LIST_DIR}/examples/relaisd-jetstream.conf
              ${CMAKE_CURRENT_LIST_DIR}/examples/relais-inbox.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/relais/examples)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/nats/relais-n1.conf
              ${CMAKE_CURRENT_LIST_DIR}/nats/relais-n2.conf
              ${CMAKE_CURRENT_LIST_DIR}/nats/relais-n3.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/relais/examples/nats)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/systemd/relaisd.service.d/jetstream.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/relais/examples/relaisd.service.d)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/scale-out.md
              ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian package.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "relais")
set(CPACK_PACKAGE_VENDOR "relais")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "relais maintainers <relais@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "consented, signed, end-to-end encrypted referral bus between institutions and partners")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")  # relais_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "relais carries referrals of people leaving an institution (hospital, prison, child welfare)\n\
to the partners taking over, with the person's consent, signed and sealed end to end. This\n\
package holds the broker relaisd (with its systemd unit), the relais command (keys, registry,\n\
audit, doctor, backup), the association inbox relais-inbox and the list importer relais-import.")
# Shared libraries the binaries link (libzmq5, libsodium23, libcapnp/libkj, libsqlite3-0,
# libboost-program-options, libcsv3, libjemalloc2, libstdc++...) are found by dpkg-shlibdeps;
# passwd provides useradd for the maintainer scripts.
find_program(RELAIS_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(RELAIS_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "passwd, libzmq5, libsodium23, libcapnp-0.9.2, libsqlite3-0, libboost-program-options1.74.0, libcsv3, libjemalloc2, libstdc++6, libc6")
endif()
# JetStream mode runs nats-server (relais-nats@.service); the embedded default does not need it.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nats-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
