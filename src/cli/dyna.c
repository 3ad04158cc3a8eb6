/* dyna.c: the dyna command-line client: get, put, del, ping against one node, the typed
 * commands (incr, sadd, smembers, hset, ..., expire, ttl, type: dyna.h's typed calls),
 * and the operator views (status, ring, top). Exit status 0
 * on success, 1 with a one-line message on stderr on any error, 2 on a usage error. */
#include "dyna.h"
#include "cli/progress.h"
#include "cli/nodes.h"
#include "cli/top.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: dyna [-h HOST] [-p PORT] [-t TIMEOUT_MS] [--user USER] [--pass PASSWORD]\n"
    "            [--tls [--cacert FILE] [--cert FILE --key FILE] [--sni NAME]] COMMAND [ARGS]\n"
    "  (--tls: connect with TLS, to the node's TLS port given with -p; the server's\n"
    "   certificate must chain to --cacert and name HOST, or --sni;\n"
    "   --user/--pass, or DYNA_USER/DYNA_PASSWORD: log in first)\n"
    "  get KEY [--r N]                      every sibling and the context\n"
    "  local KEY                            this node's own replica only\n"
    "  put KEY VALUE [--context C] [--w N]  write; prints the new context\n"
    "  del KEY [--context C] [--w N]        delete (tombstone); prints the new context\n"
    "  ping                                 PONG when the node answers\n"
    "types (merged by every replica; no contexts):\n"
    "  incr KEY [N]                         add N (default 1) to a counter; prints the value\n"
    "  sadd KEY MEMBER...                   add to a set; prints how many were new\n"
    "  srem KEY MEMBER...                   remove from a set; prints how many were there\n"
    "  smembers KEY                         the members, one a line, sorted\n"
    "  hset KEY FIELD VALUE [FIELD VALUE]...  set hash fields; prints how many were new\n"
    "  hget KEY FIELD                       one field's value, or (nil)\n"
    "  hgetall KEY                          FIELD VALUE, one field a line\n"
    "  zadd KEY SCORE MEMBER [SCORE MEMBER]...  add to a sorted set; prints how many were new\n"
    "  zincrby KEY N MEMBER                 add N to a member's score; prints the score\n"
    "  zrange KEY [START STOP]              MEMBER SCORE by rank (default 0 -1)\n"
    "  lpush KEY VALUE...                   push at the head; prints the length\n"
    "  rpush KEY VALUE...                   push at the tail; prints the length\n"
    "  lrange KEY [START STOP]              the elements, one a line (default 0 -1)\n"
    "  lpop KEY [COUNT]                     pop from the head, one a line, or (nil)\n"
    "  expire KEY SECONDS                   1 when set, 0 when the key is absent\n"
    "  ttl KEY                              seconds left (-1: no expiry, -2: absent)\n"
    "  persist KEY                          1 when an expiry was dropped, else 0\n"
    "  type KEY                             string, set, hash, zset, list or none\n"
    "  status [--interval S]                members as the node sees them, then each node's rates\n"
    "                                       from two INFO readings S seconds apart (default 1; 0: none)\n"
    "  top [--interval S] [--count N]       per-node rates, p99, keys, hints, handoff, repair,\n"
    "                                       again every S seconds (default 1), N times (default: until ^C)\n"
    "  ring                                 partition -> preference list\n"
    "  admin join HOST:PORT                 make the node join the member at that cluster address\n"
    "  admin leave [--wait]                 the node hands its data off and leaves\n"
    "                                       (--wait: print its progress until removed)\n"
    "  admin remove NODE                    remove a dead member (name or id)\n"
    "  admin repair [PARTITION] [--wait]    force anti-entropy exchanges now\n"
    "                                       (--wait: print their progress until done)\n"
    "defaults: -h 127.0.0.1 -p 7001 -t 5000\n"
    "--user, --pass: log in (AUTH) first; the environment's DYNA_USER and DYNA_PASSWORD\n"
    "  when not given (a password on the command line shows in ps: prefer DYNA_PASSWORD)\n");
}

/* Prints bytes, escaping what is not printable (like redis-cli). */
static void print_bytes(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\\') fputs("\\\\", stdout);
    else if (isprint(p[i])) putchar(p[i]);
    else printf("\\x%02x", p[i]);
  }
}

