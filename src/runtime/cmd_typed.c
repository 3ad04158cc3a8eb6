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
 * Commands of more than one key answer Redis Cluster's CROSSSLOT unless every key is in
 * one partition; even then they are refused for now (the single-key path is all there
 * is: see docs/compatibility.md). */
#include "runtime/cmd_table.h"
#include "core/cluster.h"
#include "core/keyspace.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "proto/wire.h"
#include "proto/words.h"
#include "util/alloc.h"
#include "util/err.h"
#include <stdio.h>
#include <unistd.h>

/* The keys of a multi-key typed command, beyond argv[1], as Redis 7 places them; 0 for
 * a single-key command. */
static size_t extra_keys(const dyna_args_t *a, size_t *pos, size_t max) {
  size_t n = 0;
  if (dyna_arg_is(a, 0, "sinter") || dyna_arg_is(a, 0, "sunion") || dyna_arg_is(a, 0, "sdiff")) {
    for (size_t i = 2; i < a->argc && n < max; i++) pos[n++] = i;
  } else if (dyna_arg_is(a, 0, "sinterstore") || dyna_arg_is(a, 0, "sunionstore") ||
             dyna_arg_is(a, 0, "sdiffstore")) {
    for (size_t i = 2; i < a->argc && n < max; i++) pos[n++] = i;
  } else if (dyna_arg_is(a, 0, "smove") || dyna_arg_is(a, 0, "lmove") || dyna_arg_is(a, 0, "rpoplpush") ||
             dyna_arg_is(a, 0, "zrangestore")) {
    if (a->argc > 2 && n < max) pos[n++] = 2;
  }
  return n;
}

static uint32_t partition_of(const dyna_server_t *s, const dyna_args_t *a, size_t i) {
  uint32_t q = dyna_node_cluster(s->node)->ring.size;
  return dyna_hash_partition(dyna_key_hash(dyna_arg(a, i), dyna_arg_len(a, i)), q ? q : 1);
}

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
  dyna_reply_error(c, line);
}

void dyna_cmd_typed(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  size_t pos[64];
  size_t nk = extra_keys(a, pos, sizeof(pos) / sizeof(pos[0]));
  if (nk) {
    uint32_t p = partition_of(s, a, 1);
    for (size_t i = 0; i < nk; i++)
      if (partition_of(s, a, pos[i]) != p) {
        dyna_reply_error(c, "CROSSSLOT Keys in request don't hash to the same slot");
        return;
      }
    dyna_reply_error(c, DYNA_WORD_ERR " commands of more than one key are not supported yet");
    return;
  }
  const dyna_typed_cmd_t *cmd = dyna_typed_find(dyna_arg(a, 0), dyna_arg_len(a, 0));
  if (!cmd || (!cmd->write && !cmd->read)) { unknown(c, a); return; }
  if (dyna_arg_len(a, 1) > DYNA_MAX_KEY_BYTES || !dyna_arg_len(a, 1)) {
    dyna_reply_error(c, dyna_arg_len(a, 1) ? DYNA_WORD_TOOBIG " key too large" : DYNA_WORD_ERR " empty key");
    return;
  }
  /* The arguments as the core wants them: pointers and lengths. */
  const uint8_t **argv = dyna_malloc(a->argc * sizeof(*argv));
  size_t *argl = dyna_malloc(a->argc * sizeof(*argl));
  if (!argv || !argl) {
    dyna_free(argv);
    dyna_free(argl);
    dyna_reply_error(c, DYNA_WORD_ERR " out of memory");
    return;
  }
  for (size_t i = 0; i < a->argc; i++) {
    argv[i] = dyna_arg(a, i);
    argl[i] = dyna_arg_len(a, i);
  }
  slot_t *slot = dyna_cmd_slot_open(s, c, cmd->write ? SLOT_TWRITE : SLOT_TREAD, 1);
  if (slot) {
    dyna_req_t req;
    if (cmd->write) {
      dyna_cmd_key_req(&req, DYNA_OP_TYPED, a, 1);
      req.cmd = cmd;
      req.argc = a->argc;
      req.argv = argv;
      req.argl = argl;
    } else {
      dyna_cmd_key_req(&req, DYNA_OP_GET, a, 1);
      slot->tcmd = cmd;
      dyna_wire_put_args(&slot->targs, a->argc, argv, argl);
    }
    if (slot->targs.oom) {
      dyna_reply_t r;
      memset(&r, 0, sizeof(r));
      dyna_reply_fail(&r, DYNA_ENOMEM, NULL);
      dyna_cmd_complete(s, c, slot, 0, &r);
    } else {
      dyna_cmd_submit(s, c, slot, 0, &req);
    }
  }
  dyna_free(argv);
  dyna_free(argl);
}

/* A typed read's answer: the command's read over the merged object in r. */
void dyna_cmd_typed_read(dyna_server_t *s, slot_t *slot, const dyna_reply_t *r) {
  size_t argc = dyna_wire_args_count(slot->targs.data, slot->targs.len);
  const uint8_t **argv = argc ? dyna_malloc(argc * sizeof(*argv)) : NULL;
  size_t *argl = argc ? dyna_malloc(argc * sizeof(*argl)) : NULL;
  int rc = !argv || !argl ? DYNA_ENOMEM : dyna_wire_get_args(slot->targs.data, slot->targs.len, argc, argv, argl);
  if (!rc) {
    if (!s->trand) s->trand = dyna_server_time(s).wall_ms ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
    dyna_tenv_t env = {0, dyna_server_time(s).wall_ms, dyna_typed_next_rand(&s->trand)};
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
