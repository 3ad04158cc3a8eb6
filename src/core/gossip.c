/* gossip.c: membership. The cluster state (cluster.h) is kept in the store's meta
 * space and merged on receipt. A change is pushed whole to a random peer at once; every
 * gossip interval a node sends a random peer the digest of its state (a GOSSIP whose node
 * field is a hash of every member record and the ring's version and author), and a peer
 * whose digest differs answers with its whole state, as Cassandra's digest exchange does:
 * so a settled cluster gossips a few bytes a round whatever its size, and whole states
 * travel only while something changes. A node that receives a whole state answers with
 * its own when the sender lacks something it has. Join, leave and remove are explicit
 * admin actions; a node that cannot be reached stays a member. */
#include "util/err.h"
#include "util/alloc.h"
#include "core/node_int.h"
#include <stdio.h>
#include <string.h>

static const uint8_t CLUSTER_KEY[] = "cluster";
static const uint8_t JOIN_SEED_KEY[] = "join-seed";

static int send_join(dyna_node_t *n);

/* The join seeds as kept in the store: their ids, u64 little-endian each (one seed is the
 * first format too). A record of another length is ignored: the node then waits for an
 * operator's join, as one that was never told to join. */
static void load_seeds(dyna_node_t *n, const uint8_t *p, size_t len) {
  n->njoin_seeds = 0;
  if (len % 8 || len / 8 > DYNA_JOIN_SEEDS_MAX) return;
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  while (dyna_rd_left(&r)) {
    uint64_t id = dyna_rd_u64le(&r);
    if (!r.err && id && id != n->cfg.id) n->join_seeds[n->njoin_seeds++] = id;
  }
}

static void persist_seeds(dyna_node_t *n) {
  dyna_buf_t b = DYNA_BUF_INIT;
  for (size_t i = 0; i < n->njoin_seeds; i++) dyna_buf_put_u64le(&b, n->join_seeds[i]);
  if (!b.oom) dyna_store_put(n->store, DYNA_SPACE_META, JOIN_SEED_KEY, sizeof(JOIN_SEED_KEY) - 1, b.data, b.len);
  dyna_buf_free(&b);
}

static void self_record(const dyna_node_t *n, dyna_member_t *m) {
  memset(m, 0, sizeof(*m));
  m->id = n->cfg.id;
  m->status = DYNA_MEMBER_VALID;
  m->version = 1;
  snprintf(m->name, sizeof(m->name), "%s", n->cfg.name);
  snprintf(m->addr, sizeof(m->addr), "%s", n->cfg.addr);
  snprintf(m->client_addr, sizeof(m->client_addr), "%s", n->cfg.client_addr);
  snprintf(m->zone, sizeof(m->zone), "%s", n->cfg.zone);
  snprintf(m->dc, sizeof(m->dc), "%s", n->cfg.dc);
}

/* n->cl encoded, kept until the cluster changes: a change is persisted and sent whole
 * to a random peer at once, and often back to the sender that brought it too (three
 * encodings of ~60 kB at 1000 members, Q = 8192). NULL when out of memory. */
static const dyna_buf_t *state_bytes(dyna_node_t *n) {
  if (n->cl_bytes_ok && n->cl_bytes_gen == n->cl.gen) return &n->cl_bytes;
  n->cl_bytes_ok = 0;
  dyna_buf_reset(&n->cl_bytes);
  dyna_cluster_encode(&n->cl, &n->cl_bytes);
  if (n->cl_bytes.oom) {
    dyna_buf_free(&n->cl_bytes);
    return NULL;
  }
  n->cl_bytes_gen = n->cl.gen;
  n->cl_bytes_ok = 1;
  return &n->cl_bytes;
}

void dyna_gossip_persist(dyna_node_t *n) {
  const dyna_buf_t *b = state_bytes(n);
  if (b) dyna_store_put(n->store, DYNA_SPACE_META, CLUSTER_KEY, sizeof(CLUSTER_KEY) - 1, b->data, b->len);
}

static void send_state(dyna_node_t *n, uint64_t to) {
  const dyna_buf_t *b = state_bytes(n);
  if (b) {
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_GOSSIP;
    m.obj = b->data;
    m.objlen = b->len;
    dyna_node_send(n, to, &m);
    n->stats.gossip_sent++;
  }
}

static void send_digest(dyna_node_t *n, uint64_t to) {
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_GOSSIP;
  m.node = dyna_cluster_digest(&n->cl); /* cluster.h; never 0, which means a whole state */
  dyna_node_send(n, to, &m);
  n->stats.gossip_sent++;
}

