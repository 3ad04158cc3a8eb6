/* scan_fsm.c: the coordinator's side of the key-space commands (scan.h): SCAN, KEYS
 * and RANDOMKEY (DYNA_OP_SCAN), DBSIZE (DYNA_OP_DBSIZE) and FLUSHALL (DYNA_OP_FLUSH),
 * and the replica's answers to them (SCAN, COUNT and FLUSH frames, answered by
 * SCAN_RESP). Each request is a job that goes in rounds:
 *
 *   SCAN/KEYS/RANDOMKEY, partition p from position pos (the cursor):
 *     ask every reachable home replica of p for a page  (RANDOMKEY: one replica)
 *       (this node's own page is read at once, no frame)
 *     all answered (or the round's deadline) ─▶ bound := the lowest next position given
 *       keys below bound from every answer ─▶ sorted, deduplicated, MATCH/TYPE ─▶ reply
 *       bound past every position ─▶ p + 1, pos 0;  else pos := bound
 *     SCAN stops when it has count keys, after 16 rounds, or after the last partition
 *     (cursor 0); KEYS after the last partition (refused beyond DYNA_KEYS_MAX keys);
 *     RANDOMKEY at the first key, or nil once every partition was seen.
 *   DBSIZE: one replica per partition (this node when it is one), one COUNT frame per
 *     replica chosen naming its partitions; the reply is the sum.
 *   FLUSHALL: every member that is not REMOVED must be reachable; each one (this node
 *     too) writes a tombstone over every live key it holds, objects and hints, a few
 *     partitions per event (flush.c), and answers once that is durable; +OK when all
 *     did (waiting up to FLUSH_TIMEOUT_MS, failing on a member that becomes unreachable).
 *
 * Why every reachable home replica: a key present for the whole scan is held by a home
 * replica at every moment (a write is acknowledged by W of them; a join or a leave
 * usually replaces one home of a partition, the others keeping their copies, and a
 * node that stops being a home keeps its copy until the new homes acknowledged it), so
 * the union of the home replicas' pages has it, whichever nodes hold the partition when
 * that page is asked; asking one would not do (a node that just joined holds little).
 * Not covered: a key held only by a replica that does not answer in time (left out of
 * that round), only as a hint, or only by homes that a ring change replaced all at once
 * (until handoff brings it to the new ones). */
#include "core/node_int.h"
#include "core/scan.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/glob.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_ROUNDS_MAX 16    /* rounds one SCAN call runs at most */
#define SCAN_JOBS_MAX 256     /* jobs at once on one node (more: -BUSY) */
#define SCAN_PAGE_ALL 1000u   /* KEYS: keys per page asked */
#define FLUSH_TIMEOUT_MS 600000u /* a FLUSHALL waits this long for the members' flushes */

enum { T_WAIT = 0, T_OK, T_FAILED };

typedef struct scan_tgt {
  uint64_t id;
  int state;
  dyna_buf_t page;   /* SCAN: its entries (owned); COUNT: the partitions asked (bitmap) */
  uint64_t next;     /* SCAN: where its next page starts; COUNT: its count */
} scan_tgt_t;

struct scan_job {
  struct scan_job *next;
  uint64_t client_req;
  dyna_op_t op;
  dyna_scan_mode_t mode;
  uint32_t count, kinds;
  char *pattern;     /* owned, NULL: any key */
  size_t plen;
  uint32_t p;        /* the partition of this round */
  uint64_t pos;      /* its position */
  uint32_t rounds, parts; /* rounds run, partitions finished */
  uint64_t req;      /* this round's wire id */
  uint64_t deadline_ms;
  scan_tgt_t *t;     /* this round's targets (owned) */
  size_t nt, nwait;
  dyna_buf_t out;    /* the RESP elements so far (owned) */
  size_t nout;
  uint64_t total;    /* DBSIZE */
  uint64_t wseq;     /* FLUSH: the local writes the reply waits for */
};

/* ---------- jobs ---------- */

static void tgts_clear(scan_job_t *j) {
  for (size_t i = 0; i < j->nt; i++) dyna_buf_free(&j->t[i].page);
  dyna_free(j->t);
  j->t = NULL;
  j->nt = j->nwait = 0;
}

static void job_free(dyna_node_t *n, scan_job_t *j) {
  scan_job_t **pp = &n->scan_jobs;
  while (*pp && *pp != j) pp = &(*pp)->next;
  if (*pp) *pp = j->next;
  n->nscan_jobs--;
  tgts_clear(j);
  dyna_buf_free(&j->out);
  dyna_free(j->pattern);
  dyna_free(j);
}

