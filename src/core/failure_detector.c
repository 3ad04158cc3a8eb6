/* failure_detector.c: the failure detector, an accrual detector in the manner of phi-accrual
 * (Hayashibara et al.). Any frame from a peer counts as a heartbeat; PING asks for one.
 *
 * Who is pinged. In a cluster of at most FD_PROBE_ALL_MAX members (self included, REMOVED
 * ones not counted) every node pings every live member every heartbeat interval, as it
 * always did. Beyond that the cost would grow with the cluster (1000 members: ~10,000
 * frames per node per second), so each heartbeat round a node pings a bounded set:
 *   - its neighbours: the members it shares a partition with (the other home replicas of
 *     the partitions it replicates: those whose reachability decides its hints, handoff
 *     and anti-entropy), recomputed when the ring changes;
 *   - FD_PROBE_EXTRA others, round robin over a shuffle of the members (drawn from the
 *     node's seeded PRNG, reshuffled at the end of each pass), as SWIM probes;
 *   - every member with a PING still unanswered (watched until it answers), so a peer
 *     that fails to answer once is asked every round until it is judged.
 * A peer heard from within the interval (any frame) and not waiting for an answer is not
 * pinged that round: the frame was its heartbeat. In the bounded mode "within the
 * interval" is within FD_QUIET_ROUNDS intervals: a node has tens of neighbours when the
 * ring is irregular (18.5 on average at 1000 nodes, Q = 8192; 5.4 at 100, Q = 1024) and
 * most are heard less often than every 200 ms.
 * The frames a node sends per second then depend on its partitions' replicas, not on S.
 *
 * Suspicion. In the small mode it is as before: for each peer the time it was last heard
 * from and a moving mean of the intervals between heartbeats;
 *
 *     phi = log10(e) * (now - last_heard) / mean_interval
 *
 * (the exponential-distribution form), and a peer is judged unreachable when phi
 * exceeds the threshold (8: about 18 mean intervals, so ~3.7 s at 200 ms heartbeats)
 * and at least fd_min_ms passed. In the bounded mode silence is evidence only while we
 * ask: the clock starts at the first PING sent since the peer was last heard (asked_ms)
 * and the mean is of the answer delays, so a member nobody here pings keeps the judgement
 * of its last direct contact (reachable, unless the transport reports it down) instead of
 * turning suspect for want of pings. A failed member is learnt by the nodes that ping it
 * (its neighbours within ~2 s; everyone within one round-robin pass) and by the transport.
 * A single frame from a peer clears the suspicion in both modes. Why an accrual detector
 * rather than SWIM's indirect probes: the mean adapts to a loaded node, and there is no
 * extra message type to get wrong; what SWIM adds, telling a link cut from a dead node,
 * matters less when a cut link alone must already count as unreachable for the
 * coordinator on that side.
 *
 * Hearsay (bounded mode only). A round robin reaches a given member once a pass, S/3
 * rounds (about 67 s at 1000 members), so a member that hangs behind live connections
 * would be judged by most nodes only that late. So, as SWIM spreads suspicion, a node
 * whose own detector comes to judge a member tells others: for FD_TELL_ROUNDS rounds it
 * sends FD_TELL_FANOUT PINGs a round, to random members, that name the suspect (the PING's
 * node field). A node that receives one does not judge anything: it starts asking the
 * suspect itself (a PING now, then every round while unanswered, as for any PING), and
 * its own detector judges within ~2 s if the suspect is silent, when it tells others in
 * turn; a suspect that answers anyone is cleared there by that answer. So a node hung
 * behind live links is known to all within a few generations of ~2 s (log of S to the
 * base of what each teller reaches), and a false tale costs one PING and its PONG per
 * node told. At most FD_TELL_MAX suspects are told at a time (a partition makes many).
 * Integer arithmetic only, so runs replay exactly. */
#include "util/err.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "core/node_int.h"
#include <stdlib.h>

