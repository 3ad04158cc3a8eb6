/* peer_auth.c: the byte layout of the cluster-secret handshake and of the tag after each
 * frame (see peer_auth.h). Pure: no MAC, no randomness; the runtime computes those. */
#include "proto/peer_auth.h"
#include "proto/wire.h"
#include "util/err.h"
#include <string.h>

#define TRANSCRIPT_MAGIC "dyna-peer-auth-1"

void dyna_auth_transcript(dyna_buf_t *out, uint8_t label, const dyna_auth_parties_t *p) {
  dyna_buf_put(out, TRANSCRIPT_MAGIC, sizeof(TRANSCRIPT_MAGIC) - 1);
  dyna_buf_put_u8(out, label);
  dyna_buf_put_bytes(out, p->cluster, p->clen);
  dyna_buf_put_u64le(out, p->dialer_id);
  dyna_buf_put_u64le(out, p->acceptor_id);
  dyna_buf_put(out, p->dialer_nonce, DYNA_AUTH_NONCE);
  dyna_buf_put(out, p->acceptor_nonce, DYNA_AUTH_NONCE);
}

void dyna_auth_tag_header(uint8_t out[DYNA_AUTH_TAG_HEADER], uint8_t role, uint64_t seq) {
  out[0] = role;
  for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(seq >> (8 * i));
}

void dyna_auth_encode_proof(const uint8_t proof[DYNA_AUTH_PROOF], dyna_buf_t *out) {
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_AUTH;
  m.obj = proof;
  m.objlen = DYNA_AUTH_PROOF;
  dyna_wire_encode(&m, out);
}

int dyna_auth_decode_proof(const uint8_t *frame, size_t len, const uint8_t **proof) {
  dyna_msg_t m;
  *proof = NULL;
  if (dyna_wire_decode(frame, len, &m) || m.type != DYNA_MSG_AUTH || m.objlen != DYNA_AUTH_PROOF)
    return DYNA_EPROTO;
  *proof = m.obj;
  return 0;
}

const char *dyna_auth_check_hello(const struct dyna_msg *m, int has_secret, const uint8_t **nonce) {
  *nonce = NULL;
  int peer_has = (m->flags & DYNA_HELLO_AUTH) != 0;
  if (peer_has && !has_secret) return "peer uses a cluster secret and this node has none (cluster-secret-file)";
  if (!peer_has && has_secret) return "peer has no cluster secret (cluster-secret-file)";
  if (!has_secret) return m->objlen ? "unexpected challenge in HELLO" : NULL;
  if (m->objlen != DYNA_AUTH_NONCE) return "malformed challenge in HELLO";
  *nonce = m->obj;
  return NULL;
}

int dyna_auth_frame(const uint8_t *buf, size_t len, size_t max, size_t *flen) {
  int rc = dyna_wire_frame(buf, len, max, flen);
  if (rc) return rc;
  return len - *flen >= DYNA_AUTH_TAG ? 0 : DYNA_EAGAIN;
}
