/* glob.h: shell-style pattern matching of a byte string, as CONFIG GET's patterns want
 * ("ring-*", "*timeout*", "[nrw]"). Pure: no allocation, no recursion. */
#ifndef DYNA_GLOB_H
#define DYNA_GLOB_H
#include <stddef.h>

/* Returns 1 when str[0..slen) matches pat[0..plen), else 0. In the pattern, '*' matches
 * any run of bytes (also none), '?' any one byte, "[...]" one byte of a set (ranges
 * "a-z", a leading '^' or '!' negates it; a '[' with no closing ']' is a plain '['),
 * and '\' takes the next byte literally. nocase: ASCII letters match either case.
 * Cost: O(plen * slen) at worst. */
int dyna_glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif
