/* dyna.c: the dyna command-line client: get, put, del, ping against one node, and the
 * operator views (status, ring). Exit status 0 on success, 1 with a one-line message
 * on stderr on any error, 2 on a usage error. */
#include "client/client_int.h"
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
    "  ring                                 partition map\n"
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

static void print_value(const dyna_resp_value_t *v, int depth) {
  switch (v->type) {
  case DYNA_RESP_ARRAY:
    for (size_t i = 0; i < v->n; i++) {
      if (v->elem[i].type == DYNA_RESP_ARRAY) {
        print_value(&v->elem[i], depth + 1);
        putchar('\n');
      } else {
        print_value(&v->elem[i], depth + 1);
        putchar(i + 1 < v->n ? '\t' : ' ');
      }
    }
    break;
  case DYNA_RESP_INTEGER: printf("%lld", (long long)v->integer); break;
  case DYNA_RESP_NIL: printf("(nil)"); break;
  default: print_bytes(v->str, v->len); break;
  }
}

static int raw_command(dyna_client_t *c, const char *name) {
  const uint8_t *argv[] = {(const uint8_t *)name};
  size_t argl[] = {strlen(name)};
  dyna_resp_value_t v;
  int rc = dyna_client_command(c, 1, argv, argl, &v);
  if (rc) return die(c, rc);
  if (v.type == DYNA_RESP_ERROR) {
    rc = dyna_client_remote_error(c, &v);
    dyna_resp_value_free(&v);
    return die(c, rc);
  }
  print_value(&v, 0);
  printf("\n");
  dyna_resp_value_free(&v);
  dyna_client_close(c);
  return 0;
}

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
  else if (!nargs) { fprintf(stderr, "dyna: unknown command '%s'\n", cmd); usage(stderr); return 2; }
  if (argc - i < nargs || parse_opts(argc, argv, i + nargs, &o)) { usage(stderr); return 2; }

  dyna_client_t *c;
  int rc = dyna_client_connect(host, port, timeout, &c);
  if (rc) return die(c, rc);
  if (!strcmp(cmd, "ping")) {
    rc = dyna_ping(c);
    if (rc) return die(c, rc);
    printf("PONG\n");
  } else if (!strcmp(cmd, "status")) {
    return raw_command(c, "DYNA.STATUS");
  } else if (!strcmp(cmd, "ring")) {
    return raw_command(c, "DYNA.RING");
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
