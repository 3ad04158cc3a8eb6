/* hiredis_smoke.c: hiredis (Debian's libhiredis-dev, the C client most Redis tools and
 * language bindings are built on) against a running Dyna cluster:
 *
 *   hiredis_smoke HOST:PORT HOST:PORT ...
 *
 * Writes go through the first node, reads through the second (a quorum read sees an
 * acknowledged write). One function per family: synchronous commands of each family
 * served (strings, counters, sets, hashes, sorted sets, lists, expiry), pipelined
 * commands (redisAppendCommand / redisGetReply), error replies as Redis words them, and
 * binary-safe keys and values (NUL bytes, CR LF) through %b and redisCommandArgv, SCAN's
 * cursor loop (cursors as unsigned 64-bit numbers), CLUSTER SLOTS parsed as a cluster
 * client does, HELLO 2 (Debian's hiredis 0.14 reads RESP2 only: no RESP3 family),
 * transactions (MULTI/QUEUED/EXEC, pipelined too, EXECABORT, a nil EXEC after a WATCH
 * conflict, DISCARD).
 * Prints one line per check and "hiredis: N checks, M failed"; exits 0 only when every
 * check passed. Built by CMake for the tests only; run by
 * tests/integration/test_hiredis.py, which starts the cluster. */
#include <hiredis/hiredis.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"

static int nchecks, nfailed;
static const char *family = "";
static char prefix[32]; /* "hr<pid>:": keys of this run */

static void check(const char *what, int ok, const char *detail) {
  nchecks++;
  if (ok) {
    printf("  ok   %s: %s\n", family, what);
  } else {
    nfailed++;
    printf("  FAIL %s: %s%s%s\n", family, what, detail ? ": " : "", detail ? detail : "");
  }
}

/* The key name for s (a static buffer per call slot: up to 4 at once). */
static const char *k(const char *s) {
  static char bufs[4][128];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, sizeof(bufs[0]), "%s%s", prefix, s);
  return b;
}

/* Renders a reply for a failure message (a static buffer). */
static const char *show(const redisReply *r) {
  static char b[512];
  if (!r) return "(no reply: connection error)";
  switch (r->type) {
  case REDIS_REPLY_STRING: snprintf(b, sizeof(b), "bulk \"%.*s\"", (int)r->len, r->str); break;
  case REDIS_REPLY_STATUS: snprintf(b, sizeof(b), "status %s", r->str); break;
  case REDIS_REPLY_ERROR: snprintf(b, sizeof(b), "error \"%s\"", r->str); break;
  case REDIS_REPLY_INTEGER: snprintf(b, sizeof(b), "integer %lld", r->integer); break;
  case REDIS_REPLY_NIL: snprintf(b, sizeof(b), "nil"); break;
  case REDIS_REPLY_ARRAY: {
    size_t n = (size_t)snprintf(b, sizeof(b), "array of %zu [", r->elements);
    for (size_t i = 0; i < r->elements && n < sizeof(b) - 40; i++) {
      const redisReply *e = r->element[i];
      n += (size_t)snprintf(b + n, sizeof(b) - n, "%s%.*s", i ? "," : "",
                            e->type == REDIS_REPLY_STRING ? (int)(e->len > 24 ? 24 : e->len) : 3,
                            e->type == REDIS_REPLY_STRING ? e->str : e->type == REDIS_REPLY_NIL ? "nil" : "?");
    }
    snprintf(b + n, sizeof(b) - n, "]");
    break;
  }
  default: snprintf(b, sizeof(b), "type %d", r->type);
  }
  return b;
}

/* Each expect_* checks the reply, frees it and returns 1 when it matched. */
static int expect_status(const char *what, redisReply *r, const char *want) {
  int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, want) == 0;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}

static int expect_bulk(const char *what, redisReply *r, const char *want, size_t len) {
  int ok = r && r->type == REDIS_REPLY_STRING && r->len == len && memcmp(r->str, want, len) == 0;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}
#define expect_str(what, r, s) expect_bulk((what), (r), (s), strlen(s))

static int expect_int(const char *what, redisReply *r, long long want) {
  int ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == want;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}

static int expect_nil(const char *what, redisReply *r) {
  int ok = r && r->type == REDIS_REPLY_NIL;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}

static int expect_err(const char *what, redisReply *r, const char *want) {
  int ok = r && r->type == REDIS_REPLY_ERROR && strcmp(r->str, want) == 0;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* An array of bulk strings equal to want[0..n) (in order, or as a set when sorted). */
static int expect_arr(const char *what, redisReply *r, int sorted, size_t n, const char *const *want) {
  int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
  const char *got[64];
  for (size_t i = 0; ok && i < n && i < 64; i++) {
    ok = r->element[i]->type == REDIS_REPLY_STRING;
    got[i] = ok ? r->element[i]->str : NULL;
  }
  if (ok && sorted) qsort(got, n, sizeof(got[0]), cmpstr);
  for (size_t i = 0; ok && i < n; i++) ok = strcmp(got[i], want[i]) == 0;
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}
#define ARR(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[]){__VA_ARGS__}

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  return r;
}

