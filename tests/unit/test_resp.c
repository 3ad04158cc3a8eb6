/* test_resp.c: unit tests for the RESP2 codec (src/proto/resp.c), and for what server and
 * client share over it: the error words (proto/words.c) and the DYNA.RING reply
 * (proto/ring_reply.c), encoded as the server does and decoded as libdyna does.
 *
 * Raw bytes go straight into the parsers, no sockets. Inputs are copied into
 * exactly-sized heap blocks so that AddressSanitizer catches any read past the end, and
 * the resumable command parser is checked by feeding the same bytes whole, split at
 * every point, one byte at a time, and from a freshly allocated copy on every call: all
 * must produce the same commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include "proto/resp.h"
#include "proto/ring_reply.h"
#include "proto/words.h"
#include <stdio.h>

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* ---- Helpers ---- */

/* Returns a heap copy of in[0..n) of exactly n bytes (1 if n == 0): reading past n is an
 * ASan error. Free with free(). */
static uint8_t *dup_exact(const uint8_t *in, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  assert_non_null(d);
  if (n) memcpy(d, in, n);
  return d;
}

/* Appends cmd to out as varint argc, then each argument as varint length + bytes. */
static void record_cmd(dyna_buf_t *out, const dyna_resp_cmd_t *cmd) {
  assert_true(cmd->argc >= 1);
  dyna_buf_put_varint(out, cmd->argc);
  for (size_t i = 0; i < cmd->argc; i++)
    dyna_buf_put_bytes(out, dyna_resp_cmd_arg(cmd, i), cmd->argl[i]);
}

/* What a run of the command parser over an input produced. */
typedef struct run {
  dyna_buf_t cmds; /* record_cmd() of each command, in order */
  size_t ncmds;
  int rc;          /* the final non-zero return: DYNA_EAGAIN or an error */
  size_t consumed; /* bytes consumed in total (meaningful when rc == DYNA_EAGAIN) */
} run_t;

static void run_free(run_t *r) { dyna_buf_free(&r->cmds); }

/* Parses in[0..n) presented whole (as an exact copy), repeatedly until it stops. */
static run_t run_whole(const dyna_resp_limits_t *lim, const uint8_t *in, size_t n) {
  run_t r;
  memset(&r, 0, sizeof(r));
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  uint8_t *copy = dup_exact(in, n);
  size_t off = 0;
  for (;;) {
    dyna_resp_cmd_t cmd;
    size_t used = 12345;
    int rc = dyna_resp_parse_cmd(&p, copy + off, n - off, &cmd, &used);
    if (rc == 0) {
      assert_true(used > 0 && used <= n - off);
      record_cmd(&r.cmds, &cmd);
      r.ncmds++;
      off += used;
      continue;
    }
    r.rc = rc;
    if (rc == DYNA_EAGAIN) {
      assert_true(used <= n - off);
      off += used;
    }
    break;
  }
  r.consumed = off;
  free(copy);
  dyna_resp_parser_free(&p);
  assert_false(r.cmds.oom);
  return r;
}

/* Parses in[0..n) as it would arrive in pieces: chunk[i % nchunk] more bytes at a time
 * (each >= 1). Every call gets a freshly malloc'd copy of the unconsumed bytes, and the
 * previous copy is freed first, so any pointer kept across calls is a use-after-free.
 * With advance_on_eagain 0 the caller ignores *consumed on DYNA_EAGAIN. */
static run_t run_chunked(const dyna_resp_limits_t *lim, const uint8_t *in, size_t n,
                         const size_t *chunk, size_t nchunk, int advance_on_eagain) {
  run_t r;
  memset(&r, 0, sizeof(r));
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  size_t start = 0, fed = 0, k = 0;
  for (;;) {
    uint8_t *copy = dup_exact(in + start, fed - start);
    dyna_resp_cmd_t cmd;
    size_t used = 12345;
    int rc = dyna_resp_parse_cmd(&p, copy, fed - start, &cmd, &used);
    if (rc == 0) {
      record_cmd(&r.cmds, &cmd);
      r.ncmds++;
      free(copy);
      start += used;
      continue;
    }
    free(copy);
    if (rc != DYNA_EAGAIN) {
      r.rc = rc;
      break;
    }
    if (advance_on_eagain) start += used;
    if (fed == n) {
      r.rc = rc;
      break;
    }
    size_t step = chunk[k++ % nchunk];
    fed = step > n - fed ? n : fed + step;
  }
  r.consumed = start;
  dyna_resp_parser_free(&p);
  assert_false(r.cmds.oom);
  return r;
}

/* Asserts that two runs produced the same commands and the same ending. */
static void assert_same_run(const run_t *a, const run_t *b) {
  assert_int_equal(a->ncmds, b->ncmds);
  assert_int_equal(a->rc, b->rc);
  assert_int_equal(a->cmds.len, b->cmds.len);
  if (a->cmds.len) assert_memory_equal(a->cmds.data, b->cmds.data, a->cmds.len);
}

/* Parses exactly one command from lit (an exact copy) with default limits and checks its
 * arguments against the NUL-terminated strings in argv and that all bytes were used. */
static void check_one(const uint8_t *in, size_t n, size_t argc, const char *const *argv) {
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  uint8_t *copy = dup_exact(in, n);
  dyna_resp_cmd_t cmd;
  size_t used = 0;
  assert_int_equal(dyna_resp_parse_cmd(&p, copy, n, &cmd, &used), 0);
  assert_int_equal(used, n);
  assert_int_equal(cmd.argc, argc);
  for (size_t i = 0; i < argc; i++) {
    assert_int_equal(cmd.argl[i], strlen(argv[i]));
    assert_memory_equal(dyna_resp_cmd_arg(&cmd, i), argv[i], cmd.argl[i]);
  }
  free(copy);
  dyna_resp_parser_free(&p);
}

/* Parses in (an exact copy) once with lim and returns the code; *msg gets p->err. */
static int parse_once(const dyna_resp_limits_t *lim, const uint8_t *in, size_t n,
                      char *msg, size_t *used) {
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  uint8_t *copy = dup_exact(in, n);
  dyna_resp_cmd_t cmd;
  size_t u = 0;
  int rc = dyna_resp_parse_cmd(&p, copy, n, &cmd, &u);
  if (msg) memcpy(msg, p.err, sizeof(p.err));
  if (used) *used = u;
  free(copy);
  dyna_resp_parser_free(&p);
  return rc;
}

static dyna_resp_limits_t small_limits(void) {
  dyna_resp_limits_t l;
  dyna_resp_limits_default(&l);
  l.max_bulk = 10;
  l.max_args = 3;
  l.max_inline = 8;
  l.max_depth = 2;
  return l;
}

/* ---- Command parser: well-formed input ---- */

static void test_limits_default(void **state) {
  (void)state;
  dyna_resp_limits_t l;
  dyna_resp_limits_default(&l);
  assert_int_equal(l.max_bulk, 512u * 1024 * 1024);
  assert_int_equal(l.max_args, 1024u * 1024);
  assert_int_equal(l.max_inline, 64u * 1024);
  assert_int_equal(l.max_depth, 8);
}

static void test_cmd_simple(void **state) {
  (void)state;
  static const uint8_t in[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  size_t used = 0;
  assert_int_equal(dyna_resp_parse_cmd(&p, in, sizeof(in) - 1, &cmd, &used), 0);
  assert_int_equal(used, sizeof(in) - 1);
  assert_int_equal(cmd.argc, 2);
  assert_ptr_equal(cmd.base, in);
  assert_int_equal(cmd.argo[0], 8);
  assert_int_equal(cmd.argl[0], 3);
  assert_int_equal(cmd.argo[1], 17);
  assert_int_equal(cmd.argl[1], 1);
  assert_memory_equal(in + cmd.argo[0], "GET", 3);
  assert_memory_equal(in + cmd.argo[1], "k", 1);
  /* The parser is reset: nothing left gives EAGAIN with nothing consumed. */
  used = 99;
  assert_int_equal(dyna_resp_parse_cmd(&p, in + sizeof(in) - 1, 0, &cmd, &used), DYNA_EAGAIN);
  assert_int_equal(used, 0);
  dyna_resp_parser_free(&p);
}

static void test_cmd_empty_bulk(void **state) {
  (void)state;
  static const char *const want[] = {"SET", "k", ""};
  check_one(S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), 3, want);
}

