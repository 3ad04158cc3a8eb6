/* bench.c: dyna-bench, YCSB-style load for Dyna (or any RESP store) with tail latencies.
 *
 * One thread, one libdyna client, many non-blocking connections. The load is closed-loop:
 * --connections C virtual clients each issue --pipeline P operations, wait for all P
 * answers, then issue the next P (as redis-benchmark -c C -P P does). Each operation's
 * latency (submit to answer; for a read-modify-write, the read's submit to the write's
 * answer) goes into a log-linear histogram per operation type (src/cli/stats.h, under
 * 1% error), from which p50/p90/p99/p99.9/max are reported.
 *
 *   workload A  50% read, 50% update        B  95% read, 5% update
 *            C  100% read                   F  50% read, 50% read-modify-write
 *            W  100% update (not YCSB: the SET side of a redis-benchmark comparison)
 *
 * --protocol dyna (default): reads are DYNA.GET, updates DYNA.PUT with the newest
 * context this process saw for the key (from the load phase, a read or a write; empty if
 * none), read-modify-write is DYNA.GET then DYNA.PUT with the context just read; requests
 * are routed to the key's preference list (--routing ring) or all sent to the first seed
 * (--routing seed). --protocol redis: only GET and SET, to the first seed, so the same
 * tool drives redis-server for a side-by-side run; with an explicit --routing ring the
 * plain GET/SET are routed by key over a Dyna cluster instead.
 *
 * Connections: --protocol redis and --routing seed open C connections to the first seed;
 * --routing ring spreads them, ceil(C / nodes) per node. Stops by itself after --duration
 * seconds or --ops operations (then drains what is in flight). */
#include "cli/stats.h"
#include "dyna.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_READ, OP_UPDATE, OP_RMW, OP_INSERT, NOPS };
static const char *OP_NAME[NOPS] = {"READ", "UPDATE", "READ-MODIFY-WRITE", "INSERT"};
#define NCODES (DYNA_ENOMEM - DYNA_ELAST + 2)

typedef struct cfg {
  const char *seeds;
  char workload;
  int zipf;
  double theta;
  uint64_t keys;
  size_t value_size;
  int connections, pipeline;
  double duration;
  uint64_t ops;
  int load, load_only;
  int redis;
  int route_seed;
  int route_given;
  int r, w;
  int timeout_ms;
  const char *user, *password; /* --user, --pass (or DYNA_USER, DYNA_PASSWORD): AUTH first */
  const char *prefix;
  uint64_t seed;
  int json;
  int tls;                 /* --tls: every connection runs TLS with tls_opt */
  double warmup;           /* --warmup S: run S seconds unmeasured first (0: none) */
  dyna_tls_options_t tls_opt; /* --cacert, --cert, --key, --sni */
  double interval; /* seconds between progress lines (0: none) */
} cfg_t;

typedef struct vclient {
  int outstanding;
} vclient_t;

typedef struct bench bench_t;

typedef struct op {
  struct op *next; /* free list */
  bench_t *b;
  vclient_t *vc;
  int type;
  uint64_t key;
  uint64_t start_ns;
} op_t;

/* One --interval slice of the run: every operation type together. */
typedef struct slice {
  double t;           /* seconds from the start of the run to the end of the slice */
  double secs;        /* the slice's length */
  uint64_t ops, errors;
  uint64_t p50, p99, p999, max; /* ns */
} slice_t;

typedef struct phase_stats {
  dyna_hist_t h[NOPS];
  uint64_t errors[NOPS], notfound[NOPS];
  uint64_t codes[NCODES];
  uint64_t start_ns, end_ns;
} phase_stats_t;

struct bench {
  cfg_t cfg;
  dyna_client_t *c;
  dyna_rand_t rng;
  dyna_zipf_t zipf;
  char **ctx;  /* dyna protocol: newest context seen per key */
  size_t prefix_len;
  uint8_t *value;
  vclient_t *vc;
  op_t *free_ops;
  op_t *ops_mem;
  int loading;
  uint64_t load_next;
  uint64_t issued, done;
  uint64_t issue_limit; /* ops to issue in this phase (UINT64_MAX: by time) */
  uint64_t end_ns;      /* stop issuing at (by time) */
  int stopping;
  phase_stats_t *st;
  /* --interval: the current slice's latencies, and every finished slice (malloc'd,
   * grown as needed, freed in main) */
  dyna_hist_t slice_h;
  uint64_t slice_errors, slice_start_ns;
  slice_t *slices;
  size_t nslices, slices_cap;
};

