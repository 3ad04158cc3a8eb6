/* test_client.c: unit tests for libdyna's pure parts and its engine, no dynad needed.
 *
 *   - the log-linear histogram: bucket ranges tile the u64 line with < 1% width, quantiles
 *     of known data sets, merge, empty and single-value cases
 *   - the PRNG and the zipfian chooser: range, determinism, rank frequencies against the
 *     exact zipf law (rank 0 and 1 within 10%), scrambling spreads the hot keys
 *   - the ring as the client sees it: a canned DYNA.RING reply (RESP bytes) parsed, every
 *     malformed variant refused, each key's preference list equal to the one computed
 *     independently (a bit-by-bit CRC16/XMODEM, mod 16384, in 8 ranges of slots) and the
 *     partition table
 *   - host:port splitting, the error-word mapping, the [context, [values]] reply shape
 *   - the engine against a fake RESP server in a child process: 200 pipelined requests on
 *     one connection all answered in order, a silent server times requests out with
 *     DYNA_ETIMEDOUT, a refused connection is DYNA_ECONN, blocking calls inside a
 *     callback are refused;
 *   - the typed calls (dyna_incrby ... dyna_type) against the same fake server: what
 *     they send, the answers they accept and refuse, what they hand back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client_int.h"
#include "cli/stats.h"
#include "util/keyhash.h"

/* ---- histogram ----------------------------------------------------------------- */

static void test_hist_ranges(void **state) {
  (void)state;
  uint64_t prev_hi = 0;
  for (size_t i = 0; i < DYNA_HIST_BUCKETS; i++) {
    uint64_t lo, hi;
    dyna_hist_range(i, &lo, &hi);
    if (i) assert_int_equal(lo, prev_hi + 1); /* contiguous, no gaps or overlaps */
    assert_true(hi >= lo);
    if (lo >= 256) assert_true((double)(hi - lo + 1) / (double)lo <= 1.0 / 128 + 1e-12);
    assert_int_equal(dyna_hist_index(lo), i);
    assert_int_equal(dyna_hist_index(hi), i);
    prev_hi = hi;
  }
  assert_int_equal(prev_hi, UINT64_MAX);
}

static void test_hist_quantiles(void **state) {
  (void)state;
  static dyna_hist_t h, h2;
  dyna_hist_init(&h);
  assert_int_equal(dyna_hist_quantile(&h, 0.5), 0);
  for (uint64_t v = 1; v <= 100000; v++) dyna_hist_record(&h, v * 1000); /* 1us..100ms in ns */
  assert_int_equal(h.count, 100000);
  assert_int_equal(h.min, 1000);
  assert_int_equal(h.max, 100000000);
  const double qs[] = {0.5, 0.9, 0.99, 0.999};
  for (size_t i = 0; i < 4; i++) {
    double want = qs[i] * 100000 * 1000;
    double got = (double)dyna_hist_quantile(&h, qs[i]);
    assert_true(got >= want);               /* the bucket's top: never under */
    assert_true(got <= want * (1 + 1.0 / 128) + 1000);
  }
  assert_int_equal(dyna_hist_quantile(&h, 1.0), 100000000);
  assert_true(dyna_hist_mean(&h) > 50000000 - 1000 && dyna_hist_mean(&h) < 50001000);
  /* one value: every quantile is that value */
  dyna_hist_init(&h2);
  dyna_hist_record(&h2, 123456789);
  assert_int_equal(dyna_hist_quantile(&h2, 0.5), 123456789);
  assert_int_equal(dyna_hist_quantile(&h2, 0.999), 123456789);
  /* merge: a tail of slow values shows up in p99.9 */
  dyna_hist_init(&h2);
  for (int i = 0; i < 200; i++) dyna_hist_record(&h2, 5000000000ull);
  dyna_hist_merge(&h, &h2);
  assert_int_equal(h.count, 100200);
  assert_int_equal(h.max, 5000000000ull);
  assert_true(dyna_hist_quantile(&h, 0.999) >= 5000000000ull);
  assert_true(dyna_hist_quantile(&h, 0.99) < 100000000);
}

/* ---- PRNG and zipf ------------------------------------------------------------- */

static void test_rand(void **state) {
  (void)state;
  dyna_rand_t a, b;
  dyna_rand_seed(&a, 42);
  dyna_rand_seed(&b, 42);
  uint64_t counts[10] = {0};
  for (int i = 0; i < 100000; i++) {
    uint64_t x = dyna_rand_below(&a, 10);
    assert_int_equal(x, dyna_rand_below(&b, 10));
    assert_true(x < 10);
    counts[x]++;
    double d = dyna_rand_double(&a);
    (void)dyna_rand_double(&b);
    assert_true(d >= 0 && d < 1);
  }
  for (int i = 0; i < 10; i++) assert_true(counts[i] > 9000 && counts[i] < 11000);
}

