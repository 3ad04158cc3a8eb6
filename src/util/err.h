/* err.h: Dyna's error codes (public in include/dyna_err.h) for the core. */
#ifndef DYNA_ERR_H
#define DYNA_ERR_H
#include "dyna_err.h"
#endif
