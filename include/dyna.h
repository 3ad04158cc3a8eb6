/* dyna.h: libdyna, the C client library of Dyna.
 *
 * A client (dyna_client_t) talks RESP2 to the nodes of one Dyna cluster. It can be used
 * two ways, freely mixed on one client from one thread:
 *
 *   blocking      dyna_get / dyna_put / dyna_del / dyna_ping: send one request and wait
 *                 for its answer (at most the client's timeout).
 *   asynchronous  dyna_submit_get / _put / _del / _command queue a request and return at
 *                 once; dyna_poll / dyna_wait do the I/O and run each request's callback
 *                 when its answer arrives. Any number of requests may be in flight on
 *                 one connection (pipelining), so one thread can drive a whole cluster.
 *
 * Routing. A client opened on a list of seeds (dyna_client_open) fetches the cluster's
 * partition map (DYNA.RING), hashes each key itself (xxHash3-64, top log2(Q) bits, as the
 * nodes do) and sends the request straight to the first reachable node of the key's
 * preference list, which then coordinates it without a forwarding hop (the Dynamo paper's
 * client-driven coordination). It fetches the map again every ring_refresh_ms, and at once
 * after a connection error, a timeout or a -BUSY answer; a node that failed is avoided for
 * down_backoff_ms. While no map is known (or with DYNA_ROUTE_NONE) every request goes to
 * the first reachable seed. dyna_client_connect() is the one-node form: no routing.
 *
 *     .--------- client ----------.          partition p = top bits of xxh3(key)
 *     | submit(key) -> p -> pref  |          pref(p) = [n2, n3, n1]  (first N from the map)
 *     |   first reachable of pref |--RESP--> n2 coordinates: W acks, R answers
 *     |   conn FIFO: req req req  |<--------  replies come back in order per connection
 *     '---------------------------'
 *
 * Values and keys are binary-safe. A context is the opaque causal context (base64 text)
 * that a read returns: hand it back on the next write of the same key so that the write
 * supersedes exactly what you read; concurrent writes then become siblings instead of
 * overwriting each other. An empty or NULL context means "I read nothing".
 *
 * Errors: every int function returns 0 or a negative DYNA_E* code (dyna_err.h);
 * dyna_strerror() names the code and dyna_client_errmsg() gives the detail of the last
 * failure (the server's message, or the OS reason). DYNA_ENOQUORUM, DYNA_ETOOBIG,
 * DYNA_EBUSY, DYNA_ETIMEDOUT and DYNA_ECONTEXT may come from the server's reply;
 * DYNA_EREMOTE is any other server error; DYNA_ECONN means no node could be reached or a
 * connection broke; DYNA_ETIMEDOUT also means no answer within the client's timeout (the
 * connection is then closed, failing every request queued on it, and reopened on demand).
 * DYNA_EPROTO means a reply of the wrong shape. A request whose submit call failed never
 * runs its callback (as in libuv).
 *
 * Ownership: the caller owns what a blocking call returns through a pointer argument and
 * frees it with the function named at that call. Arguments are borrowed for the call only
 * (submit calls copy the key, value and context before returning). A dyna_result_t
 * handed to a callback belongs to the library and lives until the callback returns; the
 * callback may take over res->siblings or res->context (then it must clear them in res,
 * and free them later with dyna_siblings_free / dyna_str_free).
 *
 * Threads: a client is not thread-safe; use one client per thread (they share nothing).
 * Callbacks run inside dyna_poll/dyna_wait/blocking calls of the same client; they may
 * submit new requests but must not call blocking functions nor close the client.
 */
#ifndef DYNA_H
#define DYNA_H
#include "dyna_err.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyna_client dyna_client_t;

typedef struct dyna_value {
  uint8_t *data; /* NUL-terminated for convenience (the NUL is not counted in len) */
  size_t len;
} dyna_value_t;

/* The result of a read: every sibling (tombstones omitted) and the context. */
typedef struct dyna_siblings {
  char *context;        /* base64 text, "" when the key has never been written */
  size_t n;             /* 0 when absent or deleted */
  dyna_value_t *values; /* n values */
} dyna_siblings_t;

