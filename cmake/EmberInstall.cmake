# install(): the library, its headers under include/ember/, and an exported
# package so that consumers write find_package(ember CONFIG REQUIRED) and link ember::ember.
# All in the install component 'ember' (the recipe binaries are 'recipes'), so
# `cmake --install <build> --component ember` installs the library alone.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EMBER_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ember)

install(TARGETS ember EXPORT emberTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ember
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ember
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ember
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(FILES ${PROJECT_SOURCE_DIR}/ember.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ember COMPONENT ember)
foreach(layer IN LISTS EMBER_LAYERS)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ember/${layer}
          COMPONENT ember FILES_MATCHING PATTERN "*.hpp" PATTERN "*.def" PATTERN "*.cuh")
endforeach()

install(EXPORT emberTargets NAMESPACE ember:: DESTINATION ${EMBER_CMAKE_INSTALL_DIR} COMPONENT ember)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/emberConfig.cmake.in
  ${PROJECT_BINARY_DIR}/emberConfig.cmake INSTALL_DESTINATION ${EMBER_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/emberConfig.cmake ${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
  DESTINATION ${EMBER_CMAKE_INSTALL_DIR} COMPONENT ember)
