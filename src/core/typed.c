/* typed.c: finding a typed command by name, and the helpers the families share
 * (see typed.h). Pure. */
#include "core/typed.h"
#include "proto/resp.h"
#include "util/err.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const dyna_typed_cmd_t *const FAMILIES[] = {
    dyna_typed_counter_cmds, dyna_typed_set_cmds,  dyna_typed_hash_cmds,
    dyna_typed_zset_cmds,    dyna_typed_list_cmds, dyna_typed_keys_cmds,
    dyna_typed_copy_cmds,
};

/* Asked once or twice per typed request: names whose first bytes differ but for the
 * case bit are passed over before any length or string compare. */
const dyna_typed_cmd_t *dyna_typed_find(const uint8_t *name, size_t len) {
  if (len == 0) return NULL;
  for (size_t f = 0; f < sizeof(FAMILIES) / sizeof(FAMILIES[0]); f++)
    for (const dyna_typed_cmd_t *c = FAMILIES[f]; c->name; c++)
      if (!(((uint8_t)c->name[0] ^ name[0]) & ~0x20u) && strlen(c->name) == len &&
          !strncasecmp(c->name, (const char *)name, len))
        return c;
  return NULL;
}

int dyna_typed_kind_ok(const dyna_obj_t *o, dyna_kind_t want, const dyna_tenv_t *env,
                       dyna_buf_t *resp) {
  dyna_kind_t k = dyna_obj_kind(o, env->now_ms);
  if (k == DYNA_KIND_NONE || k == want) return 1;
  dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE);
  return 0;
}

const dyna_crdt_t *dyna_typed_read_state(const dyna_obj_t *o, uint8_t type, const dyna_tenv_t *env) {
  if (dyna_obj_kind(o, env->now_ms) == DYNA_KIND_NONE) return NULL;
  const dyna_crdt_t *s = dyna_obj_typed(o, type);
  return s && dyna_crdt_exists(s) ? s : NULL;
}

int dyna_typed_parse_i64(const uint8_t *p, size_t n, int64_t *out) {
  char buf[24];
  if (n == 0 || n >= sizeof(buf)) return -1;
  memcpy(buf, p, n);
  buf[n] = 0;
  /* Redis accepts only the canonical spelling: no spaces, no '+', no leading zeros. */
  if (buf[0] == '0' && n > 1) return -1;
  if (buf[0] == '-' && (n == 1 || buf[1] == '0')) return -1;
  for (size_t i = buf[0] == '-' ? 1 : 0; i < n; i++)
    if (buf[i] < '0' || buf[i] > '9') return -1;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || *end) return -1;
  *out = (int64_t)v;
  return 0;
}

int dyna_typed_parse_double(const uint8_t *p, size_t n, double *out) {
  char buf[320];
  if (n == 0 || n >= sizeof(buf)) return -1;
  memcpy(buf, p, n);
  buf[n] = 0;
  if (buf[0] == ' ' || buf[0] == '\t' || buf[n - 1] == ' ') return -1;
  char *end;
  errno = 0;
  double d = strtod(buf, &end);
  if (*end || isnan(d) || (errno == ERANGE && !isinf(d) && d != 0)) return -1;
  *out = d;
  return 0;
}

size_t dyna_typed_fmt_double(double d, char *out) { return dyna_resp_fmt_double(d, out); }

int dyna_typed_error(int rc, dyna_buf_t *resp) {
  switch (rc) {
  case 0: return 0;
  case DYNA_ENOMEM: return DYNA_ENOMEM;
  case DYNA_ERANGE: dyna_resp_put_error(resp, DYNA_WORD_ERR " " DYNA_MSG_OVERFLOW); return 0;
  case DYNA_ETOOBIG: dyna_resp_put_error(resp, "TOOBIG the key would pass a collection limit (docs/architecture.md)"); return 0;
  default: dyna_resp_put_error(resp, "ERR invalid operation"); return 0;
  }
}

int dyna_typed_reply_over(dyna_buf_t *resp, size_t start) {
  if (resp->len - start <= DYNA_TYPED_REPLY_MAX) return 0;
  resp->len = start;
  dyna_resp_put_error(resp, DYNA_TYPED_REPLY_BIG);
  return 1;
}

uint64_t dyna_typed_next_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
