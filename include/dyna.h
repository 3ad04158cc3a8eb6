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
 * How to read this header. Each call says, as lmdb.h does:
 *   @param[in]       read by the call only; borrowed, never kept after it returns (the
 *                    submit calls copy keys, values, contexts and arguments before
 *                    returning)
 *   @param[out]      written by the call; what it receives and who frees it is said there
 *   @return          0 or every DYNA_E* code (dyna_err.h) the call can return, and why
 *   Threads:         see below
 * Pointer arguments must not be NULL unless the call says so; a (pointer, length) pair
 * may be (NULL, 0).
 *
 * Errors. Every int call returns 0 or a negative DYNA_E* code from the range Dyna
 * reserves (dyna_err.h; codes never change value). dyna_strerror() names a code and
 * dyna_client_errmsg() gives the detail of the last failure on a client (the server's
 * message, or the OS reason). The errors of one request, whether returned by a blocking
 * call or handed to a callback in res->status, are:
 *   the request errors:
 *     DYNA_ECONN      no node could be reached, or the connection broke while the request
 *                     was in flight
 *     DYNA_ETIMEDOUT  no answer within the client's timeout_ms; the connection is then
 *                     closed, failing every request queued on it, and reopened on demand
 *     DYNA_EPROTO     a reply that does not parse, or of the wrong shape for the request
 *     DYNA_ENOMEM     an allocation failed in the client
 *   the server errors (the node answered with an error; its text is in errmsg):
 *     DYNA_ENOQUORUM  fewer than R (W) replicas answered in time ("NOQUORUM ...")
 *     DYNA_ETOOBIG    a key, value or request over the server's limit ("TOOBIG ...")
 *     DYNA_EBUSY      the node is overloaded, or not serving yet ("BUSY ..."); the
 *                     client fetches the ring again at once
 *     DYNA_ETIMEDOUT  the coordinator gave up waiting for replicas ("TIMEOUT ...")
 *     DYNA_ECONTEXT   the context given to a write does not decode
 *     DYNA_ERANGE     a number's result would not fit ("ERR increment or decrement
 *                     would overflow": INCRBY, HINCRBY ...)
 *     DYNA_EREMOTE    any other error answer
 * A write that failed with DYNA_ENOQUORUM, DYNA_ETIMEDOUT or DYNA_ECONN may still have
 * been stored by some replicas; the library never sends a write twice (reads are sent
 * again once after DYNA_ECONN on an idle connection).
 *
 * Ownership. What a call hands back through an @param[out] belongs to the caller, who
 * frees it with the function named there, at any later time, from any thread (it holds
 * no reference to the client). Strings returned by const char * (dyna_strerror,
 * dyna_version, dyna_client_errmsg, the res->errmsg and res->node of a callback) belong
 * to the library and must not be freed; each call says how long they stay valid. A
 * dyna_result_t handed to a callback belongs to the library and lives until the callback
 * returns; the callback may take over res->siblings or res->context (copy them out, then
 * clear them in res, and free them later with dyna_siblings_free / dyna_str_free).
 * Memory comes from malloc: the library installs no allocator of its own.
 *
 * Threads. A client is not thread-safe: every call taking a dyna_client_t must be made
 * by one thread at a time for that client (there is no lock inside). Clients share
 * nothing, so different threads may each use their own client freely. dyna_strerror,
 * dyna_version, dyna_version_number and dyna_options_init touch no client and may be
 * called from any thread at any time. Callbacks run inside dyna_poll, dyna_wait and the
 * blocking calls of their client, on the calling thread; they may submit new requests
 * but must not call blocking functions (those return DYNA_EINVAL) nor close the client.
 * A request whose submit call failed never runs its callback (as in libuv).
 * The library ignores no signals and installs no handlers: it sends with MSG_NOSIGNAL,
 * so a closed peer does not raise SIGPIPE.
 *
 * Blocking. Opening a connection blocks for up to connect_timeout_ms; connections are
 * opened on demand, so any call that sends (the submit calls and dyna_client_route
 * included) may block that long for each node it tries. Waiting for answers happens only
 * in dyna_poll, dyna_wait and the blocking calls.
 *
 * Versions and symbols. dyna_version.h has the version this header belongs to
 * (DYNA_VERSION_MAJOR/MINOR/PATCH, DYNA_VERSION_STRING, DYNA_VERSION_HEX); dyna_version()
 * and dyna_version_number() give the version of the library actually loaded. libdyna.so
 * exports exactly the calls declared DYNA_API in these headers, and nothing else
 * (dyna_api.h).
 */
