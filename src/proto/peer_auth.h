/* peer_auth.h: the layout of the cluster-secret scheme on peer links (--cluster-secret-file).
 * Pure: it says which bytes are sent and which bytes are MACed; the MAC itself (HMAC-SHA256
 * through OpenSSL) and the random nonces are the runtime's (runtime/peer_auth.h).
 *
 *   dialer                                         acceptor
 *   HELLO(flags = magic | AUTH, obj = nonce_d) ───▶ checks the HELLO as without a secret
 *                                              ◀── HELLO(flags = magic | AUTH, obj = nonce_a)
 *   AUTH(obj = proof_d) ──────────────────────────▶ verifies with its current, then next secret
 *                                              ◀── AUTH(obj = proof_a), with the secret that verified
 *   frame | tag, frame | tag ... ─────────────────▶ each tag checked before the frame is looked at
 *
 *   proof_r = HMAC-SHA256(secret,  transcript(r))      r = 'D' (dialer) or 'A' (acceptor)
 *   session = HMAC-SHA256(secret,  transcript('S'))
 *   tag     = HMAC-SHA256(session, u8 sender role | u64le seq | frame)[0..16)
 *   transcript(label) = "dyna-peer-auth-1" | u8 label | bytes cluster name |
 *                       u64le dialer id | u64le acceptor id | nonce_d | nonce_a
 *
 * Both nonces are fresh per connection, so a proof or a tag from another connection does
 * not verify (replay); the role label differs per direction, so a proof or a tag sent back
 * to its sender does not verify either (reflection). seq counts the frames sent in one
 * direction of one connection from 0, so a frame replayed, dropped or reordered within a
 * connection fails too. A tag is the first 16 bytes of the HMAC (128 bits).
 */
#ifndef DYNA_PEER_AUTH_LAYOUT_H
#define DYNA_PEER_AUTH_LAYOUT_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_AUTH_NONCE 32 /* bytes of each side's challenge */
#define DYNA_AUTH_PROOF 32 /* an HMAC-SHA256 */
#define DYNA_AUTH_TAG 16   /* bytes of MAC after every frame once the handshake is done */
#define DYNA_AUTH_TAG_HEADER 9 /* u8 role | u64le seq, MACed ahead of the frame */
#define DYNA_HELLO_AUTH (1ull << 32) /* HELLO flags bit: the sender has a cluster secret */

enum { DYNA_AUTH_DIALER = 'D', DYNA_AUTH_ACCEPTOR = 'A', DYNA_AUTH_SESSION = 'S' };

/* The parties of one handshake. cluster is borrowed. */
typedef struct dyna_auth_parties {
  const uint8_t *cluster;
  size_t clen;
  uint64_t dialer_id, acceptor_id;
  uint8_t dialer_nonce[DYNA_AUTH_NONCE], acceptor_nonce[DYNA_AUTH_NONCE];
} dyna_auth_parties_t;

/* Appends transcript(label) of p to out (see above). */
void dyna_auth_transcript(dyna_buf_t *out, uint8_t label, const dyna_auth_parties_t *p);

/* Writes the bytes MACed ahead of a frame: u8 role of the sender | u64le seq. */
void dyna_auth_tag_header(uint8_t out[DYNA_AUTH_TAG_HEADER], uint8_t role, uint64_t seq);

/* Appends the AUTH frame carrying proof (wire type DYNA_MSG_AUTH, obj = the proof). */
void dyna_auth_encode_proof(const uint8_t proof[DYNA_AUTH_PROOF], dyna_buf_t *out);

/* Decodes a whole AUTH frame. Returns 0 with *proof pointing into frame, or DYNA_EPROTO
 * (not a well-formed AUTH, or a proof that is not DYNA_AUTH_PROOF bytes). */
int dyna_auth_decode_proof(const uint8_t *frame, size_t len, const uint8_t **proof);

/* Checks a decoded HELLO's secret fields (flags, obj) against whether we have a secret.
 * Returns NULL and, when has_secret, points *nonce at the peer's nonce; else the reason
 * to refuse, for the log. */
struct dyna_msg;
const char *dyna_auth_check_hello(const struct dyna_msg *m, int has_secret, const uint8_t **nonce);

/* Like dyna_wire_frame, for a stream where every frame is followed by its tag: returns 0
 * with *flen = the frame's length (its tag follows it), DYNA_EAGAIN when the frame or its
 * tag is not whole yet, or DYNA_ETOOBIG. */
int dyna_auth_frame(const uint8_t *buf, size_t len, size_t max, size_t *flen);

#endif