/* Monotonic clock in nanoseconds: every latency and the run's duration. */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static void usage(FILE *f) {
  fprintf(f,
    "usage: dyna-bench [options]\n"
    "YCSB-style load with tail latencies against a Dyna cluster or any RESP server.\n"
    "  --seeds HOST:PORT,...    nodes to start from (default 127.0.0.1:7001); with --protocol\n"
    "                           redis only the first is used\n"
    "  --workload A|B|C|F|W     A 50/50 read/update, B 95/5, C read only, F 50%% read,\n"
    "                           50%% read-modify-write with the context, W update only\n"
    "                           (default A)\n"
    "  --distribution uniform|zipfian   key popularity (default uniform); zipfian is YCSB's\n"
    "                           scrambled zipfian\n"
    "  --theta X                zipfian constant, 0 < X < 1 (default 0.99)\n"
    "  --keys N                 key count; keys are PREFIX%%012d, 0..N-1 (default 100000)\n"
    "  --key-prefix S           (default \"key:\", as redis-benchmark -r names its keys)\n"
    "  --value-size B           bytes per value written (default 100)\n"
    "  --connections C          virtual clients (default 50); sockets: C to the first seed\n"
    "                           (redis, --routing seed) or ceil(C/nodes) per node (ring)\n"
    "  --pipeline P             operations each client keeps in flight, issued in batches\n"
    "                           of P as redis-benchmark -P does (default 1)\n"
    "  --duration S             run for S seconds (default 10 when --ops is not given)\n"
    "  --ops N                  run N operations instead\n"
    "  --load                   first write every key once (not measured in the run figures)\n"
    "  --load-only              only the load phase\n"
    "  --protocol dyna|redis    dyna: DYNA.GET/DYNA.PUT with contexts (default); redis:\n"
    "                           plain GET/SET only (drives redis-server or any RESP store)\n"
    "  --routing ring|seed      ring: send each request to its key's preference list\n"
    "                           (default for dyna); seed: everything through the first seed\n"
    "                           (default for redis; --routing ring routes GET/SET by key)\n"
    "  --r N, --w N             per-request read/write quorum (default: the node's)\n"
    "  --timeout-ms N           per-request timeout (default 5000)\n"
    "  --user USER, --pass PW   log every connection in (AUTH) first; default: the\n"
    "                           environment's DYNA_USER and DYNA_PASSWORD\n"
    "  --seed N                 random seed for keys and choices (default 1)\n"
    "  --interval S             also report every S seconds (at least 0.05) of the run:\n"
    "                           throughput and p50/p99/p99.9/max of all operations in\n"
    "                           that slice (a line each; with --json, \"intervals\")\n"
    "  --warmup S               first run S seconds that are not measured (connections\n"
    "                           opened, TLS handshakes done, caches warm)\n"
    "  --tls                    connect with TLS (the nodes' TLS ports: --seeds names them)\n"
    "  --cacert FILE            CA certificates the servers' must chain to (default: the\n"
    "                           system's); --cert FILE, --key FILE: a client certificate;\n"
    "                           --sni NAME: the name to check the servers' against\n"
    "  --json                   print one JSON object instead of the table\n"
    "  --help                   this text\n"
    "Latencies are from submit to answer, per operation type, in a log-linear histogram\n"
    "(under 1%% error). Exit status: 0 done, 1 cannot connect or every operation failed,\n"
    "2 usage error.\n");
}

/* ---------------------------------------------------------------- operations */

/* PREFIX%012llu without printf (it showed in the client's profile). n must hold the
 * prefix (at most 64 bytes), 20 digits and the NUL. */
static void key_name(const bench_t *b, uint64_t k, char *out, size_t n, size_t *len) {
  char d[20];
  size_t nd = 0, pl = b->prefix_len;
  do d[nd++] = (char)('0' + k % 10);
  while ((k /= 10) != 0);
  while (nd < 12) d[nd++] = '0';
  if (pl + nd + 1 > n) { *len = 0; out[0] = 0; return; }
  memcpy(out, b->cfg.prefix, pl);
  for (size_t i = 0; i < nd; i++) out[pl + i] = d[nd - 1 - i];
  out[pl + nd] = 0;
  *len = pl + nd;
}