#ifndef DYNA_H
#define DYNA_H
#include "dyna_api.h"
#include "dyna_err.h"
#include "dyna_version.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/** The version of the library the program runs with, "MAJOR.MINOR.PATCH".
 * @return a static string, never NULL; the caller must not free it.
 * Errors: none. Threads: any. */
DYNA_API const char *dyna_version(void);

/** The same version as one integer, comparable with DYNA_VERSION_HEX and
 * DYNA_VERSION_INT(major, minor, patch): a program may check at run time that the
 * library it loaded is at least the one it was built against.
 * Errors: none. Threads: any. */
DYNA_API int dyna_version_number(void);

/* ---------------------------------------------------------------- types */

/* A client: its nodes, connections and requests in flight. Opaque; created by
 * dyna_client_open or dyna_client_connect, freed by dyna_client_close. */
typedef struct dyna_client dyna_client_t;

typedef struct dyna_value {
  uint8_t *data; /* NUL-terminated for convenience (the NUL is not counted in len) */
  size_t len;
} dyna_value_t;

/* The result of a read: every sibling (tombstones omitted) and the context. Filled by
 * dyna_get / dyna_get_local (owned by the caller, freed with dyna_siblings_free) or
 * handed to a callback in res->siblings (owned by the library, see Ownership). */
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
  const char *user;       /* with password: every connection sends AUTH user password
                             first (NULL: AUTH password, the default user); copied */
  const char *password;   /* NULL: no AUTH (a node with requirepass or users answers
                             NOAUTH); copied. A refused AUTH fails the connection
                             (DYNA_ECONN, errmsg says "AUTH refused by ...") */
} dyna_options_t;

/** Fills o with the defaults (every field 0 = default, routing DYNA_ROUTE_RING).
 * @param[out] o  the options to fill
 * Errors: none. Threads: any. */
DYNA_API void dyna_options_init(dyna_options_t *o);

/** Opens a client on a cluster: PINGs the seeds in order until one answers, then (ring
 * routing) fetches DYNA.RING. Blocks for up to connect_timeout_ms per seed tried, plus
 * up to timeout_ms for the PING and for the ring.
 * @param[in] seeds  comma-separated HOST:PORT list ("127.0.0.1:7001,127.0.0.1:7002";
 *                   IPv6 as [::1]:7001); at least one must answer PING. Copied.
 * @param[in] opt    NULL for the defaults; copied
 * @param[out] out   NULL, or the new client, which the caller must close with
 *                   dyna_client_close, also when the call failed: on failure it is
 *                   still set (except as said below) so that dyna_client_errmsg can say
 *                   why
 * @return 0;
 *         DYNA_EINVAL  seeds is NULL (*out NULL), or empty or malformed (*out set);
 *         DYNA_ECONN   no seed answered PING (*out set; errmsg says why);
 *         DYNA_ENOMEM  out of memory, or no epoll instance could be created (*out NULL
 *                      when the client itself could not be made, else set).
 *         A ring that cannot be fetched at open is not an error: requests then go to the
 *         seeds until a later refresh succeeds.
 * Threads: any (it creates a new client). */
DYNA_API int dyna_client_open(const char *seeds, const dyna_options_t *opt,
                              dyna_client_t **out);

/** Connects to one node, without routing: every request goes to that node. Blocks until
 * connected or timeout_ms passed.
 * @param[in] host        IPv4/IPv6 literal or name; copied
 * @param[in] port        1..65535
 * @param[in] timeout_ms  for connecting and for each later request (0: 5000 ms)
 * @param[out] out        NULL, or the client, which the caller must close with
 *                        dyna_client_close, also when the call failed
 * @return 0;
 *         DYNA_EINVAL  host NULL or port out of range (*out NULL);
 *         DYNA_ECONN   the name does not resolve or the node refused or did not answer
 *                      in time (*out set; errmsg says why);
 *         DYNA_ENOMEM  out of memory, or no epoll instance could be created (*out NULL
 *                      when the client itself could not be made, else set).
 * Threads: any (it creates a new client). */
DYNA_API int dyna_client_connect(const char *host, int port, int timeout_ms,
                                 dyna_client_t **out);

/** TLS for a client's connections (as redis-cli --tls --cacert --cert --key). The
 * server's certificate is always verified: it must chain to cacert (NULL or "": the
 * system's CA store) and name the host connected to (an IP literal must be in its IP
 * subjectAltNames, a name in its DNS names), or sni when given. cert and key (PEM) are
 * the client certificate for a server that asks for one (dynad --tls-auth-clients);
 * both or neither. TLS 1.2 is the least version accepted. The strings are read during
 * the call only. */
