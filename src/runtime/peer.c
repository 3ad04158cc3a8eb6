/* peer.c: dynad's inter-node links: dialling, the HELLO handshake, framing, bounded
 * output queues and reachability (see peer.h). With --tls-cluster each link runs TLS
 * (runtime/tls.h) in its wq: bytes read are decrypted into `in` before framing, and the
 * HELLO is read only after the TLS handshake has verified the peer's certificate. */
#include "runtime/peer.h"
#include "core/cluster.h"
#include "util/err.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "proto/wire.h"
#include "runtime/log.h"
#include "runtime/peer_auth.h"
#include "runtime/server_int.h"
#include "runtime/tls.h"
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 500
#define READ_CHUNK (64u * 1024)
#define AUTH_DEADLINE_MS 10000 /* with a secret: a link's handshake must end within this */
/* The bulk lane (peer.h): bulk frames join a link's output only while less than
 * BULK_WINDOW bytes wait in it, and the kernel is asked to keep at most about
 * NOTSENT_LOWAT bytes unsent on an outgoing link, so that a frame a request waits on
 * queues behind at most about their sum of bulk, not behind a whole backlog. */
#define BULK_WINDOW (64u * 1024)
#define NOTSENT_LOWAT (64 * 1024)

/* L_AUTH: with a cluster secret, between the HELLOs and the peer's proof (peer_auth.h). */
typedef enum { L_CONNECTING = 1, L_HELLO, L_AUTH, L_UP, L_CLOSING } link_state_t;

typedef struct link {
  uv_tcp_t tcp; /* first member: handle->data is the link */
  dyna_peers_t *ps;
  struct link *prev, *next;
  uint64_t id;        /* the peer's node id (0 until its HELLO) */
  uint64_t expect;    /* the id we dialled, 0 for a join seed */
  int outgoing;
  int join_on_hello;
  link_state_t state;
  uv_connect_t creq;
  dyna_buf_t in;
  dyna_wq_t wq;
  int dirty;               /* on the peers' flush list */
  struct link *next_dirty;
  char addr[DYNA_ADDR_MAX];
  char remote[DYNA_ADDR_MAX]; /* the socket's peer address, for refusals in the log */
  dyna_peer_auth_t *auth;     /* with a cluster secret only (owned), else NULL */
  dyna_buf_t pend;            /* with a secret: frames queued before the handshake ends */
  dyna_buf_t bulk;            /* bulk frames (unsealed) waiting for room in wq, from bulk_off */
  size_t bulk_off;
  uint64_t opened_ms;         /* with a secret: loop time the link was made */
} link_t;

struct dyna_peers {
  dyna_server_t *srv;
  uv_tcp_t listener;
  link_t *links;
  link_t *dirty;          /* links with frames queued since the last flush */
  dyna_idmap_t out_by_id; /* id -> our outgoing link to it */
  dyna_idmap_t retry_at;  /* id -> earliest next dial (aux, loop ms) */
  dyna_peer_stats_t stats;
  int closed;
  int secret;             /* --cluster-secret-file given: keys holds its secrets */
  dyna_auth_keys_t keys;
};

const dyna_peer_stats_t *dyna_peers_stats(const dyna_peers_t *p) { return &p->stats; }

/* Loop time for our own redial timers; both clocks for everything handed to the node. */
static uint64_t now_ms(const dyna_peers_t *p) { return dyna_server_now(p->srv); }
static dyna_time_t node_time(const dyna_peers_t *p) { return dyna_server_time(p->srv); }

/* ---------- link lifecycle ---------- */

static void on_link_closed(uv_handle_t *h) {
  link_t *l = h->data;
  dyna_buf_free(&l->in);
  dyna_wq_free(&l->wq);
  dyna_buf_free(&l->pend);
  dyna_buf_free(&l->bulk);
  if (l->auth) {
    dyna_peer_auth_free(l->auth);
    dyna_free(l->auth);
  }
  dyna_free(l);
}