#define PHI_X1000_THRESHOLD 8000
#define LOG10E_X1000 434
#define FD_PROBE_ALL_MAX 32 /* members up to which every peer is pinged every round */
#define FD_PROBE_EXTRA 1    /* round-robin probes per round beyond the neighbours */
#define FD_QUIET_ROUNDS 3   /* bounded: a due member heard within this many rounds is not pinged */
#define FD_TELL_MAX 4       /* suspects told about at once */
#define FD_TELL_FANOUT 8    /* members told of one suspect per round */
#define FD_TELL_ROUNDS 3   /* rounds a suspect is told for */

typedef struct fd_peer {
  uint64_t last_ms;
  uint64_t mean_ms;
  uint64_t last_ping_ms;
  uint64_t asked_ms; /* first PING sent since last heard; 0: none unanswered */
  uint8_t heard;     /* a frame came from it since the record was made */
  uint8_t told;      /* judged since last heard, and put on the tell list */
} fd_peer_t;

/* The bounded mode's schedule (owned by the node, freed by dyna_fdet_free). */
struct fd_sched {
  int bounded;            /* members > FD_PROBE_ALL_MAX at the last round */
  uint64_t next_round_ms;
  uint64_t nb_ring_version, nb_ring_author; /* the ring the neighbours are of */
  uint64_t *nb;           /* neighbours' ids, sorted */
  size_t nnb;
  uint64_t *order;        /* round robin: a shuffle of the members' ids ... */
  size_t norder, pos;     /* ... and the next one to probe */
  struct { uint64_t id; uint32_t rounds; } tell[FD_TELL_MAX]; /* suspects to tell of */
  uint64_t *watch;        /* ids with a PING unanswered (and some answered since: pruned */
  size_t nwatch, capwatch; /* each round), so a round is not a walk over every member */
  size_t members;         /* members not REMOVED, counted at cluster generation ... */
  uint64_t members_gen;   /* ... members_gen (members_ok: counted at all) */
  int members_ok;
};

static int bounded(const dyna_node_t *n) { return n->fds && n->fds->bounded; }

/* A new record's mean: the heartbeat interval where the mean is of the intervals between
 * heartbeats; where it is of answer delays (bounded), the floor that mean is kept at, as
 * an answer comes within a few ms: so a peer first asked is judged, if silent, within
 * the ~1.8 s of a peer asked before, not twice that. */
static uint64_t first_mean(const dyna_node_t *n) {
  return bounded(n) ? n->cfg.heartbeat_ms / 2 : n->cfg.heartbeat_ms;
}

static fd_peer_t *peer(dyna_node_t *n, uint64_t id, int create) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (e) return e->ptr;
  if (!create) return NULL;
  fd_peer_t *p = dyna_calloc(1, sizeof(*p));
  if (!p) return NULL;
  if (dyna_idmap_put(&n->fdet, id, p, 0)) {
    dyna_free(p);
    return NULL;
  }
  p->last_ms = n->now.mono_ms;
  p->mean_ms = first_mean(n);
  return p;
}

void dyna_fdet_heard(dyna_node_t *n, uint64_t id) {
  fd_peer_t *p = peer(n, id, 1);
  if (!p) return;
  uint64_t now = n->now.mono_ms;
  uint64_t gap = now > p->last_ms ? now - p->last_ms : 0;
  if (bounded(n)) {
    /* Silent for at least fd_min_ms while asked: as below. The mean is of answer delays;
     * a frame nobody asked for only clears the suspicion. */
    uint64_t waited = p->asked_ms && now > p->asked_ms ? now - p->asked_ms : 0;
    if (p->asked_ms && waited >= n->cfg.fd_min_ms) dyna_node_peer_back(n, id);
    if (p->asked_ms) p->mean_ms = (p->mean_ms * 7 + waited) / 8;
  } else {
    /* Silent for at least fd_min_ms (heartbeats go every heartbeat_ms): a partition, a
     * pause or a restart ended, and writes may have missed either side. */
    if (gap >= n->cfg.fd_min_ms) dyna_node_peer_back(n, id);
    /* Moving mean over ~8 samples, kept at least a few ms so a burst of frames does not
     * make the detector hair-triggered. */
    p->mean_ms = (p->mean_ms * 7 + gap) / 8;
  }
  if (p->mean_ms < n->cfg.heartbeat_ms / 2) p->mean_ms = n->cfg.heartbeat_ms / 2;
  if (p->mean_ms == 0) p->mean_ms = 1;
  p->last_ms = now;
  p->asked_ms = 0;
  p->heard = 1;
  p->told = 0;
}