typedef struct dyna_tls_options {
  const char *cacert; /* CA certificates (PEM file) the server's must chain to */
  const char *cert;   /* client certificate chain (PEM file), or NULL */
  const char *key;    /* its private key (PEM file), or NULL */
  const char *sni;    /* name to check the server's certificate against (NULL: the host) */
} dyna_tls_options_t;

/** dyna_client_open over TLS: every connection the client opens (to seeds and ring
 * members alike) runs TLS with tls (NULL: plain, as dyna_client_open). Cluster members
 * are reached at the client address they advertise, which is their TLS port when
 * dynad's plain port is off or the cluster runs TLS (docs/security.md).
 * @return as dyna_client_open; also DYNA_EINVAL when a certificate, key or CA file
 *         cannot be loaded (*out set; errmsg says which and why), and DYNA_ECONN when
 *         no seed completes the handshake (errmsg says why: a refused certificate, ...).
 * Threads: any (it creates a new client). */
DYNA_API int dyna_client_open_tls(const char *seeds, const dyna_options_t *opt,
                                  const dyna_tls_options_t *tls, dyna_client_t **out);

/** dyna_client_connect over TLS (tls NULL: plain); errors as dyna_client_open_tls.
 * Threads: any (it creates a new client). */
DYNA_API int dyna_client_connect_tls(const char *host, int port, int timeout_ms,
                                     const dyna_tls_options_t *tls, dyna_client_t **out);

/** Closes every connection and frees the client and everything it owns (NULL is fine).
 * Requests still in flight are dropped without their callbacks running; what the
 * caller took over from earlier calls (siblings, contexts, replies) stays valid.
 * @param[in] c  the client; invalid after the call. Must not be called from a callback.
 * Errors: none. Threads: the client's thread. */
DYNA_API void dyna_client_close(dyna_client_t *c);

/** Detail of the last failure on c: the server's error text, or the OS reason.
 * @param[in] c  the client, or NULL (then "")
 * @return a string inside c, never NULL; valid until the next call on c, which may
 *         overwrite or clear it; do not free it. Read it right after the failing call.
 * Errors: none. Threads: the client's thread. */
DYNA_API const char *dyna_client_errmsg(const dyna_client_t *c);

/** Sets the number of connections per node for connections opened from now on.
 * @param[in] c  the client
 * @param[in] n  connections per node; below 1 means 1
 * Errors: none. Threads: the client's thread. */
DYNA_API void dyna_client_set_conns_per_node(dyna_client_t *c, int n);

/** Fetches DYNA.RING now and adopts it when its version differs (blocking: waits for
 * a refresh already in flight first, then up to timeout_ms; runs other requests'
 * callbacks meanwhile).
 * @param[in] c  the client
 * @return 0; DYNA_EINVAL when called from a callback; a request error (DYNA_ECONN,
 *         DYNA_ETIMEDOUT, DYNA_EPROTO: the reply is not a valid ring, DYNA_ENOMEM) or a
 *         server error (DYNA_EBUSY, DYNA_EREMOTE, ...). On failure the ring in use is
 *         kept.
 * Threads: the client's thread. */
DYNA_API int dyna_client_refresh_ring(dyna_client_t *c);

/** The ring version the client routes by.
 * @param[in] c  the client
 * @return the version, or 0 while no ring is known (or with DYNA_ROUTE_NONE).
 * Errors: none. Threads: the client's thread. */
DYNA_API uint64_t dyna_client_ring_version(const dyna_client_t *c);

/** Number of nodes the client knows (seeds plus members of the ring).
 * @param[in] c  the client
 * Errors: none. Threads: the client's thread. */
DYNA_API size_t dyna_client_node_count(const dyna_client_t *c);

/** Where a request for key would go now, without sending anything (it may open a
 * connection to find a reachable node).
 * @param[in] c          the client
 * @param[in] key, klen  the key (binary-safe)
 * @param[out] addr      receives "host:port" of the chosen node, NUL-terminated and
 *                       truncated to addr_size; may be NULL (then addr_size is ignored)
 * @param[in] addr_size  bytes at addr, the NUL included
 * @param[out] pref      receives the key's preference list (first N) as "host:port"
 *                       addresses separated by commas ("" without a ring), NUL-terminated
 *                       and truncated to pref_size; may be NULL
 * @param[in] pref_size  bytes at pref, the NUL included
 * @return 0, or DYNA_ECONN when no node is reachable (addr is then untouched).
 * Threads: the client's thread. */
