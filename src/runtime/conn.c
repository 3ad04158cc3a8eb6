/* conn.c: dynad's client connections: accepting, reading and parsing commands, the FIFO
 * of slots each command waits in, writing replies in order, back-pressure and closing;
 * and the pool the slots come from. States and queue in conn.h.
 *
 *   socket ─▶ on_read ─▶ in ─▶ dyna_resp_parse_cmd ─▶ dyna_cmd_dispatch (cmd_table.c)
 *                                                          │ pushes one slot per command
 *   head ▶ [slot ready] [slot waiting] [slot ready] ◀ tail ┘
 *      │ dyna_conn_flush_slots: ready slots at the head, in order
 *      ▼
 *   wq.out ─▶ dyna_conn_write (once per loop turn, server.c) ─▶ socket
 *
 * A connection accepted on the TLS port has a TLS session in wq.tls (runtime/tls.h):
 * what libuv reads is decrypted into `in` before parsing, and wq seals `out` as it
 * writes. Nothing else here differs.
 *
 * Fairness: process_input takes at most a turn budget of commands per connection per loop
 * turn (conn.h); a connection with input left yields to the ready list, stops reading,
 * and dyna_conn_run_yielded (the check phase) gives it its next share in a later turn.
 */
#include "runtime/server_int.h"
#include "runtime/cmd_table.h"
#include "runtime/auth.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/err.h"
#include "proto/words.h"
#include "runtime/log.h"
#include "runtime/tls.h"
#include <stdio.h>
#include <string.h>

#define READ_CHUNK (64u * 1024)

/* ---------- the slot pool ---------- */

/* Finished slots are kept for reuse, with their reply buffer, so that a command costs
 * no allocation in the runtime: at most SLOT_CACHE of them, buffers up to SLOT_KEEP. */
#define SLOT_CACHE 1024 /* 50 clients pipelining 16 commands each keep 800 in flight */
#define SLOT_KEEP 4096

slot_t *dyna_slot_get(dyna_server_t *s) {
  slot_t *slot = s->free_slots;
  if (!slot) return dyna_calloc(1, sizeof(*slot));
  DYNA_ASSERT(slot->pooled && s->nfree_slots > 0, "pool slot %p pooled=%d nfree=%zu", (void *)slot,
              slot->pooled, s->nfree_slots);
  s->free_slots = slot->next;
  s->nfree_slots--;
  dyna_buf_t out = slot->out; /* empty, keeps its allocation */
  memset(slot, 0, sizeof(*slot));
  slot->out = out;
  return slot;
}

void dyna_slot_put(dyna_server_t *s, slot_t *slot) {
  if (!slot) return;
  DYNA_ASSERT(!slot->pooled, "slot %p put back twice (kind %d, first req %llu)", (void *)slot,
              (int)slot->kind, (unsigned long long)slot->first_req);
  if (slot->parts) {
    for (uint32_t i = 0; i < slot->nsub; i++) dyna_buf_free(&slot->parts[i]);
    dyna_free(slot->parts);
    slot->parts = NULL;
  }
  dyna_free(slot->subst);
  slot->subst = NULL;
  dyna_free(slot->keep_off);
  slot->keep_off = NULL;
  dyna_buf_free(&slot->keep);
  dyna_buf_free(&slot->targs);
  slot->tcmd = NULL;
  if (s->nfree_slots >= SLOT_CACHE) {
    dyna_buf_free(&slot->out);
    dyna_free(slot);
    return;
  }
  if (slot->out.cap > SLOT_KEEP) dyna_buf_free(&slot->out);
  else dyna_buf_reset(&slot->out);
  slot->pooled = 1;
  slot->next = s->free_slots;
  s->free_slots = slot;
  s->nfree_slots++;
}

void dyna_slot_pool_free(dyna_server_t *s) {
  while (s->free_slots) {
    slot_t *slot = s->free_slots;
    s->free_slots = slot->next;
    dyna_buf_free(&slot->out);
    dyna_free(slot);
    s->nfree_slots--;
  }
  DYNA_ASSERT(s->nfree_slots == 0, "pool count %zu after freeing every slot", s->nfree_slots);
}

/* ---------- the slot queue ---------- */