void dyna_scan_free_all(dyna_node_t *n) {
  while (n->scan_jobs) job_free(n, n->scan_jobs);
  dyna_flush_free_all(n);
}

/* Answers the job (resp: the whole RESP answer, status 0) and frees it. */
static void job_reply(dyna_node_t *n, scan_job_t *j, const dyna_buf_t *resp, int status) {
  if (!dyna_node_reserve_reply(n)) {
    dyna_node_reply_t r;
    memset(&r, 0, sizeof(r));
    r.req_id = j->client_req;
    r.op = j->op;
    if (status) {
      dyna_node_reply_fail(&r, status, NULL);
    } else {
      dyna_buf_put(&r.resp, resp->data, resp->len);
      if (r.resp.oom) dyna_node_reply_fail(&r, DYNA_ENOMEM, NULL);
      if (j->op == DYNA_OP_FLUSH) {
        r.wrote = 1;
        r.wseq = j->wseq;
      }
    }
    dyna_node_push_reply(n, &r);
  }
  job_free(n, j);
}

static void job_error(dyna_node_t *n, scan_job_t *j, const char *msg) {
  dyna_buf_t b;
  dyna_buf_init(&b);
  dyna_resp_put_error(&b, msg);
  job_reply(n, j, &b, b.oom ? DYNA_ENOMEM : 0);
  dyna_buf_free(&b);
}

static void job_finish(dyna_node_t *n, scan_job_t *j) {
  dyna_buf_t b;
  dyna_buf_init(&b);
  if (j->op == DYNA_OP_DBSIZE) {
    dyna_resp_put_int(&b, (int64_t)j->total);
  } else if (j->op == DYNA_OP_FLUSH) {
    dyna_resp_put_simple(&b, "OK");
  } else if (j->mode == DYNA_SCAN_PAGE) {
    char cur[24];
    uint32_t q = n->cl.ring.size;
    snprintf(cur, sizeof(cur), "%llu",
             (unsigned long long)(j->p >= q ? 0 : dyna_scan_cursor(j->p, j->pos)));
    dyna_resp_put_array(&b, 2);
    dyna_resp_put_bulk_str(&b, cur);
    dyna_resp_put_array(&b, j->nout);
    dyna_buf_put(&b, j->out.data, j->out.len);
  } else if (j->mode == DYNA_SCAN_ALL) {
    dyna_resp_put_array(&b, j->nout);
    dyna_buf_put(&b, j->out.data, j->out.len);
  } else if (j->nout) {
    dyna_buf_put(&b, j->out.data, j->out.len);
  } else {
    dyna_resp_put_nil(&b);
  }
  job_reply(n, j, &b, b.oom || j->out.oom ? DYNA_ENOMEM : 0);
  dyna_buf_free(&b);
}

static scan_tgt_t *tgt_add(scan_job_t *j, uint64_t id) {
  for (size_t i = 0; i < j->nt; i++)
    if (j->t[i].id == id) return &j->t[i];
  scan_tgt_t *t = dyna_realloc(j->t, (j->nt + 1) * sizeof(*t));
  if (!t) return NULL;
  j->t = t;
  t = &j->t[j->nt++];
  memset(t, 0, sizeof(*t));
  t->id = id;
  j->nwait++;
  return t;
}

/* ---------- a replica's answers ---------- */

/* This node's page of partition p from start, at most count keys (the SCAN frame's
 * work; DYNA_EPROTO for a partition or position that cannot be). */
static int local_page(dyna_node_t *n, uint64_t p, uint64_t start, uint64_t count, dyna_buf_t *out,
                      uint64_t *next) {
  uint32_t got;
  if (p >= n->cl.ring.size || start > DYNA_SCAN_POS_END) return DYNA_EPROTO;
  if (count > DYNA_SCAN_COUNT_MAX) count = DYNA_SCAN_COUNT_MAX;
  return dyna_scan_partition(n->store, (uint32_t)p, start, (uint32_t)count, n->now.wall_ms, out, &got, next);
}

/* The live keys of the partitions set in bitmap (the COUNT frame's work). */
static int local_count(dyna_node_t *n, const uint8_t *bitmap, size_t len, uint64_t *total) {
  uint32_t q = n->cl.ring.size;
  if (len != (q + 7) / 8) return DYNA_EPROTO;
  *total = 0;
  for (uint32_t p = 0; p < q; p++) {
    if (!(bitmap[p / 8] & (1u << (p % 8)))) continue;
    uint64_t c;
    int rc = dyna_scan_count(n->store, p, n->now.wall_ms, &c);
    if (rc) return rc;
    *total += c;
  }
  return 0;
}

