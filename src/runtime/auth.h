/* auth.h: client authentication in dynad (cmd_auth.c): the users of the configuration
 * (runtime/acl.h), the check the dispatcher makes before every command (NOAUTH, NOPERM),
 * logins (AUTH, HELLO AUTH) and the delay that slows failed logins down. Internal to
 * the runtime. */
#ifndef DYNA_RUNTIME_AUTH_H
#define DYNA_RUNTIME_AUTH_H
#include "runtime/config.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

struct dyna_server;
struct conn;
struct dyna_cmd;
struct dyna_args;

/* A "user" line of the configuration (config file "user = NAME RULES", --user): checked
 * against the lines before it, then kept in c. 0, or -1 with a one-line error (c
 * unchanged). */
int dyna_auth_config_user(dyna_config_t *c, const char *line, char *err, size_t errlen);

/* The server's users from s->cfg (the user lines, then requirepass), its delay timer.
 * 0, or -1 with err. dyna_auth_close closes the timer (dyna_server_stop);
 * dyna_auth_free frees the rest once the loop has closed it (dyna_server_free). */
int dyna_auth_open(struct dyna_server *s, char *err, size_t errlen);
void dyna_auth_close(struct dyna_server *s);
void dyna_auth_free(struct dyna_server *s);

/* CONFIG SET requirepass: the default user's password is now s->cfg.requirepass
 * (connections already logged in stay so, as on Redis). */
void dyna_auth_requirepass_changed(struct dyna_server *s);

/* The dispatcher's check of row (arity already checked) with arguments a for c: 0 when
 * c may run it; else 1 with the refusal answered and counted: NOAUTH before a login
 * (but for AUTH, HELLO, QUIT, RESET: the rows flagged no_auth), NOPERM for a command or
 * a key the user may not use. O(keys * patterns). */
int dyna_auth_refuses(struct dyna_server *s, struct conn *c, const struct dyna_cmd *row,
                      const struct dyna_args *a);

/* Logs c in as the user at argument iuser of a (0: "default") with the password at ipass.
 * Returns the buffer the command's answer goes to (a held one when c's or the node's
 * failed logins call for a delay), or NULL when the login failed: WRONGPASS is answered
 * (in its turn). */
dyna_buf_t *dyna_auth_login(struct dyna_server *s, struct conn *c, const struct dyna_args *a, size_t iuser,
                            size_t ipass);

/* The user named (len bytes), or NULL (CLIENT KILL USER). */
const struct dyna_acl_user *dyna_auth_user(struct dyna_server *s, const uint8_t *name, size_t len);
/* The user c runs as: its login's, or default (a connection not decided yet). */
const struct dyna_acl_user *dyna_auth_conn_user(struct dyna_server *s, const struct conn *c);

/* The HTTP port (http.c), which has no connection state: each request carries its
 * credentials (HTTP Basic) and is checked as a fresh connection's login would be. */
/* 1 when HTTP requests must carry credentials: the default user needs a password, or
 * there are users besides it. */
int dyna_auth_http_required(struct dyna_server *s);
/* Checks user:pass as AUTH user pass does (counted, logged and fed to the node's failure
 * level alike). *delay_ms is how long the answer must be held, taken before the check
 * (the node's level only: an HTTP request has no "failed logins in a row"); when it is
 * not 0 the hold is counted in the INFO counters too. Returns the user, or NULL. */
const struct dyna_acl_user *dyna_auth_http_login(struct dyna_server *s, const uint8_t *user, size_t ulen,
                                                 const uint8_t *pass, size_t plen, uint64_t *delay_ms);
/* Whether u may run the command row named cmd ("dyna.get", "dyna.admin|repair") on key
 * (klen bytes; key NULL: none): 0, or 1 with the NOPERM message in msg (cap bytes), the
 * refusal counted as the dispatcher counts one. */
int dyna_auth_http_refuses(struct dyna_server *s, const struct dyna_acl_user *u, const char *cmd,
                           const uint8_t *key, size_t klen, char *msg, size_t cap);

/* c is closing: forget its held answer. */
void dyna_auth_conn_closed(struct dyna_server *s, struct conn *c);

#endif
