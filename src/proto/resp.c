/* resp.c: the RESP2 codec, and the RESP3 shapes of its encoders (see resp.h for the
 * contract).
 *
 * Three parts, all pure (no I/O, no clock; the only formatted printing is snprintf of a
 * double into a caller's buffer):
 *   - the server's command parser, resumable across reads. Its state is a handful of
 *     offsets relative to the start of the current command, never pointers, so the
 *     caller may move or grow its input buffer between calls:
 *
 *       "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva"      (DYNA_EAGAIN)
 *        ^header ^arg 0       ^arg 1    ^pos: next "$" to read; want = 3, argc = 2
 *
 *     A complete bulk body is stepped over, never scanned, and a pending one costs only
 *     the re-read of its short "$n\r\n" header on the next call. An inline line is
 *     scanned once for its "\n" (pos remembers how far), then split.
 *   - the client's reply parser: recursive descent over a whole reply, into a tree;
 *   - encoders appending to a dyna_buf_t.
 *
 * Every length is checked against the limits while its digits are read, before it is
 * used to index, wait for or allocate anything. */
#include "proto/resp.h"
#include "util/err.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal result of parse_one(): a line or array that carries no command. */
#define RESP_NOTHING 1
/* Value of a "-1" length. */
#define RESP_NIL_LEN ((size_t)-1)

void dyna_resp_limits_default(dyna_resp_limits_t *l) {
  l->max_bulk = (size_t)512 * 1024 * 1024;
  l->max_args = (size_t)1024 * 1024;
  l->max_inline = (size_t)64 * 1024;
  l->max_depth = 8;
  l->max_skip = 0;
}

/* ---- Shared helpers ---- */

/* Reads the "<digits>\r\n" (or "-1\r\n" when allow_nil) that follows a '$' or '*' at
 * s[0..n). Returns 0 with *val (RESP_NIL_LEN for -1) and *used (bytes including CRLF);
 * DYNA_EAGAIN when the line is not all there yet; DYNA_EPROTO for anything but canonical
 * digits (no sign, no leading zero, at least one digit) or a CR without LF; DYNA_ETOOBIG
 * as soon as the value read so far exceeds max (or SIZE_MAX - 1, so that no length can
 * look like -1). Reads at most 23 bytes when size_t has 64 bits: it stops at the first
 * byte that cannot belong to a valid line. */