static int die(dyna_client_t *c, int rc) {
  const char *detail = c ? dyna_client_errmsg(c) : "";
  fprintf(stderr, "dyna: %s%s%s\n", dyna_strerror(rc), *detail ? ": " : "", detail);
  dyna_client_close(c);
  return 1;
}

typedef struct opts {
  const char *context;
  int r, w;
} opts_t;

/* Parses --context/--r/--w from argv[i..]; returns -1 on a usage error. */
static int parse_opts(int argc, char **argv, int i, opts_t *o) {
  for (; i < argc; i += 2) {
    if (i + 1 >= argc) return -1;
    if (!strcmp(argv[i], "--context")) o->context = argv[i + 1];
    else if (!strcmp(argv[i], "--r")) o->r = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--w")) o->w = atoi(argv[i + 1]);
    else return -1;
    if ((!strcmp(argv[i], "--r") && o->r <= 0) || (!strcmp(argv[i], "--w") && o->w <= 0)) return -1;
  }
  return 0;
}

/* Runs a command whose reply is printed by show; returns the exit status. */
static int run_command(dyna_client_t *c, size_t argc, const char **args,
                       void (*show)(const dyna_reply_t *)) {
  const uint8_t *argv[4];
  size_t argl[4];
  for (size_t i = 0; i < argc; i++) {
    argv[i] = (const uint8_t *)args[i];
    argl[i] = strlen(args[i]);
  }
  dyna_reply_t *v;
  int rc = dyna_command(c, argc, argv, argl, &v);
  if (rc) return die(c, rc);
  show(v);
  dyna_reply_free(v);
  dyna_client_close(c);
  return 0;
}

static const char *field(const dyna_reply_t *row, size_t i) {
  return i < row->n && row->elem[i].str ? (const char *)row->elem[i].str : "";
}

/* A DYNA.STATUS row: at least 9 fields (a 10th, the site, since sites). */
static int status_row(const dyna_reply_t *r) { return r->type == DYNA_REPLY_ARRAY && r->n >= 9; }

/* Orders DYNA.STATUS rows by site, zone, then name (site = field 9, zone = field 5). */
static int cmp_site_zone_name(const void *a, const void *b) {
  const dyna_reply_t *x = *(const dyna_reply_t *const *)a, *y = *(const dyna_reply_t *const *)b;
  int c = strcmp(field(x, 9), field(y, 9));
  if (!c) c = strcmp(field(x, 5), field(y, 5));
  return c ? c : strcmp(field(x, 0), field(y, 0));
}

/* The rows of a DYNA.STATUS reply, grouped by site and zone, into *out (malloc'd; the
 * caller frees it). Returns the count. */
static size_t status_grouped(const dyna_reply_t *v, const dyna_reply_t ***out) {
  size_t k = 0;
  *out = malloc((v->n ? v->n : 1) * sizeof(**out));
  if (!*out) return 0;
  for (size_t i = 0; i < v->n; i++)
    if (status_row(&v->elem[i])) (*out)[k++] = &v->elem[i];
  qsort(*out, k, sizeof(**out), cmp_site_zone_name);
  return k;
}

/* DYNA.STATUS rows: name, id, cluster addr, client addr, status, zone, owned, reachable,
 * phi, site; shown grouped by site (a heading per site when any is declared), then zone.
 * Returns 1 when some member declares a site. */
static int show_status(const dyna_reply_t *v) {
  int64_t total = 0, sites = 0;
  const dyna_reply_t **rows;
  size_t n = status_grouped(v, &rows);
  for (size_t i = 0; i < n; i++) total += rows[i]->elem[6].integer;
  printf("%-10s %-16s %-21s %-21s %-8s %-8s %6s %6s  %-12s %s\n", "NAME", "ID", "CLUSTER", "CLIENT", "STATUS",
         "ZONE", "PARTS", "SHARE", "SEEN HERE", "PHI");
  for (size_t i = 0; i < n; i++) {
    const dyna_reply_t *r = rows[i];
    if (*field(r, 9) && (i == 0 || strcmp(field(rows[i - 1], 9), field(r, 9)))) printf("site %s:\n", field(r, 9));
    sites += *field(r, 9) != 0;
    double share = total ? 100.0 * (double)r->elem[6].integer / (double)total : 0;
    printf("%-10s %-16s %-21s %-21s %-8s %-8s %6lld %5.1f%%  %-12s %s\n", field(r, 0), field(r, 1), field(r, 2),
           field(r, 3), field(r, 4), *field(r, 5) ? field(r, 5) : "-", (long long)r->elem[6].integer, share,
           field(r, 7), field(r, 8));
  }
  free(rows);
  return sites > 0;
}