/* ---------------------------------------------------------------- families */

static void strings(redisContext *w, redisContext *rd) {
  expect_status("set ex nx", cmd(w, "SET %s v1 EX 100 NX", k("s1")), "OK");
  expect_str("get through another node", cmd(rd, "GET %s", k("s1")), "v1");
  expect_nil("set nx on a present key", cmd(w, "SET %s v2 NX", k("s1")));
  expect_nil("get of an absent key", cmd(rd, "GET %s", k("absent")));
  expect_str("set get", cmd(w, "SET %s v3 GET", k("s1")), "v1");
  expect_status("mset", cmd(w, "MSET %s 1 %s 2", k("{s}m1"), k("{s}m2")), "OK");
  expect_arr("mget", cmd(rd, "MGET %s %s", k("{s}m1"), k("{s}m2")), 0, ARR("1", "2"));
  expect_int("setnx", cmd(w, "SETNX %s a", k("n1")), 1);
  expect_str("getset", cmd(w, "GETSET %s b", k("n1")), "a");
  expect_int("append", cmd(w, "APPEND %s hello", k("a1")), 5);
  expect_int("append again", cmd(w, "APPEND %s %s", k("a1"), " world"), 11);
  expect_int("strlen", cmd(rd, "STRLEN %s", k("a1")), 11);
  expect_str("getrange", cmd(rd, "GETRANGE %s 0 4", k("a1")), "hello");
  expect_int("setrange", cmd(w, "SETRANGE %s 6 WORLD", k("a1")), 11);
  expect_str("... read back", cmd(rd, "GET %s", k("a1")), "hello WORLD");
  expect_str("getdel", cmd(w, "GETDEL %s", k("n1")), "b");
  expect_int("exists", cmd(rd, "EXISTS %s %s %s", k("{s}m1"), k("{s}m2"), k("n1")), 2);
  expect_int("del", cmd(w, "DEL %s %s", k("{s}m1"), k("nope")), 1);
}

static void counters(redisContext *w, redisContext *rd) {
  expect_int("incr", cmd(w, "INCR %s", k("views")), 1);
  expect_int("incrby", cmd(w, "INCRBY %s 41", k("views")), 42);
  expect_int("decr", cmd(w, "DECR %s", k("views")), 41);
  expect_int("decrby", cmd(w, "DECRBY %s 11", k("views")), 30);
  expect_str("get of a counter", cmd(rd, "GET %s", k("views")), "30");
  expect_str("incrbyfloat", cmd(w, "INCRBYFLOAT %s 0.5", k("views")), "30.5");
  expect_status("type", cmd(rd, "TYPE %s", k("views")), "string");
  freeReplyObject(cmd(w, "SET %s 9223372036854775807", k("big")));
  expect_err("incr past the top", cmd(w, "INCR %s", k("big")), "ERR increment or decrement would overflow");
}

static void sets(redisContext *w, redisContext *rd) {
  expect_int("sadd", cmd(w, "SADD %s apple pear fig", k("{set}a")), 3);
  expect_int("sadd again", cmd(w, "SADD %s apple kiwi", k("{set}a")), 1);
  expect_arr("smembers", cmd(rd, "SMEMBERS %s", k("{set}a")), 1, ARR("apple", "fig", "kiwi", "pear"));
  expect_int("sismember", cmd(rd, "SISMEMBER %s fig", k("{set}a")), 1);
  expect_int("scard", cmd(rd, "SCARD %s", k("{set}a")), 4);
  expect_int("srem", cmd(w, "SREM %s kiwi plum", k("{set}a")), 1);
  expect_int("sadd other", cmd(w, "SADD %s pear plum", k("{set}b")), 2);
  expect_arr("sinter", cmd(rd, "SINTER %s %s", k("{set}a"), k("{set}b")), 0, ARR("pear"));
  expect_arr("sunion", cmd(rd, "SUNION %s %s", k("{set}a"), k("{set}b")), 1, ARR("apple", "fig", "pear", "plum"));
  expect_int("sdiffstore", cmd(w, "SDIFFSTORE %s %s %s", k("{set}d"), k("{set}a"), k("{set}b")), 2);
  expect_arr("... stored", cmd(rd, "SMEMBERS %s", k("{set}d")), 1, ARR("apple", "fig"));
  expect_int("smove", cmd(w, "SMOVE %s %s apple", k("{set}a"), k("{set}b")), 1);
  expect_status("type", cmd(rd, "TYPE %s", k("{set}a")), "set");
}