static void answer(dyna_node_t *n, uint64_t to, uint64_t req, int status, const dyna_buf_t *obj,
                   uint64_t node, int after_writes) {
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_SCAN_RESP;
  a.req = req;
  a.status = status;
  a.node = node;
  if (!status && obj) {
    a.obj = obj->data;
    a.objlen = obj->len;
  }
  /* Reads leave before the commit (as a GET_RESP does) unless durable_reads; a flush's
   * answer only once its tombstones are durable. */
  if (after_writes || n->cfg.durable_reads) dyna_node_send(n, to, &a);
  else dyna_node_send_early(n, to, &a, 0);
}

static void on_request(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  dyna_buf_t b;
  dyna_buf_init(&b);
  uint64_t v = 0;
  int rc;
  if (m->type == DYNA_MSG_SCAN) {
    rc = m->w ? local_page(n, m->w - 1, m->node, m->flags, &b, &v) : DYNA_EPROTO;
    answer(n, from, m->req, rc, &b, v, 0);
  } else if (m->type == DYNA_MSG_COUNT) {
    rc = local_count(n, m->obj, m->objlen, &v);
    answer(n, from, m->req, rc, NULL, v, 0);
  } else {
    rc = 0;
    if (!dyna_flush_begin(n, from, m->req, &rc)) answer(n, from, m->req, rc, NULL, 0, 1);
  }
  dyna_buf_free(&b);
}

/* ---------- rounds ---------- */

typedef struct hit {
  uint64_t pos;
  uint32_t kind;
  const uint8_t *key;
  size_t klen;
} hit_t;

static int hit_cmp(const void *a, const void *b) {
  const hit_t *x = a, *y = b;
  if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
  size_t l = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, l);
  if (c) return c;
  return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int wanted(const scan_job_t *j, const hit_t *h) {
  if (j->kinds) {
    uint32_t kind = h->kind == DYNA_KIND_COUNTER ? DYNA_KIND_STRING : h->kind; /* a counter is a string */
    if (!(j->kinds & (1u << kind))) return 0;
  }
  return !j->pattern || dyna_glob_match(j->pattern, j->plen, (const char *)h->key, h->klen, 0);
}

/* Folds the answers of a SCAN round into the job. Returns 1 when the job is over
 * (answered and freed), 0 when another round should run. */
static int page_round_done(dyna_node_t *n, scan_job_t *j) {
  uint64_t bound = DYNA_SCAN_POS_END;
  size_t nok = 0, nhits = 0;
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].state != T_OK) continue;
    nok++;
    if (j->t[i].next < bound) bound = j->t[i].next;
  }
  if (!nok) {
    char msg[96];
    snprintf(msg, sizeof(msg), "ERR no replica of partition %u answered the scan", j->p);
    job_error(n, j, msg);
    return 1;
  }
  /* Every answer's keys below bound, in order; duplicates are adjacent. */
  hit_t *hits = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].state != T_OK) continue;
    dyna_rd_t r;
    dyna_rd_init(&r, j->t[i].page.data, j->t[i].page.len);
    while (dyna_rd_left(&r)) {
      hit_t h;
      if (dyna_scan_entry(&r, &h.kind, &h.key, &h.klen)) break; /* checked when it came */
      h.pos = dyna_scan_pos_of(h.key, h.klen);
      if (h.pos >= bound || h.pos < j->pos) continue;
      if (nhits == cap) {
        cap = cap ? 2 * cap : 64;
        hit_t *nh = dyna_realloc(hits, cap * sizeof(*nh));
        if (!nh) { dyna_free(hits); job_reply(n, j, NULL, DYNA_ENOMEM); return 1; }
        hits = nh;
      }
      hits[nhits++] = h;
    }
  }
  if (nhits) qsort(hits, nhits, sizeof(*hits), hit_cmp);
  for (size_t i = 0; i < nhits; i++) {
    if (i && !hit_cmp(&hits[i - 1], &hits[i])) continue;
    if (!wanted(j, &hits[i])) continue;
    dyna_resp_put_bulk(&j->out, hits[i].key, hits[i].klen);
    j->nout++;
    if (j->mode == DYNA_SCAN_RANDOM) break;
  }
  dyna_free(hits);
  j->rounds++;
  if (bound == DYNA_SCAN_POS_END) {
    j->parts++;
    j->p++;
    j->pos = 0;
  } else {
    j->pos = bound;
  }
  uint32_t q = n->cl.ring.size;
  if (j->mode == DYNA_SCAN_RANDOM) {
    if (j->nout || j->parts > q) { job_finish(n, j); return 1; }
    if (j->p >= q) j->p = 0; /* wraps: the first partition again, from 0 */
    return 0;
  }
  if (j->mode == DYNA_SCAN_ALL && (j->nout > DYNA_KEYS_MAX || j->out.len > DYNA_KEYS_BYTES_MAX)) {
    char msg[128];
    snprintf(msg, sizeof(msg), "ERR KEYS would return more than %u keys or %u MiB; use SCAN", DYNA_KEYS_MAX,
             DYNA_KEYS_BYTES_MAX >> 20);
    job_error(n, j, msg);
    return 1;
  }
  if (j->p >= q) { job_finish(n, j); return 1; }
  if (j->mode == DYNA_SCAN_PAGE && (j->nout >= j->count || j->rounds >= SCAN_ROUNDS_MAX)) {
    job_finish(n, j);
    return 1;
  }
  return 0;
}

