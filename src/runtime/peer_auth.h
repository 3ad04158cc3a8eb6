/* peer_auth.h: one peer link's side of the cluster-secret scheme (--cluster-secret-file):
 * the secrets, the handshake's proofs and the tag on every frame, with HMAC-SHA256 from
 * OpenSSL's libcrypto. The byte layout is proto/peer_auth.h; peer.c drives this from its
 * link states. Deterministic given the nonces (the caller draws them with
 * dyna_auth_random), so the unit tests run whole handshakes without sockets.
 *
 * Rotation: the secret file holds one secret per line, the current one and optionally a
 * "next" one. A node proves itself with its current secret and accepts a dialer that
 * proves itself with either; the acceptor then answers and keys the session with the
 * secret that verified. So nodes that hold (A, next B) and nodes that hold (B, next A) talk
 * to each other, and a rolling restart moves a cluster from A to B (docs/security.md). */
#ifndef DYNA_RUNTIME_PEER_AUTH_H
#define DYNA_RUNTIME_PEER_AUTH_H
#include "proto/peer_auth.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_AUTH_SECRET_MIN 16  /* bytes; `openssl rand -hex 32` gives 64 */
#define DYNA_AUTH_SECRET_MAX 256

/* The node's secrets: [0] current, [1] next (n = 1 or 2). Wiped by dyna_auth_keys_wipe. */
typedef struct dyna_auth_keys {
  uint8_t key[2][DYNA_AUTH_SECRET_MAX];
  size_t len[2];
  size_t n;
} dyna_auth_keys_t;

/* Parses the secret file's text: one secret per line (surrounding blanks and a final
 * newline dropped, empty lines and lines starting with '#' skipped), one or two of them,
 * each DYNA_AUTH_SECRET_MIN..MAX bytes. Returns 0, or -1 with a reason in err. */
int dyna_auth_keys_parse(const char *text, size_t len, dyna_auth_keys_t *k, char *err, size_t errlen);
/* Reads and parses path (at most 4 KiB). Returns 0, or -1 with a reason in err. */
int dyna_auth_keys_load(const char *path, dyna_auth_keys_t *k, char *err, size_t errlen);
void dyna_auth_keys_wipe(dyna_auth_keys_t *k);

/* Fills p with n cryptographically random bytes. Returns 0, or -1 when the source fails. */
int dyna_auth_random(uint8_t *p, size_t n);

typedef struct dyna_peer_auth {
  const dyna_auth_keys_t *keys; /* borrowed: outlives the link */
  uint8_t role;                 /* DYNA_AUTH_DIALER or DYNA_AUTH_ACCEPTOR: us */
  int key;                      /* the secret in use: dialer 0; acceptor: the one that verified */
  int have_peer;                /* the peer's HELLO was taken */
  int up;                       /* handshake done: tags on, session keyed */
  uint8_t cluster[64];
  size_t clen;
  dyna_auth_parties_t parties;  /* .cluster points at cluster above */
  void *mac;                    /* EVP_MAC_CTX keyed with the session key (owned) */
  uint64_t seq_out, seq_in;
} dyna_peer_auth_t;

/* Starts a link's side: role is ours, nonce ours (DYNA_AUTH_NONCE bytes). */
void dyna_peer_auth_init(dyna_peer_auth_t *a, const dyna_auth_keys_t *keys, uint8_t role,
                         const char *cluster, uint64_t self_id, const uint8_t *nonce);
/* Takes the peer's id and nonce from its HELLO. Returns NULL, or the reason to refuse
 * (the peer's nonce equals ours: a reflected challenge). */
const char *dyna_peer_auth_peer(dyna_peer_auth_t *a, uint64_t peer_id, const uint8_t *nonce);
/* Writes our proof: the dialer's with its current secret (call after dyna_peer_auth_peer),
 * the acceptor's with the secret that verified the dialer (after dyna_peer_auth_verify). */
void dyna_peer_auth_prove(dyna_peer_auth_t *a, uint8_t proof[DYNA_AUTH_PROOF]);
/* Checks the peer's proof (len bytes): the acceptor tries its current then its next secret,
 * the dialer its current one. On success keys the session (a->up = 1) and returns NULL;
 * else returns the reason to refuse and changes nothing. Constant-time compare. */
const char *dyna_peer_auth_verify(dyna_peer_auth_t *a, const uint8_t *proof, size_t len);
/* Once up: the tag of the next frame we send (seq_out advances). Returns 0, or -1 when
 * the MAC fails (no memory). */
int dyna_peer_auth_seal(dyna_peer_auth_t *a, const uint8_t *frame, size_t len, uint8_t tag[DYNA_AUTH_TAG]);
/* Once up: 0 when tag is the tag of the peer's next frame (seq_in advances), else -1 and
 * nothing changes. */
int dyna_peer_auth_open(dyna_peer_auth_t *a, const uint8_t *frame, size_t len, const uint8_t *tag);
/* Frees the session's MAC context and wipes the state. */
void dyna_peer_auth_free(dyna_peer_auth_t *a);

#endif