static void link_close(link_t *l, const char *why) {
  dyna_peers_t *p = l->ps;
  if (l->state == L_CLOSING) return;
  if (why) LOG_INFO("peer link %s (%016" PRIx64 ") closed: %s", l->addr, l->id, why);
  l->state = L_CLOSING;
  if (l->dirty) { /* its memory goes with the handle: off the flush list now */
    link_t **pp = &p->dirty;
    while (*pp != l) pp = &(*pp)->next_dirty;
    *pp = l->next_dirty;
    l->dirty = 0;
  }
  if (l->prev) l->prev->next = l->next;
  else p->links = l->next;
  if (l->next) l->next->prev = l->prev;
  if (l->outgoing && l->id) {
    dyna_idmap_entry_t *e = dyna_idmap_get(&p->out_by_id, l->id);
    if (e && e->ptr == l) {
      dyna_idmap_take(&p->out_by_id, l->id, NULL);
      dyna_idmap_take(&p->retry_at, l->id, NULL);
      dyna_idmap_put(&p->retry_at, l->id, NULL, now_ms(p) + RETRY_MS);
      dyna_node_set_reachable(p->srv->node, l->id, 0, node_time(p));
    }
  }
  uv_close((uv_handle_t *)&l->tcp, on_link_closed);
}

static link_t *link_new(dyna_peers_t *p, int outgoing) {
  link_t *l = dyna_calloc(1, sizeof(*l));
  if (!l) return NULL;
  if (p->secret) { /* our side of the handshake, with a fresh nonce */
    uint8_t nonce[DYNA_AUTH_NONCE];
    l->auth = dyna_calloc(1, sizeof(*l->auth));
    if (!l->auth || dyna_auth_random(nonce, sizeof(nonce))) {
      LOG_ERROR("peer link: %s", l->auth ? "no random bytes for a nonce" : "out of memory");
      dyna_free(l->auth);
      dyna_free(l);
      return NULL;
    }
    dyna_peer_auth_init(l->auth, &p->keys, outgoing ? DYNA_AUTH_DIALER : DYNA_AUTH_ACCEPTOR,
                        p->srv->cfg.cluster_name, p->srv->node_id, nonce);
    l->opened_ms = now_ms(p);
  }
  l->ps = p;
  l->outgoing = outgoing;
  uv_tcp_init(p->srv->loop, &l->tcp);
  l->tcp.data = l;
  l->next = p->links;
  if (p->links) p->links->prev = l;
  p->links = l;
  return l;
}

/* ---------- writing ---------- */

static void link_flush(link_t *l);

static void on_link_write(uv_write_t *req, int status) {
  link_t *l = req->data;
  dyna_wq_done(&l->wq);
  if (l->state == L_CLOSING) return;
  if (status < 0) {
    link_close(l, uv_strerror(status));
    return;
  }
  link_flush(l);
}

static int put_sealed(link_t *l, const uint8_t *frame, size_t len);

static size_t bulk_waiting(const link_t *l) { return l->bulk.len - l->bulk_off; }

/* Moves whole bulk frames into the output (sealed, with a secret) while less than
 * BULK_WINDOW bytes wait there. Returns 0, or -1 when memory is short (nothing half
 * moved: the stream stays whole). */
static int pump_bulk(link_t *l) {
  if (l->state != L_UP) return 0; /* until the handshake ends */
  while (bulk_waiting(l) && dyna_wq_pending(&l->wq) < BULK_WINDOW) {
    const uint8_t *f = l->bulk.data + l->bulk_off;
    size_t flen = 0;
    int rc = dyna_wire_frame(f, bulk_waiting(l), SIZE_MAX, &flen);
    DYNA_ASSERT(rc == 0 && flen > 0 && flen <= bulk_waiting(l),
                "peer link %s: the bulk lane holds a broken frame (rc %d, %zu of %zu bytes)", l->addr, rc, flen,
                bulk_waiting(l));
    if (l->auth) {
      if (put_sealed(l, f, flen)) return -1;
    } else {
      dyna_buf_put(&l->wq.out, f, flen);
      if (l->wq.out.oom) return -1;
    }
    l->bulk_off += flen;
  }
  if (!bulk_waiting(l)) { /* drained: kept for the next turn's frames while it is no
                             * bigger than the window; a larger burst's memory goes back */
    if (l->bulk.cap > BULK_WINDOW) dyna_buf_free(&l->bulk);
    else dyna_buf_reset(&l->bulk);
    l->bulk_off = 0;
  } else if (l->bulk_off > l->bulk.len / 2) { /* the rest moves to the front, in amortised O(1) */
    memmove(l->bulk.data, l->bulk.data + l->bulk_off, bulk_waiting(l));
    l->bulk.len -= l->bulk_off;
    l->bulk_off = 0;
  }
  return 0;
}

