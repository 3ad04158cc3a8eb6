/* coord.c: quorum coordination (the Dynamo request path).
 *
 *   client PUT at a replica               client GET at any node
 *   ───────────────────────               ─────────────────────
 *   new version := event(ctx, local)      ask R targets (self first: a local read)
 *   write locally (ack 1)                 merge answers as they come
 *   PUT ──▶ other replicas                R answers ─▶ reply merged siblings + context
 *   W acks ─▶ reply new context           an asked target failed, judged unreachable,
 *   timeout before W ─▶ -NOQUORUM           or no R answers at the retry time
 *                                           ─▶ ask every other target (second wave)
 *                                         every asked one answered (or timeout)
 *                                           ─▶ read repair: PUT merged ──▶ each stale
 *                                              home replica that answered
 *
 * A GET's targets are ordered: this node first when it is one (its read costs no
 * message), then the others in preference-list order. Only the first R are asked at
 * once (all of them with cfg.read_all, as Dynamo and Riak do); the rest are asked as soon
 * as an asked one answers with an error, or a tick finds an asked one unreachable, or a
 * tick finds no quorum yet a tenth of the request timeout after the start (a speculative
 * retry for a slow replica). So a GET still succeeds whenever R targets can answer; a
 * replica not asked is left to anti-entropy (merkle.c) rather than read repair.
 *
 * Sites (ring.h): the quorum may be LOCAL or EACH (node.h) instead of a count. A LOCAL
 * write is sent to every target as usual but answered once a majority of the home
 * replicas of the coordinator's site acknowledged (only acks of that site count); a
 * LOCAL read asks that site's targets only. EACH needs a majority in every site.
 *
 *   site a (coordinator c)            site b
 *   c ─ write, ack 1 ─┐               PUT ──▶ b1, b2, b3   (acks counted for EACH only)
 *   PUT ──▶ a2 ─ ack 2┴─▶ LOCAL met: reply
 *   a home replica unreachable with no fallback of its site, or one that has not
 *   acknowledged by the deadline: c keeps a hint for it (hints.c delivers it).
 *
 * A node that is not among the key's first N replicas never makes a version: it
 * forwards a write (FWD) to the first reachable replica, which coordinates it and
 * answers with FWD_RESP. Replicas answer PUT with PUT_ACK after merging, and GET with
 * GET_RESP; all of it leaves the node only after the store's commit (node.h).
 */
#include "util/err.h"
#include "util/alloc.h"
#include "core/node_int.h"
#include "core/replica.h"
#include "core/typed.h"
#include "core/batch.h"
#include "proto/resp.h"
#include "util/assert.h"
#include <stdio.h>
#include <string.h>

/* ---------- state machine bookkeeping ---------- */

/* The node's object encoding buffer, emptied (one per node, reused: no allocation per
 * message). Release with enc_put. */
static dyna_buf_t *enc_get(dyna_node_t *n) {
  dyna_buf_reset(&n->enc);
  return &n->enc;
}

static void enc_put(dyna_buf_t *b) {
  if (b->cap > (64u << 10)) dyna_buf_free(b); /* not kept after a large object */
}

#define RAW_KEEP 1024 /* a finished state machine keeps at most this much room for its raw
                         answer: with FSM_FREE_MAX kept, 1 MiB at most */

static fsm_t *fsm_get(dyna_node_t *n, fsm_kind_t kind, const uint8_t *key, size_t klen, uint32_t part) {
  fsm_t *f = n->fsm_free;
  if (f) { /* a finished one: no allocation */
    n->fsm_free = f->next;
    n->fsm_nfree--;
    dyna_buf_t raw = f->raw; /* its room is kept for the next GET's own answer */
    memset(f, 0, sizeof(*f));
    f->raw = raw;
  } else if (!(f = dyna_calloc(1, sizeof(*f)))) {
    return NULL;
  }
  f->key = klen <= FSM_KEY_INLINE ? f->key_inline : dyna_malloc(klen);
  if (f->key) memcpy(f->key, key, klen);
  f->id = dyna_node_new_req(n);
  if (!f->key || dyna_idmap_put(&n->fsms, f->id, f, 0)) {
    if (f->key != f->key_inline) dyna_free(f->key);
    dyna_buf_free(&f->raw);
    dyna_free(f);
    return NULL;
  }
  f->kind = kind;
  f->klen = klen;
  f->part = part;
  f->deadline_ms = n->now.mono_ms + n->cfg.request_timeout_ms;
  /* f->obj and f->got[] are zeroed: empty objects (object.h) */
  f->next = n->fsm_list;
  if (n->fsm_list) n->fsm_list->prev = f;
  n->fsm_list = f;
  return f;
}

static void fsm_put(dyna_node_t *n, fsm_t *f) {
  dyna_idmap_take(&n->fsms, f->id, NULL);
  if (f->prev) f->prev->next = f->next;
  else n->fsm_list = f->next;
  if (f->next) f->next->prev = f->prev;
  dyna_obj_clear(&f->obj);
  dyna_ctx_clear(&f->ctx);
  for (uint32_t i = 0; i < f->nt && i < DYNA_MAX_N; i++) dyna_obj_clear(&f->got[i]);
  dyna_buf_free(&f->resp);
  if (f->raw.cap > RAW_KEEP) dyna_buf_free(&f->raw);
  else dyna_buf_reset(&f->raw);
  if (f->key != f->key_inline) dyna_free(f->key);
  if (n->fsm_nfree < FSM_FREE_MAX) {
    f->next = n->fsm_free;
    n->fsm_free = f;
    n->fsm_nfree++;
  } else {
    dyna_buf_free(&f->raw);
    dyna_free(f);
  }
}

void dyna_coord_free_all(dyna_node_t *n) {
  dyna_free(n->homes_memo);
  n->homes_memo = NULL;
  while (n->fsm_list) fsm_put(n, n->fsm_list);
  while (n->fsm_free) {
    fsm_t *f = n->fsm_free;
    n->fsm_free = f->next;
    dyna_buf_free(&f->raw);
    dyna_free(f);
  }
  n->fsm_nfree = 0;
  dyna_buf_free(&n->enc);
}

static int target_index(const fsm_t *f, uint64_t id) {
  for (uint32_t i = 0; i < f->nt; i++)
    if (f->target[i] == id) return (int)i;
  return -1;
}

/* Targets that answered well or still may (asked or not): below need, the quorum is lost. */
static uint32_t possible(const fsm_t *f) { return f->nt - f->failed; }

/* For a LOCAL or EACH quorum: per site, the good answers and the targets that answered
 * well or still may. LOCAL with DYNA_BUG_LOCAL_REMOTE_ACK counts every site's as its own. */
static void site_counts(const dyna_node_t *n, const fsm_t *f, uint32_t *ok, uint32_t *may) {
  memset(ok, 0, DYNA_SITES_MAX * sizeof *ok);
  memset(may, 0, DYNA_SITES_MAX * sizeof *may);
  int all_local = f->quorum == DYNA_QUORUM_LOCAL && (n->cfg.bugs & DYNA_BUG_LOCAL_REMOTE_ACK);
  for (uint32_t i = 0; i < f->nt; i++) {
    int s = all_local ? f->my_site : f->tsite[i];
    if (s < 0 || s >= (int)DYNA_SITES_MAX) continue;
    ok[s] += f->answered[i] == 1;
    may[s] += f->answered[i] != 2;
  }
}

/* 1 when the quorum is met: need answers (a count), or each site's need (LOCAL, EACH). */
static int quorum_met(const dyna_node_t *n, const fsm_t *f) {
  if (!f->quorum) return f->ok >= f->need;
  uint32_t ok[DYNA_SITES_MAX], may[DYNA_SITES_MAX];
  site_counts(n, f, ok, may);
  for (uint32_t s = 0; s < DYNA_SITES_MAX; s++)
    if (ok[s] < f->site_need[s]) return 0;
  return 1;
}