#define PEER_UNREACHABLE_MAX 64 /* more: random_peer asks about each member */

/* A random live member other than self (reachable ones first); 0 when there is none.
 * Which members are unreachable is found once (usually none or a few: a sorted list
 * walked beside the sorted members), not by two look-ups per member each round. */
static uint64_t random_peer(dyna_node_t *n) {
  uint64_t pick[2] = {0, 0};
  uint64_t seen[2] = {0, 0};
  uint64_t away[PEER_UNREACHABLE_MAX];
  size_t naway = dyna_fdet_unreachable(n, away, PEER_UNREACHABLE_MAX), j = 0;
  int listed = naway <= PEER_UNREACHABLE_MAX;
  for (size_t i = 0; i < n->cl.n; i++) {
    const dyna_member_t *m = &n->cl.m[i];
    if (m->id == n->cfg.id || m->status == DYNA_MEMBER_REMOVED) continue;
    int reach;
    if (listed) {
      while (j < naway && away[j] < m->id) j++;
      reach = j < naway && away[j] == m->id;
    } else {
      reach = dyna_node_is_reachable(n, m->id) ? 0 : 1;
    }
    /* Reservoir sampling keeps the choice uniform in one pass. */
    if (dyna_node_rand(n) % ++seen[reach] == 0) pick[reach] = m->id;
  }
  return pick[0] ? pick[0] : pick[1];
}

void dyna_gossip_changed(dyna_node_t *n) {
  int ch = 0;
  if (dyna_cluster_fix_ring(&n->cl, n->cfg.id, &n->cfg.repl, &ch) == 0 && ch) n->stats.ring_changes++;
  dyna_gossip_persist(n);
  uint64_t to = random_peer(n);
  if (to) send_state(n, to);
}

int dyna_gossip_load(dyna_node_t *n) {
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(n->store, DYNA_SPACE_META, CLUSTER_KEY, sizeof(CLUSTER_KEY) - 1, &b);
  dyna_member_t self;
  self_record(n, &self);
  if (rc == DYNA_ENOTFOUND) {
    dyna_buf_free(&b);
    rc = dyna_cluster_bootstrap(&n->cl, &self, n->cfg.ring_size);
    if (!rc) dyna_gossip_persist(n);
    n->fresh = 1; /* a new data directory (replace_twin) */
    return rc;
  }
  if (!rc) rc = dyna_cluster_decode(b.data, b.len, &n->cl);
  dyna_buf_free(&b);
  if (rc) return rc;
  if (dyna_gossip_joining(n)) { /* still joining: remember whom we asked */
    dyna_buf_t js = DYNA_BUF_INIT;
    if (dyna_store_get(n->store, DYNA_SPACE_META, JOIN_SEED_KEY, sizeof(JOIN_SEED_KEY) - 1, &js) == 0)
      load_seeds(n, js.data, js.len);
    dyna_buf_free(&js);
  }
  /* Our own record follows our configuration (addresses may change across restarts). */
  const dyna_member_t *cur = dyna_cluster_find(&n->cl, n->cfg.id);
  if (cur) {
    self.status = cur->status;
    self.version = cur->version + 1;
    int same = !strcmp(cur->name, self.name) && !strcmp(cur->addr, self.addr) &&
               !strcmp(cur->client_addr, self.client_addr) && !strcmp(cur->zone, self.zone) &&
               !strcmp(cur->dc, self.dc);
    if (same) return 0;
  }
  rc = dyna_cluster_upsert(&n->cl, &self, NULL);
  if (!rc) {
    int ch;
    dyna_cluster_fix_ring(&n->cl, n->cfg.id, &n->cfg.repl, &ch);
    dyna_gossip_persist(n);
  }
  return rc;
}

static int set_status(dyna_node_t *n, const dyna_member_t *cur, int status);

/* The seed that admitted a node that took a dead member's name may not have known that
 * member yet (it had joined through another seed just before it died: dyna-sim --faults
 * wipe,all seed 31), so both are live members under one name. The node itself settles
 * it: started on a new data directory, it is the newcomer, and a namesake it cannot
 * reach is the dead member it replaces, removed as an operator would. A namesake it can
 * reach is left alone (two live nodes under one name: `dyna admin remove` lists both). */
