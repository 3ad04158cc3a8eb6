/* workload.c: simulated clients and the model of what they were promised.
 *
 * Keys come in three kinds (key i: i % 4 = 0,1 cart; 2 blind set; 3 delete):
 *   cart  read (GET, all siblings + context), union the items of every live sibling,
 *         add one new item, write back (PUT with the context read);
 *   set   blind SET (DYNA_REQ_BLIND) of a fresh value;
 *   del   read, then either DEL with the context read or PUT with it.
 * Clients pick a key and an entry node at random for every cycle, so several clients
 * work on one cart at once. With --routing ring a client sends each request to the first
 * usable node of the key's preference list instead (as libdyna does), falling back to
 * the random node when none of the N is usable. With --latency the simulated time from
 * submission to answer of every successful request is kept, reads and writes apart, and
 * reported as percentiles. Every write carries a unique write id (u32, first four
 * bytes of the value); a cart value is the write id followed by its item ids, sorted,
 * one u32 each (little-endian).
 *
 * The model keeps, per write: its status (pending, acknowledged, failed = outcome
 * unknown), the item it adds, and the write ids its read saw (the values its context
 * covers). From it the checks (sim_work_check) derive:
 *   - acknowledged cart items, which must all be in the final merged cart;
 *   - dead write ids: the values an acknowledged DEL's context covered, which must
 *     never be live again;
 *   - a sibling bound: writes that no acknowledged write's context covers, directly or
 *     through the values it saw (docs/simulation.md explains why this is sound).
 * At each acknowledgement the simulator also reads the disks: at least W nodes must
 * durably hold a version whose clock covers the context the client got back (with
 * --quorum: a majority of each site's homes, counted as sim_work_ring_seen explains).
 */
#include "core/cluster.h"
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "core/replica.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdlib.h>
#include <string.h>

enum { K_CART = 0, K_SET, K_DEL, K_TYPED };
enum { WS_PENDING = 0, WS_ACKED, WS_FAILED };
enum { CP_START = 0, CP_WRITE };
enum { CS_IDLE = 0, CS_GET, CS_PUT, CS_TYPED };

#define FINAL_CLIENT 0xFFFFFFFFu

typedef struct wl_write {
  uint32_t key;
  uint8_t kind;   /* 'P' put with context, 'B' blind, 'D' delete */
  uint8_t status; /* WS_* */
  uint32_t item;  /* the cart item this write adds (0: none) */
  uint32_t nseen; /* write ids the read before it saw live (its context covers them) */
  uint32_t *seen;
  /* Acknowledged (check_ack_durable, runs of up to 64 nodes): the context the client got
   * back (a disk holds the write when its version's clock covers it; owned; empty:
   * not recorded); and set by sim_work_disk_gone when the last disk holding it went with
   * a node removed for good (cleared again if a copy shows up on a disk that stayed). */
  dyna_ctx_t ack_ctx;
  uint8_t gone;
} wl_write_t;

typedef struct wl_key {
  uint8_t type;
  uint32_t tk;    /* K_TYPED: its index in workload_types.c's model */
  char name[24];
  size_t klen;
  uint32_t *wids; /* writes to this key, in issue order */
  uint32_t nw, capw;
  uint32_t inflight, inflight_max;
  int final_status; /* final read: 0, or an error; 1 = not done */
  uint32_t final_tries;
  dyna_obj_t final;
  uint32_t ngone;   /* its writes marked lost with their disks (wl_write_t.gone) */
  dyna_ctx_t seen[64]; /* per node (up to 64): the union of the clocks its committed disk
                          was seen to hold for the key at acknowledgements (owned) */
} wl_key_t;

typedef struct wl_client {
  int state;     /* CS_* */
  int phase;     /* CP_*: what the next EV_CLIENT does */
  uint64_t step; /* matches EV_CLIENT.x */
  uint64_t req_id;
  uint32_t node, inc;
  uint32_t key;
  uint32_t write;   /* write id in flight (CS_PUT) */
  int eligible;     /* W replicas were reachable from a coordinator at submission */
  uint8_t site_homes[DYNA_SITES_MAX]; /* --quorum, while a PUT is in flight: the fewest
                       home replicas site "s<i>" had in any ring a running node held
                       since its submission (sim_work_ring_seen) */
  dyna_ctx_t ctx;   /* context read (owned) */
  uint32_t *items;  /* union of the items read (owned) */
  uint32_t nitems;
  uint32_t *seen;   /* write ids read (owned; moved into the write) */
  uint32_t nseen;
  int del;          /* the pending write is a delete */
  uint64_t t_sub;   /* simulated ms at which the request in flight was submitted */
} wl_client_t;

/* Latencies (simulated ms) of successful client requests, one class each. */
enum { LAT_READ = 0, LAT_WRITE, LAT_CLASSES };
typedef struct wl_lat {
  uint32_t *v;
  size_t n, cap;
} wl_lat_t;

struct sim_work {
  wl_key_t *keys;
  uint32_t nkeys;
  wl_client_t *cl;
  uint32_t ncl;
  wl_write_t *wr; /* index = write id; 0 unused */
  uint32_t nwr, capwr;
  uint32_t next_item;
  uint32_t req_seq;
  uint32_t final_pending;
  /* statistics */
  uint64_t gets, gets_ok, writes, writes_ok, dels, dels_ok, blinds;
  uint64_t versions[6]; /* GETs by sibling count: 0 (absent), 1, 2, 3, 4, 5+ */
  uint64_t eligible, eligible_ok, ack_checks;
  uint64_t lost_with_disks; /* acknowledged writes lost with every disk that held them */
  wl_lat_t lat[LAT_CLASSES];
};

static void wfree(void *p) { dyna_free(p); }

