/* fuzz_resp.c: libFuzzer target for the RESP codec (src/proto/resp.c): RESP2, and the
 * RESP3 types the reply parser folds into RESP2's (v->shape).
 *
 * Command parser: the input is parsed whole, then again as if it arrived in chunks
 * whose sizes come from its first bytes, each call on a fresh heap copy of the
 * unconsumed bytes (so a pointer kept across calls is a use-after-free). Both ways must
 * give the same commands and end the same way. Every command is re-encoded with
 * dyna_resp_put_cmd and must parse back to itself. The look ahead (dyna_resp_peek_cmds),
 * in windows of a few commands, must give a prefix of what the parser gave, name, count
 * and first argument alike, ending where those commands ended.
 * Reply parser: replies are parsed one after another; each must re-encode (RESP3 types
 * with the RESP3 encoders) and parse back to an equal tree, shapes included, and its strict prefixes must all be DYNA_EAGAIN. Each reply is
 * also offered to the DYNA.RING decoder libdyna routes by (proto/ring_reply.c): what it
 * accepts must hold its promises (indexes below the member count, lists no longer than
 * n, a power-of-two size) and survive the server's encoder and the decoder again.
 * Limits are small (1 MiB bulk) so that nothing can run out of memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "proto/resp.h"
#include "proto/ring_reply.h"

/* Aborts when cond is false (assert() is compiled out in release builds). */
#define CHECK(cond)                      \
  do {                                   \
    if (!(cond)) __builtin_trap();       \
  } while (0)

static dyna_resp_limits_t fuzz_limits(void) {
  dyna_resp_limits_t l;
  l.max_bulk = 1 << 20;
  l.max_args = 1024;
  l.max_inline = 4096;
  l.max_depth = 8;
  l.max_skip = 0;
  return l;
}

/* Returns a heap copy of exactly n bytes (1 when n == 0). */
static uint8_t *dup_exact(const uint8_t *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  CHECK(d);
  if (n) memcpy(d, p, n);
  return d;
}

/* What one way of parsing produced. */
typedef struct run {
  dyna_buf_t cmds; /* each command: varint argc, then varint length + bytes per arg */
  size_t ncmds;
  dyna_buf_t ends; /* run_whole only: varint offset after each command */
  int rc;          /* final DYNA_EAGAIN or error */
  size_t consumed; /* total bytes consumed */
} run_t;

/* Checks cmd's shape against the len-byte buffer buf it came from and appends it. */
static void record(run_t *r, const dyna_resp_cmd_t *cmd, const uint8_t *buf, size_t len) {
  CHECK(cmd->argc >= 1);
  dyna_buf_put_varint(&r->cmds, cmd->argc);
  for (size_t i = 0; i < cmd->argc; i++) {
    if (cmd->base == buf) CHECK(cmd->argo[i] <= len && cmd->argl[i] <= len - cmd->argo[i]);
    dyna_buf_put_bytes(&r->cmds, dyna_resp_cmd_arg(cmd, i), cmd->argl[i]);
  }
  r->ncmds++;
}

/* Re-encodes cmd as a multibulk array and checks it parses back to the same command. */
static void check_cmd_roundtrip(const dyna_resp_limits_t *lim, const dyna_resp_cmd_t *cmd) {
  const uint8_t **argv = malloc(cmd->argc * sizeof(*argv));
  CHECK(argv);
  for (size_t i = 0; i < cmd->argc; i++) argv[i] = dyna_resp_cmd_arg(cmd, i);
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_cmd(&b, cmd->argc, argv, cmd->argl);
  CHECK(!b.oom);
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  dyna_resp_cmd_t again;
  size_t used = 0;
  CHECK(dyna_resp_parse_cmd(&p, b.data, b.len, &again, &used) == 0);
  CHECK(used == b.len);
  CHECK(again.argc == cmd->argc);
  for (size_t i = 0; i < cmd->argc; i++) {
    CHECK(again.argl[i] == cmd->argl[i]);
    CHECK(memcmp(dyna_resp_cmd_arg(&again, i), argv[i], cmd->argl[i]) == 0);
  }
  dyna_resp_parser_free(&p);
  dyna_buf_free(&b);
  free(argv);
}