/* Writes the output; bulk frames follow a window at a time, from here and from each
 * write's callback. */
static void link_flush(link_t *l) {
  for (;;) {
    if (l->state == L_CLOSING || l->state == L_CONNECTING || l->wq.writing) return;
    if (pump_bulk(l)) {
      link_close(l, "out of memory moving bulk frames");
      return;
    }
    size_t n = l->wq.out.len;
    int rc = dyna_wq_flush(&l->wq, (uv_stream_t *)&l->tcp, on_link_write, l);
    if (rc < 0) {
      link_close(l, "write failed");
      return;
    }
    l->ps->stats.bytes_out += n;
    /* Written at once: more bulk may follow now (the kernel stops taking it at its
     * NOTSENT_LOWAT, and then a background write's callback goes on). */
    if (rc > 0 || !n || l->state != L_UP || !bulk_waiting(l)) return;
  }
}

void dyna_peers_flush(dyna_peers_t *p) {
  while (p->dirty) {
    link_t *l = p->dirty;
    p->dirty = l->next_dirty;
    l->next_dirty = NULL;
    l->dirty = 0;
    if (l->state == L_UP) link_flush(l); /* else link_up flushes */
  }
}

static void send_hello(link_t *l) {
  dyna_server_t *s = l->ps->srv;
  char addr[DYNA_ADDR_MAX];
  snprintf(addr, sizeof(addr), "%s:%d", s->cfg.cluster_host, s->cfg.cluster_port);
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_HELLO;
  m.flags = DYNA_WIRE_MAGIC;
  m.w = DYNA_WIRE_VERSION;
  m.key = (const uint8_t *)s->cfg.cluster_name;
  m.klen = strlen(s->cfg.cluster_name);
  m.node = s->node_id;
  m.val = (const uint8_t *)addr;
  m.vlen = strlen(addr);
  if (l->auth) { /* our challenge (queued frames wait in pend until the handshake ends) */
    m.flags |= DYNA_HELLO_AUTH;
    m.obj = l->outgoing ? l->auth->parties.dialer_nonce : l->auth->parties.acceptor_nonce;
    m.objlen = DYNA_AUTH_NONCE;
  }
  /* HELLO goes first, ahead of anything queued while connecting. */
  dyna_buf_t hello = DYNA_BUF_INIT;
  dyna_wire_encode(&m, &hello);
  dyna_buf_put(&hello, l->wq.out.data, l->wq.out.len);
  dyna_buf_free(&l->wq.out);
  l->wq.out = hello;
}

/* ---------- reading ---------- */

static void on_link_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  link_t *l = h->data;
  (void)suggested;
  if (l->wq.tls) { /* ciphertext: decrypted into in by on_link_read */
    *buf = dyna_tls_read_buf();
    return;
  }
  if (dyna_buf_reserve(&l->in, READ_CHUNK)) {
    l->in.oom = 0;
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init((char *)l->in.data + l->in.len, (unsigned)(l->in.cap - l->in.len));
}

/* Checks a HELLO; returns NULL when acceptable, else the reason. With a secret, *nonce
 * points at the peer's challenge. */
static const char *check_hello(link_t *l, const dyna_msg_t *m, const uint8_t **nonce) {
  dyna_server_t *s = l->ps->srv;
  if (m->type != DYNA_MSG_HELLO) return "first frame is not HELLO";
  if ((m->flags & ~DYNA_HELLO_AUTH) != DYNA_WIRE_MAGIC) return "bad magic";
  if (m->w != DYNA_WIRE_VERSION) return "unsupported protocol version";
  const char *why = dyna_auth_check_hello(m, l->auth != NULL, nonce);
  if (why) return why;
  if (m->klen != strlen(s->cfg.cluster_name) || memcmp(m->key, s->cfg.cluster_name, m->klen))
    return "node of another cluster (cluster-name differs)";
  if (!m->node || m->node == s->node_id) return "bad node id";
  if (l->expect && m->node != l->expect) return "unexpected node id at that address";
  if (l->wq.tls && !l->outgoing) { /* its certificate must name the address it claims */
    char ip[DYNA_ADDR_MAX];
    size_t n = m->vlen < sizeof(ip) ? m->vlen : sizeof(ip) - 1;
    if (n) memcpy(ip, m->val, n);
    ip[n] = 0;
    char *colon = strrchr(ip, ':');
    if (colon) *colon = 0;
    if (!dyna_tls_peer_has_ip(l->wq.tls, ip)) return "TLS: its certificate does not name the address it claims";
  }
  return NULL;
}

