/* test_config.c: dynad's options (runtime/options.c, runtime/config.c): every option of
 * the table reaches the node it configures, from the command line and from the INI file;
 * every byte of the node's configuration is set by an option or by the driver; the
 * node's options take the core's defaults; --help lists every option; CONFIG GET answers
 * glob patterns from the table; bad values are refused with their message and leave the
 * config as it was; the --join seed list. */
#include "runtime/config.h"
#include "runtime/options.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define DYNA_OPT_MAX_ROWS_TEST 64

static int set_join(dyna_config_t *c, const char *val) {
  char err[256];
  int rc = dyna_config_set(c, "join", val, err, sizeof(err));
  if (rc) assert_non_null(strstr(err, "invalid address list"));
  return rc;
}

static void test_join_list(void **state) {
  (void)state;
  dyna_config_t c;
  dyna_config_default(&c);
  assert_int_equal(set_join(&c, "127.0.0.1:17001"), 0);
  assert_int_equal(c.njoin, 1);
  assert_string_equal(c.join[0], "127.0.0.1:17001");
  assert_int_equal(set_join(&c, "127.0.0.1:17001,127.0.0.2:17002"), 0);
  assert_int_equal(c.njoin, 2);
  assert_string_equal(c.join[0], "127.0.0.1:17001");
  assert_string_equal(c.join[1], "127.0.0.2:17002");
  assert_int_equal(set_join(&c, "::1:17001,10.1.2.3:1"), 0);
  assert_int_equal(set_join(&c, "1.0.0.1:1,1.0.0.2:2,1.0.0.3:3,1.0.0.4:4,1.0.0.5:5,1.0.0.6:6,1.0.0.7:7,1.0.0.8:8"), 0);
  assert_int_equal(c.njoin, 8);
  assert_string_equal(c.join[7], "1.0.0.8:8");
  dyna_config_t before = c;
  const char *bad[] = {
      "",                         /* nothing */
      ",127.0.0.1:1",             /* an empty entry first */
      "127.0.0.1:1,",             /* ... last */
      "127.0.0.1:1,,127.0.0.1:2", /* ... in between */
      "127.0.0.1",                /* no port */
      "127.0.0.1:0",              /* port out of range */
      "127.0.0.1:65536",
      "localhost:7001",           /* not an IP literal: the peer links dial IPs */
      "127.0.0.1:1, 127.0.0.1:2", /* a space */
      "1.0.0.1:1,1.0.0.2:2,1.0.0.3:3,1.0.0.4:4,1.0.0.5:5,1.0.0.6:6,1.0.0.7:7,1.0.0.8:8,1.0.0.9:9",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_not_equal(set_join(&c, bad[i]), 0);
    assert_int_equal(c.njoin, before.njoin); /* unchanged */
    assert_memory_equal(c.join, before.join, sizeof(before.join));
  }
  char longest[700];
  memset(longest, '1', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = 0;
  assert_int_not_equal(set_join(&c, longest), 0);
}

/* The command line takes the same list. */
static void test_join_on_the_command_line(void **state) {
  (void)state;
  dyna_config_t c;
  dyna_config_default(&c);
  char a0[] = "dynad", a1[] = "--join", a2[] = "127.0.0.1:1,127.0.0.1:2";
  char *argv[] = {a0, a1, a2, NULL};
  char err[256];
  assert_int_equal(dyna_config_parse(&c, 3, argv, err, sizeof(err)), 0);
  assert_int_equal(c.njoin, 2);
  assert_string_equal(c.join[1], "127.0.0.1:2");
}


/* ---------- every option reaches the node ---------- */

static uint64_t load_num(const void *field, size_t size) {
  if (size == 8) {
    uint64_t v;
    memcpy(&v, field, 8);
    return v;
  }
  assert_int_equal(size, 4);
  uint32_t u;
  memcpy(&u, field, 4);
  return u;
}

/* A value for row o that differs from its default (d), from the row's bounds, as text;
 * *num gets it as a number (numbers and yes|no). */
static void pick_value(const dynad_option_t *o, const dyna_config_t *d, size_t i, char *text,
                       size_t cap, uint64_t *num) {
  const char *field = (const char *)d + o->cfg.off;
  *num = 0;
  switch (o->type) {
  case DYNA_OPT_BOOL:
    *num = !load_num(field, o->cfg.size);
    snprintf(text, cap, "%s", *num ? "yes" : "no");
    break;
  case DYNA_OPT_U32:
  case DYNA_OPT_U64:
  case DYNA_OPT_BYTES:
    *num = load_num(field, o->cfg.size) != o->max ? o->max : o->min;
    if (o->valid) assert_true(o->valid(*num));
    snprintf(text, cap, "%llu", (unsigned long long)*num);
    break;
  case DYNA_OPT_STRING:
    snprintf(text, cap, "o%zu-%.*s", i, (int)(o->cfg.size > 8 ? o->cfg.size - 8 : 1), o->name);
    break;
  case DYNA_OPT_ENUM: {
    char def[64];
    dynad_option_format(o, d, NULL, def, sizeof(def));
    int v = 0;
    while (!strcmp(o->enum_name(v), def)) v++;
    assert_non_null(o->enum_name(v));
    snprintf(text, cap, "%s", o->enum_name(v));
    break;
  }
  case DYNA_OPT_ADDR:
    snprintf(text, cap, "127.0.0.9:%zu", 7000 + i);
    break;
  case DYNA_OPT_LIST:
    snprintf(text, cap, "127.0.0.1:%zu,127.0.0.2:%zu", 100 + i, 200 + i);
    break;
  case DYNA_OPT_REPL: /* checked through CONFIG GET's text */
    snprintf(text, cap, "dc%zu:4,dcb:2", i);
    break;
  case DYNA_OPT_QUORUM:
    *num = load_num(field, o->cfg.size) == DYNA_QUORUM_LOCAL ? DYNA_QUORUM_EACH : DYNA_QUORUM_LOCAL;
    snprintf(text, cap, "%s", *num == DYNA_QUORUM_LOCAL ? "local" : "each");
    break;
  }
}

typedef struct {
  char text[DYNA_OPT_MAX_ROWS_TEST][128];
  uint64_t num[DYNA_OPT_MAX_ROWS_TEST];
} picks_t;

static void pick_all(picks_t *p) {
  dyna_config_t d;
  dyna_config_default(&d);
  assert_true(dyna_noptions <= DYNA_OPT_MAX_ROWS_TEST);
  for (size_t i = 0; i < dyna_noptions; i++)
    pick_value(&dynad_options[i], &d, i, p->text[i], sizeof(p->text[i]), &p->num[i]);
}

/* c was parsed from the picks: every row holds its pick, and the node built from c (as
 * server.c builds it) holds the pick of every row that lands in the node. */
static void check_picks(const dyna_config_t *c, const picks_t *p, const char *how) {
  dyna_node_cfg_t node;
  dyna_config_node_cfg(c, 42, 7, &node);
  assert_int_equal(node.id, 42);
  assert_int_equal(node.seed, 7);
  size_t reached = 0;
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    char got[1024];
    dynad_option_format(o, c, NULL, got, sizeof(got));
    if (strcmp(got, p->text[i]))
      fail_msg("%s: option %s is '%s', want '%s'", how, o->name, got, p->text[i]);
    if (!o->node.size) continue;
    const char *f = (const char *)&node + o->node.off;
    int ok;
    if (o->type == DYNA_OPT_STRING || o->type == DYNA_OPT_ADDR) ok = !strcmp(f, p->text[i]);
    else if (o->type == DYNA_OPT_REPL) ok = 1; /* its text, below */
    else ok = load_num(f, o->node.size) == p->num[i];
    if (!ok) fail_msg("%s: option %s = %s does not reach the node", how, o->name, p->text[i]);
    dynad_option_format(o, c, &node, got, sizeof(got)); /* CONFIG GET shows the node's */
    assert_string_equal(got, p->text[i]);
    reached++;
  }
  assert_true(reached > 0);
}

