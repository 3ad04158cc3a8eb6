/* test_bugs.c: reads dynad's test-only DYNA_TEST_BUGS (test_bugs.h). Whether the build
 * allows deliberate bugs is decided at compile time: CMake defines DYNA_TEST_BUGS_BUILT=1
 * for this file only with the option DYNA_TEST_BUGS (ON in `make build` and `make asan`,
 * OFF and refused in Release builds, `make release`). */
#include "runtime/test_bugs.h"
#include "core/bugs.h"
#include "core/node.h"
#include <stdio.h>

#ifndef DYNA_TEST_BUGS_BUILT
#define DYNA_TEST_BUGS_BUILT 0
#endif

uint32_t dyna_test_bugs_allowed(void) {
  return DYNA_BUG_GATE_FORGET_LOSS | DYNA_BUG_EARLY_ACK | DYNA_BUG_COUNTER_SUM | DYNA_BUG_SET_REMOVE_WINS |
         DYNA_BUG_TYPED_NO_MERGE | DYNA_BUG_LIST_DUP | DYNA_BUG_EXPIRY_NO_MERGE;
}

int dyna_test_bugs_built(void) { return DYNA_TEST_BUGS_BUILT; }

int dyna_test_bugs_read(const char *value, int built, uint32_t *bugs, char *err, size_t errlen) {
  *bugs = 0;
  if (!value || !*value) return 0;
  if (!built) {
    snprintf(err, errlen,
             "DYNA_TEST_BUGS=%s: this dynad is built without deliberate test bugs (a release build: "
             "CMake option DYNA_TEST_BUGS=OFF); unset the variable", value);
    return -1;
  }
  uint32_t b;
  if (dyna_bugs_parse(value, &b) || (b & ~dyna_test_bugs_allowed())) {
    snprintf(err, errlen,
             "DYNA_TEST_BUGS=%s: dynad takes only gate-forget-loss, early-ack, counter-sum, "
             "set-remove-wins, typed-no-merge, expiry-no-merge, list-dup (a test-only setting)", value);
    return -1;
  }
  *bugs = b;
  return 0;
}