static void remember_ctx(bench_t *b, uint64_t k, char **ctx) {
  if (!b->ctx || !*ctx) return;
  free(b->ctx[k]);
  b->ctx[k] = *ctx; /* a malloc copy, now owned by the cache */
  *ctx = NULL;
}

static void issue_batch(bench_t *b, vclient_t *vc);

static void record_code(bench_t *b, int code) {
  int i = code >= 0 ? 0 : DYNA_ENOMEM - code + 1;
  if (i < 0 || i >= NCODES) i = 0;
  b->st->codes[i]++;
}

/* An operation ended: record it, and let its client go on. */
static void op_done(bench_t *b, op_t *o, int status, int notfound) {
  phase_stats_t *st = b->st;
  if (status) {
    st->errors[o->type]++;
    b->slice_errors++;
    record_code(b, status);
  } else {
    uint64_t ns = now_ns() - o->start_ns;
    dyna_hist_record(&st->h[o->type], ns);
    if (b->cfg.interval > 0) dyna_hist_record(&b->slice_h, ns);
    if (notfound) st->notfound[o->type]++;
  }
  b->done++;
  vclient_t *vc = o->vc;
  o->next = b->free_ops;
  b->free_ops = o;
  if (--vc->outstanding == 0) issue_batch(b, vc);
}