/* Parses all of data[0..n) presented at once. */
static void run_whole(const dyna_resp_limits_t *lim, const uint8_t *data, size_t n,
                      run_t *r) {
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  uint8_t *copy = dup_exact(data, n);
  size_t off = 0;
  for (;;) {
    dyna_resp_cmd_t cmd;
    size_t used = 0;
    int rc = dyna_resp_parse_cmd(&p, copy + off, n - off, &cmd, &used);
    if (rc == 0) {
      CHECK(used > 0 && used <= n - off);
      record(r, &cmd, copy + off, n - off);
      check_cmd_roundtrip(lim, &cmd);
      off += used;
      dyna_buf_put_varint(&r->ends, off);
      continue;
    }
    CHECK(rc == DYNA_EAGAIN || rc == DYNA_EPROTO || rc == DYNA_ETOOBIG);
    if (rc == DYNA_EAGAIN) {
      CHECK(used <= n - off);
      off += used;
    } else {
      CHECK(p.err[0] != '\0');
    }
    r->rc = rc;
    break;
  }
  r->consumed = off;
  free(copy);
  dyna_resp_parser_free(&p);
}

/* Parses data[0..n) arriving chunk[i % nchunk] bytes at a time. */
static void run_chunked(const dyna_resp_limits_t *lim, const uint8_t *data, size_t n,
                        const size_t *chunk, size_t nchunk, int advance_on_eagain,
                        run_t *r) {
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, lim);
  size_t start = 0, fed = 0, k = 0;
  for (;;) {
    uint8_t *copy = dup_exact(data + start, fed - start);
    dyna_resp_cmd_t cmd;
    size_t used = 0;
    int rc = dyna_resp_parse_cmd(&p, copy, fed - start, &cmd, &used);
    if (rc == 0) {
      CHECK(used > 0 && used <= fed - start);
      record(r, &cmd, copy, fed - start);
      free(copy);
      start += used;
      continue;
    }
    free(copy);
    if (rc == DYNA_EAGAIN) {
      CHECK(used <= fed - start);
      if (advance_on_eagain) start += used;
      if (fed < n) {
        size_t step = chunk[k++ % nchunk];
        fed = step > n - fed ? n : fed + step;
        continue;
      }
    }
    r->rc = rc;
    break;
  }
  r->consumed = start;
  dyna_resp_parser_free(&p);
}

/* Derives up to 8 chunk sizes from the first input bytes: mostly small, sometimes big. */
static size_t chunk_sizes(const uint8_t *data, size_t n, size_t *chunk) {
  size_t k = n < 8 ? n : 8;
  for (size_t i = 0; i < k; i++)
    chunk[i] = data[i] & 0x80 ? (size_t)(data[i] & 0x7f) * 61 + 1 : (size_t)(data[i] & 0x0f) + 1;
  if (k == 0) chunk[k++] = 1;
  return k;
}

/* The look ahead over data[0..n), window commands at a time, against what run_whole
 * recorded in whole. */
static void check_peek(const dyna_resp_limits_t *lim, const uint8_t *data, size_t n, const run_t *whole,
                       size_t window) {
  dyna_resp_peek_t pk[8];
  dyna_rd_t cmds, ends;
  dyna_rd_init(&cmds, whole->cmds.data, whole->cmds.len);
  dyna_rd_init(&ends, whole->ends.data, whole->ends.len);
  size_t off = 0, seen = 0;
  for (;;) {
    size_t end = off;
    size_t k = dyna_resp_peek_cmds(lim, data + off, n - off, pk, window, &end);
    CHECK(k <= window);
    if (k == 0) {
      CHECK(end == off);
      break;
    }
    CHECK(seen + k <= whole->ncmds);
    for (size_t i = 0; i < k; i++) {
      size_t argc = (size_t)dyna_rd_varint(&cmds), len;
      CHECK(pk[i].argc == argc);
      for (size_t a = 0; a < argc; a++) {
        const uint8_t *arg = dyna_rd_bytes(&cmds, n, &len);
        if (a == 0) CHECK(pk[i].nlen == len && memcmp(pk[i].name, arg, len) == 0);
        if (a == 1) CHECK(pk[i].alen == len && memcmp(pk[i].arg, arg, len) == 0);
      }
      if (argc == 1) CHECK(pk[i].arg == NULL && pk[i].alen == 0);
      if (i + 1 < k) (void)dyna_rd_varint(&ends);
    }
    CHECK(!cmds.err && dyna_rd_varint(&ends) == end && !ends.err);
    seen += k;
    off = end;
  }
}