static void test_cmd_pipelined(void **state) {
  (void)state;
  static const uint8_t in[] = "*1\r\n$4\r\nPING\r\n"
                              "SET a b\r\n"
                              "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
                              "*1\r\n$3\r\nDEL";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  size_t off = 0, used;
  assert_int_equal(dyna_resp_parse_cmd(&p, in + off, sizeof(in) - 1 - off, &cmd, &used), 0);
  assert_int_equal(used, 14);
  assert_int_equal(cmd.argc, 1);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 0), "PING", 4);
  off += used;
  assert_int_equal(dyna_resp_parse_cmd(&p, in + off, sizeof(in) - 1 - off, &cmd, &used), 0);
  assert_int_equal(used, 9);
  assert_int_equal(cmd.argc, 3);
  assert_ptr_equal(cmd.base, in + off);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 2), "b", 1);
  off += used;
  assert_int_equal(dyna_resp_parse_cmd(&p, in + off, sizeof(in) - 1 - off, &cmd, &used), 0);
  assert_int_equal(cmd.argc, 2);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 0), "GET", 3);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 1), "a", 1);
  off += used;
  assert_int_equal(dyna_resp_parse_cmd(&p, in + off, sizeof(in) - 1 - off, &cmd, &used),
                   DYNA_EAGAIN);
  assert_int_equal(used, 0);
  dyna_resp_parser_free(&p);

  /* The same through the run helpers: three commands, the fourth pending. */
  run_t r = run_whole(NULL, S(in));
  assert_int_equal(r.ncmds, 3);
  assert_int_equal(r.rc, DYNA_EAGAIN);
  assert_int_equal(r.consumed, off);
  run_free(&r);
}

static void test_cmd_binary_bulk(void **state) {
  (void)state;
  static const uint8_t in[] = "*2\r\n$3\r\nSET\r\n$7\r\na\r\n\0b\r\r\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  uint8_t *copy = dup_exact(S(in));
  dyna_resp_cmd_t cmd;
  size_t used;
  assert_int_equal(dyna_resp_parse_cmd(&p, copy, sizeof(in) - 1, &cmd, &used), 0);
  assert_int_equal(used, sizeof(in) - 1);
  assert_int_equal(cmd.argc, 2);
  assert_int_equal(cmd.argl[1], 7);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 1), "a\r\n\0b\r\r", 7);
  free(copy);
  dyna_resp_parser_free(&p);
}

/* The inputs the split tests feed in every way. */
static const struct {
  const char *in;
  size_t len;
  size_t ncmds;
} split_cases[] = {
#define CASE(lit, n) {lit, sizeof(lit) - 1, n}
    CASE("*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$12\r\nhello\r\nworld\r\n", 1),
    CASE("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\nGET k\r\n", 3),
    CASE("\r\n\n  \r\n*0\r\n*-1\r\nSET \"a b\" 'c\\'d' \"\\x41\\n\\\"\"\r\n\r\n", 1),
    CASE("*2\r\n$3\r\nGET\r\n$10\r\n\0\1\2\r\n\n\r\r\nZ\r\n*1\r\n$1\r\nx\r\n", 2),
    CASE("a\"b\"c\r\n", 0), /* unbalanced after "b" */
    CASE("*2\r\n$1\r\na\r\n*1\r\n", 0), /* nested array */
    CASE("GET k\r\nGET", 1),
#undef CASE
};

static void test_cmd_split_every_point(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
    const uint8_t *in = (const uint8_t *)split_cases[c].in;
    size_t n = split_cases[c].len;
    run_t whole = run_whole(NULL, in, n);
    assert_int_equal(whole.ncmds, split_cases[c].ncmds);
    for (size_t k = 1; k < n; k++) {
      size_t chunk[2] = {k, n};
      run_t r = run_chunked(NULL, in, n, chunk, 2, 1);
      assert_same_run(&whole, &r);
      if (whole.rc == DYNA_EAGAIN) assert_int_equal(r.consumed, whole.consumed);
      run_free(&r);
    }
    run_free(&whole);
  }
}

static void test_cmd_byte_at_a_time(void **state) {
  (void)state;
  static const size_t one = 1;
  static const size_t mixed[] = {1, 2, 3, 7, 5};
  for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
    const uint8_t *in = (const uint8_t *)split_cases[c].in;
    size_t n = split_cases[c].len;
    run_t whole = run_whole(NULL, in, n);
    run_t r1 = run_chunked(NULL, in, n, &one, 1, 1);
    assert_same_run(&whole, &r1);
    run_t r2 = run_chunked(NULL, in, n, mixed, 5, 1);
    assert_same_run(&whole, &r2);
    /* A caller that does not advance by *consumed on EAGAIN still gets the same. */
    run_t r3 = run_chunked(NULL, in, n, &one, 1, 0);
    assert_same_run(&whole, &r3);
    run_free(&whole);
    run_free(&r1);
    run_free(&r2);
    run_free(&r3);
  }
}

static void test_cmd_resume_keeps_offsets(void **state) {
  (void)state;
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  uint8_t buf[64] = "*2\r\n$3\r\nGET\r\n$1";
  dyna_resp_cmd_t cmd;
  size_t used = 7;
  assert_int_equal(dyna_resp_parse_cmd(&p, buf, 15, &cmd, &used), DYNA_EAGAIN);
  assert_int_equal(used, 0);
  assert_int_equal(p.want, 2); /* header read once */
  assert_int_equal(p.argc, 1); /* first argument done */
  assert_int_equal(p.pos, 13); /* next "$" */
  /* The finished argument is not looked at again: overwrite it, then complete. */
  memcpy(buf + 8, "XYZ", 3);
  memcpy(buf + 15, "\r\nk\r\n", 5);
  assert_int_equal(dyna_resp_parse_cmd(&p, buf, 20, &cmd, &used), 0);
  assert_int_equal(used, 20);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 0), "XYZ", 3);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 1), "k", 1);
  dyna_resp_parser_free(&p);
}

static void test_cmd_large_bulk_in_chunks(void **state) {
  (void)state;
  size_t body = 300000;
  dyna_buf_t b = DYNA_BUF_INIT;
  uint8_t *val = malloc(body);
  assert_non_null(val);
  for (size_t i = 0; i < body; i++) val[i] = (uint8_t)(i * 31 + 7);
  const uint8_t *argv[2] = {(const uint8_t *)"SET", val};
  size_t argl[2] = {3, body};
  dyna_resp_put_cmd(&b, 2, argv, argl);
  assert_false(b.oom);
  static const size_t chunk[] = {4096, 1, 65536};
  run_t r = run_chunked(NULL, b.data, b.len, chunk, 3, 1);
  assert_int_equal(r.ncmds, 1);
  assert_int_equal(r.rc, DYNA_EAGAIN);
  assert_int_equal(r.consumed, b.len);
  run_t w = run_whole(NULL, b.data, b.len);
  assert_same_run(&w, &r);
  run_free(&r);
  run_free(&w);
  free(val);
  dyna_buf_free(&b);
}

/* ---- Inline commands ---- */

static void test_inline_plain(void **state) {
  (void)state;
  static const char *const a[] = {"SET", "k", "v"};
  check_one(S("SET k v\r\n"), 3, a);
  check_one(S("SET k v\n"), 3, a);
  check_one(S("  SET\t\tk   v \t\r\n"), 3, a);
  static const char *const b[] = {"PING"};
  check_one(S("PING\r\n"), 1, b);
}