static char *dup_ctx(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static void on_write(dyna_client_t *c, dyna_result_t *res, void *arg) {
  (void)c;
  op_t *o = arg;
  bench_t *b = o->b;
  if (!res->status && res->context && b->ctx) {
    char *d = dup_ctx(res->context);
    remember_ctx(b, o->key, &d);
  }
  op_done(b, o, res->status, 0);
}

static void on_cmd(dyna_client_t *c, dyna_result_t *res, void *arg) {
  (void)c;
  op_t *o = arg;
  op_done(o->b, o, res->status, !res->status && !res->value.data && o->type == OP_READ);
}

static int submit_update(bench_t *b, op_t *o, const char *ctx) {
  char key[128];
  size_t klen;
  key_name(b, o->key, key, sizeof(key), &klen);
  /* a little variety in the value written */
  memcpy(b->value, &b->issued, b->cfg.value_size < 8 ? b->cfg.value_size : 8);
  if (b->cfg.redis) {
    const uint8_t *argv[] = {(const uint8_t *)"SET", (const uint8_t *)key, b->value};
    size_t argl[] = {3, klen, b->cfg.value_size};
    return dyna_submit_command(b->c, 3, argv, argl, 1, on_cmd, o);
  }
  return dyna_submit_put(b->c, key, klen, ctx ? ctx : (b->ctx[o->key] ? b->ctx[o->key] : ""),
                         b->value, b->cfg.value_size, b->cfg.w, on_write, o);
}

/* The read half of a read-modify-write (and of the dyna load phase): write back with the
 * context just read. */
static void on_rmw_read(dyna_client_t *c, dyna_result_t *res, void *arg) {
  op_t *o = arg;
  bench_t *b = o->b;
  if (res->status) { op_done(b, o, res->status, 0); return; }
  const char *ctx = NULL;
  if (!b->cfg.redis) {
    ctx = res->siblings.context ? res->siblings.context : "";
  }
  int rc = submit_update(b, o, ctx);
  if (rc) op_done(b, o, rc, 0);
  (void)c;
}

static void on_read(dyna_client_t *c, dyna_result_t *res, void *arg) {
  (void)c;
  op_t *o = arg;
  bench_t *b = o->b;
  if (!res->status && b->ctx && res->siblings.context && res->siblings.context[0]) {
    char *d = dup_ctx(res->siblings.context);
    remember_ctx(b, o->key, &d);
  }
  op_done(b, o, res->status, !res->status && res->siblings.n == 0);
}

static int submit_read(bench_t *b, op_t *o, dyna_callback_t cb) {
  char key[128];
  size_t klen;
  key_name(b, o->key, key, sizeof(key), &klen);
  if (b->cfg.redis) {
    const uint8_t *argv[] = {(const uint8_t *)"GET", (const uint8_t *)key};
    size_t argl[] = {3, klen};
    return dyna_submit_command(b->c, 2, argv, argl, 1, cb == on_read ? on_cmd : on_rmw_read, o);
  }
  return dyna_submit_get(b->c, key, klen, b->cfg.r, cb, o);
}

static uint64_t next_key(bench_t *b) {
  return b->cfg.zipf ? dyna_zipf_next(&b->zipf, &b->rng) : dyna_rand_below(&b->rng, b->cfg.keys);
}

static int choose_type(bench_t *b) {
  double u = dyna_rand_double(&b->rng);
  switch (b->cfg.workload) {
  case 'A': return u < 0.5 ? OP_READ : OP_UPDATE;
  case 'B': return u < 0.95 ? OP_READ : OP_UPDATE;
  case 'C': return OP_READ;
  case 'W': return OP_UPDATE;
  default: return u < 0.5 ? OP_READ : OP_RMW;
  }
}

/* Issues the client's next batch (up to P operations), unless the phase is over. */
static void issue_batch(bench_t *b, vclient_t *vc) {
  for (int i = 0; i < b->cfg.pipeline; i++) {
    if (b->stopping || interrupted) return;
    if (b->issued >= b->issue_limit) { b->stopping = 1; return; }
    if (b->end_ns && now_ns() >= b->end_ns) { b->stopping = 1; return; }
    op_t *o = b->free_ops;
    if (!o) return;
    b->free_ops = o->next;
    o->b = b;
    o->vc = vc;
    if (b->loading) {
      o->type = OP_INSERT;
      o->key = b->load_next++;
    } else {
      o->type = choose_type(b);
      o->key = next_key(b);
    }
    o->start_ns = now_ns();
    b->issued++;
    vc->outstanding++;
    int rc;
    switch (o->type) {
    case OP_READ: rc = submit_read(b, o, on_read); break;
    case OP_UPDATE: rc = submit_update(b, o, NULL); break;
    case OP_INSERT:
      rc = b->cfg.redis ? submit_update(b, o, NULL) : submit_read(b, o, on_rmw_read);
      break;
    default: rc = submit_read(b, o, on_rmw_read); break;
    }
    if (rc) {
      /* not queued: count it as failed now (op_done may re-enter issue_batch only when
       * outstanding drops to 0, which ends this loop's work for vc) */
      vc->outstanding++; /* keep vc alive through op_done */
      op_done(b, o, rc, 0);
      vc->outstanding--;
    }
  }
}

/* Ends the current --interval slice at now: keeps it, prints it (human output), and
 * starts the next. */
static void end_slice(bench_t *b, uint64_t now) {
  if (b->nslices == b->slices_cap) {
    size_t cap = b->slices_cap ? 2 * b->slices_cap : 64;
    slice_t *a = realloc(b->slices, cap * sizeof(*a));
    if (!a) return; /* the slice is lost; the run's own figures are unaffected */
    b->slices = a;
    b->slices_cap = cap;
  }
  const dyna_hist_t *h = &b->slice_h;
  slice_t *sl = &b->slices[b->nslices++];
  sl->t = (double)(now - b->st->start_ns) / 1e9;
  sl->secs = (double)(now - b->slice_start_ns) / 1e9;
  sl->ops = h->count;
  sl->errors = b->slice_errors;
  sl->p50 = dyna_hist_quantile(h, 0.5);
  sl->p99 = dyna_hist_quantile(h, 0.99);
  sl->p999 = dyna_hist_quantile(h, 0.999);
  sl->max = h->count ? h->max : 0;
  if (!b->cfg.json) {
    printf("  [%6.1f s] %9.0f ops/s %6llu errors   latency ms: p50 %7.3f  p99 %7.3f  p99.9 %7.3f  max %8.3f\n",
           sl->t, sl->secs > 0 ? (double)sl->ops / sl->secs : 0.0, (unsigned long long)sl->errors,
           (double)sl->p50 / 1e6, (double)sl->p99 / 1e6, (double)sl->p999 / 1e6, (double)sl->max / 1e6);
    fflush(stdout);
  }
  dyna_hist_init(&b->slice_h);
  b->slice_errors = 0;
  b->slice_start_ns = now;
}

/* Runs one phase until its limit; returns 0. */
static void run_phase(bench_t *b, phase_stats_t *st, int loading, uint64_t limit, double secs) {
  memset(st, 0, sizeof(*st));
  for (int i = 0; i < NOPS; i++) dyna_hist_init(&st->h[i]);
  b->st = st;
  b->loading = loading;
  b->load_next = 0;
  b->issued = b->done = 0;
  b->stopping = 0;
  b->issue_limit = limit;
  st->start_ns = now_ns();
  b->end_ns = secs > 0 ? st->start_ns + (uint64_t)(secs * 1e9) : 0;
  int slicing = !loading && b->cfg.interval > 0;
  uint64_t slice_ns = slicing ? (uint64_t)(b->cfg.interval * 1e9) : 0;
  dyna_hist_init(&b->slice_h);
  b->slice_errors = 0;
  b->slice_start_ns = st->start_ns;
  b->nslices = 0;
  for (int i = 0; i < b->cfg.connections; i++) issue_batch(b, &b->vc[i]);
  while (dyna_pending(b->c)) {
    dyna_poll(b->c, 50);
    uint64_t now = now_ns();
    if (interrupted) b->stopping = 1;
    if (b->end_ns && now >= b->end_ns) b->stopping = 1;
    if (slicing && now - b->slice_start_ns >= slice_ns) end_slice(b, now);
  }
  /* run figures cover issuing and draining */
  st->end_ns = now_ns();
  if (slicing && (b->slice_h.count || b->slice_errors)) end_slice(b, st->end_ns);
}

/* ---------------------------------------------------------------- reports */

static double secs_of(const phase_stats_t *st) { return (double)(st->end_ns - st->start_ns) / 1e9; }

static uint64_t total_ops(const phase_stats_t *st, uint64_t *errors) {
  uint64_t n = 0, e = 0;
  for (int i = 0; i < NOPS; i++) { n += st->h[i].count; e += st->errors[i]; }
  if (errors) *errors = e;
  return n;
}

static void print_human_phase(const char *name, const phase_stats_t *st) {
  uint64_t errors, n = total_ops(st, &errors);
  double s = secs_of(st);
  printf("%s: %llu ops in %.2f s = %.0f ops/s, %llu errors\n", name, (unsigned long long)n, s,
         s > 0 ? (double)n / s : 0.0, (unsigned long long)errors);
  printf("  %-18s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "op (latency ms)", "count", "ops/s",
         "errors", "mean", "p50", "p90", "p99", "p99.9", "max");
  for (int i = 0; i < NOPS; i++) {
    const dyna_hist_t *h = &st->h[i];
    if (!h->count && !st->errors[i]) continue;
    printf("  %-18s %9llu %9.0f %8llu %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", OP_NAME[i],
           (unsigned long long)h->count, s > 0 ? (double)h->count / s : 0.0,
           (unsigned long long)st->errors[i], dyna_hist_mean(h) / 1e6,
           (double)dyna_hist_quantile(h, 0.5) / 1e6, (double)dyna_hist_quantile(h, 0.9) / 1e6,
           (double)dyna_hist_quantile(h, 0.99) / 1e6, (double)dyna_hist_quantile(h, 0.999) / 1e6,
           (double)h->max / 1e6);
  }
  for (int i = 1; i < NCODES; i++)
    if (st->codes[i])
      printf("  errors: %llu x %s\n", (unsigned long long)st->codes[i],
             dyna_strerror(DYNA_ENOMEM - (i - 1)));
}

static void print_json_phase(const phase_stats_t *st) {
  uint64_t errors, n = total_ops(st, &errors);
  double s = secs_of(st);
  printf("{\"seconds\": %.3f, \"ops\": %llu, \"errors\": %llu, \"ops_per_sec\": %.1f, \"by_op\": {",
         s, (unsigned long long)n, (unsigned long long)errors, s > 0 ? (double)n / s : 0.0);
  int first = 1;
  for (int i = 0; i < NOPS; i++) {
    const dyna_hist_t *h = &st->h[i];
    if (!h->count && !st->errors[i]) continue;
    printf("%s\"%s\": {\"count\": %llu, \"errors\": %llu, \"not_found\": %llu, \"ops_per_sec\": %.1f, "
           "\"latency_us\": {\"mean\": %.1f, \"min\": %.1f, \"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, "
           "\"p999\": %.1f, \"max\": %.1f}}",
           first ? "" : ", ", OP_NAME[i], (unsigned long long)h->count,
           (unsigned long long)st->errors[i], (unsigned long long)st->notfound[i],
           s > 0 ? (double)h->count / s : 0.0, dyna_hist_mean(h) / 1e3,
           h->count ? (double)h->min / 1e3 : 0.0,
           (double)dyna_hist_quantile(h, 0.5) / 1e3, (double)dyna_hist_quantile(h, 0.9) / 1e3,
           (double)dyna_hist_quantile(h, 0.99) / 1e3, (double)dyna_hist_quantile(h, 0.999) / 1e3,
           (double)h->max / 1e3);
    first = 0;
  }
  printf("}, \"errors_by_code\": {");
  first = 1;
  for (int i = 1; i < NCODES; i++)
    if (st->codes[i]) {
      printf("%s\"%s\": %llu", first ? "" : ", ", dyna_strerror(DYNA_ENOMEM - (i - 1)),
             (unsigned long long)st->codes[i]);
      first = 0;
    }
  printf("}}");
}

/* --interval with --json: the run's slices, as ", \"intervals\": [...]". */
static void print_json_slices(const bench_t *b) {
  printf(", \"intervals\": [");
  for (size_t i = 0; i < b->nslices; i++) {
    const slice_t *sl = &b->slices[i];
    printf("%s{\"t\": %.3f, \"seconds\": %.3f, \"ops\": %llu, \"errors\": %llu, \"ops_per_sec\": %.1f, "
           "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f}}",
           i ? ", " : "", sl->t, sl->secs, (unsigned long long)sl->ops, (unsigned long long)sl->errors,
           sl->secs > 0 ? (double)sl->ops / sl->secs : 0.0, (double)sl->p50 / 1e3,
           (double)sl->p99 / 1e3, (double)sl->p999 / 1e3, (double)sl->max / 1e3);
  }
  printf("]");
}

/* ---------------------------------------------------------------- main */

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || s[0] == '-') return -1;
  *out = v;
  return 0;
}