static void hashes(redisContext *w, redisContext *rd) {
  expect_int("hset", cmd(w, "HSET %s name ann age 30", k("user")), 2);
  expect_str("hget", cmd(rd, "HGET %s name", k("user")), "ann");
  redisReply *r = cmd(rd, "HMGET %s name nope", k("user"));
  check("hmget", r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
                     strcmp(r->element[0]->str, "ann") == 0 && r->element[1]->type == REDIS_REPLY_NIL, show(r));
  freeReplyObject(r);
  expect_arr("hkeys", cmd(rd, "HKEYS %s", k("user")), 1, ARR("age", "name"));
  expect_int("hlen", cmd(rd, "HLEN %s", k("user")), 2);
  expect_int("hincrby", cmd(w, "HINCRBY %s visits 5", k("user")), 5);
  expect_str("hincrbyfloat", cmd(w, "HINCRBYFLOAT %s score 1.5", k("user")), "1.5");
  expect_int("hdel", cmd(w, "HDEL %s visits nope", k("user")), 1);
  expect_int("hexists", cmd(rd, "HEXISTS %s age", k("user")), 1);
  r = cmd(rd, "HGETALL %s", k("user"));
  check("hgetall: 3 fields and values", r && r->type == REDIS_REPLY_ARRAY && r->elements == 6, show(r));
  freeReplyObject(r);
  expect_status("type", cmd(rd, "TYPE %s", k("user")), "hash");
}

static void zsets(redisContext *w, redisContext *rd) {
  expect_int("zadd", cmd(w, "ZADD %s 1 a 2 b 3 c", k("rank")), 3);
  expect_int("zadd nx", cmd(w, "ZADD %s NX 10 a 4 d", k("rank")), 1);
  expect_str("zincrby", cmd(w, "ZINCRBY %s 1.5 a", k("rank")), "2.5");
  expect_str("zscore", cmd(rd, "ZSCORE %s a", k("rank")), "2.5");
  expect_int("zcard", cmd(rd, "ZCARD %s", k("rank")), 4);
  expect_int("zrank", cmd(rd, "ZRANK %s c", k("rank")), 2);
  expect_arr("zrange", cmd(rd, "ZRANGE %s 0 -1", k("rank")), 0, ARR("b", "a", "c", "d"));
  expect_arr("zrange withscores", cmd(rd, "ZRANGE %s 0 1 WITHSCORES", k("rank")), 0, ARR("b", "2", "a", "2.5"));
  expect_arr("zrevrange", cmd(rd, "ZREVRANGE %s 0 1", k("rank")), 0, ARR("d", "c"));
  expect_arr("zrangebyscore", cmd(rd, "ZRANGEBYSCORE %s (2 3", k("rank")), 0, ARR("a", "c"));
  expect_arr("zpopmin", cmd(w, "ZPOPMIN %s", k("rank")), 0, ARR("b", "2"));
  expect_int("zrem", cmd(w, "ZREM %s d nope", k("rank")), 1);
  expect_status("type", cmd(rd, "TYPE %s", k("rank")), "zset");
}

static void lists(redisContext *w, redisContext *rd) {
  expect_int("rpush", cmd(w, "RPUSH %s a b c", k("{l}jobs")), 3);
  expect_int("lpush", cmd(w, "LPUSH %s z", k("{l}jobs")), 4);
  expect_arr("lrange", cmd(rd, "LRANGE %s 0 -1", k("{l}jobs")), 0, ARR("z", "a", "b", "c"));
  expect_int("llen", cmd(rd, "LLEN %s", k("{l}jobs")), 4);
  expect_str("lindex", cmd(rd, "LINDEX %s -1", k("{l}jobs")), "c");
  expect_str("lpop", cmd(w, "LPOP %s", k("{l}jobs")), "z");
  expect_str("rpop", cmd(w, "RPOP %s", k("{l}jobs")), "c");
  expect_status("lset", cmd(w, "LSET %s 0 A", k("{l}jobs")), "OK");
  expect_str("lmove", cmd(w, "LMOVE %s %s LEFT RIGHT", k("{l}jobs"), k("{l}done")), "A");
  expect_arr("... moved", cmd(rd, "LRANGE %s 0 -1", k("{l}done")), 0, ARR("A"));
  expect_status("type", cmd(rd, "TYPE %s", k("{l}done")), "list");
}