static void fuzz_commands(const uint8_t *data, size_t n) {
  dyna_resp_limits_t lim = fuzz_limits();
  run_t whole, split;
  memset(&whole, 0, sizeof(whole));
  memset(&split, 0, sizeof(split));
  run_whole(&lim, data, n, &whole);

  size_t chunk[8];
  size_t nchunk = chunk_sizes(data, n, chunk);
  int advance = n == 0 || (data[0] & 1);
  run_chunked(&lim, data, n, chunk, nchunk, advance, &split);

  CHECK(!whole.cmds.oom && !split.cmds.oom && !whole.ends.oom);
  check_peek(&lim, data, n, &whole, 1 + (n ? data[n - 1] % 8 : 0));
  CHECK(whole.ncmds == split.ncmds);
  CHECK(whole.rc == split.rc);
  CHECK(whole.cmds.len == split.cmds.len);
  CHECK(whole.cmds.len == 0 || memcmp(whole.cmds.data, split.cmds.data, whole.cmds.len) == 0);
  if (whole.rc == DYNA_EAGAIN && advance) CHECK(whole.consumed == split.consumed);
  dyna_buf_free(&whole.cmds);
  dyna_buf_free(&whole.ends);
  dyna_buf_free(&split.cmds);
}

/* Appends v in RESP (simple strings and errors byte for byte: they may hold NULs), a
 * RESP3 type (v->shape) in that type. */
static void encode_value(dyna_buf_t *b, const dyna_resp_value_t *v) {
  switch (v->shape) {
  case 0: break;
  case '%':
    CHECK(v->type == DYNA_RESP_ARRAY && v->n % 2 == 0);
    dyna_resp_put_map(b, DYNA_RESP3, v->n / 2);
    for (size_t i = 0; i < v->n; i++) encode_value(b, &v->elem[i]);
    return;
  case '~':
    CHECK(v->type == DYNA_RESP_ARRAY);
    dyna_resp_put_set(b, DYNA_RESP3, v->n);
    for (size_t i = 0; i < v->n; i++) encode_value(b, &v->elem[i]);
    return;
  case '_': CHECK(v->type == DYNA_RESP_NIL); dyna_resp_put_null(b, DYNA_RESP3); return;
  case '#':
    CHECK(v->type == DYNA_RESP_INTEGER && (v->integer == 0 || v->integer == 1));
    dyna_resp_put_bool(b, DYNA_RESP3, (int)v->integer);
    return;
  case ',':
  case '(':
    CHECK(v->type == DYNA_RESP_BULK);
    dyna_buf_put_u8(b, v->shape); /* the text as read: not always what put_double writes */
    dyna_buf_put(b, v->str, v->len);
    dyna_buf_put(b, "\r\n", 2);
    return;
  case '=': { /* byte for byte: the format may hold any byte, NUL included */
    CHECK(v->type == DYNA_RESP_BULK && v->integer >= 0 && v->integer < (1 << 24));
    uint8_t fmt[4] = {(uint8_t)(v->integer & 0xff), (uint8_t)(v->integer >> 8 & 0xff),
                      (uint8_t)(v->integer >> 16), ':'};
    char hdr[32];
    int k = snprintf(hdr, sizeof(hdr), "=%zu\r\n", v->len + 4);
    dyna_buf_put(b, hdr, (size_t)k);
    dyna_buf_put(b, fmt, 4);
    dyna_buf_put(b, v->str, v->len);
    dyna_buf_put(b, "\r\n", 2);
    return;
  }
  default: CHECK(0);
  }
  switch (v->type) {
  case DYNA_RESP_STRING:
  case DYNA_RESP_ERROR:
    dyna_buf_put_u8(b, v->type == DYNA_RESP_STRING ? '+' : '-');
    dyna_buf_put(b, v->str, v->len);
    dyna_buf_put(b, "\r\n", 2);
    break;
  case DYNA_RESP_INTEGER: dyna_resp_put_int(b, v->integer); break;
  case DYNA_RESP_BULK: dyna_resp_put_bulk(b, v->str, v->len); break;
  case DYNA_RESP_NIL: dyna_resp_put_nil(b); break;
  case DYNA_RESP_ARRAY:
    dyna_resp_put_array(b, v->n);
    for (size_t i = 0; i < v->n; i++) encode_value(b, &v->elem[i]);
    break;
  default: CHECK(0);
  }
}