static int parse_args(int argc, char **argv, cfg_t *c) {
  memset(c, 0, sizeof(*c));
  c->seeds = "127.0.0.1:7001";
  c->workload = 'A';
  c->theta = 0.99;
  c->keys = 100000;
  c->value_size = 100;
  c->connections = 50;
  c->pipeline = 1;
  c->timeout_ms = 5000;
  c->prefix = "key:";
  c->seed = 1;
  c->user = getenv("DYNA_USER");
  c->password = getenv("DYNA_PASSWORD");
  if (c->user && !*c->user) c->user = NULL;
  if (c->password && !*c->password) c->password = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
    if (!strcmp(a, "--json")) { c->json = 1; continue; }
    if (!strcmp(a, "--tls")) { c->tls = 1; continue; }
    if (!strcmp(a, "--load")) { c->load = 1; continue; }
    if (!strcmp(a, "--load-only")) { c->load = c->load_only = 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "dyna-bench: %s needs a value\n", a); return -1; }
    const char *v = argv[++i];
    uint64_t u = 0;
    int bad = 0;
    if (!strcmp(a, "--seeds")) c->seeds = v;
    else if (!strcmp(a, "--workload")) {
      c->workload = (char)(v[0] & ~0x20);
      bad = v[1] || !strchr("ABCFW", c->workload);
    } else if (!strcmp(a, "--distribution")) {
      c->zipf = !strcmp(v, "zipfian");
      bad = !c->zipf && strcmp(v, "uniform");
    } else if (!strcmp(a, "--theta")) {
      c->theta = atof(v);
      bad = !(c->theta > 0 && c->theta < 1);
    } else if (!strcmp(a, "--keys")) bad = parse_u64(v, &c->keys) || !c->keys;
    else if (!strcmp(a, "--key-prefix")) { c->prefix = v; bad = strlen(v) > 64; }
    else if (!strcmp(a, "--value-size")) { bad = parse_u64(v, &u) || u > (64u << 20); c->value_size = (size_t)u; }
    else if (!strcmp(a, "--connections")) { bad = parse_u64(v, &u) || !u || u > 10000; c->connections = (int)u; }
    else if (!strcmp(a, "--pipeline")) { bad = parse_u64(v, &u) || !u || u > 10000; c->pipeline = (int)u; }
    else if (!strcmp(a, "--duration")) { c->duration = atof(v); bad = !(c->duration > 0); }
    else if (!strcmp(a, "--ops")) bad = parse_u64(v, &c->ops) || !c->ops;
    else if (!strcmp(a, "--protocol")) { c->redis = !strcmp(v, "redis"); bad = !c->redis && strcmp(v, "dyna"); }
    else if (!strcmp(a, "--routing")) {
      c->route_seed = !strcmp(v, "seed");
      c->route_given = 1;
      bad = !c->route_seed && strcmp(v, "ring");
    }
    else if (!strcmp(a, "--r")) { bad = parse_u64(v, &u) || !u || u > 64; c->r = (int)u; }
    else if (!strcmp(a, "--w")) { bad = parse_u64(v, &u) || !u || u > 64; c->w = (int)u; }
    else if (!strcmp(a, "--user")) c->user = *v ? v : NULL;
    else if (!strcmp(a, "--pass")) c->password = *v ? v : NULL;
    else if (!strcmp(a, "--timeout-ms")) { bad = parse_u64(v, &u) || !u || u > 3600000; c->timeout_ms = (int)u; }
    else if (!strcmp(a, "--seed")) bad = parse_u64(v, &c->seed);
    else if (!strcmp(a, "--warmup")) { c->warmup = atof(v); bad = !(c->warmup > 0); }
    else if (!strcmp(a, "--cacert")) c->tls_opt.cacert = v;
    else if (!strcmp(a, "--cert")) c->tls_opt.cert = v;
    else if (!strcmp(a, "--key")) c->tls_opt.key = v;
    else if (!strcmp(a, "--sni")) c->tls_opt.sni = v;
    else if (!strcmp(a, "--interval")) { c->interval = atof(v); bad = !(c->interval >= 0.05); }
    else { fprintf(stderr, "dyna-bench: unknown option %s (see --help)\n", a); return -1; }
    if (bad) { fprintf(stderr, "dyna-bench: bad value for %s: %s\n", a, v); return -1; }
  }
  if (!c->ops && !(c->duration > 0)) c->duration = 10;
  if (c->ops) c->duration = 0;
  return 0;
}

