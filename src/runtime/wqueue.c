/* wqueue.c: double-buffered stream output (see wqueue.h). */
#include "runtime/wqueue.h"

/* An emptied buffer keeps its allocation for the next batch unless it grew past this
 * (one burst of large replies should not pin memory for the life of a connection). */
#define KEEP_CAP (256u * 1024)

static void buf_empty(dyna_buf_t *b) {
  if (b->cap > KEEP_CAP) dyna_buf_free(b);
  else dyna_buf_reset(b);
}

int dyna_wq_flush(dyna_wq_t *q, uv_stream_t *st, uv_write_cb cb, void *data) {
  if (q->writing) return 1;
  dyna_buf_t *src = &q->out;
  if (q->tls) {
    if (dyna_tls_seal(q->tls, &q->out, &q->sealed)) return UV_ENOMEM;
    if (!q->out.len) buf_empty(&q->out);
    src = &q->sealed;
  }
  if (!src->len) return 0;
  uv_buf_t b = uv_buf_init((char *)src->data, (unsigned)src->len);
  int n = uv_try_write(st, &b, 1);
  if (n >= 0 && (size_t)n == src->len) {
    buf_empty(src);
    return 0;
  }
  if (n < 0 && n != UV_EAGAIN) return n;
  /* The socket is full: the rest goes in the background from wbuf. */
  dyna_buf_t t = q->wbuf;
  q->wbuf = *src;
  *src = t;
  dyna_buf_reset(src);
  q->woff = n > 0 ? (size_t)n : 0;
  b = uv_buf_init((char *)q->wbuf.data + q->woff, (unsigned)(q->wbuf.len - q->woff));
  q->req.data = data;
  int rc = uv_write(&q->req, st, &b, 1, cb);
  if (rc) return rc;
  q->writing = 1;
  return 1;
}

void dyna_wq_done(dyna_wq_t *q) {
  q->writing = 0;
  q->woff = 0;
  buf_empty(&q->wbuf);
}

void dyna_wq_free(dyna_wq_t *q) {
  dyna_buf_free(&q->out);
  dyna_buf_free(&q->wbuf);
  dyna_buf_free(&q->sealed);
  dyna_tls_free(q->tls);
  q->tls = NULL;
}