/* Starts a SCAN round: asks the replicas of j->p, reads this node's page at once.
 * Returns 1 when the job is over (answered: no replica reachable). */
static int page_round_start(dyna_node_t *n, scan_job_t *j) {
  uint64_t reps[DYNA_MAX_N];
  size_t nr = dyna_node_replicas(n, j->p, reps);
  for (size_t i = 0; i < nr; i++) {
    if (!dyna_node_is_reachable(n, reps[i])) continue;
    /* RANDOMKEY asks one: this node when it is a replica, else the first reachable. */
    if (j->mode == DYNA_SCAN_RANDOM && j->nt && reps[i] != n->cfg.id) continue;
    if (j->mode == DYNA_SCAN_RANDOM && j->nt) j->nt = j->nwait = 0;
    if (!tgt_add(j, reps[i])) { job_reply(n, j, NULL, DYNA_ENOMEM); return 1; }
  }
  if (!j->nt) {
    char msg[96];
    snprintf(msg, sizeof(msg), "ERR no replica of partition %u is reachable", j->p);
    job_error(n, j, msg);
    return 1;
  }
  uint32_t count = j->mode == DYNA_SCAN_PAGE ? j->count - (uint32_t)j->nout
                   : j->mode == DYNA_SCAN_ALL ? SCAN_PAGE_ALL : 1;
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id == n->cfg.id) continue;
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_SCAN;
    m.req = j->req;
    m.w = (uint64_t)j->p + 1;
    m.node = j->pos;
    m.flags = count;
    dyna_node_send(n, j->t[i].id, &m);
  }
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id != n->cfg.id) continue;
    int rc = local_page(n, j->p, j->pos, count, &j->t[i].page, &j->t[i].next);
    j->t[i].state = rc ? T_FAILED : T_OK;
    j->nwait--;
  }
  return 0;
}

/* DBSIZE: one replica per partition, one COUNT frame per replica chosen. */
static int count_start(dyna_node_t *n, scan_job_t *j) {
  uint32_t q = n->cl.ring.size;
  size_t bl = (q + 7) / 8;
  for (uint32_t p = 0; p < q; p++) {
    uint64_t reps[DYNA_MAX_N], pick = 0;
    size_t nr = dyna_node_replicas(n, p, reps);
    for (size_t i = 0; i < nr; i++) {
      if (reps[i] == n->cfg.id) { pick = reps[i]; break; }
      if (!pick && dyna_node_is_reachable(n, reps[i])) pick = reps[i];
    }
    if (!pick) {
      char msg[96];
      snprintf(msg, sizeof(msg), "ERR no replica of partition %u is reachable", p);
      job_error(n, j, msg);
      return 1;
    }
    scan_tgt_t *t = tgt_add(j, pick);
    if (t && !t->page.len) {
      dyna_buf_reserve(&t->page, bl);
      if (!t->page.oom) { memset(t->page.data, 0, bl); t->page.len = bl; }
    }
    if (!t || t->page.oom) { job_reply(n, j, NULL, DYNA_ENOMEM); return 1; }
    t->page.data[p / 8] |= (uint8_t)(1u << (p % 8));
  }
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id == n->cfg.id) continue;
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_COUNT;
    m.req = j->req;
    m.obj = j->t[i].page.data;
    m.objlen = j->t[i].page.len;
    dyna_node_send(n, j->t[i].id, &m);
  }
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id != n->cfg.id) continue;
    int rc = local_count(n, j->t[i].page.data, j->t[i].page.len, &j->t[i].next);
    j->t[i].state = rc ? T_FAILED : T_OK;
    j->nwait--;
  }
  return 0;
}