static void replace_twin(dyna_node_t *n) {
  if (!n->fresh || dyna_gossip_joining(n) || (n->cfg.bugs & DYNA_BUG_REPLACE_KEEPS_OLD)) return;
  const dyna_member_t *self = dyna_cluster_find(&n->cl, n->cfg.id);
  if (!self || self->status != DYNA_MEMBER_VALID) return; /* itself replaced, or leaving */
  /* A name compare per member each round otherwise: none found stays none while the
   * cluster is the same (its gen). */
  if (n->no_twin_ok && n->no_twin_gen == n->cl.gen) return;
  const dyna_member_t *twin = dyna_cluster_find_live_name(&n->cl, n->cfg.name, n->cfg.id);
  if (!twin) {
    n->no_twin_gen = n->cl.gen;
    n->no_twin_ok = 1;
    return;
  }
  if (dyna_node_is_reachable(n, twin->id)) return;
  if (set_status(n, twin, DYNA_MEMBER_REMOVED) == 0) {
    n->stats.members_replaced++;
    dyna_merkle_force(n, UINT32_MAX); /* rebuilt as after a join in its place */
  }
}

void dyna_gossip_tick(dyna_node_t *n) {
  if (dyna_gossip_joining(n) && n->njoin_seeds && n->now.mono_ms >= n->next_join_ms) send_join(n);
  if (n->now.mono_ms < n->next_gossip_ms) return;
  n->next_gossip_ms = n->now.mono_ms + n->cfg.gossip_interval_ms;
  n->stats.gossip_rounds++;
  replace_twin(n);
  uint64_t to = random_peer(n);
  if (to) send_digest(n, to);
}

/* 1 when a REMOVED member other than this node has its name: it took that one's place. */
static int took_place(const dyna_node_t *n) {
  for (size_t i = 0; i < n->cl.n; i++)
    if (n->cl.m[i].status == DYNA_MEMBER_REMOVED && n->cl.m[i].id != n->cfg.id && !strcmp(n->cl.m[i].name, n->cfg.name))
      return 1;
  return 0;
}

/* A peer holds cluster state c (it sent it, or a digest equal to ours): notes how far it
 * has heard of this node's leave (dyna_gossip_left). The digest counts: once every member
 * agrees, no whole state goes round any more, and a node that left before the ring gave
 * it partitions changed no ring, so none might ever reach it (its leave hung; the HTTP
 * admin test saw it about once in 25 runs). */
static void heard_own_record(dyna_node_t *n, const dyna_cluster_t *c) {
  const dyna_member_t *me = dyna_cluster_find(c, n->cfg.id);
  if (me && me->status != DYNA_MEMBER_VALID && me->version > n->leave_heard_version)
    n->leave_heard_version = me->version;
}

static void on_gossip(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  dyna_cluster_t in;
  dyna_cluster_init(&in);
  n->stats.gossip_received++;
  if (m->node) { /* a digest: ours goes back whole when it differs */
    if (m->objlen) n->stats.bad_messages++;
    else if (m->node != dyna_cluster_digest(&n->cl)) send_state(n, from);
    else heard_own_record(n, &n->cl); /* the sender holds what we hold, our record too */
    return;
  }
  if (dyna_cluster_decode(m->obj, m->objlen, &in) || in.ring.size != n->cl.ring.size) {
    n->stats.bad_messages++; /* corrupt, or another ring size: never adopted */
    dyna_cluster_clear(&in);
    return;
  }
  /* While joining, only a state that holds us is the cluster's answer; one without us
   * comes from a seed that refused us (a live member has our name) and is not adopted. */
  if (dyna_gossip_joining(n) && !dyna_cluster_find(&in, n->cfg.id)) {
    const dyna_member_t *taken = dyna_cluster_find_live_name(&in, n->cfg.name, n->cfg.id);
    if (taken) n->join_refused_by = taken->id;
    dyna_cluster_clear(&in);
    return;
  }
  int was_joining = dyna_gossip_joining(n);
  int changed = 0;
  int rc = dyna_cluster_merge(&n->cl, &in, &changed);
  if (!rc) heard_own_record(n, &in);
  /* The sender lacks something we have (merging is a join, so ours now holds all of
   * theirs: it differs only by what they lack; a node removed by an operator, say, hears
   * it so, as nobody gossips to a REMOVED member): ours goes back. */
  int behind = !rc && !dyna_cluster_same(&in, &n->cl); /* their digest differs from ours */
  if (!rc && changed) dyna_gossip_changed(n);
  if (behind) send_state(n, from);
  /* Just joined in a dead member's place: exchange every partition we replicate with
   * the other home replicas now rather than one per interval, so that it is rebuilt at
   * the pace of the background budget (an ordinary new node gets its data by handoff). */
  if (!rc && was_joining && !dyna_gossip_joining(n)) {
    n->join_refused_by = 0;
    if (took_place(n)) dyna_merkle_force(n, UINT32_MAX);
  }
  dyna_cluster_clear(&in);
}