DYNA_API int dyna_client_route(dyna_client_t *c, const void *key, size_t klen, char *addr,
                               size_t addr_size, char *pref, size_t pref_size);

/* ---------------------------------------------------------------- blocking calls
 *
 * Each blocking call submits one request and runs dyna_poll until its answer came or
 * the client's timeout_ms passed; callbacks of other requests in flight on the client
 * run meanwhile. None may be called from a callback (DYNA_EINVAL). */

/** PING, sent to the first reachable seed (else any reachable node).
 * @param[in] c  the client
 * @return 0 when the node answered PONG; DYNA_EINVAL (called from a callback);
 *         DYNA_EPROTO (an answer other than PONG); a request error (DYNA_ECONN,
 *         DYNA_ETIMEDOUT, DYNA_ENOMEM) or a server error (DYNA_EBUSY, DYNA_EREMOTE).
 * Threads: the client's thread. */
DYNA_API int dyna_ping(dyna_client_t *c);

/** Quorum read (DYNA.GET) of every sibling of key, routed to its preference list.
 * @param[in] c          the client
 * @param[in] key, klen  the key (binary-safe)
 * @param[in] r          read quorum, 0 for the node's default
 * @param[out] out       zeroed first, so that dyna_siblings_free(out) is always safe; on
 *                       success every sibling and the context, owned by the caller: free
 *                       with dyna_siblings_free. An absent or deleted key is a success
 *                       with out->n == 0.
 * @return 0; DYNA_EINVAL (called from a callback, or key NULL with klen > 0); a request
 *         error (DYNA_ECONN, DYNA_ETIMEDOUT, DYNA_EPROTO, DYNA_ENOMEM) or a server error
 *         (DYNA_ENOQUORUM, DYNA_ETOOBIG, DYNA_EBUSY, DYNA_ETIMEDOUT, DYNA_EREMOTE).
 * Threads: the client's thread. */
DYNA_API int dyna_get(dyna_client_t *c, const void *key, size_t klen, int r,
                      dyna_siblings_t *out);

/** One node's own replica only (DYNA.LOCAL): no quorum, no repair. Sent to the first
 * reachable seed (the node given to dyna_client_connect), never routed by key.
 * Parameters, ownership and errors as dyna_get (without DYNA_ENOQUORUM). */
DYNA_API int dyna_get_local(dyna_client_t *c, const void *key, size_t klen,
                            dyna_siblings_t *out);

/** Write (DYNA.PUT) of val to key with the context read before, routed to the key's
 * preference list. The write supersedes exactly what context covers; a write with an
 * empty context, or concurrent with another, makes a sibling.
 * @param[in] c            the client
 * @param[in] key, klen    the key (binary-safe)
 * @param[in] context      the context of an earlier read of key (NUL-terminated base64
 *                         text), or NULL / "" for none
 * @param[in] val, vlen    the value (binary-safe)
 * @param[in] w            write quorum, 0 for the node's default
 * @param[out] new_context NULL, or receives NULL first and on success the context after
 *                         the write (covering this write), owned by the caller: free with
 *                         dyna_str_free
 * @return 0; DYNA_EINVAL (called from a callback, or key/val NULL with a length > 0);
 *         a request error (DYNA_ECONN, DYNA_ETIMEDOUT, DYNA_EPROTO, DYNA_ENOMEM) or a
 *         server error (DYNA_ENOQUORUM, DYNA_ETOOBIG, DYNA_EBUSY, DYNA_ETIMEDOUT,
 *         DYNA_ECONTEXT, DYNA_EREMOTE). After DYNA_ENOQUORUM, DYNA_ETIMEDOUT or
 *         DYNA_ECONN the write may have been stored by some replicas.
 * Threads: the client's thread. */
DYNA_API int dyna_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
                      const void *val, size_t vlen, int w, char **new_context);

/** Delete (DYNA.DEL): writes a tombstone superseding what context covers (with no
 * context it supersedes nothing, and the values stay as siblings). Parameters (without
 * val, vlen), ownership and errors as dyna_put. */
DYNA_API int dyna_del(dyna_client_t *c, const void *key, size_t klen, const char *context,
                      int w, char **new_context);

/** Frees what a read filled in s (every value and the context) and zeroes s; s itself
 * is the caller's. NULL, and an already freed or zeroed s, are fine.
 * Errors: none. Threads: any thread, for siblings it owns. */
DYNA_API void dyna_siblings_free(dyna_siblings_t *s);

