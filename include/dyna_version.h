/* dyna_version.h: the version of Dyna (libdyna and dynad), in one place.
 *
 * These three numbers are the only place the version is written: CMakeLists.txt reads
 * them for project(VERSION) and for libdyna.so's VERSION and SOVERSION, dynad reports
 * DYNA_VERSION_STRING in INFO, and dyna_version() / dyna_version_number() give the
 * version of the library a program actually runs with (which may differ from the header
 * it was compiled against).
 *
 * Numbering: MAJOR.MINOR.PATCH. A PATCH release changes no interface. While MAJOR is 0,
 * a MINOR release may change the ABI, so the shared library's SOVERSION is "0.MINOR"
 * (libdyna.so.0.1); from 1.0 on it is MAJOR, and only a MAJOR release breaks the ABI. */
#ifndef DYNA_VERSION_H
#define DYNA_VERSION_H

#define DYNA_VERSION_MAJOR 0
#define DYNA_VERSION_MINOR 1
#define DYNA_VERSION_PATCH 0

/* One integer per version, ordered as the versions are: 0x00MMmmpp. Compare with
 *   #if DYNA_VERSION_HEX >= DYNA_VERSION_INT(0, 2, 0) */
#define DYNA_VERSION_INT(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define DYNA_VERSION_HEX \
  DYNA_VERSION_INT(DYNA_VERSION_MAJOR, DYNA_VERSION_MINOR, DYNA_VERSION_PATCH)

/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define DYNA_VERSION_STR_(x) #x
#define DYNA_VERSION_STR(x) DYNA_VERSION_STR_(x)
#define DYNA_VERSION_STRING                                                             \
  DYNA_VERSION_STR(DYNA_VERSION_MAJOR) "." DYNA_VERSION_STR(DYNA_VERSION_MINOR) "."     \
  DYNA_VERSION_STR(DYNA_VERSION_PATCH)

#endif
