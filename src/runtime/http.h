/* http.h: dynad's HTTP port (--http HOST:PORT, off unless set): Prometheus metrics and
 * a JSON admin API, served by libmicrohttpd driven from the node's libuv loop (http.c;
 * docs/http.md for the endpoints, docs/architecture.md for the design). */
#ifndef DYNA_HTTP_H
#define DYNA_HTTP_H
#include "core/node.h"
#include <stddef.h>

struct dyna_server;
typedef struct dyna_http dyna_http_t;

/* Listens on s's cfg.http address. *out is NULL (and 0 returned) when no --http was
 * given. Returns 0, or -1 with a one-line reason in err (address taken, no memory). */
int dyna_http_open(struct dyna_server *s, dyna_http_t **out, char *err, size_t errlen);
/* At shutdown: answers every request still waiting (503), stops listening and closes the
 * loop handles; dyna_http_free after the loop has run their close callbacks. NULL: no-op. */
void dyna_http_close(dyna_http_t *h);
void dyna_http_free(dyna_http_t *h);
/* A node reply that belongs to no client slot: 1 when it was an HTTP request's (taken:
 * its response is made, and the connection goes on), 0 otherwise. h may be NULL. */
int dyna_http_route_reply(dyna_http_t *h, dyna_node_reply_t *r);

#endif