int sim_work_init(sim_world_t *w) {
  sim_work_t *k = dyna_calloc(1, sizeof(*k));
  if (!k) return DYNA_ENOMEM;
  w->wl = k;
  uint32_t ntyped = sim_types_count(&w->o);
  k->nkeys = w->o.keys + ntyped;
  k->ncl = w->o.clients;
  k->keys = dyna_calloc(k->nkeys ? k->nkeys : 1, sizeof(wl_key_t));
  k->cl = dyna_calloc(k->ncl ? k->ncl : 1, sizeof(wl_client_t));
  k->capwr = 1024;
  k->wr = dyna_calloc(k->capwr, sizeof(wl_write_t));
  if (!k->keys || !k->cl || !k->wr) abort();
  k->nwr = 1;
  for (uint32_t i = 0; i < k->nkeys; i++) {
    wl_key_t *key = &k->keys[i];
    uint32_t m = i % 4;
    if (i >= w->o.keys) break;
    key->type = m < 2 ? K_CART : m == 2 ? K_SET : K_DEL;
    static const char *pfx[] = {"cart", "set", "del"};
    key->klen = (size_t)snprintf(key->name, sizeof(key->name), "%s:%u", pfx[key->type], i);
    key->final_status = 1;
    dyna_obj_init(&key->final);
  }
  /* --types: the typed keys follow the register keys */
  char (*names)[24] = dyna_calloc(ntyped + 1, 24);
  size_t *klens = dyna_calloc(ntyped + 1, sizeof(size_t));
  if (!names || !klens) abort();
  int used = sim_types_init(w, w->o.keys, ntyped, names, klens);
  for (uint32_t j = 0; j < (uint32_t)used; j++) {
    wl_key_t *key = &k->keys[w->o.keys + j];
    key->type = K_TYPED;
    key->tk = j;
    key->final_status = 1;
    dyna_obj_init(&key->final);
    memcpy(key->name, names[j], sizeof(key->name));
    key->klen = klens[j];
  }
  k->nkeys = w->o.keys + (uint32_t)used;
  dyna_free(names);
  dyna_free(klens);
  for (uint32_t c = 0; c < k->ncl; c++) dyna_ctx_init(&k->cl[c].ctx);
  return 0;
}

void sim_work_free(sim_world_t *w) {
  sim_work_t *k = w->wl;
  if (!k) return;
  for (uint32_t i = 0; i < k->nkeys; i++) {
    wfree(k->keys[i].wids);
    dyna_obj_clear(&k->keys[i].final);
    for (int j = 0; j < 64; j++) dyna_ctx_clear(&k->keys[i].seen[j]);
  }
  for (uint32_t c = 0; c < k->ncl; c++) {
    dyna_ctx_clear(&k->cl[c].ctx);
    wfree(k->cl[c].items);
    wfree(k->cl[c].seen);
  }
  for (uint32_t i = 1; i < k->nwr; i++) {
    wfree(k->wr[i].seen);
    dyna_ctx_clear(&k->wr[i].ack_ctx);
  }
  wfree(k->wr);
  for (int c = 0; c < LAT_CLASSES; c++) wfree(k->lat[c].v);
  wfree(k->keys);
  wfree(k->cl);
  wfree(k);
  w->wl = NULL;
  sim_types_free(w);
}

static void client_later(sim_world_t *w, uint32_t c, int phase, uint64_t delay) {
  wl_client_t *cl = &w->wl->cl[c];
  cl->phase = phase;
  cl->state = CS_IDLE;
  sim_event_t e = {0};
  e.t = w->now + delay;
  e.type = EV_CLIENT;
  e.a = c;
  e.x = ++cl->step;
  sim_schedule(w, &e);
}

void sim_work_start(sim_world_t *w) {
  for (uint32_t c = 0; c < w->wl->ncl; c++)
    client_later(w, c, CP_START, sim_rng_below(&w->rng, 20));
}

static uint32_t new_write(sim_world_t *w, uint32_t key, uint8_t kind) {
  sim_work_t *k = w->wl;
  if (k->nwr == k->capwr) {
    uint32_t cap = k->capwr * 2;
    wl_write_t *nw = dyna_realloc(k->wr, cap * sizeof(*nw));
    if (!nw) abort();
    memset(nw + k->capwr, 0, (cap - k->capwr) * sizeof(*nw));
    k->wr = nw;
    k->capwr = cap;
  }
  uint32_t id = k->nwr++;
  wl_write_t *wr = &k->wr[id];
  wr->key = key;
  wr->kind = kind;
  wl_key_t *ky = &k->keys[key];
  if (ky->nw == ky->capw) {
    ky->capw = ky->capw ? ky->capw * 2 : 16;
    ky->wids = dyna_realloc(ky->wids, ky->capw * sizeof(uint32_t));
    if (!ky->wids) abort();
  }
  ky->wids[ky->nw++] = id;
  if (++ky->inflight > ky->inflight_max) ky->inflight_max = ky->inflight;
  return id;
}

/* The node indexes of the first `max` entries of key's extended preference list, as
 * node i's ring has it. Returns the count. */
static size_t preflist(sim_world_t *w, uint32_t i, const wl_key_t *ky, uint32_t nval,
                       int *out, size_t max) {
  const dyna_cluster_t *cl = dyna_node_cluster(w->nodes[i].node);
  uint32_t p = dyna_key_partition(ky->name, ky->klen, cl->ring.size);
  uint64_t ids[64];
  if (max > 64) max = 64;
  size_t n = dyna_ring_preflist(&cl->ring, p, nval, ids, max);
  size_t k = 0;
  for (size_t j = 0; j < n; j++) {
    int x = sim_node_index(w, ids[j]);
    if (x >= 0) out[k++] = x;
  }
  return k;
}

/* The home replicas of key (every site's), as node i's ring has them. Returns the count. */
static size_t homes(sim_world_t *w, uint32_t i, const wl_key_t *ky, int *out) {
  const dyna_cluster_t *cl = dyna_node_cluster(w->nodes[i].node);
  uint32_t p = dyna_key_partition(ky->name, ky->klen, cl->ring.size);
  uint64_t ids[DYNA_MAX_N];
  size_t n = dyna_node_replicas(w->nodes[i].node, p, ids), k = 0;
  for (size_t j = 0; j < n; j++) {
    int x = sim_node_index(w, ids[j]);
    if (x >= 0) out[k++] = x;
  }
  return k;
}

/* Home replicas each site holds in node i's ring (out[s] for the simulator's site "s<s>",
 * s < --sites; world.c names them): min(n, that site's members in the ring), as the
 * coordinator's set_quorum counts them; 0 for a site the ring has no member of. */
static void ring_site_homes(const sim_world_t *w, uint32_t i, uint8_t *out) {
  const dyna_ring_t *r = &dyna_node_cluster(w->nodes[i].node)->ring;
  dyna_repl_t repl = dyna_repl_uniform(w->o.n);
  for (uint32_t s = 0; s < w->o.sites && s < DYNA_SITES_MAX; s++) {
    char dc[16];
    snprintf(dc, sizeof(dc), "s%u", s);
    out[s] = 0;
    for (uint32_t x = 0; x < dyna_ring_sites(r); x++)
      if (!strcmp(dyna_ring_site_name(r, x), dc)) out[s] = (uint8_t)dyna_ring_site_homes(r, x, &repl);
  }
}

/* Node i may coordinate with its ring: it runs and adopted a cluster's ring (a node
 * that asked to join and has not answers writes -BUSY: ring version 0). */
static int may_coordinate(const sim_world_t *w, uint32_t i) {
  const sim_node_t *s = &w->nodes[i];
  return s->state == SN_UP && s->node && dyna_node_cluster(s->node)->ring_version != 0;
}

