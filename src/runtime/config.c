/* config.c: dynad configuration from defaults, an INI file and flags (see config.h),
 * driven by the options table (options.c): the command line and the INI file look each
 * name up there; the node's configuration and CONFIG GET are made from its rows. */
#include "runtime/config.h"
#include "runtime/options.h"
#include "runtime/auth.h"
#include "util/assert.h"
#include "util/glob.h"
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dyna_version.h"

void dyna_config_default(dyna_config_t *c) { dynad_options_default(c); }

void dyna_config_usage(FILE *f) { dynad_options_usage(f); }

static int set_err(char *err, size_t n, const char *fmt, const char *a, const char *b) {
  snprintf(err, n, fmt, a, b);
  return -1;
}

int dyna_config_set(dyna_config_t *c, const char *key, const char *val, char *err, size_t errlen) {
  if (!strcmp(key, "user")) return dyna_auth_config_user(c, val, err, errlen); /* cmd_auth.c */
  const dynad_option_t *o = dynad_option_find(key);
  if (!o) return set_err(err, errlen, "unknown option '%s'%s", key, "");
  return dynad_option_set(o, c, val, err, errlen);
}

void dyna_config_node_cfg(const dyna_config_t *c, uint64_t id, uint64_t seed,
                          dyna_node_cfg_t *out) {
  dyna_node_cfg_default(out); /* what no option sets: bugs (the simulator's only) */
  out->id = id;
  out->seed = seed;
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    if (!o->node.size) continue;
    char *to = (char *)out + o->node.off;
    if (o->type == DYNA_OPT_ADDR) { /* the node keeps "host:port" */
      dynad_option_format(o, c, NULL, to, o->node.size);
      continue;
    }
    DYNA_ASSERT(o->node.size == o->cfg.size, "option %s: %zu bytes here, %zu in the node",
                o->name, o->cfg.size, o->node.size);
    memcpy(to, (const char *)c + o->cfg.off, o->cfg.size);
  }
}

/* Names Redis clients and tools ask CONFIG GET for (redis-benchmark asks for save and
 * appendonly): fixed answers, or another name for one of our options. */
static const struct {
  const char *name, *value, *option;
} redis_names[] = {
    {"save", "", NULL},
    {"appendonly", "no", NULL},
    {"databases", "1", NULL},
    {"maxclients", NULL, "max-clients"},
};

static int any_match(const char *name, const uint8_t *base, const size_t *off, const size_t *len,
                     size_t npat) {
  for (size_t i = 0; i < npat; i++)
    if (dyna_glob_match((const char *)base + off[i], len[i], name, strlen(name), 1)) return 1;
  return 0;
}

size_t dyna_config_get(const dyna_config_t *c, const dyna_node_cfg_t *node, const uint8_t *base,
                       const size_t *off, const size_t *len, size_t npat, dyna_config_get_fn fn,
                       void *ctx) {
  size_t n = 0;
  char val[DYNA_JOIN_SEEDS_MAX * sizeof(c->join[0]) + 16];
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    if (!any_match(o->name, base, off, len, npat)) continue;
    n++;
    if (!fn) continue;
    dynad_option_format(o, c, node, val, sizeof(val));
    fn(ctx, o->name, val);
  }
  for (size_t i = 0; i < sizeof(redis_names) / sizeof(redis_names[0]); i++) {
    if (!any_match(redis_names[i].name, base, off, len, npat)) continue;
    n++;
    if (!fn) continue;
    const char *v = redis_names[i].value;
    if (!v) {
      const dynad_option_t *o = dynad_option_find(redis_names[i].option);
      DYNA_ASSERT(o != NULL, "CONFIG GET %s: no option %s", redis_names[i].name, redis_names[i].option);
      dynad_option_format(o, c, node, val, sizeof(val));
      v = val;
    }
    fn(ctx, redis_names[i].name, v);
  }
  return n;
}

typedef struct { dyna_config_t *c; char *err; size_t errlen; int failed; } ini_ctx_t;

