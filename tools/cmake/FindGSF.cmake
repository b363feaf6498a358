# Finds libgsf (Debian: libgsf-1-dev) through pkg-config, with the GLib/GObject headers and
# libraries it needs, and provides the IMPORTED target GSF::gsf.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GSF_PC QUIET IMPORTED_TARGET libgsf-1)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(GSF REQUIRED_VARS GSF_PC_FOUND GSF_PC_LIBRARIES
  VERSION_VAR GSF_PC_VERSION)
if(GSF_FOUND AND NOT TARGET GSF::gsf)
  add_library(GSF::gsf INTERFACE IMPORTED)
  target_link_libraries(GSF::gsf INTERFACE PkgConfig::GSF_PC)
endif()
