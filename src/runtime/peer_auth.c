/* peer_auth.c: the cluster secret's proofs and frame tags with OpenSSL's HMAC-SHA256, the
 * secret file, and the nonces' random source (see peer_auth.h; the layout is
 * proto/peer_auth.c). */
#include "runtime/peer_auth.h"
#include "util/assert.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FILE_MAX 4096

/* ---------- secrets ---------- */

void dyna_auth_keys_wipe(dyna_auth_keys_t *k) { OPENSSL_cleanse(k, sizeof(*k)); }

int dyna_auth_keys_parse(const char *text, size_t len, dyna_auth_keys_t *k, char *err, size_t errlen) {
  memset(k, 0, sizeof(*k));
  size_t i = 0;
  while (i < len) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    size_t b = i, t = e;
    i = e + 1;
    while (b < t && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) b++;
    while (t > b && (text[t - 1] == ' ' || text[t - 1] == '\t' || text[t - 1] == '\r')) t--;
    if (b == t || text[b] == '#') continue;
    if (k->n == 2) {
      snprintf(err, errlen, "more than two secrets (want the current one and optionally the next)");
      goto fail;
    }
    if (t - b < DYNA_AUTH_SECRET_MIN || t - b > DYNA_AUTH_SECRET_MAX) {
      snprintf(err, errlen, "secret %zu is %zu bytes (want %d to %d)", k->n + 1, t - b, DYNA_AUTH_SECRET_MIN,
               DYNA_AUTH_SECRET_MAX);
      goto fail;
    }
    memcpy(k->key[k->n], text + b, t - b);
    k->len[k->n++] = t - b;
  }
  if (k->n == 0) {
    snprintf(err, errlen, "no secret in it");
    goto fail;
  }
  return 0;
fail:
  dyna_auth_keys_wipe(k);
  return -1;
}

int dyna_auth_keys_load(const char *path, dyna_auth_keys_t *k, char *err, size_t errlen) {
  char text[FILE_MAX + 1];
  char why[160];
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cluster-secret-file %s: %s", path, strerror(errno));
    return -1;
  }
  size_t n = fread(text, 1, sizeof(text), f);
  int bad = ferror(f);
  fclose(f);
  int rc = -1;
  if (bad) snprintf(err, errlen, "cluster-secret-file %s: read error", path);
  else if (n > FILE_MAX) snprintf(err, errlen, "cluster-secret-file %s: over %d bytes", path, FILE_MAX);
  else if (dyna_auth_keys_parse(text, n, k, why, sizeof(why))) snprintf(err, errlen, "cluster-secret-file %s: %s", path, why);
  else rc = 0;
  OPENSSL_cleanse(text, sizeof(text));
  return rc;
}

int dyna_auth_random(uint8_t *p, size_t n) { return RAND_bytes(p, (int)n) == 1 ? 0 : -1; }

/* ---------- MACs ---------- */

/* HMAC-SHA256(key, transcript(label)) into out. */
static int transcript_mac(const dyna_peer_auth_t *a, int key, uint8_t label, uint8_t out[32]) {
  dyna_buf_t t = DYNA_BUF_INIT;
  dyna_auth_transcript(&t, label, &a->parties);
  unsigned n = 0;
  int ok = !t.oom && HMAC(EVP_sha256(), a->keys->key[key], (int)a->keys->len[key], t.data, t.len, out, &n) && n == 32;
  dyna_buf_free(&t);
  return ok ? 0 : -1;
}

/* A MAC context keyed with the session key (caller frees with EVP_MAC_CTX_free). Once
 * per connection: the fetched algorithm is released at once (the context holds it). */
static EVP_MAC_CTX *session_new(const uint8_t key[32]) {
  EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *c = alg ? EVP_MAC_CTX_new(alg) : NULL;
  EVP_MAC_free(alg);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (c && EVP_MAC_init(c, key, 32, params)) return c;
  EVP_MAC_CTX_free(c);
  return NULL;
}

/* The tag of frame number seq sent by role: the session key is reused (init with no key). */
static int frame_tag(EVP_MAC_CTX *c, uint8_t role, uint64_t seq, const uint8_t *frame, size_t len,
                     uint8_t tag[DYNA_AUTH_TAG]) {
  uint8_t head[DYNA_AUTH_TAG_HEADER], full[32];
  size_t n = 0;
  dyna_auth_tag_header(head, role, seq);
  if (!EVP_MAC_init(c, NULL, 0, NULL) || !EVP_MAC_update(c, head, sizeof(head)) || !EVP_MAC_update(c, frame, len) ||
      !EVP_MAC_final(c, full, &n, sizeof(full)) || n != sizeof(full))
    return -1;
  memcpy(tag, full, DYNA_AUTH_TAG);
  return 0;
}

/* ---------- one link's side ---------- */

