/* churn.c: --experiment churn-types, issue 16's "state stays small" under churn.
 *
 * For each of a set, a sorted set and a hash: R = 3 replicas of one key, each an object
 * (core/object.h) written by the typed commands themselves (core/typed.h: SADD/SREM,
 * ZADD/ZINCRBY/ZREM, HSET/HINCRBY/HDEL) as a coordinator would, with the replica's
 * actor. For one hour of simulated time:
 *   - every 100 ms one up replica adds or removes one of M = 50 members (about 36,000
 *     writes per type: each member is added and removed hundreds of times);
 *   - every second each up replica merges one peer it can reach (anti-entropy);
 *   - every 5 minutes, half the time, a partition splits the replicas for 1-3 minutes;
 *   - about every 7 minutes a replica crashes and restarts 10-60 s later with a new
 *     actor (as a node takes a new incarnation after a crash), keeping what it had.
 * After the hour every replica merges every other. Every simulated minute the encoded
 * size (dyna_obj_encode) of every replica is sampled. The bound the state must stay
 * under depends on members and actors only, never on the number of writes:
 *     64 + 12 A + M (10 + 28 A)   bytes
 * (A = actors ever, M members of 8 bytes: the context holds one entry of at most 12
 * bytes per actor; an element its key and at most one dotted value and one contribution
 * per actor, each under 14 bytes; a removed element leaves nothing, or its contributions
 * and one residue). Pure computation over the core: no network, no disks.
 */
#include "core/crdt.h"
#include "core/object.h"
#include "core/typed.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "util/alloc.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CH_R 3
#define CH_M 50
#define CH_HOUR_MS 3600000ull

typedef struct ch_rep {
  dyna_obj_t o;
  uint64_t actor;
  int up;
  uint64_t back_at;
  uint32_t grp;
} ch_rep_t;

static void run_cmd(ch_rep_t *r, uint64_t now_ms, uint64_t *rng, const char *name, const char *key,
                    const char *a2, const char *a3) {
  const uint8_t *argv[4];
  size_t argl[4];
  const char *s[4] = {name, key, a2, a3};
  size_t n = a3 ? 4 : a2 ? 3 : 2;
  for (size_t j = 0; j < n; j++) {
    argv[j] = (const uint8_t *)s[j];
    argl[j] = strlen(s[j]);
  }
  const dyna_typed_cmd_t *c = dyna_typed_find(argv[0], argl[0]);
  if (!c || !c->write) abort();
  dyna_targs_t a = {n, argv, argl};
  dyna_tenv_t env = {r->actor, now_ms, sim_rng_next(rng), DYNA_RESP2, 0};
  dyna_buf_t resp = DYNA_BUF_INIT;
  int changed = 0;
  if (c->write(&r->o, &a, &env, &resp, &changed)) abort();
  dyna_buf_free(&resp);
}

static size_t enc_size(const dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_encode(o, &b);
  size_t n = b.len;
  dyna_buf_free(&b);
  return n;
}

