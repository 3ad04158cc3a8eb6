/* cmd_typed.c: every typed command (core/typed.h: counters, sets, hashes, sorted sets,
 * lists, expiry and key queries) through one handler. The command is resolved once here
 * with dyna_typed_find; then
 *
 *   write  one DYNA_OP_TYPED request carrying the arguments: the coordinator runs the
 *          command on its local object and the answer it made comes back in the reply
 *          (SLOT_TWRITE copies it to the client);
 *   read   one quorum GET of the key: when the merged object arrives, the command's read
 *          runs over it here (SLOT_TREAD), with dynad's wall clock and a PRNG of its own.
 *
 * A command whose family has no function yet answers Redis's unknown-command error.
 * OBJECT's key is its argument 2: the key position comes from the command's row.
 *
 * Commands of several keys are SLOT_STEPs (conn.h): a quorum GET of every key (any
 * partitions: each read is its own request, as MGET's), then, over the merged objects:
 *
 *   SINTER SUNION SDIFF SINTERCARD   dyna_typed_set_combine answers; nothing written.
 *   SINTERSTORE SUNIONSTORE SDIFFSTORE dst src..  the result is computed here and
 *          written to dst as the internal typed write `dyna.sstore dst member...`
 *          (typed_set.h): dst's coordinator replaces what it observed with it.
 *   SMOVE src dst m   when m is in src: SADD dst m, then SREM src m (dst first: a
 *          failure between the two leaves m in both sets, never in neither).
 *   ZRANGESTORE dst src min max [opts]  the range of src is computed here and written to
 *          dst as the internal typed write `dyna.zstore dst score member...` (typed_zset.h),
 *          as S*STORE does.
 *   LMOVE src dst wf wt, RPOPLPUSH src dst   the pop on src, then the push of the
 *          popped element on dst (a failure between the two loses that element).
 *
 * The writes are separate replicated writes, not atomic together; the keys need not
 * share a partition (docs/compatibility.md). */
#include "runtime/cmd_table.h"
#include "core/cluster.h"
#include "core/keyspace.h"
#include "core/typed.h"
#include "core/typed_set.h"
#include "core/typed_zset.h"
#include "core/crdt_ops.h"
#include "util/assert.h"
#include "proto/resp.h"
#include "proto/wire.h"
#include "proto/words.h"
#include "util/alloc.h"
#include "util/err.h"
#include <stdio.h>
#include <unistd.h>

static void unknown(conn_t *c, const dyna_args_t *a) {
  char name[64], line[192];
  size_t n = dyna_arg_len(a, 0) < sizeof(name) - 1 ? dyna_arg_len(a, 0) : sizeof(name) - 1;
  memcpy(name, dyna_arg(a, 0), n);
  name[n] = 0;
  snprintf(line, sizeof(line), DYNA_WORD_ERR " unknown command '%s', with args beginning with: ", name);
  for (size_t i = 1; i < a->argc && strlen(line) + 8 < sizeof(line); i++) {
    size_t l = strlen(line);
    int w = (int)(dyna_arg_len(a, i) < 40 ? dyna_arg_len(a, i) : 40);
    snprintf(line + l, sizeof(line) - l, "'%.*s' ", w, (const char *)dyna_arg(a, i));
  }
  dyna_conn_answer_error(c, line);
}

/* The env of a command run here: dynad's wall clock, its PRNG, the client's protocol
 * (proto: the connection's, or the one its slot kept). */
static dyna_tenv_t env_now(dyna_server_t *s, int proto) {
  if (!s->trand) s->trand = dyna_server_time(s).wall_ms ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
  dyna_tenv_t env = {0, dyna_server_time(s).wall_ms, dyna_typed_next_rand(&s->trand), proto, 0};
  return env;
}

