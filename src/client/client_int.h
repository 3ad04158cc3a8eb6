/* client_int.h: libdyna internals shared by its files and its unit tests (not public API:
 * the CLI, the bench and the examples use include/dyna.h only).
 *
 * Structure of a client:
 *
 *   dyna_client ── nodes[]: one per known address (seeds first, then ring members)
 *        │            └─ conns[]: up to conns_per_node TCP connections, opened on demand
 *        │                   each: out buffer (encoded commands not yet sent)
 *        │                         FIFO of requests awaiting replies (RESP is in order)
 *        │                         in buffer (bytes received, not yet parsed)
 *        └─ ring: the last DYNA.RING adopted (partition -> member indexes) and
 *                 ring_node[member index] -> node
 *
 * A request (dyna_creq_t) lives from submit until its callback returned; then it goes to
 * a free list for reuse. */
#ifndef DYNA_CLIENT_INT_H
#define DYNA_CLIENT_INT_H
#include "util/buf.h"
#include "dyna.h"
#include "proto/resp.h"
#include "proto/ring_reply.h"
#include "proto/words.h"
#include <stdint.h>
#include <sys/types.h>

/* ---- the ring as a client sees it (routing.c, pure) ---- */

/* The last DYNA.RING reply adopted: its layout, decoder (dyna_ring_reply_decode) and
 * dyna_ring_reply_free are defined once, in src/proto/ring_reply.h, beside the encoder
 * the server answers with. */
typedef dyna_ring_reply_t dyna_cring_t;
/* Partition of key in r. */
uint32_t dyna_cring_partition(const dyna_cring_t *r, const void *key, size_t klen);
/* The key's preference list: *idx points to its member indexes; returns their count. */
size_t dyna_cring_prefs(const dyna_cring_t *r, const void *key, size_t klen,
                        const uint16_t **idx);
/* Splits "host:port" or "[v6]:port"; returns 0 or DYNA_EINVAL. */
int dyna_addr_split(const char *addr, char *host, size_t hsize, int *port);

/* ---- requests and connections (client.c) ---- */

enum { DYNA_CREQ_GET = 1, DYNA_CREQ_PUT, DYNA_CREQ_DEL, DYNA_CREQ_CMD, DYNA_CREQ_RAW,
       DYNA_CREQ_RING };

typedef struct dyna_creq dyna_creq_t;
struct dyna_creq {
  dyna_creq_t *next;         /* FIFO on its connection, or the free list */
  int kind;                  /* DYNA_CREQ_* */
  uint64_t start_ns;
  uint64_t deadline_ns;
  dyna_callback_t cb;        /* user callback (GET/PUT/DEL/CMD) */
  void *arg;
  dyna_resp_value_t *raw_out; /* RAW: where the reply tree goes */
  int *raw_status;            /* RAW, RING: where the status goes */
  int *raw_done;
};

typedef struct dyna_cnode dyna_cnode_t;

typedef struct dyna_cconn {
  int fd;                    /* -1 when closed */
  void *tls;                 /* its TLS session (tls.c; owned), NULL on a plain connection */
  int readable;              /* epoll saw bytes (or EOF/error) not read yet */
  dyna_cnode_t *node;
  dyna_buf_t in;             /* received, not yet parsed */
  dyna_buf_t out;            /* encoded commands; out_off of them already sent */
  size_t out_off;
  dyna_creq_t *head, *tail;  /* awaiting replies, oldest first */
  size_t npending;
} dyna_cconn_t;

struct dyna_cnode {
  char host[256];
  int port;
  char addr[272];            /* "host:port" as given (seed) or advertised (ring) */
  dyna_cconn_t **conns;      /* individually allocated: pointers stay valid */
  int nconns;
  uint64_t down_until_ns;    /* avoid until then after a failure */
  int seed;
};

/* Sends one command to the first reachable seed and reads its reply into *out (caller
 * frees with dyna_resp_value_free). A RESP error reply is returned as a value, with
 * status 0. Blocking; runs other requests' callbacks while it waits. */
int dyna_client_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, dyna_resp_value_t *out);
/* The same, routed by key (route, klen) to the key's preference list as the submit
 * calls are (route NULL: the first reachable seed, as dyna_client_command). */
int dyna_client_command_key(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                            const size_t *argl, const void *route, size_t klen,
                            dyna_resp_value_t *out);
/* Maps a RESP error text ("NOQUORUM ...") to a DYNA_E* code (proto/words.h) and records
 * it as errmsg. */
int dyna_client_remote_error(dyna_client_t *c, const dyna_resp_value_t *v);

/* Records msg as the detail of the last failure. */
void dyna_client_set_errmsg(dyna_client_t *c, const char *msg);

/* Queues one request of kind (argv encoded as a RESP command). route: key (klen) to route
 * by, or NULL for the first reachable seed. Returns 0 or DYNA_ECONN/DYNA_ENOMEM/
 * DYNA_EINVAL (nothing queued). Used by ops.c. */
int dyna_client_submit(dyna_client_t *c, dyna_creq_t *q, size_t argc,
                       const uint8_t *const *argv, const size_t *argl, const void *route,
                       size_t klen);
/* A fresh request (zeroed) or NULL. */
dyna_creq_t *dyna_creq_get(dyna_client_t *c);

/* Converts a [context, [values...]] reply into *out; 0, DYNA_EPROTO or DYNA_ENOMEM. */
int dyna_siblings_from_reply(const dyna_resp_value_t *v, dyna_siblings_t *out);

/* 1 while a callback of c runs. */
int dyna_client_in_callback(const dyna_client_t *c);

/* Monotonic clock in nanoseconds. */
uint64_t dyna_client_now_ns(void);

/* ---- TLS (tls.c): OpenSSL on the connection's socket; void * keeps it out of here ---- */

/* A client context from o (owned: dyna_ctls_ctx_free), or NULL with a reason in err. */
void *dyna_ctls_ctx_new(const dyna_tls_options_t *o, char *err, size_t n);
void dyna_ctls_ctx_free(void *ctx);
/* Runs the handshake on the connected non-blocking fd, verifying the server's
 * certificate against host (or sni), within timeout_ms. The session (owned:
 * dyna_ctls_free; the fd stays the caller's), or NULL with a reason in err. */
void *dyna_ctls_connect(void *ctx, int fd, const char *host, const char *sni, int timeout_ms,
                        char *err, size_t n);
void dyna_ctls_free(void *ssl);
/* As send(2)/recv(2) on a non-blocking socket: bytes moved, 0 (recv: the server closed),
 * or -1 with errno (EAGAIN: try again when the socket is ready). */
ssize_t dyna_ctls_send(void *ssl, const void *p, size_t n);
ssize_t dyna_ctls_recv(void *ssl, void *p, size_t n);
/* Why the last dyna_ctls_send/recv on this thread failed ("TLS: <OpenSSL's reason>"). */
const char *dyna_ctls_error(void);

#endif