/* Lowers lo[] to h[] site by site. */
static void lower_site_homes(const sim_world_t *w, const uint8_t *h, uint8_t *lo) {
  for (uint32_t s = 0; s < w->o.sites && s < DYNA_SITES_MAX; s++)
    if (h[s] < lo[s]) lo[s] = h[s];
}

/* At a PUT's submission (--quorum): its sites' homes start as the fewest in the rings
 * of the running nodes that may coordinate it. */
static void site_homes_start(sim_world_t *w, wl_client_t *cl) {
  if (!w->o.quorum) return;
  memset(cl->site_homes, 0xff, sizeof(cl->site_homes));
  uint8_t h[DYNA_SITES_MAX];
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (!may_coordinate(w, i)) continue;
    ring_site_homes(w, i, h);
    lower_site_homes(w, h, cl->site_homes);
  }
}

void sim_work_ring_seen(sim_world_t *w, uint32_t i) {
  sim_work_t *k = w->wl;
  if (!k || !w->o.quorum || !may_coordinate(w, i)) return;
  uint8_t h[DYNA_SITES_MAX];
  ring_site_homes(w, i, h);
  for (uint32_t c = 0; c < k->ncl; c++)
    if (k->cl[c].state == CS_PUT) lower_site_homes(w, h, k->cl[c].site_homes);
}

/* With --quorum: 1 when, for the sites the quorum needs (LOCAL: node c's; EACH: every
 * one), a majority of that site's homes (reps[0..n)) is counted in got[] (a 0/1 per
 * home). */
static int site_quorum(const sim_world_t *w, uint32_t c, const int *reps, size_t n, const int *got) {
  for (size_t a = 0; a < n; a++) {
    const char *dc = w->nodes[reps[a]].dc;
    if (w->o.quorum == DYNA_QUORUM_LOCAL && strcmp(dc, w->nodes[c].dc)) continue;
    uint32_t homes_here = 0, ok = 0;
    for (size_t b = 0; b < n; b++)
      if (!strcmp(w->nodes[reps[b]].dc, dc)) {
        homes_here++;
        ok += (uint32_t)got[b];
      }
    if (ok < homes_here / 2 + 1) return 0;
  }
  return 1;
}

/* Promise 1's precondition at submission: some home replica reachable from the entry
 * node has at least W home replicas (itself included) reachable (with --quorum: a
 * majority of its site's, or of every site's). */
static int write_eligible(sim_world_t *w, uint32_t entry, const wl_key_t *ky) {
  int reps[16], got[16];
  size_t n = homes(w, entry, ky, reps);
  for (size_t a = 0; a < n; a++) {
    uint32_t c = (uint32_t)reps[a];
    if (c != entry && !sim_link_up(w, entry, c)) continue;
    if (w->o.quorum == DYNA_QUORUM_LOCAL && strcmp(w->nodes[c].dc, w->nodes[entry].dc)) continue;
    uint32_t ok = 0;
    for (size_t b = 0; b < n; b++) {
      got[b] = (uint32_t)reps[b] == c || sim_link_up(w, c, (uint32_t)reps[b]);
      ok += (uint32_t)got[b];
    }
    if (w->o.quorum ? site_quorum(w, c, reps, n, got) : ok >= w->o.w) return 1;
  }
  return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --routing ring: the first usable node of the key's preference list (first N distinct
 * owners) on the ring of node `fallback` (a random usable node: every member agrees on
 * the ring outside membership changes, as a client's cached copy would); `fallback`
 * itself when none of them is usable. Draws nothing from the RNG. */
static int route(sim_world_t *w, int fallback, const wl_key_t *ky) {
  if (w->o.routing != SIM_ROUTE_RING || fallback < 0) return fallback;
  int reps[16];
  size_t n = homes(w, (uint32_t)fallback, ky, reps);
  for (size_t j = 0; j < n; j++)
    if (sim_node_usable(w, (uint32_t)reps[j])) return reps[j];
  return fallback;
}

static void lat_add(wl_lat_t *l, uint64_t ms) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 1024;
    l->v = dyna_realloc(l->v, l->cap * sizeof(uint32_t));
    if (!l->v) abort();
  }
  l->v[l->n++] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Submits req from client c to node i, and ends the node's turn. */
static void submit(sim_world_t *w, uint32_t c, uint32_t i, dyna_req_t *req, int state) {
  wl_client_t *cl = &w->wl->cl[c];
  cl->state = state;
  cl->node = i;
  cl->inc = w->nodes[i].inc;
  cl->req_id = ((uint64_t)c << 32) | ++w->wl->req_seq;
  cl->t_sub = w->now;
  req->id = cl->req_id;
  sim_digest(w, EV_CLIENT, c, req->op, req->key, req->klen);
  if (req->vlen) sim_digest(w, 0xCC, c, req->vlen, req->val, req->vlen);
  if (dyna_node_request(w->nodes[i].node, req, sim_node_time(w, i))) {
    cl->state = CS_IDLE; /* not taken: nothing happened */
    if (state == CS_PUT) {
      w->wl->wr[cl->write].status = WS_FAILED;
      w->wl->keys[cl->key].inflight--;
    }
    if (state == CS_TYPED) sim_types_lost(w, c);
    client_later(w, c, CP_START, 10);
    return;
  }
  sim_node_turn_end(w, i);
}

