/* server.c: dynad's event loop: listener, group commit, reply routing, stall timeouts
 * and clean shutdown (see server.h). Connections and their slot queues are conn.c's;
 * commands are cmd_table.c's. */
#include "runtime/server_int.h"
#include "util/err.h"
#include "util/alloc.h"
#include "runtime/datadir.h"
#include "runtime/auth.h"
#include "runtime/http.h"
#include "runtime/events.h"
#include "store/lmdb.h"
#include "runtime/log.h"
#include "runtime/tls.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/resource.h>

uint64_t dyna_server_now(const dyna_server_t *s) { return uv_now(s->loop); }

dyna_time_t dyna_server_time(const dyna_server_t *s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  dyna_time_t t = {uv_now(s->loop), (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000};
  return t;
}

/* ---------- connections (conn.c) ---------- */

static void on_connection(uv_stream_t *ls, int status) {
  dyna_server_t *s = ls->data;
  if (status < 0) {
    LOG_WARN("accept: %s", uv_strerror(status));
    return;
  }
  dyna_conn_accept(s, ls);
}

/* ---------- group commit and reply routing ---------- */

void dyna_server_route_reply(dyna_server_t *s, dyna_node_reply_t *r) {
  dyna_idmap_entry_t e;
  if (!dyna_idmap_take(&s->pend, r->req_id, &e)) { /* an HTTP request's, or its connection is gone */
    dyna_http_route_reply(s->http, r);
    return;
  }
  slot_t *slot = e.ptr;
  conn_t *c = slot->conn;
  if (r->op < DYNA_STAT_OPS) dyna_hist_observe(&s->stats.req_hist[r->op], (uv_hrtime() - slot->submit_ns) / 1000);
  dyna_cmd_complete(s, c, slot, (uint32_t)e.aux, r);
  dyna_conn_flush_slots(s, c);
}

static void on_idle(uv_idle_t *h) { (void)h; }

/* Writes every connection with new output, and every peer link with new frames: one
 * write per socket per turn. Taking a paused client's buffered commands can answer some
 * at once (PING, errors), which dirties it again: those go out in the next pass. */
void dyna_server_flush(dyna_server_t *s) {
  while (s->dirty) {
    conn_t *c = s->dirty;
    s->dirty = NULL;
    while (c) {
      conn_t *next = c->next_dirty;
      c->dirty = 0;
      c->next_dirty = NULL;
      dyna_conn_write(s, c);
      c = next;
    }
  }
  if (s->peers) dyna_peers_flush(s->peers);
}

static int node_has_work(const dyna_server_t *s) {
  return dyna_node_replies_pending(s->node) || dyna_node_msgs_pending(s->node) ||
         !dyna_commit_idle(s);
}

/* Runs once per loop turn, after I/O: the next share of the clients that yielded at
 * their turn budget (conn.h), group commit, then answers. Answers can unblock paused
 * clients whose commands make more work, so repeat a few times (their turn budgets bound
 * it); if work is still queued or a client still waits for its next share, the idle
 * handle keeps the next poll from blocking. Then the turn ends for the budgets. */
static void on_check(uv_check_t *h) {
  dyna_server_t *s = h->data;
  dyna_conn_run_yielded(s);
  for (int round = 0; round < 4 && node_has_work(s); round++) {
    dyna_commit_turn(s);
    dyna_server_flush(s);
  }
  dyna_server_flush(s);
  if (!s->stopping && (node_has_work(s) || s->ready)) uv_idle_start(&s->idle, on_idle);
  else uv_idle_stop(&s->idle);
  s->turn++;
}

/* ---------- timers and signals ---------- */

static void on_tick(uv_timer_t *t) {
  dyna_server_t *s = t->data;
  /* The loop's lag (how late this 50 ms timer fires) is what a client request arriving
   * now would wait behind: the admission controller's foreground signal. */
  uint64_t now_us = uv_hrtime() / 1000, due_us = s->tick_us + 50000;
  if (s->tick_us) dyna_node_foreground_latency(s->node, now_us > due_us ? now_us - due_us : 0);
  s->tick_us = now_us;
  dyna_stats_tick(s);
  dyna_node_tick(s->node, dyna_server_time(s));
  if (s->peers) dyna_peers_tick(s->peers);
  dyna_events_tick(s);
  uint64_t by = dyna_node_join_refused_by(s->node);
  if (by && by != s->join_refused_logged) { /* once per namesake, not every JOIN retry */
    LOG_ERROR("the cluster refuses this node: its member %016" PRIx64 " is named %s too and is alive. "
              "To replace that node, stop it first (this node then takes its place); "
              "to add a node, start this one with another --name and an empty data directory",
              by, s->cfg.name);
  }
  s->join_refused_logged = by;
}

static void on_timer(uv_timer_t *t) {
  dyna_server_t *s = t->data;
  uint64_t now = dyna_server_now(s);
  for (conn_t *c = s->conns, *next; c; c = next) {
    next = c->next;
    /* Only a client we are reading from can stall; a paused one waits for us. */
    if (c->state == CONN_READING && c->in.len && now - c->last_input_ms >= s->cfg.stall_timeout_ms) {
      s->stats.stalled_closed++;
      LOG_INFO("client %llu: closing: partial request stalled for %llu ms", (unsigned long long)c->id,
               (unsigned long long)(now - c->last_input_ms));
      dyna_conn_close(s, c);
    }
  }
}

void dyna_server_stall_timer(dyna_server_t *s) {
  uint64_t period = s->cfg.stall_timeout_ms < 4000 ? s->cfg.stall_timeout_ms / 4 + 1 : 1000;
  uv_timer_start(&s->timer, on_timer, period, period);
}

void dyna_server_stop(dyna_server_t *s) {
  if (s->stopping) return;
  s->stopping = 1;
  LOG_INFO("shutting down");
  if (s->listening) uv_close((uv_handle_t *)&s->listener, NULL);
  if (s->tls_listening) uv_close((uv_handle_t *)&s->tls_listener, NULL);
  dyna_http_close(s->http);
  uv_close((uv_handle_t *)&s->timer, NULL);
  uv_close((uv_handle_t *)&s->tick, NULL);
  uv_close((uv_handle_t *)&s->idle, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->check, NULL);
  dyna_auth_close(s);
  on_check(&s->check); /* answer what is done */
  while (s->conns) dyna_conn_close(s, s->conns);
  dyna_peers_close(s->peers);
  dyna_commit_close(s);
}

static void on_signal(uv_signal_t *h, int signum) {
  LOG_INFO("received signal %d", signum);
  dyna_server_stop(h->data);
}

/* ---------- open / run / free ---------- */

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* The TLS contexts the options ask for (none without --tls-port or --tls-cluster). */
static int open_tls(dyna_server_t *s, char *err, size_t errlen) {
  const dyna_config_t *c = &s->cfg;
  if ((c->tls_port || c->tls_cluster) && (!c->tls_cert_file[0] || !c->tls_key_file[0])) {
    snprintf(err, errlen, "TLS needs tls-cert-file and tls-key-file");
    return -1;
  }
  if (c->tls_port) {
    s->tls_clients = dyna_tls_ctx_new(1, c->tls_cert_file, c->tls_key_file, c->tls_ca_cert_file,
                                      (dyna_tls_peer_t)c->tls_auth_clients, err, errlen);
    if (!s->tls_clients) return -1;
  }
  if (c->tls_cluster) {
    s->tls_peers_in = dyna_tls_ctx_new(1, c->tls_cert_file, c->tls_key_file, c->tls_ca_cert_file,
                                       DYNA_TLS_PEER_REQUIRE, err, errlen);
    if (!s->tls_peers_in) return -1;
    s->tls_peers_out = dyna_tls_ctx_new(0, c->tls_cert_file, c->tls_key_file, c->tls_ca_cert_file,
                                        DYNA_TLS_PEER_REQUIRE, err, errlen);
    if (!s->tls_peers_out) return -1;
  }
  return 0;
}

/* Listens for clients on the listen host at port, into h. 0, or -1 with err. */
static int listen_clients(dyna_server_t *s, uv_tcp_t *h, int port, char *err, size_t errlen) {
  const dyna_config_t *cfg = &s->cfg;
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(cfg->listen_host, port, (struct sockaddr_in *)&addr);
  if (rc) rc = uv_ip6_addr(cfg->listen_host, port, (struct sockaddr_in6 *)&addr);
  if (rc) { snprintf(err, errlen, "invalid listen address %s", cfg->listen_host); return -1; }
  uv_tcp_init(s->loop, h);
  h->data = s;
  rc = uv_tcp_bind(h, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)h, 1024, on_connection);
  if (rc) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->listen_host, port, uv_strerror(rc));
    uv_close((uv_handle_t *)h, NULL);
    uv_run(s->loop, UV_RUN_NOWAIT);
    return -1;
  }
  return 0;
}

