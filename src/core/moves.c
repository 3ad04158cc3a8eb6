/* moves.c: the record of partition moves this node takes part in (node.h, dyna_move_t),
 * for operators: handoff.c reports the partitions it sends, coord.c the handoff PUTs it
 * receives. Outgoing: one record per partition, in an array of the ring's size made at
 * the first move (so a record is never lost to another, and a move's keys are counted
 * once, when it begins). Incoming: DYNA_MOVES_IN_MAX slots, a new sender or partition
 * taking a free slot or else the least recently updated one. Pure bookkeeping: it
 * changes nothing that is replicated. */
#include "core/keyspace.h"
#include "core/node_int.h"
#include "util/alloc.h"
#include <string.h>

size_t dyna_node_moves_out(const dyna_node_t *n, const dyna_move_t **out) {
  *out = n->moves_out;
  return n->moves_out_n;
}

size_t dyna_node_moves_in(const dyna_node_t *n, const dyna_move_t **out) {
  *out = n->moves_in;
  return DYNA_MOVES_IN_MAX;
}

void dyna_moves_free(dyna_node_t *n) {
  dyna_free(n->moves_out);
  n->moves_out = NULL;
  n->moves_out_n = 0;
}

static int count_key(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k, (void)klen, (void)v, (void)vlen;
  ++*(uint64_t *)arg;
  return 0;
}

dyna_move_t *dyna_move_out(dyna_node_t *n, uint32_t p) {
  if (!n->moves_out) {
    if (!n->cl.ring.size || !(n->moves_out = dyna_calloc(n->cl.ring.size, sizeof(dyna_move_t)))) return NULL;
    n->moves_out_n = n->cl.ring.size;
  }
  if (p >= n->moves_out_n) return NULL;
  dyna_move_t *m = &n->moves_out[p];
  if (!m->state || m->state == DYNA_MOVE_DONE) {
    memset(m, 0, sizeof(*m));
    m->partition = p;
    m->from = n->cfg.id;
    m->state = DYNA_MOVE_WAITING;
    m->started_ms = n->now.mono_ms;
    uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
    dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, count_key, &m->keys_total);
  }
  m->updated_ms = n->now.mono_ms;
  return m;
}

void dyna_move_end(dyna_node_t *n, uint32_t p) {
  dyna_move_t *m = p < n->moves_out_n ? &n->moves_out[p] : NULL;
  if (m && m->state && m->state != DYNA_MOVE_DONE) {
    m->state = DYNA_MOVE_DONE;
    m->updated_ms = n->now.mono_ms;
  }
}

void dyna_move_in(dyna_node_t *n, uint64_t from, uint32_t p, uint64_t bytes) {
  dyna_move_t *m = NULL;
  for (size_t i = 0; i < DYNA_MOVES_IN_MAX && !m; i++)
    if (n->moves_in[i].state && n->moves_in[i].partition == p && n->moves_in[i].from == from) m = &n->moves_in[i];
  if (!m) { /* a free slot, else the least recently updated */
    m = &n->moves_in[0];
    for (size_t i = 0; i < DYNA_MOVES_IN_MAX && m->state; i++)
      if (!n->moves_in[i].state || n->moves_in[i].updated_ms < m->updated_ms) m = &n->moves_in[i];
    memset(m, 0, sizeof(*m));
    m->partition = p;
    m->from = from;
    m->state = DYNA_MOVE_RECEIVING;
    m->started_ms = n->now.mono_ms;
  }
  m->keys++;
  m->bytes += bytes;
  m->updated_ms = n->now.mono_ms;
}