static int on_ini(void *user, const char *section, const char *key, const char *val) {
  ini_ctx_t *x = user;
  (void)section;
  if (x->failed) return 0;
  if (dyna_config_set(x->c, key, val, x->err, x->errlen)) { x->failed = 1; return 0; }
  return 1;
}

static int load_file(dyna_config_t *c, const char *path, char *err, size_t errlen) {
  ini_ctx_t x = {c, err, errlen, 0};
  int rc = ini_parse(path, on_ini, &x);
  if (rc == -1) return set_err(err, errlen, "cannot open config file '%s'%s", path, "");
  if (x.failed) {
    char inner[256];
    snprintf(inner, sizeof(inner), "%s", err);
    return set_err(err, errlen, "%s: %s", path, inner);
  }
  if (rc) {
    char line[32];
    snprintf(line, sizeof(line), "%d", rc);
    return set_err(err, errlen, "%s: syntax error on line %s", path, line);
  }
  return 0;
}

/* A yes|no option's value given as the next argument (Redis's form: --tls-cluster yes). */
static int is_bool_word(const char *a) {
  static const char *words[] = {"yes", "no", "true", "false", "on", "off"};
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if (!strcasecmp(a, words[i])) return 1;
  return 0;
}

int dyna_config_parse(dyna_config_t *c, int argc, char **argv, char *err, size_t errlen) {
  /* The file first, so that flags override it. */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { dyna_config_usage(stdout); return 1; }
    if (!strcmp(argv[i], "--version")) { printf("dynad %s\n", DYNA_VERSION_STRING); return 1; }
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc) return set_err(err, errlen, "%s needs a value%s", argv[i], "");
      if (load_file(c, argv[i + 1], err, errlen)) return -1;
      snprintf(c->config_file, sizeof(c->config_file), "%s", argv[i + 1]);
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) || !a[2]) return set_err(err, errlen, "unexpected argument '%s'%s", a, "");
    const char *eq = strchr(a, '=');
    char key[64];
    const char *val;
    if (eq) {
      if ((size_t)(eq - a - 2) >= sizeof(key)) return set_err(err, errlen, "unknown option '%s'%s", a, "");
      memcpy(key, a + 2, (size_t)(eq - a - 2));
      key[eq - a - 2] = 0;
      val = eq + 1;
    } else {
      snprintf(key, sizeof(key), "%s", a + 2);
      const dynad_option_t *o = dynad_option_find(key);
      if (o && o->type == DYNA_OPT_BOOL) { /* a switch: --read-all means yes */
        val = "yes";
        if (i + 1 < argc && is_bool_word(argv[i + 1])) val = argv[++i]; /* --tls-cluster yes */
      } else {
        if (i + 1 >= argc) return set_err(err, errlen, "%s needs a value%s", a, "");
        val = argv[++i];
      }
    }
    if (!strcmp(key, "config")) continue;
    if (dyna_config_set(c, key, val, err, errlen)) return -1;
  }
  if (!c->data[0]) snprintf(c->data, sizeof(c->data), "var/%s", c->name);
  if (!c->cluster_host[0]) snprintf(c->cluster_host, sizeof(c->cluster_host), "%s", c->listen_host);
  if (!c->cluster_port_given) { /* --listen's port + 10000 (the TLS port's when that one is off) */
    int base = c->listen_port ? c->listen_port : c->tls_port;
    c->cluster_port = base && base <= 65535 - 10000 ? base + 10000 : 0;
  }
  /* With sites N is every site's count, known once the ring is (DYNA.PUT checks again). */
  uint32_t nmax = c->dc[0] ? DYNA_MAX_N : c->repl.n;
  if ((!dyna_quorum_kind(c->r) && c->r > nmax) || (!dyna_quorum_kind(c->w) && c->w > nmax))
    return set_err(err, errlen, "r and w must not exceed n%s%s", "", "");
  return 0;
}