static void test_every_option_reaches_the_node_from_the_command_line(void **state) {
  (void)state;
  static picks_t p;
  pick_all(&p);
  /* --NAME=VALUE */
  static char args[DYNA_OPT_MAX_ROWS_TEST * 2][160];
  char *argv[DYNA_OPT_MAX_ROWS_TEST * 2 + 2];
  int argc = 0;
  argv[argc++] = "dynad";
  for (size_t i = 0; i < dyna_noptions; i++) {
    snprintf(args[argc], sizeof(args[0]), "--%s=%s", dynad_options[i].name, p.text[i]);
    argv[argc] = args[argc];
    argc++;
  }
  dyna_config_t c;
  dyna_config_default(&c);
  char err[256] = "";
  if (dyna_config_parse(&c, argc, argv, err, sizeof(err))) fail_msg("%s", err);
  check_picks(&c, &p, "--NAME=VALUE");
  /* --NAME VALUE, and a yes|no option alone for yes */
  argc = 1;
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    int alone = o->type == DYNA_OPT_BOOL && !strcmp(p.text[i], "yes");
    snprintf(args[argc], sizeof(args[0]), "--%s", o->name);
    argv[argc] = args[argc];
    argc++;
    if (alone) continue;
    snprintf(args[argc], sizeof(args[0]), "%s", p.text[i]);
    argv[argc] = args[argc];
    argc++;
  }
  dyna_config_default(&c);
  if (dyna_config_parse(&c, argc, argv, err, sizeof(err))) fail_msg("%s", err);
  check_picks(&c, &p, "--NAME VALUE");
}