static void test_zipf(void **state) {
  (void)state;
  dyna_zipf_t z;
  assert_int_equal(dyna_zipf_init(&z, 0, 0.99, 0), -1);
  assert_int_equal(dyna_zipf_init(&z, 10, 1.0, 0), -1);
  const uint64_t n = 1000;
  assert_int_equal(dyna_zipf_init(&z, n, 0.99, 0), 0);
  const double zetan = 7.728953217284729; /* sum(1/i**0.99 for i in 1..1000), by Python */
  assert_true(z.zetan > zetan * 0.999999 && z.zetan < zetan * 1.000001); /* own pow is right */
  const double p_rank[2] = {0.12938362697857184, 0.06514178063627057};
  dyna_rand_t r;
  dyna_rand_seed(&r, 7);
  static uint64_t cnt[1000];
  const int draws = 400000;
  for (int i = 0; i < draws; i++) {
    uint64_t k = dyna_zipf_next(&z, &r);
    assert_true(k < n);
    cnt[k]++;
  }
  for (int rank = 0; rank < 2; rank++) {
    double p = p_rank[rank];
    double got = (double)cnt[rank] / draws;
    assert_true(got > p * 0.9 && got < p * 1.1);
  }
  /* popularity falls with rank: the first 10 ranks outweigh ranks 500..509 many times */
  uint64_t head = 0, mid = 0;
  for (int i = 0; i < 10; i++) { head += cnt[i]; mid += cnt[500 + i]; }
  assert_true(head > 50 * mid);
  /* scrambled: the hottest key is not key 0 any more, and still as hot */
  dyna_zipf_t zs;
  assert_int_equal(dyna_zipf_init(&zs, n, 0.99, 1), 0);
  memset(cnt, 0, sizeof(cnt));
  dyna_rand_seed(&r, 7);
  uint64_t best = 0;
  for (int i = 0; i < draws; i++) cnt[dyna_zipf_next(&zs, &r)]++;
  for (uint64_t i = 1; i < n; i++) if (cnt[i] > cnt[best]) best = i;
  assert_int_equal(best, dyna_fnv64(0) % n);
}

/* ---- ring ---------------------------------------------------------------------- */

/* A DYNA.RING reply for 8 partitions, n = 2, three members, as dynad encodes it. */
static void ring_bytes(dyna_buf_t *b, uint32_t size, uint32_t n, const char *corrupt) {
  dyna_resp_put_array(b, 5);
  dyna_resp_put_int(b, size);
  dyna_resp_put_int(b, n);
  dyna_resp_put_int(b, 7);
  dyna_resp_put_array(b, 3);
  const char *addr[3] = {"127.0.0.11:7001", "127.0.0.12:7001", "[::1]:7003"};
  for (int i = 0; i < 3; i++) {
    char id[32], name[8];
    snprintf(id, sizeof(id), "%016x", 0xa0 + i);
    snprintf(name, sizeof(name), "n%d", i + 1);
    dyna_resp_put_array(b, 4);
    dyna_resp_put_bulk_str(b, id);
    dyna_resp_put_bulk_str(b, addr[i]);
    dyna_resp_put_bulk_str(b, name);
    if (corrupt && !strcmp(corrupt, "status-int") && i == 2) dyna_resp_put_int(b, 1);
    else dyna_resp_put_bulk_str(b, "valid");
  }
  dyna_resp_put_array(b, size);
  for (uint32_t p = 0; p < size; p++) {
    uint32_t len = n;
    if (corrupt && !strcmp(corrupt, "long-list") && p == 3) len = n + 1;
    dyna_resp_put_array(b, len);
    for (uint32_t j = 0; j < len; j++) {
      int64_t idx = (p + j) % 3;
      if (corrupt && !strcmp(corrupt, "bad-index") && p == 5 && j == 1) idx = 3;
      if (corrupt && !strcmp(corrupt, "neg-index") && p == 5 && j == 1) idx = -1;
      dyna_resp_put_int(b, idx);
    }
  }
}

static int parse_canned(uint32_t size, uint32_t n, const char *corrupt, dyna_cring_t *r) {
  dyna_buf_t b = DYNA_BUF_INIT;
  ring_bytes(&b, size, n, corrupt);
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(dyna_resp_parse_reply(&lim, b.data, b.len, &v, &used), 0);
  assert_int_equal(used, b.len);
  int rc = dyna_ring_reply_decode(&v, r);
  dyna_resp_value_free(&v);
  dyna_buf_free(&b);
  return rc;
}

/* CRC16/XMODEM one bit at a time (no table), for keys without a hash tag. */
static uint32_t crc16_bitwise(const char *s, size_t n) {
  uint32_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint32_t)(uint8_t)s[i] << 8;
    for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