/** Frees a string the library handed over (a context). NULL is fine.
 * Errors: none. Threads: any thread, for a string it owns. */
DYNA_API void dyna_str_free(char *s);

/* ---------------------------------------------------------------- any command */

/* A reply to dyna_command, as a tree (RESP2 types). */
enum {
  DYNA_REPLY_STRING = 1,  /* a bulk string: str, len (binary-safe) */
  DYNA_REPLY_STATUS = 2,  /* a simple string such as OK or PONG: str, len */
  DYNA_REPLY_INTEGER = 3, /* integer */
  DYNA_REPLY_NIL = 4,     /* a nil bulk string or array */
  DYNA_REPLY_ARRAY = 5,   /* n elements in elem[0..n) (elem NULL when n == 0) */
  DYNA_REPLY_ERROR = 6    /* an error inside an array: str, len (a top-level error is
                             returned as a code instead) */
};

typedef struct dyna_reply {
  int type;                /* DYNA_REPLY_* */
  int64_t integer;         /* INTEGER */
  uint8_t *str;            /* STRING, STATUS, ERROR: NUL-terminated (not counted in
                              len); NULL for the other types */
  size_t len;
  size_t n;                /* ARRAY: element count */
  struct dyna_reply *elem; /* ARRAY: the elements, owned by this node of the tree */
} dyna_reply_t;

/** Sends any command and waits for its reply (blocking, as the calls above). It goes to
 * the first reachable seed (the node given to dyna_client_connect), never routed by key:
 * for keyed commands use dyna_submit_command. This is how the CLI asks for DYNA.STATUS,
 * DYNA.RING, INFO and DYNA.ADMIN.
 * @param[in] c           the client
 * @param[in] argc        number of arguments, >= 1; argv[0] is the command name
 * @param[in] argv, argl  the arguments and their lengths (binary-safe)
 * @param[out] out        NULL on failure; on success the reply tree, owned by the
 *                        caller: free the root with dyna_reply_free (which frees every
 *                        node and string of the tree)
 * @return 0; DYNA_EINVAL (argc 0, argv or argl NULL, or called from a callback); a
 *         request error (DYNA_ECONN, DYNA_ETIMEDOUT, DYNA_EPROTO, DYNA_ENOMEM); or, when
 *         the node answered with an error, the server error it maps to (DYNA_ENOQUORUM,
 *         DYNA_ETOOBIG, DYNA_EBUSY, DYNA_ETIMEDOUT, DYNA_ECONTEXT, DYNA_EREMOTE) with the
 *         node's text in dyna_client_errmsg.
 * Threads: the client's thread. */
DYNA_API int dyna_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                          const size_t *argl, dyna_reply_t **out);

/** Frees a reply tree returned by dyna_command (NULL is fine). Only the root may be
 * passed, never an element.
 * Errors: none. Threads: any thread, for a reply it owns. */
DYNA_API void dyna_reply_free(dyna_reply_t *r);

/** Sends any command routed by its key, and waits for its reply: as dyna_command, but
 * the request goes to the key's preference list as dyna_submit_command's does. The
 * typed calls below are this with a fixed command.
 * @param[in] key_arg  >= 1: argv[key_arg] is the key the command is routed by
 * Other parameters, ownership and errors as dyna_command (DYNA_EINVAL also when key_arg
 * is 0 or >= argc). */
DYNA_API int dyna_key_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                              const size_t *argl, size_t key_arg, dyna_reply_t **out);

/* ---------------------------------------------------------------- typed calls
 *
 * Counters, sets, hashes, sorted sets, lists and expiry (docs/client.md, Types): each
 * call sends one Redis command (named in its comment) routed by its key, and waits for
 * the answer, as the blocking calls above. These types merge by themselves on every
 * replica (no siblings, no contexts): a concurrent SADD and SREM of one member keeps it,
 * counters add up. Every call takes:
 *   @param[in] c          the client
 *   @param[in] key, klen  the key (binary-safe)
 * and a list of strings as (n, v, vl): n strings v[0..n) of lengths vl[0..n), n >= 1
 * where a command needs one (binary-safe; borrowed). An integer @param[out] may be NULL
 * when the caller does not want it. Every call returns 0 or:
 *   DYNA_EINVAL   called from a callback, key NULL with klen > 0, or an empty list
 *                 where one is needed
 *   a request error (DYNA_ECONN, DYNA_ETIMEDOUT, DYNA_ENOMEM; DYNA_EPROTO when the
 *                 answer is not of the command's shape)
 *   a server error (DYNA_ENOQUORUM, DYNA_ETOOBIG, DYNA_EBUSY, DYNA_ETIMEDOUT,
 *                 DYNA_ERANGE "ERR increment or decrement would overflow"), or
 *   DYNA_EREMOTE  any other error answer, with Redis's text in dyna_client_errmsg:
 *                 "WRONGTYPE Operation against a key holding the wrong kind of value"
 *                 (the key holds another type), "ERR value is not an integer or out of
 *                 range", ...
 * A write that failed with DYNA_ENOQUORUM, DYNA_ETIMEDOUT or DYNA_ECONN may have been
 * applied by some replicas (it is never sent twice; reads are sent again once after
 * DYNA_ECONN, as dyna_get). Threads: the client's thread. */