/* 1 when the quorum can no longer be met. */
static int quorum_lost(const dyna_node_t *n, const fsm_t *f) {
  if (!f->quorum) return possible(f) < f->need;
  uint32_t ok[DYNA_SITES_MAX], may[DYNA_SITES_MAX];
  site_counts(n, f, ok, may);
  for (uint32_t s = 0; s < DYNA_SITES_MAX; s++)
    if (may[s] < f->site_need[s]) return 1;
  return 0;
}

/* Encodes a context into a buffer (for FWD / FWD_RESP). */
static void put_ctx(const dyna_ctx_t *ctx, dyna_buf_t *b) {
  if (ctx && ctx->n) dyna_ctx_encode(ctx, b);
}

/* Targets asked that have not answered yet. */
static uint32_t waiting(const fsm_t *f) { return f->nasked - f->ok - f->failed; }

/* The counters of a state machine, asserted at every step: no more targets than N, no
 * more asked than targets, no more answers than asked, R or W at most N, and ok/failed
 * exactly the targets marked answered well/badly (a duplicate answer counts once). */
static void fsm_check(const dyna_node_t *n, const fsm_t *f) {
  uint32_t good = 0, bad = 0;
  for (uint32_t i = 0; i < f->nt && i < DYNA_MAX_N; i++) {
    good += f->answered[i] == 1;
    bad += f->answered[i] == 2;
  }
  DYNA_ASSERT(f->nt <= DYNA_MAX_N && f->nasked <= f->nt && f->need <= DYNA_MAX_N,
              "request %llu (kind %d): %u asked of %u targets, need %u, N=%u",
              (unsigned long long)f->id, (int)f->kind, f->nasked, f->nt, f->need, dyna_node_nval(n));
  DYNA_ASSERT(f->ok + f->failed <= f->nasked && f->ok == good && f->failed == bad,
              "request %llu (kind %d): %u ok + %u failed of %u asked; targets marked %u ok, %u failed",
              (unsigned long long)f->id, (int)f->kind, f->ok, f->failed, f->nasked, good, bad);
}

/* 1 when target i's answer holds everything the merge does (read repair leaves it). */
static int answer_current(const fsm_t *f, uint32_t i) {
  return f->same[i] || dyna_obj_descends(&f->got[i], &f->obj);
}

/* 1 when a and b hold the same versions of plain values (typed states are not judged
 * here): the same dots, hence the same values; merging one into the other is a no-op. */
static int same_versions(const dyna_obj_t *a, const dyna_obj_t *b) {
  return !a->ntyped && !b->ntyped && dyna_obj_descends(a, b) && dyna_obj_descends(b, a);
}

/* Before f->obj changes: each answer marked same gets its own copy of f->obj as it
 * stands. Returns 0 or DYNA_ENOMEM (the copies made so far are kept). */
static int unshare(fsm_t *f) {
  for (uint32_t i = 0; i < f->nasked && i < DYNA_MAX_N; i++) {
    if (!f->same[i]) continue;
    int rc = dyna_obj_copy(&f->got[i], &f->obj);
    if (rc) return rc;
    f->same[i] = 0;
  }
  return 0;
}

/* 1 when read_repair would send or write anything: a home replica that answered holds
 * something older than the merge (the same test as read_repair's). */
static int repair_wanted(const dyna_node_t *n, const fsm_t *f) {
  if (f->ok < 2 || (n->cfg.bugs & DYNA_BUG_NO_REPAIR)) return 0;
  for (uint32_t i = 0; i < f->nasked; i++)
    if (f->answered[i] == 1 && !f->hint[i] && !answer_current(f, i)) return 1;
  return 0;
}

static int raw_decode(fsm_t *f);

/* Answers the client, or the node that forwarded the write, with status (0: the
 * request's object and context; else the error, with msg as its detail). Once. */
static void fsm_answer(dyna_node_t *n, fsm_t *f, int status, const char *msg) {
  DYNA_ASSERT(!f->replied, "request %llu (client %llu, kind %d) answered twice (status %d now)",
              (unsigned long long)f->id, (unsigned long long)f->client_req, (int)f->kind, status);
  f->replied = 1;
  if (f->origin_node) {
    dyna_ctx_t ctx;
    dyna_ctx_init(&ctx);
    dyna_buf_t cb = DYNA_BUF_INIT;
    if (!status && dyna_obj_context(&f->obj, &ctx)) status = DYNA_ENOMEM;
    if (!status) put_ctx(&ctx, &cb);
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_FWD_RESP;
    m.req = f->origin_req;
    m.status = status;
    m.flags = (!status && f->existed ? DYNA_FWD_RESP_EXISTED : 0) |
              (!status && f->nowrite ? DYNA_FWD_RESP_NOWRITE : 0);
    m.ctx = cb.data;
    m.ctxlen = cb.len;
    m.val = status ? NULL : f->resp.data; /* a typed write's answer */
    m.vlen = status ? 0 : f->resp.len;
    dyna_node_send_after(n, f->origin_node, &m, status ? 0 : f->wseq);
    dyna_buf_free(&cb);
    dyna_ctx_clear(&ctx);
    return;
  }
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = f->client_req;
  r.op = f->op;
  if (dyna_node_reserve_reply(n)) return; /* the driver's request times out */
  if (!status && f->kind == FSM_GET && f->raw_pending && f->encoded && f->raw_checked && !waiting(f)) {
    /* Every answer had these bytes, checked, and no other answer can come: they go to the
     * driver as they are (read_repair finds nothing to do). */
    f->raw_pending = 0;
    if (f->raw.len) {
      r.enc = f->raw; /* moved; the driver hands it back (dyna_node_reply_done) */
      r.enc_info = f->raw_info;
      dyna_node_buf_take(n, &f->raw);
    }
  } else if (!status && f->kind == FSM_GET) {
    /* The merged object goes to the client (decoded first when the answers are still the
     * own bytes). When nothing will read it afterwards (every asked target answered and
     * none needs a read repair, so f is freed next) it is moved rather than copied;
     * read_repair then finds nothing to do, as it would have. */
    status = raw_decode(f);
    if (status) {
      /* the decode failed: the answers it stood for count as failed (no memory) */
    } else if (!waiting(f) && !repair_wanted(n, f)) {
      r.obj = f->obj;
      dyna_obj_init(&f->obj);
    } else {
      status = dyna_obj_copy(&r.obj, &f->obj);
    }
  }
  if (!status && f->ctx_made) { /* a PUT left as bytes */
    status = f->ctx_rc;
    r.ctx = f->ctx; /* moved */
    dyna_ctx_init(&f->ctx);
  } else if (!status && !f->no_ctx) {
    status = dyna_obj_context(f->kind == FSM_GET ? &r.obj : &f->obj, &r.ctx);
  }
  if (status) {
    dyna_node_reply_fail(&r, status, msg);
  } else {
    r.existed = f->existed;
    r.wrote = f->kind == FSM_PUT && !f->nowrite;
    r.wseq = (n->cfg.bugs & DYNA_BUG_UNDURABLE_ACK) || f->nowrite ? 0 : f->wseq;
    r.resp = f->resp; /* moved: nothing reads it after the answer */
    dyna_buf_init(&f->resp);
  }
  dyna_node_push_reply(n, &r);
}

/* Answers a request for which no state machine could be made. */
static void answer_now(dyna_node_t *n, const dyna_req_t *req, uint64_t origin_node, uint64_t origin_req,
                       int status, const char *msg) {
  fsm_t tmp;
  memset(&tmp, 0, sizeof(tmp));
  tmp.client_req = req->id;
  tmp.op = req->op;
  tmp.origin_node = origin_node;
  tmp.origin_req = origin_req;
  dyna_obj_init(&tmp.obj);
  fsm_answer(n, &tmp, status, msg);
}

