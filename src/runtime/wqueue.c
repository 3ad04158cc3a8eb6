/* wqueue.c: double-buffered stream output (see wqueue.h). */
#include "runtime/wqueue.h"

int dyna_wq_flush(dyna_wq_t *q, uv_stream_t *st, uv_write_cb cb, void *data) {
  if (q->writing || !q->out.len) return 0;
  dyna_buf_t t = q->wbuf;
  q->wbuf = q->out;
  q->out = t;
  dyna_buf_reset(&q->out);
  uv_buf_t b = uv_buf_init((char *)q->wbuf.data, (unsigned)q->wbuf.len);
  q->req.data = data;
  int rc = uv_write(&q->req, st, &b, 1, cb);
  if (!rc) q->writing = 1;
  return rc;
}

void dyna_wq_done(dyna_wq_t *q) {
  q->writing = 0;
  dyna_buf_reset(&q->wbuf);
}

void dyna_wq_free(dyna_wq_t *q) {
  dyna_buf_free(&q->out);
  dyna_buf_free(&q->wbuf);
}