/* A list of strings a typed read hands back: members, fields and values, elements.
 * With n == 0 nothing is allocated (values and scores NULL); dyna_values_free is still
 * fine to call. */
typedef struct dyna_values {
  size_t n;             /* number of strings (0: an empty or absent key) */
  dyna_value_t *values; /* n values, each NUL-terminated (the NUL not counted) */
  double *scores;       /* dyna_zrange_withscores: n scores; NULL for the other calls */
} dyna_values_t;

/** Frees what a typed read filled in v (every value, the scores) and zeroes v; v itself
 * is the caller's. NULL, and an already freed or zeroed v, are fine.
 * Errors: none. Threads: any thread, for values it owns. */
DYNA_API void dyna_values_free(dyna_values_t *v);

/** INCRBY: adds by to the counter at key (an absent key counts from 0).
 * @param[in] by    the increment (negative: a decrement)
 * @param[out] out  NULL, or the new value
 * Errors: as above; DYNA_ERANGE (the result would overflow), DYNA_EREMOTE
 * "WRONGTYPE ..." (the key is a set, ...) or "ERR value is not an integer..." (a string
 * that is not a number). */
DYNA_API int dyna_incrby(dyna_client_t *c, const void *key, size_t klen, int64_t by,
                         int64_t *out);

/** SADD: adds the n members m[i] (lengths ml[i]) to the set at key.
 * @param[out] added  NULL, or how many were not members before
 * Errors: as above (DYNA_EINVAL when n is 0; "WRONGTYPE ..."). */
DYNA_API int dyna_sadd(dyna_client_t *c, const void *key, size_t klen, size_t n,
                       const uint8_t *const *m, const size_t *ml, int64_t *added);

/** SREM: removes the members (as observed by the coordinator; a concurrent add wins).
 * @param[out] removed  NULL, or how many were members
 * Errors: as dyna_sadd. */
DYNA_API int dyna_srem(dyna_client_t *c, const void *key, size_t klen, size_t n,
                       const uint8_t *const *m, const size_t *ml, int64_t *removed);

/** SMEMBERS: every member of the set at key (a quorum read, merged).
 * @param[out] out  zeroed first; on success the members (any order), owned by the
 *                  caller: free with dyna_values_free. An absent key gives out->n == 0.
 * Errors: as above ("WRONGTYPE ..."). */
DYNA_API int dyna_smembers(dyna_client_t *c, const void *key, size_t klen,
                           dyna_values_t *out);

/** HSET: sets n fields f[i] to values v[i] in the hash at key.
 * @param[out] added  NULL, or how many fields were new
 * Errors: as dyna_sadd. */
DYNA_API int dyna_hset(dyna_client_t *c, const void *key, size_t klen, size_t n,
                       const uint8_t *const *f, const size_t *fl, const uint8_t *const *v,
                       const size_t *vl, int64_t *added);

/** HGET: the value of one field.
 * @param[out] out  zeroed first; on success out->n is 1 and values[0] the value, or 0
 *                  when the field or the key is absent; free with dyna_values_free
 * Errors: as above. */
DYNA_API int dyna_hget(dyna_client_t *c, const void *key, size_t klen, const void *field,
                       size_t flen, dyna_values_t *out);

/** HGETALL: every field and its value.
 * @param[out] out  zeroed first; on success 2 x fields strings: field, value, field,
 *                  value, ...; free with dyna_values_free
 * Errors: as above. */
DYNA_API int dyna_hgetall(dyna_client_t *c, const void *key, size_t klen, dyna_values_t *out);

/** ZADD: adds the n members m[i] with scores score[i] to the sorted set at key, or
 * updates their scores.
 * @param[out] added  NULL, or how many members were new
 * Errors: as dyna_sadd; DYNA_EINVAL also for a NaN score. */