static void fail_quorum(dyna_node_t *n, fsm_t *f) {
  char msg[96];
  if (f->quorum) {
    uint32_t ok[DYNA_SITES_MAX], may[DYNA_SITES_MAX], k = 0, need = 0;
    site_counts(n, f, ok, may);
    for (uint32_t s = 0; s < DYNA_SITES_MAX; s++)
      if (f->site_need[s]) {
        k += ok[s] < f->site_need[s] ? ok[s] : f->site_need[s];
        need += f->site_need[s];
      }
    snprintf(msg, sizeof(msg), "%u of %u replicas answered (%s quorum)", k, need,
             f->quorum == DYNA_QUORUM_LOCAL ? "LOCAL" : "EACH");
  } else if (f->err) /* a replica answered with an error: say which */
    snprintf(msg, sizeof(msg), "%u of %u replicas answered (a replica: %s)", f->ok, f->need,
             dyna_strerror(f->err));
  else
    snprintf(msg, sizeof(msg), "%u of %u replicas answered", f->ok, f->need);
  fsm_answer(n, f, DYNA_ENOQUORUM, msg);
}

/* ---------- targets: home replicas, and fallbacks for the unreachable ones ---------- */

typedef struct plan {
  uint32_t part;                /* the key's partition */
  size_t nhome;                 /* home replicas (the first N of the preference list) */
  uint64_t home[DYNA_MAX_N];
  int8_t home_site[DYNA_MAX_N]; /* each home's site (0 without sites) */
  size_t nt;                    /* targets: reachable homes, fallbacks for the others */
  uint64_t target[DYNA_MAX_N];
  uint64_t hint[DYNA_MAX_N];    /* for a fallback: the home replica it stands in for */
  int8_t site[DYNA_MAX_N];      /* each target's own site */
  size_t norphan;               /* with sites: unreachable homes no fallback of their */
  uint64_t orphan[DYNA_MAX_N];  /* site stands in for (the coordinator keeps a hint) */
} plan_t;

/* 1 when every one of the first k of list is reachable. */
static int all_reachable(dyna_node_t *n, const uint64_t *list, size_t k) {
  for (size_t i = 0; i < k; i++)
    if (!dyna_node_is_reachable(n, list[i])) return 0;
  return 1;
}

/* The memo of home lists (node_int.h, homes_memo): one entry per partition modulo
 * DYNA_HOMES_MEMO, valid while the cluster's gen is the one it was filled under. */
#define DYNA_HOMES_MEMO 256 /* entries: a node's share of 8192 partitions at 32 nodes */
#define HOMES_MEMO_N 7      /* longer lists are worked out every time */
typedef struct dyna_homes_memo {
  uint64_t gen1; /* cl.gen + 1 when filled; 0: empty */
  uint32_t part;
  uint8_t n, nh;
  int8_t site[HOMES_MEMO_N]; /* each one's site (dyna_node_site_of) */
  uint64_t id[HOMES_MEMO_N];
} dyna_homes_memo_t;

/* The first `homes` (at most DYNA_MAX_N) entries of partition part's preference list
 * into ext and their sites into site (nh: how many are homes); returns their count. From
 * the memo when it holds them for the cluster as it is; builds with assertions check
 * each hit against the ring. */
static size_t homes_list(dyna_node_t *n, uint32_t part, size_t homes, uint64_t *ext, int8_t *site, size_t *nh) {
  dyna_homes_memo_t *m = NULL; /* the entry for part; NULL: not kept (a long list, or no memory) */
  if (homes <= HOMES_MEMO_N) {
    if (!n->homes_memo) n->homes_memo = dyna_calloc(DYNA_HOMES_MEMO, sizeof(dyna_homes_memo_t));
    if (n->homes_memo) m = &n->homes_memo[part % DYNA_HOMES_MEMO];
  }
  if (m && m->gen1 == n->cl.gen + 1 && m->part == part) {
    memcpy(ext, m->id, m->n * sizeof(uint64_t));
    memcpy(site, m->site, m->n);
    *nh = m->nh;
#ifndef NDEBUG
    uint64_t fresh[HOMES_MEMO_N];
    size_t fnh = 0, fn = dyna_ring_preflist_repl(&n->cl.ring, part, &n->cfg.repl, fresh, homes, &fnh);
    int same = fn == m->n && fnh == m->nh && !memcmp(fresh, m->id, fn * sizeof(uint64_t));
    for (size_t i = 0; same && i < fn; i++) same = dyna_node_site_of(n, fresh[i]) == m->site[i];
    DYNA_ASSERT(same, "home list memo of partition %u is stale (%zu of %u ids, cluster gen %llu): a ring "
                "change bypassed dyna_cluster_touch", part, fn, m->n, (unsigned long long)n->cl.gen);
#endif
    return m->n;
  }
  size_t got = dyna_ring_preflist_repl(&n->cl.ring, part, &n->cfg.repl, ext, homes, nh);
  for (size_t i = 0; i < got; i++) site[i] = (int8_t)dyna_node_site_of(n, ext[i]);
  if (m) {
    m->gen1 = n->cl.gen + 1;
    m->part = part;
    m->n = (uint8_t)got;
    m->nh = (uint8_t)*nh;
    memcpy(m->site, site, got);
    memcpy(m->id, ext, got * sizeof(uint64_t));
  }
  return got;
}

/* Sloppy quorum: each unreachable home replica is replaced by the next reachable node
 * further down the preference list (with sites: the next of the home's own site). The
 * list past the homes is worked out only when a home is unreachable (a second walk of
 * the ring that every request paid for: docs/performance.md, Per-request costs). */
static void make_plan(dyna_node_t *n, uint32_t part, plan_t *pl) {
  enum { EXT_MAX = DYNA_CLUSTER_MAX_MEMBERS < 64 ? DYNA_CLUSTER_MAX_MEMBERS : 64 };
  uint64_t ext[EXT_MAX];
  int8_t used[EXT_MAX] = {0};
  size_t nh = 0;
  /* The homes alone first: they are the list's head whatever its length (ring.h). */
  size_t homes = dyna_ring_homes(&n->cl.ring, &n->cfg.repl);
  int8_t site[DYNA_MAX_N]; /* the sites of ext's first entries, when known (homes_list) */
  int site_known = homes <= DYNA_MAX_N;
  size_t next = site_known ? homes_list(n, part, homes, ext, site, &nh)
                           : dyna_ring_preflist_repl(&n->cl.ring, part, &n->cfg.repl, ext, EXT_MAX, &nh);
  size_t nval = nh < DYNA_MAX_N ? nh : DYNA_MAX_N;
  int reachable = homes <= DYNA_MAX_N && all_reachable(n, ext, nval); /* the common case */
  if (homes <= DYNA_MAX_N && !reachable) {
    next = dyna_ring_preflist_repl(&n->cl.ring, part, &n->cfg.repl, ext, EXT_MAX, &nh);
    nval = nh < DYNA_MAX_N ? nh : DYNA_MAX_N;
  }
  int sites = n->cl.ring.nsites != 0;
  memset(pl, 0, sizeof(*pl));
  pl->part = part;
  pl->nhome = nval;
  memcpy(pl->home, ext, nval * sizeof(uint64_t));
  for (size_t i = 0; i < nval; i++) pl->home_site[i] = site_known ? site[i] : (int8_t)dyna_node_site_of(n, ext[i]);
  for (size_t i = 0; i < nval; i++) {
    if (reachable || dyna_node_is_reachable(n, ext[i])) {
      pl->site[pl->nt] = pl->home_site[i];
      pl->target[pl->nt++] = ext[i];
      continue;
    }
    size_t fb = nh;
    while (fb < next && (used[fb] || !dyna_node_is_reachable(n, ext[fb]) ||
                         (sites && dyna_node_site_of(n, ext[fb]) != pl->home_site[i])))
      fb++;
    if (fb == next) {
      if (sites) pl->orphan[pl->norphan++] = ext[i];
      continue;
    }
    used[fb] = 1;
    pl->hint[pl->nt] = ext[i];
    pl->site[pl->nt] = pl->home_site[i];
    pl->target[pl->nt++] = ext[fb];
  }
}

/* Sets f's quorum from q (a request's R or W, or the node's default): a count (capped at
 * the home replicas), or LOCAL/EACH with each site's majority of its home replicas. */