/* With sites: the cross-site replication lag per site, from every member's INFO
 * (hints_site_<dc>): the hints the members hold for that site's nodes, summed, and the
 * longest any member has held some. Nothing when the cluster has no sites. */
static void show_site_lag(dyna_client_t *c, const dyna_options_t *opt, const dyna_tls_options_t *tls) {
  dyna_cli_nodes_t ns;
  char dc[8][32];
  long long waiting[8] = {0}, oldest[8] = {0};
  size_t nd = 0, answered = 0;
  dyna_cli_nodes_init(&ns, c, opt, tls);
  if (dyna_cli_nodes_read(&ns) == 0) {
    for (size_t i = 0; i < ns.len; i++) {
      const dyna_cli_node_t *n = &ns.n[i];
      if (!n->have || n->err[0]) continue;
      answered++;
      for (size_t j = 0; j < n->nlag; j++) {
        size_t k = 0;
        while (k < nd && strcmp(dc[k], n->lag_dc[j])) k++;
        if (k == nd && nd == 8) continue;
        if (k == nd) memcpy(dc[nd++], n->lag_dc[j], sizeof(dc[0]));
        waiting[k] += n->lag_waiting[j];
        if (n->lag_oldest_ms[j] > oldest[k]) oldest[k] = n->lag_oldest_ms[j];
      }
    }
  }
  if (nd) {
    printf("replication to each site (hints its nodes have yet to get; %zu of %zu members answered):\n", answered,
           ns.len);
    for (size_t k = 0; k < nd; k++)
      printf("site %s: %lld hints waiting, oldest %.1f s\n", dc[k], waiting[k], (double)oldest[k] / 1000.0);
  }
  dyna_cli_nodes_free(&ns);
}

/* For dyna ring: the members by site and zone, one line per (site, zone). */
static void show_members_by_site(const dyna_reply_t *v) {
  const dyna_reply_t **rows;
  size_t n = status_grouped(v, &rows);
  for (size_t i = 0; i < n; i++) {
    const dyna_reply_t *r = rows[i];
    int same = i && !strcmp(field(rows[i - 1], 9), field(r, 9)) && !strcmp(field(rows[i - 1], 5), field(r, 5));
    if (!same)
      printf("%ssite %s zone %s:", i ? "\n" : "", *field(r, 9) ? field(r, 9) : "-", *field(r, 5) ? field(r, 5) : "-");
    printf(" %s", field(r, 0));
  }
  if (n) printf("\n");
  free(rows);
}

/* DYNA.RING: size, n, version, members, preference lists. */
static void show_ring(const dyna_reply_t *v) {
  if (v->n != 5 || v->elem[3].type != DYNA_REPLY_ARRAY || v->elem[4].type != DYNA_REPLY_ARRAY) return;
  const dyna_reply_t *members = &v->elem[3], *lists = &v->elem[4];
  printf("ring: %lld partitions, n=%lld, version %lld\n", (long long)v->elem[0].integer,
         (long long)v->elem[1].integer, (long long)v->elem[2].integer);
  for (size_t p = 0; p < lists->n; p++) {
    printf("%5zu:", p);
    for (size_t j = 0; j < lists->elem[p].n; j++) {
      int64_t idx = lists->elem[p].elem[j].integer;
      printf(" %s", idx >= 0 && (size_t)idx < members->n ? field(&members->elem[idx], 2) : "?");
    }
    printf("\n");
  }
}