static void expiry(redisContext *w, redisContext *rd) {
  expect_status("set ex", cmd(w, "SET %s v EX 100", k("sess")), "OK");
  redisReply *r = cmd(rd, "TTL %s", k("sess"));
  check("ttl", r && r->type == REDIS_REPLY_INTEGER && r->integer > 90 && r->integer <= 100, show(r));
  freeReplyObject(r);
  expect_int("persist", cmd(w, "PERSIST %s", k("sess")), 1);
  expect_int("ttl after persist", cmd(rd, "TTL %s", k("sess")), -1);
  expect_int("expire", cmd(w, "EXPIRE %s 50", k("sess")), 1);
  r = cmd(rd, "PTTL %s", k("sess"));
  check("pttl", r && r->type == REDIS_REPLY_INTEGER && r->integer > 40000 && r->integer <= 50000, show(r));
  freeReplyObject(r);
  expect_int("ttl of a missing key", cmd(rd, "TTL %s", k("nokey")), -2);
  expect_err("set ex 0", cmd(w, "SET %s v EX 0", k("bad")), "ERR invalid expire time in 'set' command");
}

/* 1000 commands sent with redisAppendCommand before any reply is read, then every reply
 * read in order with redisGetReply. */
static void pipelined(redisContext *w, redisContext *rd) {
  enum { N = 250 };
  for (int i = 0; i < N; i++) {
    redisAppendCommand(w, "SET %s%d v%d", k("p:k"), i, i);
    redisAppendCommand(w, "INCR %s", k("p:ctr"));
    redisAppendCommand(w, "SADD %s m%d", k("p:set"), i);
    redisAppendCommand(w, "HSET %s f%d %d", k("p:hash"), i, i);
  }
  int ok = 1, bad_at = -1;
  char first_bad[520] = "";
  for (int i = 0; i < 4 * N; i++) {
    redisReply *r = NULL;
    if (redisGetReply(w, (void **)&r) != REDIS_OK) { ok = 0; bad_at = i; break; }
    int want_int = i % 4 != 0;
    int good = want_int ? r->type == REDIS_REPLY_INTEGER && (i % 4 != 1 || r->integer == i / 4 + 1) && (i % 4 == 1 || r->integer == 1)
                        : r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (!good && ok) {
      ok = 0;
      bad_at = i;
      snprintf(first_bad, sizeof(first_bad), "%s", show(r));
    }
    freeReplyObject(r);
  }
  char d[640];
  snprintf(d, sizeof(d), "reply %d wrong or missing: %s", bad_at, first_bad);
  check("1000 pipelined writes: every reply, in order", ok, d);
  for (int i = 0; i < N; i++) redisAppendCommand(rd, "GET %s%d", k("p:k"), i);
  redisAppendCommand(rd, "SCARD %s", k("p:set"));
  redisAppendCommand(rd, "HLEN %s", k("p:hash"));
  ok = 1;
  bad_at = -1;
  for (int i = 0; i < N; i++) {
    redisReply *r = NULL;
    char want[16];
    snprintf(want, sizeof(want), "v%d", i);
    if (redisGetReply(rd, (void **)&r) != REDIS_OK) { ok = 0; bad_at = i; break; }
    if (ok && !(r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0)) { ok = 0; bad_at = i; }
    freeReplyObject(r);
  }
  snprintf(d, sizeof(d), "reply %d wrong or missing", bad_at);
  check("250 pipelined reads through another node: every value, in order", ok, d);
  redisReply *r = NULL;
  redisGetReply(rd, (void **)&r);
  expect_int("... then scard", r, N);
  r = NULL;
  redisGetReply(rd, (void **)&r);
  expect_int("... then hlen", r, N);
  /* An error reply in the middle of a pipeline: the commands around it answer. */
  redisAppendCommand(w, "SET %s x", k("p:mixed"));
  redisAppendCommand(w, "SADD %s m", k("p:mixed"));
  redisAppendCommand(w, "APPEND %s y", k("p:mixed"));
  redisAppendCommand(w, "NOSUCHCMD");
  redisAppendCommand(w, "GET %s", k("p:mixed"));
  r = NULL;
  redisGetReply(w, (void **)&r);
  expect_status("mixed pipeline: set", r, "OK");
  r = NULL;
  redisGetReply(w, (void **)&r);
  expect_err("mixed pipeline: sadd on the string", r, WRONGTYPE);
  r = NULL;
  redisGetReply(w, (void **)&r);
  expect_int("mixed pipeline: append", r, 2);
  r = NULL;
  redisGetReply(w, (void **)&r);
  expect_err("mixed pipeline: an unknown command", r, "ERR unknown command 'NOSUCHCMD', with args beginning with: ");
  r = NULL;
  redisGetReply(w, (void **)&r);
  expect_str("mixed pipeline: get", r, "xy");
}

/* Transactions: MULTI, QUEUED per command, EXEC's array of the replies (sent one command at a
 * time with redisCommand, then all at once with redisAppendCommand); a queue-time error
 * (wrong arity) aborts: EXEC answers EXECABORT and nothing is applied; a watched key written
 * by the other connection makes EXEC answer nil (REDIS_REPLY_NIL) and applies nothing. Every
 * key shares the {tx} tag: a transaction's keys are of one partition. */