/* Refuses (answered) an empty or oversized key argument i. */
static int key_refused(conn_t *c, const dyna_args_t *a, size_t i) {
  if (dyna_arg_len(a, i) <= DYNA_MAX_KEY_BYTES && dyna_arg_len(a, i)) return 0;
  dyna_conn_answer_error(c, dyna_arg_len(a, i) ? DYNA_WORD_TOOBIG " key too large" : DYNA_WORD_ERR " empty key");
  return 1;
}

/* A read with no key (OBJECT HELP): run over an empty object, answered now. */
static void keyless_read(dyna_server_t *s, conn_t *c, const dyna_typed_cmd_t *cmd, const dyna_args_t *a,
                         const uint8_t **argv, const size_t *argl) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t env = env_now(s, c->proto);
  dyna_targs_t args = {a->argc, argv, argl};
  dyna_buf_t *out = dyna_conn_answer_now(c);
  size_t mark = out->len;
  if (cmd->read(&o, &args, &env, out)) {
    out->len = mark;
    dyna_resp_put_error(out, DYNA_ERR_OOM);
  }
  dyna_obj_clear(&o);
}

static void multi(dyna_server_t *s, conn_t *c, const dyna_args_t *a, uint32_t code);
static uint32_t multi_code(const dyna_args_t *a);

void dyna_cmd_typed(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  uint32_t code = multi_code(a);
  if (code) { multi(s, c, a, code); return; }
  const dyna_typed_cmd_t *cmd = dyna_typed_find(dyna_arg(a, 0), dyna_arg_len(a, 0));
  if (!cmd || (!cmd->write && !cmd->read)) { unknown(c, a); return; }
  /* The key's position: the row's (a container's: its sub-row's); 0 for none. */
  size_t kp = 1;
  const dyna_cmd_t *row = dyna_cmd_lookup(dyna_arg(a, 0), dyna_arg_len(a, 0));
  if (row && row->subs && a->argc > 1) row = dyna_cmd_sub_lookup(row, dyna_arg(a, 1), dyna_arg_len(a, 1));
  if (row) kp = (size_t)row->first_key;
  DYNA_ASSERT(kp == 1 || !cmd->write, "typed write '%s' with its key at %zu", cmd->name, kp);
  if (kp && (kp >= a->argc || key_refused(c, a, kp))) {
    if (kp >= a->argc) dyna_conn_answer_error(c, DYNA_WORD_ERR " syntax error");
    return;
  }
  /* The arguments as the core wants them: pointers and lengths. */
  const uint8_t **argv;
  const size_t *argl = a->l;
  if (dyna_args_pointers(a, &argv)) {
    dyna_conn_answer_error(c, DYNA_ERR_OOM);
    return;
  }
  if (!kp) {
    keyless_read(s, c, cmd, a, argv, argl);
    dyna_free(argv);
    return;
  }
  slot_t *slot = dyna_cmd_slot_open(s, c, cmd->write ? SLOT_TWRITE : SLOT_TREAD, 1);
  if (slot) {
    dyna_req_t req;
    if (cmd->write) {
      dyna_cmd_key_req(&req, DYNA_OP_TYPED, a, 1);
      if (c->proto == DYNA_RESP3) req.flags |= DYNA_REQ_RESP3; /* the answer's shape */
      req.cmd = cmd;
      req.argc = a->argc;
      req.argv = argv;
      req.argl = argl;
    } else {
      dyna_cmd_key_req(&req, DYNA_OP_GET, a, kp);
      slot->tcmd = cmd;
      dyna_wire_put_args(&slot->targs, a->argc, argv, argl);
    }
    if (slot->targs.oom) {
      dyna_node_reply_t r;
      memset(&r, 0, sizeof(r));
      dyna_node_reply_fail(&r, DYNA_ENOMEM, NULL);
      dyna_cmd_complete(s, c, slot, 0, &r);
    } else {
      dyna_cmd_submit(s, c, slot, 0, &req);
    }
  }
  dyna_free(argv);
}

