/* alloc.c: allocation wrapper with a fail-the-Nth hook for tests and an OOM hook. */
#include "util/alloc.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;
static void (*oom_hook)(size_t);

static int should_fail(void) {
  if (fail_countdown < 0) return 0;
  if (fail_countdown == 0) { fail_countdown = -1; return 1; }
  fail_countdown--;
  return 0;
}

static void *report(void *p, size_t n) {
  if (!p && oom_hook) oom_hook(n);
  return p;
}

void *dyna_malloc(size_t n) {
  if (should_fail()) return report(NULL, n);
  return report(malloc(n ? n : 1), n);
}

/* Small blocks come from malloc and are zeroed here: calloc skips the allocator's fast
 * path (glibc's per-thread cache; jemalloc's, 129 instructions a call against malloc's
 * 37 under callgrind), and per-request objects are small. The empty asm hides where p
 * came from, or gcc turns malloc + memset back into calloc. */
#define CALLOC_VIA_MALLOC 4096

void *dyna_calloc(size_t count, size_t size) {
  if (should_fail()) return report(NULL, count * size);
  if (!count) count = 1;
  if (!size) size = 1;
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return report(NULL, SIZE_MAX);
  if (n <= CALLOC_VIA_MALLOC) {
    void *p = malloc(n);
    __asm__("" : "+r"(p));
    if (p) memset(p, 0, n);
    return report(p, n);
  }
  return report(calloc(count, size), n);
}

void *dyna_realloc(void *p, size_t n) {
  if (should_fail()) return report(NULL, n);
  return report(realloc(p, n ? n : 1), n);
}

/* NULL is common (an empty buffer, an object without values): no call for it. */
void dyna_free(void *p) {
  if (p) free(p);
}

void *dyna_memdup(const void *src, size_t n) {
  void *p = dyna_malloc(n);
  if (p && n) memcpy(p, src, n);
  return p;
}

char *dyna_strndup(const void *src, size_t n) {
  char *s = dyna_malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, src, n);
  s[n] = 0;
  return s;
}

void dyna_mem_fail_after(long n) { fail_countdown = n; }
void dyna_mem_set_oom_hook(void (*hook)(size_t)) { oom_hook = hook; }
