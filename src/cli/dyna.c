/* dyna.c: the dyna command-line client: get, put, del, ping against one node, and the
 * operator views (status, ring). Exit status 0 on success, 1 with a one-line message
 * on stderr on any error, 2 on a usage error. */
#include "dyna.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: dyna [-h HOST] [-p PORT] [-t TIMEOUT_MS] COMMAND [ARGS]\n"
    "  get KEY [--r N]                      every sibling and the context\n"
    "  local KEY                            this node's own replica only\n"
    "  put KEY VALUE [--context C] [--w N]  write; prints the new context\n"
    "  del KEY [--context C] [--w N]        delete (tombstone); prints the new context\n"
    "  ping                                 PONG when the node answers\n"
    "  status                               members as the node sees them\n"
    "  ring                                 partition -> preference list\n"
    "  admin join HOST:PORT                 make the node join the member at that cluster address\n"
    "  admin leave                          the node hands its data off and leaves\n"
    "  admin remove NODE                    remove a dead member (name or id)\n"
    "  admin repair [PARTITION]             force anti-entropy exchanges now\n"
    "defaults: -h 127.0.0.1 -p 7001 -t 5000\n");
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

/* DYNA.STATUS rows: name, id, cluster addr, client addr, status, zone, owned, reachable, phi. */
static void show_status(const dyna_reply_t *v) {
  int64_t total = 0;
  for (size_t i = 0; i < v->n; i++)
    if (v->elem[i].type == DYNA_REPLY_ARRAY && v->elem[i].n == 9) total += v->elem[i].elem[6].integer;
  printf("%-10s %-16s %-21s %-21s %-8s %-8s %6s %6s  %-12s %s\n", "NAME", "ID", "CLUSTER", "CLIENT", "STATUS",
         "ZONE", "PARTS", "SHARE", "SEEN HERE", "PHI");
  for (size_t i = 0; i < v->n; i++) {
    const dyna_reply_t *r = &v->elem[i];
    if (r->type != DYNA_REPLY_ARRAY || r->n != 9) continue;
    double share = total ? 100.0 * (double)r->elem[6].integer / (double)total : 0;
    printf("%-10s %-16s %-21s %-21s %-8s %-8s %6lld %5.1f%%  %-12s %s\n", field(r, 0), field(r, 1), field(r, 2),
           field(r, 3), field(r, 4), *field(r, 5) ? field(r, 5) : "-", (long long)r->elem[6].integer, share,
           field(r, 7), field(r, 8));
  }
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
}

static void show_ok(const dyna_reply_t *v) { (void)v; printf("OK\n"); }

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 7001, timeout = 5000, i = 1;
  for (; i < argc && argv[i][0] == '-'; i += 2) {
    if (!strcmp(argv[i], "--help")) { usage(stdout); return 0; }
    if (i + 1 >= argc) { usage(stderr); return 2; }
    if (!strcmp(argv[i], "-h")) host = argv[i + 1];
    else if (!strcmp(argv[i], "-p")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-t")) timeout = atoi(argv[i + 1]);
    else { usage(stderr); return 2; }
  }
  if (i >= argc) { usage(stderr); return 2; }
  const char *cmd = argv[i++];
  opts_t o = {NULL, 0, 0};
  int nargs = !strcmp(cmd, "put") ? 2 : (!strcmp(cmd, "get") || !strcmp(cmd, "del") || !strcmp(cmd, "local")) ? 1 : 0;
  if (!strcmp(cmd, "ping") || !strcmp(cmd, "status") || !strcmp(cmd, "ring")) nargs = 0;
  else if (!strcmp(cmd, "admin")) {
    int ok = i < argc && ((!strcmp(argv[i], "leave") && argc - i == 1) ||
                          (!strcmp(argv[i], "repair") && argc - i <= 2) ||
                          ((!strcmp(argv[i], "join") || !strcmp(argv[i], "remove")) && argc - i == 2));
    if (!ok) { usage(stderr); return 2; }
  } else if (!nargs) { fprintf(stderr, "dyna: unknown command '%s'\n", cmd); usage(stderr); return 2; }
  if (strcmp(cmd, "admin") && (argc - i < nargs || parse_opts(argc, argv, i + nargs, &o))) { usage(stderr); return 2; }

  dyna_client_t *c;
  int rc = dyna_client_connect(host, port, timeout, &c);
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
    return run_command(c, 1, args, show_status);
  } else if (!strcmp(cmd, "ring")) {
    const char *args[] = {"DYNA.RING"};
    return run_command(c, 1, args, show_ring);
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
