/* cmd_config.c: CONFIG GET, SET, RESETSTAT and REWRITE over the options table
 * (runtime/options.c). CONFIG SET takes the options whose row says runtime, all of a
 * command's pairs or none (as Redis 7), and makes each take effect at once: the node's
 * through dyna_node_set_runtime_cfg (core/node.h), the runtime's where they are read
 * (limits at the next command or connection; log level, stall timer, parsers now).
 * Words as Redis 7.0 gives them. */
#include "runtime/cmd_table.h"
#include "runtime/options.h"
#include "runtime/auth.h"
#include "runtime/log.h"
#include "proto/words.h"
#include "util/assert.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Appends one "name value" pair of CONFIG GET's answer to the reply buffer ctx. */
static void config_pair(void *ctx, const char *name, const char *value) {
  dyna_resp_put_bulk_str(ctx, name);
  dyna_resp_put_bulk_str(ctx, value);
}

/* CONFIG GET pattern [pattern ...]: answered from the options table (runtime/options.c),
 * each option once; the node's options as the node runs with them. */
void dyna_cmd_config_get(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  const dyna_node_cfg_t *node = dyna_node_cfg(s->node);
  size_t n = dyna_config_get(&s->cfg, node, a->base, a->o + 2, a->l + 2, a->argc - 2, NULL, NULL);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_map(b, c->proto, n); /* a map in RESP3 */
  dyna_config_get(&s->cfg, node, a->base, a->o + 2, a->l + 2, a->argc - 2, config_pair, b);
}

/* The option named by argument i (any case; Redis's "maxclients" is max-clients), or NULL. */
static const dynad_option_t *option_arg(const dyna_args_t *a, size_t i, char *name, size_t cap) {
  if (dyna_arg_str(a, i, name, cap)) return NULL;
  for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
  if (!strcmp(name, "maxclients")) return dynad_option_find("max-clients");
  return dynad_option_find(name);
}

static void set_failed(conn_t *c, const char *name, const char *why) {
  char line[400];
  snprintf(line, sizeof(line), DYNA_WORD_ERR " CONFIG SET failed (possibly related to argument '%s') - %s", name, why);
  dyna_conn_answer_error(c, line);
}

/* What a changed option needs besides its new value: the runtime's own readers. */
static void apply_runtime(dyna_server_t *s, const dyna_config_t *old) {
  if (strcmp(s->cfg.requirepass, old->requirepass)) dyna_auth_requirepass_changed(s);
  if (s->cfg.log_level != old->log_level) dyna_log_set(s->cfg.log_level, s->cfg.name);
  if (s->cfg.stall_timeout_ms != old->stall_timeout_ms) {
    dyna_server_stall_timer(s);
  }
  if (s->cfg.max_value_bytes != old->max_value_bytes) /* open connections take it too */
    for (conn_t *k = s->conns; k; k = k->next) k->parser.lim.max_bulk = dyna_conn_max_bulk(s);
}

/* CONFIG SET name value [name value ...]: every pair checked on a copy of the
 * configuration, then all applied together, or none. */
void dyna_cmd_config_set(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc % 2) { dyna_conn_answer_arity_error(c, "config|set"); return; }
  dyna_config_t next = s->cfg, old = s->cfg;
  const dynad_option_t *seen[64];
  size_t nseen = 0;
  char name[64], val[600], err[256];
  for (size_t i = 2; i + 1 < a->argc; i += 2) {
    const dynad_option_t *o = option_arg(a, i, name, sizeof(name));
    if (!o) {
      char shown[140], line[220];
      size_t k = dyna_arg_len(a, i) < sizeof(shown) - 1 ? dyna_arg_len(a, i) : sizeof(shown) - 1;
      for (size_t j = 0; j < k; j++) shown[j] = isprint(dyna_arg(a, i)[j]) ? (char)dyna_arg(a, i)[j] : '?';
      shown[k] = 0;
      snprintf(line, sizeof(line), DYNA_WORD_ERR " Unknown option or number of arguments for CONFIG SET - '%s'", shown);
      dyna_conn_answer_error(c, line);
      return;
    }
    for (size_t k = 0; k < nseen; k++)
      if (seen[k] == o) { set_failed(c, name, "duplicate parameter"); return; }
    if (nseen < sizeof(seen) / sizeof(seen[0])) seen[nseen++] = o;
    if (!o->runtime) { set_failed(c, name, "can't set immutable config"); return; }
    if (dyna_arg_str(a, i + 1, val, sizeof(val)) || memchr(dyna_arg(a, i + 1), 0, dyna_arg_len(a, i + 1))) {
      set_failed(c, name, "argument must be a text of at most 599 bytes");
      return;
    }
    if (dynad_option_set(o, &next, val, err, sizeof(err))) { set_failed(c, name, err); return; }
  }
  const dyna_node_cfg_t *cur = dyna_node_cfg(s->node);
  dyna_node_cfg_t node = *cur;
  for (size_t i = 0; i < dyna_noptions; i++) { /* the node's options, from next */
    const dynad_option_t *o = &dynad_options[i];
    if (!o->runtime || !o->node.size) continue;
    DYNA_ASSERT(o->node.size == o->cfg.size, "option %s: %zu bytes here, %zu in the node", o->name, o->cfg.size,
                o->node.size);
    memcpy((char *)&node + o->node.off, (const char *)&next + o->cfg.off, o->cfg.size);
  }
  uint32_t nval = dyna_node_nval(s->node);
  int rbad = !dyna_quorum_kind(node.r) && node.r > nval, wbad = !dyna_quorum_kind(node.w) && node.w > nval;
  if (rbad || wbad) {
    snprintf(err, sizeof(err), "r and w must not exceed n (%u)", nval);
    set_failed(c, rbad ? "r" : "w", err);
    return;
  }
  if (dyna_node_set_runtime_cfg(s->node, &node)) { set_failed(c, name, "the node refused the value"); return; }
  s->cfg = next;
  apply_runtime(s, &old);
  LOG_INFO("CONFIG SET by client %llu: %zu option(s) changed", (unsigned long long)c->id, nseen);
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* CONFIG RESETSTAT: the runtime's counters (INFO stats, commandstats, errorstats) start
 * again from zero; the node's own counters (core) go on. */
void dyna_cmd_config_resetstat(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  dyna_stats_reset(s);
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* CONFIG REWRITE: Dyna does not write its configuration file. */
void dyna_cmd_config_rewrite(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  if (!s->cfg.config_file[0]) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " The server is running without a config file");
    return;
  }
  char line[700];
  snprintf(line, sizeof(line),
           DYNA_WORD_ERR " Dyna does not rewrite its config file %s: edit it (CONFIG SET lasts until the node restarts)",
           s->cfg.config_file);
  dyna_conn_answer_error(c, line);
}
