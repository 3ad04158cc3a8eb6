/* bugs.h: the names of the deliberate bugs (DYNA_BUG_*, core/node.h), one table for the
 * simulator's --bugs and dynad's test-only DYNA_TEST_BUGS. */
#ifndef DYNA_BUGS_H
#define DYNA_BUGS_H
#include <stddef.h>
#include <stdint.h>

/* The bits a comma-separated list of names ("none" is 0) stands for. Returns 0, or
 * DYNA_EINVAL for an unknown name (*out is then 0). */
int dyna_bugs_parse(const char *list, uint32_t *out);
/* The names of bits, comma-separated ("none" for 0), into out (cap bytes, NUL-terminated). */
void dyna_bugs_format(uint32_t bits, char *out, size_t cap);
/* Every name, separated by sep (for --help), into out (cap bytes, NUL-terminated). */
void dyna_bugs_list(const char *sep, char *out, size_t cap);

#endif
