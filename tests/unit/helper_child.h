/* helper_child.h: runs a function in a child process and collects what it printed on
 * stderr, for unit tests of code that aborts (assertions). Linked into every unit test
 * (tests/unit/helper_*.c). */
#ifndef DYNA_TEST_HELPER_CHILD_H
#define DYNA_TEST_HELPER_CHILD_H
#include <stddef.h>

/* Runs fn in a child with stderr on a pipe; returns the child's wait status and fills
 * out (NUL-terminated, at most cap - 1 bytes) with what it printed. fn returning means
 * exit status 0. */
int dyna_test_run_child(void (*fn)(void), char *out, size_t cap);

#endif