/* The background-work counters of INFO, on one line each group. */
static void show_counters(const dyna_reply_t *v) {
  static const char *keys[] = {"node_name", "ring_version", "hints_stored", "hints_delivered",
                               "read_repairs", "aae_keys_repaired", "handoff_keys_sent",
                               "handoff_bytes", "tombstones_reaped", "noquorum"};
  if (v->type != DYNA_REPLY_STRING) return;
  const char *text = (const char *)v->str;
  printf("node:");
  for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s:", keys[k]);
    const char *at = strstr(text, pat);
    if (!at) continue;
    at += strlen(pat);
    printf(" %s=%.*s", keys[k], (int)strcspn(at, "\r\n"), at);
  }
  printf("\n");
  /* Anti-entropy's progress through this node's partitions: on a node that took a dead
   * member's place (an empty data directory), how far its rebuild got. */
  const char *m = strstr(text, "\naae_partitions_matched:"), *r = strstr(text, "\naae_partitions_replicated:");
  const char *k = strstr(text, "\naae_keys_repaired:"), *qd = strstr(text, "\naae_partitions_queued:");
  if (m && r && k) {
    long long matched = atoll(strchr(m, ':') + 1), replicated = atoll(strchr(r, ':') + 1);
    int width = 30, filled = replicated ? (int)(width * matched / replicated) : width;
    printf("rebuild: [%.*s%.*s] %lld of %lld partitions matched a replica since start, %lld keys repaired,"
           " %lld exchanges queued\n",
           filled, "##############################", width - filled, "..............................",
           matched, replicated, atoll(strchr(k, ':') + 1), qd ? atoll(strchr(qd, ':') + 1) : 0);
  }
  /* Partition handoff: what this node still has to move (after a join, leave or remove). */
  const char *hp = strstr(text, "\nhandoff_partitions_pending:"), *hs = strstr(text, "\nhandoff_keys_deleted:");
  const char *hd = strstr(text, "\nhandoff_partitions_done:");
  if (hp) {
    long long pending = atoll(strchr(hp, ':') + 1), done = hd ? atoll(strchr(hd, ':') + 1) : 0;
    int width = 30, filled = pending + done ? (int)(width * done / (pending + done)) : width;
    printf("handoff: [%.*s%.*s] %lld of %lld partitions handed off since start; %lld partitions still to hand off"
           " here, %lld keys handed off and deleted since start\n",
           filled, "##############################", width - filled, "..............................", done,
           pending + done, pending, hs ? atoll(strchr(hs, ':') + 1) : 0);
  }
}

static void show_ok(const dyna_reply_t *v) { (void)v; printf("OK\n"); }

/* ---- the typed subcommands ------------------------------------------------------ */

typedef struct typed_cmd {
  const char *name;
  int min, max; /* arguments after KEY (max -1: any number) */
  int step;     /* the arguments after KEY come in groups of step */
} typed_cmd_t;

static const typed_cmd_t typed_cmds[] = {
    {"incr", 0, 1, 1},     {"sadd", 1, -1, 1},   {"srem", 1, -1, 1},    {"smembers", 0, 0, 1},
    {"hset", 2, -1, 2},    {"hget", 1, 1, 1},    {"hgetall", 0, 0, 1},  {"zadd", 2, -1, 2},
    {"zincrby", 2, 2, 2},  {"zrange", 0, 2, 2},  {"lpush", 1, -1, 1},   {"rpush", 1, -1, 1},
    {"lrange", 0, 2, 2},   {"lpop", 0, 1, 1},    {"expire", 1, 1, 1},   {"ttl", 0, 0, 1},
    {"persist", 0, 0, 1},  {"type", 0, 0, 1},    {NULL, 0, 0, 0}};

static const typed_cmd_t *typed_find(const char *name) {
  for (const typed_cmd_t *t = typed_cmds; t->name; t++)
    if (!strcmp(t->name, name)) return t;
  return NULL;
}

/* Parses a whole decimal integer; 0 on success. */
static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (!*s || *end || errno) return -1;
  *out = x;
  return 0;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (!*s || *end || errno || d != d) return -1;
  *out = d;
  return 0;
}

