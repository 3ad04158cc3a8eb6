/* web_assets.h: the web dashboard's files (web/), compiled into dynad by
 * scripts/embed_web.cmake (the generated web_assets.c in the build directory), served by
 * http_dash.c. Static, read-only data: nobody frees it. */
#ifndef DYNA_WEB_ASSETS_H
#define DYNA_WEB_ASSETS_H
#include <stddef.h>

typedef struct dyna_web_asset {
  const char *path;          /* "/index.html", "/dash.js", ... */
  const char *ctype;         /* its Content-Type */
  const unsigned char *data; /* its bytes (followed by a NUL, not counted in len) */
  size_t len;
} dyna_web_asset_t;

extern const dyna_web_asset_t dyna_web_assets[];
extern const size_t dyna_web_nassets;

#endif