static void test_inline_base_is_buffer_when_plain(void **state) {
  (void)state;
  static const uint8_t in[] = "GET \"my key\" 'x'\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  size_t used;
  assert_int_equal(dyna_resp_parse_cmd(&p, S(in), &cmd, &used), 0);
  assert_ptr_equal(cmd.base, in);
  assert_int_equal(cmd.argc, 3);
  assert_int_equal(cmd.argo[1], 5);
  assert_int_equal(cmd.argl[1], 6);
  assert_memory_equal(in + cmd.argo[1], "my key", 6);
  assert_int_equal(cmd.argo[2], 14);
  dyna_resp_parser_free(&p);
}

static void test_inline_quotes_and_escapes(void **state) {
  (void)state;
  static const char *const a[] = {"SET", "a b", "it's", "A\n\"\\\r\t"};
  check_one(S("SET \"a b\" 'it\\'s' \"\\x41\\n\\\"\\\\\\r\\t\"\r\n"), 4, a);
  static const char *const b[] = {"ab", "cd", ""};
  check_one(S("a\"b\" c'd' \"\"\r\n"), 3, b);
  /* Single quotes keep backslashes except before '. Unknown escapes give the char. */
  static const char *const c[] = {"a\\nb", "q", "x4"};
  check_one(S("'a\\nb' \"\\q\" \"\\x4\"\r\n"), 3, c);
  /* \xHH takes upper and lower case hex digits. */
  static const char *const d[] = {"\xab\xCD", "k"};
  check_one(S("\"\\xab\\xCD\" k\r\n"), 2, d);
}

static void test_inline_rewritten_uses_scratch(void **state) {
  (void)state;
  static const uint8_t in[] = "GET \"a\\x42\"\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  size_t used;
  assert_int_equal(dyna_resp_parse_cmd(&p, S(in), &cmd, &used), 0);
  assert_ptr_not_equal(cmd.base, in);
  assert_int_equal(cmd.argc, 2);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 0), "GET", 3);
  assert_int_equal(cmd.argl[1], 2);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 1), "aB", 2);
  dyna_resp_parser_free(&p);
}

static void test_inline_nul_byte(void **state) {
  (void)state;
  static const uint8_t in[] = "SET k a\0b\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  uint8_t *copy = dup_exact(S(in));
  dyna_resp_cmd_t cmd;
  size_t used;
  assert_int_equal(dyna_resp_parse_cmd(&p, copy, sizeof(in) - 1, &cmd, &used), 0);
  assert_int_equal(cmd.argc, 3);
  assert_int_equal(cmd.argl[2], 3);
  assert_memory_equal(dyna_resp_cmd_arg(&cmd, 2), "a\0b", 3);
  free(copy);
  dyna_resp_parser_free(&p);
}

static void test_empty_lines_and_null_arrays(void **state) {
  (void)state;
  size_t used = 99;
  assert_int_equal(parse_once(NULL, S("\r\n"), NULL, &used), DYNA_EAGAIN);
  assert_int_equal(used, 2);
  assert_int_equal(parse_once(NULL, S("\n \t\r\n*0\r\n*-1\r\n"), NULL, &used), DYNA_EAGAIN);
  assert_int_equal(used, 14);
  static const char *const a[] = {"PING"};
  check_one(S("\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n"), 1, a);
  /* A partial line after a skipped one: consumed counts only the skipped bytes. */
  assert_int_equal(parse_once(NULL, S("\r\n*2\r\n$3\r\nGE"), NULL, &used), DYNA_EAGAIN);
  assert_int_equal(used, 2);
  assert_int_equal(parse_once(NULL, S("*0\r\nPIN"), NULL, &used), DYNA_EAGAIN);
  assert_int_equal(used, 4);
  /* The offsets are relative to the buffer passed, skipped bytes included. */
  static const uint8_t in[] = "\r\n*1\r\n$4\r\nPING\r\n";
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  assert_int_equal(dyna_resp_parse_cmd(&p, S(in), &cmd, &used), 0);
  assert_int_equal(used, sizeof(in) - 1);
  assert_int_equal(cmd.argo[0], 10);
  assert_memory_equal(in + cmd.argo[0], "PING", 4);
  dyna_resp_parser_free(&p);
}

/* ---- Malformed commands ---- */

static const struct {
  const char *in;
  size_t len;
  int rc;
  const char *msg;
} bad_cases[] = {
#define BAD(lit, rc, msg) {lit, sizeof(lit) - 1, rc, msg}
    BAD("*x\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*-2\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*-1x\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*1x\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*+1\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*01\r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*1\rx", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*1 \r\n", DYNA_EPROTO, "Protocol error: invalid multibulk length"),
    BAD("*99999999999999999999999999\r\n", DYNA_ETOOBIG,
        "Protocol error: multibulk length over the limit"),
    BAD("*1\r\n$x\r\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$\r\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$-1\r\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$-5\r\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$03\r\nabc\r\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$3\n", DYNA_EPROTO, "Protocol error: invalid bulk length"),
    BAD("*1\r\n$99999999999999999999999999\r\n", DYNA_ETOOBIG,
        "Protocol error: bulk length over the limit"),
    BAD("*1\r\n$3\r\nabcX", DYNA_EPROTO, "Protocol error: expected CRLF after bulk string"),
    BAD("*1\r\n$3\r\nabc\rX", DYNA_EPROTO, "Protocol error: expected CRLF after bulk string"),
    BAD("*1\r\n$3\r\nabcd\r\n", DYNA_EPROTO, "Protocol error: expected CRLF after bulk string"),
    BAD("*2\r\n*1\r\n$1\r\na\r\n", DYNA_EPROTO, "Protocol error: expected '$', got '*'"),
    BAD("*1\r\n:5\r\n", DYNA_EPROTO, "Protocol error: expected '$', got ':'"),
    BAD("*1\r\n+OK\r\n", DYNA_EPROTO, "Protocol error: expected '$', got '+'"),
    BAD("*2\r\n$1\r\na\r\nGET\r\n", DYNA_EPROTO, "Protocol error: expected '$', got 'G'"),
    BAD("*1\r\n\x01", DYNA_EPROTO, "Protocol error: expected '$', got '\\x01'"),
    BAD("GET \"abc\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET 'abc\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET \"a\"b\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET 'a'b\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET \"abc\\\"\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET \"abc\\\r\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
    BAD("GET a\"b\n", DYNA_EPROTO, "Protocol error: unbalanced quotes in request"),
#undef BAD
};

static void test_cmd_malformed(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++) {
    const uint8_t *in = (const uint8_t *)bad_cases[c].in;
    size_t n = bad_cases[c].len;
    char msg[128];
    size_t used = 99;
    int rc = parse_once(NULL, in, n, msg, &used);
    if (rc != bad_cases[c].rc || strcmp(msg, bad_cases[c].msg) != 0)
      fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", c, rc, msg, bad_cases[c].rc,
               bad_cases[c].msg);
    assert_int_equal(used, 0);
    /* No prefix may succeed or fail differently: each is EAGAIN or the same error. */
    for (size_t k = 0; k < n; k++) {
      int prc = parse_once(NULL, in, k, NULL, NULL);
      if (prc != DYNA_EAGAIN && prc != rc) fail_msg("case %zu prefix %zu: got %d", c, k, prc);
    }
    /* Fed byte by byte, the same error comes out. */
    static const size_t one = 1;
    run_t r = run_chunked(NULL, in, n, &one, 1, 1);
    assert_int_equal(r.rc, rc);
    assert_int_equal(r.ncmds, 0);
    run_free(&r);
  }
}

