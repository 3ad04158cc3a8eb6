/* progress.h: the CLI's --wait modes (progress.c): follow a node's long work, printing
 * one progress line a second, until it is done. Each returns 0 or a DYNA_E* code of the
 * failed request; the client stays the caller's. */
#ifndef DYNA_CLI_PROGRESS_H
#define DYNA_CLI_PROGRESS_H
#include "dyna.h"

/* After DYNA.ADMIN REPAIR: until the node has started every exchange it was asked for. */
int dyna_cli_wait_repair(dyna_client_t *c);
/* After DYNA.ADMIN LEAVE: until the node reads itself REMOVED, or stops answering. */
int dyna_cli_wait_leave(dyna_client_t *c);

#endif