/* FLUSHALL: every member not REMOVED, all reachable, this node's own flush at once. */
static int flush_start(dyna_node_t *n, scan_job_t *j) {
  for (size_t i = 0; i < n->cl.n; i++) {
    const dyna_member_t *mb = &n->cl.m[i];
    if (mb->status == DYNA_MEMBER_REMOVED) continue;
    if (!dyna_node_is_reachable(n, mb->id)) {
      char msg[160];
      snprintf(msg, sizeof(msg), "ERR FLUSHALL needs every member: %s is not reachable (nothing flushed)",
               mb->name);
      job_error(n, j, msg);
      return 1;
    }
    if (!tgt_add(j, mb->id)) { job_reply(n, j, NULL, DYNA_ENOMEM); return 1; }
  }
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id == n->cfg.id) continue;
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_FLUSH;
    m.req = j->req;
    dyna_node_send(n, j->t[i].id, &m);
  }
  j->deadline_ms = n->now.mono_ms + (n->cfg.request_timeout_ms > FLUSH_TIMEOUT_MS ? n->cfg.request_timeout_ms
                                                                                  : FLUSH_TIMEOUT_MS);
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id != n->cfg.id) continue;
    int rc = 0;
    if (dyna_flush_begin(n, 0, j->req, &rc)) continue; /* goes on in ticks (flush.c) */
    j->wseq = n->store->writes;
    j->t[i].state = rc ? T_FAILED : T_OK;
    j->nwait--;
  }
  return 0;
}

/* The round's answers are all in (or its deadline passed): folds them. Returns 1 when
 * the job is over. */
static int round_done(dyna_node_t *n, scan_job_t *j) {
  if (j->op == DYNA_OP_SCAN) return page_round_done(n, j);
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].state == T_OK) { j->total += j->t[i].next; continue; }
    const dyna_member_t *mb = dyna_cluster_find(&n->cl, j->t[i].id);
    char msg[160];
    snprintf(msg, sizeof(msg), "ERR %s: %s did not answer%s", j->op == DYNA_OP_FLUSH ? "FLUSHALL" : "DBSIZE",
             mb ? mb->name : "a replica", j->op == DYNA_OP_FLUSH ? " (the others flushed)" : "");
    job_error(n, j, msg);
    return 1;
  }
  job_finish(n, j);
  return 1;
}

/* Runs rounds until one waits for frames or the job is over. */
static void job_run(dyna_node_t *n, scan_job_t *j) {
  for (;;) {
    tgts_clear(j);
    j->req = dyna_node_new_req(n);
    j->deadline_ms = n->now.mono_ms + n->cfg.request_timeout_ms;
    int over = j->op == DYNA_OP_SCAN ? page_round_start(n, j)
               : j->op == DYNA_OP_DBSIZE ? count_start(n, j)
                                         : flush_start(n, j);
    if (over || j->nwait) return;
    if (round_done(n, j)) return;
  }
}

