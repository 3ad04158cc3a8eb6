/* tls.h: dynad's TLS transport (OpenSSL with memory BIOs), used by the client
 * connections (conn.c) and the peer links (peer.c) that run TLS; plain ones never touch it.
 *
 * libuv owns the sockets; OpenSSL never sees one. Each TLS stream has an SSL object
 * between two memory BIOs:
 *
 *   socket ─uv read─▶ dyna_tls_recv ─▶ read BIO ─▶ SSL ─▶ plaintext (conn.in / link.in)
 *   plaintext (wq.out) ─▶ dyna_tls_seal ─▶ SSL ─▶ write BIO ─▶ sealed (wq.sealed) ─uv write─▶ socket
 *
 * Handshake records OpenSSL produces while reading go to `sealed` too; the caller
 * schedules a write when recv says so. Plaintext queued before the handshake is done
 * waits in wq.out (seal leaves it there) and counts toward the stream's output bound,
 * so back-pressure works as for plain streams. Everything read is decrypted at once:
 * the SSL object keeps at most one partial record.
 *
 * Contexts: one per role, made once at start from the certificate, key and CA files
 * (Redis's tls-* options, docs/security.md). TLS 1.2 is the least version accepted.
 * Single-threaded: every call runs on the event loop's thread. */
#ifndef DYNA_TLS_H
#define DYNA_TLS_H
#include "util/buf.h"
#include <stddef.h>
#include <uv.h>

typedef struct dyna_tls_ctx dyna_tls_ctx_t;
typedef struct dyna_tls dyna_tls_t;

/* Whom a server context asks for a certificate (tls-auth-clients). */
typedef enum {
  DYNA_TLS_PEER_NONE = 0, /* no: none asked for */
  DYNA_TLS_PEER_REQUIRE,  /* yes: a valid one is required (the cluster port: always) */
  DYNA_TLS_PEER_OPTIONAL  /* optional: if one is sent it must be valid */
} dyna_tls_peer_t;

/* A context for accepting (server != 0) or dialling streams, presenting the certificate
 * chain in cert_file with key_file, verifying peers against ca_file (may be "" when peer
 * is NONE on a server context). A client context always verifies the server. Returns the
 * context (owned by the caller: dyna_tls_ctx_free), or NULL with a reason in err. */
dyna_tls_ctx_t *dyna_tls_ctx_new(int server, const char *cert_file, const char *key_file,
                                 const char *ca_file, dyna_tls_peer_t peer, char *err, size_t errlen);
void dyna_tls_ctx_free(dyna_tls_ctx_t *ctx);

/* A TLS stream of ctx's role (owned by the caller: dyna_tls_free). A dialling stream
 * checks that the server's certificate names expect_ip (an IP literal; NULL: chain only).
 * NULL when out of memory. */
dyna_tls_t *dyna_tls_new(dyna_tls_ctx_t *ctx, const char *expect_ip);
void dyna_tls_free(dyna_tls_t *t);

/* Dialling side: puts the ClientHello into sealed. 0, or -1 with a reason in why. */
int dyna_tls_start(dyna_tls_t *t, dyna_buf_t *sealed, char *why, size_t whylen);

/* Feeds n bytes read from the socket: advances the handshake, appends the decrypted
 * bytes to plain and anything OpenSSL has to send (handshake, alerts) to sealed.
 * data must not point into plain. Returns 0, 1 when the peer closed the TLS session
 * (close_notify: treat as end of stream), or -1 with a reason in why (handshake
 * refused, bad record, out of memory): close the stream (after a best-effort send
 * of sealed, which may hold an alert; none is made for a peer that does not speak
 * TLS at all, such as a plaintext client on the TLS port: it sees a plain close). */
int dyna_tls_recv(dyna_tls_t *t, const uint8_t *data, size_t n, dyna_buf_t *plain,
                  dyna_buf_t *sealed, char *why, size_t whylen);

/* Encrypts all of plain into sealed and empties plain, once the handshake is done
 * (before that, leaves plain as it is). 0, or -1 on failure (out of memory). */
int dyna_tls_seal(dyna_tls_t *t, dyna_buf_t *plain, dyna_buf_t *sealed);

/* 1 once the handshake is complete. */
int dyna_tls_ready(const dyna_tls_t *t);

/* 1 when the peer presented a certificate (verified in the handshake) that names the IP
 * literal ip in its subjectAltName; 0 otherwise (none, another address, not an IP). */
int dyna_tls_peer_has_ip(const dyna_tls_t *t, const char *ip);

/* Where libuv reads a TLS stream's ciphertext: one buffer shared by every TLS stream
 * (the loop hands it to one read callback at a time, which feeds it to recv at once). */
uv_buf_t dyna_tls_read_buf(void);

#endif