void dyna_fdet_reset(dyna_node_t *n, uint64_t id) {
  fd_peer_t *p = peer(n, id, 1);
  if (!p) return;
  p->last_ms = n->now.mono_ms;
  p->mean_ms = first_mean(n);
  p->asked_ms = 0;
}

/* How long the peer has been silent as evidence goes (see the top). */
static uint64_t silence(const dyna_node_t *n, const fd_peer_t *p) {
  uint64_t from = p->last_ms;
  if (bounded(n) && !(n->cfg.bugs & DYNA_BUG_FD_UNASKED_SILENCE)) {
    if (!p->asked_ms) return 0;
    from = p->asked_ms;
  }
  return n->now.mono_ms > from ? n->now.mono_ms - from : 0;
}

/* 1 when the detector judges the peer of record p (see the top). */
static int judged(const dyna_node_t *n, const fd_peer_t *p) {
  uint64_t since = silence(n, p);
  if (since < n->cfg.fd_min_ms) return 0;
  return since * LOG10E_X1000 > PHI_X1000_THRESHOLD * p->mean_ms;
}

int dyna_fdet_suspect(const dyna_node_t *n, uint64_t id) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (!e) return 0;
  return judged(n, e->ptr);
}

static int cmp_u64(const void *a, const void *b);

size_t dyna_fdet_unreachable(const dyna_node_t *n, uint64_t *out, size_t max) {
  size_t k = 0;
  for (size_t i = 0; i < n->down.cap; i++)
    if (n->down.t[i].id && n->down.t[i].id != n->cfg.id && k++ < max) out[k - 1] = n->down.t[i].id;
  for (size_t i = 0; i < n->fdet.cap; i++) {
    uint64_t id = n->fdet.t[i].id;
    if (!id || id == n->cfg.id || !judged(n, n->fdet.t[i].ptr) || dyna_idmap_get(&n->down, id)) continue;
    if (k++ < max) out[k - 1] = id; /* (down and judged: counted once, as down) */
  }
  if (k <= max) qsort(out, k, sizeof(*out), cmp_u64);
  return k;
}

uint64_t dyna_fdet_phi_x1000(const dyna_node_t *n, uint64_t id) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (!e) return 0;
  const fd_peer_t *p = e->ptr;
  return silence(n, p) * LOG10E_X1000 / p->mean_ms;
}

/* Adds id to the bounded mode's watch list (out of memory: it is found again when the
 * list is rebuilt on entering the bounded mode; until then it is pinged when due). */
static void watch(struct fd_sched *s, uint64_t id) {
  if (s->nwatch == s->capwatch) {
    size_t nc = s->capwatch ? s->capwatch * 2 : 64;
    uint64_t *g = dyna_realloc(s->watch, nc * sizeof(*g));
    if (!g) return;
    s->watch = g;
    s->capwatch = nc;
  }
  s->watch[s->nwatch++] = id;
}

/* A PING to id; suspect: a member to name in it (hearsay, see the top), or 0. */
static void ping(dyna_node_t *n, uint64_t id, fd_peer_t *p, uint64_t suspect) {
  p->last_ping_ms = n->now.mono_ms;
  if (!p->asked_ms && bounded(n)) watch(n->fds, id);
  if (!p->asked_ms) p->asked_ms = n->now.mono_ms ? n->now.mono_ms : 1;
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_PING;
  m.req = n->now.mono_ms ? n->now.mono_ms : 1;
  m.node = suspect;
  dyna_node_send(n, id, &m);
}

/* A member that can be pinged now: not us, not REMOVED, a link to it up. */
static int pingable(dyna_node_t *n, uint64_t id) {
  if (id == n->cfg.id) return 0;
  const dyna_member_t *m = dyna_cluster_find(&n->cl, id);
  return m && m->status != DYNA_MEMBER_REMOVED && !dyna_idmap_get(&n->down, id);
}

