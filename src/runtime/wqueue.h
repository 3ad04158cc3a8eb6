/* wqueue.h: a stream's double-buffered output. Bytes accumulate in `out`; a flush first
 * writes them straight to the socket (uv_try_write). On a loopback or LAN socket with
 * room in its send buffer that is the whole story: one write() per flush, no callback,
 * and no change to the socket's epoll interest (a uv_write that completes still makes
 * libuv stop watching POLLOUT afterwards, one epoll_ctl per write). Only what the socket
 * did not take moves to `wbuf`, which libuv writes in the background (it needs the
 * bytes to stay put until the write callback); meanwhile new bytes gather in `out`.
 * Used by client connections and peer links. Owns both buffers.
 *
 * A TLS stream (tls set) keeps its plaintext in `out` too: the flush first seals it into
 * `sealed` (runtime/tls.h), which then goes the same way `out` goes on a plain stream;
 * the handshake's own records land in `sealed` directly. Plain streams never look at
 * either field beyond one test. */
#ifndef DYNA_WQUEUE_H
#define DYNA_WQUEUE_H
#include "util/buf.h"
#include "runtime/tls.h"
#include <uv.h>

typedef struct dyna_wq {
  dyna_buf_t out;  /* waiting to be written */
  dyna_buf_t wbuf; /* being written by libuv: bytes woff .. len (the rest went already) */
  size_t woff;
  uv_write_t req;
  int writing;     /* a uv_write of wbuf is in flight; its callback is due */
  dyna_tls_t *tls; /* NULL: a plain stream; else its TLS session (owned: freed with the queue) */
  dyna_buf_t sealed; /* TLS only: ciphertext waiting to be written */
} dyna_wq_t;

/* Bytes not yet written. */
static inline size_t dyna_wq_pending(const dyna_wq_t *q) {
  return q->out.len + q->sealed.len + q->wbuf.len - q->woff;
}
/* Writes `out` when no write is in flight. Returns 0 when nothing is left in flight
 * (everything was written at once, or there was nothing to do; cb will not run), 1 when
 * a background write was started (cb runs later with req.data = data), or a libuv error
 * (< 0; UV_ENOMEM when a TLS stream cannot seal its output). */
int dyna_wq_flush(dyna_wq_t *q, uv_stream_t *st, uv_write_cb cb, void *data);
/* Call first thing in the write callback. */
void dyna_wq_done(dyna_wq_t *q);
void dyna_wq_free(dyna_wq_t *q);

#endif