DYNA_API int dyna_zadd(dyna_client_t *c, const void *key, size_t klen, size_t n,
                       const double *score, const uint8_t *const *m, const size_t *ml,
                       int64_t *added);

/** ZINCRBY: adds by to member's score (increments merge like a counter).
 * @param[out] out  NULL, or the new score
 * Errors: as above; DYNA_EINVAL for a NaN by. */
DYNA_API int dyna_zincrby(dyna_client_t *c, const void *key, size_t klen, double by,
                          const void *member, size_t mlen, double *out);

/** ZRANGE key start stop WITHSCORES: members by rank, lowest score first; start and
 * stop as Redis takes them (0-based, inclusive, negative from the end).
 * @param[out] out  zeroed first; on success the members and out->scores (n each);
 *                  free with dyna_values_free
 * Errors: as above. */
DYNA_API int dyna_zrange_withscores(dyna_client_t *c, const void *key, size_t klen,
                                    int64_t start, int64_t stop, dyna_values_t *out);

/** LPUSH: inserts the n values v[i] at the head of the list at key, one after the
 * other (the last ends first, as Redis).
 * @param[out] len  NULL, or the list's length after the push
 * Errors: as dyna_sadd. */
DYNA_API int dyna_lpush(dyna_client_t *c, const void *key, size_t klen, size_t n,
                        const uint8_t *const *v, const size_t *vl, int64_t *len);

/** RPUSH: as dyna_lpush, at the tail. */
DYNA_API int dyna_rpush(dyna_client_t *c, const void *key, size_t klen, size_t n,
                        const uint8_t *const *v, const size_t *vl, int64_t *len);

/** LRANGE: the elements from start to stop (as Redis: inclusive, negative from the end).
 * @param[out] out  zeroed first; on success the elements in order; free with
 *                  dyna_values_free
 * Errors: as above. */
DYNA_API int dyna_lrange(dyna_client_t *c, const void *key, size_t klen, int64_t start,
                         int64_t stop, dyna_values_t *out);

/** LPOP: removes and returns up to count elements from the head (count 0: one, as LPOP
 * without a count). Concurrent pops on two sides of a partition may pop the same element
 * (docs/client.md, Types).
 * @param[out] out  zeroed first; on success the popped elements (n 0 when the key is
 *                  absent); free with dyna_values_free
 * Errors: as above. */
DYNA_API int dyna_lpop(dyna_client_t *c, const void *key, size_t klen, size_t count,
                       dyna_values_t *out);

/** EXPIRE: the key (of any type) expires in seconds seconds (<= 0: at once).
 * @param[out] set  NULL, or 1 when the key exists and the deadline was set, 0 when the
 *                  key is absent
 * Errors: as above. */
DYNA_API int dyna_expire(dyna_client_t *c, const void *key, size_t klen, int64_t seconds,
                         int *set);

/** TTL: the seconds left before the key expires.
 * @param[out] ttl  the seconds left; -1 when the key has no expiry, -2 when it is
 *                  absent (as Redis)
 * Errors: as above. */
DYNA_API int dyna_ttl(dyna_client_t *c, const void *key, size_t klen, int64_t *ttl);

/** PERSIST: drops the key's expiry.
 * @param[out] removed  NULL, or 1 when the key had one, else 0
 * Errors: as above. */
DYNA_API int dyna_persist(dyna_client_t *c, const void *key, size_t klen, int *removed);

/** TYPE: what the key holds, as Redis names it: "string" (a counter too), "set",
 * "hash", "zset", "list", or "none" when absent or expired.
 * @param[out] type  receives the name, NUL-terminated and truncated to size (16 bytes
 *                   hold every name)
 * Errors: as above. */
DYNA_API int dyna_type(dyna_client_t *c, const void *key, size_t klen, char *type,
                       size_t size);

/* ---------------------------------------------------------------- asynchronous calls */

/* What a callback receives. Owned by the library until the callback returns. */
typedef struct dyna_result {
  int status;               /* 0, a request error or a server error */
  const char *errmsg;       /* detail when status != 0 ("" otherwise); library's, valid
                               until the callback returns */
  const char *node;         /* "host:port" of the node that answered (or failed), "" if
                               none; library's, valid until the callback returns */
  dyna_siblings_t siblings; /* get: every sibling and the context (may be taken over) */
  char *context;            /* put, del: the new context (may be taken over) */
  dyna_value_t value;       /* command: a bulk or simple-string reply (data NULL for nil,
                               an integer or an array); points into the library's reply:
                               valid until the callback returns, may not be taken over
                               (copy it) */
  int64_t integer;          /* command: an integer reply */
  uint64_t latency_ns;      /* from submit to answer (monotonic clock) */
} dyna_result_t;