static int cmp_value(const void *a, const void *b) {
  const dyna_value_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->data, y->data, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Prints values one a line (pairs: two a line, separated by a space); "(empty)" or
 * "(nil)" when there are none. */
static void print_values(dyna_values_t *v, int pairs, const char *none) {
  if (!v->n) printf("%s\n", none);
  for (size_t k = 0; k < v->n; k++) {
    print_bytes(v->values[k].data, v->values[k].len);
    if (v->scores) printf(" %.17g", v->scores[k]);
    putchar(pairs && k % 2 == 0 ? ' ' : '\n');
  }
}

/* Runs typed command t on KEY = argv[0] with args argv[1..n); returns the exit status. */
static int run_typed(dyna_client_t *c, const typed_cmd_t *t, char **argv, int n) {
  const char *key = argv[0];
  size_t klen = strlen(key);
  const char *name = t->name;
  int nv = n - 1;
  const uint8_t **v = calloc(nv > 0 ? (size_t)nv : 1, sizeof(*v));
  size_t *vl = calloc(nv > 0 ? (size_t)nv : 1, sizeof(*vl));
  double *sc = calloc(nv > 0 ? (size_t)nv : 1, sizeof(*sc));
  if (!v || !vl || !sc) { free(v); free(vl); free(sc); return die(c, DYNA_ENOMEM); }
  for (int k = 0; k < nv; k++) {
    v[k] = (const uint8_t *)argv[k + 1];
    vl[k] = strlen(argv[k + 1]);
  }
  int rc = 0, usage_err = 0, flag = 0;
  int64_t x = 0, y = -1;
  double d = 0;
  dyna_values_t vals = {0};
  char type[16];
  if (!strcmp(name, "incr")) {
    x = 1;
    if (nv && parse_i64(argv[1], &x)) usage_err = 1;
    else if (!(rc = dyna_incrby(c, key, klen, x, &x))) printf("%lld\n", (long long)x);
  } else if (!strcmp(name, "sadd") || !strcmp(name, "srem")) {
    rc = name[1] == 'a' ? dyna_sadd(c, key, klen, (size_t)nv, v, vl, &x)
                        : dyna_srem(c, key, klen, (size_t)nv, v, vl, &x);
    if (!rc) printf("%lld\n", (long long)x);
  } else if (!strcmp(name, "smembers")) {
    if (!(rc = dyna_smembers(c, key, klen, &vals))) {
      if (vals.n) qsort(vals.values, vals.n, sizeof(dyna_value_t), cmp_value);
      print_values(&vals, 0, "(empty)");
    }
  } else if (!strcmp(name, "hset")) {
    const uint8_t **f = calloc((size_t)nv / 2 + 1, sizeof(*f)), **hv = calloc((size_t)nv / 2 + 1, sizeof(*hv));
    size_t *fl = calloc((size_t)nv / 2 + 1, sizeof(*fl)), *hl = calloc((size_t)nv / 2 + 1, sizeof(*hl));
    if (!f || !hv || !fl || !hl) rc = DYNA_ENOMEM;
    for (int k = 0; !rc && k < nv / 2; k++) {
      f[k] = v[2 * k]; fl[k] = vl[2 * k];
      hv[k] = v[2 * k + 1]; hl[k] = vl[2 * k + 1];
    }
    if (!rc && !(rc = dyna_hset(c, key, klen, (size_t)nv / 2, f, fl, hv, hl, &x)))
      printf("%lld\n", (long long)x);
    free(f); free(hv); free(fl); free(hl);
  } else if (!strcmp(name, "hget")) {
    if (!(rc = dyna_hget(c, key, klen, v[0], vl[0], &vals))) print_values(&vals, 0, "(nil)");
  } else if (!strcmp(name, "hgetall")) {
    if (!(rc = dyna_hgetall(c, key, klen, &vals))) print_values(&vals, 1, "(empty)");
  } else if (!strcmp(name, "zadd")) {
    const uint8_t **m = calloc((size_t)nv / 2 + 1, sizeof(*m));
    size_t *ml = calloc((size_t)nv / 2 + 1, sizeof(*ml));
    if (!m || !ml) rc = DYNA_ENOMEM;
    for (int k = 0; !rc && !usage_err && k < nv / 2; k++) {
      if (parse_double(argv[1 + 2 * k], &sc[k])) usage_err = 1;
      m[k] = v[2 * k + 1]; ml[k] = vl[2 * k + 1];
    }
    if (!rc && !usage_err && !(rc = dyna_zadd(c, key, klen, (size_t)nv / 2, sc, m, ml, &x)))
      printf("%lld\n", (long long)x);
    free(m); free(ml);
  } else if (!strcmp(name, "zincrby")) {
    if (parse_double(argv[1], &d)) usage_err = 1;
    else if (!(rc = dyna_zincrby(c, key, klen, d, v[1], vl[1], &d))) printf("%.17g\n", d);
  } else if (!strcmp(name, "zrange") || !strcmp(name, "lrange")) {
    x = 0;
    if (nv == 2 && (parse_i64(argv[1], &x) || parse_i64(argv[2], &y))) usage_err = 1;
    else if (name[0] == 'z') {
      if (!(rc = dyna_zrange_withscores(c, key, klen, x, y, &vals))) print_values(&vals, 0, "(empty)");
    } else if (!(rc = dyna_lrange(c, key, klen, x, y, &vals))) {
      print_values(&vals, 0, "(empty)");
    }
  } else if (!strcmp(name, "lpush") || !strcmp(name, "rpush")) {
    rc = name[0] == 'l' ? dyna_lpush(c, key, klen, (size_t)nv, v, vl, &x)
                        : dyna_rpush(c, key, klen, (size_t)nv, v, vl, &x);
    if (!rc) printf("%lld\n", (long long)x);
  } else if (!strcmp(name, "lpop")) {
    x = 0;
    if (nv && (parse_i64(argv[1], &x) || x <= 0)) usage_err = 1;
    else if (!(rc = dyna_lpop(c, key, klen, (size_t)x, &vals))) print_values(&vals, 0, "(nil)");
  } else if (!strcmp(name, "expire")) {
    if (parse_i64(argv[1], &x)) usage_err = 1;
    else if (!(rc = dyna_expire(c, key, klen, x, &flag))) printf("%d\n", flag);
  } else if (!strcmp(name, "ttl")) {
    if (!(rc = dyna_ttl(c, key, klen, &x))) printf("%lld\n", (long long)x);
  } else if (!strcmp(name, "persist")) {
    if (!(rc = dyna_persist(c, key, klen, &flag))) printf("%d\n", flag);
  } else if (!strcmp(name, "type")) {
    if (!(rc = dyna_type(c, key, klen, type, sizeof(type)))) printf("%s\n", type);
  }
  dyna_values_free(&vals);
  free(v); free(vl); free(sc);
  if (usage_err) {
    fprintf(stderr, "dyna: %s: not a number\n", name);
    dyna_client_close(c);
    return 2;
  }
  if (rc) return die(c, rc);
  dyna_client_close(c);
  return 0;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 7001, timeout = 5000, i = 1, use_tls = 0;
  dyna_tls_options_t tls_opt = {NULL, NULL, NULL, NULL};
  const char *user = getenv("DYNA_USER"), *pass = getenv("DYNA_PASSWORD");
  for (; i < argc && argv[i][0] == '-'; i += 2) {
    if (!strcmp(argv[i], "--help")) { usage(stdout); return 0; }
    if (!strcmp(argv[i], "--tls")) { use_tls = 1; i--; continue; }
    if (i + 1 >= argc) { usage(stderr); return 2; }
    if (!strcmp(argv[i], "-h")) host = argv[i + 1];
    else if (!strcmp(argv[i], "--cacert")) tls_opt.cacert = argv[i + 1];
    else if (!strcmp(argv[i], "--cert")) tls_opt.cert = argv[i + 1];
    else if (!strcmp(argv[i], "--key")) tls_opt.key = argv[i + 1];
    else if (!strcmp(argv[i], "--sni")) tls_opt.sni = argv[i + 1];
    else if (!strcmp(argv[i], "-p")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-t")) timeout = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--user")) user = argv[i + 1];
    else if (!strcmp(argv[i], "--pass")) pass = argv[i + 1];
    else { usage(stderr); return 2; }
  }
  if (i >= argc) { usage(stderr); return 2; }
  if (pass && !*pass) pass = NULL;
  if (user && !*user) user = NULL;
  const char *cmd = argv[i++];
  const typed_cmd_t *t = typed_find(cmd);
  if (t) {
    int n = argc - i; /* KEY and its arguments */
    if (n < 1 + t->min || (t->max >= 0 && n > 1 + t->max) || (n - 1) % t->step) {
      usage(stderr);
      return 2;
    }
    /* Opened on the node as a seed, with ring routing: each typed call goes to its
     * key's preference list, as libdyna's typed calls do in applications. */
    char seed[300];
    snprintf(seed, sizeof(seed), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    dyna_options_t to;
    dyna_options_init(&to);
    to.timeout_ms = timeout;
    to.user = user;
    to.password = pass;
    dyna_client_t *tc;
    int trc = dyna_client_open_tls(seed, &to, use_tls ? &tls_opt : NULL, &tc);
    if (trc) return die(tc, trc);
    return run_typed(tc, t, argv + i, n);
  }
  opts_t o = {NULL, 0, 0};
  int wait = 0; /* admin leave|repair --wait */
  double interval = 1; /* status, top: --interval */
  long count = 0;      /* top: --count (0: until killed) */
  if (!strcmp(cmd, "status") || !strcmp(cmd, "top")) {
    for (; i < argc; i += 2) {
      char *end = NULL;
      if (i + 1 >= argc) { usage(stderr); return 2; }
      if (!strcmp(argv[i], "--interval")) interval = strtod(argv[i + 1], &end);
      else if (!strcmp(argv[i], "--count") && !strcmp(cmd, "top")) count = strtol(argv[i + 1], &end, 10);
      if (!end || *end || !*argv[i + 1] || !(interval >= 0 && interval <= 3600) || count < 0 ||
          (!strcmp(cmd, "top") && interval <= 0)) {
        usage(stderr);
        return 2;
      }
    }
  }
  dyna_options_t member_opt; /* status, top: the connections to each member */
  dyna_options_init(&member_opt);
  member_opt.timeout_ms = timeout;
  member_opt.connect_timeout_ms = timeout < 1000 ? timeout : 1000;
  member_opt.user = user;
  member_opt.password = pass;
  int nargs = !strcmp(cmd, "put") ? 2 : (!strcmp(cmd, "get") || !strcmp(cmd, "del") || !strcmp(cmd, "local")) ? 1 : 0;
  if (!strcmp(cmd, "ping") || !strcmp(cmd, "ring")) nargs = 0;
  else if (!strcmp(cmd, "status") || !strcmp(cmd, "top")) nargs = 0, argc = i; /* options read above */
  else if (!strcmp(cmd, "admin")) {
    if (argc - i >= 2 && !strcmp(argv[argc - 1], "--wait") &&
        (!strcmp(argv[i], "leave") || !strcmp(argv[i], "repair"))) {
      wait = 1;
      argc--;
    }
    int ok = i < argc && ((!strcmp(argv[i], "leave") && argc - i == 1) ||
                          (!strcmp(argv[i], "repair") && argc - i <= 2) ||
                          ((!strcmp(argv[i], "join") || !strcmp(argv[i], "remove")) && argc - i == 2));
    if (!ok) { usage(stderr); return 2; }
  } else if (!nargs) { fprintf(stderr, "dyna: unknown command '%s'\n", cmd); usage(stderr); return 2; }
  if (strcmp(cmd, "admin") && (argc - i < nargs || parse_opts(argc, argv, i + nargs, &o))) { usage(stderr); return 2; }

  dyna_client_t *c;
  int rc;
  if (pass) { /* dyna_client_connect takes no options: the node alone, as a seed */
    char seed[300];
    snprintf(seed, sizeof(seed), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    dyna_options_t co;
    dyna_options_init(&co);
    co.timeout_ms = timeout;
    co.connect_timeout_ms = timeout > 0 ? timeout : 5000;
    co.routing = DYNA_ROUTE_NONE;
    co.user = user;
    co.password = pass;
    rc = dyna_client_open_tls(seed, &co, use_tls ? &tls_opt : NULL, &c);
  } else {
    rc = dyna_client_connect_tls(host, port, timeout, use_tls ? &tls_opt : NULL, &c);
  }
  if (rc) return die(c, rc);
  if (!strcmp(cmd, "ping")) {
    rc = dyna_ping(c);
    if (rc) return die(c, rc);
    printf("PONG\n");
  } else if (!strcmp(cmd, "status")) {
    const char *args[] = {"DYNA.STATUS"};
    const uint8_t *iargv[] = {(const uint8_t *)"INFO"};
    size_t iargl[] = {4};
    dyna_reply_t *info;
    if (dyna_command(c, 1, iargv, iargl, &info) == 0) {
      show_counters(info);
      dyna_reply_free(info);
    }
    const uint8_t *sargv[] = {(const uint8_t *)args[0]};
    size_t sargl[] = {strlen(args[0])};
    dyna_reply_t *v;
    if ((rc = dyna_command(c, 1, sargv, sargl, &v))) return die(c, rc);
    int sites = show_status(v);
    dyna_reply_free(v);
    if (sites) show_site_lag(c, &member_opt, use_tls ? &tls_opt : NULL);
    if (interval > 0) {
      printf("\n");
      fflush(stdout);
      if ((rc = dyna_cli_status_rates(c, &member_opt, use_tls ? &tls_opt : NULL, interval))) return die(c, rc);
    }
  } else if (!strcmp(cmd, "top")) {
    if ((rc = dyna_cli_top(c, &member_opt, use_tls ? &tls_opt : NULL, interval, count))) return die(c, rc);
  } else if (!strcmp(cmd, "ring")) {
    const char *args[] = {"DYNA.RING"};
    const uint8_t *sargv[] = {(const uint8_t *)"DYNA.STATUS"};
    size_t sargl[] = {11};
    dyna_reply_t *st;
    if (dyna_command(c, 1, sargv, sargl, &st) == 0) { /* the members, grouped */
      show_members_by_site(st);
      dyna_reply_free(st);
    }
    return run_command(c, 1, args, show_ring);
  } else if (!strcmp(cmd, "admin") && wait) {
    const uint8_t *aargv[] = {(const uint8_t *)"DYNA.ADMIN", (const uint8_t *)argv[i],
                              (const uint8_t *)(i + 1 < argc ? argv[i + 1] : "")};
    size_t aargl[] = {10, strlen(argv[i]), i + 1 < argc ? strlen(argv[i + 1]) : 0};
    dyna_reply_t *v;
    rc = dyna_command(c, i + 1 < argc ? 3 : 2, aargv, aargl, &v);
    if (rc) return die(c, rc);
    dyna_reply_free(v);
    printf("OK\n");
    rc = !strcmp(argv[i], "leave") ? dyna_cli_wait_leave(c) : dyna_cli_wait_repair(c);
    if (rc) return die(c, rc);
  } else if (!strcmp(cmd, "admin")) {
    const char *args[] = {"DYNA.ADMIN", argv[i], i + 1 < argc ? argv[i + 1] : NULL};
    return run_command(c, args[2] ? 3 : 2, args, show_ok);
  } else if (!strcmp(cmd, "get") || !strcmp(cmd, "local")) {
    dyna_siblings_t s;
    const char *key = argv[i];
    rc = !strcmp(cmd, "get") ? dyna_get(c, key, strlen(key), o.r, &s)
                             : dyna_get_local(c, key, strlen(key), &s);
    if (rc) return die(c, rc);
    printf("context: %s\n", s.context);
    if (!s.n) printf("(nil)\n");
    for (size_t k = 0; k < s.n; k++) {
      if (s.n > 1) printf("%zu) ", k + 1);
      print_bytes(s.values[k].data, s.values[k].len);
      printf("\n");
    }
    dyna_siblings_free(&s);
  } else {
    char *ctx = NULL;
    const char *key = argv[i];
    if (!strcmp(cmd, "put")) rc = dyna_put(c, key, strlen(key), o.context, argv[i + 1], strlen(argv[i + 1]), o.w, &ctx);
    else rc = dyna_del(c, key, strlen(key), o.context, o.w, &ctx);
    if (rc) return die(c, rc);
    printf("context: %s\n", ctx);
    dyna_str_free(ctx);
  }
  dyna_client_close(c);
  return 0;
}