static int expect_exec(const char *what, redisReply *r, const char *want) {
  /* want: one letter per element: O status OK, 1/2 integer, v bulk "v", n nil, E error */
  size_t n = strlen(want);
  int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
  for (size_t i = 0; ok && i < n; i++) {
    const redisReply *e = r->element[i];
    switch (want[i]) {
    case 'O': ok = e->type == REDIS_REPLY_STATUS && strcmp(e->str, "OK") == 0; break;
    case '1': case '2': ok = e->type == REDIS_REPLY_INTEGER && e->integer == want[i] - '0'; break;
    case 'v': ok = e->type == REDIS_REPLY_STRING && e->len == 1 && e->str[0] == 'v'; break;
    case 'n': ok = e->type == REDIS_REPLY_NIL; break;
    default: ok = e->type == REDIS_REPLY_ERROR && strcmp(e->str, WRONGTYPE) == 0; break;
    }
  }
  check(what, ok, show(r));
  freeReplyObject(r);
  return ok;
}

static void transactions(redisContext *w, redisContext *rd) {
  const char *execabort = "EXECABORT Transaction discarded because of previous errors.";
  expect_status("MULTI", cmd(w, "MULTI"), "OK");
  expect_status("SET: QUEUED", cmd(w, "SET %s v", k("{tx}a")), "QUEUED");
  expect_status("INCR: QUEUED", cmd(w, "INCR %s", k("{tx}n")), "QUEUED");
  expect_status("SADD on the string: QUEUED", cmd(w, "SADD %s m", k("{tx}a")), "QUEUED");
  expect_status("GET of a missing key: QUEUED", cmd(w, "GET %s", k("{tx}none")), "QUEUED");
  expect_status("GET: QUEUED", cmd(w, "GET %s", k("{tx}a")), "QUEUED");
  expect_exec("EXEC: the array of the replies (OK, 1, WRONGTYPE, nil, v)", cmd(w, "EXEC"), "O1Env");
  expect_str("... applied (read through another node)", cmd(rd, "GET %s", k("{tx}a")), "v");
  expect_str("... the counter too", cmd(rd, "GET %s", k("{tx}n")), "1");
  redisAppendCommand(w, "MULTI");
  redisAppendCommand(w, "INCR %s", k("{tx}n"));
  redisAppendCommand(w, "SADD %s x y", k("{tx}s"));
  redisAppendCommand(w, "EXEC");
  const char *want[] = {"OK", "QUEUED", "QUEUED"};
  for (int i = 0; i < 3; i++) {
    redisReply *r = NULL;
    redisGetReply(w, (void **)&r);
    expect_status(i ? "pipelined: QUEUED" : "pipelined MULTI ... EXEC: OK", r, want[i]);
  }
  redisReply *r = NULL;
  redisGetReply(w, (void **)&r);
  expect_exec("pipelined: EXEC's array (2, 2)", r, "22");
  expect_int("... applied", cmd(rd, "SCARD %s", k("{tx}s")), 2);
  expect_status("MULTI", cmd(w, "MULTI"), "OK");
  expect_status("SET: QUEUED", cmd(w, "SET %s v", k("{tx}ab")), "QUEUED");
  expect_err("GET with no key: the arity error at once", cmd(w, "GET"), "ERR wrong number of arguments for 'get' command");
  expect_err("EXEC: EXECABORT", cmd(w, "EXEC"), execabort);
  expect_int("... nothing was applied", cmd(rd, "EXISTS %s", k("{tx}ab")), 0);
  expect_status("WATCH", cmd(w, "WATCH %s", k("{tx}a")), "OK");
  expect_status("... the other connection writes the key", cmd(rd, "SET %s theirs", k("{tx}a")), "OK");
  expect_status("... MULTI", cmd(w, "MULTI"), "OK");
  expect_status("... SET: QUEUED", cmd(w, "SET %s mine", k("{tx}a")), "QUEUED");
  expect_status("... SET: QUEUED", cmd(w, "SET %s v", k("{tx}wx")), "QUEUED");
  expect_nil("... EXEC: nil (REDIS_REPLY_NIL)", cmd(w, "EXEC"));
  expect_str("... nothing was applied", cmd(rd, "GET %s", k("{tx}a")), "theirs");
  expect_int("... nothing was applied (the other key)", cmd(rd, "EXISTS %s", k("{tx}wx")), 0);
  expect_status("MULTI then DISCARD", cmd(w, "MULTI"), "OK");
  expect_status("... SET: QUEUED", cmd(w, "SET %s v", k("{tx}d")), "QUEUED");
  expect_status("... DISCARD: OK", cmd(w, "DISCARD"), "OK");
  expect_int("... nothing was applied", cmd(rd, "EXISTS %s", k("{tx}d")), 0);
}