static void start_cycle(sim_world_t *w, uint32_t c) {
  sim_work_t *k = w->wl;
  wl_client_t *cl = &k->cl[c];
  if (w->stopping || !k->nkeys) { cl->state = CS_IDLE; return; }
  int i = sim_pick_up_node(w);
  uint32_t key = (uint32_t)sim_rng_below(&w->rng, k->nkeys);
  if (i < 0) { client_later(w, c, CP_START, 100); return; }
  cl->key = key;
  wl_key_t *ky = &k->keys[key];
  i = route(w, i, ky);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.key = (const uint8_t *)ky->name;
  req.klen = ky->klen;
  /* After the heal of the converge probe clients only read: a blind or typed write there
   * would keep some replica ahead of the others at every instant the probe looks. */
  if (ky->type == K_TYPED && !w->read_only) {
    if (sim_types_start(w, c, ky->tk, ky->name, ky->klen, &req)) {
      client_later(w, c, CP_START, 5);
      return;
    }
    k->writes++;
    submit(w, c, (uint32_t)i, &req, CS_TYPED);
    return;
  }
  if (ky->type == K_SET && !w->read_only) {
    uint8_t val[4];
    cl->write = new_write(w, key, 'B');
    put_u32(val, cl->write);
    req.op = DYNA_OP_PUT;
    req.flags = DYNA_REQ_BLIND;
    req.val = val;
    req.vlen = 4;
    cl->eligible = write_eligible(w, (uint32_t)i, ky);
    site_homes_start(w, cl);
    k->writes++;
    k->blinds++;
    submit(w, c, (uint32_t)i, &req, CS_PUT);
    return;
  }
  req.op = DYNA_OP_GET;
  k->gets++;
  submit(w, c, (uint32_t)i, &req, CS_GET);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void send_write(sim_world_t *w, uint32_t c) {
  sim_work_t *k = w->wl;
  wl_client_t *cl = &k->cl[c];
  wl_key_t *ky = &k->keys[cl->key];
  if (w->read_only) { /* the read came back before the heal, the write would come after */
    client_later(w, c, CP_START, 5 + (uint64_t)sim_rng_exp(&w->rng, 20.0));
    return;
  }
  int i = sim_pick_up_node(w);
  if (w->stopping || i < 0) { cl->state = CS_IDLE; if (!w->stopping) client_later(w, c, CP_START, 100); return; }
  i = route(w, i, ky);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.key = (const uint8_t *)ky->name;
  req.klen = ky->klen;
  req.ctx = &cl->ctx;
  uint32_t id = new_write(w, cl->key, cl->del ? 'D' : 'P');
  wl_write_t *wr = &k->wr[id];
  wr->seen = cl->seen;
  wr->nseen = cl->nseen;
  cl->seen = NULL;
  cl->nseen = 0;
  cl->write = id;
  size_t nv = 1 + (ky->type == K_CART ? cl->nitems + 1 : 0);
  uint8_t *val = dyna_malloc(nv * 4);
  if (!val) abort();
  put_u32(val, id);
  if (ky->type == K_CART) {
    wr->item = ++k->next_item;
    uint32_t *items = dyna_realloc(cl->items, (cl->nitems + 1) * sizeof(uint32_t));
    if (!items) abort();
    cl->items = items;
    items[cl->nitems++] = wr->item;
    qsort(items, cl->nitems, sizeof(uint32_t), cmp_u32);
    for (uint32_t j = 0; j < cl->nitems; j++) put_u32(val + 4 + 4 * j, items[j]);
  }
  req.op = cl->del ? DYNA_OP_DEL : DYNA_OP_PUT;
  req.val = cl->del ? NULL : val;
  req.vlen = cl->del ? 0 : nv * 4;
  cl->eligible = write_eligible(w, (uint32_t)i, ky);
  site_homes_start(w, cl);
  k->writes++;
  if (cl->del) k->dels++;
  submit(w, c, (uint32_t)i, &req, CS_PUT);
  dyna_free(val);
}

void sim_work_client(sim_world_t *w, sim_event_t *e) {
  wl_client_t *cl = &w->wl->cl[e->a];
  if (e->x != cl->step || cl->state != CS_IDLE) return;
  if (cl->phase == CP_WRITE) send_write(w, e->a);
  else start_cycle(w, e->a);
}

/* Reads the live write ids and the union of cart items of an object. */
static void parse_live(const dyna_obj_t *o, uint32_t **wids, uint32_t *nw, uint32_t **items,
                       uint32_t *ni) {
  size_t nv = dyna_obj_nvals(o);
  *nw = 0;
  if (ni) *ni = 0;
  *wids = dyna_malloc((nv + 1) * sizeof(uint32_t));
  if (!*wids) abort();
  size_t icap = 16;
  if (items) {
    *items = dyna_malloc(icap * sizeof(uint32_t));
    if (!*items) abort();
  }
  for (size_t i = 0; i < nv; i++) {
    const dyna_val_t *v = dyna_obj_val(o, i);
    if ((v->flags & DYNA_VAL_TOMBSTONE) || v->len < 4) continue;
    (*wids)[(*nw)++] = get_u32(v->data);
    if (!items) continue;
    for (size_t j = 4; j + 4 <= v->len; j += 4) {
      uint32_t it = get_u32(v->data + j);
      int dup = 0;
      for (uint32_t q = 0; q < *ni && !dup; q++) dup = (*items)[q] == it;
      if (dup) continue;
      if (*ni == icap) {
        icap *= 2;
        *items = dyna_realloc(*items, icap * sizeof(uint32_t));
        if (!*items) abort();
      }
      (*items)[(*ni)++] = it;
    }
  }
}

/* Whether clock vv covers every entry of ctx (both sorted by node). */
static int ctx_covered(const dyna_ctx_t *ctx, const dyna_ctx_t *vv) {
  size_t b = 0;
  for (size_t a = 0; a < ctx->n; a++) {
    while (b < vv->n && vv->e[b].node < ctx->e[a].node) b++;
    if (!(b < vv->n && vv->e[b].node == ctx->e[a].node && vv->e[b].counter >= ctx->e[a].counter)) return 0;
  }
  return 1;
}

/* Promise 2 at the moment of an acknowledgement: count the disks holding, committed
 * (what a crash now would leave), a version whose clock covers the context the client
 * got back. With --quorum, the holders in each site must make a majority of that site's
 * homes (site_homes: the fewest it had in a ring the coordinator may have planned with)
 * in some site (local: the coordinator's is the one site whose acks counted) or in
 * every site (each). */
/* acc := the entry-wise maximum of acc and vv (both sorted by node). */
static void clock_join(dyna_ctx_t *acc, const dyna_ctx_t *vv) {
  if (ctx_covered(vv, acc)) return;
  dyna_vv_entry_t *e = dyna_calloc(acc->n + vv->n, sizeof(*e));
  if (!e) abort();
  size_t a = 0, b = 0, n = 0;
  while (a < acc->n || b < vv->n) {
    if (b == vv->n || (a < acc->n && acc->e[a].node < vv->e[b].node)) e[n++] = acc->e[a++];
    else if (a == acc->n || vv->e[b].node < acc->e[a].node) e[n++] = vv->e[b++];
    else {
      e[n] = acc->e[a];
      if (vv->e[b].counter > e[n].counter) e[n].counter = vv->e[b].counter;
      n++, a++, b++;
    }
  }
  dyna_ctx_clear(acc);
  acc->e = e;
  acc->n = n;
}

/* A write of ky marked lost with its disks that node s's disk (version vector vv) holds
 * after all (a copy committed after the removal): not lost, the mark goes. */
static void unmark_held(sim_world_t *w, wl_key_t *ky, const sim_node_t *s, const dyna_ctx_t *vv) {
  for (uint32_t j = 0; ky->ngone && !s->removed && j < ky->nw; j++) {
    wl_write_t *wr = &w->wl->wr[ky->wids[j]];
    if (wr->gone && ctx_covered(&wr->ack_ctx, vv)) {
      wr->gone = 0;
      ky->ngone--;
    }
  }
}

static void check_ack_durable(sim_world_t *w, uint32_t entry, wl_key_t *ky,
                              const dyna_ctx_t *ctx, uint32_t wid, const uint8_t *site_homes) {
  int idx[64];
  size_t n;
  if (w->nnodes <= 64) {
    n = w->nnodes;
    for (size_t j = 0; j < n; j++) idx[j] = (int)j;
  } else {
    n = preflist(w, entry, ky, w->o.n, idx, 64); /* home replicas, then fallbacks */
  }
  uint32_t holders = 0;
  int holds[64] = {0};
  dyna_obj_t o;
  dyna_ctx_t vv;
  dyna_obj_init(&o);
  dyna_ctx_init(&vv);
  for (size_t j = 0; j < n; j++) {
    sim_node_t *s = &w->nodes[idx[j]];
    if (s->state == SN_OFF) continue;
    if (sim_disk_read_durable(w, s, ky->name, ky->klen, &o) ||
        dyna_obj_context(&o, &vv)) continue;
    int covers = ctx_covered(ctx, &vv);
    holders += covers;
    if (idx[j] < 64) holds[idx[j]] = covers; /* read only up to 64 nodes (--quorum, below) */
    if (idx[j] < 64) clock_join(&ky->seen[idx[j]], &vv);
    unmark_held(w, ky, s, &vv);
    dyna_obj_clear(&o);
    dyna_ctx_clear(&vv);
    /* Past 64 nodes only "at least W" is checked: W holders end the reads (the first
     * W or so of the 64: a 1000-node run read 64 disks per acknowledged write). */
    if (w->nnodes > 64 && holders >= w->o.w) break;
  }
  /* Past 64 nodes only the key's first 64 (its preference list as the entry node's ring
   * has it) were read: when they are too few, read every node, as the coordinator's ring
   * may have differed (a ring still settling) and a write may have gone further. */
  for (uint32_t j = 0; w->nnodes > 64 && holders < w->o.w && j < w->nnodes; j++) {
    int seen = 0;
    for (size_t a = 0; a < n && !seen; a++) seen = idx[a] == (int)j;
    sim_node_t *s = &w->nodes[j];
    if (seen || s->state == SN_OFF) continue;
    if (sim_disk_read_durable(w, s, ky->name, ky->klen, &o) || dyna_obj_context(&o, &vv)) continue;
    holders += ctx_covered(ctx, &vv);
    dyna_obj_clear(&o);
    dyna_ctx_clear(&vv);
  }
  w->wl->ack_checks++;
  wl_write_t *wr = &w->wl->wr[wid];
  if (w->nnodes <= 64 && ctx->n && (wr->ack_ctx.e = dyna_calloc(ctx->n, sizeof(*ctx->e)))) {
    memcpy(wr->ack_ctx.e, ctx->e, ctx->n * sizeof(*ctx->e));
    wr->ack_ctx.n = ctx->n; /* the disks holding it now are in ky->seen (above) */
  }
  if (w->o.quorum && w->nnodes <= 64) {
    /* per site: durable holders there (homes, or fallbacks of that site standing in for
     * one) against a majority of its homes. Rings differ while membership changes: a
     * lagging one may still count a removed member among a site's homes, or not yet a
     * joiner. The coordinator planned with the ring it held then, one of those the
     * running nodes held while the write was in flight, so each site is held to a
     * majority of the fewest homes it had in any of them (site_homes); a site that had
     * no member in one of them is asked nothing. */
    int met = w->o.quorum == DYNA_QUORUM_EACH;
    char why[64] = "no site's majority"; /* EACH: the first site short of one */
    for (uint32_t a = 0; a < w->o.sites && a < DYNA_SITES_MAX; a++) {
      if (!site_homes[a] || site_homes[a] == 0xff) continue;
      char dc[16];
      snprintf(dc, sizeof(dc), "s%u", a);
      uint32_t have = 0;
      for (uint32_t j = 0; j < w->nnodes; j++) have += holds[j] && !strcmp(w->nodes[j].dc, dc);
      int ok = have >= (uint32_t)site_homes[a] / 2 + 1;
      if (w->o.quorum == DYNA_QUORUM_EACH && !ok && met)
        snprintf(why, sizeof(why), "%u in site %s of its %u home(s)", have, dc, site_homes[a]);
      if (w->o.quorum == DYNA_QUORUM_EACH) met &= ok;
      else met |= ok; /* LOCAL: the coordinator's site, whichever that was */
    }
    if (!met)
      sim_fail(w, "write %u to %s acknowledged at %llu ms (%s quorum) but durable on %u node(s), %s",
               wid, ky->name, (unsigned long long)w->now, w->o.quorum == DYNA_QUORUM_LOCAL ? "LOCAL" : "EACH",
               holders, why);
    return;
  }
  if (holders < w->o.w)
    sim_fail(w, "write %u to %s acknowledged at %llu ms but durable on %u node(s), W=%u", wid,
             ky->name, (unsigned long long)w->now, holders, w->o.w);
}

static void on_get_reply(sim_world_t *w, uint32_t c, dyna_node_reply_t *r) {
  sim_work_t *k = w->wl;
  wl_client_t *cl = &k->cl[c];
  wl_key_t *ky = &k->keys[cl->key];
  if (r->status) {
    client_later(w, c, CP_START, 20 + sim_rng_below(&w->rng, 100));
    return;
  }
  k->gets_ok++;
  size_t nv = dyna_obj_nvals(&r->obj);
  k->versions[nv > 5 ? 5 : nv]++;
  wfree(cl->items);
  wfree(cl->seen);
  cl->items = NULL;
  parse_live(&r->obj, &cl->seen, &cl->nseen, ky->type == K_CART ? &cl->items : NULL,
             &cl->nitems);
  if (ky->type != K_CART) cl->nitems = 0;
  dyna_ctx_clear(&cl->ctx);
  cl->ctx = r->ctx; /* take it */
  dyna_ctx_init(&r->ctx);
  if (w->read_only) {
    client_later(w, c, CP_START, 5 + (uint64_t)sim_rng_exp(&w->rng, 20.0));
    return;
  }
  cl->del = ky->type == K_DEL && cl->nseen > 0 && sim_rng_chance(&w->rng, 0.5);
  client_later(w, c, CP_WRITE, 1 + sim_rng_below(&w->rng, 5));
}

static void on_put_reply(sim_world_t *w, uint32_t c, uint32_t i, dyna_node_reply_t *r) {
  sim_work_t *k = w->wl;
  wl_client_t *cl = &k->cl[c];
  wl_key_t *ky = &k->keys[cl->key];
  wl_write_t *wr = &k->wr[cl->write];
  ky->inflight--;
  wr->status = r->status ? WS_FAILED : WS_ACKED;
  if (cl->eligible) k->eligible++;
  if (!r->status) {
    k->writes_ok++;
    if (wr->kind == 'D') k->dels_ok++;
    if (cl->eligible) k->eligible_ok++;
    check_ack_durable(w, i, ky, &r->ctx, cl->write, cl->site_homes);
  }
  if (w->o.verbose)
    sim_trace(w, "client %u %s %s write %u: %s", c, wr->kind == 'D' ? "DEL" : "PUT", ky->name,
              cl->write, r->status ? dyna_strerror(r->status) : "ok");
  client_later(w, c, CP_START, 5 + (uint64_t)sim_rng_exp(&w->rng, 20.0));
}

/* Stamps never go backwards on one coordinator (core/node.h, "Two clocks"): in one
 * actor's entry a newer sibling never carries an older stamp, so a plain GET returns the
 * sibling that actor wrote last, whatever its wall clock did. Checked on every read. */
static void check_stamps(sim_world_t *w, const wl_key_t *ky, const dyna_obj_t *o, const char *what) {
  for (size_t e = 0; e < o->n; e++)
    for (size_t j = 1; j < o->e[e].nvals; j++)
      if (o->e[e].vals[j - 1].ts_ms < o->e[e].vals[j].ts_ms)
        sim_fail(w, "%s: in %s, actor %016llx's sibling %zu (newer) has stamp %llu < %llu of the older",
                 ky->name, what, (unsigned long long)o->e[e].node, j - 1,
                 (unsigned long long)o->e[e].vals[j - 1].ts_ms, (unsigned long long)o->e[e].vals[j].ts_ms);
}

static void on_final_reply(sim_world_t *w, uint32_t key, dyna_node_reply_t *r) {
  wl_key_t *ky = &w->wl->keys[key];
  if (ky->final_status != 1) return;
  ky->final_tries++;
  if (r->status && ky->final_tries < 8) return; /* sim_work_final_reads retries */
  ky->final_status = r->status;
  dyna_obj_clear(&ky->final);
  ky->final = r->obj;
  dyna_obj_init(&r->obj);
  if (!r->status && r->enc.len) { /* every replica answered these bytes (the core checked them) */
    int rc = dyna_obj_decode(r->enc.data, r->enc.len, &ky->final);
    if (rc) sim_fail(w, "%s: the final read's encoded answer does not decode: %s", ky->name, dyna_strerror(rc));
    dyna_obj_info_t info;
    if (!rc && (dyna_obj_scan(r->enc.data, r->enc.len, &info) || info.nvals != dyna_obj_nvals(&ky->final)))
      sim_fail(w, "%s: the final read's encoded answer holds %zu values, its scan says otherwise", ky->name,
               dyna_obj_nvals(&ky->final));
  }
  w->wl->final_pending--;
}

void sim_work_reply(sim_world_t *w, uint32_t i, dyna_node_reply_t *r) {
  sim_work_t *k = w->wl;
  uint32_t c = (uint32_t)(r->req_id >> 32);
  sim_digest(w, 0xAA, r->req_id, (uint64_t)(int64_t)r->status, NULL, 0);
  if (c == FINAL_CLIENT) {
    on_final_reply(w, (uint32_t)r->req_id & 0xFFFFFFu, r);
    return;
  }
  if (c >= k->ncl || k->cl[c].req_id != r->req_id || k->cl[c].node != i) return;
  wl_client_t *cl = &k->cl[c];
  int st = cl->state;
  cl->state = CS_IDLE;
  if (!r->status) lat_add(&k->lat[st == CS_GET ? LAT_READ : LAT_WRITE], w->now - cl->t_sub);
  if (!r->status && w->admit) sim_admit_client(w, i, w->now - cl->t_sub);
  if (st == CS_GET && !r->status) check_stamps(w, &k->keys[cl->key], &r->obj, "a read");
  if (st == CS_GET) on_get_reply(w, c, r);
  else if (st == CS_PUT) on_put_reply(w, c, i, r);
  else if (st == CS_TYPED) {
    if (!r->status) k->writes_ok++;
    sim_types_reply(w, c, r);
    client_later(w, c, CP_START, 5 + (uint64_t)sim_rng_exp(&w->rng, 20.0));
  }
}

void sim_work_node_lost(sim_world_t *w, uint32_t i) {
  sim_work_t *k = w->wl;
  if (!k) return;
  for (uint32_t c = 0; c < k->ncl; c++) {
    wl_client_t *cl = &k->cl[c];
    if (cl->state == CS_IDLE || cl->node != i) continue;
    if (cl->state == CS_PUT) { /* connection lost: the write may or may not have happened */
      k->wr[cl->write].status = WS_FAILED;
      k->keys[cl->key].inflight--;
      if (cl->eligible) k->eligible++;
    }
    if (cl->state == CS_TYPED) sim_types_lost(w, c);
    cl->state = CS_IDLE;
    client_later(w, c, CP_START, 50);
  }
}

/* ---------- the final phase ---------- */

int sim_work_final_reads(sim_world_t *w) {
  sim_work_t *k = w->wl;
  k->final_pending = 0;
  for (uint32_t key = 0; key < k->nkeys; key++) {
    k->keys[key].final_status = 1;
    k->keys[key].final_tries = 0;
    k->final_pending++;
  }
  for (int round = 0; round < 8 && k->final_pending; round++) {
    for (uint32_t key = 0; key < k->nkeys; key++) {
      wl_key_t *ky = &k->keys[key];
      if (ky->final_status != 1) continue;
      int i = sim_pick_up_node(w);
      if (i < 0) return -1;
      dyna_req_t req;
      memset(&req, 0, sizeof(req));
      req.id = ((uint64_t)FINAL_CLIENT << 32) | ((uint64_t)round << 24) | key;
      req.op = DYNA_OP_GET;
      req.key = (const uint8_t *)ky->name;
      req.klen = ky->klen;
      req.r = sim_nval(w); /* R = N: every site's homes */
      req.flags = DYNA_REQ_NOCTX | DYNA_REQ_ENCODED; /* the object alone, as bytes when all agree */
      if (dyna_node_request(w->nodes[i].node, &req, sim_node_time(w, (uint32_t)i)) == 0) sim_node_turn_end(w, (uint32_t)i);
      if ((key & 63) == 63) sim_run_until(w, w->now + 5);
    }
    sim_run_until(w, w->now + 3000);
  }
  return k->final_pending ? -1 : 0;
}

/* Computes per key which writes no acknowledged write covers (see the file comment). */
static uint32_t sibling_bound(sim_work_t *k, const wl_key_t *ky) {
  uint32_t n = ky->nw;
  if (!n) return 0;
  size_t words = (n + 63) / 64;
  uint64_t *cov = dyna_calloc((size_t)n * words, sizeof(uint64_t)); /* cov[j]: what write j covers */
  uint64_t *dead = dyna_calloc(words, sizeof(uint64_t));
  if (!cov || !dead) abort();
  for (uint32_t j = 0; j < n; j++) {
    wl_write_t *wr = &k->wr[ky->wids[j]];
    uint64_t *cj = cov + (size_t)j * words;
    for (uint32_t s = 0; s < wr->nseen; s++) {
      /* local index of the seen write: writes to a key are issued in id order */
      uint32_t lo = 0, hi = j;
      while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ky->wids[mid] < wr->seen[s]) lo = mid + 1;
        else hi = mid;
      }
      if (lo >= j || ky->wids[lo] != wr->seen[s]) continue;
      cj[lo / 64] |= 1ull << (lo % 64);
      for (size_t x = 0; x < words; x++) cj[x] |= cov[(size_t)lo * words + x];
    }
    if (wr->status == WS_ACKED)
      for (size_t x = 0; x < words; x++) dead[x] |= cj[x];
  }
  uint32_t bound = 0;
  for (uint32_t j = 0; j < n; j++) bound += !(dead[j / 64] >> (j % 64) & 1);
  dyna_free(cov);
  dyna_free(dead);
  return bound;
}

