/* tls.c: dynad's TLS transport over OpenSSL memory BIOs (see tls.h): contexts made from
 * the certificate files, and per stream the SSL object that turns ciphertext read by
 * libuv into plaintext and plaintext to send into ciphertext for libuv to write. */
#include "runtime/tls.h"
#include "util/alloc.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

struct dyna_tls_ctx {
  SSL_CTX *ssl; /* owned */
  int server;
};

struct dyna_tls {
  SSL *ssl;     /* owned; owns both BIOs */
  BIO *rb, *wb; /* read BIO: ciphertext in; write BIO: ciphertext out */
  int first;    /* the first byte the peer sent + 1 (0: none yet) */
};

/* A TLS stream starts with a handshake record (content type 22). */
#define TLS_HANDSHAKE_RECORD 22

/* The largest SSL_read / SSL_write at once (their length is an int). */
#define IO_MAX (1u << 20)

/* The last OpenSSL error on this thread as text ("" when none), and clears the queue. */
static void ssl_reason(char *out, size_t cap) {
  unsigned long e = ERR_peek_last_error();
  out[0] = 0;
  if (e) {
    const char *r = ERR_reason_error_string(e);
    if (r) snprintf(out, cap, "%s", r);
    else ERR_error_string_n(e, out, cap);
  }
  ERR_clear_error();
}

static dyna_tls_ctx_t *ctx_fail(SSL_CTX *x, const char *what, const char *file, char *err, size_t errlen) {
  char r[160];
  ssl_reason(r, sizeof(r));
  snprintf(err, errlen, "TLS: cannot %s %s: %s", what, file, r[0] ? r : "unknown error");
  SSL_CTX_free(x);
  return NULL;
}

dyna_tls_ctx_t *dyna_tls_ctx_new(int server, const char *cert_file, const char *key_file,
                                 const char *ca_file, dyna_tls_peer_t peer, char *err, size_t errlen) {
  ERR_clear_error();
  SSL_CTX *x = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!x) return ctx_fail(NULL, "create a", "context", err, errlen);
  SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
  /* No resumption: each connection is verified in full (and a server that verifies
   * clients would otherwise need a session id context). */
  SSL_CTX_set_options(x, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
  if (cert_file && cert_file[0]) {
    if (SSL_CTX_use_certificate_chain_file(x, cert_file) != 1)
      return ctx_fail(x, "load the certificate", cert_file, err, errlen);
    if (SSL_CTX_use_PrivateKey_file(x, key_file, SSL_FILETYPE_PEM) != 1)
      return ctx_fail(x, "load the private key", key_file, err, errlen);
    if (SSL_CTX_check_private_key(x) != 1)
      return ctx_fail(x, "match the private key with the certificate in", cert_file, err, errlen);
  }
  if (!server) peer = DYNA_TLS_PEER_REQUIRE; /* a dialler always verifies the server */
  if (peer != DYNA_TLS_PEER_NONE) {
    if (!ca_file || !ca_file[0]) {
      snprintf(err, errlen, "TLS: verifying peers needs a CA certificate file (tls-ca-cert-file)");
      SSL_CTX_free(x);
      return NULL;
    }
    if (SSL_CTX_load_verify_locations(x, ca_file, NULL) != 1)
      return ctx_fail(x, "load the CA certificates", ca_file, err, errlen);
    if (server) {
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
      if (names) SSL_CTX_set_client_CA_list(x, names); /* takes names */
    }
  }
  int mode = SSL_VERIFY_NONE;
  if (peer == DYNA_TLS_PEER_REQUIRE) mode = SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  if (peer == DYNA_TLS_PEER_OPTIONAL) mode = SSL_VERIFY_PEER;
  SSL_CTX_set_verify(x, mode, NULL);
  dyna_tls_ctx_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) {
    SSL_CTX_free(x);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  c->ssl = x;
  c->server = server;
  return c;
}

void dyna_tls_ctx_free(dyna_tls_ctx_t *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl);
  dyna_free(ctx);
}

dyna_tls_t *dyna_tls_new(dyna_tls_ctx_t *ctx, const char *expect_ip) {
  dyna_tls_t *t = dyna_calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->ssl = SSL_new(ctx->ssl);
  t->rb = BIO_new(BIO_s_mem());
  t->wb = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rb || !t->wb) {
    BIO_free(t->rb);
    BIO_free(t->wb);
    SSL_free(t->ssl);
    dyna_free(t);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_mem_eof_return(t->rb, -1); /* empty means "wait for more", not end of stream */
  SSL_set_bio(t->ssl, t->rb, t->wb); /* the SSL owns both now */
  if (ctx->server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (expect_ip && expect_ip[0] &&
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), expect_ip) != 1) {
      dyna_tls_free(t); /* not an IP literal: refuse rather than skip the check */
      ERR_clear_error();
      return NULL;
    }
  }
  return t;
}

