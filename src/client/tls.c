/* tls.c: libdyna's TLS (OpenSSL on the connection's own non-blocking socket): the
 * context made from the caller's dyna_tls_options_t, the handshake when a connection
 * opens (bounded by the connect timeout), and the send/recv that client.c uses in place
 * of send(2)/recv(2) on a TLS connection. Always verifies the server: its certificate
 * must chain to the CA file (or the system's CAs when none is given) and name the host
 * connected to (IP address or DNS name), as redis-cli --tls does. */
#include "client/client_int.h"
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

static void last_error(const char *what, char *err, size_t n) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  snprintf(err, n, "%s%s%s", what, r ? ": " : "", r ? r : "");
  ERR_clear_error();
}

void *dyna_ctls_ctx_new(const dyna_tls_options_t *o, char *err, size_t n) {
  ERR_clear_error();
  SSL_CTX *x = SSL_CTX_new(TLS_client_method());
  if (!x) {
    last_error("TLS: cannot create a context", err, n);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
  SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
  int ok = o->cacert && o->cacert[0] ? SSL_CTX_load_verify_locations(x, o->cacert, NULL)
                                     : SSL_CTX_set_default_verify_paths(x);
  char what[600];
  if (ok != 1) {
    snprintf(what, sizeof(what), "TLS: cannot load the CA certificates %.500s", o->cacert ? o->cacert : "");
    goto fail;
  }
  if ((o->cert && o->cert[0]) != (o->key && o->key[0])) {
    snprintf(err, n, "TLS: a client certificate needs its key, and a key its certificate");
    SSL_CTX_free(x);
    return NULL;
  }
  if (o->cert && o->cert[0]) {
    snprintf(what, sizeof(what), "TLS: cannot load the certificate %.500s", o->cert);
    if (SSL_CTX_use_certificate_chain_file(x, o->cert) != 1) goto fail;
    snprintf(what, sizeof(what), "TLS: cannot load the key %.500s", o->key);
    if (SSL_CTX_use_PrivateKey_file(x, o->key, SSL_FILETYPE_PEM) != 1) goto fail;
    if (SSL_CTX_check_private_key(x) != 1) goto fail;
  }
  return x;
fail:
  last_error(what, err, n);
  SSL_CTX_free(x);
  return NULL;
}

void dyna_ctls_ctx_free(void *ctx) { SSL_CTX_free(ctx); }

void *dyna_ctls_connect(void *ctx, int fd, const char *host, const char *sni, int timeout_ms,
                        char *err, size_t n) {
  ERR_clear_error();
  SSL *s = SSL_new(ctx);
  if (!s || SSL_set_fd(s, fd) != 1) {
    last_error("TLS: cannot start a session", err, n);
    SSL_free(s);
    return NULL;
  }
  const char *name = sni && sni[0] ? sni : host;
  X509_VERIFY_PARAM *param = SSL_get0_param(s);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) { /* not an IP: a DNS name */
    ERR_clear_error();
    X509_VERIFY_PARAM_set1_host(param, name, 0);
    SSL_set_tlsext_host_name(s, name);
  }
  SSL_set_connect_state(s);
  uint64_t end = dyna_client_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    int r = SSL_do_handshake(s);
    if (r == 1) return s;
    int e = SSL_get_error(s, r);
    uint64_t now = dyna_client_now_ns();
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && now < end) {
      struct pollfd p = {fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0};
      int pr = poll(&p, 1, (int)((end - now + 999999) / 1000000));
      if (pr >= 0 || errno == EINTR) continue;
    }
    long vr = SSL_get_verify_result(s);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      snprintf(err, n, "TLS handshake: no answer within %d ms", timeout_ms);
    else if (vr != X509_V_OK)
      snprintf(err, n, "TLS: server certificate refused: %s", X509_verify_cert_error_string(vr));
    else if (ERR_peek_last_error())
      last_error("TLS handshake failed", err, n);
    else
      snprintf(err, n, "TLS handshake failed: connection closed by server");
    ERR_clear_error();
    SSL_free(s);
    return NULL;
  }
}

void dyna_ctls_free(void *ssl) { SSL_free(ssl); }

/* Why the last send or recv on this thread failed (dyna_ctls_error). */
static _Thread_local char io_why[160];

const char *dyna_ctls_error(void) { return io_why; }

/* SSL_ERROR_* to send(2)/recv(2)'s way of saying it: -1 with errno (and io_why). */
static ssize_t io_error(SSL *s, int r) {
  int e = SSL_get_error(s, r);
  unsigned long code = ERR_peek_last_error();
  const char *reason = code ? ERR_reason_error_string(code) : NULL;
  snprintf(io_why, sizeof(io_why), "TLS: %s", reason ? reason : e == SSL_ERROR_ZERO_RETURN ? "closed by server" : "connection lost");
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) errno = EAGAIN;
  else if (e == SSL_ERROR_ZERO_RETURN) return 0;
  else if (e != SSL_ERROR_SYSCALL || !errno) errno = EPROTO;
  return -1;
}

ssize_t dyna_ctls_send(void *ssl, const void *p, size_t n) {
  if (n > (1u << 30)) n = 1u << 30;
  ERR_clear_error();
  int r = SSL_write(ssl, p, (int)n);
  return r > 0 ? r : io_error(ssl, r);
}

ssize_t dyna_ctls_recv(void *ssl, void *p, size_t n) {
  if (n > (1u << 30)) n = 1u << 30;
  ERR_clear_error();
  int r = SSL_read(ssl, p, (int)n);
  return r > 0 ? r : io_error(ssl, r);
}