/* 1 when node s's disk holds key's version covering ctx: committed, or (with current)
 * written and not yet committed. */
static int disk_holds(sim_world_t *w, sim_node_t *s, const wl_key_t *ky, const dyna_ctx_t *ctx,
                      int current) {
  dyna_obj_t o;
  dyna_ctx_t vv;
  dyna_obj_init(&o);
  dyna_ctx_init(&vv);
  int held = !sim_disk_read_durable(w, s, ky->name, ky->klen, &o) && !dyna_obj_context(&o, &vv) &&
             ctx_covered(ctx, &vv);
  dyna_obj_clear(&o);
  dyna_ctx_clear(&vv);
  if (!held && current && s->state == SN_UP && !sim_disk_read(w, s, ky->name, ky->klen, &o) &&
      !dyna_obj_context(&o, &vv))
    held = ctx_covered(ctx, &vv);
  dyna_obj_clear(&o);
  dyna_ctx_clear(&vv);
  return held;
}

/* Marks the acknowledged writes lost with node i's disk: it was seen to hold the write
 * (ky->seen: at its acknowledgement, or at a later one of the key's) and held it
 * committed when it went, every other node seen to hold it has gone for good too (a copy
 * lost earlier on one that stayed is a failure), and no other disk holds it, committed
 * or not. */