static void set_quorum(dyna_node_t *n, fsm_t *f, const plan_t *pl, uint32_t q) {
  f->quorum = 0;
  if (!dyna_quorum_kind(q)) {
    f->need = q > pl->nhome ? (uint32_t)pl->nhome : q;
    return;
  }
  uint32_t homes[DYNA_SITES_MAX] = {0};
  for (size_t i = 0; i < pl->nhome; i++)
    if (pl->home_site[i] >= 0 && pl->home_site[i] < (int)DYNA_SITES_MAX) homes[pl->home_site[i]]++;
  f->quorum = q;
  f->my_site = dyna_node_site_of(n, n->cfg.id);
  if (f->my_site < 0) f->my_site = pl->nhome ? pl->home_site[0] : 0; /* not a member: the first site's */
  f->need = 0;
  memset(f->site_need, 0, sizeof(f->site_need));
  for (uint32_t s = 0; s < DYNA_SITES_MAX; s++) {
    int one_site = q == DYNA_QUORUM_LOCAL || (n->cfg.bugs & DYNA_BUG_EACH_ONE_SITE);
    if (one_site && (int)s != f->my_site) continue;
    f->site_need[s] = (uint8_t)(homes[s] ? homes[s] / 2 + 1 : 0);
    f->need += f->site_need[s];
  }
}

/* A write's copy to a site its quorum does not count (a LOCAL write's other sites):
 * nobody waits on it, so it may queue behind what requests wait on (dyna_outmsg_t.bulk). */
static int copy_only(const fsm_t *f, int site) { return f->quorum == DYNA_QUORUM_LOCAL && site != f->my_site; }

static int plan_index(const plan_t *pl, uint64_t id) {
  for (size_t i = 0; i < pl->nt; i++)
    if (pl->target[i] == id) return (int)i;
  return -1;
}

static int is_home(const plan_t *pl, uint64_t id) {
  for (size_t i = 0; i < pl->nhome; i++)
    if (pl->home[i] == id) return 1;
  return 0;
}

/* ---------- GET ---------- */

/* Sends the merged object to every home replica that answered with something older
 * (targets not asked, or not answered, are left to anti-entropy). */
static void read_repair(dyna_node_t *n, fsm_t *f) {
  if (f->ok < 2 || (n->cfg.bugs & DYNA_BUG_NO_REPAIR)) return; /* one answer is the merge */
  if (f->raw_pending) { /* every good answer had the same bytes (raw_decode asserts it) */
    for (uint32_t i = 0; i < f->nasked; i++)
      DYNA_ASSERT(f->answered[i] != 1 || f->same[i], "request %llu: target %u's answer differs, target %u's undecoded",
                  (unsigned long long)f->id, i, f->raw_idx);
    return;
  }
  dyna_buf_t *enc = enc_get(n);
  for (uint32_t i = 0; i < f->nasked; i++) {
    if (f->answered[i] != 1 || f->hint[i] || answer_current(f, i)) continue;
    n->stats.read_repairs++;
    if (f->target[i] == n->cfg.id) {
      dyna_replica_t rep;
      dyna_node_replica_of(n, f->part, &rep);
      dyna_replica_merge(&rep, f->key, f->klen, &f->obj, NULL, 0, 0, 0, NULL);
      continue;
    }
    if (!enc->len) dyna_obj_encode(&f->obj, enc);
    if (enc->oom) break;
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_PUT;
    m.key = f->key;
    m.klen = f->klen;
    m.obj = enc->data;
    m.objlen = enc->len;
    dyna_node_send_bulk(n, f->target[i], &m); /* nobody waits on a repair */
  }
  enc_put(enc);
}

/* Records a replica's answer (obj may be NULL for a failure). A good answer is merged
 * into f->obj and then moved (not copied) into f->got[idx]: obj is left empty. Two
 * shortcuts keep the common read free of copies and merges: the first good answer
 * becomes f->obj itself, and a later one with the same versions (plain values only) is
 * dropped; either is marked same[idx] and holds no copy until f->obj changes (unshare). */
static void get_answer(fsm_t *f, int idx, dyna_obj_t *obj, int err) {
  if (f->answered[idx]) return;
  if (err && !f->err) f->err = err;
  if (obj && !f->ok) {
    DYNA_ASSERT(!f->obj.n && !f->obj.ntyped, "request %llu: merge of %zu entries before any answer",
                (unsigned long long)f->id, f->obj.n);
    f->obj = *obj;
    dyna_obj_init(obj);
    f->same[idx] = 1;
  } else if (obj && same_versions(&f->obj, obj)) {
    f->same[idx] = 1;
  } else if (!obj || unshare(f) || dyna_obj_merge(&f->obj, obj)) {
    f->answered[idx] = 2;
    f->failed++;
    return;
  } else {
    dyna_obj_clear(&f->got[idx]);
    f->got[idx] = *obj;
    dyna_obj_init(obj);
  }
  f->answered[idx] = 1;
  f->ok++;
}

/* The answers kept as stored bytes (f->raw: this node's own, and any with the same bytes
 * since), decoded into f->obj: they are the first answers, so they become the merge
 * (get_answer), every one marked same. Done before anything reads f->obj or takes an
 * answer that differs. The own bytes were read unchecked: a damaged object (or no
 * memory) fails here, and the answers then count as failed, as reads that failed.
 * Returns 0 or the decode's error. */
static int raw_decode(fsm_t *f) {
  if (!f->raw_pending) return 0;
  uint32_t same = 0;
  for (uint32_t i = 0; i < f->nasked; i++) same += f->same[i] && f->answered[i] == 1;
  DYNA_ASSERT(f->ok >= 1 && f->ok == same && f->same[f->raw_idx] && !f->obj.n && !f->obj.ntyped,
              "request %llu: raw answer of target %u: %u answers, %u of them same, a merge of %zu entries",
              (unsigned long long)f->id, f->raw_idx, f->ok, same, f->obj.n);
  f->raw_pending = 0;
  int rc = f->raw.len ? dyna_obj_decode(f->raw.data, f->raw.len, &f->obj) : 0;
  dyna_buf_reset(&f->raw);
  if (!rc) return 0;
  dyna_obj_clear(&f->obj);
  for (uint32_t i = 0; i < f->nasked; i++) {
    if (!f->same[i]) continue;
    f->same[i] = 0;
    f->answered[i] = 2;
  }
  f->failed += f->ok;
  f->ok = 0;
  if (!f->err) f->err = rc;
  return rc;
}

/* Records an answer given as an encoded object (empty: the key is absent; err: a failed
 * answer). While the own answer waits undecoded, the same bytes are the same answer:
 * checked once (dyna_obj_scan) and marked same, they stay undecoded, so the common read
 * of equal replicas decodes one object at most, and none when the driver takes the
 * bytes (DYNA_REQ_ENCODED, fsm_answer). A first answer from another node is kept the
 * same way. Anything else decodes the kept answers first and goes through get_answer. */
static void get_answer_bytes(fsm_t *f, int idx, const uint8_t *bytes, size_t len, int err) {
  if (f->answered[idx]) return;
  if (!err && f->raw_pending && len == f->raw.len && (!len || !memcmp(bytes, f->raw.data, len)) &&
      (!len || f->raw_checked || !dyna_obj_scan(bytes, len, &f->raw_info))) {
    f->raw_checked = 1;
    f->same[idx] = 1;
    f->answered[idx] = 1;
    f->ok++;
    return;
  }
  if (!err && !f->raw_pending && !f->ok && (f->need > 1 || f->encoded) &&
      (!len || !dyna_obj_scan(bytes, len, &f->raw_info))) {
    /* The first good answer, from another node (this one is no replica, or its own
     * answer failed): kept as bytes as an own answer is, checked already. */
    dyna_buf_reset(&f->raw);
    if (!dyna_buf_reserve_exact(&f->raw, len)) {
      dyna_buf_put(&f->raw, bytes, len);
      f->raw_pending = f->raw_checked = 1;
      f->raw_idx = (uint32_t)idx;
      f->same[idx] = 1;
      f->answered[idx] = 1;
      f->ok++;
      return;
    }
    dyna_buf_reset(&f->raw); /* no memory for the copy: decoded below, as before */
  }
  dyna_obj_t o;
  dyna_obj_init(&o);
  raw_decode(f);
  int rc = err ? err : len ? dyna_obj_decode(bytes, len, &o) : 0;
  get_answer(f, idx, rc ? NULL : &o, rc);
  dyna_obj_clear(&o);
}

