/* test_peer_auth.c: the cluster secret's handshake and frame tags (proto/peer_auth.c,
 * runtime/peer_auth.c) driven by hand, without sockets: a good handshake, the layout pinned
 * against a direct HMAC-SHA256, a wrong secret, altered bytes, replayed, reordered and
 * reflected frames and proofs, rotation with a next secret, and the secret file. */
#include "proto/peer_auth.h"
#include "proto/wire.h"
#include "runtime/peer_auth.h"
#include "util/err.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define CLUSTER "dyna"
#define ID_D 0x1111111111111111ull
#define ID_A 0x2222222222222222ull

static void keys_of(dyna_auth_keys_t *k, const char *text) {
  char err[128];
  assert_int_equal(dyna_auth_keys_parse(text, strlen(text), k, err, sizeof(err)), 0);
}

static void nonce_of(uint8_t n[DYNA_AUTH_NONCE], uint8_t fill) { memset(n, fill, DYNA_AUTH_NONCE); }

/* A whole handshake between d (dialer) and a (acceptor) with the given nonces; returns 0
 * when both sides end up, else 1 (the dialer's proof refused) or 2 (the acceptor's). */
static int handshake(dyna_peer_auth_t *d, const dyna_auth_keys_t *kd, dyna_peer_auth_t *a,
                     const dyna_auth_keys_t *ka, uint8_t fd, uint8_t fa) {
  uint8_t nd[DYNA_AUTH_NONCE], na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  nonce_of(nd, fd);
  nonce_of(na, fa);
  dyna_peer_auth_init(d, kd, DYNA_AUTH_DIALER, CLUSTER, ID_D, nd);
  dyna_peer_auth_init(a, ka, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_null(dyna_peer_auth_peer(a, ID_D, nd));
  assert_null(dyna_peer_auth_peer(d, ID_A, na));
  dyna_peer_auth_prove(d, proof);
  if (dyna_peer_auth_verify(a, proof, sizeof(proof))) return 1;
  dyna_peer_auth_prove(a, proof);
  if (dyna_peer_auth_verify(d, proof, sizeof(proof))) return 2;
  assert_true(d->up && a->up);
  return 0;
}

/* A small wire frame (a PING with request number req). */
static void ping(dyna_buf_t *b, uint64_t req) {
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_PING;
  m.req = req;
  dyna_buf_reset(b);
  dyna_wire_encode(&m, b);
}

static void test_handshake_and_frames(void **state) {
  (void)state;
  dyna_auth_keys_t k;
  keys_of(&k, "0123456789abcdef0123456789abcdef\n");
  dyna_peer_auth_t d, a;
  assert_int_equal(handshake(&d, &k, &a, &k, 1, 2), 0);
  dyna_buf_t f = DYNA_BUF_INIT;
  uint8_t tag[DYNA_AUTH_TAG];
  for (uint64_t i = 0; i < 5; i++) { /* dialer -> acceptor, the links' one data direction */
    ping(&f, i);
    assert_int_equal(dyna_peer_auth_seal(&d, f.data, f.len, tag), 0);
    assert_int_equal(dyna_peer_auth_open(&a, f.data, f.len, tag), 0);
  }
  ping(&f, 9); /* and the other way */
  assert_int_equal(dyna_peer_auth_seal(&a, f.data, f.len, tag), 0);
  assert_int_equal(dyna_peer_auth_open(&d, f.data, f.len, tag), 0);
  assert_int_equal(a.seq_in, 5);
  assert_int_equal(d.seq_out, 5);
  dyna_buf_free(&f);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
  dyna_auth_keys_wipe(&k);
}

/* The proof and the first tag, recomputed here from the layout docs/protocol.md gives. */
static void test_layout_pinned(void **state) {
  (void)state;
  const char *secret = "0123456789abcdef0123456789abcdef";
  dyna_auth_keys_t k;
  keys_of(&k, secret);
  dyna_peer_auth_t d, a;
  assert_int_equal(handshake(&d, &k, &a, &k, 0xd0, 0xa0), 0);
  uint8_t t[16 + 1 + 1 + 4 + 8 + 8 + 64], *p = t;
  memcpy(p, "dyna-peer-auth-1", 16), p += 16;
  *p++ = 'D';
  *p++ = 4; /* varint length of the cluster name */
  memcpy(p, CLUSTER, 4), p += 4;
  for (int i = 0; i < 8; i++) *p++ = (uint8_t)(ID_D >> (8 * i));
  for (int i = 0; i < 8; i++) *p++ = (uint8_t)(ID_A >> (8 * i));
  memset(p, 0xd0, 32), p += 32;
  memset(p, 0xa0, 32), p += 32;
  uint8_t want[32], got[DYNA_AUTH_PROOF], session[32];
  unsigned n;
  HMAC(EVP_sha256(), secret, (int)strlen(secret), t, sizeof(t), want, &n);
  dyna_peer_auth_prove(&d, got);
  assert_memory_equal(got, want, 32);
  t[16] = 'S';
  HMAC(EVP_sha256(), secret, (int)strlen(secret), t, sizeof(t), session, &n);
  dyna_buf_t f = DYNA_BUF_INIT;
  ping(&f, 7);
  uint8_t msg[64];
  assert_true(f.len + 9 <= sizeof(msg));
  msg[0] = 'D';
  memset(msg + 1, 0, 8); /* seq 0 */
  memcpy(msg + 9, f.data, f.len);
  HMAC(EVP_sha256(), session, 32, msg, 9 + f.len, want, &n);
  uint8_t tag[DYNA_AUTH_TAG];
  assert_int_equal(dyna_peer_auth_seal(&d, f.data, f.len, tag), 0);
  assert_memory_equal(tag, want, DYNA_AUTH_TAG);
  dyna_buf_free(&f);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

static void test_wrong_secret(void **state) {
  (void)state;
  dyna_auth_keys_t k1, k2;
  keys_of(&k1, "0123456789abcdef0123456789abcdef");
  keys_of(&k2, "0123456789abcdef0123456789abcdeF");
  dyna_peer_auth_t d, a;
  assert_int_equal(handshake(&d, &k2, &a, &k1, 1, 2), 1); /* a rogue dialer */
  assert_false(a.up);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
  /* a rogue acceptor: the acceptor with the wrong secret refuses first; its proof, forced
   * out anyway, does not verify at the dialer */
  uint8_t nd[DYNA_AUTH_NONCE], na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  nonce_of(nd, 3);
  nonce_of(na, 4);
  dyna_peer_auth_init(&d, &k1, DYNA_AUTH_DIALER, CLUSTER, ID_D, nd);
  dyna_peer_auth_init(&a, &k2, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_null(dyna_peer_auth_peer(&d, ID_A, na));
  assert_null(dyna_peer_auth_peer(&a, ID_D, nd));
  dyna_peer_auth_prove(&a, proof);
  assert_non_null(dyna_peer_auth_verify(&d, proof, sizeof(proof)));
  assert_false(d.up);
  /* a proof of the wrong length, and a tag before the handshake */
  assert_non_null(dyna_peer_auth_verify(&d, proof, sizeof(proof) - 1));
  uint8_t tag[DYNA_AUTH_TAG] = {0};
  assert_int_equal(dyna_peer_auth_open(&d, proof, sizeof(proof), tag), -1);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

static void test_altered_bytes(void **state) {
  (void)state;
  dyna_auth_keys_t k;
  keys_of(&k, "0123456789abcdef0123456789abcdef");
  dyna_peer_auth_t d, a;
  assert_int_equal(handshake(&d, &k, &a, &k, 1, 2), 0);
  dyna_buf_t f = DYNA_BUF_INIT;
  ping(&f, 12345);
  uint8_t tag[DYNA_AUTH_TAG];
  assert_int_equal(dyna_peer_auth_seal(&d, f.data, f.len, tag), 0);
  for (size_t i = 0; i < f.len + DYNA_AUTH_TAG; i++) {
    uint8_t *b = i < f.len ? &f.data[i] : &tag[i - f.len];
    *b ^= 0x01;
    assert_int_equal(dyna_peer_auth_open(&a, f.data, f.len, tag), -1);
    *b ^= 0x01;
  }
  assert_int_equal(dyna_peer_auth_open(&a, f.data, f.len - 1, tag), -1); /* truncated */
  assert_int_equal(a.seq_in, 0);                                          /* nothing changed */
  assert_int_equal(dyna_peer_auth_open(&a, f.data, f.len, tag), 0);
  dyna_buf_free(&f);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

static void test_replay_and_order(void **state) {
  (void)state;
  dyna_auth_keys_t k;
  keys_of(&k, "0123456789abcdef0123456789abcdef");
  dyna_peer_auth_t d, a, d2, a2;
  assert_int_equal(handshake(&d, &k, &a, &k, 1, 2), 0);
  dyna_buf_t f0 = DYNA_BUF_INIT, f1 = DYNA_BUF_INIT;
  uint8_t t0[DYNA_AUTH_TAG], t1[DYNA_AUTH_TAG];
  ping(&f0, 1);
  ping(&f1, 2);
  assert_int_equal(dyna_peer_auth_seal(&d, f0.data, f0.len, t0), 0);
  assert_int_equal(dyna_peer_auth_seal(&d, f1.data, f1.len, t1), 0);
  assert_int_equal(dyna_peer_auth_open(&a, f1.data, f1.len, t1), -1); /* frame 1 before frame 0 */
  assert_int_equal(dyna_peer_auth_open(&a, f0.data, f0.len, t0), 0);
  assert_int_equal(dyna_peer_auth_open(&a, f0.data, f0.len, t0), -1); /* frame 0 again */
  assert_int_equal(dyna_peer_auth_open(&a, f1.data, f1.len, t1), 0);
  /* A new connection between the same nodes: the same secret, fresh nonces. Frame 0 of
   * the old one, replayed as the new one's frame 0, fails. */
  assert_int_equal(handshake(&d2, &k, &a2, &k, 5, 6), 0);
  assert_int_equal(dyna_peer_auth_open(&a2, f0.data, f0.len, t0), -1);
  /* So does the old connection's dialer proof on the new one (same dialer nonce even). */
  dyna_peer_auth_t a3;
  uint8_t nd[DYNA_AUTH_NONCE], na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  nonce_of(nd, 1);
  nonce_of(na, 7);
  dyna_peer_auth_prove(&d, proof); /* d's transcript: nonces 1 and 2 */
  dyna_peer_auth_init(&a3, &k, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_null(dyna_peer_auth_peer(&a3, ID_D, nd));
  assert_non_null(dyna_peer_auth_verify(&a3, proof, sizeof(proof)));
  dyna_buf_free(&f0);
  dyna_buf_free(&f1);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
  dyna_peer_auth_free(&d2);
  dyna_peer_auth_free(&a2);
  dyna_peer_auth_free(&a3);
}

static void test_reflection(void **state) {
  (void)state;
  dyna_auth_keys_t k;
  keys_of(&k, "0123456789abcdef0123456789abcdef");
  uint8_t na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  /* The acceptor's own challenge sent back to it as the dialer's. */
  dyna_peer_auth_t a, d;
  nonce_of(na, 9);
  dyna_peer_auth_init(&a, &k, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_non_null(dyna_peer_auth_peer(&a, ID_D, na));
  dyna_peer_auth_free(&a);
  /* The acceptor's own proof sent back to it as the dialer's proof. */
  assert_int_equal(handshake(&d, &k, &a, &k, 1, 2), 0);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
  uint8_t nd[DYNA_AUTH_NONCE];
  nonce_of(nd, 1);
  nonce_of(na, 2);
  dyna_peer_auth_init(&a, &k, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_null(dyna_peer_auth_peer(&a, ID_D, nd));
  /* What a genuine acceptor would prove to this dialer ... */
  dyna_peer_auth_t twin;
  dyna_peer_auth_init(&twin, &k, DYNA_AUTH_ACCEPTOR, CLUSTER, ID_A, na);
  assert_null(dyna_peer_auth_peer(&twin, ID_D, nd));
  twin.have_peer = 1;
  dyna_peer_auth_prove(&twin, proof);
  /* ... is no dialer's proof. */
  assert_non_null(dyna_peer_auth_verify(&a, proof, sizeof(proof)));
  dyna_peer_auth_free(&twin);
  dyna_peer_auth_free(&a);
  /* A frame sealed by the dialer, reflected back to the dialer. */
  assert_int_equal(handshake(&d, &k, &a, &k, 1, 2), 0);
  dyna_buf_t f = DYNA_BUF_INIT;
  uint8_t tag[DYNA_AUTH_TAG];
  ping(&f, 3);
  assert_int_equal(dyna_peer_auth_seal(&d, f.data, f.len, tag), 0);
  assert_int_equal(dyna_peer_auth_open(&d, f.data, f.len, tag), -1);
  assert_int_equal(dyna_peer_auth_open(&a, f.data, f.len, tag), 0);
  dyna_buf_free(&f);
  dyna_peer_auth_free(&d);
  dyna_peer_auth_free(&a);
}

/* The rotation of docs/security.md: from (A) through (A, next B) and (B, next A) to (B). */
static void test_rotation(void **state) {
  (void)state;
  dyna_auth_keys_t a, ab, ba, b;
  keys_of(&a, "secret-AAAAAAAAAAAAAAAAAAAAAAAAA\n");
  keys_of(&ab, "secret-AAAAAAAAAAAAAAAAAAAAAAAAA\n# next\nsecret-BBBBBBBBBBBBBBBBBBBBBBBBB\n");
  keys_of(&ba, "secret-BBBBBBBBBBBBBBBBBBBBBBBBB\nsecret-AAAAAAAAAAAAAAAAAAAAAAAAA\n");
  keys_of(&b, "secret-BBBBBBBBBBBBBBBBBBBBBBBBB");
  assert_int_equal(ab.n, 2);
  struct { const dyna_auth_keys_t *dialer, *acceptor; int want; } cases[] = {
      {&a, &ab, 0}, {&ab, &a, 0},   /* step 1: next B added, A still proves */
      {&ab, &ab, 0},
      {&ab, &ba, 0}, {&ba, &ab, 0}, /* step 2: B proves, A still accepted */
      {&ba, &ba, 0},
      {&ba, &b, 0}, {&b, &ba, 0},   /* step 3: A dropped */
      {&b, &b, 0},
      {&a, &b, 1}, {&b, &a, 1},     /* without the overlap, no link */
      {&a, &ba, 0}, {&ba, &a, 1},   /* skipping step 1: a (B, next A) node cannot reach an (A) node */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    dyna_peer_auth_t d, x;
    int rc = handshake(&d, cases[i].dialer, &x, cases[i].acceptor, (uint8_t)(10 + i), (uint8_t)(100 + i));
    if (rc != cases[i].want) fail_msg("rotation case %zu: handshake %d, want %d", i, rc, cases[i].want);
    if (rc == 0) { /* and the session works */
      dyna_buf_t f = DYNA_BUF_INIT;
      uint8_t tag[DYNA_AUTH_TAG];
      ping(&f, i);
      assert_int_equal(dyna_peer_auth_seal(&d, f.data, f.len, tag), 0);
      assert_int_equal(dyna_peer_auth_open(&x, f.data, f.len, tag), 0);
      dyna_buf_free(&f);
    }
    dyna_peer_auth_free(&d);
    dyna_peer_auth_free(&x);
  }
}

static void test_secret_file(void **state) {
  (void)state;
  dyna_auth_keys_t k;
  char err[128];
  const char *two = "  # the cluster's secrets\r\n\n current-secret-0123456789 \r\nnext-secret-0123456789\n";
  assert_int_equal(dyna_auth_keys_parse(two, strlen(two), &k, err, sizeof(err)), 0);
  assert_int_equal(k.n, 2);
  assert_int_equal(k.len[0], strlen("current-secret-0123456789"));
  assert_memory_equal(k.key[0], "current-secret-0123456789", k.len[0]);
  assert_memory_equal(k.key[1], "next-secret-0123456789", k.len[1]);
  const char *bad[] = {"", "\n# only a comment\n", "short\n", "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb\ncccccccccccccccc\n"};
  const char *why[] = {"no secret", "no secret", "secret 1 is 5 bytes", "more than two"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(dyna_auth_keys_parse(bad[i], strlen(bad[i]), &k, err, sizeof(err)), -1);
    if (!strstr(err, why[i])) fail_msg("'%s': %s", bad[i], err);
    assert_int_equal(k.n, 0);
  }
  assert_int_equal(dyna_auth_keys_load("/nonexistent/secret", &k, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "No such file"));
}

static void test_hello_and_stream(void **state) {
  (void)state;
  uint8_t nonce[DYNA_AUTH_NONCE] = {1};
  const uint8_t *got;
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_HELLO;
  m.flags = DYNA_WIRE_MAGIC;
  assert_null(dyna_auth_check_hello(&m, 0, &got));         /* neither has a secret */
  assert_non_null(dyna_auth_check_hello(&m, 1, &got));     /* the peer has none */
  m.flags |= DYNA_HELLO_AUTH;
  assert_non_null(dyna_auth_check_hello(&m, 0, &got));     /* we have none */
  assert_non_null(dyna_auth_check_hello(&m, 1, &got));     /* no nonce */
  m.obj = nonce;
  m.objlen = DYNA_AUTH_NONCE;
  assert_null(dyna_auth_check_hello(&m, 1, &got));
  assert_ptr_equal(got, nonce);
  /* HELLO with a nonce and AUTH go through the wire codec */
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_msg_t back;
  dyna_wire_encode(&m, &b);
  assert_int_equal(dyna_wire_decode(b.data, b.len, &back), 0);
  assert_int_equal(back.objlen, DYNA_AUTH_NONCE);
  dyna_buf_reset(&b);
  uint8_t proof[DYNA_AUTH_PROOF];
  memset(proof, 7, sizeof(proof));
  dyna_auth_encode_proof(proof, &b);
  const uint8_t *pp;
  assert_int_equal(dyna_auth_decode_proof(b.data, b.len, &pp), 0);
  assert_memory_equal(pp, proof, DYNA_AUTH_PROOF);
  b.data[b.len - 4] ^= 1; /* the proof's last byte (ctx, val and w follow): still decodes */
  assert_int_equal(dyna_auth_decode_proof(b.data, b.len, &pp), 0);
  assert_int_equal(dyna_auth_decode_proof(b.data, b.len - 1, &pp), DYNA_EPROTO);
  /* a tagged stream: the frame is whole only with its tag */
  size_t flen;
  ping(&b, 1);
  size_t whole = b.len;
  uint8_t zeros[DYNA_AUTH_TAG] = {0};
  dyna_buf_put(&b, zeros, sizeof(zeros));
  assert_int_equal(dyna_auth_frame(b.data, whole, 1 << 20, &flen), DYNA_EAGAIN);
  assert_int_equal(dyna_auth_frame(b.data, b.len - 1, 1 << 20, &flen), DYNA_EAGAIN);
  assert_int_equal(dyna_auth_frame(b.data, b.len, 1 << 20, &flen), 0);
  assert_int_equal(flen, whole);
  assert_int_equal(dyna_auth_frame(b.data, b.len, 4, &flen), DYNA_ETOOBIG);
  dyna_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_frames), cmocka_unit_test(test_layout_pinned),
      cmocka_unit_test(test_wrong_secret),         cmocka_unit_test(test_altered_bytes),
      cmocka_unit_test(test_replay_and_order),     cmocka_unit_test(test_reflection),
      cmocka_unit_test(test_rotation),             cmocka_unit_test(test_secret_file),
      cmocka_unit_test(test_hello_and_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