/** Called exactly once per successfully submitted request, from dyna_poll, dyna_wait or
 * a blocking call of the same client, on that thread; never when the submit failed, and
 * not when the client is closed with the request in flight.
 * @param[in] c    the client (the callback may submit on it, not block on it or close it)
 * @param[in,out] res  the outcome, owned by the library (see dyna_result_t)
 * @param[in] arg  the arg given at submit */
typedef void (*dyna_callback_t)(dyna_client_t *c, dyna_result_t *res, void *arg);

/** Queues a DYNA.GET of key (routed to its preference list) and returns without waiting
 * for the answer; cb gets res->siblings. Key and arguments are copied before returning.
 * May be called from a callback. Opens a connection if needed (see Blocking).
 * @param[in] c          the client
 * @param[in] key, klen  the key (binary-safe)
 * @param[in] r          read quorum, 0 for the node's default
 * @param[in] cb         run once with the outcome; NULL to ignore it
 * @param[in] arg        handed to cb, never touched by the library
 * @return 0 (cb will run exactly once, with 0, a request error or a server error as
 *         listed at dyna_get); DYNA_ECONN (no node reachable), DYNA_EINVAL (key NULL
 *         with klen > 0) or DYNA_ENOMEM: nothing is queued and cb will not run.
 * Threads: the client's thread. */
DYNA_API int dyna_submit_get(dyna_client_t *c, const void *key, size_t klen, int r,
                             dyna_callback_t cb, void *arg);

/** Queues a DYNA.PUT (parameters as dyna_put; context, key and value are copied before
 * returning); cb gets res->context, and res->status as listed at dyna_put. Returns as
 * dyna_submit_get (DYNA_EINVAL also for val NULL with vlen > 0). */
DYNA_API int dyna_submit_put(dyna_client_t *c, const void *key, size_t klen,
                             const char *context, const void *val, size_t vlen, int w,
                             dyna_callback_t cb, void *arg);

/** Queues a DYNA.DEL (parameters as dyna_del); cb gets res->context. Returns as
 * dyna_submit_get. */
DYNA_API int dyna_submit_del(dyna_client_t *c, const void *key, size_t klen,
                             const char *context, int w, dyna_callback_t cb, void *arg);

/** Queues any command. cb gets res->value (a bulk or simple string) or res->integer; an
 * error answer becomes res->status (a server error) with its text in res->errmsg; an
 * array reply leaves both empty (use dyna_command for those).
 * @param[in] argc        number of arguments, >= 1; argv[0] is the command name
 * @param[in] argv, argl  the arguments and their lengths (binary-safe); copied
 * @param[in] key_arg     when > 0, argv[key_arg] is the key the command is routed by; 0
 *                        sends it to the first reachable seed
 * @return as dyna_submit_get; DYNA_EINVAL when argc is 0 or key_arg >= argc. */
DYNA_API int dyna_submit_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                                 const size_t *argl, size_t key_arg, dyna_callback_t cb,
                                 void *arg);

/** Sends what is queued, waits for answers and runs the callbacks of the requests that
 * were answered or timed out.
 * @param[in] c           the client
 * @param[in] timeout_ms  how long to wait for something to happen: 0 do not wait, < 0 no
 *                        limit other than the nearest request deadline
 * @return the number of callbacks run (>= 0); DYNA_EINVAL when called from a callback;
 *         DYNA_ECONN when waiting itself failed (epoll_wait; errmsg says why).
 * Threads: the client's thread. */
DYNA_API int dyna_poll(dyna_client_t *c, int timeout_ms);

/** Runs dyna_poll until no request is in flight or timeout_ms passed.
 * @param[in] c           the client
 * @param[in] timeout_ms  < 0: no limit (every request still ends by the client's own
 *                        timeout)
 * @return 0 when nothing is in flight; DYNA_ETIMEDOUT when requests are still in flight
 *         after timeout_ms (they stay queued); DYNA_EINVAL or DYNA_ECONN as dyna_poll.
 * Threads: the client's thread. */
DYNA_API int dyna_wait(dyna_client_t *c, int timeout_ms);

/** Requests submitted whose callbacks have not run yet.
 * Errors: none. Threads: the client's thread. */
DYNA_API size_t dyna_pending(const dyna_client_t *c);

#ifdef __cplusplus
}
#endif
#endif