/* Asks target idx: a local read when it is this node (answered at once), else a GET.
 * When another answer must come before the reply, the local one is kept as the stored
 * bytes, neither checked nor decoded yet (get_answer_bytes, raw_decode), unless a hint
 * may have to be merged in. */
static void get_ask(dyna_node_t *n, fsm_t *f, uint32_t idx) {
  if (f->target[idx] == n->cfg.id) {
    dyna_replica_t rep;
    dyna_node_replica_of(n, f->part, &rep);
    if (!f->ok && !f->raw_pending && f->need > 1) {
      int rc = dyna_replica_read_unchecked(&rep, f->key, f->klen, &f->raw);
      if (!rc) {
        f->raw_pending = 1;
        f->raw_idx = idx;
        f->same[idx] = 1;
        f->answered[idx] = 1;
        f->ok++;
        return;
      }
      dyna_buf_reset(&f->raw);
      if (rc != DYNA_EAGAIN) {
        get_answer(f, (int)idx, NULL, rc);
        return;
      }
    }
    dyna_obj_t local;
    dyna_obj_init(&local);
    int rc = dyna_replica_read(&rep, f->key, f->klen, &local);
    get_answer(f, (int)idx, rc ? NULL : &local, rc);
    dyna_obj_clear(&local);
    return;
  }
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_GET;
  m.req = f->id;
  m.key = f->key;
  m.klen = f->klen;
  dyna_node_send(n, f->target[idx], &m);
}

/* The second wave: asks every target not asked yet. */
static void get_ask_rest(dyna_node_t *n, fsm_t *f) {
  if (f->nasked == f->nt) return;
  n->stats.read_retries++;
  while (f->nasked < f->nt) get_ask(n, f, f->nasked++);
}

/* After any change: second wave on a failure, answer, finish. May free f. */
static void get_progress(dyna_node_t *n, fsm_t *f) {
  fsm_check(n, f);
  if (!f->replied && f->failed) get_ask_rest(n, f);
  if (!f->replied && quorum_met(n, f)) fsm_answer(n, f, 0, NULL);
  if (!f->replied && quorum_lost(n, f)) fail_quorum(n, f);
  if (!waiting(f)) {
    read_repair(n, f);
    fsm_put(n, f);
  }
}

static void add_target(fsm_t *f, const plan_t *pl, size_t i) {
  f->target[f->nt] = pl->target[i];
  f->hint[f->nt] = pl->hint[i];
  f->tsite[f->nt] = pl->site[i];
  f->nt++;
}

static void start_get(dyna_node_t *n, const dyna_req_t *req, const plan_t *pl) {
  fsm_t *f = fsm_get(n, FSM_GET, req->key, req->klen, pl->part);
  if (!f) {
    answer_now(n, req, 0, 0, DYNA_ENOMEM, NULL);
    return;
  }
  f->op = req->op;
  f->client_req = req->id;
  f->no_ctx = (req->flags & DYNA_REQ_NOCTX) != 0;
  f->encoded = f->no_ctx && (req->flags & DYNA_REQ_ENCODED);
  set_quorum(n, f, pl, req->r ? req->r : n->cfg.r);
  if (!f->need) f->need = 1; /* a read hears at least one replica */
  f->retry_ms = n->now.mono_ms + n->cfg.request_timeout_ms / 10;
  /* Ask order: this node first (no message), then plan order (LOCAL: its site only). */
  int self = plan_index(pl, n->cfg.id);
  if (self >= 0) add_target(f, pl, (size_t)self);
  for (size_t i = 0; i < pl->nt; i++)
    if ((int)i != self && (f->quorum != DYNA_QUORUM_LOCAL || pl->site[i] == f->my_site)) add_target(f, pl, i);
  uint32_t first = n->cfg.read_all || f->quorum == DYNA_QUORUM_EACH || f->need > f->nt ? f->nt : f->need;
  while (f->nasked < first) get_ask(n, f, f->nasked++);
  get_progress(n, f);
}

/* 1 when a GET still short of R waits for an asked target this node now judges
 * unreachable: the others are asked without waiting for the retry time. */
static int get_waits_on_unreachable(const dyna_node_t *n, const fsm_t *f) {
  for (uint32_t i = 0; i < f->nasked; i++)
    if (!f->answered[i] && !dyna_node_is_reachable(n, f->target[i])) return 1;
  return 0;
}

/* ---------- PUT / DEL ---------- */

static void put_progress(dyna_node_t *n, fsm_t *f) {
  fsm_check(n, f);
  int met = (n->cfg.bugs & DYNA_BUG_EARLY_ACK) ? f->ok >= 1 : quorum_met(n, f);
  if (!f->replied && met) {
    f->acked = 1;
    fsm_answer(n, f, 0, NULL);
  }
  if (!f->replied && quorum_lost(n, f)) fail_quorum(n, f);
  if (!waiting(f)) fsm_put(n, f);
}

/* The first key of a transaction's payload (core/batch.h): its length, *key into p. */
static size_t first_key(const dyna_buf_t *p, const uint8_t **key) {
  dyna_rd_t r;
  dyna_rd_init(&r, p->data, p->len);
  (void)dyna_rd_varint(&r); /* the count */
  size_t len = (size_t)dyna_rd_varint(&r);
  if (r.err || dyna_rd_left(&r) < len) return 0;
  *key = p->data + (p->len - dyna_rd_left(&r));
  return len;
}

/* With sites: this node keeps the version f wrote as a hint for home replica owner (one
 * unreachable, or silent until the deadline), which hints.c delivers once it can. */
static void keep_hint(dyna_node_t *n, fsm_t *f, uint64_t owner) {
  if (!owner || owner == n->cfg.id || (!f->obj.n && !f->obj.ntyped)) return;
  dyna_replica_t rep;
  dyna_node_replica_of(n, f->part, &rep);
  if (!dyna_replica_merge(&rep, f->key, f->klen, &f->obj, NULL, 0, 0, owner, NULL)) n->stats.hints_stored++;
}

/* Coordinates a write at this node, which is among pl's targets (a home replica, or a
 * fallback when no home replica is reachable). origin_node/origin_req are set for a
 * forwarded write. */