void dyna_scan_request(dyna_node_t *n, const dyna_req_t *req) {
  scan_job_t *j = NULL;
  const dyna_scan_spec_t *sp = req->scan;
  int rc = 0;
  if (req->op == DYNA_OP_SCAN && !sp) rc = DYNA_EINVAL;
  else if (n->nscan_jobs >= SCAN_JOBS_MAX) rc = DYNA_EBUSY;
  else if (!(j = dyna_calloc(1, sizeof(*j)))) rc = DYNA_ENOMEM;
  if (!rc && sp && sp->pattern && !(j->pattern = dyna_memdup(sp->pattern, sp->plen ? sp->plen : 1))) rc = DYNA_ENOMEM;
  if (rc) {
    dyna_free(j);
    dyna_node_reply_t r;
    memset(&r, 0, sizeof(r));
    r.req_id = req->id;
    r.op = req->op;
    dyna_node_reply_fail(&r, rc, rc == DYNA_EBUSY ? "too many scans at once" : NULL);
    dyna_node_push_reply(n, &r); /* the slot was reserved by dyna_node_request */
    return;
  }
  j->client_req = req->id;
  j->op = req->op;
  j->next = n->scan_jobs;
  n->scan_jobs = j;
  n->nscan_jobs++;
  dyna_buf_init(&j->out);
  if (sp) {
    j->mode = sp->mode;
    j->plen = sp->pattern ? sp->plen : 0;
    j->kinds = sp->kinds;
    j->count = sp->count ? sp->count : 10;
    if (j->count > DYNA_SCAN_COUNT_MAX) j->count = DYNA_SCAN_COUNT_MAX;
  }
  if (j->op == DYNA_OP_SCAN && j->mode == DYNA_SCAN_PAGE &&
      dyna_scan_cursor_split(sp->cursor, n->cl.ring.size, &j->p, &j->pos)) {
    j->p = n->cl.ring.size; /* beyond the ring: over, as Redis answers a cursor past its table */
    job_finish(n, j);
    return;
  }
  if (j->op == DYNA_OP_SCAN && j->mode == DYNA_SCAN_RANDOM) {
    uint64_t r = dyna_node_rand(n);
    j->p = (uint32_t)(r % n->cl.ring.size);
    j->pos = (r >> 16) & (DYNA_SCAN_POS_END - 1);
  }
  job_run(n, j);
}

void dyna_scan_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (m->type != DYNA_MSG_SCAN_RESP) { on_request(n, from, m); return; }
  scan_job_t *j = n->scan_jobs;
  while (j && j->req != m->req) j = j->next;
  if (!j) return; /* late: the round is over */
  scan_tgt_t *t = NULL;
  for (size_t i = 0; i < j->nt; i++)
    if (j->t[i].id == from) t = &j->t[i];
  if (!t || t->state != T_WAIT) return;
  int rc = m->status;
  t->next = m->node;
  if (!rc && j->op == DYNA_OP_SCAN) {
    /* The page must parse and end beyond where it started. */
    dyna_rd_t r;
    dyna_rd_init(&r, m->obj, m->objlen);
    while (!rc && dyna_rd_left(&r)) {
      uint32_t kind;
      const uint8_t *key;
      size_t kl;
      rc = dyna_scan_entry(&r, &kind, &key, &kl);
    }
    if (!rc && (m->node > DYNA_SCAN_POS_END || m->node <= j->pos)) rc = DYNA_EPROTO;
    dyna_buf_reset(&t->page);
    if (!rc) dyna_buf_put(&t->page, m->obj, m->objlen);
    if (t->page.oom) rc = DYNA_ENOMEM;
  }
  t->state = rc ? T_FAILED : T_OK;
  if (--j->nwait) return;
  if (!round_done(n, j)) job_run(n, j);
}

void dyna_scan_flush_done(dyna_node_t *n, uint64_t req, int err) {
  scan_job_t *j = n->scan_jobs;
  while (j && !(j->op == DYNA_OP_FLUSH && j->req == req)) j = j->next;
  if (!j) return; /* the job gave up (its deadline) */
  for (size_t i = 0; i < j->nt; i++) {
    if (j->t[i].id != n->cfg.id || j->t[i].state != T_WAIT) continue;
    j->wseq = n->store->writes;
    j->t[i].state = err ? T_FAILED : T_OK;
    if (!--j->nwait && !round_done(n, j)) job_run(n, j);
  }
}

void dyna_scan_tick(dyna_node_t *n) {
  dyna_flush_tick(n);
  for (scan_job_t *j = n->scan_jobs, *next; j; j = next) {
    next = j->next;
    /* A FLUSH waits long (a member flushes its whole store), but not on a member that
     * is gone. */
    int gone = 0;
    for (size_t i = 0; j->op == DYNA_OP_FLUSH && i < j->nt; i++)
      gone |= j->t[i].state == T_WAIT && !dyna_node_is_reachable(n, j->t[i].id);
    if (!j->nwait || (n->now.mono_ms < j->deadline_ms && !gone)) continue;
    for (size_t i = 0; i < j->nt; i++)
      if (j->t[i].state == T_WAIT && (n->now.mono_ms >= j->deadline_ms || !dyna_node_is_reachable(n, j->t[i].id)))
        j->t[i].state = T_FAILED;
    j->nwait = 0;
    for (size_t i = 0; i < j->nt; i++) j->nwait += j->t[i].state == T_WAIT;
    if (j->nwait) continue;
    j->nwait = 0;
    if (!round_done(n, j)) job_run(n, j);
    next = n->scan_jobs; /* the list may have changed: start over (done jobs wait for none) */
  }
}