/* Refuses a link for a reason of the cluster secret's: a warning with the socket's address. */
static void auth_refuse(link_t *l, const char *why) {
  l->ps->stats.refused++;
  LOG_WARN("peer link from %s (%s) refused: %s", l->remote[0] ? l->remote : "?", l->addr, why);
  link_close(l, NULL);
}

/* Queues our AUTH proof to go next. */
static void send_proof(link_t *l) {
  uint8_t proof[DYNA_AUTH_PROOF];
  dyna_peer_auth_prove(l->auth, proof);
  dyna_auth_encode_proof(proof, &l->wq.out);
}

/* Appends frame and its tag to the link's output. Returns 0, or -1 (nothing appended). */
static int put_sealed(link_t *l, const uint8_t *frame, size_t len) {
  uint8_t tag[DYNA_AUTH_TAG];
  if (dyna_buf_reserve(&l->wq.out, len + DYNA_AUTH_TAG) || dyna_peer_auth_seal(l->auth, frame, len, tag)) return -1;
  dyna_buf_put(&l->wq.out, frame, len);
  dyna_buf_put(&l->wq.out, tag, sizeof(tag));
  return 0;
}

/* With a secret, once the handshake is done: the frames queued meanwhile, each sealed. */
static int seal_pending(link_t *l) {
  size_t off = 0, flen;
  while (off < l->pend.len && dyna_wire_frame(l->pend.data + off, l->pend.len - off, SIZE_MAX, &flen) == 0) {
    if (put_sealed(l, l->pend.data + off, flen)) return -1;
    off += flen;
  }
  dyna_buf_free(&l->pend);
  return 0;
}

static void link_up(link_t *l, uint64_t id) {
  dyna_peers_t *p = l->ps;
  l->id = id;
  l->state = L_UP;
  if (l->auth && seal_pending(l)) {
    link_close(l, "out of memory sealing queued frames");
    return;
  }
  if (!l->outgoing) return;
  dyna_idmap_entry_t *e = dyna_idmap_get(&p->out_by_id, id);
  if (!e) dyna_idmap_put(&p->out_by_id, id, l, 0);
  dyna_node_set_reachable(p->srv->node, id, 1, node_time(p));
  if (l->join_on_hello) {
    int rc = dyna_node_join(p->srv->node, id, node_time(p));
    LOG_INFO("joining the cluster of %s (%016" PRIx64 "): %s", l->addr, id, dyna_strerror(rc));
    l->join_on_hello = 0;
  }
  link_flush(l);
}

/* now: the node's clocks, read once per read of the socket (not per frame). */
static int handle_frame(link_t *l, const uint8_t *frame, size_t len, dyna_time_t now) {
  dyna_peers_t *p = l->ps;
  p->stats.frames_in++;
  if (l->state == L_HELLO) {
    dyna_msg_t m;
    const uint8_t *nonce = NULL;
    const char *why = dyna_wire_decode(frame, len, &m) ? "malformed HELLO" : check_hello(l, &m, &nonce);
    if (!why && l->auth) why = dyna_peer_auth_peer(l->auth, m.node, nonce);
    if (why) {
      if (l->auth) {
        auth_refuse(l, why);
        return -1;
      }
      p->stats.refused++;
      link_close(l, why);
      return -1;
    }
    if (m.vlen && m.vlen < sizeof(l->addr)) {
      memcpy(l->addr, m.val, m.vlen);
      l->addr[m.vlen] = 0;
    }
    if (l->auth) { /* the dialer proves first; the acceptor answers its proof */
      if (l->outgoing) send_proof(l);
      else send_hello(l);
      l->state = L_AUTH;
      link_flush(l);
      return 0;
    }
    if (!l->outgoing) {
      send_hello(l);
      link_flush(l);
    }
    link_up(l, m.node);
    return 0;
  }
  if (l->state == L_AUTH) {
    const uint8_t *proof;
    const char *why = dyna_auth_decode_proof(frame, len, &proof) ? "malformed AUTH (want the peer's proof)"
                                                                : dyna_peer_auth_verify(l->auth, proof, DYNA_AUTH_PROOF);
    if (why) {
      auth_refuse(l, why);
      return -1;
    }
    if (!l->outgoing) send_proof(l);
    link_up(l, l->outgoing ? l->auth->parties.acceptor_id : l->auth->parties.dialer_id);
    if (!l->outgoing && l->state == L_UP) link_flush(l);
    return 0;
  }
  if (l->outgoing) return 0; /* we only send on our own links; ignore stray frames */
  if (dyna_node_on_message(p->srv->node, l->id, frame, len, now)) {
    link_close(l, "malformed frame");
    return -1;
  }
  return 0;
}

