/* alloc.h: the one allocation wrapper. Every allocation in Dyna goes through here so
 * that tests can fail the Nth allocation and check that errors are reported, and so
 * that an OOM hook can be installed. Functions return NULL on failure; callers report
 * DYNA_ENOMEM. Memory from dyna_malloc/realloc is released with dyna_free. */
#ifndef DYNA_MEM_H
#define DYNA_MEM_H
#include <stddef.h>

void *dyna_malloc(size_t n);
void *dyna_calloc(size_t count, size_t size);
void *dyna_realloc(void *p, size_t n);
void dyna_free(void *p);
/* Copies n bytes into a new allocation (n may be 0: returns a non-NULL 1-byte block). */
void *dyna_memdup(const void *src, size_t n);

/* Copies n bytes into a new NUL-terminated string (free with dyna_free); NULL on failure. */
char *dyna_strndup(const void *src, size_t n);

/* Test hook: the allocation after the next `n` succeeds fails (n < 0 disables). */
void dyna_mem_fail_after(long n);
/* Called on each failed allocation, with the requested size (default: none). */
void dyna_mem_set_oom_hook(void (*hook)(size_t n));

#endif