static void start_put(dyna_node_t *n, const dyna_req_t *req, const plan_t *pl,
                      uint64_t origin_node, uint64_t origin_req) {
  fsm_t *f = fsm_get(n, FSM_PUT, req->key, req->klen, pl->part);
  int rc = f ? 0 : DYNA_ENOMEM;
  int self = plan_index(pl, n->cfg.id);
  dyna_buf_t batch = DYNA_BUF_INIT; /* a transaction's payload: its keys and objects */
  dyna_buf_t *enc = enc_get(n); /* what the replicas get: the new object, as stored */
  uint64_t base = 0;             /* the record hash of the version it was made from (replica.h) */
  if (f) {
    f->op = req->op;
    f->client_req = req->id;
    f->origin_node = origin_node;
    f->origin_req = origin_req;
    f->no_ctx = (req->flags & DYNA_REQ_NOCTX) != 0; /* a plain SET answers +OK alone */
    set_quorum(n, f, pl, req->w ? req->w : n->cfg.w);
    int del = req->op == DYNA_OP_DEL;
    dyna_val_t v = {del ? DYNA_VAL_TOMBSTONE : 0, dyna_node_stamp(n), (uint8_t *)req->val, del ? 0 : req->vlen};
    int blind = (req->flags & DYNA_REQ_BLIND) != 0;
    dyna_replica_t rep;
    dyna_node_replica_of(n, pl->part, &rep); /* pl->part is req->key's */
    if (self < 0) {
      rc = DYNA_EBUSY;
    } else if (req->op == DYNA_OP_BATCH) { /* a transaction: core/batch.h */
      rc = dyna_batch_coordinate(n, req->key, req->klen, req->val, req->vlen, pl->hint[self],
                                 (req->flags & DYNA_REQ_RESP3) ? DYNA_RESP3 : DYNA_RESP2, &f->resp, &batch);
      f->nowrite = !rc && !batch.len;
    } else if (req->op == DYNA_OP_TYPED) {
      /* env: the partition's actor (set by the replica), the wall clock as it is
       * (deadlines and expiry), the node's PRNG, the value stamp (it never goes
       * backwards on this node). */
      dyna_tenv_t env = {0, n->now.wall_ms, dyna_node_rand(n),
                         (req->flags & DYNA_REQ_RESP3) ? DYNA_RESP3 : DYNA_RESP2, v.ts_ms};
      dyna_targs_t args = {req->argc, req->argv, req->argl};
      int changed = 0;
      rc = dyna_replica_coordinate_typed(&rep, req->key, req->klen, req->cmd, &args, &env,
                                         pl->hint[self], &f->obj, enc, &base, &f->resp, &changed);
      f->nowrite = !rc && !changed;
    } else {
      /* The new object is read again for a forwarding node's answer and, with sites, for
       * hints this node keeps; else it is left as the bytes sent (a blind write is then
       * made on the stored bytes: replica.h), the reply's context made from them. */
      int keep = origin_node || n->cl.ring.nsites || (!blind && !f->no_ctx);
      rc = dyna_replica_coordinate(&rep, req->key, req->klen, blind ? NULL : req->ctx, blind, &v,
                                   (req->flags & DYNA_REQ_KEEPTTL) != 0, del ? 0 : req->expire_at_ms,
                                   pl->hint[self], keep ? &f->obj : NULL, enc, &base, &f->existed);
      if (!rc && !keep && !f->no_ctx) { /* failing (no memory), only the reply fails */
        f->ctx_made = 1;
        f->ctx_rc = dyna_obj_context_of(enc->data, enc->len, &f->ctx);
      }
    }
  }
  if (rc) {
    if (!f) {
      answer_now(n, req, origin_node, origin_req, rc, NULL);
    } else {
      fsm_answer(n, f, rc, rc == DYNA_EINVAL && req->op == DYNA_OP_BATCH ? "keys of another partition" : NULL);
      fsm_put(n, f);
    }
    dyna_buf_free(&batch);
    enc_put(enc);
    return;
  }
  if (f->nowrite) { /* a typed write or transaction that changed nothing: its answer, at once */
    fsm_answer(n, f, 0, NULL);
    fsm_put(n, f);
    dyna_buf_free(&batch);
    enc_put(enc);
    return;
  }
  f->wseq = n->store->writes; /* the answer waits for this write only (core/durable.h) */
  if (req->op != DYNA_OP_DEL) n->stats.puts++;
  else n->stats.dels++;
  if (req->op == DYNA_OP_BATCH) dyna_buf_put(enc, batch.data, batch.len);
  dyna_buf_free(&batch);
  int sloppy = 0;
  uint64_t sent_to = 0, sent_hint = 0; /* the last PUT queued: the next may share its bytes */
  for (size_t i = 0; i < pl->nt; i++) {
    uint32_t idx = f->nt++;
    f->target[idx] = pl->target[i];
    f->hint[idx] = pl->hint[i];
    f->tsite[idx] = pl->site[i];
    sloppy |= pl->hint[i] != 0;
    if (pl->target[i] == n->cfg.id) {
      f->answered[idx] = 1;
      f->ok++;
      if (pl->hint[i]) n->stats.hints_stored++;
    } else if (!enc->oom && sent_to && pl->hint[i] == sent_hint) {
      /* The same frame as the last target's (only the hint differs between targets):
       * encoded once, its bytes copied. */
      sent_to = dyna_node_send_early_again(n, sent_to, pl->target[i], copy_only(f, pl->site[i])) ? pl->target[i] : 0;
    } else if (!enc->oom) {
      dyna_msg_t m = {0};
      m.type = DYNA_MSG_PUT;
      m.req = f->id;
      m.key = req->key;
      m.klen = req->klen;
      m.obj = enc->data;
      m.objlen = enc->len;
      m.node = pl->hint[i];
      m.w = base;
      if (req->op == DYNA_OP_BATCH) { /* the payload names its keys; key = the first */
        m.flags = DYNA_PUT_BATCH;
        m.klen = dyna_wire_args_count(enc->data, enc->len) ? first_key(enc, &m.key) : 0;
      }
      /* early: overlaps the replicas' fsyncs with ours */
      sent_to = dyna_node_send_early(n, pl->target[i], &m, copy_only(f, pl->site[i])) ? pl->target[i] : 0;
      sent_hint = pl->hint[i];
    } else {
      f->answered[idx] = 2;
      f->failed++;
    }
  }
  f->nasked = f->nt;
  n->stats.sloppy_writes += sloppy;
  enc_put(enc);
  if (req->op != DYNA_OP_BATCH) /* with sites: hints for the homes no target stands in for */
    for (size_t i = 0; i < pl->norphan; i++) keep_hint(n, f, pl->orphan[i]);
  put_progress(n, f);
}

static void start_forward(dyna_node_t *n, const dyna_req_t *req, uint32_t part, uint64_t to) {
  fsm_t *f = to ? fsm_get(n, FSM_FWD, req->key, req->klen, part) : NULL;
  if (!f) {
    if (to) answer_now(n, req, 0, 0, DYNA_ENOMEM, NULL);
    else answer_now(n, req, 0, 0, DYNA_ENOQUORUM, "no node of the key's preference list is reachable");
    return;
  }
  n->stats.forwarded++;
  f->op = req->op;
  f->client_req = req->id;
  f->need = 1;
  f->nt = f->nasked = 1;
  f->target[0] = to;
  dyna_buf_t cb = DYNA_BUF_INIT;
  if (!(req->flags & DYNA_REQ_BLIND)) put_ctx(req->ctx, &cb);
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_FWD;
  m.req = f->id;
  m.key = req->key;
  m.klen = req->klen;
  m.ctx = cb.data;
  m.ctxlen = cb.len;
  m.val = req->op == DYNA_OP_PUT ? req->val : NULL;
  m.vlen = req->op == DYNA_OP_PUT ? req->vlen : 0;
  m.flags = ((req->flags & DYNA_REQ_BLIND) ? DYNA_FWD_BLIND : 0) | (req->op == DYNA_OP_DEL ? DYNA_FWD_DELETE : 0) |
            ((req->flags & DYNA_REQ_KEEPTTL) ? DYNA_FWD_KEEPTTL : 0) |
            ((req->flags & DYNA_REQ_RESP3) ? DYNA_FWD_RESP3 : 0);
  m.node = req->op == DYNA_OP_PUT ? req->expire_at_ms : 0;
  dyna_buf_t ab = DYNA_BUF_INIT;
  if (req->op == DYNA_OP_TYPED) { /* the arguments; the coordinator resolves the name */
    m.flags |= DYNA_FWD_TYPED;
    dyna_wire_put_args(&ab, req->argc, req->argv, req->argl);
    m.val = ab.data;
    m.vlen = ab.len;
  }
  if (req->op == DYNA_OP_BATCH) { /* the commands, run by the coordinator */
    m.flags |= DYNA_FWD_BATCH;
    m.val = req->val;
    m.vlen = req->vlen;
  }
  m.w = req->w;
  if (ab.oom) { /* the forward would carry no command: time out rather than mis-answer */
    n->stats.bad_messages++;
  } else {
    dyna_node_send(n, to, &m);
  }
  dyna_buf_free(&ab);
  dyna_buf_free(&cb);
}

