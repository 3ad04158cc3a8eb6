/* reply.c: dyna_command and dyna_key_command, the public blocking forms of any command
 * (to the first seed, or routed by a key), and their reply tree
 * (dyna_reply_t): the engine's RESP value (proto/resp.h, private) copied into the public
 * shape, so that the CLI and applications never see the codec's types. */
#include "client/client_int.h"
#include "util/alloc.h"
#include <string.h>

/* Copies v into *r (r zeroed by the caller). 0 or DYNA_ENOMEM (r then holds what was
 * copied so far, freed by the caller with reply_clear). */
static int reply_copy(dyna_reply_t *r, const dyna_resp_value_t *v) {
  switch (v->type) {
  case DYNA_RESP_BULK: r->type = DYNA_REPLY_STRING; break;
  case DYNA_RESP_STRING: r->type = DYNA_REPLY_STATUS; break;
  case DYNA_RESP_ERROR: r->type = DYNA_REPLY_ERROR; break;
  case DYNA_RESP_INTEGER: r->type = DYNA_REPLY_INTEGER; r->integer = v->integer; return 0;
  case DYNA_RESP_ARRAY: r->type = DYNA_REPLY_ARRAY; break;
  default: r->type = DYNA_REPLY_NIL; return 0;
  }
  if (r->type != DYNA_REPLY_ARRAY) {
    r->str = (uint8_t *)dyna_strndup(v->str ? v->str : (const uint8_t *)"", v->len);
    r->len = v->len;
    return r->str ? 0 : DYNA_ENOMEM;
  }
  if (!v->n) return 0;
  r->elem = dyna_calloc(v->n, sizeof(*r->elem));
  if (!r->elem) return DYNA_ENOMEM;
  r->n = v->n;
  for (size_t i = 0; i < v->n; i++)
    if (reply_copy(&r->elem[i], &v->elem[i])) return DYNA_ENOMEM;
  return 0;
}

static void reply_clear(dyna_reply_t *r) {
  for (size_t i = 0; i < r->n; i++) reply_clear(&r->elem[i]);
  dyna_free(r->elem);
  dyna_free(r->str);
}

void dyna_reply_free(dyna_reply_t *r) {
  if (!r) return;
  reply_clear(r);
  dyna_free(r);
}

/* dyna_command (key_arg 0: the first seed) and dyna_key_command (routed by argv[key_arg]). */
static int command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                   const size_t *argl, size_t key_arg, dyna_reply_t **out) {
  *out = NULL;
  if (argc == 0 || !argv || !argl || key_arg >= argc) return DYNA_EINVAL;
  dyna_resp_value_t v;
  int rc = dyna_client_command_key(c, argc, argv, argl, key_arg ? argv[key_arg] : NULL,
                                   key_arg ? argl[key_arg] : 0, &v);
  if (rc) return rc;
  if (v.type == DYNA_RESP_ERROR) {
    rc = dyna_client_remote_error(c, &v);
    dyna_resp_value_free(&v);
    return rc;
  }
  dyna_reply_t *r = dyna_calloc(1, sizeof(*r));
  if (!r || reply_copy(r, &v)) {
    if (r) reply_clear(r);
    dyna_free(r);
    dyna_resp_value_free(&v);
    dyna_client_set_errmsg(c, "out of memory");
    return DYNA_ENOMEM;
  }
  dyna_resp_value_free(&v);
  *out = r;
  return 0;
}

int dyna_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                 const size_t *argl, dyna_reply_t **out) {
  return command(c, argc, argv, argl, 0, out);
}

int dyna_key_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                     const size_t *argl, size_t key_arg, dyna_reply_t **out) {
  if (key_arg == 0) {
    *out = NULL;
    return DYNA_EINVAL;
  }
  return command(c, argc, argv, argl, key_arg, out);
}