/* The joiner takes the place of its namesake `old` (copied: the upserts may move the
 * member array): old becomes REMOVED and the joiner owns exactly old's partitions, so
 * that only old's replicas are rebuilt (anti-entropy with the other home replicas, and
 * the hints kept for old, which now go to the current home replicas). The joiner's node
 * id is new (a fresh data directory makes one), so it never writes a dot under old's
 * actors. Returns 0 or DYNA_ENOMEM. */
static int take_place(dyna_node_t *n, dyna_member_t old, const dyna_member_t *joiner) {
  dyna_member_t gone = old;
  gone.status = DYNA_MEMBER_REMOVED;
  gone.version = old.version + 1;
  dyna_ring_t r;
  dyna_ring_init(&r);
  int owner = dyna_ring_member_index(&n->cl.ring, old.id) >= 0 &&
              dyna_ring_member_index(&n->cl.ring, joiner->id) < 0;
  int rc = 0;
  if (owner) {
    dyna_ring_member_t rm = {joiner->id, {0}, {0}};
    memcpy(rm.zone, joiner->zone, sizeof(rm.zone));
    memcpy(rm.dc, joiner->dc, sizeof(rm.dc));
    rc = dyna_ring_substitute(&n->cl.ring, old.id, &rm, &r);
  }
  if (!rc && !(n->cfg.bugs & DYNA_BUG_REPLACE_KEEPS_OLD)) rc = dyna_cluster_upsert(&n->cl, &gone, NULL);
  if (!rc) rc = dyna_cluster_upsert(&n->cl, joiner, NULL);
  if (rc) { dyna_ring_clear(&r); return rc; }
  if (owner) {
    dyna_ring_clear(&n->cl.ring);
    n->cl.ring = r;
    n->cl.ring_version++;
    n->cl.ring_author = n->cfg.id;
    dyna_cluster_touch(&n->cl);
  }
  n->stats.members_replaced++;
  dyna_gossip_changed(n);
  return 0;
}

static void on_join(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  dyna_rd_t rd;
  dyna_member_t joiner;
  dyna_rd_init(&rd, m->obj, m->objlen);
  int bad = dyna_member_read(&rd, &joiner);
  if (!bad && dyna_rd_left(&rd)) bad = dyna_member_read_dc(&rd, &joiner); /* a site: trailing dc */
  if (bad || dyna_rd_left(&rd) || joiner.id != from) {
    n->stats.bad_messages++;
    return;
  }
  /* A new node under a live member's name: the name is the identity, so it replaces that
   * member when this node cannot reach it (its disk died and it was started afresh on a
   * new data directory), and is refused while it can (two live nodes under one name: a
   * mistake). A refused joiner gets our state without itself, which tells it why. */
  const dyna_member_t *old = dyna_cluster_find(&n->cl, joiner.id) ? NULL
                             : dyna_cluster_find_live_name(&n->cl, joiner.name, joiner.id);
  if (old && (old->id == n->cfg.id || dyna_node_is_reachable(n, old->id))) {
    n->stats.joins_refused++;
    /* Not a member, so the driver would know no address to send our answer to. */
    n->refused_id = joiner.id;
    memcpy(n->refused_addr, joiner.addr, sizeof(n->refused_addr));
  } else if (old) {
    take_place(n, *old, &joiner);
  } else {
    int changed = 0;
    if (dyna_cluster_upsert(&n->cl, &joiner, &changed) == 0 && changed) dyna_gossip_changed(n);
  }
  send_state(n, from);
}

void dyna_gossip_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (m->type == DYNA_MSG_GOSSIP) on_gossip(n, from, m);
  else if (m->type == DYNA_MSG_JOIN) on_join(n, from, m);
}

/* ---------- admin actions ---------- */

/* Ring version 0 exists only between dyna_node_join and adopting the cluster's ring
 * (a new cluster starts at 1), and it is persisted: a joining node that restarts is
 * still joining. */
int dyna_gossip_joining(const dyna_node_t *n) { return n->cl.ring_version == 0; }