void dyna_peer_auth_init(dyna_peer_auth_t *a, const dyna_auth_keys_t *keys, uint8_t role, const char *cluster,
                         uint64_t self_id, const uint8_t *nonce) {
  DYNA_ASSERT(role == DYNA_AUTH_DIALER || role == DYNA_AUTH_ACCEPTOR, "role %d", role);
  DYNA_ASSERT(keys && keys->n >= 1 && keys->n <= 2, "keys %zu", keys ? keys->n : 0);
  memset(a, 0, sizeof(*a));
  a->keys = keys;
  a->role = role;
  a->clen = strlen(cluster) < sizeof(a->cluster) ? strlen(cluster) : sizeof(a->cluster);
  memcpy(a->cluster, cluster, a->clen);
  a->parties.cluster = a->cluster;
  a->parties.clen = a->clen;
  if (role == DYNA_AUTH_DIALER) {
    a->parties.dialer_id = self_id;
    memcpy(a->parties.dialer_nonce, nonce, DYNA_AUTH_NONCE);
  } else {
    a->parties.acceptor_id = self_id;
    memcpy(a->parties.acceptor_nonce, nonce, DYNA_AUTH_NONCE);
  }
}

const char *dyna_peer_auth_peer(dyna_peer_auth_t *a, uint64_t peer_id, const uint8_t *nonce) {
  if (a->have_peer) return "second HELLO";
  const uint8_t *ours = a->role == DYNA_AUTH_DIALER ? a->parties.dialer_nonce : a->parties.acceptor_nonce;
  if (CRYPTO_memcmp(ours, nonce, DYNA_AUTH_NONCE) == 0) return "reflected challenge (the peer sent our own nonce)";
  if (a->role == DYNA_AUTH_DIALER) {
    a->parties.acceptor_id = peer_id;
    memcpy(a->parties.acceptor_nonce, nonce, DYNA_AUTH_NONCE);
  } else {
    a->parties.dialer_id = peer_id;
    memcpy(a->parties.dialer_nonce, nonce, DYNA_AUTH_NONCE);
  }
  a->have_peer = 1;
  return NULL;
}

void dyna_peer_auth_prove(dyna_peer_auth_t *a, uint8_t proof[DYNA_AUTH_PROOF]) {
  DYNA_ASSERT(a->have_peer, "proof before the peer's HELLO");
  if (transcript_mac(a, a->key, a->role, proof)) memset(proof, 0, DYNA_AUTH_PROOF); /* will not verify */
}

const char *dyna_peer_auth_verify(dyna_peer_auth_t *a, const uint8_t *proof, size_t len) {
  if (!a->have_peer || a->up) return "AUTH out of turn";
  if (len != DYNA_AUTH_PROOF) return "malformed proof";
  uint8_t peer_role = a->role == DYNA_AUTH_DIALER ? DYNA_AUTH_ACCEPTOR : DYNA_AUTH_DIALER;
  /* The dialer proved with its current secret first: the acceptor may know it as either. */
  int nkeys = a->role == DYNA_AUTH_ACCEPTOR ? (int)a->keys->n : 1;
  int found = -1;
  for (int k = 0; k < nkeys && found < 0; k++) {
    uint8_t want[32];
    if (transcript_mac(a, k, peer_role, want) == 0 && CRYPTO_memcmp(want, proof, DYNA_AUTH_PROOF) == 0) found = k;
    OPENSSL_cleanse(want, sizeof(want));
  }
  if (found < 0) return "wrong proof (the peer does not hold our cluster secret)";
  uint8_t session[32];
  if (transcript_mac(a, found, DYNA_AUTH_SESSION, session)) return "MAC failed";
  EVP_MAC_CTX *c = session_new(session);
  OPENSSL_cleanse(session, sizeof(session));
  if (!c) return "out of memory for the session MAC";
  a->key = found;
  a->mac = c;
  a->up = 1;
  return NULL;
}

int dyna_peer_auth_seal(dyna_peer_auth_t *a, const uint8_t *frame, size_t len, uint8_t tag[DYNA_AUTH_TAG]) {
  DYNA_ASSERT(a->up, "seal before the handshake");
  if (frame_tag(a->mac, a->role, a->seq_out, frame, len, tag)) return -1;
  a->seq_out++;
  return 0;
}

int dyna_peer_auth_open(dyna_peer_auth_t *a, const uint8_t *frame, size_t len, const uint8_t *tag) {
  if (!a->up) return -1;
  uint8_t want[DYNA_AUTH_TAG];
  uint8_t peer_role = a->role == DYNA_AUTH_DIALER ? DYNA_AUTH_ACCEPTOR : DYNA_AUTH_DIALER;
  if (frame_tag(a->mac, peer_role, a->seq_in, frame, len, want) || CRYPTO_memcmp(want, tag, DYNA_AUTH_TAG)) return -1;
  a->seq_in++;
  return 0;
}

void dyna_peer_auth_free(dyna_peer_auth_t *a) {
  EVP_MAC_CTX_free(a->mac);
  OPENSSL_cleanse(a, sizeof(*a));
}
