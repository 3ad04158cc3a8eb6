/* assert.h: invariants checked from the inside, always on (TigerBeetle keeps its asserts
 * in production; SQLite separates proven invariants from defensive checks).
 *
 *   DYNA_ASSERT(cond, fmt, ...)  a proven invariant. If cond is false, prints
 *                                "dyna: assertion failed: <cond> at file:line (node <id>):
 *                                <fmt...>" to stderr and aborts, in every build. The format
 *                                carries the values that explain the failure.
 *   ALWAYS(cond), NEVER(cond)    a defensive check without a proof, used inside if():
 *                                `if (NEVER(i >= n)) return DYNA_EINVAL;`. Debug builds
 *                                (the ASan test build) abort as DYNA_ASSERT does; release
 *                                builds take the error path and count it in
 *                                dyna_assert_defensive_hits.
 *
 * The node is whatever the driver's thread last named with dyna_assert_set_node (the core
 * names it at the start of every event it handles), so that the simulator, which runs
 * many nodes in one thread, says which one failed. Nothing here allocates. */
#ifndef DYNA_ASSERT_H
#define DYNA_ASSERT_H
#include <stdint.h>

/* Names the node whose event this thread is handling (0: none). */
void dyna_assert_set_node(uint64_t node_id);
uint64_t dyna_assert_node(void);

/* Prints the failure with its context and aborts. Never returns. */
_Noreturn void dyna_assert_fail(const char *file, int line, const char *expr, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));

/* Defensive checks that failed in a release build (no abort there). */
extern uint64_t dyna_assert_defensive_hits;
int dyna_assert_defensive(const char *file, int line, const char *expr);

#define DYNA_ASSERT(cond, ...)                                                             \
  do {                                                                                     \
    if (__builtin_expect(!(cond), 0)) dyna_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

#ifdef NDEBUG
#define ALWAYS(cond) ((cond) ? 1 : dyna_assert_defensive(__FILE__, __LINE__, #cond))
#define NEVER(cond) ((cond) ? !dyna_assert_defensive(__FILE__, __LINE__, "!(" #cond ")") : 0)
#else
#define ALWAYS(cond) ((cond) ? 1 : (dyna_assert_fail(__FILE__, __LINE__, #cond, "defensive check"), 0))
#define NEVER(cond) ((cond) ? (dyna_assert_fail(__FILE__, __LINE__, "!(" #cond ")", "defensive check"), 1) : 0)
#endif

#endif
