/* dyna.h: libdyna, the C client library of Dyna.
 *
 * A client holds one TCP connection to a Dyna node and speaks RESP to it. Calls are
 * blocking, with a timeout per call. Values are binary-safe. A context is the opaque
 * causal context (base64 text) that a read returns: hand it back on the next write of
 * the same key so that the write supersedes exactly what you read; concurrent writes
 * then become siblings instead of overwriting each other.
 *
 * Errors: every function returns 0 or a negative DYNA_E* code (dyna_err.h);
 * dyna_strerror() names the code and dyna_client_errmsg() gives the detail of the last
 * failure (the server's message, or the OS reason). DYNA_ENOQUORUM, DYNA_ETOOBIG,
 * DYNA_EBUSY, DYNA_ETIMEDOUT and DYNA_ECONTEXT come from the server's reply;
 * DYNA_EREMOTE is any other server error; DYNA_ECONN means the connection failed
 * (the client is then unusable: close it).
 *
 * Ownership: the caller owns what a call returns through a pointer argument and frees
 * it with the function named at that call. Arguments are borrowed for the call only.
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

/** Connects to host:port (IPv4/IPv6 literal or name).
 * @param[in] timeout_ms  for connecting and for each later call (0: 5000 ms)
 * @param[out] out        the client; free with dyna_client_close. Also set when the
 *                        connection failed (DYNA_ECONN), so dyna_client_errmsg can say why
 * @return 0, DYNA_ECONN, DYNA_EINVAL or DYNA_ENOMEM */
int dyna_client_connect(const char *host, int port, int timeout_ms, dyna_client_t **out);
/** Closes the connection and frees the client (NULL is fine). */
void dyna_client_close(dyna_client_t *c);
/** Detail of the last failed call on c (static storage inside c, valid until the next call). */
const char *dyna_client_errmsg(const dyna_client_t *c);

/** PING. @return 0 when the node answered PONG. */
int dyna_ping(dyna_client_t *c);

/** Quorum read (DYNA.GET) of every sibling of key.
 * @param[in] r    read quorum, 0 for the node's default
 * @param[out] out filled on success; free with dyna_siblings_free */
int dyna_get(dyna_client_t *c, const void *key, size_t klen, int r, dyna_siblings_t *out);

/** This node's own replica only (DYNA.LOCAL): no quorum, no repair. Same shape as dyna_get. */
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

#ifdef __cplusplus
}
#endif
#endif