/* Who coordinates a write: this node when it is a home replica; else the first
 * reachable home replica (of this node's site first); when none is reachable, the first
 * fallback target (sloppy quorum), which may be this node. Returns the coordinator's id
 * (0: nobody reachable). */
static uint64_t write_coordinator(dyna_node_t *n, const plan_t *pl) {
  if (is_home(pl, n->cfg.id)) return n->cfg.id;
  int mine = dyna_node_site_of(n, n->cfg.id);
  for (size_t i = 0; i < pl->nt && n->cl.ring.nsites; i++)
    if (!pl->hint[i] && pl->site[i] == mine) return pl->target[i];
  for (size_t i = 0; i < pl->nt; i++)
    if (!pl->hint[i]) return pl->target[i];
  return pl->nt ? (plan_index(pl, n->cfg.id) >= 0 ? n->cfg.id : pl->target[0]) : 0;
}

void dyna_coord_request(dyna_node_t *n, const dyna_req_t *req) {
  if (dyna_gossip_joining(n)) {
    answer_now(n, req, 0, 0, DYNA_EBUSY, "this node is joining a cluster; try again shortly");
    return;
  }
  plan_t pl;
  make_plan(n, dyna_node_partition(n, req->key, req->klen), &pl);
  if (is_home(&pl, n->cfg.id)) n->stats.coordinated_local++;
  else n->stats.coordinated_remote++;
  if (req->op == DYNA_OP_GET) {
    n->stats.gets++;
    start_get(n, req, &pl);
    return;
  }
  uint64_t c = write_coordinator(n, &pl);
  if (c == n->cfg.id) start_put(n, req, &pl, 0, 0);
  else start_forward(n, req, pl.part, c);
}

/* ---------- messages ---------- */

static void on_put(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  int batch = (m->flags & DYNA_PUT_BATCH) != 0;
  /* The object is decoded by dyna_replica_merge, if at all (replica.h: not when this
   * replica holds the version it was made from, m->w, or nothing of the key). */
  int lazy = !batch && m->objlen && !(n->cfg.bugs & DYNA_BUG_OVERWRITE);
  int rc = !m->klen ? DYNA_EPROTO : batch || lazy ? 0 : dyna_obj_decode(m->obj, m->objlen, &o);
  int changed = 0;
  if (!rc && batch) { /* a transaction's objects, all or nothing (core/batch.h) */
    rc = dyna_batch_apply(n, m->key, m->klen, m->obj, m->objlen, m->node != n->cfg.id ? m->node : 0, &changed);
    if (!rc && m->node && m->node != n->cfg.id) n->stats.hints_stored++;
  } else if (!rc) {
    dyna_replica_t rep;
    uint32_t part = dyna_node_replica_key(n, m->key, m->klen, &rep);
    uint64_t hint = m->node != n->cfg.id ? m->node : 0;
    if (n->cfg.bugs & DYNA_BUG_OVERWRITE) rc = dyna_replica_overwrite(&rep, m->key, m->klen, &o);
    else rc = dyna_replica_merge(&rep, m->key, m->klen, lazy ? NULL : &o, m->obj, m->objlen, m->w, hint, &changed);
    if (!rc && hint) n->stats.hints_stored++;
    if (!rc && changed && (m->flags & DYNA_PUT_AAE)) n->stats.aae_keys_repaired++;
    if (!rc && (m->flags & DYNA_PUT_HANDOFF)) /* for operators: moves.c */
      dyna_move_in(n, from, part, m->objlen);
    /* News from anti-entropy that this replica lacked may be lacking at the partition's
     * other replicas too: pass it on with an early exchange. Not a handoff's: its sender
     * asked every home replica what it lacks (handoff.c) and sends each what it lacks,
     * and an exchange opened here while the move runs would send what the move is
     * bringing both ways (a join's anti-entropy bytes were as many as the handoff's). */
    if (!rc && changed && !hint && (m->flags & DYNA_PUT_AAE) &&
        !(n->cfg.bugs & DYNA_BUG_NO_PEER_BACK))
      dyna_merkle_force(n, part);
  }
  dyna_obj_clear(&o);
  n->stats.replica_puts++;
  if (!m->req) return; /* read repair: no answer wanted */
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_PUT_ACK;
  a.req = m->req;
  a.status = rc;
  /* It vouches for the write just made; without one, for what was there already,
   * which may be any write so far. */
  uint64_t wseq = !rc && changed ? n->store->writes : DYNA_WSEQ_ALL;
  if ((m->flags & DYNA_PUT_HANDOFF) && dyna_budget_hold_ack(n, from, &a, wseq, m->objlen)) return;
  dyna_node_send_after(n, from, &a, wseq);
}

static void on_get(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  int rc = DYNA_EPROTO;
  dyna_buf_t *enc = enc_get(n);
  if (m->klen) {
    dyna_replica_t rep;
    dyna_node_replica_key(n, m->key, m->klen, &rep);
    /* The stored bytes as they are when no hint is held, else read, merge, encode. */
    rc = dyna_replica_read_encoded(&rep, m->key, m->klen, enc);
    if (rc == DYNA_EAGAIN) {
      rc = dyna_replica_read(&rep, m->key, m->klen, &o);
      if (!rc && (o.n || o.ntyped)) dyna_obj_encode(&o, enc); /* nothing: absent */
    }
  }
  if (enc->oom) rc = DYNA_ENOMEM;
  n->stats.replica_gets++;
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_GET_RESP;
  a.req = m->req;
  a.status = rc;
  a.obj = rc ? NULL : enc->data;
  a.objlen = rc ? 0 : enc->len;
  /* A read needs no durability of its own: unless durable_reads, the answer leaves
   * before the commit even when it carries a version not yet durable here (the actor's
   * incarnation keeps such a dot from ever being reused, as for early PUTs). */
  if (n->cfg.durable_reads) dyna_node_send(n, from, &a);
  else dyna_node_send_early(n, from, &a, 0);
  enc_put(enc);
  dyna_obj_clear(&o);
}

/* A write forwarded to us: coordinate it if we are a replica, else refuse (a
 * non-replica must never make versions: its dots could collide). */
/* 1 when (from, req) was forwarded to us lately; records it otherwise. */
static int fwd_repeat(dyna_node_t *n, uint64_t from, uint64_t req) {
  uint64_t k = (from * 0x9E3779B97F4A7C15ull) ^ (req + 0x632BE59BD9B4E019ull);
  if (!k) k = 1;
  if (dyna_idmap_get(&n->fwd_seen, k)) return 1;
  size_t slot = n->fwd_next++ % (sizeof(n->fwd_ring) / sizeof(n->fwd_ring[0]));
  if (n->fwd_ring[slot]) dyna_idmap_take(&n->fwd_seen, n->fwd_ring[slot], NULL);
  n->fwd_ring[slot] = dyna_idmap_put(&n->fwd_seen, k, NULL, 0) ? 0 : k;
  return 0;
}

/* Answers a forwarded write at once: status, or (status 0) a typed answer resp with
 * nothing written. */
static void fwd_answer_now(dyna_node_t *n, uint64_t from, uint64_t req, int status, const uint8_t *resp,
                           size_t rlen) {
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_FWD_RESP;
  a.req = req;
  a.status = status;
  if (!status) {
    a.flags = DYNA_FWD_RESP_NOWRITE;
    a.val = resp;
    a.vlen = rlen;
  }
  dyna_node_send(n, from, &a);
}

/* The typed command named name: the node's extra ones (tests), then the families. */
static const dyna_typed_cmd_t *typed_find(const dyna_node_t *n, const uint8_t *name, size_t len) {
  for (const dyna_typed_cmd_t *c = n->cfg.typed_extra; c && c->name; c++)
    if (strlen(c->name) == len && !memcmp(c->name, name, len)) return c;
  return dyna_typed_find(name, len);
}