static int parse_len(const uint8_t *s, size_t n, size_t max, int allow_nil, size_t *val,
                     size_t *used) {
  size_t i = 0, v = 0;
  if (max > RESP_NIL_LEN - 1) max = RESP_NIL_LEN - 1;
  if (n > 0 && s[0] == '-') {
    static const char nil[] = "-1\r\n";
    if (!allow_nil) return DYNA_EPROTO;
    for (i = 1; i < 4; i++) {
      if (i == n) return DYNA_EAGAIN;
      if (s[i] != (uint8_t)nil[i]) return DYNA_EPROTO;
    }
    *val = RESP_NIL_LEN;
    *used = 4;
    return 0;
  }
  /* The common line, at most 18 digits (no overflow), read in one pass: the verdicts are
   * the loop's below, in its order (a leading zero, then too big, then the byte after). */
  while (i < n && i < 18 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (size_t)(s[i++] - '0');
  if (i < 18 && i > 0) {
    if (i > 1 && s[0] == '0') return DYNA_EPROTO;
    if (v > max) return DYNA_ETOOBIG;
    if (i == n || i + 1 == n) return i < n && s[i] != '\r' ? DYNA_EPROTO : DYNA_EAGAIN;
    if (s[i] != '\r' || s[i + 1] != '\n') return DYNA_EPROTO;
    *val = v;
    *used = i + 2;
    return 0;
  }
  i = 0;
  v = 0;
  const size_t lim = max / 10, lim_digit = max % 10; /* v * 10 + d <= max, without dividing per digit */
  for (;; i++) {
    if (i == n) return DYNA_EAGAIN;
    if (s[i] == '\r') break;
    if (s[i] < '0' || s[i] > '9') return DYNA_EPROTO;
    if (i > 0 && s[0] == '0') return DYNA_EPROTO;
    size_t d = (size_t)(s[i] - '0');
    if (v > lim || (v == lim && d > lim_digit)) return DYNA_ETOOBIG;
    v = v * 10 + d;
  }
  if (i == 0) return DYNA_EPROTO;
  if (i + 1 == n) return DYNA_EAGAIN;
  if (s[i + 1] != '\n') return DYNA_EPROTO;
  *val = v;
  *used = i + 2;
  return 0;
}

/* Checks for "\r\n" at s[at..n). Returns 0, DYNA_EAGAIN if not all there, or
 * DYNA_EPROTO as soon as a byte is wrong. */
static int expect_crlf(const uint8_t *s, size_t n, size_t at) {
  if (at < n && s[at] != '\r') return DYNA_EPROTO;
  if (at + 1 < n && s[at + 1] != '\n') return DYNA_EPROTO;
  return at + 2 <= n ? 0 : DYNA_EAGAIN;
}

/* ---- Command parser ---- */

/* Copies msg into p->err (truncated to fit, always NUL-terminated). */
static void set_err(dyna_resp_parser_t *p, const char *msg) {
  size_t n = strlen(msg);
  if (n >= sizeof(p->err)) n = sizeof(p->err) - 1;
  memcpy(p->err, msg, n);
  p->err[n] = '\0';
}

/* Sets "Protocol error: expected '$', got 'c'" (non-printable c shown as \xHH). */
static void set_err_expected(dyna_resp_parser_t *p, uint8_t c) {
  static const char hex[] = "0123456789abcdef";
  char msg[64] = "Protocol error: expected '$', got '";
  size_t n = strlen(msg);
  if (c >= 0x20 && c < 0x7f) {
    msg[n++] = (char)c;
  } else {
    msg[n++] = '\\';
    msg[n++] = 'x';
    msg[n++] = hex[c >> 4];
    msg[n++] = hex[c & 15];
  }
  msg[n++] = '\'';
  msg[n] = '\0';
  set_err(p, msg);
}

void dyna_resp_parser_init(dyna_resp_parser_t *p, const dyna_resp_limits_t *lim) {
  memset(p, 0, sizeof(*p));
  if (lim)
    p->lim = *lim;
  else
    dyna_resp_limits_default(&p->lim);
}

void dyna_resp_parser_free(dyna_resp_parser_t *p) {
  dyna_free(p->argo);
  dyna_free(p->argl);
  dyna_free(p->scratch);
  p->argo = p->argl = NULL;
  p->scratch = NULL;
  p->cap = p->scratch_cap = 0;
  p->pos = p->want = p->argc = 0;
}

/* Forgets the current command; keeps the allocations. */
static void parser_reset(dyna_resp_parser_t *p) {
  p->pos = 0;
  p->want = 0;
  p->argc = 0;
  p->skipping = 0;
  p->skip = 0;
}

/* Internal result of parse_multibulk_args(): a bulk over max_bulk (within max_skip)
 * begins at *used; the command is to be skipped from there (p->skipping set). */
#define RESP_SKIP 2

/* Drops the rest of a command being skipped, at s[0..n): the current bulk's remaining
 * bytes (its CRLF checked), then the bulk arguments still announced, each header read
 * whole and its body dropped. Returns 0 when the command ended (*used its bytes here),
 * DYNA_EAGAIN with *used the bytes dropped so far (the caller advances by them), or
 * DYNA_EPROTO / DYNA_ETOOBIG for a malformed or over-max_skip header. Never buffers a
 * body: at most one header is looked at again. */
static int skip_args(dyna_resp_parser_t *p, const uint8_t *s, size_t n, size_t *used) {
  size_t at = 0;
  for (;;) {
    while (p->skip > 2 && at < n) { /* the body */
      size_t take = n - at < p->skip - 2 ? n - at : p->skip - 2;
      at += take;
      p->skip -= take;
    }
    while (p->skip > 0 && p->skip <= 2 && at < n) { /* its CRLF */
      if (s[at] != (p->skip == 2 ? '\r' : '\n')) {
        set_err(p, "Protocol error: expected CRLF after bulk string");
        return DYNA_EPROTO;
      }
      at++;
      p->skip--;
    }
    if (p->skip) break;
    if (p->argc == p->want) {
      *used = at;
      return 0;
    }
    if (at == n) break;
    if (s[at] != '$') {
      set_err_expected(p, s[at]);
      return DYNA_EPROTO;
    }
    size_t blen, hdr;
    int rc = parse_len(s + at + 1, n - at - 1, p->lim.max_skip, 0, &blen, &hdr);
    if (rc == DYNA_EAGAIN) break;
    if (rc == DYNA_EPROTO) set_err(p, "Protocol error: invalid bulk length");
    if (rc == DYNA_ETOOBIG) set_err(p, "Protocol error: bulk length over the limit");
    if (rc) return rc;
    if (blen > p->skip_len) p->skip_len = blen;
    p->argc++;
    p->skip = blen + 2;
    at += 1 + hdr;
  }
  *used = at;
  return DYNA_EAGAIN;
}

/* Makes room for `need` arguments, growing geometrically but never past the announced
 * count of a multibulk command. Returns 0 or DYNA_ENOMEM (the arrays stay valid). */
static int ensure_args(dyna_resp_parser_t *p, size_t need) {
  if (need <= p->cap) return 0;
  size_t cap = p->cap ? p->cap * 2 : 8;
  if (p->want && cap > p->want) cap = p->want;
  if (cap < need) cap = need;
  if (cap > SIZE_MAX / sizeof(size_t)) return DYNA_ENOMEM;
  size_t *o = dyna_realloc(p->argo, cap * sizeof(size_t));
  if (!o) return DYNA_ENOMEM;
  p->argo = o;
  size_t *l = dyna_realloc(p->argl, cap * sizeof(size_t));
  if (!l) return DYNA_ENOMEM;
  p->argl = l;
  p->cap = cap;
  return 0;
}

/* Reads the "*n\r\n" header at s[0..n). Returns 0 (p->want, p->pos set), RESP_NOTHING
 * with *used for "*0" and "*-1", DYNA_EAGAIN, DYNA_EPROTO or DYNA_ETOOBIG. */
static int parse_multibulk_header(dyna_resp_parser_t *p, const uint8_t *s, size_t n,
                                  size_t *used) {
  size_t count, hdr;
  int rc = parse_len(s + 1, n - 1, p->lim.max_args, 1, &count, &hdr);
  if (rc == DYNA_EPROTO) set_err(p, "Protocol error: invalid multibulk length");
  if (rc == DYNA_ETOOBIG) set_err(p, "Protocol error: multibulk length over the limit");
  if (rc) return rc;
  if (count == 0 || count == RESP_NIL_LEN) {
    *used = 1 + hdr;
    return RESP_NOTHING;
  }
  p->want = count;
  p->pos = 1 + hdr;
  return 0;
}

/* Reads bulk arguments from s[p->pos..n) until p->want are complete. Returns 0 with
 * *used, DYNA_EAGAIN (progress kept in p->pos / p->argc), DYNA_EPROTO, DYNA_ETOOBIG or
 * DYNA_ENOMEM. Cost: O(headers), independent of the bulk sizes. */
static int parse_multibulk_args(dyna_resp_parser_t *p, const uint8_t *s, size_t n,
                                size_t *used) {
  while (p->argc < p->want) {
    size_t at = p->pos, blen, hdr;
    if (at == n) return DYNA_EAGAIN;
    if (s[at] != '$') {
      set_err_expected(p, s[at]);
      return DYNA_EPROTO;
    }
    size_t max = p->lim.max_skip > p->lim.max_bulk ? p->lim.max_skip : p->lim.max_bulk;
    int rc = parse_len(s + at + 1, n - at - 1, max, 0, &blen, &hdr);
    if (rc == DYNA_EPROTO) set_err(p, "Protocol error: invalid bulk length");
    if (rc == DYNA_ETOOBIG) set_err(p, "Protocol error: bulk length over the limit");
    if (rc) return rc;
    size_t body = at + 1 + hdr;
    if (blen > p->lim.max_bulk) { /* within max_skip: drop the command from here */
      p->skipping = 1;
      p->skip_len = blen;
      p->skip = blen + 2;
      p->argc++;
      *used = body;
      return RESP_SKIP;
    }
    if (n - body < blen) return DYNA_EAGAIN;
    rc = expect_crlf(s, n, body + blen);
    if (rc == DYNA_EPROTO) set_err(p, "Protocol error: expected CRLF after bulk string");
    if (rc) return rc;
    if (ensure_args(p, p->argc + 1)) return DYNA_ENOMEM;
    p->argo[p->argc] = body;
    p->argl[p->argc] = blen;
    p->argc++;
    p->pos = body + blen + 2;
  }
  *used = p->pos;
  return 0;
}

/* True for the bytes that separate inline arguments. */
static int is_sep(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Value of hex digit c, or -1. */
static int hex_val(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* One inline argument being decoded: out gets its bytes; raw/contig track whether they
 * are also one plain slice s[raw .. raw + len) of the line. */
typedef struct inl_arg {
  uint8_t *out;
  size_t len;
  size_t raw;
  int contig;
} inl_arg_t;

/* Appends byte c taken verbatim from line offset src. */
static void arg_put_raw(inl_arg_t *a, uint8_t c, size_t src) {
  if (a->len == 0)
    a->raw = src;
  else if (src != a->raw + a->len)
    a->contig = 0;
  a->out[a->len++] = c;
}

/* Appends byte c produced by an escape sequence. */
static void arg_put_esc(inl_arg_t *a, uint8_t c) {
  a->contig = 0;
  a->out[a->len++] = c;
}

/* Decodes the escape at s[i] == '\\' inside double quotes; returns the bytes eaten. */
static size_t dq_escape(const uint8_t *s, size_t n, size_t i, inl_arg_t *a) {
  if (i + 3 < n && s[i + 1] == 'x' && hex_val(s[i + 2]) >= 0 && hex_val(s[i + 3]) >= 0) {
    arg_put_esc(a, (uint8_t)(hex_val(s[i + 2]) * 16 + hex_val(s[i + 3])));
    return 4;
  }
  uint8_t c = s[i + 1];
  switch (c) {
  case 'n': c = '\n'; break;
  case 'r': c = '\r'; break;
  case 't': c = '\t'; break;
  case 'b': c = '\b'; break;
  case 'a': c = '\a'; break;
  default: break;
  }
  arg_put_esc(a, c);
  return 2;
}

/* Decodes one argument starting at s[*pi] (not a separator) of the line s[0..n), as
 * redis-cli's sdssplitargs does but binary-safe. Returns 0 with *pi after the argument,
 * or DYNA_EPROTO for an open quote or a closing quote followed by a non-separator. */
static int inline_next_arg(const uint8_t *s, size_t n, size_t *pi, inl_arg_t *a) {
  size_t i = *pi;
  uint8_t quote = 0; /* '"', '\'' or 0 outside quotes */
  a->len = 0;
  a->raw = i;
  a->contig = 1;
  for (;;) {
    if (i == n) {
      if (quote) return DYNA_EPROTO;
      break;
    }
    uint8_t c = s[i];
    if (!quote) {
      if (is_sep(c)) break;
      if (c == '"' || c == '\'') {
        quote = c;
      } else {
        arg_put_raw(a, c, i);
      }
      i++;
    } else if (c == quote) {
      i++;
      if (i < n && !is_sep(s[i])) return DYNA_EPROTO;
      break;
    } else if (c == '\\' && quote == '"' && i + 1 < n) {
      i += dq_escape(s, n, i, a);
    } else if (c == '\\' && quote == '\'' && i + 1 < n && s[i + 1] == '\'') {
      arg_put_esc(a, '\'');
      i += 2;
    } else {
      arg_put_raw(a, c, i);
      i++;
    }
  }
  *pi = i;
  return 0;
}

/* Splits the inline line s[0..n) (no line terminator) into p->argc arguments. Decoded
 * bytes go to p->scratch; when every argument turns out to be a plain slice of the line,
 * p->argo holds line offsets and *in_scratch is 0, else scratch offsets and 1. Returns
 * 0, DYNA_EPROTO, DYNA_ETOOBIG (more than max_args) or DYNA_ENOMEM. */
static int split_inline(dyna_resp_parser_t *p, const uint8_t *s, size_t n, int *in_scratch) {
  size_t i = 0, used = 0;
  int contig = 1;
  if (n > p->scratch_cap) {
    uint8_t *d = dyna_realloc(p->scratch, n);
    if (!d) return DYNA_ENOMEM;
    p->scratch = d;
    p->scratch_cap = n;
  }
  for (;;) {
    while (i < n && is_sep(s[i])) i++;
    if (i == n) break;
    if (p->argc == p->lim.max_args) {
      set_err(p, "Protocol error: too many arguments in inline request");
      return DYNA_ETOOBIG;
    }
    inl_arg_t a = {p->scratch + used, 0, 0, 1};
    if (inline_next_arg(s, n, &i, &a)) {
      set_err(p, "Protocol error: unbalanced quotes in request");
      return DYNA_EPROTO;
    }
    if (ensure_args(p, p->argc + 1)) return DYNA_ENOMEM;
    contig = contig && a.contig;
    p->argo[p->argc] = a.raw;
    p->argl[p->argc] = a.len;
    p->argc++;
    used += a.len;
  }
  *in_scratch = !contig;
  if (!contig) {
    size_t off = 0;
    for (size_t k = 0; k < p->argc; k++) {
      p->argo[k] = off;
      off += p->argl[k];
    }
  }
  return 0;
}

/* Reads an inline command line at s[0..n), resuming the search for "\n" at p->pos.
 * Returns 0 with *used and p->argc >= 1, RESP_NOTHING with *used for a line without
 * arguments, DYNA_EAGAIN, DYNA_EPROTO, DYNA_ETOOBIG or DYNA_ENOMEM. */
static int parse_inline(dyna_resp_parser_t *p, const uint8_t *s, size_t n, size_t *used,
                        int *in_scratch) {
  size_t max = p->lim.max_inline;
  size_t window = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2; /* content + "\r\n" */
  size_t end = n < window ? n : window;
  const uint8_t *nl = p->pos < end ? memchr(s + p->pos, '\n', end - p->pos) : NULL;
  if (!nl) {
    if (end == window) {
      set_err(p, "Protocol error: too big inline request");
      return DYNA_ETOOBIG;
    }
    p->pos = end;
    return DYNA_EAGAIN;
  }
  size_t line = (size_t)(nl - s);
  size_t content = line > 0 && s[line - 1] == '\r' ? line - 1 : line;
  if (content > max) {
    set_err(p, "Protocol error: too big inline request");
    return DYNA_ETOOBIG;
  }
  int rc = split_inline(p, s, content, in_scratch);
  if (rc) return rc;
  *used = line + 1;
  return p->argc ? 0 : RESP_NOTHING;
}

/* Continues the current command at s[0..n) (n >= 1). Returns what parse_inline does. */
static int parse_one(dyna_resp_parser_t *p, const uint8_t *s, size_t n, size_t *used,
                     int *in_scratch) {
  *in_scratch = 0;
  if (p->want == 0 && p->pos == 0 && s[0] == '*') {
    int rc = parse_multibulk_header(p, s, n, used);
    if (rc) return rc;
  }
  if (p->want == 0) return parse_inline(p, s, n, used, in_scratch);
  return parse_multibulk_args(p, s, n, used);
}

/* Goes on dropping a skipped command at buf[0..len) (see skip_args), as parse_cmd. */
static int parse_skipping(dyna_resp_parser_t *p, const uint8_t *buf, size_t len, size_t *consumed) {
  size_t used = 0;
  int rc = skip_args(p, buf, len, &used);
  if (rc == DYNA_EAGAIN) {
    *consumed = used;
    return DYNA_EAGAIN;
  }
  *consumed = rc ? 0 : used;
  if (!rc) {
    set_err(p, "value over the limit");
    p->skipped = 1;
    rc = DYNA_ETOOBIG;
  }
  parser_reset(p);
  return rc;
}

/* The bulk "$<len>\r\n<bytes>\r\n" at s[0..n) under max: 0 with its body and the bytes
 * it took, else non-zero (anything but a whole one). */
static int peek_bulk(const uint8_t *s, size_t n, size_t max, const uint8_t **body, size_t *blen,
                     size_t *used) {
  size_t hdr;
  if (n < 1 || s[0] != '$' || parse_len(s + 1, n - 1, max, 0, blen, &hdr)) return 1;
  size_t at = 1 + hdr;
  if (n - at < *blen + 2 || s[at + *blen] != '\r' || s[at + *blen + 1] != '\n') return 1;
  *body = s + at;
  *used = at + *blen + 2;
  return 0;
}

size_t dyna_resp_peek_cmds(const dyna_resp_limits_t *lim, const uint8_t *buf, size_t len,
                           dyna_resp_peek_t *out, size_t max, size_t *end) {
  size_t at = 0, k = 0;
  while (k < max && at < len && buf[at] == '*') {
    size_t argc, hdr, i;
    if (parse_len(buf + at + 1, len - at - 1, lim->max_args, 0, &argc, &hdr) || argc == 0) break;
    size_t pos = at + 1 + hdr;
    dyna_resp_peek_t *o = &out[k];
    o->argc = argc;
    o->arg = NULL;
    o->alen = 0;
    for (i = 0; i < argc; i++) {
      const uint8_t *body;
      size_t blen, used;
      if (peek_bulk(buf + pos, len - pos, lim->max_bulk, &body, &blen, &used)) break;
      if (i == 0) o->name = body, o->nlen = blen;
      if (i == 1) o->arg = body, o->alen = blen;
      pos += used;
    }
    if (i < argc) break;
    at = pos;
    k++;
  }
  *end += at;
  return k;
}

int dyna_resp_parse_cmd(dyna_resp_parser_t *p, const uint8_t *buf, size_t len,
                        dyna_resp_cmd_t *cmd, size_t *consumed) {
  size_t skip = 0, used = 0;
  int in_scratch = 0, rc = DYNA_EAGAIN;
  p->skipped = 0;
  if (p->skipping) return parse_skipping(p, buf, len, consumed);
  while (skip < len) {
    rc = parse_one(p, buf + skip, len - skip, &used, &in_scratch);
    if (rc != RESP_NOTHING) break;
    skip += used;
    parser_reset(p);
    rc = DYNA_EAGAIN;
  }
  if (rc == RESP_SKIP) { /* what came before the oversized body is dropped with it */
    size_t more = 0;
    skip += used;
    p->pos = 0;
    rc = parse_skipping(p, buf + skip, len - skip, &more);
    *consumed = rc == DYNA_EAGAIN || p->skipped ? skip + more : 0;
    return rc;
  }
  if (rc == DYNA_EAGAIN) {
    /* Partial progress is relative to buf + skip; the caller may or may not advance by
     * skip, so after a skip start the command afresh next time. */
    if (skip > 0) parser_reset(p);
    *consumed = skip;
    return DYNA_EAGAIN;
  }
  if (rc) {
    parser_reset(p);
    *consumed = 0;
    return rc;
  }
  if (!in_scratch)
    for (size_t i = 0; i < p->argc; i++) p->argo[i] += skip;
  cmd->argc = p->argc;
  cmd->argo = p->argo;
  cmd->argl = p->argl;
  cmd->base = in_scratch ? p->scratch : buf;
  *consumed = skip + used;
  parser_reset(p);
  return 0;
}

/* ---- Reply parser ---- */

static int parse_value(const dyna_resp_limits_t *lim, const uint8_t *s, size_t n,
                       size_t depth, dyna_resp_value_t *v, size_t *used);

/* Reads the "+", "-" or ":" line at s[0..n): finds its "\r\n". Returns 0 with *len
 * (content bytes after the type byte) and *used, DYNA_EAGAIN, DYNA_EPROTO (bare CR or
 * LF) or DYNA_ETOOBIG (content over max_inline). */
static int reply_line(const dyna_resp_limits_t *lim, const uint8_t *s, size_t n,
                      size_t *len, size_t *used) {
  size_t i;
  for (i = 1; i < n && s[i] != '\r'; i++) {
    if (s[i] == '\n') return DYNA_EPROTO;
    if (i - 1 >= lim->max_inline) return DYNA_ETOOBIG;
  }
  if (i == n) return DYNA_EAGAIN;
  int rc = expect_crlf(s, n, i);
  if (rc) return rc;
  *len = i - 1;
  *used = i + 2;
  return 0;
}

/* Copies n bytes into a new NUL-terminated allocation in v->str. 0 or DYNA_ENOMEM. */
static int value_set_str(dyna_resp_value_t *v, const uint8_t *p, size_t n) {
  if (n == SIZE_MAX) return DYNA_ENOMEM;
  v->str = dyna_malloc(n + 1);
  if (!v->str) return DYNA_ENOMEM;
  if (n) memcpy(v->str, p, n);
  v->str[n] = '\0';
  v->len = n;
  return 0;
}

/* Parses the digits of ":[-]digits" (canonical: no '+', no leading zero, no "-0").
 * Returns 0 with *out, or DYNA_EPROTO (including overflow of int64). */
static int parse_int64(const uint8_t *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = n > 0 && s[0] == '-';
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
  i = (size_t)neg;
  if (i == n) return DYNA_EPROTO;
  if (s[i] == '0' && (n - i > 1 || neg)) return DYNA_EPROTO;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return DYNA_EPROTO;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (limit - d) / 10) return DYNA_EPROTO;
    v = v * 10 + d;
  }
  if (!neg)
    *out = (int64_t)v;
  else if (v == (uint64_t)INT64_MAX + 1)
    *out = INT64_MIN;
  else
    *out = -(int64_t)v;
  return 0;
}

/* Parses "*n\r\n" and its n elements at s[0..n) into v (or "*-1" as NIL); also RESP3's
 * "~n" (a set: n elements) and "%n" (a map: n pairs, 2n elements), which have no nil.
 * depth counts the arrays around this one. On failure v keeps the elements parsed so
 * far (the caller frees them, as for parse_value). Allocates at most n / 3 elements. */
static int parse_array(const dyna_resp_limits_t *lim, const uint8_t *s, size_t n,
                       size_t depth, dyna_resp_value_t *v, size_t *used) {
  size_t count, hdr;
  int map = s[0] == '%';
  int rc = parse_len(s + 1, n - 1, map ? lim->max_args / 2 : lim->max_args, s[0] == '*', &count, &hdr);
  if (rc) return rc;
  size_t off = 1 + hdr;
  if (count == RESP_NIL_LEN) {
    v->type = DYNA_RESP_NIL;
    *used = off;
    return 0;
  }
  if (depth >= lim->max_depth) return DYNA_ETOOBIG;
  v->type = DYNA_RESP_ARRAY;
  if (s[0] != '*') v->shape = s[0];
  if (map) count *= 2;
  if (count == 0) {
    *used = off;
    return 0;
  }
  /* Every element takes at least 3 bytes ("+\r\n"): do not allocate for elements that
   * cannot have arrived yet. */
  if (count > (n - off) / 3) return DYNA_EAGAIN;
  v->elem = dyna_calloc(count, sizeof(*v->elem));
  if (!v->elem) return DYNA_ENOMEM;
  for (v->n = 0; v->n < count; v->n++) {
    size_t u;
    rc = parse_value(lim, s + off, n - off, depth + 1, &v->elem[v->n], &u);
    if (rc) {
      /* Free the failed element here; the caller frees v with elements 0 .. v->n - 1. */
      dyna_resp_value_free(&v->elem[v->n]);
      return rc;
    }
    off += u;
  }
  *used = off;
  return 0;
}

/* Parses "$n\r\n<body>\r\n" or "$-1\r\n" at s[0..n) into v; also RESP3's verbatim
 * "=n\r\nfmt:<text>\r\n" (no nil; n >= 4, fmt 3 bytes): a BULK of the text, its
 * format in v->integer. */
static int parse_bulk(const dyna_resp_limits_t *lim, const uint8_t *s, size_t n,
                      dyna_resp_value_t *v, size_t *used) {
  size_t blen, hdr;
  int rc = parse_len(s + 1, n - 1, lim->max_bulk, s[0] == '$', &blen, &hdr);
  if (rc) return rc;
  size_t body = 1 + hdr;
  if (blen == RESP_NIL_LEN) {
    v->type = DYNA_RESP_NIL;
    *used = body;
    return 0;
  }
  if (n - body < blen) return DYNA_EAGAIN;
  rc = expect_crlf(s, n, body + blen);
  if (rc) return rc;
  v->type = DYNA_RESP_BULK;
  if (s[0] == '=') {
    if (blen < 4 || s[body + 3] != ':') return DYNA_EPROTO;
    v->shape = '=';
    v->integer = (int64_t)s[body] | (int64_t)s[body + 1] << 8 | (int64_t)s[body + 2] << 16;
    rc = value_set_str(v, s + body + 4, blen - 4);
  } else {
    rc = value_set_str(v, s + body, blen);
  }
  if (rc) return rc;
  *used = body + blen + 2;
  return 0;
}

/* 1 when p[0..n) is a RESP3 double's text: what strtod reads whole ("1.5", "-0.1e3",
 * "inf", "-inf", "nan"), no leading space or sign '+' before a letter. p[n] is NUL. */
static int double_text_ok(const uint8_t *p, size_t n) {
  if (n == 0 || n > 400 || p[0] == ' ' || p[0] == '\t' || memchr(p, 0, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789+-.eEinfaINFA", p[i])) return 0;
  char *end;
  (void)strtod((const char *)p, &end);
  return end == (const char *)p + n;
}

/* 1 when p[0..n) is a RESP3 big number: [-]digits, canonical as an integer is. */
static int big_text_ok(const uint8_t *p, size_t n) {
  size_t i = n && p[0] == '-';
  if (i == n || (p[i] == '0' && (n - i > 1 || i))) return 0;
  for (; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return 0;
  return 1;
}

/* Parses one value of any type at s[0..n) into the zeroed *v; depth counts the arrays
 * around it. Returns 0 with *used, or an error; on failure v may still hold partial
 * allocations, which the caller releases with dyna_resp_value_free(v). */
static int parse_value(const dyna_resp_limits_t *lim, const uint8_t *s, size_t n,
                       size_t depth, dyna_resp_value_t *v, size_t *used) {
  size_t len;
  int rc;
  if (n == 0) return DYNA_EAGAIN;
  switch (s[0]) {
  case '+':
  case '-':
    rc = reply_line(lim, s, n, &len, used);
    if (rc) return rc;
    v->type = s[0] == '+' ? DYNA_RESP_STRING : DYNA_RESP_ERROR;
    return value_set_str(v, s + 1, len);
  case ':':
    rc = reply_line(lim, s, n, &len, used);
    if (rc) return rc;
    rc = parse_int64(s + 1, len, &v->integer);
    if (rc) return rc;
    v->type = DYNA_RESP_INTEGER;
    return 0;
  case '$':
  case '=':
    return parse_bulk(lim, s, n, v, used);
  case '*':
  case '~':
  case '%':
    return parse_array(lim, s, n, depth, v, used);
  case '_': /* RESP3 null */
    rc = reply_line(lim, s, n, &len, used);
    if (rc) return rc;
    if (len) return DYNA_EPROTO;
    v->type = DYNA_RESP_NIL;
    v->shape = '_';
    return 0;
  case '#': /* RESP3 boolean: an INTEGER 1 or 0 */
    rc = reply_line(lim, s, n, &len, used);
    if (rc) return rc;
    if (len != 1 || (s[1] != 't' && s[1] != 'f')) return DYNA_EPROTO;
    v->type = DYNA_RESP_INTEGER;
    v->shape = '#';
    v->integer = s[1] == 't';
    return 0;
  case ',': /* RESP3 double, and big number: a BULK of their text */
  case '(':
    rc = reply_line(lim, s, n, &len, used);
    if (rc) return rc;
    v->type = DYNA_RESP_BULK;
    v->shape = s[0];
    rc = value_set_str(v, s + 1, len);
    if (rc) return rc;
    if (s[0] == ',' ? !double_text_ok(v->str, len) : !big_text_ok(v->str, len)) return DYNA_EPROTO;
    return 0;
  default:
    return DYNA_EPROTO;
  }
}

int dyna_resp_parse_reply(const dyna_resp_limits_t *lim, const uint8_t *buf, size_t len,
                          dyna_resp_value_t *v, size_t *consumed) {
  size_t used = 0;
  memset(v, 0, sizeof(*v));
  int rc = parse_value(lim, buf, len, 0, v, &used);
  if (rc) {
    dyna_resp_value_free(v);
    return rc;
  }
  *consumed = used;
  return 0;
}

void dyna_resp_value_free(dyna_resp_value_t *v) {
  if (!v) return;
  if (v->elem) {
    for (size_t i = 0; i < v->n; i++) dyna_resp_value_free(&v->elem[i]);
    dyna_free(v->elem);
  }
  dyna_free(v->str);
  memset(v, 0, sizeof(*v));
}

/* ---- Encoders ---- */

/* Appends type byte t, then v in decimal (with '-' if neg), then "\r\n". */
static void put_num_line(dyna_buf_t *b, char t, int neg, uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  tmp[--i] = '\n';
  tmp[--i] = '\r';
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (neg) tmp[--i] = '-';
  tmp[--i] = t;
  dyna_buf_put(b, tmp + i, sizeof(tmp) - i);
}

/* Appends t, s with every CR and LF turned into a space, then "\r\n". */
static void put_clean_line(dyna_buf_t *b, char t, const char *s) {
  dyna_buf_put_u8(b, (uint8_t)t);
  while (*s) {
    size_t run = strcspn(s, "\r\n");
    dyna_buf_put(b, s, run);
    s += run;
    if (*s) {
      dyna_buf_put_u8(b, ' ');
      s++;
    }
  }
  dyna_buf_put(b, "\r\n", 2);
}

void dyna_resp_put_simple(dyna_buf_t *b, const char *s) { put_clean_line(b, '+', s); }

void dyna_resp_put_error(dyna_buf_t *b, const char *msg) { put_clean_line(b, '-', msg); }

void dyna_resp_put_int(dyna_buf_t *b, int64_t v) {
  uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  put_num_line(b, ':', v < 0, mag);
}

void dyna_resp_put_bulk(dyna_buf_t *b, const void *p, size_t n) {
  put_num_line(b, '$', 0, n);
  dyna_buf_put(b, p, n);
  dyna_buf_put(b, "\r\n", 2);
}

void dyna_resp_put_bulk_str(dyna_buf_t *b, const char *s) { dyna_resp_put_bulk(b, s, strlen(s)); }

void dyna_resp_put_nil(dyna_buf_t *b) { dyna_buf_put(b, "$-1\r\n", 5); }

void dyna_resp_put_array(dyna_buf_t *b, size_t n) { put_num_line(b, '*', 0, n); }

void dyna_resp_put_cmd(dyna_buf_t *b, size_t argc, const uint8_t *const *argv,
                       const size_t *argl) {
  dyna_resp_put_array(b, argc);
  for (size_t i = 0; i < argc; i++) dyna_resp_put_bulk(b, argv[i], argl[i]);
}

/* ---- RESP3 shapes ---- */

void dyna_resp_put_map(dyna_buf_t *b, int proto, size_t npairs) {
  if (proto == DYNA_RESP3) put_num_line(b, '%', 0, npairs);
  else put_num_line(b, '*', 0, 2 * npairs);
}

void dyna_resp_put_set(dyna_buf_t *b, int proto, size_t n) { put_num_line(b, proto == DYNA_RESP3 ? '~' : '*', 0, n); }

size_t dyna_resp_fmt_double(double d, char *out) {
  if (isinf(d)) return (size_t)snprintf(out, 32, "%s", d > 0 ? "inf" : "-inf");
  if (isnan(d)) return (size_t)snprintf(out, 32, "nan");
  return (size_t)snprintf(out, 32, "%.17g", d);
}

void dyna_resp_put_double(dyna_buf_t *b, int proto, double d) {
  char num[32];
  size_t n = dyna_resp_fmt_double(d, num);
  if (proto != DYNA_RESP3) { dyna_resp_put_bulk(b, num, n); return; }
  dyna_buf_put(b, ",", 1);
  dyna_buf_put(b, num, n);
  dyna_buf_put(b, "\r\n", 2);
}

void dyna_resp_put_null(dyna_buf_t *b, int proto) {
  if (proto == DYNA_RESP3) dyna_buf_put(b, "_\r\n", 3);
  else dyna_resp_put_nil(b);
}

void dyna_resp_put_null_array(dyna_buf_t *b, int proto) {
  if (proto == DYNA_RESP3) dyna_buf_put(b, "_\r\n", 3);
  else dyna_buf_put(b, "*-1\r\n", 5);
}

void dyna_resp_put_bool(dyna_buf_t *b, int proto, int v) {
  if (proto == DYNA_RESP3) dyna_buf_put(b, v ? "#t\r\n" : "#f\r\n", 4);
  else dyna_resp_put_int(b, v ? 1 : 0);
}

void dyna_resp_put_verbatim(dyna_buf_t *b, int proto, const char *fmt, const void *p, size_t n) {
  DYNA_ASSERT(strlen(fmt) == 3, "verbatim format '%s' is not 3 bytes", fmt);
  if (proto != DYNA_RESP3) { dyna_resp_put_bulk(b, p, n); return; }
  put_num_line(b, '=', 0, n + 4);
  dyna_buf_put(b, fmt, 3);
  dyna_buf_put(b, ":", 1);
  dyna_buf_put(b, p, n);
  dyna_buf_put(b, "\r\n", 2);
}
