# Installing Smaragdine: `cmake --install`, the CMake package that
# find_package(Smaragdine) reads, and the Debian packages `cpack -G DEB` makes.
#
# Layout under the prefix (docs/install.md):
#   bin/smaragdine, bin/smaragdine-torch    smaragdine hands demo/sweep to the
#                                           helper in its own directory
#                                           (src/cli/torch_forward.cpp)
#   include/smaragdine/…                    the public headers (torch/ with LibTorch)
#   lib/libsmaragdine_core.a, …_torch.a
#   lib/cmake/Smaragdine/                   SmaragdineConfig.cmake and the targets
#
# Two install components, which cpack turns into two packages as Debian does:
#   Runtime      the executables                        -> smaragdine
#   Development  headers, static libraries, CMake files -> smaragdine-dev
include(CMakePackageConfigHelpers)

set(SMARAGDINE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Smaragdine)

set(install_executables smaragdine)
set(install_libraries smaragdine_core)
if(SMARAGDINE_HAVE_TORCH)
  list(APPEND install_executables smaragdine-torch)
  list(APPEND install_libraries smaragdine_torch)
endif()
install(TARGETS ${install_executables} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
install(TARGETS ${install_libraries} EXPORT SmaragdineTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)

# The public headers. The torch/ ones declare what libsmaragdine_torch.a
# defines, so they come only with it.
set(header_excludes)
if(NOT SMARAGDINE_HAVE_TORCH)
  set(header_excludes PATTERN torch EXCLUDE)
endif()
install(DIRECTORY include/smaragdine DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
  FILES_MATCHING PATTERN "*.h" ${header_excludes})

install(EXPORT SmaragdineTargets NAMESPACE Smaragdine:: DESTINATION ${SMARAGDINE_INSTALL_CMAKEDIR}
  COMPONENT Development)
configure_package_config_file(cmake/SmaragdineConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/SmaragdineConfig.cmake INSTALL_DESTINATION ${SMARAGDINE_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API, so only the same 0.minor matches.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/SmaragdineConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/SmaragdineConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/SmaragdineConfigVersion.cmake cmake/SmaragdineRe2.cmake
  DESTINATION ${SMARAGDINE_INSTALL_CMAKEDIR} COMPONENT Development)

# ---- cpack -G DEB ----
set(CPACK_PACKAGE_NAME smaragdine)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "tensor-aware energy accounting for deep-learning programs")
set(CPACK_PACKAGE_DESCRIPTION
  "Attributes measured energy (RAPL, NVML, hwmon, CSV logs) to the operations of a TensorFlow, JAX, PyTorch or ONNX Runtime trace and rolls it up the model's scope hierarchy.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(SMARAGDINE_PACKAGE_MAINTAINER "Smaragdine developers <smaragdine@invalid>" CACHE STRING
  "The Maintainer field of the .deb packages")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SMARAGDINE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME smaragdine)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME smaragdine-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# The executables' library dependencies come from dpkg-shlibdeps (dpkg-dev),
# so the package asks for exactly the libfmt, libsimdjson, libre2, libgvc, libtorch
# sonames this build linked. Graphviz's layout plugins are loaded at run time
# (gvLayout), which dpkg-shlibdeps cannot see: libgvc6 ships them, and is
# already a dependency through libgvc.so.6.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The development package: what find_package(Smaragdine) finds again
# (cmake/SmaragdineConfig.cmake.in).
set(dev_depends "smaragdine (= ${PROJECT_VERSION}), libfmt-dev, libsimdjson-dev, zlib1g-dev, libre2-dev")
if(SMARAGDINE_HAVE_GRAPHVIZ)
  string(APPEND dev_depends ", libgraphviz-dev, pkg-config")
endif()
if(SMARAGDINE_HAVE_LIBURING)
  string(APPEND dev_depends ", liburing-dev, pkg-config")
endif()
if(SMARAGDINE_HAVE_TORCH)
  string(APPEND dev_depends ", libtorch-dev")
endif()
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${dev_depends}")
# Debug information stays in the build tree: the packaged executables are
# stripped (83 MB -> a few MB for `smaragdine` in RelWithDebInfo).
set(CPACK_STRIP_FILES ON)
# Debian's Description: CPACK_PACKAGE_DESCRIPTION_SUMMARY, then each package's text.
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
  "Headers, static libraries and the CMake package: find_package(Smaragdine) gives Smaragdine::core (and Smaragdine::torch in a build with LibTorch) to programs that account energy themselves.")
include(CPack)

# ---- the install tests (tests/install/): they build Smaragdine again or
# against its installed form, so they are a ctest label of their own
# (`ctest -L install`, `ctest -LE install` to leave them out). ----
if(SMARAGDINE_HAVE_TESTS)
  set(install_test_root ${CMAKE_BINARY_DIR}/install-tests)
  set(install_have_python 0)
  if(SMARAGDINE_HAVE_PYTHON)
    set(install_have_python 1)
  endif()
  set(install_test_env
    SMARAGDINE_HAVE_PYTHON=${install_have_python}
    SMARAGDINE_PYTHON_EXECUTABLE=${SMARAGDINE_PYTHON_EXECUTABLE}
    SMARAGDINE_SOURCE_DIR=${PROJECT_SOURCE_DIR}
    SMARAGDINE_BUILD_DIR=${CMAKE_BINARY_DIR}
    SMARAGDINE_HAVE_TORCH=${SMARAGDINE_HAVE_TORCH_01}
    SMARAGDINE_HAVE_GRAPHVIZ=${SMARAGDINE_HAVE_GRAPHVIZ_01}
    CMAKE_COMMAND=${CMAKE_COMMAND}
    CPACK_COMMAND=${CMAKE_CPACK_COMMAND}
    CMAKE_GENERATOR=${CMAKE_GENERATOR})
  # A build without LibTorch and Graphviz, checked end to end; without only
  # one of them, configured (tests/install/feature_builds.sh says why).
  add_test(NAME install.feature_builds
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/feature_builds.sh ${install_test_root}/features)
  # cmake --install into a scratch prefix; the next tests use it.
  add_test(NAME install.cmake_install
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/cmake_install.sh ${install_test_root}/prefix)
  # Every installed header compiles on its own, and a small program builds
  # and runs against Smaragdine::core.
  add_test(NAME install.find_package_core
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/find_package_core.sh ${install_test_root}/prefix
            ${install_test_root}/consumer)
  # examples/own-model out of tree against Smaragdine::torch.
  add_test(NAME install.own_model
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/own_model.sh ${install_test_root}/prefix
            ${install_test_root}/own-model)
  add_test(NAME install.deb
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/deb.sh ${install_test_root}/deb)
  set_tests_properties(install.cmake_install PROPERTIES FIXTURES_SETUP smaragdine_prefix)
  set_tests_properties(install.find_package_core install.own_model PROPERTIES
    FIXTURES_REQUIRED smaragdine_prefix)
  set_tests_properties(install.feature_builds install.cmake_install install.find_package_core
    install.own_model install.deb PROPERTIES
    LABELS install ENVIRONMENT "${install_test_env}" SKIP_RETURN_CODE 77 TIMEOUT 1800 RUN_SERIAL ON)
endif()