/* A typed read's answer: the command's read over the merged object in r. */
void dyna_cmd_typed_read(dyna_server_t *s, slot_t *slot, const dyna_node_reply_t *r) {
  size_t argc = dyna_wire_args_count(slot->targs.data, slot->targs.len);
  const uint8_t **argv = argc ? dyna_malloc(argc * sizeof(*argv)) : NULL;
  size_t *argl = argc ? dyna_malloc(argc * sizeof(*argl)) : NULL;
  int rc = !argv || !argl ? DYNA_ENOMEM : dyna_wire_get_args(slot->targs.data, slot->targs.len, argc, argv, argl);
  if (!rc) {
    dyna_tenv_t env = env_now(s, slot->proto);
    dyna_targs_t args = {argc, argv, argl};
    size_t mark = slot->out.len;
    dyna_typed_read_fn fn = slot->tcmd->read;
    rc = fn(&r->obj, &args, &env, &slot->out);
    if (rc) slot->out.len = mark;
  }
  if (rc) dyna_resp_put_status_error(&slot->out, rc, NULL);
  dyna_free(argv);
  dyna_free(argl);
}

/* ---------- commands of several keys ---------- */

/* slot->opt: the command (low byte), LMOVE's ends, a read that could not be kept. */
enum { MK_SINTER = 1, MK_SUNION, MK_SDIFF, MK_SINTERCARD, MK_SINTERSTORE, MK_SUNIONSTORE, MK_SDIFFSTORE,
       MK_SMOVE, MK_LMOVE, MK_ZRANGESTORE };
#define MK_FROM_RIGHT 0x100u
#define MK_TO_RIGHT 0x200u
#define MK_LOST 0x400u

