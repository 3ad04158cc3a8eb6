/* client_int.h: libdyna internals shared with the dyna CLI (not public API). */
#ifndef DYNA_CLIENT_INT_H
#define DYNA_CLIENT_INT_H
#include "dyna.h"
#include "proto/resp.h"

/* Sends one command and reads its reply into *out (caller frees with
 * dyna_resp_value_free). A RESP error reply is returned as a value, with status 0. */
int dyna_client_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, dyna_resp_value_t *out);
/* Maps a RESP error text ("NOQUORUM ...") to a DYNA_E* code and records it as errmsg. */
int dyna_client_remote_error(dyna_client_t *c, const dyna_resp_value_t *v);

/* Records msg as the detail of the last failure. */
void dyna_client_set_errmsg(dyna_client_t *c, const char *msg);

#endif