/* One type's hour; prints its row. Returns 0 when the state stayed under the bound. */
static int churn_type(uint64_t seed, int type) {
  static const char *tname[] = {"set", "zset", "hash"};
  uint64_t rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)type + 1;
  ch_rep_t rep[CH_R];
  uint64_t next_actor = 1;
  for (int i = 0; i < CH_R; i++) {
    dyna_obj_init(&rep[i].o);
    rep[i].actor = (sim_rng_next(&rng) & ~0xFFFFull) | next_actor++;
    rep[i].up = 1;
    rep[i].grp = 0;
  }
  uint32_t actors = CH_R, crashes = 0, partitions = 0;
  uint64_t writes = 0, heal_at = 0, next_crash = 300000 + sim_rng_below(&rng, 240000);
  size_t mx = 0, first_min = 0, sizes[61];
  uint32_t nsz = 0;
  const char *key = "churn";
  for (uint64_t t = 0; t <= CH_HOUR_MS; t += 100) {
    uint64_t wall = SIM_WALL_EPOCH_MS + t;
    /* faults */
    if (t && t % 300000 == 0 && !heal_at && sim_rng_chance(&rng, 0.5)) {
      for (int i = 0; i < CH_R; i++) rep[i].grp = (uint32_t)sim_rng_below(&rng, 2);
      heal_at = t + 60000 + sim_rng_below(&rng, 120000);
      partitions++;
    }
    if (heal_at && t >= heal_at) {
      for (int i = 0; i < CH_R; i++) rep[i].grp = 0;
      heal_at = 0;
    }
    if (t >= next_crash) {
      int i = (int)sim_rng_below(&rng, CH_R);
      if (rep[i].up) {
        rep[i].up = 0;
        rep[i].back_at = t + 10000 + sim_rng_below(&rng, 50000);
        crashes++;
      }
      next_crash = t + 300000 + sim_rng_below(&rng, 240000);
    }
    for (int i = 0; i < CH_R; i++)
      if (!rep[i].up && t >= rep[i].back_at) {
        rep[i].up = 1;
        rep[i].actor = (sim_rng_next(&rng) & ~0xFFFFull) | next_actor++; /* a new incarnation */
        actors++;
      }
    /* one write */
    int i = (int)sim_rng_below(&rng, CH_R);
    if (rep[i].up) {
      char m[16], num[24];
      snprintf(m, sizeof(m), "member%02u", (unsigned)sim_rng_below(&rng, CH_M));
      snprintf(num, sizeof(num), "%u", (unsigned)sim_rng_below(&rng, 1000));
      int add = sim_rng_chance(&rng, 0.55), inc = sim_rng_chance(&rng, 0.3);
      if (type == 0) run_cmd(&rep[i], wall, &rng, add ? "sadd" : "srem", key, m, NULL);
      else if (type == 1) run_cmd(&rep[i], wall, &rng, add ? (inc ? "zincrby" : "zadd") : "zrem", key, add ? num : m, add ? m : NULL);
      else run_cmd(&rep[i], wall, &rng, add ? (inc ? "hincrby" : "hset") : "hdel", key, m, add ? num : NULL);
      writes++;
    }
    /* anti-entropy: each up replica pulls one reachable peer every second */
    if (t % 1000 == 0)
      for (int a = 0; a < CH_R; a++) {
        int b = (int)sim_rng_below(&rng, CH_R);
        if (a != b && rep[a].up && rep[b].up && rep[a].grp == rep[b].grp && dyna_obj_merge(&rep[a].o, &rep[b].o)) abort();
      }
    if (t % 60000 == 0) {
      size_t worst = 0;
      for (int a = 0; a < CH_R; a++) {
        size_t s = enc_size(&rep[a].o);
        if (s > worst) worst = s;
      }
      if (worst > mx) mx = worst;
      if (t == 60000) first_min = worst;
      if (nsz < 61) sizes[nsz++] = worst;
    }
  }
  for (int a = 0; a < CH_R; a++)
    for (int b = 0; b < CH_R; b++)
      if (a != b && dyna_obj_merge(&rep[a].o, &rep[b].o)) abort();
  size_t fin = enc_size(&rep[0].o);
  int equal = dyna_obj_equal(&rep[0].o, &rep[1].o) && dyna_obj_equal(&rep[0].o, &rep[2].o);
  size_t bound = 64 + 12 * (size_t)actors + (size_t)CH_M * (10 + 28 * (size_t)actors);
  printf("churn-types %s: members %u actors %u writes %" PRIu64 " crashes %u partitions %u: "
         "size at 1 min %zu, 10 min %zu, 30 min %zu, 60 min %zu, final (merged) %zu, max %zu bytes, "
         "bound %zu bytes%s\n",
         tname[type], CH_M, actors, writes, crashes, partitions, first_min,
         nsz > 10 ? sizes[10] : 0, nsz > 30 ? sizes[30] : 0, nsz > 60 ? sizes[60] : 0, fin, mx,
         bound, equal ? "" : " (replicas differ after the final merges!)");
  for (int a = 0; a < CH_R; a++) dyna_obj_clear(&rep[a].o);
  return mx <= bound && equal ? 0 : 1;
}

int sim_experiment_churn_types(uint64_t seed) {
  int rc = 0;
  for (int t = 0; t < 3; t++) rc |= churn_type(seed, t);
  return rc;
}
