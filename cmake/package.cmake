# The library as a package (docs/design.md, "The package"): libdeconv.so
# and libdeconv.a from the same objects, the man page, deconv.pc, the CMake
# package (find_package(deconv)) and what `cmake --install` puts where.
# Included at the end of the top CMakeLists.txt, once every target_link_
# libraries(deconv ...) has run: the shared library and the static target
# of the CMake package take their dependencies from the static target's.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(DECONV_SHARED "Also build libdeconv.so (the static libdeconv.a is always built)" ON)

# One version: the header's DECONV_VERSION is the project's.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/deconv.h DECONV_HEADER_VERSION
     REGEX "^#define DECONV_VERSION \"[^\"]*\"")
string(REGEX REPLACE ".*\"(.*)\"" "\\1" DECONV_HEADER_VERSION "${DECONV_HEADER_VERSION}")
if(NOT DECONV_HEADER_VERSION STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/deconv.h says DECONV_VERSION \"${DECONV_HEADER_VERSION}\", "
                      "CMakeLists.txt's project() ${PROJECT_VERSION}: make them the same")
endif()
# Before 1.0 every minor release may change the ABI (the parameter structs
# are public and grow), so the SONAME carries the minor number
# (libdeconv.so.0.1); from 1.0 on, the major alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(DECONV_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(DECONV_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# The static library's objects serve the shared one too: position
# independent, and hidden but for include/deconv.h's declarations (its
# visibility pragma). The tests link the static library, which keeps the
# internal functions they call (src/*.h, deconv_blind_test_*) linkable.
set_target_properties(deconv PROPERTIES POSITION_INDEPENDENT_CODE ON
                      C_VISIBILITY_PRESET hidden)

if(DECONV_SHARED)
  add_library(deconv_shared SHARED $<TARGET_OBJECTS:deconv>)
  set_target_properties(deconv_shared PROPERTIES OUTPUT_NAME deconv EXPORT_NAME deconv
                        VERSION ${PROJECT_VERSION} SOVERSION ${DECONV_SOVERSION})
  # Whatever the static library links (public or private), the shared one
  # links, privately: its users need only the header.
  target_link_libraries(deconv_shared PRIVATE $<TARGET_PROPERTY:deconv,LINK_LIBRARIES>)
  target_link_options(deconv_shared PRIVATE LINKER:--as-needed)
  # Every symbol resolved at the library's own link, so that it names all
  # its dependencies; not with the sanitizers, whose runtime clang leaves to
  # the program.
  if(NOT DECONV_SANITIZE AND NOT DECONV_FUZZ)
    target_link_options(deconv_shared PRIVATE LINKER:--no-undefined)
  endif()
  target_include_directories(deconv_shared PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS deconv_shared EXPORT deconvTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT deconvTargets NAMESPACE deconv:: FILE deconvTargets.cmake
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deconv)
endif()
install(TARGETS deconv ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS deconv_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/deconv.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# What a static link of libdeconv needs besides the archive.
# deconv.pc: the pkg-config modules of the libraries it links
# (Requires.private) and the rest (Libs.private). A new dependency of the
# library is one more name here.
set(DECONV_PC_REQUIRES_PRIVATE libpng zlib fftw3f fftw3 lcms2 stb libtiff-4 libjpeg)
if(DECONV_WITH_MPI)
  list(APPEND DECONV_PC_REQUIRES_PRIVATE mpi-c) # Debian's name for its MPI's C library
endif()
set(DECONV_PC_LIBS_PRIVATE ${OpenMP_C_FLAGS} -lm)
# The CMake package's deconv::deconv_static: the static target's own link
# libraries, imported targets kept (their packages found again by
# deconvConfig.cmake) and libraries found by path named without the path.
get_target_property(deconv_links deconv LINK_LIBRARIES)
set(DECONV_STATIC_LINKS "")
set(DECONV_STATIC_PACKAGES "")
foreach(item IN LISTS deconv_links)
  if(item MATCHES "^([A-Za-z0-9_]+)::")
    list(APPEND DECONV_STATIC_LINKS ${item})
    list(APPEND DECONV_STATIC_PACKAGES ${CMAKE_MATCH_1})
  elseif(IS_ABSOLUTE "${item}")
    get_filename_component(name "${item}" NAME_WE)
    string(REGEX REPLACE "^lib" "" name "${name}")
    list(APPEND DECONV_STATIC_LINKS ${name})
  elseif(item)
    list(APPEND DECONV_STATIC_LINKS ${item})
  endif()
endforeach()
list(REMOVE_DUPLICATES DECONV_STATIC_PACKAGES)

# The .pc file is relocatable: its prefix is found from its own folder.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(DECONV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(DECONV_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  # from <prefix>/<libdir>/pkgconfig up to <prefix> (any anchor will do)
  file(RELATIVE_PATH up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(DECONV_PC_PREFIX "\${pcfiledir}/${up}")
  set(DECONV_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(DECONV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(DECONV_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
list(JOIN DECONV_PC_REQUIRES_PRIVATE " " DECONV_PC_REQUIRES_PRIVATE_TEXT)
list(JOIN DECONV_PC_LIBS_PRIVATE " " DECONV_PC_LIBS_PRIVATE_TEXT)
configure_file(${PROJECT_SOURCE_DIR}/cmake/deconv.pc.in ${PROJECT_BINARY_DIR}/deconv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/deconv.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/deconvConfig.cmake.in
  ${PROJECT_BINARY_DIR}/deconvConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deconv
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a different minor version is not compatible (the SONAME's rule).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(compatibility SameMinorVersion)
else()
  set(compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/deconvConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${compatibility})
install(FILES ${PROJECT_BINARY_DIR}/deconvConfig.cmake
              ${PROJECT_BINARY_DIR}/deconvConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deconv)

# The man page, printed by a small program from the flag table that --help
# prints (src/cli/man.c): every command and flag, with its default.
add_executable(deconv_man src/cli/man.c)
target_include_directories(deconv_man PRIVATE src/cli)
target_link_libraries(deconv_man PRIVATE deconv)
string(TIMESTAMP DECONV_MAN_DATE "%Y-%m-%d" UTC) # SOURCE_DATE_EPOCH when set
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deconv.1
  COMMAND deconv_man ${PROJECT_BINARY_DIR}/deconv.1 ${DECONV_MAN_DATE}
  DEPENDS deconv_man VERBATIM
  COMMENT "Writing the man page deconv.1")
add_custom_target(deconv_man_page ALL DEPENDS ${PROJECT_BINARY_DIR}/deconv.1)
install(FILES ${PROJECT_BINARY_DIR}/deconv.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
