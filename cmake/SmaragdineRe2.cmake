# RE2 (linear-time regular expressions, for --fold/--map rules) as the target
# re2::re2, the name RE2's own CMake package gives it. Debian 12's libre2-dev
# ships no CMake package (only re2.pc), and pkg-config is not always there (the
# install tests hide it), so the library and header are looked up directly when
# the package is absent. Used by CMakeLists.txt and, installed beside it, by
# SmaragdineConfig.cmake: libsmaragdine_core.a links re2::re2, so a program
# linking Smaragdine::core needs it too. Sets SMARAGDINE_RE2_FOUND.
if(TARGET re2::re2)
  set(SMARAGDINE_RE2_FOUND TRUE)
  return()
endif()
find_package(re2 CONFIG QUIET)
if(TARGET re2::re2)
  set(SMARAGDINE_RE2_FOUND TRUE)
  return()
endif()
find_path(SMARAGDINE_RE2_INCLUDE_DIR re2/re2.h)
find_library(SMARAGDINE_RE2_LIBRARY re2)
mark_as_advanced(SMARAGDINE_RE2_INCLUDE_DIR SMARAGDINE_RE2_LIBRARY)
if(SMARAGDINE_RE2_INCLUDE_DIR AND SMARAGDINE_RE2_LIBRARY)
  find_package(Threads QUIET)
  add_library(re2::re2 UNKNOWN IMPORTED)
  set_target_properties(re2::re2 PROPERTIES
    IMPORTED_LOCATION "${SMARAGDINE_RE2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SMARAGDINE_RE2_INCLUDE_DIR}")
  if(TARGET Threads::Threads)
    set_property(TARGET re2::re2 APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
  set(SMARAGDINE_RE2_FOUND TRUE)
else()
  set(SMARAGDINE_RE2_FOUND FALSE)
endif()
