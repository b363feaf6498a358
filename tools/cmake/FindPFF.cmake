# Finds libpff (Debian: libpff-dev, which needs libbfio-dev for libbfio.h) and provides
# the IMPORTED target PFF::pff.
find_path(PFF_INCLUDE_DIR NAMES libpff.h)
find_library(PFF_LIBRARY NAMES pff)
find_path(BFIO_INCLUDE_DIR NAMES libbfio.h)
find_library(BFIO_LIBRARY NAMES bfio)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PFF REQUIRED_VARS PFF_LIBRARY PFF_INCLUDE_DIR BFIO_INCLUDE_DIR
  BFIO_LIBRARY)
if(PFF_FOUND AND NOT TARGET PFF::pff)
  add_library(PFF::pff UNKNOWN IMPORTED)
  set_target_properties(PFF::pff PROPERTIES IMPORTED_LOCATION "${PFF_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PFF_INCLUDE_DIR};${BFIO_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${BFIO_LIBRARY}")
endif()