void sim_work_disk_gone(sim_world_t *w, uint32_t i) {
  sim_work_t *k = w->wl;
  if (!k || i >= 64 || w->nnodes > 64) return;
  for (uint32_t id = 1; id < k->nwr; id++) {
    wl_write_t *wr = &k->wr[id];
    wl_key_t *ky = &k->keys[wr->key];
    if (wr->status != WS_ACKED || wr->gone || !wr->ack_ctx.n || !ctx_covered(&wr->ack_ctx, &ky->seen[i]))
      continue;
    if (!disk_holds(w, &w->nodes[i], ky, &wr->ack_ctx, 0)) continue; /* lost before: not this */
    int keep = 0;
    for (uint32_t j = 0; j < w->nnodes && !keep; j++) {
      sim_node_t *s = &w->nodes[j];
      if (j == i || s->removed) continue;
      keep = ctx_covered(&wr->ack_ctx, &ky->seen[j]) || /* seen holding it, and stayed */
             (s->state != SN_OFF && s->state != SN_GONE && disk_holds(w, s, ky, &wr->ack_ctx, 1));
    }
    if (!keep) {
      wr->gone = 1;
      ky->ngone++;
    }
  }
}

/* Checks one object (the final merged read, or a replica) against the key's model. */
static void check_object(sim_world_t *w, const wl_key_t *ky, const dyna_obj_t *o, const char *what,
                         uint32_t bound) {
  sim_work_t *k = w->wl;
  uint32_t *wids, nw, *items = NULL, ni = 0;
  parse_live(o, &wids, &nw, ky->type == K_CART ? &items : NULL, &ni);
  for (uint32_t j = 0; j < ky->nw; j++) {
    const wl_write_t *wr = &k->wr[ky->wids[j]];
    if (wr->status != WS_ACKED) continue;
    if (wr->item) {
      int found = 0;
      for (uint32_t q = 0; q < ni && !found; q++) found = items[q] == wr->item;
      if (!found && wr->gone) k->lost_with_disks++;
      else if (!found)
        sim_fail(w, "%s: acknowledged cart add (item %u, write %u) missing from %s", ky->name,
                 wr->item, ky->wids[j], what);
    }
    int undone = 0; /* a delete lost with its disks counts once */
    if (wr->kind == 'D')
      for (uint32_t s = 0; s < wr->nseen; s++)
        for (uint32_t q = 0; q < nw; q++) {
          if (wids[q] != wr->seen[s]) continue;
          if (wr->gone) undone = 1;
          else
            sim_fail(w, "%s: write %u, deleted by acknowledged delete %u, came back in %s",
                     ky->name, wids[q], ky->wids[j], what);
        }
    k->lost_with_disks += (uint64_t)undone;
  }
  check_stamps(w, ky, o, what);
  size_t nv = dyna_obj_nvals(o);
  if (nv > bound)
    sim_fail(w, "%s: %s holds %zu siblings, more than the %u writes no acknowledged write covers",
             ky->name, what, nv, bound);
  dyna_free(wids);
  dyna_free(items);
}

