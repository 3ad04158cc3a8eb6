/* helper_typed.c: the typed-command unit tests' shared harness (helper_typed.h): runs
 * command lines on objects through dyna_typed_find and checks or renders their replies;
 * compares, merges and copies objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_typed.h"

#include "proto/resp.h"

#define MAX_ARGS 64

/* Splits line (copied into buf, cap bytes) at spaces into argv/argl; "\\e" stands for an
 * empty argument when empty_escape. Returns argc. */
static size_t split(const char *line, char *buf, size_t cap, const uint8_t **argv, size_t *argl,
                    int empty_escape) {
  size_t argc = 0;
  snprintf(buf, cap, "%s", line);
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
    assert_true(argc < MAX_ARGS);
    if (empty_escape && !strcmp(t, "\\e")) t[0] = 0;
    argv[argc] = (const uint8_t *)t;
    argl[argc++] = strlen(t);
  }
  return argc;
}

static char OUT[8192];

/* Renders v: ":n", "-msg", "$bytes", "nil", "+ok", "[a,b]". */
static void render(const dyna_resp_value_t *v, char *p, size_t cap) {
  size_t n = strlen(p);
  switch (v->type) {
  case DYNA_RESP_INTEGER: snprintf(p + n, cap - n, ":%lld", (long long)v->integer); break;
  case DYNA_RESP_ERROR: snprintf(p + n, cap - n, "-%s", (const char *)v->str); break;
  case DYNA_RESP_STRING: snprintf(p + n, cap - n, "+%s", (const char *)v->str); break;
  case DYNA_RESP_BULK: snprintf(p + n, cap - n, "$%.*s", (int)v->len, (const char *)v->str); break;
  case DYNA_RESP_NIL: snprintf(p + n, cap - n, "nil"); break;
  case DYNA_RESP_ARRAY:
    snprintf(p + n, cap - n, "[");
    for (size_t i = 0; i < v->n; i++) {
      if (i) snprintf(p + strlen(p), cap - strlen(p), ",");
      render(&v->elem[i], p, cap);
    }
    snprintf(p + strlen(p), cap - strlen(p), "]");
    break;
  }
}

const char *typed_parse_one(dyna_buf_t *resp) {
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  dyna_resp_value_t v;
  size_t used = 0;
  assert_int_equal(dyna_resp_parse_reply(&lim, resp->data, resp->len, &v, &used), 0);
  assert_int_equal(used, resp->len);
  OUT[0] = 0;
  render(&v, OUT, sizeof(OUT));
  dyna_resp_value_free(&v);
  dyna_buf_free(resp);
  return OUT;
}

const char *typed_render_run(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, int *changed) {
  char copy[1024];
  const uint8_t *argv[MAX_ARGS];
  size_t argl[MAX_ARGS];
  size_t argc = split(line, copy, sizeof(copy), argv, argl, 0);
  dyna_targs_t a = {argc, argv, argl};
  const dyna_typed_cmd_t *c = dyna_typed_find(argv[0], argl[0]);
  assert_non_null(c);
  dyna_buf_t resp = DYNA_BUF_INIT;
  *changed = 0;
  int rc = c->write ? c->write(o, &a, env, &resp, changed) : c->read(o, &a, env, &resp);
  assert_int_equal(rc, 0);
  assert_false(resp.oom);
  return typed_parse_one(&resp);
}

int typed_expect(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, const char *want) {
  char buf[1024];
  const uint8_t *argv[MAX_ARGS];
  size_t argl[MAX_ARGS];
  size_t argc = split(line, buf, sizeof(buf), argv, argl, 0);
  dyna_targs_t a = {argc, argv, argl};
  dyna_buf_t r = DYNA_BUF_INIT;
  int changed = 0;
  if (argl[0] == 3 && !memcmp(argv[0], "get", 3)) {
    assert_int_equal(dyna_typed_get(o, env, &r), 0);
  } else {
    const dyna_typed_cmd_t *c = dyna_typed_find(argv[0], argl[0]);
    assert_non_null(c);
    if (c->write) assert_int_equal(c->write(o, &a, env, &r, &changed), 0);
    else assert_int_equal(c->read(o, &a, env, &r), 0);
  }
  assert_false(r.oom);
  if (r.len != strlen(want) || memcmp(r.data, want, r.len)) {
    fprintf(stderr, "%s: got '%.*s' want '%s'\n", line, (int)r.len, (const char *)r.data, want);
    fail();
  }
  dyna_buf_free(&r);
  return changed;
}

void typed_expect_unchanged(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, const char *want) {
  dyna_obj_t before;
  dyna_obj_init(&before);
  assert_int_equal(dyna_obj_copy(&before, o), 0);
  assert_int_equal(typed_expect(o, env, line, want), 0);
  typed_same(o, &before);
  dyna_obj_clear(&before);
}

