/* test_tls.c: dynad's TLS transport (runtime/tls.c) with no socket: a server and a client
 * stream wired buffer to buffer, with certificates made here (EC P-256, a CA and leaf
 * certificates signed by it). The handshake completes and data crosses both ways, sealed
 * in order, including more than one record; plaintext queued before the handshake waits;
 * a client with no certificate, with one of another CA, and a server whose certificate
 * does not name the IP dialled are refused with the reason; a plaintext peer is refused
 * at once and sent no alert; a bad record after the handshake is refused. */
#include "runtime/tls.h"
#include "util/buf.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[512];

static void path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Adds extension nid with value to x, issued by issuer. */
static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  assert_non_null(e);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

/* A certificate for cn with key, signed by ca_key (self-signed when ca is NULL); san:
 * subjectAltName or NULL. Written as NAME.crt / NAME.key; the key and cert returned. */
static X509 *make_cert(const char *name, const char *cn, int is_ca, const char *san, X509 *ca,
                       EVP_PKEY *ca_key, EVP_PKEY **key_out) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  assert_non_null(key);
  X509 *x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff) + 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME *nm = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : nm);
  add_ext(x, ca ? ca : x, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san) add_ext(x, ca ? ca : x, NID_subject_alt_name, san);
  assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
  char p[600];
  snprintf(p, sizeof(p), "%s/%s.crt", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  PEM_write_X509(f, x);
  fclose(f);
  snprintf(p, sizeof(p), "%s/%s.key", dir, name);
  f = fopen(p, "w");
  assert_non_null(f);
  PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  *key_out = key;
  return x;
}

static int setup(void **state) {
  (void)state;
  const char *t = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/dyna-tls-XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(dir));
  EVP_PKEY *cak, *k, *ok, *ocak;
  X509 *ca = make_cert("ca", "test CA", 1, NULL, NULL, NULL, &cak);
  X509_free(make_cert("node", "node", 0, "IP:127.0.0.1,DNS:node", ca, cak, &k));
  EVP_PKEY_free(k);
  X509_free(make_cert("client", "client", 0, NULL, ca, cak, &k));
  EVP_PKEY_free(k);
  X509 *oca = make_cert("otherca", "other CA", 1, NULL, NULL, NULL, &ocak);
  X509_free(make_cert("stranger", "stranger", 0, "IP:127.0.0.1", oca, ocak, &ok));
  EVP_PKEY_free(ok);
  X509_free(oca);
  EVP_PKEY_free(ocak);
  X509_free(ca);
  EVP_PKEY_free(cak);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  static const char *names[] = {"ca", "node", "client", "otherca", "stranger"};
  char p[600];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s.crt", dir, names[i]);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s.key", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  return 0;
}

static dyna_tls_ctx_t *ctx(int server, const char *cert, const char *ca, dyna_tls_peer_t peer) {
  char c[600] = "", k[600] = "", a[600] = "", err[256] = "";
  if (cert) {
    snprintf(c, sizeof(c), "%s/%s.crt", dir, cert);
    snprintf(k, sizeof(k), "%s/%s.key", dir, cert);
  }
  if (ca) snprintf(a, sizeof(a), "%s/%s.crt", dir, ca);
  dyna_tls_ctx_t *x = dyna_tls_ctx_new(server, c, k, a, peer, err, sizeof(err));
  if (!x) fail_msg("context: %s", err);
  return x;
}

/* The two ends of one stream and what each has received (plain) and must send (sealed). */
typedef struct {
  dyna_tls_t *s, *c;
  dyna_buf_t s_in, c_in, s_out, c_out; /* plaintext received */
  dyna_buf_t s_seal, c_seal;           /* ciphertext to send */
  int s_rc, c_rc;
  char s_why[192], c_why[192];
} pair_t;

/* Moves ciphertext both ways until neither side has anything to send or one failed. */
static void pump(pair_t *p) {
  for (int i = 0; i < 100 && (p->c_seal.len || p->s_seal.len) && !p->s_rc && !p->c_rc; i++) {
    if (dyna_tls_seal(p->c, &p->c_out, &p->c_seal) || dyna_tls_seal(p->s, &p->s_out, &p->s_seal))
      fail_msg("seal failed");
    if (p->c_seal.len) {
      dyna_buf_t b = p->c_seal;
      dyna_buf_init(&p->c_seal);
      p->s_rc = dyna_tls_recv(p->s, b.data, b.len, &p->s_in, &p->s_seal, p->s_why, sizeof(p->s_why));
      dyna_buf_free(&b);
    }
    if (p->s_seal.len && !p->s_rc) {
      dyna_buf_t b = p->s_seal;
      dyna_buf_init(&p->s_seal);
      p->c_rc = dyna_tls_recv(p->c, b.data, b.len, &p->c_in, &p->c_seal, p->c_why, sizeof(p->c_why));
      dyna_buf_free(&b);
    }
    if (!p->s_rc && !p->c_rc) {
      if (dyna_tls_seal(p->c, &p->c_out, &p->c_seal) || dyna_tls_seal(p->s, &p->s_out, &p->s_seal))
        fail_msg("seal failed");
    }
  }
}