static void errors(redisContext *w, redisContext *rd) {
  freeReplyObject(cmd(w, "SET %s x", k("{e}str")));
  freeReplyObject(cmd(w, "SADD %s m", k("{e}set")));
  freeReplyObject(cmd(w, "HSET %s f v", k("{e}hash")));
  freeReplyObject(cmd(w, "RPUSH %s a", k("{e}list")));
  freeReplyObject(cmd(w, "ZADD %s 1 m", k("{e}zset")));
  expect_err("WRONGTYPE: sadd on a string", cmd(w, "SADD %s m", k("{e}str")), WRONGTYPE);
  expect_err("WRONGTYPE: get on a set", cmd(rd, "GET %s", k("{e}set")), WRONGTYPE);
  expect_err("WRONGTYPE: incr on a hash", cmd(w, "INCR %s", k("{e}hash")), WRONGTYPE);
  expect_err("WRONGTYPE: hget on a list", cmd(rd, "HGET %s f", k("{e}list")), WRONGTYPE);
  expect_err("WRONGTYPE: lpush on a zset", cmd(w, "LPUSH %s x", k("{e}zset")), WRONGTYPE);
  expect_err("WRONGTYPE: append on a set", cmd(w, "APPEND %s x", k("{e}set")), WRONGTYPE);
  expect_err("WRONGTYPE: strlen on a list", cmd(rd, "STRLEN %s", k("{e}list")), WRONGTYPE);
  expect_err("WRONGTYPE: sinter with a string", cmd(rd, "SINTER %s %s", k("{e}set"), k("{e}str")), WRONGTYPE);
  expect_arr("... the set is unchanged", cmd(rd, "SMEMBERS %s", k("{e}set")), 0, ARR("m"));
  expect_err("unknown command", cmd(w, "NOSUCHCMD a b"), "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' ");
  expect_err("wrong number of arguments", cmd(w, "GET"), "ERR wrong number of arguments for 'get' command");
  expect_err("syntax error", cmd(w, "SET %s v BOGUS", k("{e}str")), "ERR syntax error");
  expect_err("not an integer", cmd(w, "INCRBY %s x", k("{e}n")), "ERR value is not an integer or out of range");
  expect_status("the connection still answers", cmd(w, "PING"), "PONG");
}

/* Binary-safe keys and values: %b (pointer, length) and redisCommandArgv. */
static void binary(redisContext *w, redisContext *rd) {
  static const char val[] = {'a', 0, 'b', '\r', '\n', 0, (char)0xff, 'z'};
  char key[64];
  size_t kl = (size_t)snprintf(key, sizeof(key), "%sbin", prefix);
  key[kl++] = 0;
  key[kl++] = '\n';
  key[kl++] = 'k';
  expect_status("set of a value with NUL bytes (%b)", cmd(w, "SET %b %b", key, kl, val, sizeof(val)), "OK");
  expect_bulk("get: every byte back", cmd(rd, "GET %b", key, kl), val, sizeof(val));
  expect_int("strlen counts the NULs", cmd(rd, "STRLEN %b", key, kl), (long long)sizeof(val));
  expect_int("append of NULs", cmd(w, "APPEND %b %b", key, kl, "\0\0", (size_t)2), (long long)sizeof(val) + 2);
  const char *argv[4] = {"HSET", k("binhash"), "f\0x", val};
  size_t argl[4] = {4, strlen(argv[1]), 3, sizeof(val)};
  expect_int("hset through redisCommandArgv", redisCommandArgv(w, 4, argv, argl), 1);
  const char *gargv[3] = {"HGET", k("binhash"), "f\0x"};
  size_t gargl[3] = {4, strlen(gargv[1]), 3};
  expect_bulk("hget of a field with a NUL", redisCommandArgv(rd, 3, gargv, gargl), val, sizeof(val));
  expect_nil("the field without its NUL is another field", cmd(rd, "HGET %s f", k("binhash")));
  expect_int("sadd of members differing after a NUL", cmd(w, "SADD %s %b %b", k("binset"), "m\0a", (size_t)3, "m\0b", (size_t)3), 2);
  expect_int("scard", cmd(rd, "SCARD %s", k("binset")), 2);
  size_t big = 100000;
  char *bv = malloc(big);
  if (!bv) { check("malloc", 0, NULL); return; }
  for (size_t i = 0; i < big; i++) bv[i] = (char)(i * 7);
  expect_status("a 100 KB binary value", cmd(w, "SET %s %b", k("binbig"), bv, big), "OK");
  expect_bulk("... read back whole", cmd(rd, "GET %s", k("binbig")), bv, big);
  free(bv);
}

/* SCAN's cursor loop as a hiredis client writes it: the cursor is a bulk string of up to
 * 20 digits (Dyna's are partition << 48 | position, far past 2^32), parsed as an unsigned
 * 64-bit number and sent back as one; every key written comes back, nothing else does. */