static void test_ring_parse_and_route(void **state) {
  (void)state;
  dyna_cring_t r;
  assert_int_equal(parse_canned(8, 2, NULL, &r), 0);
  assert_int_equal(r.size, 8);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.version, 7);
  assert_int_equal(r.nmembers, 3);
  assert_string_equal(r.members[1].addr, "127.0.0.12:7001");
  assert_string_equal(r.members[2].name, "n3");
  for (int k = 0; k < 500; k++) {
    char key[32];
    snprintf(key, sizeof(key), "key:%d", k);
    uint32_t p = crc16_bitwise(key, strlen(key)) % 16384 / 2048; /* 8 partitions of 2048 slots */
    assert_int_equal(dyna_cring_partition(&r, key, strlen(key)), p);
    const uint16_t *idx;
    assert_int_equal(dyna_cring_prefs(&r, key, strlen(key), &idx), 2);
    assert_int_equal(idx[0], p % 3);
    assert_int_equal(idx[1], (p + 1) % 3);
  }
  dyna_ring_reply_free(&r);
  /* one partition: everything in it */
  assert_int_equal(parse_canned(1, 3, NULL, &r), 0);
  const uint16_t *idx;
  assert_int_equal(dyna_cring_prefs(&r, "x", 1, &idx), 3);
  dyna_ring_reply_free(&r);
  /* malformed variants are refused and leave r empty */
  const char *bad[] = {"status-int", "long-list", "bad-index", "neg-index"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(parse_canned(8, 2, bad[i], &r), DYNA_EPROTO);
    assert_int_equal(r.nmembers, 0);
    assert_null(r.prefs);
  }
  assert_int_equal(parse_canned(6, 2, NULL, &r), DYNA_EPROTO); /* not a power of two */
  dyna_resp_value_t v = {0};
  v.type = DYNA_RESP_STRING;
  assert_int_equal(dyna_ring_reply_decode(&v, &r), DYNA_EPROTO);
}