static uint32_t multi_code(const dyna_args_t *a) {
  static const char *const names[] = {NULL, "sinter", "sunion", "sdiff", "sintercard", "sinterstore",
                                      "sunionstore", "sdiffstore", "smove", "lmove", "zrangestore"};
  for (uint32_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
    if (dyna_arg_is(a, 0, names[i])) return i;
  if (dyna_arg_is(a, 0, "rpoplpush")) return MK_LMOVE | MK_FROM_RIGHT;
  return 0;
}

static dyna_set_op_t set_op(uint32_t code) {
  switch (code) {
  case MK_SUNION:
  case MK_SUNIONSTORE: return DYNA_SET_UNION;
  case MK_SDIFF:
  case MK_SDIFFSTORE: return DYNA_SET_DIFF;
  default: return DYNA_SET_INTER;
  }
}

/* Submits the typed write argv (argv[1] its key) as request nkeys + i of slot. */
static void step_typed(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t i, size_t argc,
                       const uint8_t *const *argv, const size_t *argl) {
  uint32_t sub = slot->nkeys + i;
  DYNA_ASSERT(i < slot->nkeys && slot->subst[sub] == SUB_IDLE && argc >= 2,
              "typed write %u of step slot %p: state %d, argc %zu", i, (void *)slot,
              i < slot->nkeys ? slot->subst[sub] : -1, argc);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = DYNA_OP_TYPED;
  req.key = argv[1];
  req.klen = argl[1];
  req.cmd = dyna_typed_find(argv[0], argl[0]);
  req.argc = argc;
  req.argv = argv;
  req.argl = argl;
  slot->subst[sub] = SUB_SENT;
  dyna_cmd_submit(s, c, slot, sub, &req);
}

static void skip_writes(slot_t *slot, uint32_t except) {
  for (uint32_t i = 0; i < slot->nkeys; i++)
    if (i != except && slot->subst[slot->nkeys + i] == SUB_IDLE) dyna_cmd_step_skip(slot, slot->nkeys + i);
}

static void fail_oom(slot_t *slot) {
  dyna_buf_reset(&slot->out);
  slot->out.oom = 0;
  dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
  slot->err_set = 1;
}

/* A typed write's answer that is an error (WRONGTYPE, ...) replaces the slot's answer. */
static int answered_error(slot_t *slot, const dyna_node_reply_t *r) {
  if (!r->resp.len || r->resp.data[0] != '-') return 0;
  dyna_buf_reset(&slot->out);
  dyna_buf_put(&slot->out, r->resp.data, r->resp.len);
  return 1;
}

/* Every key read: answer, or submit the first write. */
static void after_reads(dyna_server_t *s, conn_t *c, slot_t *slot) {
  uint32_t n = slot->nkeys, code = slot->opt & 0xffu;
  if (!slot->err_set && (slot->opt & MK_LOST)) fail_oom(slot);
  if (slot->err_set) { skip_writes(slot, UINT32_MAX); return; }
  dyna_obj_t *objs = dyna_calloc(n, sizeof(*objs));
  const dyna_obj_t **po = dyna_calloc(n, sizeof(*po));
  int rc = objs && po ? 0 : DYNA_ENOMEM;
  for (uint32_t i = 0; objs && i < n; i++) dyna_obj_init(&objs[i]);
  for (uint32_t i = 0; !rc && i < n; i++) {
    rc = dyna_obj_decode(slot->parts[i].data, slot->parts[i].len, &objs[i]);
    po[i] = &objs[i];
  }
  dyna_tenv_t env = env_now(s, slot->proto);
  dyna_buf_t *out = &slot->out;
  uint32_t go = UINT32_MAX; /* the write submitted now, if any */
  const uint8_t *wv[3];
  size_t wl[3], kl0;
  const uint8_t **argv = NULL;
  size_t *argl = NULL, k = 0;
  char *text = NULL; /* ZRANGESTORE's score texts */
  if (rc) goto done;
  switch (code) {
  case MK_SINTER:
  case MK_SUNION:
  case MK_SDIFF: rc = dyna_typed_set_combine(po, n, set_op(code), 0, 0, &env, out); break;
  case MK_SINTERCARD:
    rc = dyna_typed_set_combine(po, n, DYNA_SET_INTER, 1, (uint64_t)slot->n1, &env, out);
    break;
  case MK_SINTERSTORE:
  case MK_SUNIONSTORE:
  case MK_SDIFFSTORE:
    /* keys: dst, then the sources (dst's own read is not used: its coordinator's
     * object is what the write supersedes). */
    rc = dyna_typed_set_members(po + 1, n - 1, set_op(code), &env, out, 2, &argv, &argl, &k);
    if (rc || !argv) break;
    argv[0] = (const uint8_t *)"dyna.sstore";
    argl[0] = 11;
    argv[1] = dyna_step_arg(slot, 0, &argl[1]);
    go = 0;
    break;
  case MK_ZRANGESTORE: {
    /* The command as the client gave it (every argument is kept), for the parser. */
    size_t na = slot->nkeep + 1;
    const uint8_t **av = dyna_malloc(na * sizeof(*av));
    size_t *al = dyna_malloc(na * sizeof(*al));
    if (!av || !al) {
      dyna_free(av);
      dyna_free(al);
      rc = DYNA_ENOMEM;
      break;
    }
    av[0] = (const uint8_t *)"zrangestore";
    al[0] = 11;
    for (uint32_t i = 0; i < slot->nkeep; i++) av[1 + i] = dyna_step_arg(slot, i, &al[1 + i]);
    dyna_targs_t za = {na, av, al};
    rc = dyna_typed_zrange_members(po[1], &za, &env, out, 2, &argv, &argl, &k, &text);
    dyna_free(av);
    dyna_free(al);
    if (rc || !argv) break;
    argv[0] = (const uint8_t *)"dyna.zstore";
    argl[0] = 11;
    argv[1] = dyna_step_arg(slot, 0, &argl[1]);
    k *= 2; /* (score, member) pairs */
    go = 0;
    break;
  }
  case MK_SMOVE: {
    wv[1] = dyna_step_arg(slot, 1, &wl[1]);
    wv[2] = dyna_step_arg(slot, 2, &wl[2]);
    if (dyna_obj_kind(po[0], env.now_ms) == DYNA_KIND_NONE) { dyna_resp_put_int(out, 0); break; }
    if (!dyna_typed_kind_ok(po[0], DYNA_KIND_SET, &env, out) || !dyna_typed_kind_ok(po[1], DYNA_KIND_SET, &env, out))
      break;
    const dyna_crdt_t *st = dyna_typed_read_state(po[0], DYNA_CRDT_SET, &env);
    int in = st && dyna_crdt_sismember(st, wv[2], wl[2]);
    const uint8_t *k0 = dyna_step_arg(slot, 0, &kl0);
    if (!in || (kl0 == wl[1] && !memcmp(k0, wv[1], kl0))) { dyna_resp_put_int(out, in); break; }
    wv[0] = (const uint8_t *)"sadd"; /* dst first: never in neither set */
    wl[0] = 4;
    go = 1;
    break;
  }
  case MK_LMOVE: {
    if (dyna_obj_kind(po[0], env.now_ms) == DYNA_KIND_NONE) { dyna_resp_put_null(out, env.proto); break; }
    if (!dyna_typed_kind_ok(po[0], DYNA_KIND_LIST, &env, out) || !dyna_typed_kind_ok(po[1], DYNA_KIND_LIST, &env, out))
      break;
    int right = (slot->opt & MK_FROM_RIGHT) != 0;
    wv[0] = (const uint8_t *)(right ? "rpop" : "lpop");
    wl[0] = 4;
    wv[1] = dyna_step_arg(slot, 0, &wl[1]);
    go = 0;
    break;
  }
  default: DYNA_ASSERT(0, "multi-key step slot with command %u", code);
  }
done:
  if (rc) {
    fail_oom(slot);
    go = UINT32_MAX;
  }
  /* SMOVE and LMOVE make their second write (or skip it) when the first answers. */
  if (go == UINT32_MAX || (code != MK_SMOVE && code != MK_LMOVE)) skip_writes(slot, go);
  if (go != UINT32_MAX) {
    if (argv) step_typed(s, c, slot, go, k + 2, argv, argl);
    else step_typed(s, c, slot, go, code == MK_SMOVE ? 3 : 2, wv, wl);
  }
  dyna_free(argv);
  dyna_free(argl);
  dyna_free(text);
  for (uint32_t i = 0; objs && i < n; i++) dyna_obj_clear(&objs[i]);
  dyna_free(objs);
  dyna_free(po);
}

/* Parses the bulk string a pop answered: 1 and (*p, *len), or 0 (nil or not a bulk). */
static int popped(const dyna_buf_t *b, const uint8_t **p, size_t *len) {
  if (b->len < 4 || b->data[0] != '$' || b->data[1] == '-') return 0;
  size_t n = 0, i = 1;
  for (; i < b->len && b->data[i] >= '0' && b->data[i] <= '9'; i++) n = n * 10 + (size_t)(b->data[i] - '0');
  if (i + 2 + n > b->len || b->data[i] != '\r') return 0;
  *p = b->data + i + 2;
  *len = n;
  return 1;
}

/* Write i answered (SMOVE's SADD then SREM; LMOVE's pop then push). */
static void after_write(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t i, const dyna_node_reply_t *r) {
  uint32_t code = slot->opt & 0xffu;
  int failed = slot->err_set || answered_error(slot, r);
  if (code == MK_SMOVE && i == 1) {
    if (failed) { dyna_cmd_step_skip(slot, slot->nkeys); return; }
    const uint8_t *wv[3];
    size_t wl[3];
    wv[0] = (const uint8_t *)"srem";
    wl[0] = 4;
    wv[1] = dyna_step_arg(slot, 0, &wl[1]);
    wv[2] = dyna_step_arg(slot, 2, &wl[2]);
    step_typed(s, c, slot, 0, 3, wv, wl);
  } else if (code == MK_SMOVE) {
    if (!failed) dyna_resp_put_int(&slot->out, 1); /* in dst, and no longer in src */
  } else if (code == MK_LMOVE && i == 0) {
    const uint8_t *wv[3];
    size_t wl[3];
    if (failed || !popped(&r->resp, &wv[2], &wl[2])) { /* an error, or src emptied meanwhile */
      if (!failed) dyna_resp_put_null(&slot->out, slot->proto);
      dyna_cmd_step_skip(slot, slot->nkeys + 1);
      return;
    }
    dyna_resp_put_bulk(&slot->out, wv[2], wl[2]);
    wv[0] = (const uint8_t *)((slot->opt & MK_TO_RIGHT) ? "rpush" : "lpush");
    wl[0] = 5;
    wv[1] = dyna_step_arg(slot, 1, &wl[1]);
    step_typed(s, c, slot, 1, 3, wv, wl);
  } else if (!failed && code != MK_LMOVE) {
    dyna_buf_put(&slot->out, r->resp.data, r->resp.len); /* S*STORE: the count stored */
  }
}

static void step_multi(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  uint32_t n = slot->nkeys;
  if (sub >= n) { after_write(s, c, slot, sub - n, r); return; }
  if (!r->status) {
    dyna_obj_encode(&r->obj, &slot->parts[sub]);
    if (slot->parts[sub].oom) slot->opt |= MK_LOST;
  }
  if (slot->ndone == n) after_reads(s, c, slot); /* no write starts before every read */
}

/* Parses LMOVE's LEFT|RIGHT at argument i into bit; -1 when it is neither (answered). */
static int end_arg(conn_t *c, const dyna_args_t *a, size_t i, uint32_t bit, uint32_t *opt) {
  if (dyna_arg_is(a, i, "right")) *opt |= bit;
  else if (!dyna_arg_is(a, i, "left")) { dyna_conn_answer_syntax_error(c, NULL); return -1; }
  return 0;
}

static void multi(dyna_server_t *s, conn_t *c, const dyna_args_t *a, uint32_t code) {
  uint32_t op = code & 0xffu, nkeys = (uint32_t)(a->argc - 1), kfirst = 0;
  int64_t limit = 0;
  if (op == MK_ZRANGESTORE) {
    nkeys = 2; /* dst, src: the options that follow are kept arguments */
  } else if (op == MK_LMOVE) {
    if (!dyna_typed_find((const uint8_t *)"lpop", 4)) { unknown(c, a); return; }
    nkeys = 2;
    if (dyna_arg_is(a, 0, "lmove") &&
        (end_arg(c, a, 3, MK_FROM_RIGHT, &code) || end_arg(c, a, 4, MK_TO_RIGHT, &code)))
      return;
  } else if (op == MK_SMOVE) {
    nkeys = 2;
  } else if (op == MK_SINTERCARD) {
    const uint8_t **argv;
    size_t nk = 0;
    uint64_t lim = 0;
    if (dyna_args_pointers(a, &argv)) {
      dyna_conn_answer_error(c, DYNA_ERR_OOM);
      return;
    }
    dyna_targs_t t = {a->argc, argv, a->l};
    dyna_buf_t err = DYNA_BUF_INIT;
    int bad = dyna_typed_sintercard_args(&t, &nk, &lim, &err);
    dyna_free(argv);
    if (bad) dyna_buf_put(dyna_conn_answer_now(c), err.data, err.len);
    dyna_buf_free(&err);
    if (bad) return;
    nkeys = (uint32_t)nk;
    kfirst = 1;
    limit = (int64_t)lim;
  }
  for (uint32_t i = 0; i < nkeys; i++)
    if (key_refused(c, a, 1 + kfirst + i)) return;
  slot_t *slot = dyna_cmd_step_open(s, c, step_multi, a, nkeys, 1);
  if (!slot) return;
  slot->opt = code;
  slot->kfirst = kfirst;
  slot->n1 = limit;
  dyna_cmd_step_go(s, c, slot);
}