static void pair_start(pair_t *p, dyna_tls_ctx_t *sx, dyna_tls_ctx_t *cx, const char *ip) {
  memset(p, 0, sizeof(*p));
  p->s = dyna_tls_new(sx, NULL);
  p->c = dyna_tls_new(cx, ip);
  assert_non_null(p->s);
  assert_non_null(p->c);
  char why[192];
  assert_int_equal(dyna_tls_start(p->c, &p->c_seal, why, sizeof(why)), 0);
  assert_true(p->c_seal.len > 0); /* the ClientHello */
  pump(p);
}

static void pair_free(pair_t *p) {
  dyna_tls_free(p->s);
  dyna_tls_free(p->c);
  dyna_buf_t *b[] = {&p->s_in, &p->c_in, &p->s_out, &p->c_out, &p->s_seal, &p->c_seal};
  for (size_t i = 0; i < 6; i++) dyna_buf_free(b[i]);
}

static void test_round_trip(void **state) {
  (void)state;
  dyna_tls_ctx_t *sx = ctx(1, "node", "ca", DYNA_TLS_PEER_REQUIRE), *cx = ctx(0, "client", "ca", 0);
  pair_t p;
  memset(&p, 0, sizeof(p));
  p.s = dyna_tls_new(sx, NULL);
  p.c = dyna_tls_new(cx, "127.0.0.1");
  char why[192];
  /* queued before the handshake: sealing leaves it where it is */
  dyna_buf_put(&p.c_out, "HELLO", 5);
  assert_int_equal(dyna_tls_seal(p.c, &p.c_out, &p.c_seal), 0);
  assert_int_equal(p.c_out.len, 5);
  assert_int_equal(p.c_seal.len, 0);
  assert_int_equal(dyna_tls_start(p.c, &p.c_seal, why, sizeof(why)), 0);
  pump(&p);
  assert_int_equal(p.s_rc, 0);
  assert_int_equal(p.c_rc, 0);
  assert_true(dyna_tls_ready(p.s) && dyna_tls_ready(p.c));
  assert_int_equal(p.s_in.len, 5); /* the early bytes, once the handshake was done */
  assert_memory_equal(p.s_in.data, "HELLO", 5);
  /* 100 KB each way: several records, in order */
  size_t n = 100000;
  uint8_t *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7 + 3);
  dyna_buf_put(&p.s_out, big, n);
  dyna_buf_put(&p.c_out, big, n);
  assert_int_equal(dyna_tls_seal(p.s, &p.s_out, &p.s_seal), 0);
  assert_int_equal(p.s_out.len, 0);
  assert_true(p.s_seal.len > n); /* ciphertext: the data and its records' overhead */
  assert_int_equal(dyna_tls_seal(p.c, &p.c_out, &p.c_seal), 0);
  pump(&p);
  assert_int_equal(p.c_in.len, n);
  assert_memory_equal(p.c_in.data, big, n);
  assert_int_equal(p.s_in.len, 5 + n);
  assert_memory_equal(p.s_in.data + 5, big, n);
  free(big);
  /* a flipped byte in a record: refused, with a reason */
  dyna_buf_put(&p.c_out, "x", 1);
  assert_int_equal(dyna_tls_seal(p.c, &p.c_out, &p.c_seal), 0);
  p.c_seal.data[p.c_seal.len - 1] ^= 1;
  p.s_rc = dyna_tls_recv(p.s, p.c_seal.data, p.c_seal.len, &p.s_in, &p.s_seal, p.s_why, sizeof(p.s_why));
  assert_int_equal(p.s_rc, -1);
  assert_true(p.s_why[0]);
  pair_free(&p);
  dyna_tls_ctx_free(sx);
  dyna_tls_ctx_free(cx);
}