static void scan_loop(redisContext *w, redisContext *rd) {
  enum { NKEYS = 40 };
  char pat[64];
  snprintf(pat, sizeof(pat), "%sscan:*", prefix);
  int wrote = 0;
  for (int i = 0; i < NKEYS; i++) {
    char key[64];
    snprintf(key, sizeof(key), "scan:%d", i);
    redisReply *r = cmd(w, "SET %s v", k(key));
    wrote += r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
  }
  check("40 keys written", wrote == NKEYS, NULL);
  int seen[NKEYS] = {0};
  int foreign = 0, bad_reply = 0, bad_cursor = 0, calls = 0;
  unsigned long long cur = 0, max_cur = 0;
  char detail[256] = "";
  do {
    redisReply *r = cmd(rd, "SCAN %llu MATCH %s COUNT 10", cur, pat);
    calls++;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
      bad_reply++;
      snprintf(detail, sizeof(detail), "%s", show(r));
      freeReplyObject(r);
      break;
    }
    const redisReply *c = r->element[0];
    char *end = NULL;
    errno = 0;
    cur = strtoull(c->str, &end, 10);
    char back[32];
    snprintf(back, sizeof(back), "%llu", cur);
    if (errno || c->len == 0 || c->len > 20 || end != c->str + c->len || strcmp(back, c->str) != 0) {
      bad_cursor++;
      snprintf(detail, sizeof(detail), "cursor \"%.*s\"", (int)c->len, c->str);
      freeReplyObject(r);
      break;
    }
    if (cur > max_cur) max_cur = cur;
    for (size_t i = 0; i < r->element[1]->elements; i++) {
      const redisReply *e = r->element[1]->element[i];
      const char *rest = e->type == REDIS_REPLY_STRING && strncmp(e->str, k("scan:"), strlen(k("scan:"))) == 0
                             ? e->str + strlen(k("scan:")) : NULL;
      int n = rest ? atoi(rest) : -1;
      if (n >= 0 && n < NKEYS) seen[n]++;
      else foreign++;
    }
    freeReplyObject(r);
  } while (cur != 0 && calls < 100000);
  check("every reply: [cursor, [keys]]", !bad_reply, detail);
  check("every cursor a decimal unsigned 64-bit number", !bad_cursor, detail);
  check("the loop ends at cursor 0", cur == 0 && !bad_reply && !bad_cursor, NULL);
  snprintf(detail, sizeof(detail), "largest cursor %llu", max_cur);
  check("cursors past 2^32 (partition << 48 | position)", max_cur > 0xffffffffULL, detail);
  int missing = 0;
  for (int i = 0; i < NKEYS; i++) missing += seen[i] == 0;
  snprintf(detail, sizeof(detail), "%d missing of %d, %d foreign, %d calls", missing, NKEYS, foreign, calls);
  check("every key written is returned, no other", missing == 0 && foreign == 0, detail);
  redisReply *r = cmd(rd, "SCAN 18446744073709551615 MATCH %s", pat);
  check("SCAN with the largest 64-bit cursor: [\"0\", []]",
        r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "0") == 0 && r->element[1]->elements == 0, show(r));
  freeReplyObject(r);
  expect_err("SCAN with a cursor past 64 bits", cmd(rd, "SCAN 18446744073709551616"), "ERR invalid cursor");
  r = cmd(rd, "KEYS %s", pat);
  check("KEYS: the same 40 keys", r && r->type == REDIS_REPLY_ARRAY && r->elements == NKEYS, show(r));
  freeReplyObject(r);
}

/* CLUSTER SLOTS parsed as a cluster client does: ranges [start, end, [ip, port, id], ...]
 * covering slots 0..16383 once, each node a member (its port one of argv's), its id 40 hex
 * digits; CLUSTER KEYSLOT as Redis computes it. */
static int member_ports[16], nmember_ports;

