/* typed.h: the semantics of the typed Redis commands (counters, sets, hashes, sorted
 * sets, lists, expiry and key queries) over an object (core/object.h), shared by the
 * coordinator of a write and by the node that answers a read. In the manner of Redis's
 * t_set.c over its set API, each type's commands live in their own file over that
 * type's API (core/crdt_ops.h):
 *
 *   typed_counter.c  INCR INCRBY DECR DECRBY INCRBYFLOAT (+ GET of a counter: typed_get)
 *   typed_set.c      SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER ...
 *   typed_hash.c     HSET HSETNX HGET HMGET HDEL HGETALL HKEYS HVALS HLEN HEXISTS ...
 *   typed_zset.c     ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK ZRANGE ...
 *   typed_list.c     LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET ...
 *   typed_keys.c     EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PERSIST
 *                    TYPE OBJECT ...
 *   typed_copy.c     DYNA.COPYTO (the write of RENAME, RENAMENX, COPY)
 *
 *   write   client ─▶ any node ─FWD─▶ coordinator (a home replica):
 *           o := its local object (store + hints); fn->write(o, args, env) appends the
 *           RESP answer and says whether o changed; if it did, o is stored and sent to
 *           the other replicas as a merge (PUT), and the answer leaves after W acks.
 *   read    client ─▶ any node: quorum GET (R) ─▶ merged object ─▶ fn->read(o, args,
 *           env) appends the RESP answer.
 *
 * Every function is pure: time (the wall clock, for expiry) and randomness (SPOP,
 * SRANDMEMBER, HRANDFIELD) come in through env. A command's arity was checked by the
 * runtime's table; everything else (syntax, numbers, WRONGTYPE) is checked here and
 * answered with Redis 7's error text in resp, with *changed = 0 (nothing is written).
 *
 * args: argv[0] is the command name, argv[1] the key; the bytes are borrowed for the
 * call. resp: the caller's buffer; functions append exactly one RESP reply, in the
 * client's protocol (env->proto: RESP3's maps, sets, doubles and nulls, or their RESP2
 * forms, through proto/resp.h's shape encoders).
 * Return: 0, or DYNA_ENOMEM (resp and o may hold partial work: the caller discards
 * both and answers the error itself). */
#ifndef DYNA_TYPED_H
#define DYNA_TYPED_H
#include "core/object.h"
#include "proto/resp.h"
#include "proto/words.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct dyna_targs {
  size_t argc;
  const uint8_t *const *argv;
  const size_t *argl;
} dyna_targs_t;

typedef struct dyna_tenv {
  uint64_t actor;   /* the coordinator's actor id for this key's partition (writes) */
  uint64_t now_ms;  /* the wall clock as it is, ms since the epoch: expiry deadlines and
                       whether a key has expired (a deadline is a time, not a stamp) */
  uint64_t rand;    /* a fresh 64-bit random value (SPOP, SRANDMEMBER, HRANDFIELD) */
  int proto;        /* the client's protocol, DYNA_RESP2 or DYNA_RESP3 (proto/resp.h; 0
                       counts as 2): the shape of the answer (maps, sets, doubles, nulls) */
  uint64_t stamp_ms; /* the coordinator's last value stamp (0: none): value stamps are
                        dyna_tenv_stamp(), never below it (core/node.h, "Two clocks") */
} dyna_tenv_t;

/* The stamp of a value this write makes (a string's value, a hash field, a tombstone):
 * max(now_ms, stamp_ms), so that it never goes below the node's last stamp when its wall
 * clock stepped back, while deadlines follow the wall clock as it is. */
static inline uint64_t dyna_tenv_stamp(const dyna_tenv_t *env) {
  return env->stamp_ms > env->now_ms ? env->stamp_ms : env->now_ms;
}

typedef int (*dyna_typed_write_fn)(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                                   dyna_buf_t *resp, int *changed);
typedef int (*dyna_typed_read_fn)(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                                  dyna_buf_t *resp);

/* One typed command: exactly one of write and read is set. arity is Redis's (n: exactly
 * n arguments counting the name, -n: at least n); the functions rely on it, so every
 * caller checks it first (the runtime's table does for clients, dyna_typed_arity_ok
 * for a peer's forwarded command). */
typedef struct dyna_typed_cmd {
  const char *name; /* lower case */
  dyna_typed_write_fn write;
  dyna_typed_read_fn read;
  int arity;
} dyna_typed_cmd_t;