/* A TLS link's n bytes read: decrypted into l->in. 0, or -1: closed, with the reason
 * logged (a refused certificate is refused before any frame is looked at). */
static int link_tls_input(link_t *l, const uv_buf_t *buf, size_t n) {
  char why[192], line[224];
  int rc = dyna_tls_recv(l->wq.tls, (const uint8_t *)buf->base, n, &l->in, &l->wq.sealed, why, sizeof(why));
  if (rc) {
    if (rc < 0) l->ps->stats.refused++;
    snprintf(line, sizeof(line), "TLS: %s", rc < 0 ? why : "session closed by peer");
    uv_buf_t alert = uv_buf_init((char *)l->wq.sealed.data, (unsigned)l->wq.sealed.len);
    if (alert.len && !l->wq.writing) uv_try_write((uv_stream_t *)&l->tcp, &alert, 1); /* best effort */
    link_close(l, line);
    return -1;
  }
  if (l->wq.sealed.len || (l->wq.out.len && dyna_tls_ready(l->wq.tls))) link_flush(l);
  return l->state == L_CLOSING ? -1 : 0;
}

/* The next frames buffered in l->in from off (at most DYNA_STORE_PREFETCH_MAX), handed to
 * the node as a hint before they are handled one by one (dyna_node_prefetch_frames: their
 * keys' memory loads overlap), and before a tagged frame's MAC is checked: a hint changes
 * nothing, and each frame is still checked before it is handled. Returns the offset
 * after the last one looked at. */
static size_t prefetch_frames(link_t *l, size_t off) {
  const uint8_t *frames[DYNA_STORE_PREFETCH_MAX];
  size_t lens[DYNA_STORE_PREFETCH_MAX], k = 0;
  int tagged = l->auth != NULL;
  while (k < DYNA_STORE_PREFETCH_MAX) {
    size_t flen;
    int rc = tagged ? dyna_auth_frame(l->in.data + off, l->in.len - off, DYNA_WIRE_MAX_FRAME, &flen)
                    : dyna_wire_frame(l->in.data + off, l->in.len - off, DYNA_WIRE_MAX_FRAME, &flen);
    if (rc) break;
    frames[k] = l->in.data + off;
    lens[k++] = flen;
    off += flen + (tagged ? DYNA_AUTH_TAG : 0);
  }
  if (k >= 2) dyna_node_prefetch_frames(l->ps->srv->node, frames, lens, k);
  return off;
}

static void on_link_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  link_t *l = st->data;
  if (nread == 0 || l->state == L_CLOSING) return;
  if (nread < 0) {
    link_close(l, nread == UV_EOF ? "closed by peer" : uv_strerror((int)nread));
    return;
  }
  l->ps->stats.bytes_in += (size_t)nread;
  if (l->wq.tls) {
    if (link_tls_input(l, buf, (size_t)nread) || !l->in.len) return; /* nothing decrypted yet */
  } else {
    l->in.len += (size_t)nread;
  }
  size_t off = 0, peeked = 0; /* frames before peeked have been offered to prefetch_frames */
  dyna_time_t now = node_time(l->ps);
  for (;;) {
    if (off >= peeked && l->state == L_UP && !l->outgoing) {
      size_t end = prefetch_frames(l, off);
      peeked = end > off ? end : off + 1;
    }
    size_t flen;
    /* With a secret, once up, every frame is followed by its tag (proto/peer_auth.h). */
    int tagged = l->auth && l->state == L_UP;
    int rc = tagged ? dyna_auth_frame(l->in.data + off, l->in.len - off, DYNA_WIRE_MAX_FRAME, &flen)
                    : dyna_wire_frame(l->in.data + off, l->in.len - off, DYNA_WIRE_MAX_FRAME, &flen);
    if (rc == DYNA_EAGAIN) break;
    if (rc) {
      link_close(l, "frame too large or not a Dyna peer");
      return;
    }
    if (tagged && dyna_peer_auth_open(l->auth, l->in.data + off, flen, l->in.data + off + flen)) {
      auth_refuse(l, "bad frame MAC (forged, altered, replayed or out of order)");
      return;
    }
    if (handle_frame(l, l->in.data + off, flen, now)) return;
    off += flen + (tagged ? DYNA_AUTH_TAG : 0);
    if (l->state == L_CLOSING) return;
  }
  dyna_buf_consume(&l->in, off);
}