int dyna_server_open(const dyna_config_t *cfg, uv_loop_t *loop, dyna_server_t **out,
                     char *err, size_t errlen) {
  dyna_server_t *s = dyna_calloc(1, sizeof(*s));
  if (!s) { snprintf(err, errlen, "out of memory"); return -1; }
  s->cfg = *cfg;
  s->loop = loop;
  dyna_idmap_init(&s->pend);
  raise_fd_limit();
  if (!cfg->listen_port && !cfg->tls_port) {
    snprintf(err, errlen, "no client port: --listen's port is 0 and --tls-port is not set");
    goto fail;
  }
  if (open_tls(s, err, errlen)) goto fail;
  if (dyna_auth_open(s, err, errlen)) goto fail; /* users (cmd_auth.c) */
  if (dyna_datadir_open(cfg, &s->store, &s->node_id, err, errlen)) goto fail;
  /* The cluster listener first: its port (maybe chosen by the OS) goes into our record. */
  if (dyna_peers_open(s, &s->peers, err, errlen)) goto fail;
  if (dyna_commit_open(s, err, errlen)) goto fail;
  cfg = &s->cfg;
  dyna_node_cfg_t ncfg; /* every option that lands in the node, from the table (options.h) */
  uint64_t seed;
  if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) seed = s->node_id;
  dyna_config_node_cfg(cfg, s->node_id, seed, &ncfg);
  /* Clients are sent to the TLS port when it is the only one, or when the cluster runs
   * TLS too (as Redis announces its TLS port with tls-cluster yes). */
  if (cfg->tls_port && (!cfg->listen_port || cfg->tls_cluster))
    snprintf(ncfg.client_addr, sizeof(ncfg.client_addr), "%s:%d", cfg->listen_host, cfg->tls_port);
  ncfg.bugs = s->test_bugs & ~(uint32_t)DYNA_BUG_GATE_FORGET_LOSS; /* DYNA_TEST_BUGS, tests only */
  int nrc = dyna_node_open(&ncfg, s->store, dyna_server_time(s), &s->node);
  if (!nrc) nrc = dyna_store_commit(s->store); /* the incarnation is durable before any frame leaves */
  if (!nrc) dyna_commit_durable_now(s); /* so early frames leave at once (group_commit.c) */
  if (nrc) {
    snprintf(err, errlen, "cannot load node state from %s: %s", cfg->data,
             dyna_store_lmdb_strerror(nrc, cfg->data));
    goto fail;
  }

  if (dyna_http_open(s, &s->http, err, errlen)) goto fail;
  if (cfg->listen_port) {
    if (listen_clients(s, &s->listener, cfg->listen_port, err, errlen)) goto fail;
    s->listening = 1;
  }
  if (cfg->tls_port) {
    if (listen_clients(s, &s->tls_listener, cfg->tls_port, err, errlen)) {
      if (s->listening) uv_close((uv_handle_t *)&s->listener, NULL);
      s->listening = 0;
      goto fail;
    }
    s->tls_listening = 1;
  }
  uv_check_init(loop, &s->check);
  s->check.data = s;
  uv_check_start(&s->check, on_check);
  uv_idle_init(loop, &s->idle);
  s->idle.data = s;
  uv_timer_init(loop, &s->tick);
  s->tick.data = s;
  uv_timer_start(&s->tick, on_tick, 50, 50);
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  dyna_server_stall_timer(s);
  uv_signal_init(loop, &s->sigterm);
  s->sigterm.data = s;
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &s->sigint);
  s->sigint.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  s->start_ms = uv_now(loop);
  dyna_stats_start(s);
  LOG_INFO("node %016llx listening on %s:%d (cluster %s:%d), data %s, sync %s",
           (unsigned long long)s->node_id, cfg->listen_host, cfg->listen_port, cfg->cluster_host,
           cfg->cluster_port, cfg->data, dyna_sync_name(cfg->sync));
  if (cfg->tls_port || cfg->tls_cluster)
    LOG_INFO("TLS client port %d (client certificates: %s), TLS cluster port: %s", cfg->tls_port,
             cfg->tls_auth_clients == DYNA_TLS_PEER_REQUIRE    ? "required"
             : cfg->tls_auth_clients == DYNA_TLS_PEER_OPTIONAL ? "optional"
                                                                : "not asked for",
             cfg->tls_cluster ? "yes" : "no");
  /* Every --join seed is dialled; each whose HELLO comes back is asked to let this node
   * join (core/node.h, dyna_node_join), so one dead seed does not keep it out. */
  for (size_t i = 0; i < cfg->njoin; i++)
    if (dyna_peers_join(s->peers, cfg->join[i])) LOG_WARN("cannot join %s: bad address", cfg->join[i]);
  *out = s;
  return 0;