static void test_every_option_reaches_the_node_from_the_ini_file(void **state) {
  (void)state;
  static picks_t p;
  pick_all(&p);
  char path[] = "/tmp/dyna_test_config_XXXXXX";
  const char *tmp = getenv("TMPDIR");
  char full[512];
  snprintf(full, sizeof(full), "%s/dyna_test_config_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(full);
  if (fd < 0) { /* TMPDIR missing: /tmp */
    fd = mkstemp(path);
    snprintf(full, sizeof(full), "%s", path);
  }
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fprintf(f, "; every option, none at its default\n[dynad]\n");
  for (size_t i = 0; i < dyna_noptions; i++) fprintf(f, "%s = %s\n", dynad_options[i].name, p.text[i]);
  fclose(f);
  char a0[] = "dynad", a1[] = "--config";
  char *argv[] = {a0, a1, full, NULL};
  dyna_config_t c;
  dyna_config_default(&c);
  char err[256] = "";
  int rc = dyna_config_parse(&c, 3, argv, err, sizeof(err));
  unlink(full);
  if (rc) fail_msg("%s", err);
  check_picks(&c, &p, "INI");
}

/* Every byte of the node's configuration is set by an option's row or by the driver
 * (id, seed; bugs is the simulator's, typed_extra the unit tests'): a field of dyna_node_cfg_t that no row names is a
 * gap here. Gaps are allowed only where they are padding: shorter than 8 bytes and
 * ending where an 8-byte field (or the struct) begins. */
static void test_every_node_field_is_an_option(void **state) {
  (void)state;
  unsigned char set[sizeof(dyna_node_cfg_t)] = {0};
  struct { size_t off, size; } driver[] = {
      {offsetof(dyna_node_cfg_t, id), sizeof(((dyna_node_cfg_t *)0)->id)},
      {offsetof(dyna_node_cfg_t, seed), sizeof(((dyna_node_cfg_t *)0)->seed)},
      {offsetof(dyna_node_cfg_t, bugs), sizeof(((dyna_node_cfg_t *)0)->bugs)},
      {offsetof(dyna_node_cfg_t, typed_extra), sizeof(((dyna_node_cfg_t *)0)->typed_extra)},
  };
  for (size_t i = 0; i < sizeof(driver) / sizeof(driver[0]); i++)
    memset(set + driver[i].off, 1, driver[i].size);
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    if (!o->node.size) continue;
    assert_true(o->node.off + o->node.size <= sizeof(dyna_node_cfg_t));
    for (size_t b = o->node.off; b < o->node.off + o->node.size; b++) {
      if (set[b]) fail_msg("option %s lands on a field set already", o->name);
      set[b] = 1;
    }
  }
  for (size_t b = 0; b < sizeof(set);) {
    if (set[b]) { b++; continue; }
    size_t e = b;
    while (e < sizeof(set) && !set[e]) e++;
    if (e - b >= 8 || e % 8)
      fail_msg("bytes %zu-%zu of dyna_node_cfg_t are set by no option: a node field without a row "
               "in runtime/options.c (or a row without its .node)", b, e - 1);
    b = e;
  }
}

