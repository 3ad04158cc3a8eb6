/* version.c: the version of the libdyna a program runs with (dyna_version.h has the
 * version it was compiled against). */
#include "dyna.h"

const char *dyna_version(void) { return DYNA_VERSION_STRING; }

int dyna_version_number(void) { return DYNA_VERSION_HEX; }
