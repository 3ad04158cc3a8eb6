/* http_dash.c: the web dashboard's files on the HTTP port (GET /, /index.html, /dash.js,
 * /dash.css; docs/http.md). They are compiled in (web_assets.h), so serving one reads no
 * file; the page itself fetches /status, /ring and /metrics to draw the cluster. */
#include "runtime/http_int.h"
#include "runtime/web_assets.h"
#include <string.h>

int dyna_http_dash(http_req_t *q, const char *url) {
  const char *path = strcmp(url, "/") ? url : "/index.html";
  for (size_t i = 0; i < dyna_web_nassets; i++) {
    const dyna_web_asset_t *a = &dyna_web_assets[i];
    if (strcmp(a->path, path)) continue;
    dyna_buf_reset(&q->out);
    dyna_buf_put(&q->out, a->data, a->len);
    q->status = 200;
    q->ctype = a->ctype;
    q->state = HTTP_DONE;
    return 1;
  }
  return 0;
}