/* The node's options have no second set of defaults: they take the core's, so a dynad
 * started with no option runs its node with dyna_node_cfg_default's values. */
static void test_node_defaults_are_the_cores(void **state) {
  (void)state;
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    if (o->node.size && o->type != DYNA_OPT_ADDR && o->def)
      fail_msg("option %s lands in the node but has a default of its own ('%s')", o->name, o->def);
    if (o->node.size && o->type != DYNA_OPT_ADDR) assert_int_equal(o->node.size, o->cfg.size);
  }
  dyna_config_t c;
  dyna_config_default(&c);
  char err[256];
  char a0[] = "dynad";
  char *argv[] = {a0, NULL};
  assert_int_equal(dyna_config_parse(&c, 1, argv, err, sizeof(err)), 0);
  dyna_node_cfg_t got, want;
  dyna_config_node_cfg(&c, 9, 10, &got);
  dyna_node_cfg_default(&want);
  want.id = 9;
  want.seed = 10;
  assert_string_equal(got.addr, "127.0.0.1:17001");       /* worked out from --listen */
  assert_string_equal(got.client_addr, "127.0.0.1:7001");
  snprintf(want.addr, sizeof(want.addr), "%s", got.addr);
  snprintf(want.client_addr, sizeof(want.client_addr), "%s", got.client_addr);
  assert_memory_equal(&got, &want, sizeof(got));
}

/* ---------- --help ---------- */

static void test_help_lists_every_option(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  dyna_config_usage(f);
  fclose(f);
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    char want[96];
    snprintf(want, sizeof(want), "\n  --%s", o->name);
    const char *at = text;
    while ((at = strstr(at, want)) && at[strlen(want)] != ' ' && at[strlen(want)] != '\n') at++;
    if (!at) fail_msg("--help does not list --%s", o->name);
    if (o->type == DYNA_OPT_BOOL) {
      snprintf(want, sizeof(want), "INI: %s = yes|no", o->name);
      assert_non_null(strstr(text, want));
    }
  }
  assert_non_null(strstr(text, "--config FILE"));
  assert_non_null(strstr(text, "--sync always|batch|none"));
  assert_non_null(strstr(text, "(default 64 MiB)"));
  free(text);
}

/* ---------- CONFIG GET ---------- */

typedef struct {
  char names[64][32];
  char values[64][600];
  size_t n;
} got_t;

static void collect(void *ctx, const char *name, const char *value) {
  got_t *g = ctx;
  assert_true(g->n < 64);
  snprintf(g->names[g->n], sizeof(g->names[0]), "%s", name);
  snprintf(g->values[g->n], sizeof(g->values[0]), "%s", value);
  g->n++;
}

