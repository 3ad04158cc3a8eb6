/* top.h: the CLI's per-node rate views (top.c), both read through nodes.h:
 *   dyna status's rates table: one reading of every member, another interval_s later,
 *     one row per node;
 *   dyna top: the same, again every interval_s, one screen (or, when stdout is not a
 *     terminal, one block of plain text) per reading, count times (0: until killed).
 * Each returns 0 or the DYNA_E* error of the seed; the client stays the caller's. */
#ifndef DYNA_CLI_TOP_H
#define DYNA_CLI_TOP_H
#include "dyna.h"

int dyna_cli_status_rates(dyna_client_t *seed, const dyna_options_t *opt, const dyna_tls_options_t *tls,
                          double interval_s);
int dyna_cli_top(dyna_client_t *seed, const dyna_options_t *opt, const dyna_tls_options_t *tls,
                 double interval_s, long count);

#endif