/* ---------------------------------------------------------------- opening a client */

enum {
  DYNA_ROUTE_RING = 0, /* default: partition-aware, to the key's preference list */
  DYNA_ROUTE_NONE = 1  /* everything to the first reachable seed (as through a load balancer) */
};

typedef struct dyna_options {
  int timeout_ms;         /* per request, from submit to answer (0: 5000) */
  int connect_timeout_ms; /* per connection attempt (0: 1000) */
  int routing;            /* DYNA_ROUTE_RING or DYNA_ROUTE_NONE */
  int conns_per_node;     /* connections opened to each node, on demand (0: 1); requests
                             go to the one with the fewest in flight */
  int ring_refresh_ms;    /* fetch DYNA.RING again this often (0: 2000; < 0: only after
                             errors) */
  int down_backoff_ms;    /* avoid a node this long after it failed (0: 1000) */
} dyna_options_t;

/** Fills o with the defaults (every field 0 = default, routing DYNA_ROUTE_RING). */
void dyna_options_init(dyna_options_t *o);

/** Opens a client on a cluster.
 * @param[in] seeds  comma-separated HOST:PORT list ("127.0.0.1:7001,127.0.0.1:7002";
 *                   IPv6 as [::1]:7001); at least one must answer PING
 * @param[in] opt    NULL for the defaults; copied
 * @param[out] out   the client; free with dyna_client_close. Also set when connecting
 *                   failed (DYNA_ECONN), so that dyna_client_errmsg can say why
 * @return 0, DYNA_ECONN (no seed answered), DYNA_EINVAL (bad seed list) or DYNA_ENOMEM.
 *         A ring that cannot be fetched at open is not an error: requests then go to the
 *         seeds until a later refresh succeeds. */
int dyna_client_open(const char *seeds, const dyna_options_t *opt, dyna_client_t **out);

/** Connects to one node host:port (IPv4/IPv6 literal or name), without routing: every
 * request goes to that node.
 * @param[in] timeout_ms  for connecting and for each later call (0: 5000 ms)
 * @param[out] out        the client; free with dyna_client_close. Also set when the
 *                        connection failed (DYNA_ECONN), so dyna_client_errmsg can say why
 * @return 0, DYNA_ECONN, DYNA_EINVAL or DYNA_ENOMEM */
int dyna_client_connect(const char *host, int port, int timeout_ms, dyna_client_t **out);

/** Closes every connection and frees the client (NULL is fine). Requests still in
 * flight are dropped without their callbacks running. */
void dyna_client_close(dyna_client_t *c);

/** Detail of the last failed call on c (storage inside c, valid until the next call). */
const char *dyna_client_errmsg(const dyna_client_t *c);

/** Sets the number of connections per node (>= 1) for connections opened from now on. */
void dyna_client_set_conns_per_node(dyna_client_t *c, int n);

/** Fetches DYNA.RING now (blocking) and adopts it when its version differs.
 * @return 0, DYNA_ECONN, DYNA_ETIMEDOUT, DYNA_EPROTO or DYNA_ENOMEM */
int dyna_client_refresh_ring(dyna_client_t *c);

/** The ring version the client routes by (0 while no ring is known). */
uint64_t dyna_client_ring_version(const dyna_client_t *c);

/** Number of nodes the client knows (seeds plus members of the ring). */
size_t dyna_client_node_count(const dyna_client_t *c);

/** Where a request for key would go now, without sending anything.
 * @param[out] addr  receives "host:port" of the chosen node (NUL-terminated, truncated
 *                   to size); may be NULL
 * @param[out] pref  receives the key's preference list (first N) as "host:port"
 *                   addresses separated by commas ("" without a ring); may be NULL
 * @return 0, or DYNA_ECONN when no node is reachable */
int dyna_client_route(dyna_client_t *c, const void *key, size_t klen, char *addr,
                      size_t addr_size, char *pref, size_t pref_size);

/* ---------------------------------------------------------------- blocking calls */

/** PING (to the first reachable node). @return 0 when the node answered PONG. */
int dyna_ping(dyna_client_t *c);