uint64_t sim_work_lost_with_disks(const sim_world_t *w) { return w->wl ? w->wl->lost_with_disks : 0; }

void sim_work_check(sim_world_t *w) {
  sim_work_t *k = w->wl;
  for (uint32_t key = 0; key < k->nkeys; key++) {
    wl_key_t *ky = &k->keys[key];
    if (ky->final_status) {
      sim_fail(w, "%s: final quorum read failed after healing: %s", ky->name,
               ky->final_status == 1 ? "no answer" : dyna_strerror(ky->final_status));
      continue;
    }
    if (ky->type == K_TYPED) sim_types_check(w, ky->tk, ky->name, &ky->final);
    else check_object(w, ky, &ky->final, "the final merged read", sibling_bound(k, ky));
  }
}

void sim_work_check_repaired(sim_world_t *w) {
  sim_work_t *k = w->wl;
  int ref = sim_reference_node(w);
  if (ref < 0) return;
  dyna_obj_t o;
  dyna_obj_init(&o);
  uint32_t stale = 0;
  const char *first = NULL, *who = NULL;
  for (uint32_t key = 0; key < k->nkeys; key++) {
    wl_key_t *ky = &k->keys[key];
    if (ky->final_status) continue;
    int reps[16];
    size_t n = homes(w, (uint32_t)ref, ky, reps);
    for (size_t j = 0; j < n; j++) {
      sim_node_t *s = &w->nodes[reps[j]];
      dyna_obj_clear(&o);
      if (sim_disk_read(w, s, ky->name, ky->klen, &o) || !dyna_obj_descends(&o, &ky->final)) {
        if (!stale++) { first = ky->name; who = s->name; }
      }
    }
  }
  dyna_obj_clear(&o);
  if (stale)
    sim_fail(w, "read repair: %u replica(s) do not hold what the final R=N reads returned, 2 s later (first: %s on %s)",
             stale, first, who);
}

