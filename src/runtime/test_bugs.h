/* test_bugs.h: dynad's test-only deliberate bugs (core/bugs.h), read from the environment
 * variable DYNA_TEST_BUGS, and whether this build may turn them on at all: the CMake option
 * DYNA_TEST_BUGS (ON in the test builds, never in Release builds; docs/architecture.md,
 * "Deliberate bugs"). A build without it refuses to start when the variable is set. */
#ifndef DYNA_RUNTIME_TEST_BUGS_H
#define DYNA_RUNTIME_TEST_BUGS_H
#include <stddef.h>
#include <stdint.h>

/* What DYNA_TEST_BUGS may name in dynad: the gate's gate-forget-loss and the node's
 * early-ack, counter-sum, set-remove-wins, typed-no-merge, expiry-no-merge, list-dup. */
uint32_t dyna_test_bugs_allowed(void);
/* 1 when this dynad was built with the CMake option DYNA_TEST_BUGS, 0 otherwise. */
int dyna_test_bugs_built(void);
/* The bits the variable's value asks for into *bugs (0 for NULL or ""); built says whether
 * the build allows them (dyna_test_bugs_built(); a parameter so that both answers can be
 * tested). Returns 0, or -1 with a message in err (errlen bytes) and *bugs 0: a name
 * dynad does not take, or any non-empty value in a build without the option. */
int dyna_test_bugs_read(const char *value, int built, uint32_t *bugs, char *err, size_t errlen);

#endif