static void cluster_slots(redisContext *w, redisContext *rd) {
  (void)w;
  redisReply *r = cmd(rd, "CLUSTER SLOTS");
  static unsigned char owned[16384];
  memset(owned, 0, sizeof(owned));
  int shape_ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0, overlaps = 0, strangers = 0, bad_ids = 0;
  char detail[160] = "";
  for (size_t i = 0; shape_ok && i < r->elements; i++) {
    const redisReply *g = r->element[i];
    shape_ok = g->type == REDIS_REPLY_ARRAY && g->elements >= 3 && g->element[0]->type == REDIS_REPLY_INTEGER &&
               g->element[1]->type == REDIS_REPLY_INTEGER && g->element[0]->integer >= 0 &&
               g->element[0]->integer <= g->element[1]->integer && g->element[1]->integer < 16384;
    for (size_t j = 2; shape_ok && j < g->elements; j++) {
      const redisReply *n = g->element[j];
      shape_ok = n->type == REDIS_REPLY_ARRAY && n->elements >= 3 && n->element[0]->type == REDIS_REPLY_STRING &&
                 n->element[1]->type == REDIS_REPLY_INTEGER && n->element[2]->type == REDIS_REPLY_STRING;
      if (!shape_ok) break;
      int known = 0;
      for (int p = 0; p < nmember_ports; p++) known |= member_ports[p] == n->element[1]->integer;
      strangers += !known;
      int hex = n->element[2]->len == 40;
      for (size_t c = 0; hex && c < 40; c++) hex = strchr("0123456789abcdef", n->element[2]->str[c]) != NULL;
      bad_ids += !hex;
    }
    if (!shape_ok) {
      snprintf(detail, sizeof(detail), "range %zu: %s", i, show((redisReply *)g));
      break;
    }
    for (long long s = g->element[0]->integer; s <= g->element[1]->integer; s++) overlaps += owned[s]++ > 0;
  }
  check("CLUSTER SLOTS: ranges of [start, end, [ip, port, id]...]", shape_ok, detail[0] ? detail : show(r));
  int uncovered = 0;
  for (int s = 0; s < 16384; s++) uncovered += owned[s] == 0;
  snprintf(detail, sizeof(detail), "%d uncovered, %d in two ranges", uncovered, overlaps);
  check("... covering slots 0..16383 once", shape_ok && uncovered == 0 && overlaps == 0, detail);
  snprintf(detail, sizeof(detail), "%d unknown ports, %d bad ids", strangers, bad_ids);
  check("... each node a member, with a 40-hex-digit id", shape_ok && strangers == 0 && bad_ids == 0, detail);
  freeReplyObject(r);
  expect_int("CLUSTER KEYSLOT foo (Redis: 12182)", cmd(rd, "CLUSTER KEYSLOT foo"), 12182);
  expect_int("CLUSTER KEYSLOT {foo}.bar: the tag's", cmd(rd, "CLUSTER KEYSLOT {foo}.bar"), 12182);
}

/* The protocol: Debian's hiredis (0.14) reads RESP2 only (no map, set, double...: a reply
 * after HELLO 3 would fail its parser), so it checks HELLO 2's RESP2 shape, a flat array of
 * field, value pairs, and that the connection stays RESP2. */
static void hello2(redisContext *w, redisContext *rd) {
  (void)w;
  redisReply *r = cmd(rd, "HELLO 2");
  int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 14;
  long long proto = -1;
  for (size_t i = 0; ok && i + 1 < r->elements; i += 2)
    if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, "proto") == 0 &&
        r->element[i + 1]->type == REDIS_REPLY_INTEGER)
      proto = r->element[i + 1]->integer;
  check("HELLO 2: seven field, value pairs in a flat array, proto 2", ok && proto == 2, show(r));
  freeReplyObject(r);
  expect_status("the next reply still RESP2", cmd(rd, "PING"), "PONG");
}

typedef void (*family_fn)(redisContext *w, redisContext *rd);
static const struct {
  const char *name;
  family_fn fn;
} FAMILIES[] = {
    {"strings", strings}, {"counters", counters}, {"sets", sets},           {"hashes", hashes},
    {"sorted sets", zsets}, {"lists", lists},     {"expiry", expiry},       {"pipelining", pipelined},
    {"errors", errors},   {"binary-safe", binary},  {"SCAN cursor loop", scan_loop}, {"CLUSTER SLOTS", cluster_slots},
    {"HELLO 2", hello2},  {"transactions", transactions},
};

static redisContext *connect_to(const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof(host)) return NULL;
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = 0;
  struct timeval tv = {20, 0};
  redisContext *c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
  if (!c || c->err) {
    printf("FAILED: connect to %s: %s\n", addr, c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv); /* a lost reply fails its check instead of hanging the test */
  return c;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s HOST:PORT [HOST:PORT...]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(prefix, sizeof(prefix), "hr%ld:", (long)getpid());
  for (int i = 1; i < argc && nmember_ports < 16; i++) {
    const char *colon = strrchr(argv[i], ':');
    if (colon) member_ports[nmember_ports++] = atoi(colon + 1);
  }
  redisContext *w = connect_to(argv[1]);
  redisContext *rd = connect_to(argv[argc > 2 ? 2 : 1]);
  if (!w || !rd) return 1;
  for (size_t i = 0; i < sizeof(FAMILIES) / sizeof(FAMILIES[0]); i++) {
    family = FAMILIES[i].name;
    printf("== %s\n", family);
    FAMILIES[i].fn(w, rd);
    if (w->err || rd->err) {
      check("connections still up", 0, w->err ? w->errstr : rd->errstr);
      break;
    }
  }
  redisFree(w);
  redisFree(rd);
  printf("hiredis: %d checks, %d failed\n", nchecks, nfailed);
  return nfailed || !nchecks ? 1 : 0;
}
