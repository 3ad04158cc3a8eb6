/* fuzz_typed.c: libFuzzer target for the typed commands (core/typed*.c) on untrusted
 * arguments: a client's command reaches them after only the table's arity check, and a
 * peer's forwarded command after none.
 *
 * Input: a command as arguments, each "u8 length, bytes" (at most 8 arguments, the
 * first naming the command: an index into the families' rows, so that every command is
 * reached; commands whose arity the arguments do not fit are skipped, as every caller
 * refuses them: dyna_typed_arity_ok), applied to a key that earlier commands of the same input built up. Every
 * write and read must append exactly one well-formed RESP reply, never crash, and leave
 * an object that re-encodes canonically (decode(encode(o)) == o); a write that says it
 * changed nothing must leave the object's bytes as they were, and a write's result must
 * hold all of its input (merging the input into it changes nothing: a replica holding
 * the input stores the result as it comes, core/replica.h). */
#include "core/typed.h"
#include "proto/resp.h"
#include "util/buf.h"
#include "util/err.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) \
  do {           \
    if (!(x)) abort(); \
  } while (0)

static const dyna_typed_cmd_t *const FAMILIES[] = {
    dyna_typed_counter_cmds, dyna_typed_set_cmds,  dyna_typed_hash_cmds,
    dyna_typed_zset_cmds,    dyna_typed_list_cmds, dyna_typed_keys_cmds,
};

/* The idx-th command of all families (wrapping). */
static const dyna_typed_cmd_t *nth_cmd(uint8_t idx) {
  size_t total = 0;
  for (size_t f = 0; f < sizeof(FAMILIES) / sizeof(FAMILIES[0]); f++)
    for (const dyna_typed_cmd_t *c = FAMILIES[f]; c->name; c++) total++;
  if (!total) return NULL;
  size_t want = idx % total;
  for (size_t f = 0; f < sizeof(FAMILIES) / sizeof(FAMILIES[0]); f++)
    for (const dyna_typed_cmd_t *c = FAMILIES[f]; c->name; c++)
      if (want-- == 0) return c;
  return NULL;
}

/* b holds exactly one whole, well-formed RESP reply. */
static void check_reply(const dyna_buf_t *b) {
  CHECK(!b->oom && b->len > 0);
  dyna_resp_limits_t lim = {0};
  lim.max_bulk = 1u << 30;
  lim.max_args = 1u << 24;
  lim.max_depth = 4;
  lim.max_inline = 1u << 16;
  dyna_resp_value_t v;
  size_t used = 0;
  CHECK(dyna_resp_parse_reply(&lim, b->data, b->len, &v, &used) == 0);
  CHECK(used == b->len);
  dyna_resp_value_free(&v);
}

static void encoded(const dyna_obj_t *o, dyna_buf_t *out) {
  dyna_buf_reset(out);
  dyna_obj_encode(o, out);
  CHECK(!out->oom);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_buf_t before = DYNA_BUF_INIT, after = DYNA_BUF_INIT, resp = DYNA_BUF_INIT;
  size_t off = 0;
  uint64_t step = 0;
  while (off + 2 <= size && step < 16) {
    const dyna_typed_cmd_t *cmd = nth_cmd(data[off++]);
    uint8_t nargs = data[off++] % 7;
    const uint8_t *argv[8];
    size_t argl[8];
    argv[0] = (const uint8_t *)(cmd ? cmd->name : "x");
    argl[0] = strlen((const char *)argv[0]);
    argv[1] = (const uint8_t *)"key";
    argl[1] = 3;
    size_t argc = 2;
    for (uint8_t i = 0; i < nargs && off < size; i++) {
      size_t n = data[off++] % 24;
      if (n > size - off) n = size - off;
      argv[argc] = data + off;
      argl[argc] = n;
      argc++;
      off += n;
    }
    if (!cmd) break;
    if (!dyna_typed_arity_ok(cmd, argc)) continue; /* refused before the families */
    dyna_targs_t a = {argc, argv, argl};
    dyna_tenv_t env = {1 + (step % 3), 1000000 + step * 1000, step * 0x9e3779b97f4a7c15ull, DYNA_RESP2, 0};
    dyna_buf_reset(&resp);
    encoded(&o, &before);
    if (cmd->write) {
      int changed = 0;
      dyna_obj_t w;
      dyna_obj_init(&w);
      CHECK(dyna_obj_copy(&w, &o) == 0);
      int rc = cmd->write(&w, &a, &env, &resp, &changed);
      CHECK(rc == 0);
      check_reply(&resp);
      encoded(&w, &after);
      if (!changed) CHECK(after.len == before.len && !memcmp(after.data, before.data, after.len));
      dyna_obj_t m;
      dyna_obj_init(&m);
      CHECK(dyna_obj_copy(&m, &w) == 0);
      CHECK(dyna_obj_merge(&m, &o) == 0);
      CHECK(dyna_obj_equal(&m, &w));
      dyna_obj_clear(&m);
      /* canonical: what it encodes to decodes back to the same bytes */
      dyna_obj_t d;
      dyna_obj_init(&d);
      CHECK(dyna_obj_decode(after.data, after.len, &d) == 0);
      dyna_buf_t again = DYNA_BUF_INIT;
      encoded(&d, &again);
      CHECK(again.len == after.len && !memcmp(again.data, after.data, after.len));
      dyna_buf_free(&again);
      dyna_obj_clear(&d);
      dyna_obj_clear(&o);
      o = w;
    } else {
      CHECK(cmd->read(&o, &a, &env, &resp) == 0);
      check_reply(&resp);
      encoded(&o, &after);
      CHECK(after.len == before.len && !memcmp(after.data, before.data, after.len));
    }
    step++;
  }
  dyna_obj_clear(&o);
  dyna_buf_free(&before);
  dyna_buf_free(&after);
  dyna_buf_free(&resp);
  return 0;
}