void dyna_conn_slot_push(conn_t *c, slot_t *slot) {
  DYNA_ASSERT(!slot->pooled && !slot->next, "pushing slot %p pooled=%d", (void *)slot, slot->pooled);
  DYNA_ASSERT((c->head == NULL) == (c->tail == NULL) && (c->head == NULL) == (c->nslots == 0),
              "conn %llu queue head %p tail %p count %zu", (unsigned long long)c->id, (void *)c->head,
              (void *)c->tail, c->nslots);
  /* FIFO order: request ids grow along the queue, so replies map back in order. */
  if (slot->first_req) {
    DYNA_ASSERT(slot->first_req > c->last_req, "conn %llu: request %llu queued after %llu",
                (unsigned long long)c->id, (unsigned long long)slot->first_req,
                (unsigned long long)c->last_req);
    c->last_req = slot->first_req + slot->nsub - 1;
  }
  slot->conn = c;
  slot->stat = c->cur_stat;
  if (c->tail) c->tail->next = slot;
  else c->head = slot;
  c->tail = slot;
  c->nslots++;
}

static void mark_dirty(dyna_server_t *s, conn_t *c) {
  if (c->dirty) return;
  c->dirty = 1;
  c->next_dirty = s->dirty;
  s->dirty = c;
}

void dyna_conn_flush_slots(dyna_server_t *s, conn_t *c) {
again:
  while (c->head && c->head->kind == SLOT_READY) {
    slot_t *slot = c->head;
    DYNA_ASSERT(slot->conn == c && c->nslots > 0, "conn %llu: head slot of conn %llu, count %zu",
                (unsigned long long)c->id, (unsigned long long)(slot->conn ? slot->conn->id : 0),
                c->nslots);
    if (slot->stat) dyna_stats_reply(s, slot->stat - 1, &slot->out);
    dyna_buf_put(&c->wq.out, slot->out.data, slot->out.len);
    c->head = slot->next;
    if (!c->head) c->tail = NULL;
    c->nslots--;
    if (slot == c->stepping) c->stepping = NULL;
    slot->next = NULL;
    dyna_slot_put(s, slot);
  }
  /* A read-then-write command starts once everything before it is answered. */
  if (c->head && c->head->kind == SLOT_STEP && !c->head->started) {
    DYNA_ASSERT(c->head == c->stepping && c->head == c->tail, "conn %llu: step slot %p not the last",
                (unsigned long long)c->id, (void *)c->head);
    dyna_cmd_step_start(s, c, c->head);
    goto again;
  }
  DYNA_ASSERT((c->head == NULL) == (c->nslots == 0), "conn %llu: queue %p with count %zu",
              (unsigned long long)c->id, (void *)c->head, c->nslots);
  if (c->wq.out.len) mark_dirty(s, c);
}

/* Forgets every request still pending for c: their replies will find no entry. */
static void drop_slots(dyna_server_t *s, conn_t *c) {
  slot_t *slot = c->head;
  while (slot) {
    slot_t *next = slot->next;
    for (uint32_t i = 0; slot->kind != SLOT_READY && i < slot->nsub; i++) {
      dyna_idmap_take(&s->pend, slot->first_req + i, NULL);
    }
    slot->next = NULL;
    dyna_slot_put(s, slot);
    slot = next;
  }
  c->head = c->tail = NULL;
  c->stepping = NULL;
  c->nslots = 0;
}

/* ---------- the ready list: connections that yielded at the turn budget ---------- */

static void ready_link(conn_t **list, conn_t *c) {
  DYNA_ASSERT(!c->ready_list, "conn %llu linked on two ready lists", (unsigned long long)c->id);
  c->ready_list = list;
  c->ready_prev = NULL;
  c->ready_next = *list;
  if (*list) (*list)->ready_prev = c;
  *list = c;
}

static void ready_unlink(conn_t *c) {
  if (!c->ready_list) return;
  if (c->ready_prev) c->ready_prev->ready_next = c->ready_next;
  else *c->ready_list = c->ready_next;
  if (c->ready_next) c->ready_next->ready_prev = c->ready_prev;
  c->ready_list = NULL;
  c->ready_prev = c->ready_next = NULL;
}

/* ---------- closing ---------- */

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  dyna_buf_free(&c->in);
  dyna_wq_free(&c->wq);
  dyna_resp_parser_free(&c->parser);
  dyna_txn_free(c->txn);
  dyna_free(c);
}