void dyna_fdet_hearsay(dyna_node_t *n, uint64_t id) {
  if (!bounded(n) || !pingable(n, id)) return;
  fd_peer_t *p = peer(n, id, 1);
  if (!p || p->asked_ms) return;                                               /* asking already */
  if (p->heard && n->now.mono_ms - p->last_ms < n->cfg.heartbeat_ms) return; /* it spoke just now */
  ping(n, id, p, 0);
}

/* Puts a peer this node's own detector judges on the tell list (a free slot: else it is
 * tried again next round). */
static void note_verdict(dyna_node_t *n, struct fd_sched *s, uint64_t id, fd_peer_t *p) {
  if (p->told || !p->asked_ms || !dyna_fdet_suspect(n, id)) return;
  for (size_t i = 0; i < FD_TELL_MAX; i++)
    if (!s->tell[i].rounds) {
      s->tell[i].id = id;
      s->tell[i].rounds = FD_TELL_ROUNDS;
      p->told = 1;
      return;
    }
}

/* This round's hearsay: FD_TELL_FANOUT random members told of each suspect still judged. */
static void tell_suspects(dyna_node_t *n, struct fd_sched *s) {
  if (n->cfg.bugs & DYNA_BUG_FD_NO_HEARSAY) return;
  for (size_t i = 0; i < FD_TELL_MAX; i++) {
    if (!s->tell[i].rounds) continue;
    uint64_t sus = s->tell[i].id;
    dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, sus);
    if (!e || !((fd_peer_t *)e->ptr)->told || !dyna_fdet_suspect(n, sus)) { /* heard since */
      s->tell[i].rounds = 0;
      continue;
    }
    s->tell[i].rounds--;
    for (size_t k = 0, tries = 0; k < FD_TELL_FANOUT && tries < 4 * FD_TELL_FANOUT && n->cl.n; tries++) {
      uint64_t to = n->cl.m[dyna_node_rand(n) % n->cl.n].id;
      fd_peer_t *p = to != sus && pingable(n, to) ? peer(n, to, 1) : NULL;
      if (!p) continue;
      ping(n, to, p, sus);
      k++;
    }
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The members this node shares a partition with, sorted; kept until the ring changes. */
static void neighbours(dyna_node_t *n, struct fd_sched *s) {
  if (s->nb && s->nb_ring_version == n->cl.ring_version && s->nb_ring_author == n->cl.ring_author) return;
  s->nnb = 0;
  dyna_free(s->nb);
  s->nb = NULL;
  s->nb_ring_version = n->cl.ring_version;
  s->nb_ring_author = n->cl.ring_author;
  size_t cap = 0;
  uint64_t homes[DYNA_MAX_N];
  /* Only the partitions this node replicates have any: anti-entropy keeps their list
   * for the same ring (NULL: short of memory, walk them all). */
  uint32_t nmine = 0;
  const uint32_t *mine = dyna_merkle_mine(n, &nmine);
  for (uint32_t k = 0; k < (mine ? nmine : n->cl.ring.size); k++) {
    uint32_t p = mine ? mine[k] : k;
    size_t nh = dyna_node_replicas(n, p, homes), self = nh;
    for (size_t i = 0; i < nh; i++)
      if (homes[i] == n->cfg.id) self = i;
    if (self == nh) continue;
    for (size_t i = 0; i < nh; i++) {
      if (i == self) continue;
      if (s->nnb == cap) {
        size_t nc = cap ? cap * 2 : 64;
        uint64_t *g = dyna_realloc(s->nb, nc * sizeof(*g));
        if (!g) return; /* out of memory: fewer neighbours this time */
        s->nb = g;
        cap = nc;
      }
      s->nb[s->nnb++] = homes[i];
    }
  }
  if (!s->nb) return;
  qsort(s->nb, s->nnb, sizeof(*s->nb), cmp_u64);
  size_t k = 0;
  for (size_t i = 0; i < s->nnb; i++)
    if (!k || s->nb[k - 1] != s->nb[i]) s->nb[k++] = s->nb[i];
  s->nnb = k;
}

static int is_neighbour(const struct fd_sched *s, uint64_t id) {
  return s->nb && bsearch(&id, s->nb, s->nnb, sizeof(*s->nb), cmp_u64) != NULL;
}

/* The next round-robin member (0 when there is none): a pass over a shuffle of the
 * members, reshuffled from the node's PRNG when it ends. */
static uint64_t next_probe(dyna_node_t *n, struct fd_sched *s) {
  if (s->pos >= s->norder) {
    dyna_free(s->order);
    s->order = dyna_calloc(n->cl.n ? n->cl.n : 1, sizeof(*s->order));
    s->norder = s->pos = 0;
    if (!s->order) return 0;
    for (size_t i = 0; i < n->cl.n; i++)
      if (n->cl.m[i].id != n->cfg.id && n->cl.m[i].status != DYNA_MEMBER_REMOVED) s->order[s->norder++] = n->cl.m[i].id;
    for (size_t i = s->norder; i > 1; i--) { /* Fisher-Yates */
      size_t j = (size_t)(dyna_node_rand(n) % i);
      uint64_t t = s->order[i - 1];
      s->order[i - 1] = s->order[j];
      s->order[j] = t;
    }
    if (!s->norder) return 0;
  }
  return s->order[s->pos++];
}

static void tick_bounded(dyna_node_t *n, struct fd_sched *s) {
  if (n->now.mono_ms < s->next_round_ms) return;
  s->next_round_ms = n->now.mono_ms + n->cfg.heartbeat_ms;
  neighbours(n, s);
  /* The round-robin picks: at most FD_PROBE_EXTRA, skipping members gone since the
   * shuffle, down ones and neighbours (pinged anyway); a bounded number of tries. */
  uint64_t pick[FD_PROBE_EXTRA];
  size_t npick = 0;
  for (size_t tries = 0; npick < FD_PROBE_EXTRA && tries < 4 * FD_PROBE_EXTRA; tries++) {
    uint64_t id = next_probe(n, s);
    if (!id) break;
    const dyna_member_t *m = dyna_cluster_find(&n->cl, id);
    if (!m || m->status == DYNA_MEMBER_REMOVED || dyna_idmap_get(&n->down, id) || is_neighbour(s, id)) continue;
    pick[npick++] = id;
  }
  /* This round's members: the neighbours, the picks and the watched (those answered
   * since leave the watch list), in id order as the membership is kept, so a round costs
   * what it pings, not the cluster's size. */
  size_t k = 0;
  for (size_t i = 0; i < s->nwatch; i++) {
    dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, s->watch[i]);
    if (e && ((fd_peer_t *)e->ptr)->asked_ms) s->watch[k++] = s->watch[i];
  }
  s->nwatch = k;
  size_t nround = s->nnb + npick + s->nwatch;
  uint64_t *round = dyna_malloc((nround ? nround : 1) * sizeof(*round));
  if (!round) return; /* out of memory: no PINGs this round */
  if (s->nnb) memcpy(round, s->nb, s->nnb * sizeof(*round));
  memcpy(round + s->nnb, pick, npick * sizeof(*round));
  if (s->nwatch) memcpy(round + s->nnb + npick, s->watch, s->nwatch * sizeof(*round));
  qsort(round, nround, sizeof(*round), cmp_u64);
  for (size_t i = 0; i < nround; i++) {
    uint64_t id = round[i];
    if (i && round[i - 1] == id) continue;
    const dyna_member_t *m = dyna_cluster_find(&n->cl, id);
    if (!m || m->id == n->cfg.id || m->status == DYNA_MEMBER_REMOVED) continue;
    if (dyna_idmap_get(&n->down, m->id)) continue; /* no link: nothing to ping over */
    int due = is_neighbour(s, m->id);
    for (size_t j = 0; j < npick && !due; j++) due = pick[j] == m->id;
    fd_peer_t *p = due ? peer(n, m->id, 1) : peer(n, m->id, 0);
    if (!p) continue;
    if (!due && !p->asked_ms) continue; /* not due, and not watched (no PING unanswered) */
    note_verdict(n, s, m->id, p);
    /* Heard within the last FD_QUIET_ROUNDS intervals and not waiting for an answer:
     * that frame was the heartbeat (replica traffic and anti-entropy with neighbours are
     * frequent; a hang is then asked within 0.6 s, judged ~1.8 s later). A record just
     * made for a member never heard from is no heartbeat: ask it. */
    if (!p->asked_ms && p->heard && n->now.mono_ms - p->last_ms < FD_QUIET_ROUNDS * n->cfg.heartbeat_ms) continue;
    ping(n, m->id, p, 0);
  }
  dyna_free(round);
  tell_suspects(n, s);
}

