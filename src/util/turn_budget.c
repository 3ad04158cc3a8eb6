/* turn_budget.c: a client's per-loop-turn budget of commands and input bytes (see
 * turn_budget.h). */
#include "util/turn_budget.h"

void dyna_turn_budget_begin(dyna_turn_budget_t *b, uint64_t turn) {
  if (b->turn == turn) return;
  b->turn = turn;
  b->cmds = 0;
  b->bytes = 0;
}

int dyna_turn_budget_left(const dyna_turn_budget_t *b, uint32_t max_cmds, size_t max_bytes) {
  if (max_cmds && b->cmds >= max_cmds) return 0;
  if (max_bytes && b->cmds && b->bytes >= max_bytes) return 0;
  return 1;
}

uint32_t dyna_turn_budget_take(dyna_turn_budget_t *b, size_t n) {
  b->cmds++;
  b->bytes = b->bytes + n < b->bytes ? SIZE_MAX : b->bytes + n;
  return b->cmds;
}
