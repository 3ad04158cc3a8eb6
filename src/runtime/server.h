/* server.h: dynad's runtime. It maps libuv sockets, timers and signals onto the node
 * state machine (core/node.h) and back:
 *
 *   socket bytes ─▶ conn.c input ─▶ RESP parser ─▶ cmd_table.c ─▶ dyna_node_request
 *                                                                   │
 *   loop turn ends (uv_check): dyna_store_commit  ◀── group commit ──┘
 *        └─▶ dyna_node_pop_reply ─▶ the request's slot in its conn ─▶ in-order RESP out
 *
 * Each connection keeps a FIFO of slots, one per command, so replies leave in the order
 * the commands came even when a command waits on several requests (MGET) or replies
 * arrive out of order. Writes acknowledged to clients leave only after the commit that
 * made them durable.
 */
#ifndef DYNA_SERVER_H
#define DYNA_SERVER_H
#include "core/node.h"
#include "runtime/config.h"
#include <uv.h>

typedef struct dyna_server dyna_server_t;

/* Opens the store, loads or creates the node id, listens. Returns 0, or -1 after
 * writing a one-line reason to err. The server is freed by dyna_server_free. */
int dyna_server_open(const dyna_config_t *cfg, uv_loop_t *loop, dyna_server_t **out,
                     char *err, size_t errlen);
/* Runs until SIGTERM/SIGINT or dyna_server_stop; then closes every connection, commits
 * and closes the store. Returns 0. */
int dyna_server_run(dyna_server_t *s);
void dyna_server_stop(dyna_server_t *s);
void dyna_server_free(dyna_server_t *s);

#endif