int main(int argc, char **argv) {
  bench_t b;
  memset(&b, 0, sizeof(b));
  if (parse_args(argc, argv, &b.cfg)) { usage(stderr); return 2; }
  cfg_t *cfg = &b.cfg;
  b.prefix_len = strlen(cfg->prefix);
  signal(SIGINT, on_sigint);
  signal(SIGPIPE, SIG_IGN);
  dyna_rand_seed(&b.rng, cfg->seed);
  if (cfg->zipf && dyna_zipf_init(&b.zipf, cfg->keys, cfg->theta, 1)) { usage(stderr); return 2; }

  dyna_options_t o;
  dyna_options_init(&o);
  o.timeout_ms = cfg->timeout_ms;
  o.user = cfg->user;
  o.password = cfg->password;
  int redis_routed = cfg->redis && cfg->route_given && !cfg->route_seed;
  o.routing = (cfg->redis && !redis_routed) || cfg->route_seed ? DYNA_ROUTE_NONE : DYNA_ROUTE_RING;
  char first[300];
  snprintf(first, sizeof(first), "%s", cfg->seeds);
  char *comma = strchr(first, ',');
  if (comma && cfg->redis && !redis_routed) *comma = 0; /* redis: the first seed only */
  int rc;
  const dyna_tls_options_t *tls = cfg->tls ? &cfg->tls_opt : NULL;
  if (cfg->redis && !redis_routed) rc = dyna_client_open_tls(first, &o, tls, &b.c);
  else rc = dyna_client_open_tls(cfg->seeds, &o, tls, &b.c);
  if (rc) {
    fprintf(stderr, "dyna-bench: %s: %s\n", dyna_strerror(rc), b.c ? dyna_client_errmsg(b.c) : "");
    dyna_client_close(b.c);
    return 1;
  }
  size_t nodes = dyna_client_node_count(b.c);
  int per_node = o.routing == DYNA_ROUTE_RING
                     ? (int)((cfg->connections + (int)nodes - 1) / (int)(nodes ? nodes : 1))
                     : cfg->connections;
  dyna_client_set_conns_per_node(b.c, per_node);

  size_t nops = (size_t)cfg->connections * (size_t)cfg->pipeline;
  b.ops_mem = calloc(nops, sizeof(op_t));
  b.vc = calloc((size_t)cfg->connections, sizeof(vclient_t));
  b.value = malloc(cfg->value_size + 8);
  if (!cfg->redis) b.ctx = calloc(cfg->keys, sizeof(char *));
  if (!b.ops_mem || !b.vc || !b.value || (!cfg->redis && !b.ctx)) {
    fprintf(stderr, "dyna-bench: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < nops; i++) {
    b.ops_mem[i].next = b.free_ops;
    b.free_ops = &b.ops_mem[i];
  }
  for (size_t i = 0; i < cfg->value_size; i++) b.value[i] = (uint8_t)('a' + dyna_rand_below(&b.rng, 26));

  static phase_stats_t load_st, run_st, warm_st; /* large: keep them off the stack */
  const char *proto = cfg->redis ? "redis" : "dyna";
  const char *routing = o.routing == DYNA_ROUTE_RING ? "ring" : "seed";
  if (!cfg->json) {
    printf("dyna-bench: workload %c, %llu keys (%s%s), %zu-byte values, %d connections x pipeline %d,\n"
           "  protocol %s, routing %s (%zu nodes known, ring version %llu, %d connections per node), seeds %s\n",
           cfg->workload, (unsigned long long)cfg->keys, cfg->zipf ? "zipfian" : "uniform",
           cfg->zipf ? "" : "", cfg->value_size, cfg->connections, cfg->pipeline, proto, routing,
           nodes, (unsigned long long)dyna_client_ring_version(b.c), per_node, cfg->seeds);
    fflush(stdout);
  }
  if (cfg->load) {
    run_phase(&b, &load_st, 1, cfg->keys, 0);
    if (!cfg->json) print_human_phase("load", &load_st);
  }
  /* Warm-up: every connection opened (TLS handshakes done) before anything is measured. */
  if (!cfg->load_only && !interrupted && cfg->warmup > 0) run_phase(&b, &warm_st, 0, UINT64_MAX, cfg->warmup);
  if (!cfg->load_only && !interrupted)
    run_phase(&b, &run_st, 0, cfg->ops ? cfg->ops : UINT64_MAX, cfg->duration);
  if (!cfg->load_only && !cfg->json) print_human_phase("run", &run_st);
  if (cfg->json) {
    printf("{\"tool\": \"dyna-bench\", \"workload\": \"%c\", \"protocol\": \"%s\", \"routing\": \"%s\", "
           "\"seeds\": \"%s\", \"nodes\": %zu, \"ring_version\": %llu, \"keys\": %llu, "
           "\"distribution\": \"%s\", \"value_size\": %zu, \"connections\": %d, \"pipeline\": %d, "
           "\"load\": ",
           cfg->workload, proto, routing, cfg->seeds, nodes,
           (unsigned long long)dyna_client_ring_version(b.c), (unsigned long long)cfg->keys,
           cfg->zipf ? "zipfian" : "uniform", cfg->value_size, cfg->connections, cfg->pipeline);
    if (cfg->load) print_json_phase(&load_st);
    else printf("null");
    printf(", \"run\": ");
    if (!cfg->load_only) print_json_phase(&run_st);
    else printf("null");
    if (cfg->interval > 0) print_json_slices(&b);
    printf("}\n");
  }
  uint64_t e1 = 0, e2 = 0;
  uint64_t n1 = cfg->load ? total_ops(&load_st, &e1) : 0;
  uint64_t n2 = cfg->load_only ? 0 : total_ops(&run_st, &e2);
  int status = (n1 + n2 == 0 && e1 + e2 > 0) ? 1 : 0;
  if (b.ctx)
    for (uint64_t i = 0; i < cfg->keys; i++) free(b.ctx[i]);
  free(b.ctx);
  free(b.ops_mem);
  free(b.vc);
  free(b.value);
  free(b.slices);
  dyna_client_close(b.c);
  return status;
}