static void test_cmd_error_after_good_commands(void **state) {
  (void)state;
  static const uint8_t in[] = "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPINGxx";
  run_t r = run_whole(NULL, S(in));
  assert_int_equal(r.ncmds, 2);
  assert_int_equal(r.rc, DYNA_EPROTO);
  static const size_t one = 1;
  run_t r1 = run_chunked(NULL, S(in), &one, 1, 1);
  assert_same_run(&r, &r1);
  run_free(&r);
  run_free(&r1);
  /* After an error the parser is reset and usable again. */
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_resp_cmd_t cmd;
  size_t used;
  assert_int_equal(dyna_resp_parse_cmd(&p, S("*1\r\n$x"), &cmd, &used), DYNA_EPROTO);
  assert_int_equal(dyna_resp_parse_cmd(&p, S("GET k\r\n"), &cmd, &used), 0);
  assert_int_equal(cmd.argc, 2);
  dyna_resp_parser_free(&p);
}

/* ---- Limits ---- */

static void test_limit_bulk(void **state) {
  (void)state;
  dyna_resp_limits_t l = small_limits();
  size_t used;
  char msg[128];
  assert_int_equal(parse_once(&l, S("*1\r\n$10\r\n0123456789\r\n"), msg, &used), 0);
  assert_int_equal(used, 21);
  assert_int_equal(parse_once(&l, S("*1\r\n$11\r\n"), msg, NULL), DYNA_ETOOBIG);
  assert_string_equal(msg, "Protocol error: bulk length over the limit");
  /* Known too big from the digits alone, before the line ends. */
  assert_int_equal(parse_once(&l, S("*1\r\n$11"), NULL, NULL), DYNA_ETOOBIG);
  assert_int_equal(parse_once(&l, S("*1\r\n$100"), NULL, NULL), DYNA_ETOOBIG);
  assert_int_equal(parse_once(&l, S("*1\r\n$10"), NULL, NULL), DYNA_EAGAIN);
  /* A limit of SIZE_MAX cannot overflow the digit arithmetic. */
  l.max_bulk = SIZE_MAX;
  assert_int_equal(parse_once(&l, S("*1\r\n$18446744073709551614\r\n"), NULL, NULL),
                   DYNA_EAGAIN);
  assert_int_equal(parse_once(&l, S("*1\r\n$18446744073709551615\r\n"), NULL, NULL),
                   DYNA_ETOOBIG);
  assert_int_equal(parse_once(&l, S("*1\r\n$18446744073709551616\r\n"), NULL, NULL),
                   DYNA_ETOOBIG);
  /* Nor can max_args = SIZE_MAX make a count look like "*-1". */
  l.max_args = SIZE_MAX;
  assert_int_equal(parse_once(&l, S("*18446744073709551615\r\n"), NULL, NULL), DYNA_ETOOBIG);
}

static void test_limit_args(void **state) {
  (void)state;
  dyna_resp_limits_t l = small_limits();
  char msg[128];
  assert_int_equal(parse_once(&l, S("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"), NULL, NULL), 0);
  assert_int_equal(parse_once(&l, S("*4\r\n"), msg, NULL), DYNA_ETOOBIG);
  assert_string_equal(msg, "Protocol error: multibulk length over the limit");
  assert_int_equal(parse_once(&l, S("a b c\r\n"), NULL, NULL), 0);
  assert_int_equal(parse_once(&l, S("a b c d\r\n"), msg, NULL), DYNA_ETOOBIG);
  assert_string_equal(msg, "Protocol error: too many arguments in inline request");
}

static void test_limit_inline(void **state) {
  (void)state;
  dyna_resp_limits_t l = small_limits(); /* max_inline 8 */
  char msg[128];
  size_t used;
  assert_int_equal(parse_once(&l, S("12345678\r\n"), NULL, &used), 0);
  assert_int_equal(used, 10);
  assert_int_equal(parse_once(&l, S("12345678\n"), NULL, &used), 0);
  assert_int_equal(used, 9);
  assert_int_equal(parse_once(&l, S("123456789\r\n"), msg, NULL), DYNA_ETOOBIG);
  assert_string_equal(msg, "Protocol error: too big inline request");
  assert_int_equal(parse_once(&l, S("123456789\n"), NULL, NULL), DYNA_ETOOBIG);
  /* Without a newline: 9 bytes may still end as "12345678\r\n", 10 cannot. */
  assert_int_equal(parse_once(&l, S("12345678\r"), NULL, NULL), DYNA_EAGAIN);
  assert_int_equal(parse_once(&l, S("1234567890"), NULL, NULL), DYNA_ETOOBIG);
  /* Resumed across calls the scan stops at the limit as well. */
  static const size_t one = 1;
  run_t r = run_chunked(&l, S("12345678901234567890\r\n"), &one, 1, 1);
  assert_int_equal(r.rc, DYNA_ETOOBIG);
  run_free(&r);
}

/* ---- Allocation failures ---- */

static void test_cmd_enomem(void **state) {
  (void)state;
  static const uint8_t mb[] = "*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
                              "$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n"
                              "$1\r\nk\r\n$1\r\nl\r\n";
  static const uint8_t inl[] = "a \"b\\x41\" c d e f g h i j k l\r\n";
  const uint8_t *ins[2] = {mb, inl};
  size_t lens[2] = {sizeof(mb) - 1, sizeof(inl) - 1};
  for (int c = 0; c < 2; c++) {
    int saw_enomem = 0, saw_ok = 0;
    for (long k = 0; k < 10 && !saw_ok; k++) {
      dyna_resp_parser_t p;
      dyna_resp_parser_init(&p, NULL);
      dyna_resp_cmd_t cmd;
      size_t used;
      dyna_mem_fail_after(k);
      int rc = dyna_resp_parse_cmd(&p, ins[c], lens[c], &cmd, &used);
      dyna_mem_fail_after(-1);
      if (rc == DYNA_ENOMEM) saw_enomem = 1;
      if (rc == 0) {
        saw_ok = 1;
        assert_int_equal(cmd.argc, 12);
      }
      assert_true(rc == 0 || rc == DYNA_ENOMEM);
      dyna_resp_parser_free(&p);
    }
    assert_true(saw_enomem);
    assert_true(saw_ok);
  }
}

/* ---- Reply parser ---- */

/* Parses one reply from an exact copy of in with lim (NULL: defaults). */
static int reply_once(const dyna_resp_limits_t *lim, const uint8_t *in, size_t n,
                      dyna_resp_value_t *v, size_t *used) {
  dyna_resp_limits_t d;
  if (!lim) {
    dyna_resp_limits_default(&d);
    lim = &d;
  }
  uint8_t *copy = dup_exact(in, n);
  int rc = dyna_resp_parse_reply(lim, copy, n, v, used);
  free(copy);
  return rc;
}