/* Records, as a failure detail, what each replica of a key holds (w1 w2 T3: live write
 * ids and tombstones, by dot order). */
static void describe_replicas(sim_world_t *w, const wl_key_t *ky, const int *reps, size_t n) {
  char line[180];
  size_t l = (size_t)snprintf(line, sizeof(line), "  %s:", ky->name);
  dyna_obj_t o;
  dyna_obj_init(&o);
  for (size_t j = 0; j < n && l < sizeof(line); j++) {
    sim_node_t *s = &w->nodes[reps[j]];
    dyna_obj_clear(&o);
    sim_disk_read(w, s, ky->name, ky->klen, &o);
    l += (size_t)snprintf(line + l, sizeof(line) - l, " %s[", s->name);
    for (size_t k = 0; k < dyna_obj_nvals(&o) && l < sizeof(line); k++) {
      const dyna_val_t *v = dyna_obj_val(&o, k);
      int tomb = (v->flags & DYNA_VAL_TOMBSTONE) != 0;
      l += (size_t)snprintf(line + l, sizeof(line) - l, "%s%s%u", k ? " " : "", tomb ? "T" : "w",
                            tomb || v->len < 4 ? 0 : get_u32(v->data));
    }
    if (l < sizeof(line)) l += (size_t)snprintf(line + l, sizeof(line) - l, "]");
  }
  dyna_obj_clear(&o);
  sim_fail(w, "%s", line);
}

uint64_t sim_work_writes(const sim_world_t *w) {
  return w->wl->writes;
}

int sim_work_converged(sim_world_t *w, uint32_t *bad) {
  sim_work_t *k = w->wl;
  int ref = sim_reference_node(w);
  *bad = 0;
  if (ref < 0) return 0;
  dyna_obj_t first, o;
  dyna_obj_init(&first);
  dyna_obj_init(&o);
  for (uint32_t key = 0; key < k->nkeys; key++) {
    wl_key_t *ky = &k->keys[key];
    int reps[16];
    size_t n = homes(w, (uint32_t)ref, ky, reps);
    int same = 1;
    for (size_t j = 0; j < n && same; j++) {
      sim_node_t *s = &w->nodes[reps[j]];
      dyna_obj_t *dst = j ? &o : &first;
      dyna_obj_clear(dst);
      if (s->state != SN_UP || sim_disk_read(w, s, ky->name, ky->klen, dst)) {
        same = 0;
        break;
      }
      if (j) same = dyna_obj_equal(&first, &o);
    }
    if (!same && !*bad && w->conv_detail) describe_replicas(w, ky, reps, n);
    *bad += !same;
  }
  dyna_obj_clear(&first);
  dyna_obj_clear(&o);
  return *bad == 0;
}

/* Nearest-rank percentile of a sorted array: the smallest value with at least p of the
 * samples at or below it. */
static uint32_t pct(const uint32_t *v, size_t n, double p) {
  size_t r = (size_t)(p * (double)n + 0.999999);
  if (r < 1) r = 1;
  if (r > n) r = n;
  return v[r - 1];
}

void sim_work_latency_report(sim_world_t *w, FILE *out) {
  static const char *names[LAT_CLASSES] = {"reads", "writes"};
  for (int c = 0; c < LAT_CLASSES; c++) {
    wl_lat_t *l = &w->wl->lat[c];
    if (l->n) qsort(l->v, l->n, sizeof(uint32_t), cmp_u32);
    double sum = 0;
    for (size_t j = 0; j < l->n; j++) sum += l->v[j];
    if (!l->n) {
      fprintf(out, "  latency %s (%s routing): none\n", names[c],
              w->o.routing == SIM_ROUTE_RING ? "ring" : "random");
      continue;
    }
    fprintf(out, "  latency %s (%s routing): n %zu mean %.2f p50 %u p99 %u p99.9 %u max %u (simulated ms)\n",
            names[c], w->o.routing == SIM_ROUTE_RING ? "ring" : "random", l->n, sum / (double)l->n,
            pct(l->v, l->n, 0.50), pct(l->v, l->n, 0.99), pct(l->v, l->n, 0.999), l->v[l->n - 1]);
  }
}

void sim_work_report(sim_world_t *w, FILE *out) {
  sim_work_t *k = w->wl;
  uint64_t seen = 0;
  for (int i = 1; i < 6; i++) seen += k->versions[i];
  fprintf(out, "  workload: %llu gets (%llu ok), %llu writes (%llu ok; %llu blind, %llu deletes, %llu ok), %u cart items\n",
          (unsigned long long)k->gets, (unsigned long long)k->gets_ok, (unsigned long long)k->writes,
          (unsigned long long)k->writes_ok, (unsigned long long)k->blinds, (unsigned long long)k->dels,
          (unsigned long long)k->dels_ok, k->next_item);
  fprintf(out, "  versions per get (of %llu non-empty): 1: %.2f%%  2: %.2f%%  3: %.2f%%  4+: %.2f%%\n",
          (unsigned long long)seen, seen ? 100.0 * (double)k->versions[1] / (double)seen : 0.0,
          seen ? 100.0 * (double)k->versions[2] / (double)seen : 0.0,
          seen ? 100.0 * (double)k->versions[3] / (double)seen : 0.0,
          seen ? 100.0 * (double)(k->versions[4] + k->versions[5]) / (double)seen : 0.0);
  fprintf(out, "  availability: %llu of %llu writes accepted while W replicas were reachable from a coordinator (%.2f%%); %llu acks checked durable on >= W disks\n",
          (unsigned long long)k->eligible_ok, (unsigned long long)k->eligible,
          k->eligible ? 100.0 * (double)k->eligible_ok / (double)k->eligible : 100.0,
          (unsigned long long)k->ack_checks);
  if (k->lost_with_disks)
    fprintf(out, "  acknowledged writes lost with every disk that held them (removed or wiped nodes; W allows it): %llu\n",
            (unsigned long long)k->lost_with_disks);
  sim_types_report(w, out);
}