static void test_addr_and_errors(void **state) {
  (void)state;
  char host[64];
  int port = 0;
  assert_int_equal(dyna_addr_split("127.0.0.1:7001", host, sizeof(host), &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 7001);
  assert_int_equal(dyna_addr_split("[::1]:80", host, sizeof(host), &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 80);
  assert_int_equal(dyna_addr_split("localhost:65535", host, sizeof(host), &port), 0);
  assert_int_equal(dyna_addr_split("nocolon", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_addr_split("h:0", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_addr_split("h:70000", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_addr_split(":1", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_addr_split("[::1]80", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_addr_split("h:1x", host, sizeof(host), &port), DYNA_EINVAL);
  assert_int_equal(dyna_word_status("NOQUORUM 1 of 2 replicas answered"), DYNA_ENOQUORUM);
  assert_int_equal(dyna_word_status("TOOBIG value"), DYNA_ETOOBIG);
  assert_int_equal(dyna_word_status("BUSY"), DYNA_EBUSY);
  assert_int_equal(dyna_word_status("ERR invalid context"), DYNA_ECONTEXT);
  assert_int_equal(dyna_word_status("ERR increment or decrement would overflow"), DYNA_ERANGE);
  assert_int_equal(dyna_word_status("ERR increment"), DYNA_EREMOTE);
  assert_int_equal(dyna_word_status("ERR unknown command"), DYNA_EREMOTE);
  assert_string_not_equal(dyna_strerror(DYNA_ECONN), "");
}

static void test_siblings_shape(void **state) {
  (void)state;
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  static const char ok[] = "*2\r\n$4\r\nAQID\r\n*2\r\n$1\r\na\r\n$3\r\nb\0c\r\n";
  dyna_resp_value_t v;
  size_t used;
  assert_int_equal(dyna_resp_parse_reply(&lim, (const uint8_t *)ok, sizeof(ok) - 1, &v, &used), 0);
  dyna_siblings_t s;
  assert_int_equal(dyna_siblings_from_reply(&v, &s), 0);
  assert_string_equal(s.context, "AQID");
  assert_int_equal(s.n, 2);
  assert_int_equal(s.values[1].len, 3);
  assert_memory_equal(s.values[1].data, "b\0c", 3);
  dyna_siblings_free(&s);
  dyna_resp_value_free(&v);
  const char *bad = "*2\r\n$0\r\n\r\n*1\r\n:1\r\n";
  assert_int_equal(dyna_resp_parse_reply(&lim, (const uint8_t *)bad, strlen(bad), &v, &used), 0);
  assert_int_equal(dyna_siblings_from_reply(&v, &s), DYNA_EPROTO);
  dyna_resp_value_free(&v);
}

/* ---- the engine against a fake server ------------------------------------------- */

static int arg_is(const dyna_resp_cmd_t *cmd, size_t i, const char *w) {
  return i < cmd->argc && cmd->argl[i] == strlen(w) && !memcmp(dyna_resp_cmd_arg(cmd, i), w, strlen(w));
}

/* The typed commands, answered so that a test can check what was sent: key "wt" gets
 * WRONGTYPE, key "shape" +OK (a wrong shape for all of them); else
 *   INCRBY k n -> :n+1            SADD/SREM/LPUSH/RPUSH/HSET/ZADD k a... -> :(args after k)
 *   SMEMBERS k -> [k, "m\0"]      HGETALL k -> [f, v] ([f] for key "odd")
 *   HGET k f -> $f ("nf": nil)    ZINCRBY k by m -> $by as sent
 *   ZRANGE k a b WITHSCORES -> [a, "1.5", b, "-inf"]   LRANGE k a b -> [a, b]
 *   LPOP k -> $one ("none": nil)  LPOP k n -> [n x "e"]
 *   EXPIRE k s -> :1 (":0" for "absent")  TTL k -> :-2 for "absent", else :s of the
 *   last EXPIRE   PERSIST k -> :1   TYPE k -> +zset
 * Returns 0 when the command is none of them. */
static int fake_typed(const dyna_resp_cmd_t *cmd, dyna_buf_t *out, int64_t *last_expire) {
  static const char *const names[] = {"INCRBY", "SADD", "SREM", "LPUSH", "RPUSH", "HSET", "ZADD",
                                      "SMEMBERS", "HGETALL", "HGET", "ZINCRBY", "ZRANGE", "LRANGE",
                                      "LPOP", "EXPIRE", "TTL", "PERSIST", "TYPE", NULL};
  size_t k = 0;
  while (names[k] && !arg_is(cmd, 0, names[k])) k++;
  if (!names[k] || cmd->argc < 2) return 0;
  const char *name = names[k];
  char buf[64];
  const uint8_t *a2 = cmd->argc > 2 ? dyna_resp_cmd_arg(cmd, 2) : NULL;
  size_t l2 = cmd->argc > 2 ? cmd->argl[2] : 0;
  if (arg_is(cmd, 1, "wt")) {
    dyna_resp_put_error(out, "WRONGTYPE Operation against a key holding the wrong kind of value");
  } else if (arg_is(cmd, 1, "shape")) {
    dyna_resp_put_simple(out, "OK");
  } else if (!strcmp(name, "INCRBY")) {
    snprintf(buf, sizeof(buf), "%.*s", (int)l2, (const char *)a2);
    dyna_resp_put_int(out, strtoll(buf, NULL, 10) + 1);
  } else if (k <= 6) {
    dyna_resp_put_int(out, (int64_t)cmd->argc - 2);
  } else if (!strcmp(name, "SMEMBERS")) {
    dyna_resp_put_array(out, 2);
    dyna_resp_put_bulk(out, dyna_resp_cmd_arg(cmd, 1), cmd->argl[1]);
    dyna_resp_put_bulk(out, (const uint8_t *)"m\0", 2);
  } else if (!strcmp(name, "HGETALL")) {
    int odd = arg_is(cmd, 1, "odd");
    dyna_resp_put_array(out, odd ? 1 : 2);
    dyna_resp_put_bulk_str(out, "f");
    if (!odd) dyna_resp_put_bulk_str(out, "v");
  } else if (!strcmp(name, "HGET")) {
    if (arg_is(cmd, 2, "nf")) dyna_resp_put_nil(out);
    else dyna_resp_put_bulk(out, a2, l2);
  } else if (!strcmp(name, "ZINCRBY")) {
    dyna_resp_put_bulk(out, a2, l2);
  } else if (!strcmp(name, "ZRANGE")) {
    if (!arg_is(cmd, 4, "WITHSCORES")) {
      dyna_resp_put_error(out, "ERR no WITHSCORES");
    } else {
      dyna_resp_put_array(out, 4);
      dyna_resp_put_bulk(out, a2, l2);
      dyna_resp_put_bulk_str(out, "1.5");
      dyna_resp_put_bulk(out, dyna_resp_cmd_arg(cmd, 3), cmd->argl[3]);
      dyna_resp_put_bulk_str(out, "-inf");
    }
  } else if (!strcmp(name, "LRANGE")) {
    dyna_resp_put_array(out, 2);
    dyna_resp_put_bulk(out, a2, l2);
    dyna_resp_put_bulk(out, dyna_resp_cmd_arg(cmd, 3), cmd->argl[3]);
  } else if (!strcmp(name, "LPOP")) {
    if (arg_is(cmd, 1, "none")) {
      dyna_resp_put_nil(out);
    } else if (cmd->argc == 2) {
      dyna_resp_put_bulk_str(out, "one");
    } else {
      snprintf(buf, sizeof(buf), "%.*s", (int)l2, (const char *)a2);
      long n = strtol(buf, NULL, 10);
      dyna_resp_put_array(out, (size_t)n);
      for (long i = 0; i < n; i++) dyna_resp_put_bulk_str(out, "e");
    }
  } else if (!strcmp(name, "EXPIRE")) {
    snprintf(buf, sizeof(buf), "%.*s", (int)l2, (const char *)a2);
    *last_expire = strtoll(buf, NULL, 10);
    dyna_resp_put_int(out, arg_is(cmd, 1, "absent") ? 0 : 1);
  } else if (!strcmp(name, "TTL")) {
    dyna_resp_put_int(out, arg_is(cmd, 1, "absent") ? -2 : *last_expire);
  } else if (!strcmp(name, "PERSIST")) {
    dyna_resp_put_int(out, 1);
  } else {
    dyna_resp_put_simple(out, "zset");
  }
  return 1;
}

/* Child: accepts one connection and answers each command: PING -> +PONG, DYNA.GET key ->
 * [ctx, [key]], DYNA.PUT -> $ctx, TREE -> [$"a\0b", :-7, nil, +OK, [-ERR inner], []],
 * FAIL -> -NOQUORUM 1 of 2, the typed commands as fake_typed; after anything else
 * (e.g. "HANG") it answers nothing. */
static void fake_server(int lfd) {
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) _exit(1);
  dyna_resp_parser_t p;
  dyna_resp_parser_init(&p, NULL);
  dyna_buf_t in = DYNA_BUF_INIT, out = DYNA_BUF_INIT;
  int hung = 0;
  int64_t last_expire = -1;
  for (;;) {
    dyna_buf_reserve(&in, 65536);
    ssize_t n = recv(fd, in.data + in.len, in.cap - in.len, 0);
    if (n <= 0) _exit(0);
    in.len += (size_t)n;
    size_t off = 0;
    for (;;) {
      dyna_resp_cmd_t cmd;
      size_t used;
      int rc = dyna_resp_parse_cmd(&p, in.data + off, in.len - off, &cmd, &used);
      if (rc) break;
      const uint8_t *name = dyna_resp_cmd_arg(&cmd, 0);
      size_t nl = cmd.argl[0];
      if (nl == 4 && !memcmp(name, "PING", 4)) dyna_resp_put_simple(&out, "PONG");
      else if (nl == 8 && !memcmp(name, "DYNA.GET", 8)) {
        dyna_resp_put_array(&out, 2);
        dyna_resp_put_bulk_str(&out, "AQID");
        dyna_resp_put_array(&out, 1);
        dyna_resp_put_bulk(&out, dyna_resp_cmd_arg(&cmd, 1), cmd.argl[1]);
      } else if (nl == 8 && !memcmp(name, "DYNA.PUT", 8)) dyna_resp_put_bulk_str(&out, "AQIE");
      else if (nl == 4 && !memcmp(name, "TREE", 4)) {
        dyna_resp_put_array(&out, 6);
        dyna_resp_put_bulk(&out, (const uint8_t *)"a\0b", 3);
        dyna_resp_put_int(&out, -7);
        dyna_resp_put_nil(&out);
        dyna_resp_put_simple(&out, "OK");
        dyna_resp_put_array(&out, 1);
        dyna_resp_put_error(&out, "ERR inner");
        dyna_resp_put_array(&out, 0);
      } else if (nl == 4 && !memcmp(name, "FAIL", 4)) dyna_resp_put_error(&out, "NOQUORUM 1 of 2");
      else if (!fake_typed(&cmd, &out, &last_expire)) hung = 1;
      if (hung) dyna_buf_reset(&out);
      off += used;
    }
    dyna_buf_consume(&in, off);
    if (out.len && send(fd, out.data, out.len, MSG_NOSIGNAL) != (ssize_t)out.len) _exit(1);
    dyna_buf_reset(&out);
  }
}

static pid_t start_fake(int *port) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(lfd, 4), 0);
  socklen_t al = sizeof(a);
  getsockname(lfd, (struct sockaddr *)&a, &al);
  *port = ntohs(a.sin_port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) fake_server(lfd);
  close(lfd);
  return pid;
}

static void stop_fake(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

typedef struct seen {
  int n, in_order, blocking_rc;
  int statuses[8];
} seen_t;

static void on_get(dyna_client_t *c, dyna_result_t *res, void *arg) {
  seen_t *s = arg;
  char want[32];
  snprintf(want, sizeof(want), "k%d", s->n);
  if (res->status || res->siblings.n != 1 || strcmp((char *)res->siblings.values[0].data, want) ||
      strcmp(res->siblings.context, "AQID"))
    s->in_order = 0;
  if (s->n == 0) { /* blocking calls are refused inside a callback */
    dyna_siblings_t tmp;
    s->blocking_rc = dyna_get(c, "x", 1, 0, &tmp);
  }
  s->n++;
}

static void on_status(dyna_client_t *c, dyna_result_t *res, void *arg) {
  (void)c;
  seen_t *s = arg;
  if (s->n < 8) s->statuses[s->n] = res->status;
  s->n++;
}

static void test_engine_pipelined(void **state) {
  (void)state;
  int port;
  pid_t pid = start_fake(&port);
  char seed[64];
  snprintf(seed, sizeof(seed), "127.0.0.1:%d", port);
  dyna_options_t o;
  dyna_options_init(&o);
  o.routing = DYNA_ROUTE_NONE;
  dyna_client_t *c;
  assert_int_equal(dyna_client_open(seed, &o, &c), 0);
  seen_t s = {0, 1, 0, {0}};
  for (int i = 0; i < 200; i++) {
    char key[32];
    snprintf(key, sizeof(key), "k%d", i);
    assert_int_equal(dyna_submit_get(c, key, strlen(key), 0, on_get, &s), 0);
  }
  assert_int_equal(dyna_pending(c), 200);
  assert_int_equal(dyna_wait(c, 5000), 0);
  assert_int_equal(s.n, 200);
  assert_true(s.in_order);
  assert_int_equal(s.blocking_rc, DYNA_EINVAL);
  char *ctx = NULL;
  assert_int_equal(dyna_put(c, "k", 1, "", "v", 1, 2, &ctx), 0);
  assert_string_equal(ctx, "AQIE");
  dyna_str_free(ctx);
  dyna_siblings_t sib;
  assert_int_equal(dyna_get(c, "abc", 3, 2, &sib), 0);
  assert_int_equal(sib.n, 1);
  dyna_siblings_free(&sib);
  dyna_client_close(c);
  stop_fake(pid);
}

/* dyna_command hands back the whole reply tree in the public shape, and an error answer
 * as its code with the server's text; the version calls match the header. */
static void test_command_tree_and_version(void **state) {
  (void)state;
  assert_string_equal(dyna_version(), DYNA_VERSION_STRING);
  assert_int_equal(dyna_version_number(), DYNA_VERSION_HEX);
  assert_true(DYNA_VERSION_HEX >= DYNA_VERSION_INT(0, 1, 0));
  assert_true(DYNA_ERR_IS_DYNA(DYNA_ENOMEM) && DYNA_ERR_IS_DYNA(DYNA_ELAST + 1));
  assert_false(DYNA_ERR_IS_DYNA(DYNA_OK) || DYNA_ERR_IS_DYNA(-1));
  int port;
  pid_t pid = start_fake(&port);
  dyna_client_t *c;
  assert_int_equal(dyna_client_connect("127.0.0.1", port, 2000, &c), 0);
  const uint8_t *argv[] = {(const uint8_t *)"TREE"};
  size_t argl[] = {4};
  dyna_reply_t *r;
  assert_int_equal(dyna_command(c, 1, argv, argl, &r), 0);
  assert_int_equal(r->type, DYNA_REPLY_ARRAY);
  assert_int_equal(r->n, 6);
  assert_int_equal(r->elem[0].type, DYNA_REPLY_STRING);
  assert_int_equal(r->elem[0].len, 3);
  assert_memory_equal(r->elem[0].str, "a\0b", 4); /* NUL-terminated too */
  assert_int_equal(r->elem[1].type, DYNA_REPLY_INTEGER);
  assert_int_equal(r->elem[1].integer, -7);
  assert_int_equal(r->elem[2].type, DYNA_REPLY_NIL);
  assert_null(r->elem[2].str);
  assert_int_equal(r->elem[3].type, DYNA_REPLY_STATUS);
  assert_string_equal((char *)r->elem[3].str, "OK");
  assert_int_equal(r->elem[4].type, DYNA_REPLY_ARRAY);
  assert_int_equal(r->elem[4].n, 1);
  assert_int_equal(r->elem[4].elem[0].type, DYNA_REPLY_ERROR);
  assert_string_equal((char *)r->elem[4].elem[0].str, "ERR inner");
  assert_int_equal(r->elem[5].type, DYNA_REPLY_ARRAY);
  assert_int_equal(r->elem[5].n, 0);
  assert_null(r->elem[5].elem);
  dyna_reply_free(r);
  argv[0] = (const uint8_t *)"FAIL";
  r = (dyna_reply_t *)1;
  assert_int_equal(dyna_command(c, 1, argv, argl, &r), DYNA_ENOQUORUM);
  assert_null(r);
  assert_string_equal(dyna_client_errmsg(c), "NOQUORUM 1 of 2");
  assert_int_equal(dyna_command(c, 0, argv, argl, &r), DYNA_EINVAL);
  dyna_reply_free(NULL);
  dyna_client_close(c);
  stop_fake(pid);
}

/* The typed calls: what each sends (the fake echoes it back), the shapes each accepts,
 * WRONGTYPE as DYNA_EREMOTE with Redis's text, a wrong shape as DYNA_EPROTO, bad
 * arguments refused before sending, and dyna_values_free of what they hand back. */
static void test_typed_calls(void **state) {
  (void)state;
  int port;
  pid_t pid = start_fake(&port);
  dyna_client_t *c;
  assert_int_equal(dyna_client_connect("127.0.0.1", port, 2000, &c), 0);
  int64_t x = 0;
  int flag = -1;
  double d = 0;
  dyna_values_t v;
  const uint8_t *m[] = {(const uint8_t *)"a", (const uint8_t *)"b\0c", (const uint8_t *)"d"};
  size_t ml[] = {1, 3, 1};
  /* counters */
  assert_int_equal(dyna_incrby(c, "n", 1, -41, &x), 0);
  assert_int_equal(x, -40);
  assert_int_equal(dyna_incrby(c, "n", 1, INT64_MIN + 1, &x), 0);
  assert_true(x == INT64_MIN + 2);
  assert_int_equal(dyna_incrby(c, "n", 1, 5, NULL), 0);
  assert_int_equal(dyna_incrby(c, "wt", 2, 1, &x), DYNA_EREMOTE);
  assert_string_equal(dyna_client_errmsg(c),
                      "WRONGTYPE Operation against a key holding the wrong kind of value");
  assert_int_equal(dyna_incrby(c, "shape", 5, 1, &x), DYNA_EPROTO);
  assert_int_equal(dyna_incrby(c, NULL, 1, 1, &x), DYNA_EINVAL);
  /* sets */
  assert_int_equal(dyna_sadd(c, "s", 1, 3, m, ml, &x), 0);
  assert_int_equal(x, 3);
  assert_int_equal(dyna_srem(c, "s", 1, 2, m, ml, &x), 0);
  assert_int_equal(x, 2);
  assert_int_equal(dyna_sadd(c, "s", 1, 0, m, ml, &x), DYNA_EINVAL);
  assert_int_equal(dyna_smembers(c, "cart", 4, &v), 0);
  assert_int_equal(v.n, 2);
  assert_null(v.scores);
  assert_string_equal((char *)v.values[0].data, "cart");
  assert_int_equal(v.values[1].len, 2);
  assert_memory_equal(v.values[1].data, "m\0", 3);
  dyna_values_free(&v);
  assert_int_equal(v.n, 0);
  dyna_values_free(&v); /* twice is fine */
  assert_int_equal(dyna_smembers(c, "wt", 2, &v), DYNA_EREMOTE);
  assert_int_equal(v.n, 0);
  assert_int_equal(dyna_smembers(c, "shape", 5, &v), DYNA_EPROTO);
  assert_int_equal(v.n, 0);
  /* hashes */
  assert_int_equal(dyna_hset(c, "h", 1, 2, m, ml, m + 1, ml + 1, &x), 0);
  assert_int_equal(x, 4); /* f v f v */
  assert_int_equal(dyna_hget(c, "h", 1, "fld", 3, &v), 0);
  assert_int_equal(v.n, 1);
  assert_string_equal((char *)v.values[0].data, "fld");
  dyna_values_free(&v);
  assert_int_equal(dyna_hget(c, "h", 1, "nf", 2, &v), 0);
  assert_int_equal(v.n, 0);
  assert_null(v.values);
  assert_int_equal(dyna_hgetall(c, "h", 1, &v), 0);
  assert_int_equal(v.n, 2);
  assert_string_equal((char *)v.values[1].data, "v");
  dyna_values_free(&v);
  assert_int_equal(dyna_hgetall(c, "odd", 3, &v), DYNA_EPROTO);
  assert_int_equal(v.n, 0);
  /* sorted sets: scores travel as %.17g and come back exact */
  const double sc[] = {1.5, -0.1};
  assert_int_equal(dyna_zadd(c, "z", 1, 2, sc, m, ml, &x), 0);
  assert_int_equal(x, 4);
  const double nan_sc[] = {NAN};
  assert_int_equal(dyna_zadd(c, "z", 1, 1, nan_sc, m, ml, &x), DYNA_EINVAL);
  assert_int_equal(dyna_zincrby(c, "z", 1, 0.1, "m", 1, &d), 0);
  assert_true(d == 0.1);
  assert_int_equal(dyna_zincrby(c, "z", 1, -INFINITY, "m", 1, &d), 0);
  assert_true(isinf(d) && d < 0);
  assert_int_equal(dyna_zrange_withscores(c, "z", 1, 7, -1, &v), 0);
  assert_int_equal(v.n, 2);
  assert_non_null(v.scores);
  assert_string_equal((char *)v.values[0].data, "7");
  assert_string_equal((char *)v.values[1].data, "-1");
  assert_true(v.scores[0] == 1.5);
  assert_true(isinf(v.scores[1]) && v.scores[1] < 0);
  dyna_values_free(&v);
  assert_null(v.scores);
  assert_int_equal(dyna_zrange_withscores(c, "shape", 5, 0, -1, &v), DYNA_EPROTO);
  /* lists */
  assert_int_equal(dyna_lpush(c, "l", 1, 3, m, ml, &x), 0);
  assert_int_equal(x, 3);
  assert_int_equal(dyna_rpush(c, "l", 1, 1, m, ml, &x), 0);
  assert_int_equal(x, 1);
  assert_int_equal(dyna_lrange(c, "l", 1, -3, 2, &v), 0);
  assert_int_equal(v.n, 2);
  assert_string_equal((char *)v.values[0].data, "-3");
  assert_string_equal((char *)v.values[1].data, "2");
  dyna_values_free(&v);
  assert_int_equal(dyna_lpop(c, "l", 1, 0, &v), 0);
  assert_int_equal(v.n, 1);
  assert_string_equal((char *)v.values[0].data, "one");
  dyna_values_free(&v);
  assert_int_equal(dyna_lpop(c, "l", 1, 3, &v), 0);
  assert_int_equal(v.n, 3);
  dyna_values_free(&v);
  assert_int_equal(dyna_lpop(c, "none", 4, 0, &v), 0);
  assert_int_equal(v.n, 0);
  assert_null(v.values); /* an empty answer allocates nothing */
  /* expiry and type */
  assert_int_equal(dyna_expire(c, "k", 1, 600, &flag), 0);
  assert_int_equal(flag, 1);
  assert_int_equal(dyna_ttl(c, "k", 1, &x), 0);
  assert_int_equal(x, 600);
  assert_int_equal(dyna_expire(c, "absent", 6, 5, &flag), 0);
  assert_int_equal(flag, 0);
  assert_int_equal(dyna_ttl(c, "absent", 6, &x), 0);
  assert_int_equal(x, -2);
  assert_int_equal(dyna_persist(c, "k", 1, &flag), 0);
  assert_int_equal(flag, 1);
  char type[16], tiny[3];
  assert_int_equal(dyna_type(c, "k", 1, type, sizeof(type)), 0);
  assert_string_equal(type, "zset");
  assert_int_equal(dyna_type(c, "k", 1, tiny, sizeof(tiny)), 0);
  assert_string_equal(tiny, "zs"); /* truncated, NUL-terminated */
  assert_int_equal(dyna_type(c, "wt", 2, type, sizeof(type)), DYNA_EREMOTE);
  assert_string_equal(type, "");
  /* any command routed by key */
  const uint8_t *argv[] = {(const uint8_t *)"TYPE", (const uint8_t *)"k"};
  size_t argl[] = {4, 1};
  dyna_reply_t *r;
  assert_int_equal(dyna_key_command(c, 2, argv, argl, 1, &r), 0);
  assert_int_equal(r->type, DYNA_REPLY_STATUS);
  assert_string_equal((char *)r->str, "zset");
  dyna_reply_free(r);
  assert_int_equal(dyna_key_command(c, 2, argv, argl, 0, &r), DYNA_EINVAL);
  assert_null(r);
  assert_int_equal(dyna_key_command(c, 2, argv, argl, 2, &r), DYNA_EINVAL);
  dyna_values_free(NULL);
  dyna_client_close(c);
  stop_fake(pid);
}

static void test_engine_timeout_and_refused(void **state) {
  (void)state;
  int port;
  pid_t pid = start_fake(&port);
  char seed[64];
  snprintf(seed, sizeof(seed), "127.0.0.1:%d", port);
  dyna_options_t o;
  dyna_options_init(&o);
  o.routing = DYNA_ROUTE_NONE;
  o.timeout_ms = 200;
  dyna_client_t *c;
  assert_int_equal(dyna_client_open(seed, &o, &c), 0);
  seen_t s = {0, 1, 0, {0}};
  const uint8_t *argv[] = {(const uint8_t *)"HANG"};
  size_t argl[] = {4};
  assert_int_equal(dyna_submit_command(c, 1, argv, argl, 0, on_status, &s), 0);
  assert_int_equal(dyna_submit_get(c, "k", 1, 0, on_status, &s), 0);
  assert_int_equal(dyna_wait(c, 5000), 0);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.statuses[0], DYNA_ETIMEDOUT);
  assert_int_equal(s.statuses[1], DYNA_ETIMEDOUT);
  dyna_client_close(c);
  stop_fake(pid);
  /* nobody listens any more: connecting fails with a reason */
  assert_int_equal(dyna_client_open(seed, &o, &c), DYNA_ECONN);
  assert_non_null(strstr(dyna_client_errmsg(c), "127.0.0.1"));
  dyna_client_close(c);
  assert_int_equal(dyna_client_open("", &o, &c), DYNA_EINVAL);
  dyna_client_close(c);
  assert_int_equal(dyna_client_open("a,b", &o, &c), DYNA_EINVAL);
  dyna_client_close(c);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hist_ranges),
      cmocka_unit_test(test_hist_quantiles),
      cmocka_unit_test(test_rand),
      cmocka_unit_test(test_zipf),
      cmocka_unit_test(test_ring_parse_and_route),
      cmocka_unit_test(test_addr_and_errors),
      cmocka_unit_test(test_siblings_shape),
      cmocka_unit_test(test_engine_pipelined),
      cmocka_unit_test(test_command_tree_and_version),
      cmocka_unit_test(test_typed_calls),
      cmocka_unit_test(test_engine_timeout_and_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
