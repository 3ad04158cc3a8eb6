/* assert.c: reporting a failed invariant (see assert.h). */
#include "util/assert.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local uint64_t current_node;
uint64_t dyna_assert_defensive_hits;

void dyna_assert_set_node(uint64_t node_id) { current_node = node_id; }
uint64_t dyna_assert_node(void) { return current_node; }

void dyna_assert_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
  fprintf(stderr, "dyna: assertion failed: %s at %s:%d (node %016" PRIx64 "): ", expr, file,
          line, current_node);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

int dyna_assert_defensive(const char *file, int line, const char *expr) {
  (void)file;
  (void)line;
  (void)expr;
  dyna_assert_defensive_hits++;
  return 0;
}