/* ---------- dialling and accepting ---------- */

static void on_connect(uv_connect_t *req, int status) {
  link_t *l = req->data;
  if (l->state == L_CLOSING) return;
  if (status < 0) {
    LOG_DEBUG("dial %s: %s", l->addr, uv_strerror(status));
    link_close(l, NULL);
    return;
  }
  l->ps->stats.connects++;
  l->state = L_HELLO;
  snprintf(l->remote, sizeof(l->remote), "%s", l->addr);
  uv_tcp_nodelay(&l->tcp, 1);
  uv_os_fd_t fd;
  int lowat = NOTSENT_LOWAT; /* a kernel without it: the bulk lane still orders our own queue */
  if (uv_fileno((uv_handle_t *)&l->tcp, &fd) == 0 &&
      setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) != 0)
    LOG_DEBUG("peer link %s: TCP_NOTSENT_LOWAT not set", l->addr);
  dyna_tls_ctx_t *tls = l->ps->srv->tls_peers_out;
  if (tls) { /* the acceptor's certificate must name the IP we dialled */
    char ip[DYNA_ADDR_MAX], why[192];
    snprintf(ip, sizeof(ip), "%s", l->addr);
    char *colon = strrchr(ip, ':');
    if (colon) *colon = 0;
    if (!(l->wq.tls = dyna_tls_new(tls, ip))) {
      link_close(l, "TLS: cannot start a session (out of memory, or not an IP address)");
      return;
    }
    if (dyna_tls_start(l->wq.tls, &l->wq.sealed, why, sizeof(why))) {
      link_close(l, why);
      return;
    }
  }
  send_hello(l);
  uv_read_start((uv_stream_t *)&l->tcp, on_link_alloc, on_link_read);
  /* HELLO goes first; frames queued while connecting may follow at once, since the
   * acceptor checks the HELLO before it looks at anything else. */
  link_flush(l);
}

static int parse_addr_port(const char *addr, struct sockaddr_storage *ss, int allow_zero) {
  char host[DYNA_ADDR_MAX];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof(host)) return -1;
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = 0;
  int port = atoi(colon + 1);
  if (port < (allow_zero ? 0 : 1) || port > 65535) return -1;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss) { return parse_addr_port(addr, ss, 0); }

static link_t *dial(dyna_peers_t *p, uint64_t id, const char *addr) {
  struct sockaddr_storage to, from;
  if (parse_addr(addr, &to)) return NULL;
  link_t *l = link_new(p, 1);
  if (!l) return NULL;
  l->expect = id;
  l->id = id;
  l->state = L_CONNECTING;
  snprintf(l->addr, sizeof(l->addr), "%s", addr);
  dyna_server_t *s = p->srv;
  /* Bind the source address to our own cluster IP, so that a firewall rule between two
   * 127.0.0.x addresses cuts exactly this link (shared/FAULTS.md). */
  if (uv_ip4_addr(s->cfg.cluster_host, 0, (struct sockaddr_in *)&from) == 0 ||
      uv_ip6_addr(s->cfg.cluster_host, 0, (struct sockaddr_in6 *)&from) == 0)
    uv_tcp_bind(&l->tcp, (struct sockaddr *)&from, 0);
  l->creq.data = l;
  if (uv_tcp_connect(&l->creq, &l->tcp, (struct sockaddr *)&to, on_connect)) {
    l->id = 0;
    link_close(l, NULL);
    return NULL;
  }
  if (id) dyna_idmap_put(&p->out_by_id, id, l, 0);
  return l;
}

/* An incoming link's peer address: l->remote "IP:PORT" (for refusals in the log) and
 * l->addr "incoming from IP:PORT" until its HELLO names it. */