void dyna_conn_close(dyna_server_t *s, conn_t *c) {
  if (c->state == CONN_CLOSING) return;
  c->state = CONN_CLOSING;
  dyna_auth_conn_closed(s, c); /* its held login answer, if any (cmd_auth.c) */
  ready_unlink(c);             /* its buffered commands are dropped with it */
  drop_slots(s, c);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  /* A conn on the dirty list stays there; flush skips closing conns. The handle's
   * memory lives until on_conn_closed; a write in flight completes with ECANCELED. */
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---------- reading ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)suggested;
  if (c->wq.tls) { /* ciphertext: decrypted into in by on_read */
    *buf = dyna_tls_read_buf();
    return;
  }
  if (dyna_buf_reserve(&c->in, READ_CHUNK)) {
    c->in.oom = 0; /* report as a read of nothing: libuv gives UV_ENOBUFS */
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

/* Back-pressure: stop taking commands from a client whose answers pile up, counting
 * both bytes ready to send and commands still waiting for the node; and while a
 * read-then-write command of it is in the queue (conn.h). */
static int too_much_output(const dyna_server_t *s, const conn_t *c) {
  return dyna_wq_pending(&c->wq) > s->cfg.max_output_bytes || c->nslots >= DYNA_CONN_MAX_INFLIGHT ||
         c->stepping;
}

static void pause_reading(conn_t *c) {
  if (c->state != CONN_READING) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->state = CONN_PAUSED;
}

void dyna_conn_drain(conn_t *c) {
  if (c->state == CONN_CLOSING) return;
  pause_reading(c);
  c->state = CONN_DRAINING;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static int output_bytes(const conn_t *c);

/* The client ended its stream: answer what was asked (a half-close), then close. */
static void end_of_input(dyna_server_t *s, conn_t *c) {
  c->eof_pending = 0;
  if (c->head || output_bytes(c)) dyna_conn_drain(c);
  else dyna_conn_close(s, c);
}

static void maybe_resume_reading(dyna_server_t *s, conn_t *c) {
  if (c->state != CONN_PAUSED || s->stopping) return;
  if (too_much_output(s, c)) return;
  if (c->ready_list) return; /* yielded: reads again once its buffered commands are taken */
  if (c->eof_pending) { /* its last commands are taken: now the end it sent after them */
    end_of_input(s, c);
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) return;
  c->state = CONN_READING;
  /* The stall clock starts again: the time we were not reading is ours, not the
   * client's (a long pause under load must not close it as a stalled request). */
  c->last_input_ms = dyna_server_now(s);
}

/* Answers a protocol error and closes after the answer is sent. */
static void protocol_error(dyna_server_t *s, conn_t *c, int rc, const char *why) {
  s->stats.protocol_errors++;
  LOG_INFO("client %llu: closing: %s", (unsigned long long)c->id, why);
  slot_t *slot = dyna_slot_get(s);
  dyna_buf_t *dst = &c->wq.out;
  if (slot) { /* behind any replies still pending, to keep order */
    slot->kind = SLOT_READY;
    dyna_conn_slot_push(c, slot);
    dst = &slot->out;
  }
  dyna_resp_put_status_error(dst, rc == DYNA_ETOOBIG ? DYNA_ETOOBIG : DYNA_EPROTO, why);
  dyna_conn_drain(c);
  dyna_conn_flush_slots(s, c);
}

/* A command with an argument over the parser's max_bulk was read and dropped (never
 * buffered, resp.h's max_skip): it gets -TOOBIG as the value limit words it, in its turn,
 * and the connection goes on with the next command. */
static void value_too_big(dyna_server_t *s, conn_t *c, size_t len) {
  char line[96];
  s->stats.commands++;
  snprintf(line, sizeof(line), DYNA_WORD_TOOBIG " value is %zu bytes, limit is %zu", len, s->cfg.max_value_bytes);
  dyna_conn_answer_error(c, line);
  dyna_stats_error_reply(s, (const uint8_t *)"-" DYNA_WORD_TOOBIG "\r\n", sizeof(DYNA_WORD_TOOBIG) + 2);
  dyna_conn_flush_slots(s, c);
}

static int taking_commands(const conn_t *c) {
  return c->state == CONN_READING || c->state == CONN_PAUSED;
}

/* Its turn budget spent with input left: c waits on the ready list for a later turn, and
 * reads nothing meanwhile (what it buffers stays what it had read). */
static void yield_turn(dyna_server_t *s, conn_t *c) {
  pause_reading(c);
  if (c->ready_list) return; /* already waiting (a flush in the same turn tried again) */
  s->stats.budget_yields++;
  ready_link(&s->ready, c);
}

/* Counts one command of n input bytes against c's turn budget. */
static void take_budget(dyna_server_t *s, conn_t *c, size_t n) {
  uint32_t k = dyna_turn_budget_take(&c->budget, n);
  if (k > s->stats.max_cmds_per_turn) s->stats.max_cmds_per_turn = k;
}

/* A pipelined batch: before its next commands run one by one, the store starts loading
 * the memory of every key they name (dyna_node_prefetch), so that the cache misses of
 * their lookups overlap instead of following one another (docs/performance.md,
 * *Prefetching a pipelined batch's keys*). Looks at c->in from off, up to
 * DYNA_STORE_PREFETCH_MAX commands; returns the offset after the last one looked at (off
 * when none). Single-key commands only. A hint: it changes nothing else. Not when a
 * command is half read: its bytes would be scanned again on every read. */
static size_t prefetch_keys(dyna_server_t *s, conn_t *c, size_t off) {
  if (c->parser.pos || c->parser.want || c->parser.skipping) return off;
  dyna_resp_peek_t pk[DYNA_STORE_PREFETCH_MAX];
  size_t n = dyna_resp_peek_cmds(&c->parser.lim, c->in.data + off, c->in.len - off, pk,
                                 DYNA_STORE_PREFETCH_MAX, &off);
  const uint8_t *keys[DYNA_STORE_PREFETCH_MAX];
  size_t klens[DYNA_STORE_PREFETCH_MAX], m = 0;
  for (size_t i = 0; n >= 2 && i < n; i++) {
    const dyna_cmd_t *row = pk[i].argc >= 2 ? dyna_cmd_lookup(pk[i].name, pk[i].nlen) : NULL;
    if (!row || row->first_key != 1) continue;
    keys[m] = pk[i].arg;
    klens[m++] = pk[i].alen;
  }
  if (m >= 2) dyna_node_prefetch(s->node, keys, klens, m);
  return off;
}

static void process_input(dyna_server_t *s, conn_t *c) {
  size_t off = 0;
  size_t peeked = 0; /* input before this has been looked at by prefetch_keys */
  int spent = 0;
  dyna_turn_budget_begin(&c->budget, s->turn);
  while (taking_commands(c) && off < c->in.len) {
    if (too_much_output(s, c)) { pause_reading(c); break; }
    if (!dyna_turn_budget_left(&c->budget, DYNA_CONN_TURN_CMDS, DYNA_CONN_TURN_BYTES)) {
      spent = 1;
      break;
    }
    if (off >= peeked) {
      size_t end = prefetch_keys(s, c, off);
      peeked = end > off ? end : off + 1;
    }
    dyna_resp_cmd_t cmd;
    size_t used = 0;
    int rc = dyna_resp_parse_cmd(&c->parser, c->in.data + off, c->in.len - off, &cmd, &used);
    if (rc == DYNA_EAGAIN) {
      off += used; /* skipped blank lines, if any */
      break;
    }
    if (rc == DYNA_ETOOBIG && c->parser.skipped) { /* dropped whole: answer, go on */
      take_budget(s, c, used);
      value_too_big(s, c, c->parser.skip_len);
      off += used;
      continue;
    }
    if (rc) {
      protocol_error(s, c, rc, c->parser.err[0] ? c->parser.err : dyna_strerror(rc));
      break;
    }
    s->stats.commands++;
    take_budget(s, c, used);
    dyna_cmd_dispatch(s, c, &cmd); /* QUIT drains c: the loop stops there */
    off += used;
  }
  dyna_buf_consume(&c->in, off);
  if (spent && taking_commands(c)) yield_turn(s, c);
  else ready_unlink(c); /* all taken (or no more wanted): it reads again, or closes */
  if (taking_commands(c) && c->in.len > s->cfg.max_request_bytes) {
    char why[96];
    snprintf(why, sizeof(why), "request exceeds max-request-bytes (%zu)", s->cfg.max_request_bytes);
    protocol_error(s, c, DYNA_ETOOBIG, why);
  }
}

/* A paused client whose answers drained: take its buffered commands, then read again. */
static void conn_unblock(dyna_server_t *s, conn_t *c) {
  if (c->state != CONN_PAUSED || s->stopping || too_much_output(s, c)) return;
  process_input(s, c);
  maybe_resume_reading(s, c);
}

void dyna_conn_run_yielded(dyna_server_t *s) {
  if (s->stopping || !s->ready) return;
  /* This turn's share for each, oldest turn's list first; one that yields again goes back
   * on s->ready for the next turn. The copy is a list of its own so that a connection
   * closed meanwhile (CLIENT KILL from another one) unlinks itself from it. */
  conn_t *run = NULL;
  while (s->ready) {
    conn_t *c = s->ready;
    ready_unlink(c);
    ready_link(&run, c);
  }
  while (run) {
    conn_t *c = run;
    ready_unlink(c);
    if (c->budget.turn == s->turn) { /* yielded in this turn's reads: next turn */
      ready_link(&s->ready, c);
      continue;
    }
    if (c->state != CONN_PAUSED) continue; /* draining or closing: nothing more to take */
    process_input(s, c);
    maybe_resume_reading(s, c);
  }
}

static int output_bytes(const conn_t *c) { return dyna_wq_pending(&c->wq) > 0; }

/* A TLS connection's n bytes read: decrypted into c->in (tls.h). 0 (*eof set when
 * the client ended the session with close_notify), or -1: closed (a handshake refused
 * or a bad record, logged with the client's address and the reason). */
static int tls_input(dyna_server_t *s, conn_t *c, const uv_buf_t *buf, size_t n, int *eof) {
  char why[192];
  int rc = dyna_tls_recv(c->wq.tls, (const uint8_t *)buf->base, n, &c->in, &c->wq.sealed, why, sizeof(why));
  if (rc < 0) {
    s->stats.protocol_errors++;
    LOG_INFO("client %llu (%s): TLS: %s; closing", (unsigned long long)c->id, c->addr, why);
    uv_buf_t alert = uv_buf_init((char *)c->wq.sealed.data, (unsigned)c->wq.sealed.len);
    if (alert.len && !c->wq.writing) uv_try_write((uv_stream_t *)&c->tcp, &alert, 1); /* best effort */
    dyna_conn_close(s, c);
    return -1;
  }
  if (c->wq.sealed.len || (c->wq.out.len && dyna_tls_ready(c->wq.tls))) mark_dirty(s, c);
  *eof = rc == 1;
  return 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = st->data;
  dyna_server_t *s = c->srv;
  int eof = 0;
  if (nread == 0 || c->state == CONN_CLOSING) return;
  if (nread > 0 && c->wq.tls) {
    s->stats.net_input_bytes += (uint64_t)nread;
    c->last_input_ms = dyna_server_now(s);
    if (tls_input(s, c, buf, (size_t)nread, &eof) < 0) return;
    /* Commands decrypted from the same read as a close_notify are taken before the end. */
    c->eof_pending = eof;
    if (c->in.len) process_input(s, c);
    if (!eof || c->state == CONN_CLOSING) return;
    if (c->state == CONN_PAUSED || c->ready_list) {
      pause_reading(c); /* some wait for their turn: the end is handled after them */
      return;
    }
    c->eof_pending = 0;
    nread = UV_EOF; /* as a plain client's end of stream */
  }
  if (nread == UV_ENOBUFS) {
    LOG_WARN("client %llu: out of memory for input; closing", (unsigned long long)c->id);
    dyna_conn_close(s, c);
    return;
  }
  if (nread < 0) {
    if (nread != UV_EOF) LOG_DEBUG("client %llu: read: %s", (unsigned long long)c->id, uv_strerror((int)nread));
    end_of_input(s, c); /* half-close: answer what was asked */
    return;
  }
  c->in.len += (size_t)nread;
  s->stats.net_input_bytes += (uint64_t)nread;
  c->last_input_ms = dyna_server_now(s);
  process_input(s, c);
}

/* ---------- writing ---------- */

static void conn_start_write(dyna_server_t *s, conn_t *c);

static void on_write(uv_write_t *req, int status) {
  conn_t *c = req->data;
  dyna_server_t *s = c->srv;
  dyna_wq_done(&c->wq);
  if (c->state == CONN_CLOSING) return;
  if (status < 0) {
    LOG_DEBUG("client %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
    dyna_conn_close(s, c);
    return;
  }
  conn_start_write(s, c); /* what gathered meanwhile, or the end-of-output steps */
}

/* Writes what c has ready. When nothing is left in flight afterwards (the usual case:
 * the socket took it all at once), takes the steps that follow the end of output:
 * close a draining connection whose queue is empty, or take a paused client's buffered
 * commands. */
static void conn_start_write(dyna_server_t *s, conn_t *c) {
  if (c->state == CONN_CLOSING) return;
  int rc = dyna_wq_flush(&c->wq, (uv_stream_t *)&c->tcp, on_write, c);
  if (rc < 0) {
    LOG_DEBUG("client %llu: write: %s", (unsigned long long)c->id, uv_strerror(rc));
    dyna_conn_close(s, c);
    return;
  }
  if (rc > 0) return; /* on_write comes back here */
  if (c->state == CONN_DRAINING && !c->head) dyna_conn_close(s, c);
  else conn_unblock(s, c);
}

void dyna_conn_write(dyna_server_t *s, conn_t *c) {
  if (c->state == CONN_CLOSING) return;
  conn_start_write(s, c);
  if (c->state == CONN_CLOSING) return;
  if (too_much_output(s, c)) pause_reading(c);
  else conn_unblock(s, c);
}

/* ---------- what CLIENT LIST shows ---------- */

int dyna_conn_set_name(conn_t *c, const uint8_t *name, size_t len, const char **err) {
  for (size_t i = 0; i < len; i++) {
    if (name[i] < '!' || name[i] > '~') {
      if (err) *err = DYNA_CONN_NAME_BAD;
      return -1;
    }
  }
  if (len > DYNA_CONN_NAME_MAX) {
    if (err) *err = DYNA_CONN_NAME_LONG;
    return -1;
  }
  memcpy(c->name, name, len);
  c->name[len] = 0;
  return 0;
}

/* "ip:port" of a socket address ("?" when it cannot be told). */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap) {
  char ip[64] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    uv_ip6_name(a, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
  }
  snprintf(out, cap, "%s:%d", ip, port);
}

static void conn_addresses(conn_t *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
  format_addr(&ss, c->addr, sizeof(c->addr));
  len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len);
  format_addr(&ss, c->laddr, sizeof(c->laddr));
}

/* ---------- accepting ---------- */

size_t dyna_conn_max_bulk(const dyna_server_t *s) { return s->cfg.max_value_bytes + 64 * 1024; }

void dyna_conn_accept(dyna_server_t *s, uv_stream_t *ls) {
  conn_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->srv = s;
  c->state = CONN_PAUSED;
  c->proto = DYNA_RESP2; /* until HELLO 3 */
  if (uv_accept(ls, (uv_stream_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  if (ls == (uv_stream_t *)&s->tls_listener && !(c->wq.tls = dyna_tls_new(s->tls_clients, NULL))) {
    LOG_WARN("TLS: out of memory for a new connection; closing it");
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  s->stats.connections_received++;
  c->id = ++s->next_conn_id;
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  lim.max_bulk = dyna_conn_max_bulk(s);
  lim.max_args = 1024 * 1024;
  /* A larger argument, up to Redis's proto-max-bulk-len, is dropped as it arrives and
   * answered -TOOBIG (value_too_big); past that the stream is closed, as Redis does. */
  lim.max_skip = (size_t)512 * 1024 * 1024;
  dyna_resp_parser_init(&c->parser, &lim);
  c->last_input_ms = dyna_server_now(s);
  c->created_ms = c->last_cmd_ms = c->last_input_ms;
  conn_addresses(c);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  uv_tcp_nodelay(&c->tcp, 1);
  if ((int)s->nconns > s->cfg.max_clients) {
    s->stats.connections_rejected++;
    static const char msg[] = "-" DYNA_WORD_ERR " max number of clients reached\r\n";
    uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
    if (!c->wq.tls) uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* TLS: no session yet */
    dyna_conn_close(s, c);
    return;
  }
  maybe_resume_reading(s, c);
}