/* 1 when argc arguments (the name included) fit c's arity. */
static inline int dyna_typed_arity_ok(const dyna_typed_cmd_t *c, size_t argc) {
  return c->arity >= 0 ? argc == (size_t)c->arity : argc >= (size_t)-c->arity;
}

/* Each family's commands, ended by a row with name NULL (defined in its file). */
extern const dyna_typed_cmd_t dyna_typed_counter_cmds[];
extern const dyna_typed_cmd_t dyna_typed_set_cmds[];
extern const dyna_typed_cmd_t dyna_typed_hash_cmds[];
extern const dyna_typed_cmd_t dyna_typed_zset_cmds[];
extern const dyna_typed_cmd_t dyna_typed_list_cmds[];
extern const dyna_typed_cmd_t dyna_typed_keys_cmds[];
/* typed_copy.c: DYNA.COPYTO, the write of RENAME, RENAMENX and COPY (no client row) */
extern const dyna_typed_cmd_t dyna_typed_copy_cmds[];

/* GET of any key (typed_counter.c), for the runtime's GET and for GETEX: a string's
 * last written live value (dyna_obj_latest), a counter's value as a bulk string (an
 * integer while its float part is 0, else INCRBYFLOAT's form), nil when the key is
 * absent or expired at env->now_ms, WRONGTYPE for the other types. Returns 0 (a
 * failed append shows as resp->oom). */
int dyna_typed_get(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp);

/* The command named name (any case), or NULL. O(families x rows). */
const dyna_typed_cmd_t *dyna_typed_find(const uint8_t *name, size_t len);

/* ---- helpers shared by the families (typed.c) ------------------------------------ */

#define DYNA_TYPED_WRONGTYPE DYNA_WORD_WRONGTYPE " Operation against a key holding the wrong kind of value"
#define DYNA_TYPED_NOT_INT "ERR value is not an integer or out of range"
#define DYNA_TYPED_NOT_FLOAT "ERR value is not a valid float"
#define DYNA_TYPED_SYNTAX "ERR syntax error"
/* A count of SRANDMEMBER, HRANDFIELD, ZRANDMEMBER outside [-LONG_MAX, LONG_MAX]. */
#define DYNA_TYPED_RANGE_LL                                                                \
  "ERR value is out of range, value must between -9223372036854775807 and "                \
  "9223372036854775807"

/* 1 when the key is absent or of the wanted kind at env->now_ms; otherwise appends
 * WRONGTYPE to resp and returns 0. */
int dyna_typed_kind_ok(const dyna_obj_t *o, dyna_kind_t want, const dyna_tenv_t *env,
                       dyna_buf_t *resp);
/* The key's state of type for a read: NULL when the key is absent or expired (the
 * caller answers as Redis does for a missing key). Call after dyna_typed_kind_ok. */
const dyna_crdt_t *dyna_typed_read_state(const dyna_obj_t *o, uint8_t type, const dyna_tenv_t *env);
/* Parses a whole argument as Redis's string2ll / string2ld do: 0 or -1. */
int dyna_typed_parse_i64(const uint8_t *p, size_t n, int64_t *out);
int dyna_typed_parse_double(const uint8_t *p, size_t n, double *out); /* rejects NaN */
/* Formats d as Redis 7 replies a double (e.g. ZSCORE, INCRBYFLOAT: "%.17g", inf as
 * "inf"/"-inf"); returns the length written (buffer of at least 32 bytes). */
size_t dyna_typed_fmt_double(double d, char *out);
/* Maps a crdt error (DYNA_ETOOBIG, DYNA_ERANGE, DYNA_EINVAL) to its RESP error in resp;
 * returns DYNA_ENOMEM unchanged (the caller's to report) and 0 otherwise. */
int dyna_typed_error(int rc, dyna_buf_t *resp);
/* The next random value from *state (splitmix64), for env->rand-seeded draws. */
uint64_t dyna_typed_next_rand(uint64_t *state);

/* The most one typed reply may grow to while it is built (the default --max-output-bytes):
 * SRANDMEMBER, HRANDFIELD and ZRANDMEMBER with a negative count draw with repetition,
 * so a count of -10^12 would otherwise build a reply until memory runs out. */
#define DYNA_TYPED_REPLY_MAX (64u << 20)
#define DYNA_TYPED_REPLY_BIG "ERR reply too large: a count this big would build more than 64 MiB"
/* 1 when the reply built in resp since length start is over DYNA_TYPED_REPLY_MAX: it is
 * dropped and DYNA_TYPED_REPLY_BIG answered instead (the caller stops); else 0. */
int dyna_typed_reply_over(dyna_buf_t *resp, size_t start);

#endif