static void remote_name(link_t *l) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char host[64] = "?";
  int port = 0;
  memset(&ss, 0, sizeof(ss));
  if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else if (ss.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  snprintf(l->remote, sizeof(l->remote), "%s:%d", host, port);
  snprintf(l->addr, sizeof(l->addr), "incoming from %.40s:%d", host, port);
}

static void on_peer_connection(uv_stream_t *ls, int status) {
  dyna_peers_t *p = ls->data;
  if (status < 0) return;
  link_t *l = link_new(p, 0);
  if (!l) return;
  if (uv_accept(ls, (uv_stream_t *)&l->tcp)) {
    link_close(l, NULL);
    return;
  }
  l->state = L_HELLO;
  remote_name(l);
  dyna_tls_ctx_t *tls = p->srv->tls_peers_in;
  if (tls && !(l->wq.tls = dyna_tls_new(tls, NULL))) {
    link_close(l, "TLS: out of memory");
    return;
  }
  uv_tcp_nodelay(&l->tcp, 1);
  uv_read_start((uv_stream_t *)&l->tcp, on_link_alloc, on_link_read);
}

/* ---------- API ---------- */

int dyna_peers_open(dyna_server_t *s, dyna_peers_t **out, char *err, size_t errlen) {
  dyna_peers_t *p = dyna_calloc(1, sizeof(*p));
  if (!p) { snprintf(err, errlen, "out of memory"); return -1; }
  p->srv = s;
  dyna_idmap_init(&p->out_by_id);
  dyna_idmap_init(&p->retry_at);
  if (s->cfg.cluster_secret_file[0]) {
    if (dyna_auth_keys_load(s->cfg.cluster_secret_file, &p->keys, err, errlen)) {
      dyna_peers_free(p);
      return -1;
    }
    p->secret = 1;
    LOG_INFO("cluster port authenticated by a shared secret (%zu in %s)", p->keys.n, s->cfg.cluster_secret_file);
  }
  char addr[DYNA_ADDR_MAX + 8];
  snprintf(addr, sizeof(addr), "%s:%d", s->cfg.cluster_host, s->cfg.cluster_port);
  struct sockaddr_storage ss;
  uv_tcp_init(s->loop, &p->listener);
  p->listener.data = p;
  int rc = parse_addr_port(addr, &ss, 1) ? UV_EINVAL : uv_tcp_bind(&p->listener, (struct sockaddr *)&ss, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&p->listener, 128, on_peer_connection);
  if (rc && !s->cfg.cluster_port_given && rc != UV_EINVAL) {
    /* The default port is taken: any free one will do; members learn it by gossip. */
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_run(s->loop, UV_RUN_NOWAIT);
    uv_tcp_init(s->loop, &p->listener);
    p->listener.data = p;
    snprintf(addr, sizeof(addr), "%s:0", s->cfg.cluster_host);
    rc = parse_addr_port(addr, &ss, 1) ? UV_EINVAL : uv_tcp_bind(&p->listener, (struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&p->listener, 128, on_peer_connection);
  }
  if (!rc) {
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    if (uv_tcp_getsockname(&p->listener, (struct sockaddr *)&bound, &len) == 0)
      s->cfg.cluster_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                               : ((struct sockaddr_in *)&bound)->sin_port);
  }
  if (rc) {
    snprintf(err, errlen, "cannot listen on cluster address %s: %s", addr, uv_strerror(rc));
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_run(s->loop, UV_RUN_NOWAIT);
    dyna_peers_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

void dyna_peers_close(dyna_peers_t *p) {
  if (!p || p->closed) return;
  p->closed = 1;
  uv_close((uv_handle_t *)&p->listener, NULL);
  while (p->links) link_close(p->links, NULL);
}

void dyna_peers_free(dyna_peers_t *p) {
  if (!p) return;
  dyna_idmap_free(&p->out_by_id);
  dyna_idmap_free(&p->retry_at);
  dyna_auth_keys_wipe(&p->keys);
  dyna_free(p);
}

int dyna_peers_is_up(const dyna_peers_t *p, uint64_t id) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&p->out_by_id, id);
  return e && ((link_t *)e->ptr)->state == L_UP;
}

