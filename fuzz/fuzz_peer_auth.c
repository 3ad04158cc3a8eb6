/* fuzz_peer_auth.c: libFuzzer target for what a peer sends on a cluster port that has a
 * secret (proto/peer_auth.c, runtime/peer_auth.c), read as peer.c reads it: the HELLO with
 * its challenge, the AUTH proof, then frames each followed by a tag.
 *
 * Byte 0 picks the mode. Mode 0: the whole input is the stream from an unknown dialer;
 * whatever it holds, the acceptor must never come up (it cannot know the secret). Mode
 * 1: a genuine dialer does the handshake, and the input is the stream after it, split as
 * tagged frames: any frame whose tag the acceptor takes must be one the dialer sealed
 * (never happens for fuzzed bytes unless the tag is right), a refused one changes no
 * sequence number. Mode 2: the input is split into frames that the dialer seals; each
 * must open exactly once (a replay of it fails) and any flipped byte must fail. */
#include "proto/peer_auth.h"
#include "proto/wire.h"
#include "runtime/peer_auth.h"
#include "util/err.h"
#include <stdint.h>
#include <string.h>

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static dyna_auth_keys_t keys;
static int keys_ready;

static void setup(void) {
  if (keys_ready) return;
  const char *text = "fuzz-secret-0123456789abcdef\nfuzz-next-secret-0123456789\n";
  char err[64];
  CHECK(dyna_auth_keys_parse(text, strlen(text), &keys, err, sizeof(err)) == 0);
  keys_ready = 1;
}

/* Mode 0: an unknown dialer's stream, HELLO then AUTH then anything. */
static void unknown_dialer(const uint8_t *p, size_t n) {
  dyna_peer_auth_t a;
  uint8_t nonce[DYNA_AUTH_NONCE];
  memset(nonce, 0xa5, sizeof(nonce));
  dyna_peer_auth_init(&a, &keys, DYNA_AUTH_ACCEPTOR, "dyna", 42, nonce);
  size_t flen;
  int stage = 0;
  while (dyna_wire_frame(p, n, 1u << 20, &flen) == 0) {
    if (stage == 0) {
      dyna_msg_t m;
      const uint8_t *peer_nonce;
      if (dyna_wire_decode(p, flen, &m) || m.type != DYNA_MSG_HELLO || dyna_auth_check_hello(&m, 1, &peer_nonce) ||
          dyna_peer_auth_peer(&a, m.node, peer_nonce))
        break;
      stage = 1;
    } else {
      const uint8_t *proof;
      if (dyna_auth_decode_proof(p, flen, &proof) || dyna_peer_auth_verify(&a, proof, DYNA_AUTH_PROOF)) break;
      CHECK(0); /* a proof without the secret */
    }
    p += flen;
    n -= flen;
  }
  CHECK(!a.up);
  dyna_peer_auth_free(&a);
}

static void pair(dyna_peer_auth_t *d, dyna_peer_auth_t *a) {
  uint8_t nd[DYNA_AUTH_NONCE], na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  memset(nd, 1, sizeof(nd));
  memset(na, 2, sizeof(na));
  dyna_peer_auth_init(d, &keys, DYNA_AUTH_DIALER, "dyna", 7, nd);
  dyna_peer_auth_init(a, &keys, DYNA_AUTH_ACCEPTOR, "dyna", 42, na);
  CHECK(!dyna_peer_auth_peer(a, 7, nd) && !dyna_peer_auth_peer(d, 42, na));
  dyna_peer_auth_prove(d, proof);
  CHECK(!dyna_peer_auth_verify(a, proof, sizeof(proof)));
  dyna_peer_auth_prove(a, proof);
  CHECK(!dyna_peer_auth_verify(d, proof, sizeof(proof)));
}

/* Mode 1: fuzzed bytes as tagged frames after a genuine handshake. */
static void forged_frames(const uint8_t *p, size_t n) {
  dyna_peer_auth_t d, a;
  pair(&d, &a);
  size_t flen;
  while (dyna_auth_frame(p, n, 1u << 20, &flen) == 0) {
    uint64_t seq = a.seq_in;
    if (dyna_peer_auth_open(&a, p, flen, p + flen)) {
      CHECK(a.seq_in == seq);
      break;
    }
    CHECK(0); /* a tag made without the session key */
  }
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

/* Mode 2: frames sealed by the genuine dialer: each opens once, altered or again it fails. */
static void sealed_frames(const uint8_t *p, size_t n) {
  dyna_peer_auth_t d, a;
  pair(&d, &a);
  uint8_t tag[DYNA_AUTH_TAG], copy[256];
  while (n > 0) {
    size_t len = p[0] % 64 + 1 < n ? (size_t)(p[0] % 64 + 1) : n;
    CHECK(dyna_peer_auth_seal(&d, p, len, tag) == 0);
    memcpy(copy, p, len);
    copy[len / 2] ^= (uint8_t)(1u << (p[len - 1] & 7));
    CHECK(dyna_peer_auth_open(&a, copy, len, tag) == -1);
    CHECK(dyna_peer_auth_open(&a, p, len, tag) == 0);
    CHECK(dyna_peer_auth_open(&a, p, len, tag) == -1);
    p += len;
    n -= len;
  }
  CHECK(a.seq_in == d.seq_out);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  setup();
  switch (data[0] % 3) {
  case 0: unknown_dialer(data + 1, size - 1); break;
  case 1: forged_frames(data + 1, size - 1); break;
  default: sealed_frames(data + 1, size - 1); break;
  }
  return 0;
}