/* Runs a handshake; returns the side that refused (the server's reason in s_why). */
static void refused(const char *server_cert, dyna_tls_peer_t peer, const char *client_cert,
                    const char *ip, const char *want) {
  dyna_tls_ctx_t *sx = ctx(1, server_cert, "ca", peer), *cx = ctx(0, client_cert, "ca", 0);
  pair_t p;
  pair_start(&p, sx, cx, ip);
  const char *why = p.s_rc < 0 ? p.s_why : p.c_why;
  if (!(p.s_rc < 0 || p.c_rc < 0)) fail_msg("handshake with %s succeeded", client_cert ? client_cert : "no cert");
  if (!strstr(why, want)) fail_msg("reason '%s', want '%s'", why, want);
  assert_int_equal(p.s_in.len, 0);
  pair_free(&p);
  dyna_tls_ctx_free(sx);
  dyna_tls_ctx_free(cx);
}

static void test_refusals(void **state) {
  (void)state;
  refused("node", DYNA_TLS_PEER_REQUIRE, NULL, "127.0.0.1", "certificate");
  refused("node", DYNA_TLS_PEER_REQUIRE, "stranger", "127.0.0.1", "unable to get local issuer");
  refused("node", DYNA_TLS_PEER_OPTIONAL, "stranger", "127.0.0.1", "unable to get local issuer");
  refused("node", DYNA_TLS_PEER_NONE, NULL, "127.0.0.2", "IP address mismatch");
  refused("stranger", DYNA_TLS_PEER_NONE, NULL, "127.0.0.1", "unable to get local issuer");
}

static void test_optional_and_none(void **state) {
  (void)state;
  dyna_tls_peer_t modes[] = {DYNA_TLS_PEER_OPTIONAL, DYNA_TLS_PEER_NONE};
  for (size_t i = 0; i < 2; i++) {
    dyna_tls_ctx_t *sx = ctx(1, "node", "ca", modes[i]), *cx = ctx(0, NULL, "ca", 0);
    pair_t p;
    pair_start(&p, sx, cx, "127.0.0.1");
    assert_int_equal(p.s_rc, 0);
    assert_int_equal(p.c_rc, 0);
    assert_true(dyna_tls_ready(p.s) && dyna_tls_ready(p.c));
    pair_free(&p);
    dyna_tls_ctx_free(sx);
    dyna_tls_ctx_free(cx);
  }
}

static void test_plaintext_peer(void **state) {
  (void)state;
  dyna_tls_ctx_t *sx = ctx(1, "node", "ca", DYNA_TLS_PEER_REQUIRE);
  dyna_tls_t *s = dyna_tls_new(sx, NULL);
  dyna_buf_t in = DYNA_BUF_INIT, out = DYNA_BUF_INIT;
  char why[192] = "";
  static const char ping[] = "*1\r\n$4\r\nPING\r\n";
  assert_int_equal(dyna_tls_recv(s, (const uint8_t *)ping, sizeof(ping) - 1, &in, &out, why, sizeof(why)), -1);
  assert_non_null(strstr(why, "wrong version number"));
  assert_int_equal(in.len, 0);
  assert_int_equal(out.len, 0); /* no alert for a peer that does not speak TLS */
  dyna_tls_free(s);
  /* a record that is not a handshake first (OpenSSL would answer with an alert) */
  s = dyna_tls_new(sx, NULL);
  static const uint8_t data_record[] = {23, 3, 3, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  assert_int_equal(dyna_tls_recv(s, data_record, sizeof(data_record), &in, &out, why, sizeof(why)), -1);
  assert_true(why[0]);
  assert_int_equal(in.len, 0);
  assert_int_equal(out.len, 0);
  dyna_tls_free(s);
  dyna_buf_free(&in);
  dyna_buf_free(&out);
  dyna_tls_ctx_free(sx);
}

static void test_bad_files(void **state) {
  (void)state;
  char err[256] = "", c[600], k[600], a[600];
  path(c, sizeof(c), "node.crt");
  path(k, sizeof(k), "client.key"); /* another certificate's key */
  path(a, sizeof(a), "ca.crt");
  assert_null(dyna_tls_ctx_new(1, c, k, a, DYNA_TLS_PEER_REQUIRE, err, sizeof(err)));
  if (!strstr(err, "private key")) fail_msg("error: %s", err);
  path(c, sizeof(c), "missing.crt");
  assert_null(dyna_tls_ctx_new(1, c, k, a, DYNA_TLS_PEER_REQUIRE, err, sizeof(err)));
  assert_non_null(strstr(err, "missing.crt"));
  path(c, sizeof(c), "node.crt");
  path(k, sizeof(k), "node.key");
  assert_null(dyna_tls_ctx_new(1, c, k, "", DYNA_TLS_PEER_REQUIRE, err, sizeof(err)));
  assert_non_null(strstr(err, "tls-ca-cert-file"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_optional_and_none), cmocka_unit_test(test_plaintext_peer),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