fail:
  if (s->peers) {
    dyna_peers_close(s->peers);
    dyna_commit_close(s);
    dyna_http_close(s->http);
    uv_run(loop, UV_RUN_NOWAIT);
  }
  dyna_server_free(s);
  return -1;
}

int dyna_server_run(dyna_server_t *s) {
  uv_run(s->loop, UV_RUN_DEFAULT);
  return 0;
}

void dyna_server_free(dyna_server_t *s) {
  if (!s) return;
  dyna_http_free(s->http);
  dyna_events_free(s);
  dyna_peers_free(s->peers);
  dyna_commit_free(s);
  if (s->node && s->stopping) dyna_node_shutdown(s->node); /* clean: the next start keeps the actors */
  dyna_node_free(s->node);
  if (s->store) {
    int rc = dyna_store_commit(s->store);
    if (rc) LOG_ERROR("final commit failed: %s", dyna_strerror(rc));
    dyna_store_close(s->store);
  }
  dyna_idmap_free(&s->pend);
  dyna_auth_free(s);
  dyna_slot_pool_free(s);
  dyna_tls_ctx_free(s->tls_clients);
  dyna_tls_ctx_free(s->tls_peers_in);
  dyna_tls_ctx_free(s->tls_peers_out);
  dyna_free(s);
}