/* CONFIG GET with the patterns in pats (NULL-terminated); returns the pairs. */
static got_t *config_get(const dyna_config_t *c, const dyna_node_cfg_t *node, const char **pats) {
  static got_t g;
  static char base[512];
  size_t off[8], len[8], n = 0, at = 0;
  for (; pats[n]; n++) {
    len[n] = strlen(pats[n]);
    memcpy(base + at, pats[n], len[n]); /* not NUL-terminated, as the RESP parser's */
    off[n] = at;
    at += len[n];
  }
  memset(&g, 0, sizeof(g));
  size_t count = dyna_config_get(c, node, (const uint8_t *)base, off, len, n, NULL, NULL);
  assert_int_equal(dyna_config_get(c, node, (const uint8_t *)base, off, len, n, collect, &g), count);
  assert_int_equal(g.n, count);
  return &g;
}

static const char *value_of(const got_t *g, const char *name) {
  for (size_t i = 0; i < g->n; i++)
    if (!strcmp(g->names[i], name)) return g->values[i];
  return NULL;
}

static void test_config_get_patterns(void **state) {
  (void)state;
  dyna_config_t c;
  dyna_config_default(&c);
  char err[256];
  assert_int_equal(dyna_config_set(&c, "ring-size", "1024", err, sizeof(err)), 0);
  assert_int_equal(dyna_config_set(&c, "max-clients", "77", err, sizeof(err)), 0);
  got_t *g = config_get(&c, NULL, (const char *[]){"*", NULL});
  assert_int_equal(g->n, dyna_noptions + 4); /* + save, appendonly, databases, maxclients */
  for (size_t i = 0; i < dyna_noptions; i++) {
    assert_string_equal(g->names[i], dynad_options[i].name); /* the table's order, once each */
    char want[1024];
    dynad_option_format(&dynad_options[i], &c, NULL, want, sizeof(want));
    assert_string_equal(g->values[i], want);
  }
  assert_string_equal(value_of(g, "ring-size"), "1024");
  assert_string_equal(value_of(g, "appendonly"), "no");
  assert_string_equal(value_of(g, "save"), "");
  assert_string_equal(value_of(g, "maxclients"), "77");
  assert_string_equal(value_of(g, "sync"), "batch");
  assert_string_equal(value_of(g, "read-all"), "no");
  g = config_get(&c, NULL, (const char *[]){"ring-*", NULL});
  assert_int_equal(g->n, 1);
  assert_string_equal(g->names[0], "ring-size");
  g = config_get(&c, NULL, (const char *[]){"RING-SIZE", NULL});
  assert_int_equal(g->n, 1);
  g = config_get(&c, NULL, (const char *[]){"[nrw]", "n", "max*", NULL}); /* each once */
  size_t nmax = 0;
  for (size_t i = 0; i < dyna_noptions; i++) nmax += !strncmp(dynad_options[i].name, "max", 3);
  assert_int_equal(g->n, 3 + nmax + 1 /* maxclients */);
  assert_string_equal(value_of(g, "n"), "3");
  assert_string_equal(value_of(g, "w"), "2");
  g = config_get(&c, NULL, (const char *[]){"*", "*", NULL});
  assert_int_equal(g->n, dyna_noptions + 4);
  g = config_get(&c, NULL, (const char *[]){"no-such-option", "", NULL});
  assert_int_equal(g->n, 0);
  /* The node's options are answered with what the node runs with. */
  dyna_node_cfg_t node;
  dyna_config_node_cfg(&c, 1, 1, &node);
  node.fd_min_ms = 4321;
  g = config_get(&c, &node, (const char *[]){"fd-min-ms", "cluster-name", NULL});
  assert_int_equal(g->n, 2);
  assert_string_equal(value_of(g, "fd-min-ms"), "4321");
  assert_string_equal(value_of(g, "cluster-name"), "dyna");
}

/* ---------- bad values ---------- */

static void expect_refused(const char *key, const char *val, const char *msg) {
  dyna_config_t c, before;
  dyna_config_default(&c);
  before = c;
  char err[256] = "";
  assert_int_not_equal(dyna_config_set(&c, key, val, err, sizeof(err)), 0);
  if (msg && strcmp(err, msg)) fail_msg("%s = '%s': '%s', want '%s'", key, val, err, msg);
  assert_memory_equal(&c, &before, sizeof(c)); /* unchanged */
}