static void test_reply_scalars(void **state) {
  (void)state;
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(reply_once(NULL, S("+OK\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_STRING);
  assert_int_equal(used, 5);
  assert_int_equal(v.len, 2);
  assert_string_equal((char *)v.str, "OK");
  dyna_resp_value_free(&v);
  assert_null(v.str);

  assert_int_equal(reply_once(NULL, S("+\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_STRING);
  assert_int_equal(v.len, 0);
  assert_string_equal((char *)v.str, "");
  dyna_resp_value_free(&v);

  assert_int_equal(reply_once(NULL, S("-ERR no such key\r\n+x"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_ERROR);
  assert_int_equal(used, 18);
  assert_string_equal((char *)v.str, "ERR no such key");
  dyna_resp_value_free(&v);

  assert_int_equal(reply_once(NULL, S(":-42\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_INTEGER);
  assert_int_equal(v.integer, -42);
  assert_int_equal(reply_once(NULL, S(":0\r\n"), &v, &used), 0);
  assert_int_equal(v.integer, 0);
  assert_int_equal(reply_once(NULL, S(":9223372036854775807\r\n"), &v, &used), 0);
  assert_true(v.integer == INT64_MAX);
  assert_int_equal(reply_once(NULL, S(":-9223372036854775808\r\n"), &v, &used), 0);
  assert_true(v.integer == INT64_MIN);

  assert_int_equal(reply_once(NULL, S("$5\r\nhe\0lo\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_BULK);
  assert_int_equal(v.len, 5);
  assert_memory_equal(v.str, "he\0lo", 6); /* with the NUL terminator */
  assert_int_equal(used, 11);
  dyna_resp_value_free(&v);

  assert_int_equal(reply_once(NULL, S("$0\r\n\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_BULK);
  assert_int_equal(v.len, 0);
  assert_non_null(v.str);
  dyna_resp_value_free(&v);

  assert_int_equal(reply_once(NULL, S("$-1\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_NIL);
  assert_int_equal(used, 5);
  assert_int_equal(reply_once(NULL, S("*-1\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_NIL);
  assert_int_equal(reply_once(NULL, S("*0\r\n"), &v, &used), 0);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.n, 0);
  assert_null(v.elem);
}

static const uint8_t nested_reply[] = "*4\r\n"
                                      "*2\r\n:1\r\n$1\r\na\r\n"
                                      "$-1\r\n"
                                      "*1\r\n*0\r\n"
                                      "-ERR x\r\n";

static void test_reply_nested(void **state) {
  (void)state;
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(reply_once(NULL, S(nested_reply), &v, &used), 0);
  assert_int_equal(used, sizeof(nested_reply) - 1);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.n, 4);
  assert_int_equal(v.elem[0].type, DYNA_RESP_ARRAY);
  assert_int_equal(v.elem[0].n, 2);
  assert_int_equal(v.elem[0].elem[0].integer, 1);
  assert_string_equal((char *)v.elem[0].elem[1].str, "a");
  assert_int_equal(v.elem[1].type, DYNA_RESP_NIL);
  assert_int_equal(v.elem[2].elem[0].type, DYNA_RESP_ARRAY);
  assert_int_equal(v.elem[2].elem[0].n, 0);
  assert_int_equal(v.elem[3].type, DYNA_RESP_ERROR);
  dyna_resp_value_free(&v);
  assert_int_equal(v.n, 0);
  assert_null(v.elem);
}

static void test_reply_prefixes_eagain(void **state) {
  (void)state;
  static const uint8_t *const replies[] = {nested_reply, (const uint8_t *)"$5\r\nhello\r\n",
                                           (const uint8_t *)":-123\r\n",
                                           (const uint8_t *)"+OK\r\n",
                                           (const uint8_t *)"*-1\r\n"};
  size_t lens[] = {sizeof(nested_reply) - 1, 11, 7, 5, 5};
  for (size_t r = 0; r < 5; r++) {
    for (size_t k = 0; k < lens[r]; k++) {
      dyna_resp_value_t v;
      size_t used = 77;
      assert_int_equal(reply_once(NULL, replies[r], k, &v, &used), DYNA_EAGAIN);
      assert_int_equal(used, 77);
      assert_int_equal(v.type, 0);
      assert_null(v.elem);
      assert_null(v.str);
    }
  }
}

static void test_reply_malformed(void **state) {
  (void)state;
  static const struct {
    const char *in;
    size_t len;
    int rc;
  } bad[] = {
#define BAD(lit, rc) {lit, sizeof(lit) - 1, rc}
      BAD("?x\r\n", DYNA_EPROTO),
      BAD("+a\nb\r\n", DYNA_EPROTO),
      BAD("+ab\rx", DYNA_EPROTO),
      BAD(":abc\r\n", DYNA_EPROTO),
      BAD(":\r\n", DYNA_EPROTO),
      BAD(":-\r\n", DYNA_EPROTO),
      BAD(":-0\r\n", DYNA_EPROTO),
      BAD(":01\r\n", DYNA_EPROTO),
      BAD(":9223372036854775808\r\n", DYNA_EPROTO),
      BAD(":-9223372036854775809\r\n", DYNA_EPROTO),
      BAD("$-2\r\n", DYNA_EPROTO),
      BAD("$3\r\nabcd\r\n", DYNA_EPROTO),
      BAD("$x\r\n", DYNA_EPROTO),
      BAD("*-2\r\n", DYNA_EPROTO),
      BAD("*2\r\n:1\r\n?\r\n", DYNA_EPROTO),
      BAD("*2\r\n*1\r\n$2\r\nabX\r\n:1\r\n", DYNA_EPROTO),
      BAD("$99999999999999999999999\r\n", DYNA_ETOOBIG),
      BAD("*99999999999999999999999\r\n", DYNA_ETOOBIG),
#undef BAD
  };
  for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
    dyna_resp_value_t v;
    size_t used;
    int rc = reply_once(NULL, (const uint8_t *)bad[c].in, bad[c].len, &v, &used);
    if (rc != bad[c].rc) fail_msg("case %zu: got %d want %d", c, rc, bad[c].rc);
    assert_int_equal(v.type, 0);
    assert_null(v.elem);
  }
}

static void test_reply_limits(void **state) {
  (void)state;
  dyna_resp_limits_t l = small_limits(); /* bulk 10, args 3, inline 8, depth 2 */
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(reply_once(&l, S("$10\r\n0123456789\r\n"), &v, &used), 0);
  dyna_resp_value_free(&v);
  assert_int_equal(reply_once(&l, S("$11\r\n"), &v, &used), DYNA_ETOOBIG);
  assert_int_equal(reply_once(&l, S("*3\r\n:1\r\n:2\r\n:3\r\n"), &v, &used), 0);
  assert_int_equal(v.n, 3);
  dyna_resp_value_free(&v);
  assert_int_equal(reply_once(&l, S("*4\r\n"), &v, &used), DYNA_ETOOBIG);
  assert_int_equal(reply_once(&l, S("*1\r\n*1\r\n:1\r\n"), &v, &used), 0);
  dyna_resp_value_free(&v);
  assert_int_equal(reply_once(&l, S("*1\r\n*1\r\n*0\r\n"), &v, &used), DYNA_ETOOBIG);
  assert_int_equal(reply_once(&l, S("*1\r\n*1\r\n*-1\r\n"), &v, &used), 0); /* nil, no depth */
  assert_int_equal(v.elem[0].elem[0].type, DYNA_RESP_NIL);
  dyna_resp_value_free(&v);
  assert_int_equal(reply_once(&l, S("+12345678\r\n"), &v, &used), 0);
  dyna_resp_value_free(&v);
  assert_int_equal(reply_once(&l, S("+123456789\r\n"), &v, &used), DYNA_ETOOBIG);
  assert_int_equal(reply_once(&l, S("-123456789"), &v, &used), DYNA_ETOOBIG);
  l.max_depth = 0;
  assert_int_equal(reply_once(&l, S("*0\r\n"), &v, &used), DYNA_ETOOBIG);
}

static void test_reply_enomem_cleans_up(void **state) {
  (void)state;
  dyna_resp_limits_t l;
  dyna_resp_limits_default(&l);
  int saw_enomem = 0, saw_ok = 0;
  for (long k = 0; k < 40 && !saw_ok; k++) {
    dyna_resp_value_t v;
    size_t used;
    dyna_mem_fail_after(k);
    int rc = dyna_resp_parse_reply(&l, S(nested_reply), &v, &used);
    dyna_mem_fail_after(-1);
    if (rc == DYNA_ENOMEM) {
      saw_enomem = 1;
      assert_int_equal(v.type, 0);
      assert_null(v.elem);
    } else {
      assert_int_equal(rc, 0);
      saw_ok = 1;
      assert_int_equal(v.n, 4);
      dyna_resp_value_free(&v);
    }
  }
  assert_true(saw_enomem);
  assert_true(saw_ok);
}

static void test_reply_huge_count_waits(void **state) {
  (void)state;
  /* A million elements announced but few bytes present: EAGAIN, no big allocation (a
   * failing allocator proves no allocation was attempted). */
  dyna_resp_value_t v;
  size_t used;
  dyna_mem_fail_after(0);
  int rc = reply_once(NULL, S("*1000000\r\n:1\r\n:2\r\n"), &v, &used);
  dyna_mem_fail_after(-1);
  assert_int_equal(rc, DYNA_EAGAIN);
}

/* ---- Encoders ---- */

/* Asserts that b holds exactly the bytes of lit, then empties it. */
#define ASSERT_BUF(b, lit)                                     \
  do {                                                         \
    assert_false((b)->oom);                                    \
    assert_int_equal((b)->len, sizeof(lit) - 1);               \
    assert_memory_equal((b)->data, lit, sizeof(lit) - 1);      \
    dyna_buf_reset(b);                                         \
  } while (0)

static void test_encoders_exact(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_simple(&b, "OK");
  ASSERT_BUF(&b, "+OK\r\n");
  dyna_resp_put_simple(&b, "a\r\nb");
  ASSERT_BUF(&b, "+a  b\r\n");
  dyna_resp_put_error(&b, "ERR bad\r\nthing\nhere\r");
  ASSERT_BUF(&b, "-ERR bad  thing here \r\n");
  dyna_resp_put_error(&b, "");
  ASSERT_BUF(&b, "-\r\n");
  dyna_resp_put_int(&b, 0);
  ASSERT_BUF(&b, ":0\r\n");
  dyna_resp_put_int(&b, -7);
  ASSERT_BUF(&b, ":-7\r\n");
  dyna_resp_put_int(&b, INT64_MAX);
  ASSERT_BUF(&b, ":9223372036854775807\r\n");
  dyna_resp_put_int(&b, INT64_MIN);
  ASSERT_BUF(&b, ":-9223372036854775808\r\n");
  dyna_resp_put_bulk(&b, "a\r\n\0b", 5);
  ASSERT_BUF(&b, "$5\r\na\r\n\0b\r\n");
  dyna_resp_put_bulk(&b, NULL, 0);
  ASSERT_BUF(&b, "$0\r\n\r\n");
  dyna_resp_put_bulk_str(&b, "hello");
  ASSERT_BUF(&b, "$5\r\nhello\r\n");
  dyna_resp_put_nil(&b);
  ASSERT_BUF(&b, "$-1\r\n");
  dyna_resp_put_array(&b, 0);
  ASSERT_BUF(&b, "*0\r\n");
  dyna_resp_put_array(&b, 1234567);
  ASSERT_BUF(&b, "*1234567\r\n");
  const uint8_t *argv[3] = {(const uint8_t *)"SET", (const uint8_t *)"k", (const uint8_t *)""};
  size_t argl[3] = {3, 1, 0};
  dyna_resp_put_cmd(&b, 3, argv, argl);
  ASSERT_BUF(&b, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  dyna_buf_free(&b);
}

static void test_encoder_oom_flag(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_mem_fail_after(0);
  dyna_resp_put_bulk_str(&b, "hello");
  dyna_mem_fail_after(-1);
  assert_true(b.oom);
  dyna_buf_free(&b);
}

/* ---- Round trips ---- */

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

static void test_roundtrip_cmd(void **state) {
  (void)state;
  uint32_t seed = 42;
  for (int iter = 0; iter < 200; iter++) {
    size_t argc = 1 + lcg(&seed) % 6;
    uint8_t data[6][40];
    const uint8_t *argv[6];
    size_t argl[6];
    for (size_t i = 0; i < argc; i++) {
      argl[i] = lcg(&seed) % 40;
      for (size_t j = 0; j < argl[i]; j++) data[i][j] = (uint8_t)lcg(&seed);
      argv[i] = data[i];
    }
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_resp_put_cmd(&b, argc, argv, argl);
    dyna_resp_put_cmd(&b, argc, argv, argl);
    assert_false(b.oom);
    dyna_resp_parser_t p;
    dyna_resp_parser_init(&p, NULL);
    size_t off = 0;
    for (int twice = 0; twice < 2; twice++) {
      dyna_resp_cmd_t cmd;
      size_t used;
      assert_int_equal(dyna_resp_parse_cmd(&p, b.data + off, b.len - off, &cmd, &used), 0);
      assert_int_equal(cmd.argc, argc);
      for (size_t i = 0; i < argc; i++) {
        assert_int_equal(cmd.argl[i], argl[i]);
        if (argl[i]) assert_memory_equal(dyna_resp_cmd_arg(&cmd, i), argv[i], argl[i]);
      }
      off += used;
    }
    assert_int_equal(off, b.len);
    dyna_resp_parser_free(&p);
    dyna_buf_free(&b);
  }
}

/* A command with a bulk over max_bulk but within max_skip is dropped as it arrives and
 * answered DYNA_ETOOBIG with the stream in step: the commands around it parse, whether
 * the bytes come whole, one at a time or in chunks; the dropped body is never asked for
 * again (the caller advances by *consumed). A bad CRLF after it or a bulk over max_skip
 * still ends the stream. */
static int skip_stream(const uint8_t *in, size_t n, size_t chunk, int *ncmd, int *ntoobig, size_t *toolen) {
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  lim.max_bulk = 8;
  lim.max_skip = 1000;
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, &lim);
  uint8_t *buf = malloc(n + 1);
  size_t have = 0, fed = 0;
  int rc = 0;
  *ncmd = *ntoobig = 0;
  while (fed < n || have) {
    size_t k = n - fed < chunk ? n - fed : chunk;
    memcpy(buf + have, in + fed, k);
    have += k;
    fed += k;
    for (;;) {
      dyna_resp_cmd_t cmd;
      size_t used = 0;
      rc = dyna_resp_parse_cmd(&p, buf, have, &cmd, &used);
      assert_true(used <= have);
      if (rc == 0) {
        assert_int_equal(cmd.argc, 2);
        assert_memory_equal(dyna_resp_cmd_arg(&cmd, 1), "ok", 2);
        (*ncmd)++;
      }
      memmove(buf, buf + used, have - used);
      have -= used;
      if (rc == DYNA_EAGAIN) break;
      if (rc == DYNA_ETOOBIG && p.skipped) {
        (*ntoobig)++;
        *toolen = p.skip_len;
        continue;
      }
      if (rc) goto out;
    }
    if (fed == n) break;
  }
  rc = have ? DYNA_EAGAIN : 0;
out:
  free(buf);
  dyna_resp_parser_free(&p);
  return rc;
}

static void test_cmd_skip_oversized(void **state) {
  (void)state;
  char big[600];
  memset(big, 'x', sizeof(big));
  char in[800];
  int n = snprintf(in, sizeof(in), "*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500\r\n%.500s\r\n"
                   "*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n", big);
  size_t chunks[] = {1, 2, 3, 7, 64, 800};
  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    int ncmd, ntoobig;
    size_t len = 0;
    assert_int_equal(skip_stream((const uint8_t *)in, (size_t)n, chunks[i], &ncmd, &ntoobig, &len), 0);
    assert_int_equal(ncmd, 2);
    assert_int_equal(ntoobig, 1);
    assert_int_equal(len, 500);
  }
  /* The oversized bulk first, then more arguments after it, big and small. */
  n = snprintf(in, sizeof(in), "*4\r\n$9\r\nTOOBIGCMD\r\n$20\r\n%.20s\r\n$30\r\n%.30s\r\n$1\r\na\r\n"
               "*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n", big, big);
  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    int ncmd, ntoobig;
    size_t len = 0;
    assert_int_equal(skip_stream((const uint8_t *)in, (size_t)n, chunks[i], &ncmd, &ntoobig, &len), 0);
    assert_int_equal(ncmd, 1);
    assert_int_equal(ntoobig, 1);
    assert_int_equal(len, 30);
  }
  int ncmd, ntoobig;
  size_t len = 0;
  n = snprintf(in, sizeof(in), "*2\r\n$3\r\nSET\r\n$20\r\n%.20sXY*1\r\n$4\r\nPING\r\n", big);
  assert_int_equal(skip_stream((const uint8_t *)in, (size_t)n, 5, &ncmd, &ntoobig, &len), DYNA_EPROTO);
  n = snprintf(in, sizeof(in), "*2\r\n$3\r\nSET\r\n$1001\r\nxx");
  assert_int_equal(skip_stream((const uint8_t *)in, (size_t)n, 3, &ncmd, &ntoobig, &len), DYNA_ETOOBIG);
  assert_int_equal(ntoobig, 0);
}

static void test_roundtrip_reply(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_array(&b, 6);
  dyna_resp_put_simple(&b, "PONG");
  dyna_resp_put_error(&b, "NOQUORUM 1 of 2\nreplicas");
  dyna_resp_put_int(&b, INT64_MIN);
  dyna_resp_put_bulk(&b, "x\0\r\n", 4);
  dyna_resp_put_nil(&b);
  dyna_resp_put_array(&b, 1);
  dyna_resp_put_bulk_str(&b, "");
  assert_false(b.oom);
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(reply_once(NULL, b.data, b.len, &v, &used), 0);
  assert_int_equal(used, b.len);
  assert_int_equal(v.n, 6);
  assert_int_equal(v.elem[0].type, DYNA_RESP_STRING);
  assert_string_equal((char *)v.elem[0].str, "PONG");
  assert_int_equal(v.elem[1].type, DYNA_RESP_ERROR);
  assert_string_equal((char *)v.elem[1].str, "NOQUORUM 1 of 2 replicas");
  assert_true(v.elem[2].integer == INT64_MIN);
  assert_int_equal(v.elem[3].len, 4);
  assert_memory_equal(v.elem[3].str, "x\0\r\n", 4);
  assert_int_equal(v.elem[4].type, DYNA_RESP_NIL);
  assert_int_equal(v.elem[5].n, 1);
  assert_int_equal(v.elem[5].elem[0].type, DYNA_RESP_BULK);
  assert_int_equal(v.elem[5].elem[0].len, 0);
  dyna_resp_value_free(&v);
  dyna_buf_free(&b);
}

/* ---- Protocol words (proto/words.c): one definition for server and client ---- */

static void test_words_both_ways(void **state) {
  (void)state;
  static const int codes[] = {DYNA_ENOQUORUM, DYNA_ETOOBIG, DYNA_EBUSY, DYNA_ETIMEDOUT};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    /* what the server writes, the client reads back as the same code */
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_resp_put_status_error(&b, codes[i], "some detail");
    dyna_resp_value_t v;
    size_t used;
    dyna_resp_limits_t lim;
    dyna_resp_limits_default(&lim);
    assert_int_equal(dyna_resp_parse_reply(&lim, b.data, b.len, &v, &used), 0);
    assert_int_equal(v.type, DYNA_RESP_ERROR);
    assert_int_equal(dyna_word_status((const char *)v.str), codes[i]);
    assert_string_not_equal(dyna_word_of_status(codes[i]), DYNA_WORD_ERR);
    dyna_resp_value_free(&v);
    dyna_buf_free(&b);
  }
  assert_string_equal(dyna_word_of_status(DYNA_ENOQUORUM), "NOQUORUM");
  assert_string_equal(dyna_word_of_status(DYNA_EIO), "ERR");
  assert_string_equal(dyna_word_of_status(0), "ERR");
  assert_int_equal(dyna_word_status("NOQUORUM 1 of 2 replicas answered"), DYNA_ENOQUORUM);
  assert_int_equal(dyna_word_status("BUSY"), DYNA_EBUSY);
  assert_int_equal(dyna_word_status("BUSYNESS as usual"), DYNA_EREMOTE); /* a whole word only */
  assert_int_equal(dyna_word_status("ERR " DYNA_MSG_BAD_CONTEXT " (pass ...)"), DYNA_ECONTEXT);
  assert_int_equal(dyna_word_status("ERR unknown command 'x'"), DYNA_EREMOTE);
  assert_int_equal(dyna_word_status(DYNA_WORD_WRONGTYPE " Operation against a key"), DYNA_EREMOTE);
  assert_int_equal(dyna_word_status(NULL), DYNA_EREMOTE);
}

static void test_words_error_line_exact(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_status_error(&b, DYNA_ENOQUORUM, "1 of 2 replicas answered");
  dyna_resp_put_status_error(&b, DYNA_EPROTO, "Protocol error: bad\r\nline");
  dyna_resp_put_status_error(&b, DYNA_ETIMEDOUT, NULL); /* no detail: the code's name */
  char want[256];
  snprintf(want, sizeof(want), "-NOQUORUM 1 of 2 replicas answered\r\n-ERR Protocol error: bad  line\r\n"
           "-TIMEOUT %s\r\n", dyna_strerror(DYNA_ETIMEDOUT));
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  /* a long detail is cut, never overflows */
  char longmsg[600];
  memset(longmsg, 'x', sizeof(longmsg) - 1);
  longmsg[sizeof(longmsg) - 1] = 0;
  dyna_buf_reset(&b);
  dyna_resp_put_status_error(&b, DYNA_EBUSY, longmsg);
  assert_int_equal(b.len, 1 + 255 + 2);
  assert_memory_equal(b.data, "-BUSY xxx", 9);
  dyna_buf_free(&b);
}

/* ---- The DYNA.RING reply (proto/ring_reply.c): the server's encoder, the client's decoder ---- */

/* Encodes a ring of size partitions, n replicas and 3 members as the server streams it:
 * partition p's list is members (p + j) % 3, j < min(n, 3). */
static void ring_streamed(dyna_buf_t *b, uint32_t size, uint32_t n) {
  static const char *addr[3] = {"127.0.0.11:7001", "127.0.0.12:7001", "[::1]:7003"};
  static const char *name[3] = {"n1", "n2", "n3"};
  dyna_ring_reply_put_head(b, size, n, 42, 3);
  for (int i = 0; i < 3; i++)
    dyna_ring_reply_put_member(b, 0xfedcba9876543210ull + (uint64_t)i, addr[i], name[i], i == 2 ? "leaving" : "valid");
  dyna_ring_reply_put_prefs_head(b, size);
  for (uint32_t p = 0; p < size; p++) {
    uint16_t idx[3];
    size_t k = n < 3 ? n : 3;
    for (size_t j = 0; j < k; j++) idx[j] = (uint16_t)((p + j) % 3);
    dyna_ring_reply_put_preflist(b, idx, k);
  }
}

static int decode_bytes(const dyna_buf_t *b, dyna_ring_reply_t *r) {
  dyna_resp_value_t v;
  size_t used;
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  lim.max_args = 1u << 20;
  assert_int_equal(dyna_resp_parse_reply(&lim, b->data, b->len, &v, &used), 0);
  assert_int_equal(used, b->len);
  int rc = dyna_ring_reply_decode(&v, r);
  dyna_resp_value_free(&v);
  return rc;
}

static void test_ring_reply_round_trip(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT, again = DYNA_BUF_INIT;
  ring_streamed(&b, 16, 2);
  assert_false(b.oom);
  dyna_ring_reply_t r;
  assert_int_equal(decode_bytes(&b, &r), 0);
  assert_int_equal(r.size, 16);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.version, 42);
  assert_int_equal(r.nmembers, 3);
  assert_string_equal(r.members[0].id, "fedcba9876543210");
  assert_string_equal(r.members[2].id, "fedcba9876543212");
  assert_string_equal(r.members[2].addr, "[::1]:7003");
  assert_string_equal(r.members[1].name, "n2");
  assert_string_equal(r.members[2].status, "leaving");
  for (uint32_t p = 0; p < 16; p++) {
    assert_int_equal(r.plen[p], 2);
    assert_int_equal(r.prefs[p * 2], p % 3);
    assert_int_equal(r.prefs[p * 2 + 1], (p + 1) % 3);
  }
  /* the whole-reply encoder gives back exactly the streamed bytes */
  dyna_ring_reply_encode(&again, &r);
  assert_int_equal(again.len, b.len);
  assert_memory_equal(again.data, b.data, b.len);
  dyna_ring_reply_free(&r);
  dyna_ring_reply_free(&r); /* freed reply is empty: a no-op */
  /* lists shorter than n (fewer members than replicas) */
  dyna_buf_reset(&b);
  ring_streamed(&b, 1, 5);
  assert_int_equal(decode_bytes(&b, &r), 0);
  assert_int_equal(r.n, 5);
  assert_int_equal(r.plen[0], 3);
  dyna_ring_reply_free(&r);
  dyna_buf_free(&b);
  dyna_buf_free(&again);
}

static void test_ring_reply_refuses_bad_shapes(void **state) {
  (void)state;
  dyna_ring_reply_t r;
  dyna_buf_t b = DYNA_BUF_INIT;
  /* size not a power of two */
  ring_streamed(&b, 6, 2);
  assert_int_equal(decode_bytes(&b, &r), DYNA_EPROTO);
  assert_int_equal(r.nmembers, 0);
  assert_null(r.prefs);
  /* n over the limit */
  dyna_buf_reset(&b);
  ring_streamed(&b, 4, DYNA_RING_REPLY_N_MAX + 1);
  assert_int_equal(decode_bytes(&b, &r), DYNA_EPROTO);
  /* an index past the members */
  dyna_buf_reset(&b);
  dyna_ring_reply_put_head(&b, 1, 1, 0, 1);
  dyna_ring_reply_put_member(&b, 1, "a:1", "a", "valid");
  dyna_ring_reply_put_prefs_head(&b, 1);
  uint16_t idx = 1;
  dyna_ring_reply_put_preflist(&b, &idx, 1);
  assert_int_equal(decode_bytes(&b, &r), DYNA_EPROTO);
  /* a list longer than n */
  dyna_buf_reset(&b);
  dyna_ring_reply_put_head(&b, 1, 1, 0, 1);
  dyna_ring_reply_put_member(&b, 1, "a:1", "a", "valid");
  dyna_ring_reply_put_prefs_head(&b, 1);
  uint16_t two[2] = {0, 0};
  dyna_ring_reply_put_preflist(&b, two, 2);
  assert_int_equal(decode_bytes(&b, &r), DYNA_EPROTO);
  assert_null(r.members);
  /* not an array at all */
  dyna_resp_value_t v;
  memset(&v, 0, sizeof(v));
  v.type = DYNA_RESP_INTEGER;
  assert_int_equal(dyna_ring_reply_decode(&v, &r), DYNA_EPROTO);
  dyna_buf_free(&b);
}

/* ---- The look ahead (dyna_resp_peek_cmds) ---- */

/* A pipeline of three whole commands, then half of a fourth: a window of two gives the
 * first two and where they end, the next window the third, then nothing (the fourth is
 * not all there). Name, count and first argument point into the buffer. */
static void test_peek_windows(void **state) {
  (void)state;
  static const char in[] = "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n"
                           "*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$1\r\nv\r\n"
                           "*1\r\n$4\r\nPING\r\n"
                           "*2\r\n$3\r\nGET\r\n$2\r\nk";
  size_t n = sizeof(in) - 1;
  uint8_t *buf = dup_exact((const uint8_t *)in, n);
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  dyna_resp_peek_t pk[2];
  size_t end = 0;
  assert_int_equal(dyna_resp_peek_cmds(&lim, buf, n, pk, 2, &end), 2);
  assert_int_equal(pk[0].argc, 2);
  assert_memory_equal(pk[0].name, "GET", 3);
  assert_int_equal(pk[0].alen, 2);
  assert_memory_equal(pk[0].arg, "k1", 2);
  assert_int_equal(pk[1].argc, 3);
  assert_memory_equal(pk[1].arg, "k2", 2);
  assert_ptr_equal(pk[1].arg, buf + 38);
  assert_int_equal(end, 49);
  assert_int_equal(dyna_resp_peek_cmds(&lim, buf + end, n - end, pk, 2, &end), 1);
  assert_int_equal(pk[0].argc, 1);
  assert_memory_equal(pk[0].name, "PING", 4);
  assert_null(pk[0].arg);
  assert_int_equal(end, 63);
  assert_int_equal(dyna_resp_peek_cmds(&lim, buf + end, n - end, pk, 2, &end), 0);
  assert_int_equal(end, 63);
  free(buf);
}

/* It stops at what the parser would take differently or refuse: an inline command, a
 * blank line, an empty array, a length with a sign or a leading zero, a bulk or an array
 * over the limits, a missing CRLF; each after a good first command, which it returns. */
static void test_peek_stops(void **state) {
  (void)state;
  static const char *const tails[] = {
      "GET k\r\n", "\r\n*1\r\n$4\r\nPING\r\n", "*0\r\n*1\r\n$4\r\nPING\r\n", "*-1\r\n",
      "*1\r\n$04\r\nPING\r\n", "*1\r\n$+4\r\nPING\r\n", "*1\r\n$9\r\nPING\r\n", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
      "*1\r\n$4\r\nPINGxx", "*1\r\n:4\r\n"};
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  lim.max_bulk = 8;
  lim.max_args = 2;
  for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_buf_put(&b, "*1\r\n$4\r\nPING\r\n", 14);
    dyna_buf_put(&b, tails[t], strlen(tails[t]));
    uint8_t *buf = dup_exact(b.data, b.len);
    dyna_resp_peek_t pk[4];
    size_t end = 0;
    assert_int_equal(dyna_resp_peek_cmds(&lim, buf, b.len, pk, 4, &end), 1);
    assert_int_equal(end, 14);
    free(buf);
    dyna_buf_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limits_default),
      cmocka_unit_test(test_cmd_simple),
      cmocka_unit_test(test_cmd_skip_oversized),
      cmocka_unit_test(test_cmd_empty_bulk),
      cmocka_unit_test(test_cmd_pipelined),
      cmocka_unit_test(test_cmd_binary_bulk),
      cmocka_unit_test(test_cmd_split_every_point),
      cmocka_unit_test(test_cmd_byte_at_a_time),
      cmocka_unit_test(test_cmd_resume_keeps_offsets),
      cmocka_unit_test(test_cmd_large_bulk_in_chunks),
      cmocka_unit_test(test_inline_plain),
      cmocka_unit_test(test_inline_base_is_buffer_when_plain),
      cmocka_unit_test(test_inline_quotes_and_escapes),
      cmocka_unit_test(test_inline_rewritten_uses_scratch),
      cmocka_unit_test(test_inline_nul_byte),
      cmocka_unit_test(test_empty_lines_and_null_arrays),
      cmocka_unit_test(test_cmd_malformed),
      cmocka_unit_test(test_cmd_error_after_good_commands),
      cmocka_unit_test(test_limit_bulk),
      cmocka_unit_test(test_limit_args),
      cmocka_unit_test(test_limit_inline),
      cmocka_unit_test(test_cmd_enomem),
      cmocka_unit_test(test_reply_scalars),
      cmocka_unit_test(test_reply_nested),
      cmocka_unit_test(test_reply_prefixes_eagain),
      cmocka_unit_test(test_reply_malformed),
      cmocka_unit_test(test_reply_limits),
      cmocka_unit_test(test_reply_enomem_cleans_up),
      cmocka_unit_test(test_reply_huge_count_waits),
      cmocka_unit_test(test_encoders_exact),
      cmocka_unit_test(test_encoder_oom_flag),
      cmocka_unit_test(test_roundtrip_cmd),
      cmocka_unit_test(test_roundtrip_reply),
      cmocka_unit_test(test_words_both_ways),
      cmocka_unit_test(test_words_error_line_exact),
      cmocka_unit_test(test_ring_reply_round_trip),
      cmocka_unit_test(test_ring_reply_refuses_bad_shapes),
      cmocka_unit_test(test_peek_windows),
      cmocka_unit_test(test_peek_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