static int send_join(dyna_node_t *n) {
  const dyna_member_t *self = dyna_cluster_find(&n->cl, n->cfg.id);
  if (!self) return DYNA_EINVAL;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_member_encode(self, &b);
  if (b.oom) { dyna_buf_free(&b); return DYNA_ENOMEM; }
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_JOIN;
  m.obj = b.data;
  m.objlen = b.len;
  for (size_t i = 0; i < n->njoin_seeds; i++) dyna_node_send(n, n->join_seeds[i], &m);
  dyna_buf_free(&b);
  n->next_join_ms = n->now.mono_ms + 1000;
  return 0;
}

int dyna_node_join(dyna_node_t *n, uint64_t seed_id, dyna_time_t now) {
  dyna_node_set_now(n, now);
  if (seed_id == n->cfg.id) return DYNA_EINVAL;
  /* A member of our own cluster: nothing to join (a second --join seed whose HELLO came
   * after the first one's answer, or a restart with --join kept). */
  const dyna_member_t *seed = dyna_cluster_find(&n->cl, seed_id);
  if (!dyna_gossip_joining(n) && seed && seed->status != DYNA_MEMBER_REMOVED) return 0;
  /* Whatever ring the seed's cluster has wins over our one-node ring; until it arrives
   * this node coordinates no writes, and asks again every second. */
  if (!dyna_gossip_joining(n)) n->njoin_seeds = 0; /* a new join */
  size_t i = 0;
  while (i < n->njoin_seeds && n->join_seeds[i] != seed_id) i++;
  if (i == n->njoin_seeds) {
    if (n->njoin_seeds == DYNA_JOIN_SEEDS_MAX) { /* the oldest gives way */
      memmove(n->join_seeds, n->join_seeds + 1, (DYNA_JOIN_SEEDS_MAX - 1) * sizeof(uint64_t));
      n->njoin_seeds--;
    }
    n->join_seeds[n->njoin_seeds++] = seed_id;
  }
  n->cl.ring_version = 0;
  n->cl.ring_author = 0;
  dyna_cluster_touch(&n->cl);
  int rc = send_join(n);
  dyna_gossip_persist(n);
  persist_seeds(n);
  return rc;
}

static int set_status(dyna_node_t *n, const dyna_member_t *cur, int status) {
  dyna_member_t m = *cur;
  m.status = (uint8_t)status;
  m.version = cur->version + 1;
  int rc = dyna_cluster_upsert(&n->cl, &m, NULL);
  if (!rc) dyna_gossip_changed(n);
  return rc;
}

int dyna_node_leave(dyna_node_t *n, dyna_time_t now) {
  dyna_node_set_now(n, now);
  const dyna_member_t *self = dyna_cluster_find(&n->cl, n->cfg.id);
  if (!self) return DYNA_EINVAL;
  if (self->status != DYNA_MEMBER_VALID) return 0;
  size_t valid = 0;
  for (size_t i = 0; i < n->cl.n; i++) valid += n->cl.m[i].status == DYNA_MEMBER_VALID;
  if (valid < 2) return DYNA_EINVAL; /* the last member cannot hand its data to anyone */
  return set_status(n, self, DYNA_MEMBER_LEAVING);
}

int dyna_node_remove(dyna_node_t *n, const char *who, dyna_time_t now) {
  dyna_node_set_now(n, now);
  const dyna_member_t *m = dyna_cluster_find_name(&n->cl, who);
  if (!m) return DYNA_ENOTFOUND;
  if (dyna_cluster_name_count(&n->cl, who) > 1) return DYNA_EINVAL; /* ambiguous: the driver lists them */
  if (m->id == n->cfg.id) return DYNA_EINVAL; /* a live node leaves instead */
  if (m->status == DYNA_MEMBER_REMOVED) return 0;
  return set_status(n, m, DYNA_MEMBER_REMOVED);
}

void dyna_gossip_left(dyna_node_t *n) {
  const dyna_member_t *self = dyna_cluster_find(&n->cl, n->cfg.id);
  /* Not before a peer holds our leaving record: otherwise the node could be shut down as
   * REMOVED while the others still count it as a VALID owner (dyna-sim --seed 59
   * --strict). Gossip brings that record to a peer and back within a few rounds. */
  if (self && self->status == DYNA_MEMBER_LEAVING && n->leave_heard_version >= self->version)
    set_status(n, self, DYNA_MEMBER_REMOVED);
}