static void test_bad_values(void **state) {
  (void)state;
  /* The messages dynad always gave (tests/integration check some of them). */
  expect_refused("read-all", "maybe", "invalid value 'maybe' for read-all (want yes or no)");
  expect_refused("durable-reads", "2", "invalid value '2' for durable-reads (want yes or no)");
  expect_refused("ring-size", "3", "invalid ring-size '3' (want a power of two up to 16384, the number of hash slots)");
  expect_refused("ring-size", "131072", "invalid ring-size '131072' (want a power of two up to 16384, the number of hash slots)");
  expect_refused("ring-size", "65536", "invalid ring-size '65536' (want a power of two up to 16384, the number of hash slots)");
  expect_refused("sync", "sometimes", "invalid sync policy 'sometimes' (want always, batch or none)");
  expect_refused("log-level", "loud", "invalid log-level 'loud'");
  expect_refused("name", "a b", "invalid node name 'a b'");
  expect_refused("name", "a/b", "invalid node name 'a/b'");
  expect_refused("name", "", "invalid node name ''");
  expect_refused("data", "", "invalid data directory ''");
  expect_refused("zone", "z 1", "invalid zone 'z 1'");
  expect_refused("cluster-name", "", "invalid cluster name ''");
  expect_refused("listen", "7001", "invalid address '7001' for listen (want HOST:PORT)");
  expect_refused("cluster", "h:0", "invalid address 'h:0' for cluster (want HOST:PORT)");
  expect_refused("max-clients", "0", "invalid value '0' for max-clients");
  expect_refused("n", "17", "invalid value '17' for n (want N or DC:N[,DC:N...], at most 16 in all)");
  expect_refused("fd-min-ms", "x", "invalid value 'x' for fd-min-ms");
  expect_refused("bogus", "1", "unknown option 'bogus'");
  expect_refused("maxclients", "1", "unknown option 'maxclients'"); /* CONFIG GET's alias only */
  /* Every number just outside its bounds, and text that is no number. */
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    char v[64];
    if (o->type == DYNA_OPT_STRING) {
      char longest[700];
      memset(longest, 'x', o->cfg.size);
      longest[o->cfg.size] = 0;
      expect_refused(o->name, longest, NULL);
      continue;
    }
    if (o->type != DYNA_OPT_U32 && o->type != DYNA_OPT_U64 && o->type != DYNA_OPT_BYTES) {
      expect_refused(o->name, "", NULL);
      continue;
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long)o->max + 1);
    expect_refused(o->name, v, NULL);
    if (o->min) {
      snprintf(v, sizeof(v), "%llu", (unsigned long long)o->min - 1);
      expect_refused(o->name, v, NULL);
    }
    expect_refused(o->name, "-1", NULL);
    expect_refused(o->name, "12abc", NULL);
    expect_refused(o->name, "", NULL);
  }
  /* r and w must not exceed n (checked once all options are in). */
  dyna_config_t c;
  dyna_config_default(&c);
  char a0[] = "dynad", a1[] = "--r", a2[] = "4";
  char *argv[] = {a0, a1, a2, NULL};
  char err[256];
  assert_int_not_equal(dyna_config_parse(&c, 3, argv, err, sizeof(err)), 0);
  assert_string_equal(err, "r and w must not exceed n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_list),
      cmocka_unit_test(test_join_on_the_command_line),
      cmocka_unit_test(test_every_option_reaches_the_node_from_the_command_line),
      cmocka_unit_test(test_every_option_reaches_the_node_from_the_ini_file),
      cmocka_unit_test(test_every_node_field_is_an_option),
      cmocka_unit_test(test_node_defaults_are_the_cores),
      cmocka_unit_test(test_help_lists_every_option),
      cmocka_unit_test(test_config_get_patterns),
      cmocka_unit_test(test_bad_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