void dyna_fdet_tick(dyna_node_t *n) {
  if (!n->fds) n->fds = dyna_calloc(1, sizeof(*n->fds));
  /* Bounded: nothing to do between rounds (the mode is looked at again at the next). */
  if (n->fds && n->fds->bounded && n->now.mono_ms < n->fds->next_round_ms) return;
  size_t members = 0;
  if (n->fds && n->fds->members_ok && n->fds->members_gen == n->cl.gen) {
    members = n->fds->members; /* the same cluster as last round: a walk saved */
  } else {
    for (size_t i = 0; i < n->cl.n; i++) members += n->cl.m[i].status != DYNA_MEMBER_REMOVED;
    if (n->fds) n->fds->members = members, n->fds->members_gen = n->cl.gen, n->fds->members_ok = 1;
  }
#ifndef NDEBUG
  size_t recount = 0;
  for (size_t i = 0; i < n->cl.n; i++) recount += n->cl.m[i].status != DYNA_MEMBER_REMOVED;
  DYNA_ASSERT(recount == members, "kept member count %zu, now %zu: a change bypassed dyna_cluster_touch",
              members, recount);
#endif
  if (n->fds) {
    int was = n->fds->bounded;
    n->fds->bounded = members > FD_PROBE_ALL_MAX;
    /* Back to pinging everyone: the peers nobody asked were silent for want of PINGs,
     * not judged; their silence starts now. */
    if (was && !n->fds->bounded)
      for (size_t i = 0; i < n->fdet.cap; i++)
        if (n->fdet.t[i].id) {
          fd_peer_t *p = n->fdet.t[i].ptr;
          if (!p->asked_ms) p->last_ms = n->now.mono_ms;
        }
    /* Into the bounded mode: the means were of intervals between heartbeats, and are now
     * of answer delays; they start again from the floor (first_mean). */
    if (!was && n->fds->bounded) {
      n->fds->nwatch = 0;
      for (size_t i = 0; i < n->fdet.cap; i++)
        if (n->fdet.t[i].id) {
          fd_peer_t *p = n->fdet.t[i].ptr;
          p->mean_ms = first_mean(n);
          if (p->asked_ms) watch(n->fds, n->fdet.t[i].id);
        }
    }
    if (n->fds->bounded) {
      tick_bounded(n, n->fds);
      return;
    }
  }
  for (size_t i = 0; i < n->cl.n; i++) {
    const dyna_member_t *m = &n->cl.m[i];
    if (m->id == n->cfg.id || m->status == DYNA_MEMBER_REMOVED) continue;
    if (dyna_idmap_get(&n->down, m->id)) continue; /* no link: nothing to ping over */
    fd_peer_t *p = peer(n, m->id, 1);
    if (!p || n->now.mono_ms - p->last_ping_ms < n->cfg.heartbeat_ms) continue;
    ping(n, m->id, p, 0);
  }
}

void dyna_fdet_free(dyna_node_t *n) {
  for (size_t i = 0; i < n->fdet.cap; i++)
    if (n->fdet.t[i].id) dyna_free(n->fdet.t[i].ptr);
  dyna_idmap_free(&n->fdet);
  if (n->fds) {
    dyna_free(n->fds->nb);
    dyna_free(n->fds->order);
    dyna_free(n->fds->watch);
    dyna_free(n->fds);
    n->fds = NULL;
  }
}