/* True when a and b are the same tree. */
static int value_equal(const dyna_resp_value_t *a, const dyna_resp_value_t *b) {
  if (a->type != b->type || a->shape != b->shape) return 0;
  if (a->shape == '=' && a->integer != b->integer) return 0;
  switch (a->type) {
  case DYNA_RESP_INTEGER: return a->integer == b->integer;
  case DYNA_RESP_NIL: return 1;
  case DYNA_RESP_ARRAY:
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
      if (!value_equal(&a->elem[i], &b->elem[i])) return 0;
    return 1;
  default:
    return a->len == b->len && a->str[a->len] == '\0' && b->str[b->len] == '\0' &&
           memcmp(a->str, b->str, a->len) == 0;
  }
}

/* The ring reply decoder on any parsed reply v. */
static void fuzz_ring_reply(const dyna_resp_limits_t *lim, const dyna_resp_value_t *v) {
  dyna_ring_reply_t r, r2;
  int rc = dyna_ring_reply_decode(v, &r);
  if (rc) {
    CHECK(rc == DYNA_EPROTO || rc == DYNA_ENOMEM);
    CHECK(r.nmembers == 0 && r.members == NULL && r.prefs == NULL && r.plen == NULL);
    return;
  }
  CHECK(r.size >= 1 && (r.size & (r.size - 1)) == 0 && r.n >= 1 && r.n <= DYNA_RING_REPLY_N_MAX);
  for (uint32_t p = 0; p < r.size; p++) {
    CHECK(r.plen[p] <= r.n);
    for (uint32_t j = 0; j < r.plen[p]; j++) CHECK(r.prefs[(size_t)p * r.n + j] < r.nmembers);
  }
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_ring_reply_encode(&b, &r);
  CHECK(!b.oom);
  dyna_resp_value_t again;
  size_t used = 0;
  CHECK(dyna_resp_parse_reply(lim, b.data, b.len, &again, &used) == 0 && used == b.len);
  CHECK(dyna_ring_reply_decode(&again, &r2) == 0);
  CHECK(r2.size == r.size && r2.n == r.n && r2.version == r.version && r2.nmembers == r.nmembers);
  for (size_t i = 0; i < r.nmembers; i++) {
    CHECK(!strcmp(r.members[i].id, r2.members[i].id) && !strcmp(r.members[i].addr, r2.members[i].addr));
    CHECK(!strcmp(r.members[i].name, r2.members[i].name) &&
          !strcmp(r.members[i].status, r2.members[i].status));
  }
  CHECK(!memcmp(r.plen, r2.plen, r.size));
  for (uint32_t p = 0; p < r.size; p++)
    CHECK(!memcmp(&r.prefs[(size_t)p * r.n], &r2.prefs[(size_t)p * r.n], r.plen[p] * sizeof(uint16_t)));
  dyna_ring_reply_free(&r2);
  dyna_resp_value_free(&again);
  dyna_buf_free(&b);
  dyna_ring_reply_free(&r);
}

static void fuzz_replies(const uint8_t *data, size_t n) {
  dyna_resp_limits_t lim = fuzz_limits();
  uint8_t *copy = dup_exact(data, n);
  size_t off = 0;
  for (;;) {
    dyna_resp_value_t v;
    size_t used = 0;
    int rc = dyna_resp_parse_reply(&lim, copy + off, n - off, &v, &used);
    if (rc != 0) {
      CHECK(rc == DYNA_EAGAIN || rc == DYNA_EPROTO || rc == DYNA_ETOOBIG);
      CHECK(v.type == 0 && v.elem == NULL && v.str == NULL);
      break;
    }
    CHECK(used > 0 && used <= n - off);
    /* Strict prefixes are incomplete (all of them for short replies, some otherwise). */
    size_t step = used <= 64 ? 1 : used / 16;
    for (size_t k = 0; k < used; k += step) {
      dyna_resp_value_t pv;
      size_t pu;
      CHECK(dyna_resp_parse_reply(&lim, copy + off, k, &pv, &pu) == DYNA_EAGAIN);
    }
    dyna_buf_t b = DYNA_BUF_INIT;
    encode_value(&b, &v);
    CHECK(!b.oom);
    dyna_resp_value_t again;
    size_t used2 = 0;
    CHECK(dyna_resp_parse_reply(&lim, b.data, b.len, &again, &used2) == 0);
    CHECK(used2 == b.len);
    CHECK(value_equal(&v, &again));
    fuzz_ring_reply(&lim, &v);
    dyna_resp_value_free(&again);
    dyna_buf_free(&b);
    dyna_resp_value_free(&v);
    off += used;
  }
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_commands(data, size);
  fuzz_replies(data, size);
  return 0;
}
