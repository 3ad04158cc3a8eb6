/* turn_budget.h: how much of one client's input dynad takes in one loop turn (the
 * runtime's fairness budget, runtime/conn.c). A connection counts the commands it took
 * in the current turn and their input bytes; once either reaches its bound the rest of
 * its input waits for a later turn, so one pipelining client cannot hold the loop while
 * every other socket and timer waits. Pure bookkeeping: the caller says which turn it is
 * (a counter it bumps once per loop turn), so this is unit-tested without a loop. */
#ifndef DYNA_TURN_BUDGET_H
#define DYNA_TURN_BUDGET_H
#include <stddef.h>
#include <stdint.h>

typedef struct dyna_turn_budget {
  uint64_t turn; /* the loop turn the counts below belong to (0: none yet) */
  uint32_t cmds; /* commands taken in that turn */
  size_t bytes;  /* the input bytes of those commands */
} dyna_turn_budget_t;

/* Starts counting turn `turn` (a no-op when b already counts it). */
void dyna_turn_budget_begin(dyna_turn_budget_t *b, uint64_t turn);
/* 1 when b may take one more command in its turn: fewer than max_cmds commands and
 * fewer than max_bytes bytes taken so far (a bound of 0: no bound). The first command of
 * a turn is always allowed, whatever its size. */
int dyna_turn_budget_left(const dyna_turn_budget_t *b, uint32_t max_cmds, size_t max_bytes);
/* Counts one command of n input bytes taken in b's turn; returns the commands taken in
 * that turn so far, this one included. */
uint32_t dyna_turn_budget_take(dyna_turn_budget_t *b, size_t n);

#endif