/* The member's address, if it is a live member (or a joiner this node just refused). */
static const char *member_addr(const dyna_peers_t *p, uint64_t id) {
  const dyna_member_t *m = dyna_cluster_find(dyna_node_cluster(p->srv->node), id);
  if (!m) return dyna_node_refused_addr(p->srv->node, id); /* a refused joiner: our answer */
  return m->status != DYNA_MEMBER_REMOVED && m->addr[0] ? m->addr : NULL;
}

/* With a secret: the frame sealed into the output once the handshake is done, until then
 * as it is into pend. Returns 0, or -1 when nothing could be queued. */
static int queue_with_secret(link_t *l, const dyna_buf_t *frame) {
  if (l->state == L_UP) return put_sealed(l, frame->data, frame->len);
  dyna_buf_put(&l->pend, frame->data, frame->len);
  int bad = l->pend.oom ? -1 : 0;
  l->pend.oom = 0;
  return bad;
}

void dyna_peers_send(dyna_peers_t *p, uint64_t to, const dyna_buf_t *frame, int bulk) {
  dyna_idmap_entry_t *e = p->closed ? NULL : dyna_idmap_get(&p->out_by_id, to);
  link_t *l = e ? e->ptr : NULL;
  if (!l && !p->closed) {
    const char *addr = member_addr(p, to);
    if (addr) l = dial(p, to, addr);
  }
  /* Each lane within max-peer-output-bytes: a bulk backlog never crowds out a frame a
   * request waits on. */
  if (!l || dyna_wq_pending(&l->wq) + l->pend.len + (bulk ? bulk_waiting(l) : 0) + frame->len >
                p->srv->cfg.max_peer_output_bytes) {
    p->stats.dropped++;
    return;
  }
  /* Copied into the link's output (or its bulk lane), whose allocation is reused turn
   * after turn (the bulk lane's while at most BULK_WINDOW). A put that cannot allocate
   * writes nothing, so the stream stays whole. */
  int bad = 0;
  if (bulk) {
    dyna_buf_put(&l->bulk, frame->data, frame->len);
    bad = l->bulk.oom;
    l->bulk.oom = 0;
    p->stats.bulk_frames += !bad;
  } else if (l->auth) {
    bad = queue_with_secret(l, frame);
  } else {
    dyna_buf_put(&l->wq.out, frame->data, frame->len);
    bad = l->wq.out.oom;
    l->wq.out.oom = 0;
  }
  if (bad) {
    p->stats.dropped++;
    return;
  }
  p->stats.frames_out++;
  if (!l->dirty) {
    l->dirty = 1;
    l->next_dirty = p->dirty;
    p->dirty = l;
  }
}

uint64_t dyna_peers_bulk_waiting(const dyna_peers_t *p) {
  uint64_t sum = 0;
  for (const link_t *l = p->links; l; l = l->next) sum += bulk_waiting(l);
  return sum;
}

int dyna_peers_join(dyna_peers_t *p, const char *addr) {
  link_t *l = dial(p, 0, addr);
  if (!l) return DYNA_EINVAL;
  l->join_on_hello = 1;
  return 0;
}

void dyna_peers_tick(dyna_peers_t *p) {
  if (p->closed) return;
  const dyna_cluster_t *cl = dyna_node_cluster(p->srv->node);
  uint64_t now = now_ms(p);
  if (p->secret) { /* a connection that does not prove the secret in time goes */
    link_t *next;
    for (link_t *l = p->links; l; l = next) {
      next = l->next;
      if (l->state != L_UP && l->state != L_CLOSING && now - l->opened_ms > AUTH_DEADLINE_MS)
        auth_refuse(l, "no handshake within 10 s");
    }
  }
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *m = &cl->m[i];
    if (m->id == p->srv->node_id || m->status == DYNA_MEMBER_REMOVED || !m->addr[0]) continue;
    if (dyna_idmap_get(&p->out_by_id, m->id)) continue;
    dyna_idmap_entry_t *r = dyna_idmap_get(&p->retry_at, m->id);
    if (r && now < r->aux) continue;
    dyna_idmap_take(&p->retry_at, m->id, NULL);
    dyna_idmap_put(&p->retry_at, m->id, NULL, now + RETRY_MS);
    dyna_node_set_reachable(p->srv->node, m->id, 0, node_time(p)); /* until its HELLO comes back */
    dial(p, m->id, m->addr);
  }
}
