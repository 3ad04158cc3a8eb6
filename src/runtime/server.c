/* server.c: dynad's event loop: listener, connections, group commit, reply routing,
 * back-pressure, stall timeouts and clean shutdown (see server.h). */
#include "runtime/server_int.h"
#include "util/err.h"
#include "util/alloc.h"
#include "runtime/datadir.h"
#include "runtime/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/resource.h>

#define READ_CHUNK (64u * 1024)

uint64_t dyna_server_now(const dyna_server_t *s) { return uv_now(s->loop); }

dyna_time_t dyna_server_time(const dyna_server_t *s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  dyna_time_t t = {uv_now(s->loop), (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000};
  return t;
}

/* ---------- connections ---------- */

static void conn_close(dyna_server_t *s, conn_t *c);

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  dyna_buf_free(&c->in);
  dyna_wq_free(&c->wq);
  dyna_resp_parser_free(&c->parser);
  dyna_free(c);
}

/* Forgets every request still pending for c: their replies will find no entry. */
static void conn_drop_slots(dyna_server_t *s, conn_t *c) {
  slot_t *slot = c->head;
  while (slot) {
    slot_t *next = slot->next;
    for (uint32_t i = 0; slot->kind != SLOT_READY && i < slot->nsub; i++) {
      dyna_idmap_take(&s->pend, slot->first_req + i, NULL);
    }
    dyna_slot_release(s, slot);
    slot = next;
  }
  c->head = c->tail = NULL;
  c->nslots = 0;
}