static void on_fwd(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (fwd_repeat(n, from, m->req) && !((n->cfg.bugs & DYNA_BUG_LIST_DUP) && (m->flags & (DYNA_FWD_TYPED | DYNA_FWD_BATCH))))
    return; /* the first copy answers */
  int typed = (m->flags & DYNA_FWD_TYPED) != 0, batch = (m->flags & DYNA_FWD_BATCH) != 0;
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = batch ? DYNA_OP_BATCH : typed ? DYNA_OP_TYPED : (m->flags & DYNA_FWD_DELETE) ? DYNA_OP_DEL : DYNA_OP_PUT;
  req.flags = ((m->flags & DYNA_FWD_BLIND) ? DYNA_REQ_BLIND : 0) | ((m->flags & DYNA_FWD_KEEPTTL) ? DYNA_REQ_KEEPTTL : 0) |
              ((m->flags & DYNA_FWD_RESP3) ? DYNA_REQ_RESP3 : 0);
  req.key = m->key;
  req.klen = m->klen;
  req.val = typed ? NULL : m->val;
  req.vlen = typed ? 0 : m->vlen;
  req.expire_at_ms = req.op == DYNA_OP_PUT ? m->node : 0;
  uint32_t nval = dyna_node_nval(n);
  req.w = dyna_quorum_kind((uint32_t)m->w) ? (uint32_t)m->w : m->w <= nval ? (uint32_t)m->w : nval;
  const uint8_t **argv = NULL;
  size_t *argl = NULL;
  dyna_ctx_t ctx;
  dyna_ctx_init(&ctx);
  int rc = m->klen ? dyna_ctx_decode(m->ctx, m->ctxlen, &ctx) : DYNA_EPROTO;
  if (!rc && m->vlen > (batch ? DYNA_BATCH_MAX_BYTES : n->cfg.max_value_bytes)) rc = DYNA_ETOOBIG;
  if (!rc && batch && (typed || !m->vlen)) rc = DYNA_EPROTO;
  if (!rc && typed) {
    size_t argc = dyna_wire_args_count(m->val, m->vlen);
    argv = argc ? dyna_malloc(argc * sizeof(*argv)) : NULL;
    argl = argc ? dyna_malloc(argc * sizeof(*argl)) : NULL;
    if (!argc) rc = DYNA_EPROTO;
    else if (!argv || !argl) rc = DYNA_ENOMEM;
    else rc = dyna_wire_get_args(m->val, m->vlen, argc, argv, argl);
    if (!rc && (argc < 2 || argl[1] != m->klen || memcmp(argv[1], m->key, m->klen))) rc = DYNA_EPROTO;
    if (!rc) {
      req.argc = argc;
      req.argv = argv;
      req.argl = argl;
      req.cmd = typed_find(n, argv[0], argl[0]);
      if (req.cmd && !dyna_typed_arity_ok(req.cmd, argc)) {
        rc = DYNA_EPROTO; /* the forwarding node checked it: a broken or hostile frame */
      } else if (!req.cmd || !req.cmd->write) { /* a peer with another build */
        char line[160];
        snprintf(line, sizeof(line), "ERR the coordinating node does not know the write command '%.*s'",
                 (int)(argl[0] > 64 ? 64 : argl[0]), (const char *)argv[0]);
        dyna_buf_t eb = DYNA_BUF_INIT;
        dyna_resp_put_error(&eb, line); /* CR/LF become spaces */
        if (eb.oom) fwd_answer_now(n, from, m->req, DYNA_ENOMEM, NULL, 0);
        else fwd_answer_now(n, from, m->req, 0, eb.data, eb.len);
        dyna_buf_free(&eb);
        rc = -1; /* answered */
      }
    }
  }
  plan_t pl;
  if (!rc && dyna_gossip_joining(n)) rc = DYNA_EBUSY;
  if (!rc) {
    make_plan(n, dyna_node_partition(n, m->key, m->klen), &pl);
    if (write_coordinator(n, &pl) != n->cfg.id) rc = DYNA_EBUSY; /* views differ: no second hop */
  }
  if (rc > 0 || rc < -1) {
    fwd_answer_now(n, from, m->req, rc, NULL, 0);
  } else if (!rc) {
    req.ctx = &ctx;
    start_put(n, &req, &pl, from, m->req);
  }
  dyna_free(argv);
  dyna_free(argl);
  dyna_ctx_clear(&ctx);
}

static void on_fwd_resp(dyna_node_t *n, fsm_t *f, const dyna_msg_t *m) {
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = f->client_req;
  r.op = f->op;
  DYNA_ASSERT(!f->replied, "forwarded request %llu (client %llu) answered twice",
              (unsigned long long)f->id, (unsigned long long)f->client_req);
  f->replied = 1;
  if (dyna_node_reserve_reply(n)) { fsm_put(n, f); return; }
  int rc = m->status;
  if (!rc) rc = dyna_ctx_decode(m->ctx, m->ctxlen, &r.ctx);
  if (rc) {
    char msg[96];
    snprintf(msg, sizeof(msg), "coordinator: %s", dyna_strerror(rc));
    dyna_node_reply_fail(&r, rc == DYNA_EBUSY ? DYNA_EBUSY : rc, rc == DYNA_ENOQUORUM ? "replicas did not answer" : msg);
  } else {
    r.existed = (m->flags & DYNA_FWD_RESP_EXISTED) != 0;
    r.wrote = !(m->flags & DYNA_FWD_RESP_NOWRITE); /* r.wseq = 0: the coordinator made
                                                      the copies durable, none is here */
    if (m->vlen && (dyna_buf_put(&r.resp, m->val, m->vlen), r.resp.oom))
      dyna_node_reply_fail(&r, DYNA_ENOMEM, NULL);
  }
  dyna_node_push_reply(n, &r);
  fsm_put(n, f);
}

void dyna_coord_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (m->type == DYNA_MSG_PUT) { on_put(n, from, m); return; }
  if (m->type == DYNA_MSG_GET) { on_get(n, from, m); return; }
  if (m->type == DYNA_MSG_FWD) { on_fwd(n, from, m); return; }
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fsms, m->req);
  if (!e) return; /* late answer to a finished request */
  fsm_t *f = e->ptr;
  if (m->type == DYNA_MSG_FWD_RESP && f->kind == FSM_FWD && f->target[0] == from) {
    on_fwd_resp(n, f, m);
    return;
  }
  int idx = target_index(f, from);
  if (idx < 0 || (uint32_t)idx >= f->nasked || f->answered[idx]) return;
  if (m->type == DYNA_MSG_PUT_ACK && f->kind == FSM_PUT) {
    f->answered[idx] = m->status ? 2 : 1;
    if (m->status && !f->err) f->err = m->status;
    if (m->status) f->failed++;
    else f->ok++;
    put_progress(n, f);
  } else if (m->type == DYNA_MSG_GET_RESP && f->kind == FSM_GET) {
    /* An empty obj field means the replica has no such key. */
    get_answer_bytes(f, idx, m->obj, m->objlen, m->status);
    get_progress(n, f);
  }
}

void dyna_coord_tick(dyna_node_t *n) {
  for (fsm_t *f = n->fsm_list, *next; f; f = next) {
    next = f->next;
    if (n->now.mono_ms < f->deadline_ms) {
      if (f->kind == FSM_GET && !f->replied && f->nasked < f->nt &&
          (n->now.mono_ms >= f->retry_ms || get_waits_on_unreachable(n, f))) {
        get_ask_rest(n, f);
        get_progress(n, f);
      }
      continue;
    }
    if (!f->replied) {
      if (f->kind == FSM_FWD) fsm_answer(n, f, DYNA_ENOQUORUM, "the coordinating replica did not answer");
      else fail_quorum(n, f);
    }
    /* With sites, an acknowledged write's silent targets (another site behind a cut the
     * failure detector has not judged yet) get it by a hint this node keeps. */
    if (f->kind == FSM_PUT && f->acked && n->cl.ring.nsites && f->op != DYNA_OP_BATCH)
      for (uint32_t i = 0; i < f->nt; i++)
        if (!f->answered[i]) keep_hint(n, f, f->hint[i] ? f->hint[i] : f->target[i]);
    if (f->kind == FSM_GET) read_repair(n, f);
    fsm_put(n, f);
  }
}
