/* moves.c: the record of partition moves this node takes part in (node.h, dyna_move_t),
 * for operators: handoff.c reports the partitions it sends, coord.c the handoff PUTs it
 * receives. A fixed table of DYNA_MOVES_MAX slots in the node; a new move takes a free
 * slot, else the least recently updated finished or incoming one, else the least
 * recently updated of all. Pure bookkeeping: it changes nothing that is replicated. */
#include "core/keyspace.h"
#include "core/node_int.h"
#include <string.h>

size_t dyna_node_moves(const dyna_node_t *n, const dyna_move_t **out) {
  *out = n->moves;
  return DYNA_MOVES_MAX;
}

static dyna_move_t *find(dyna_node_t *n, uint32_t p, uint64_t from, int incoming) {
  for (size_t i = 0; i < DYNA_MOVES_MAX; i++) {
    dyna_move_t *m = &n->moves[i];
    if (m->state && m->partition == p && m->from == from && (m->state == DYNA_MOVE_RECEIVING) == incoming) return m;
  }
  return NULL;
}

/* The slot a new move takes, cleared. */
static dyna_move_t *take(dyna_node_t *n) {
  dyna_move_t *best = NULL;
  int best_rank = 3;
  for (size_t i = 0; i < DYNA_MOVES_MAX; i++) {
    dyna_move_t *m = &n->moves[i];
    int rank = !m->state ? 0 : (m->state == DYNA_MOVE_DONE || m->state == DYNA_MOVE_RECEIVING) ? 1 : 2;
    if (!best || rank < best_rank || (rank == best_rank && m->updated_ms < best->updated_ms)) {
      best = m;
      best_rank = rank;
    }
  }
  memset(best, 0, sizeof(*best));
  return best;
}

static int count_key(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k, (void)klen, (void)v, (void)vlen;
  ++*(uint64_t *)arg;
  return 0;
}

dyna_move_t *dyna_move_out(dyna_node_t *n, uint32_t p, const uint64_t *to, size_t nto) {
  dyna_move_t *m = find(n, p, n->cfg.id, 0);
  if (!m || m->state == DYNA_MOVE_DONE) {
    m = m ? m : take(n);
    memset(m, 0, sizeof(*m));
    m->partition = p;
    m->from = n->cfg.id;
    m->state = DYNA_MOVE_WAITING;
    m->started_ms = n->now.mono_ms;
    uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
    dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, count_key, &m->keys_total);
  }
  if (nto > DYNA_MAX_N) nto = DYNA_MAX_N;
  memcpy(m->to, to, nto * sizeof(uint64_t));
  m->nto = (uint32_t)nto;
  m->updated_ms = n->now.mono_ms;
  return m;
}

void dyna_move_end(dyna_node_t *n, uint32_t p) {
  dyna_move_t *m = find(n, p, n->cfg.id, 0);
  if (m && m->state != DYNA_MOVE_DONE) {
    m->state = DYNA_MOVE_DONE;
    m->updated_ms = n->now.mono_ms;
  }
}

void dyna_move_in(dyna_node_t *n, uint64_t from, uint32_t p, uint64_t bytes) {
  dyna_move_t *m = find(n, p, from, 1);
  if (!m) {
    m = take(n);
    m->partition = p;
    m->from = from;
    m->state = DYNA_MOVE_RECEIVING;
    m->to[0] = n->cfg.id;
    m->nto = 1;
    m->started_ms = n->now.mono_ms;
  }
  m->keys++;
  m->bytes += bytes;
  m->updated_ms = n->now.mono_ms;
}