static void conn_close(dyna_server_t *s, conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  conn_drop_slots(s, c);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  /* A conn on the dirty list stays there; flush skips closing conns. The handle's
   * memory lives until on_conn_closed; a write in flight completes with ECANCELED. */
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void conn_start_write(dyna_server_t *s, conn_t *c);
static void conn_unblock(dyna_server_t *s, conn_t *c);

static int output_bytes(const conn_t *c) { return dyna_wq_pending(&c->wq) > 0; }

static void maybe_resume_reading(dyna_server_t *s, conn_t *c);

static void on_write(uv_write_t *req, int status) {
  conn_t *c = req->data;
  dyna_server_t *s = c->srv;
  dyna_wq_done(&c->wq);
  if (c->closing) return;
  if (status < 0) {
    LOG_DEBUG("client %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
    conn_close(s, c);
    return;
  }
  conn_start_write(s, c); /* what gathered meanwhile, or the end-of-output steps */
}

/* Writes what c has ready. When nothing is left in flight afterwards (the usual case:
 * the socket took it all at once), takes the steps that follow the end of output:
 * close after QUIT or an error, or take a paused client's buffered commands. */
static void conn_start_write(dyna_server_t *s, conn_t *c) {
  if (c->closing) return;
  int rc = dyna_wq_flush(&c->wq, (uv_stream_t *)&c->tcp, on_write, c);
  if (rc < 0) {
    LOG_DEBUG("client %llu: write: %s", (unsigned long long)c->id, uv_strerror(rc));
    conn_close(s, c);
    return;
  }
  if (rc > 0) return; /* on_write comes back here */
  if (c->quit_after_flush && !c->head) conn_close(s, c);
  else conn_unblock(s, c);
}

static void mark_dirty(dyna_server_t *s, conn_t *c) {
  if (c->dirty) return;
  c->dirty = 1;
  c->next_dirty = s->dirty;
  s->dirty = c;
}

void dyna_conn_flush_slots(dyna_server_t *s, conn_t *c) {
  while (c->head && c->head->kind == SLOT_READY) {
    slot_t *slot = c->head;
    dyna_buf_put(&c->wq.out, slot->out.data, slot->out.len);
    c->head = slot->next;
    if (!c->head) c->tail = NULL;
    c->nslots--;
    dyna_slot_release(s, slot);
  }
  if (c->wq.out.len) mark_dirty(s, c);
}

/* ---------- reading and parsing ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)suggested;
  if (dyna_buf_reserve(&c->in, READ_CHUNK)) {
    c->in.oom = 0; /* report as a read of nothing: libuv gives UV_ENOBUFS */
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

/* Back-pressure: stop taking commands from a client whose answers pile up, counting
 * both bytes ready to send and commands still waiting for the node. */
static int too_much_output(const dyna_server_t *s, const conn_t *c) {
  return dyna_wq_pending(&c->wq) > s->cfg.max_output_bytes || c->nslots >= DYNA_CONN_MAX_INFLIGHT;
}

static void pause_reading(conn_t *c) {
  if (!c->reading) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void process_input(dyna_server_t *s, conn_t *c);

static void maybe_resume_reading(dyna_server_t *s, conn_t *c) {
  if (c->reading || c->closing || c->quit_after_flush || s->stopping) return;
  if (too_much_output(s, c)) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

/* Answers a protocol error and closes after the answer is sent. */
static void protocol_error(dyna_server_t *s, conn_t *c, int rc, const char *why) {
  s->stats.protocol_errors++;
  LOG_INFO("client %llu: closing: %s", (unsigned long long)c->id, why);
  slot_t *slot = dyna_slot_new(s);
  dyna_buf_t *dst = &c->wq.out;
  if (slot) { /* behind any replies still pending, to keep order */
    slot->kind = SLOT_READY;
    slot->conn = c;
    if (c->tail) c->tail->next = slot;
    else c->head = slot;
    c->tail = slot;
    c->nslots++;
    dst = &slot->out;
  }
  dyna_cmd_put_status_error(dst, rc == DYNA_ETOOBIG ? DYNA_ETOOBIG : DYNA_EPROTO, why);
  c->quit_after_flush = 1;
  pause_reading(c);
  dyna_conn_flush_slots(s, c);
}

static void process_input(dyna_server_t *s, conn_t *c) {
  size_t off = 0;
  while (!c->quit_after_flush && off < c->in.len) {
    if (too_much_output(s, c)) { pause_reading(c); break; }
    dyna_resp_cmd_t cmd;
    size_t used = 0;
    int rc = dyna_resp_parse_cmd(&c->parser, c->in.data + off, c->in.len - off, &cmd, &used);
    if (rc == DYNA_EAGAIN) {
      off += used; /* skipped blank lines, if any */
      break;
    }
    if (rc) {
      protocol_error(s, c, rc, c->parser.err[0] ? c->parser.err : dyna_strerror(rc));
      break;
    }
    s->stats.commands++;
    if (dyna_cmd_dispatch(s, c, &cmd)) {
      c->quit_after_flush = 1;
      pause_reading(c);
    }
    off += used;
  }
  dyna_buf_consume(&c->in, off);
  if (!c->quit_after_flush && c->in.len > s->cfg.max_request_bytes) {
    char why[96];
    snprintf(why, sizeof(why), "request exceeds max-request-bytes (%zu)", s->cfg.max_request_bytes);
    protocol_error(s, c, DYNA_ETOOBIG, why);
  }
}

/* A paused client whose answers drained: take its buffered commands, then read again. */
static void conn_unblock(dyna_server_t *s, conn_t *c) {
  if (c->reading || c->closing || c->quit_after_flush || s->stopping || too_much_output(s, c)) return;
  process_input(s, c);
  maybe_resume_reading(s, c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = st->data;
  dyna_server_t *s = c->srv;
  (void)buf;
  if (nread == 0 || c->closing) return;
  if (nread == UV_ENOBUFS) {
    LOG_WARN("client %llu: out of memory for input; closing", (unsigned long long)c->id);
    conn_close(s, c);
    return;
  }
  if (nread < 0) {
    if (nread != UV_EOF) LOG_DEBUG("client %llu: read: %s", (unsigned long long)c->id, uv_strerror((int)nread));
    if (c->head || output_bytes(c)) { /* half-close: answer what was asked, then close */
      c->quit_after_flush = 1;
      pause_reading(c);
      if (!c->head && !output_bytes(c)) conn_close(s, c);
    } else {
      conn_close(s, c);
    }
    return;
  }
  c->in.len += (size_t)nread;
  c->last_input_ms = dyna_server_now(s);
  process_input(s, c);
}

static void on_connection(uv_stream_t *ls, int status) {
  dyna_server_t *s = ls->data;
  if (status < 0) {
    LOG_WARN("accept: %s", uv_strerror(status));
    return;
  }
  conn_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->srv = s;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  s->stats.connections_received++;
  c->id = ++s->next_conn_id;
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  lim.max_bulk = s->cfg.max_value_bytes + 64 * 1024;
  lim.max_args = 1024 * 1024;
  dyna_resp_parser_init(&c->parser, &lim);
  c->last_input_ms = dyna_server_now(s);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  uv_tcp_nodelay(&c->tcp, 1);
  if ((int)s->nconns > s->cfg.max_clients) {
    s->stats.connections_rejected++;
    static const char msg[] = "-ERR max number of clients reached\r\n";
    uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    conn_close(s, c);
    return;
  }
  maybe_resume_reading(s, c);
}

/* ---------- group commit and reply routing ---------- */

void dyna_server_route_reply(dyna_server_t *s, dyna_reply_t *r) {
  dyna_idmap_entry_t e;
  if (!dyna_idmap_take(&s->pend, r->req_id, &e)) return; /* its connection is gone */
  slot_t *slot = e.ptr;
  conn_t *c = slot->conn;
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
      if (!c->closing) conn_start_write(s, c);
      if (!c->closing) {
        if (too_much_output(s, c)) pause_reading(c);
        else conn_unblock(s, c);
      }
      c = next;
    }
  }
  if (s->peers) dyna_peers_flush(s->peers);
}

static int node_has_work(const dyna_server_t *s) {
  return dyna_node_replies_pending(s->node) || dyna_node_msgs_pending(s->node) ||
         !dyna_commit_idle(s);
}

/* Runs once per loop turn, after I/O: group commit, then answers. Answers can unblock
 * paused clients whose commands make more work, so repeat a few times; if work is still
 * queued, the idle handle keeps the next poll from blocking. */
static void on_check(uv_check_t *h) {
  dyna_server_t *s = h->data;
  for (int round = 0; round < 4 && node_has_work(s); round++) {
    dyna_commit_turn(s);
    dyna_server_flush(s);
  }
  dyna_server_flush(s);
  if (!s->stopping && node_has_work(s)) uv_idle_start(&s->idle, on_idle);
  else uv_idle_stop(&s->idle);
}

/* ---------- timers and signals ---------- */

static void on_tick(uv_timer_t *t) {
  dyna_server_t *s = t->data;
  dyna_node_tick(s->node, dyna_server_time(s));
  if (s->peers) dyna_peers_tick(s->peers);
}

static void on_timer(uv_timer_t *t) {
  dyna_server_t *s = t->data;
  uint64_t now = dyna_server_now(s);
  for (conn_t *c = s->conns, *next; c; c = next) {
    next = c->next;
    /* Only a client we are reading from can stall; a paused one waits for us. */
    if (c->reading && c->in.len && now - c->last_input_ms >= s->cfg.stall_timeout_ms) {
      s->stats.stalled_closed++;
      LOG_INFO("client %llu: closing: partial request stalled for %llu ms", (unsigned long long)c->id,
               (unsigned long long)(now - c->last_input_ms));
      conn_close(s, c);
    }
  }
}

void dyna_server_stop(dyna_server_t *s) {
  if (s->stopping) return;
  s->stopping = 1;
  LOG_INFO("shutting down");
  uv_close((uv_handle_t *)&s->listener, NULL);
  uv_close((uv_handle_t *)&s->timer, NULL);
  uv_close((uv_handle_t *)&s->tick, NULL);
  uv_close((uv_handle_t *)&s->idle, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->check, NULL);
  on_check(&s->check); /* answer what is done */
  while (s->conns) conn_close(s, s->conns);
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

int dyna_server_open(const dyna_config_t *cfg, uv_loop_t *loop, dyna_server_t **out,
                     char *err, size_t errlen) {
  dyna_server_t *s = dyna_calloc(1, sizeof(*s));
  if (!s) { snprintf(err, errlen, "out of memory"); return -1; }
  s->cfg = *cfg;
  s->loop = loop;
  dyna_idmap_init(&s->pend);
  raise_fd_limit();
  if (dyna_datadir_open(cfg, &s->store, &s->node_id, err, errlen)) goto fail;
  /* The cluster listener first: its port (maybe chosen by the OS) goes into our record. */
  if (dyna_peers_open(s, &s->peers, err, errlen)) goto fail;
  if (dyna_commit_open(s)) { snprintf(err, errlen, "out of memory"); goto fail; }
  cfg = &s->cfg;
  dyna_node_cfg_t ncfg;
  dyna_node_cfg_default(&ncfg);
  ncfg.id = s->node_id;
  snprintf(ncfg.name, sizeof(ncfg.name), "%s", cfg->name);
  snprintf(ncfg.addr, sizeof(ncfg.addr), "%s:%d", cfg->cluster_host, cfg->cluster_port);
  snprintf(ncfg.client_addr, sizeof(ncfg.client_addr), "%s:%d", cfg->listen_host, cfg->listen_port);
  snprintf(ncfg.zone, sizeof(ncfg.zone), "%s", cfg->zone);
  ncfg.ring_size = cfg->ring_size;
  ncfg.n = cfg->n;
  ncfg.r = cfg->r;
  ncfg.w = cfg->w;
  ncfg.read_all = cfg->read_all;
  ncfg.durable_reads = cfg->durable_reads;
  ncfg.max_value_bytes = cfg->max_value_bytes;
  ncfg.request_timeout_ms = cfg->request_timeout_ms;
  ncfg.gossip_interval_ms = cfg->gossip_interval_ms;
  ncfg.handoff_bytes_per_sec = cfg->background_bytes_per_sec;
  ncfg.aae_interval_ms = cfg->aae_interval_ms;
  ncfg.tombstone_grace_ms = cfg->tombstone_grace_ms;
  ncfg.heartbeat_ms = cfg->heartbeat_ms;
  if (getrandom(&ncfg.seed, sizeof(ncfg.seed), 0) != sizeof(ncfg.seed)) ncfg.seed = s->node_id;
  int nrc = dyna_node_open(&ncfg, s->store, dyna_server_time(s), &s->node);
  if (!nrc) nrc = dyna_store_commit(s->store); /* the incarnation is durable before any frame leaves */
  if (!nrc) dyna_commit_durable_now(s); /* so early frames leave at once (group_commit.c) */
  if (nrc) {
    snprintf(err, errlen, "cannot load node state from %s: %s", cfg->data, dyna_strerror(nrc));
    goto fail;
  }

  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&addr);
  if (rc) rc = uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&addr);
  if (rc) { snprintf(err, errlen, "invalid listen address %s", cfg->listen_host); goto fail; }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
  if (rc) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port, uv_strerror(rc));
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    goto fail;
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
  uint64_t period = cfg->stall_timeout_ms < 4000 ? cfg->stall_timeout_ms / 4 + 1 : 1000;
  uv_timer_start(&s->timer, on_timer, period, period);
  uv_signal_init(loop, &s->sigterm);
  s->sigterm.data = s;
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &s->sigint);
  s->sigint.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  s->start_ms = uv_now(loop);
  LOG_INFO("node %016llx listening on %s:%d (cluster %s:%d), data %s, sync %s",
           (unsigned long long)s->node_id, cfg->listen_host, cfg->listen_port, cfg->cluster_host,
           cfg->cluster_port, cfg->data, dyna_sync_name(cfg->sync));
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
  dyna_slot_cache_free(s);
  dyna_free(s);
}