void dyna_tls_free(dyna_tls_t *t) {
  if (!t) return;
  SSL_free(t->ssl);
  dyna_free(t);
}

int dyna_tls_ready(const dyna_tls_t *t) { return SSL_is_init_finished(t->ssl); }

int dyna_tls_peer_has_ip(const dyna_tls_t *t, const char *ip) {
  X509 *cert = SSL_get0_peer_certificate(t->ssl);
  int ok = cert && SSL_get_verify_result(t->ssl) == X509_V_OK && X509_check_ip_asc(cert, ip, 0) == 1;
  ERR_clear_error();
  return ok;
}

/* Moves what OpenSSL wrote into the write BIO to sealed. */
static int drain(dyna_tls_t *t, dyna_buf_t *sealed) {
  size_t pending;
  while ((pending = BIO_ctrl_pending(t->wb)) > 0) {
    if (pending > IO_MAX) pending = IO_MAX;
    if (dyna_buf_reserve(sealed, pending)) return -1;
    int n = BIO_read(t->wb, sealed->data + sealed->len, (int)pending);
    if (n <= 0) break;
    sealed->len += (size_t)n;
  }
  return 0;
}

/* Why the session failed: the certificate check's verdict if it refused one, else
 * OpenSSL's reason ("wrong version number" for a plaintext client, an alert the peer
 * sent, ...). */
static void fail_reason(dyna_tls_t *t, int ssl_err, char *why, size_t whylen) {
  long vr = SSL_get_verify_result(t->ssl);
  char r[160];
  ssl_reason(r, sizeof(r));
  if (vr != X509_V_OK) snprintf(why, whylen, "certificate refused: %s", X509_verify_cert_error_string(vr));
  else if (r[0]) snprintf(why, whylen, "%s%s", SSL_is_init_finished(t->ssl) ? "" : "handshake failed: ", r);
  else if (ssl_err == SSL_ERROR_SYSCALL) snprintf(why, whylen, "unexpected end of TLS stream");
  else snprintf(why, whylen, "TLS error %d", ssl_err);
}

int dyna_tls_start(dyna_tls_t *t, dyna_buf_t *sealed, char *why, size_t whylen) {
  ERR_clear_error();
  int r = SSL_do_handshake(t->ssl);
  int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
  if (drain(t, sealed)) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  if (e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ) return 0;
  fail_reason(t, e, why, whylen);
  return -1;
}

int dyna_tls_recv(dyna_tls_t *t, const uint8_t *data, size_t n, dyna_buf_t *plain,
                  dyna_buf_t *sealed, char *why, size_t whylen) {
  ERR_clear_error();
  if (!t->first && n) t->first = data[0] + 1;
  for (size_t off = 0; off < n;) {
    size_t k = n - off > IO_MAX ? IO_MAX : n - off;
    int w = BIO_write(t->rb, data + off, (int)k);
    if (w <= 0) {
      snprintf(why, whylen, "out of memory");
      return -1;
    }
    off += (size_t)w;
  }
  int rc = 0;
  if (!SSL_is_init_finished(t->ssl)) {
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      int e = SSL_get_error(t->ssl, r);
      if (e != SSL_ERROR_WANT_READ) {
        fail_reason(t, e, why, whylen);
        rc = -1;
      }
      goto out;
    }
  }
  for (;;) {
    if (dyna_buf_reserve(plain, 16 * 1024)) {
      snprintf(why, whylen, "out of memory");
      rc = -1;
      break;
    }
    size_t room = plain->cap - plain->len;
    int r = SSL_read(t->ssl, plain->data + plain->len, (int)(room > IO_MAX ? IO_MAX : room));
    if (r > 0) {
      plain->len += (size_t)r;
      continue;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      rc = 1;
      break;
    }
    fail_reason(t, e, why, whylen);
    rc = -1;
    break;
  }
out:
  if (rc < 0 && t->first != TLS_HANDSHAKE_RECORD + 1) return rc; /* not TLS at all: no alert */
  if (drain(t, sealed) && rc == 0) {
    snprintf(why, whylen, "out of memory");
    rc = -1;
  }
  return rc;
}

int dyna_tls_seal(dyna_tls_t *t, dyna_buf_t *plain, dyna_buf_t *sealed) {
  if (!plain->len || !SSL_is_init_finished(t->ssl)) return 0;
  ERR_clear_error();
  for (size_t off = 0; off < plain->len;) {
    size_t k = plain->len - off > IO_MAX ? IO_MAX : plain->len - off;
    int r = SSL_write(t->ssl, plain->data + off, (int)k);
    if (r <= 0) {
      ERR_clear_error();
      return -1;
    }
    off += (size_t)r;
    if (drain(t, sealed)) return -1;
  }
  dyna_buf_reset(plain);
  return 0;
}

uv_buf_t dyna_tls_read_buf(void) {
  static char buf[64 * 1024];
  return uv_buf_init(buf, sizeof(buf));
}
