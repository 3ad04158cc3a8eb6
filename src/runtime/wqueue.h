/* wqueue.h: a stream's double-buffered output. Bytes accumulate in `out` while the
 * previous batch, in `wbuf`, is being written by libuv (which needs the bytes to stay put
 * until the write callback); then the two swap. Used by client connections and peer
 * links. Owns both buffers. */
#ifndef DYNA_WQUEUE_H
#define DYNA_WQUEUE_H
#include "core/buf.h"
#include <uv.h>

typedef struct dyna_wq {
  dyna_buf_t out;  /* waiting to be written */
  dyna_buf_t wbuf; /* being written */
  uv_write_t req;
  int writing;
} dyna_wq_t;

/* Bytes not yet written. */
static inline size_t dyna_wq_pending(const dyna_wq_t *q) { return q->out.len + q->wbuf.len; }
/* Starts writing `out` when no write is in flight; cb gets req.data = data. Returns 0
 * (also when there is nothing to do) or a libuv error. */
int dyna_wq_flush(dyna_wq_t *q, uv_stream_t *st, uv_write_cb cb, void *data);
/* Call first thing in the write callback. */
void dyna_wq_done(dyna_wq_t *q);
void dyna_wq_free(dyna_wq_t *q);

#endif