void typed_tx(dyna_obj_t *o, const dyna_tenv_t *envp, uint64_t actor, const char *line, const char *want,
              int want_changed) {
  char buf[1024];
  const uint8_t *argv[MAX_ARGS];
  size_t argl[MAX_ARGS];
  size_t argc = split(line, buf, sizeof(buf), argv, argl, 1);
  dyna_targs_t a = {argc, argv, argl};
  const dyna_typed_cmd_t *c = dyna_typed_find(argv[0], argl[0]);
  if (!c) fail_msg("no command %s", line);
  dyna_buf_t before = DYNA_BUF_INIT, after = DYNA_BUF_INIT, resp = DYNA_BUF_INIT;
  dyna_obj_encode(o, &before);
  dyna_tenv_t env = *envp;
  env.actor = actor;
  if (c->write) {
    int changed = -7;
    assert_int_equal(c->write(o, &a, &env, &resp, &changed), 0);
    assert_true(changed == 0 || changed == 1);
    if (want_changed >= 0 && changed != want_changed)
      fail_msg("%s: changed %d, want %d (reply %.*s)", line, changed, want_changed, (int)resp.len, (const char *)resp.data);
    if (!changed) {
      dyna_obj_encode(o, &after);
      if (after.len != before.len || memcmp(after.data, before.data, after.len))
        fail_msg("%s: unchanged but the object differs", line);
    }
  } else {
    assert_int_equal(c->read(o, &a, &env, &resp), 0);
  }
  dyna_buf_put_u8(&resp, 0);
  if (strcmp((const char *)resp.data, want))
    fail_msg("%s:\n got  %s\n want %s", line, (const char *)resp.data, want);
  dyna_buf_free(&before);
  dyna_buf_free(&after);
  dyna_buf_free(&resp);
}

dyna_buf_t typed_enc(const dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_encode(o, &b);
  assert_false(b.oom);
  return b;
}

void typed_same_bytes(const dyna_obj_t *a, const dyna_obj_t *b) {
  dyna_buf_t x = typed_enc(a), y = typed_enc(b);
  assert_int_equal(x.len, y.len);
  assert_memory_equal(x.data, y.data, x.len);
  dyna_buf_free(&x);
  dyna_buf_free(&y);
}

void typed_same(const dyna_obj_t *a, const dyna_obj_t *b) {
  typed_same_bytes(a, b);
  assert_true(dyna_obj_equal(a, b));
}

void typed_merge_both(const dyna_obj_t *a, const dyna_obj_t *b, dyna_obj_t *ab, dyna_obj_t *ba) {
  dyna_obj_init(ab);
  dyna_obj_init(ba);
  assert_int_equal(dyna_obj_copy(ab, a), 0);
  assert_int_equal(dyna_obj_merge(ab, b), 0);
  assert_int_equal(dyna_obj_copy(ba, b), 0);
  assert_int_equal(dyna_obj_merge(ba, a), 0);
  typed_same_bytes(ab, ba);
}

void typed_merge_both_ways(dyna_obj_t *a, dyna_obj_t *b) {
  dyna_obj_t a0;
  dyna_obj_init(&a0);
  assert_int_equal(dyna_obj_copy(&a0, a), 0);
  assert_int_equal(dyna_obj_merge(a, b), 0);
  assert_int_equal(dyna_obj_merge(b, &a0), 0);
  typed_same_bytes(a, b);
  dyna_obj_clear(&a0);
}

void typed_copy(dyna_obj_t *dst, const dyna_obj_t *src) {
  dyna_obj_init(dst);
  assert_int_equal(dyna_obj_copy(dst, src), 0);
}

void typed_make_string(dyna_obj_t *o) {
  dyna_val_t v = {0, 1, (uint8_t *)"x", 1};
  assert_int_equal(dyna_obj_update(o, NULL, 9, &v), 0);
}

void typed_set_str(dyna_obj_t *o, uint64_t actor, const char *v, uint64_t ts) {
  dyna_ctx_t c;
  dyna_ctx_init(&c);
  assert_int_equal(dyna_obj_context(o, &c), 0);
  dyna_val_t val = {0, ts, (uint8_t *)v, strlen(v)};
  assert_int_equal(dyna_obj_update(o, &c, actor, &val), 0);
  assert_int_equal(dyna_obj_supersede(o, actor, ts, 0), 0);
  dyna_ctx_clear(&c);
}

dyna_tenv_t typed_env(uint64_t actor, uint64_t now) {
  dyna_tenv_t e = {actor, now, 42, DYNA_RESP2, 0};
  return e;
}

int typed_count_char(const char *s, char c) {
  int n = 0;
  for (; *s; s++) n += *s == c;
  return n;
}