/** Quorum read (DYNA.GET) of every sibling of key.
 * @param[in] r    read quorum, 0 for the node's default
 * @param[out] out filled on success; free with dyna_siblings_free */
int dyna_get(dyna_client_t *c, const void *key, size_t klen, int r, dyna_siblings_t *out);

/** One node's own replica only (DYNA.LOCAL): no quorum, no repair; sent to the first
 * seed (the node given to dyna_client_connect), never routed. Same shape as dyna_get. */
int dyna_get_local(dyna_client_t *c, const void *key, size_t klen, dyna_siblings_t *out);

/** Write (DYNA.PUT) of val to key with the context read before (NULL or "" for none).
 * @param[in] w             write quorum, 0 for the node's default
 * @param[out] new_context  if not NULL: the context after the write; free with dyna_str_free */
int dyna_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
             const void *val, size_t vlen, int w, char **new_context);

/** Delete (DYNA.DEL): writes a tombstone superseding what context covers. Arguments as dyna_put. */
int dyna_del(dyna_client_t *c, const void *key, size_t klen, const char *context, int w,
             char **new_context);

void dyna_siblings_free(dyna_siblings_t *s);
void dyna_str_free(char *s);

/* ---------------------------------------------------------------- asynchronous calls */

/* What a callback receives. Owned by the library until the callback returns. */
typedef struct dyna_result {
  int status;               /* 0 or a DYNA_E* code */
  const char *errmsg;       /* detail when status != 0 ("" otherwise) */
  const char *node;         /* "host:port" of the node that answered (or failed) */
  dyna_siblings_t siblings; /* get: every sibling and the context (may be taken over) */
  char *context;            /* put, del: the new context (may be taken over) */
  dyna_value_t value;       /* command: a bulk or simple-string reply (data NULL for nil) */
  int64_t integer;          /* command: an integer reply */
  uint64_t latency_ns;      /* from submit to answer */
} dyna_result_t;

/** Called once per submitted request, from dyna_poll/dyna_wait (or a blocking call). */
typedef void (*dyna_callback_t)(dyna_client_t *c, dyna_result_t *res, void *arg);

/** Queues a DYNA.GET of key (routed to its preference list); cb gets res->siblings.
 * @return 0 (cb will run exactly once), DYNA_ECONN (no node reachable), DYNA_EINVAL or
 *         DYNA_ENOMEM (cb will not run) */
int dyna_submit_get(dyna_client_t *c, const void *key, size_t klen, int r,
                    dyna_callback_t cb, void *arg);
/** Queues a DYNA.PUT; cb gets res->context. Returns as dyna_submit_get. */
int dyna_submit_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
                    const void *val, size_t vlen, int w, dyna_callback_t cb, void *arg);
/** Queues a DYNA.DEL; cb gets res->context. Returns as dyna_submit_get. */
int dyna_submit_del(dyna_client_t *c, const void *key, size_t klen, const char *context,
                    int w, dyna_callback_t cb, void *arg);
/** Queues any command (argv[0] the name). When key_arg > 0, argv[key_arg] is the key
 * it is routed by; 0 sends it to the first reachable seed. cb gets res->value /
 * res->integer; an error reply becomes res->status. Returns as dyna_submit_get. */
int dyna_submit_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, size_t key_arg, dyna_callback_t cb, void *arg);

/** Sends what is queued, waits up to timeout_ms (0: do not wait, < 0: until something
 * happens) for answers and runs the callbacks of those that arrived or timed out.
 * @return the number of callbacks run (>= 0), or DYNA_EINVAL when called from a callback */
int dyna_poll(dyna_client_t *c, int timeout_ms);

/** Runs dyna_poll until no request is in flight or timeout_ms passed (< 0: no limit;
 * every request still ends by the client's own timeout).
 * @return 0 when nothing is in flight, DYNA_ETIMEDOUT otherwise */
int dyna_wait(dyna_client_t *c, int timeout_ms);

/** Requests submitted whose callbacks have not run yet. */
size_t dyna_pending(const dyna_client_t *c);

#ifdef __cplusplus
}
#endif
#endif
