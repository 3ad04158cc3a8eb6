/* resp.h: RESP2 and RESP3 (the Redis serialization protocol), pure and allocation-light.
 *
 * Server side: dyna_resp_parse_cmd() reads one command from a connection's input
 * buffer: a multibulk array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an
 * inline command ("GET k\r\n", split on spaces/tabs, as redis-cli and telnet send).
 * It is resumable: when a command is incomplete it returns DYNA_EAGAIN and remembers
 * how far it got, so a large request that arrives in many reads is scanned once. The
 * caller must present the same bytes again (the buffer may have been moved or grown)
 * until a command completes. Arguments are returned as offsets into the buffer.
 *
 * Client side: dyna_resp_parse_reply() reads one reply of any type into a tree, RESP3's
 * types folded into the RESP2 ones (v->shape says which RESP3 type it came as).
 *
 * Encoders append to a dyna_buf_t (check buf->oom once at the end). The RESP3 shapes
 * (map, set, double, null, boolean, verbatim) take the connection's protocol version
 * (DYNA_RESP2 or DYNA_RESP3; 0 counts as 2) and write the RESP2 form Redis 7.0 writes
 * when it is 2, so one encoding path serves both kinds of client.
 *
 * Limits (dyna_resp_limits_t) bound every length before anything is buffered or
 * allocated, so a hostile peer cannot make us reserve more than the limits allow.
 */
#ifndef DYNA_RESP_H
#define DYNA_RESP_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct dyna_resp_limits {
  size_t max_bulk;   /* largest bulk string ($n), e.g. max value + slack */
  size_t max_args;   /* largest array (*n) of a command */
  size_t max_inline; /* longest inline command line, in bytes */
  size_t max_depth;  /* replies only: nesting depth of arrays */
  size_t max_skip;   /* commands only: a bulk longer than max_bulk but at most max_skip is
                        read and dropped, not buffered, and its command answered
                        DYNA_ETOOBIG with the stream kept in step (see parse_cmd);
                        0 (the default): any bulk over max_bulk is a DYNA_ETOOBIG that
                        ends the stream */
} dyna_resp_limits_t;

/* Defaults: 512 MiB bulk as Redis, 1M args, 64 KiB inline, depth 8, no skipping. */
void dyna_resp_limits_default(dyna_resp_limits_t *l);

typedef struct dyna_resp_parser {
  dyna_resp_limits_t lim;
  /* Resumable state (private). */
  size_t pos;      /* bytes of the current command scanned so far */
  size_t want;     /* args announced by the array header (0 = header not read) */
  size_t argc;     /* args complete so far */
  size_t cap;      /* capacity of argo/argl */
  size_t *argo;    /* offset of each arg in the buffer (owned) */
  size_t *argl;    /* length of each arg (owned) */
  char err[128];   /* message for the last DYNA_EPROTO / DYNA_ETOOBIG */
  uint8_t *scratch;   /* decoded inline arguments, when they had to be rewritten (owned) */
  size_t scratch_cap; /* capacity of scratch */
  /* Skipping a command with a bulk over max_bulk (lim.max_skip): */
  int skipping;       /* the current command is being read and dropped */
  size_t skip;        /* bytes of the current bulk (and its CRLF) still to drop */
  size_t skip_len;    /* the longest bulk of the command, for the message */
  int skipped;        /* the last DYNA_ETOOBIG was a whole skipped command (the stream
                         is in step; *consumed counted its last bytes) */
} dyna_resp_parser_t;

typedef struct dyna_resp_cmd {
  size_t argc;        /* >= 1 when returned by a successful parse */
  const size_t *argo; /* offsets from base (see below) */
  const size_t *argl; /* lengths; both arrays belong to the parser, valid until next call */
  /* Argument i is base[argo[i] .. argo[i] + argl[i]). base is the buffer passed to the
   * parse call for every multibulk command and for every inline command whose arguments
   * are plain slices of its line (so buf + argo[i] works there). Only an inline command
   * with an argument that had to be rewritten (an escape such as \x41 or \", or quoted
   * and unquoted pieces joined, as in a"b") gets base pointing at parser-owned memory,
   * valid until the next call. Prefer dyna_resp_cmd_arg(), which is always right. */
  const uint8_t *base;
} dyna_resp_cmd_t;

/* Returns a pointer to argument i (i < cmd->argc) of cmd; its length is cmd->argl[i]. */
static inline const uint8_t *dyna_resp_cmd_arg(const dyna_resp_cmd_t *cmd, size_t i) {
  return cmd->base + cmd->argo[i];
}

/* lim may be NULL for the defaults. parser_free releases the owned arrays (the parser may
 * be initialised again afterwards). */
void dyna_resp_parser_init(dyna_resp_parser_t *p, const dyna_resp_limits_t *lim);
void dyna_resp_parser_free(dyna_resp_parser_t *p);

/* Parses one command at the start of buf[0..len).
 * Returns:
 *   0              a whole command: *cmd set, *consumed = its length in bytes; the
 *                  parser is reset for the next command (start at buf + consumed).
 *   DYNA_EAGAIN    incomplete; call again with more bytes.
 *   DYNA_EPROTO    malformed; p->err says why ("Protocol error: ..."). The connection
 *                  cannot be resynchronised and should be answered and closed.
 *   DYNA_ETOOBIG   a length over the limits; p->err says which.
 *   DYNA_ENOMEM
 * An empty inline line ("\r\n") is skipped: it is consumed and DYNA_EAGAIN is returned
 * only when nothing else follows.
 * Details of this implementation:
 *   - *consumed is set on every return. With DYNA_EAGAIN it counts skipped empty lines,
 *     "*0\r\n" and "*-1\r\n" (consumed, no command, as Redis). Advancing by it is
 *     optional: a caller that presents those bytes again gets the same result.
 *   - Limits: "$n" with n > max_bulk and "*n" with n > max_args are DYNA_ETOOBIG as soon
 *     as the digits show it; an inline line longer than max_inline bytes (not counting
 *     its "\r\n" or "\n") is DYNA_ETOOBIG, as is one with more than max_args arguments.
 *   - Inline lines split on space, tab, CR, VT and FF; "double" quotes take \" \\ \n
 *     \r \t \b \a \xHH, 'single' quotes take \', a closing quote must be followed by a
 *     separator or the end of the line (otherwise, or when a quote is left open,
 *     DYNA_EPROTO "Protocol error: unbalanced quotes in request"). NUL is an ordinary byte.
 *     A line with no arguments is skipped like an empty one.
 *   - Other negative counts ("*-2") are DYNA_EPROTO, as are "$-1" and any sign or
 *     leading zero in a length.
 *   - After an error *consumed is 0 and the parser is reset (reusable on a new stream);
 *     the failed stream itself cannot be resynchronised.
 *   - Except an oversized bulk within lim.max_skip: the command it belongs to is read to
 *     its end and dropped as it arrives, never buffered: while that goes on, DYNA_EAGAIN
 *     comes with *consumed counting the bytes dropped, and then advancing by it is
 *     required (those bytes are not looked at again). When the command's last byte is
 *     read, DYNA_ETOOBIG is returned with p->skipped = 1, *consumed its remaining bytes,
 *     p->skip_len its longest bulk and p->err a message; the next command follows. A
 *     malformed byte while skipping is DYNA_EPROTO, as anywhere. */
int dyna_resp_parse_cmd(dyna_resp_parser_t *p, const uint8_t *buf, size_t len,
                        dyna_resp_cmd_t *cmd, size_t *consumed);

/* A look ahead at the commands buffered in buf[0..len), for hints only (prefetching the
 * keys of a pipelined batch): the complete multibulk commands at its start, at most max,
 * each as its name, argument count and first argument (arg NULL when it has none). It
 * stops at the first byte that is not such a command (an inline command, a blank line,
 * an incomplete or malformed command, a length over lim's) even where
 * dyna_resp_parse_cmd would go on, so what it returns is always what parse_cmd would
 * return for the same bytes, in order, and is never more. *end is advanced by the bytes
 * of the commands returned. No allocation, no state. */
typedef struct dyna_resp_peek {
  const uint8_t *name, *arg; /* into buf */
  size_t nlen, alen, argc;
} dyna_resp_peek_t;
size_t dyna_resp_peek_cmds(const dyna_resp_limits_t *lim, const uint8_t *buf, size_t len,
                           dyna_resp_peek_t *out, size_t max, size_t *end);

/* ---- Replies (client side) ---- */
typedef enum {
  DYNA_RESP_STRING = 1, /* +simple */
  DYNA_RESP_ERROR,      /* -error */
  DYNA_RESP_INTEGER,    /* :n */
  DYNA_RESP_BULK,       /* $n */
  DYNA_RESP_ARRAY,      /* *n */
  DYNA_RESP_NIL         /* $-1 or *-1 */
} dyna_resp_type_t;

typedef struct dyna_resp_value {
  dyna_resp_type_t type;
  uint8_t shape;                    /* 0 for RESP2's types; else the RESP3 type byte it came
                                       as: '%' map and '~' set (ARRAY; a map's n counts keys
                                       and values), '_' null (NIL), '#' boolean (INTEGER 1/0),
                                       ',' double and '(' big number (BULK of their text),
                                       '=' verbatim (BULK of the text after "fmt:") */
  int64_t integer;                  /* INTEGER; '=' verbatim: its 3 format bytes,
                                       fmt[0] | fmt[1] << 8 | fmt[2] << 16 */
  uint8_t *str;                     /* STRING, ERROR, BULK: owned, NUL-terminated */
  size_t len;
  struct dyna_resp_value *elem;     /* ARRAY: owned array of n elements */
  size_t n;
} dyna_resp_value_t;

/* Parses one whole reply at the start of buf. Returns 0 (*v filled, owned by the caller:
 * free with dyna_resp_value_free; *consumed set), DYNA_EAGAIN, DYNA_EPROTO, DYNA_ETOOBIG
 * or DYNA_ENOMEM. Not resumable: it rescans from the start, which is fine for replies.
 * On any error *v is zeroed (nothing to free) and partial allocations are released.
 * Limits: a bulk over max_bulk, an array over max_args elements, arrays nested more than
 * max_depth deep (a top-level array has depth 1; 0 forbids arrays) and a +, - or : line
 * over max_inline bytes are DYNA_ETOOBIG. Both "$-1" and "*-1" give DYNA_RESP_NIL;
 * "*0" gives an ARRAY with n == 0 and elem == NULL.
 * RESP3 (after HELLO 3): "%n" (n pairs, n <= max_args / 2), "~n", "_", "#t"/"#f",
 * ",double" (strtod's whole text), "(bignum" ([-]digits) and "=n\r\nfmt:text" are read
 * as above (v->shape); they have no nil length ("~-1", "%-1", "=-1" are DYNA_EPROTO).
 * Push (">") and attribute ("|") types are DYNA_EPROTO: Dyna sends neither. */
int dyna_resp_parse_reply(const dyna_resp_limits_t *lim, const uint8_t *buf, size_t len,
                          dyna_resp_value_t *v, size_t *consumed);
void dyna_resp_value_free(dyna_resp_value_t *v);

/* ---- Encoders ---- */
void dyna_resp_put_simple(dyna_buf_t *b, const char *s);         /* +s\r\n (CR/LF become spaces) */
void dyna_resp_put_error(dyna_buf_t *b, const char *msg);        /* -msg\r\n (CR/LF in msg become spaces) */
void dyna_resp_put_int(dyna_buf_t *b, int64_t v);                /* :v\r\n */
void dyna_resp_put_bulk(dyna_buf_t *b, const void *p, size_t n); /* $n\r\n...\r\n */
void dyna_resp_put_bulk_str(dyna_buf_t *b, const char *s);
void dyna_resp_put_nil(dyna_buf_t *b);                           /* $-1\r\n */
void dyna_resp_put_array(dyna_buf_t *b, size_t n);               /* *n\r\n */

/* ---- RESP3 shapes, written as RESP2 when proto is not DYNA_RESP3 ---- */
#define DYNA_RESP2 2
#define DYNA_RESP3 3
/* %npairs, then 2 * npairs elements (key, value, ...); RESP2: *<2 * npairs>. */
void dyna_resp_put_map(dyna_buf_t *b, int proto, size_t npairs);
/* ~n, then n elements; RESP2: *n. */
void dyna_resp_put_set(dyna_buf_t *b, int proto, size_t n);
/* ,d (Redis 7.0's "%.17g", "inf", "-inf"); RESP2: the same text as a bulk string. */
void dyna_resp_put_double(dyna_buf_t *b, int proto, double d);
/* _ ; RESP2: the null bulk string $-1. */
void dyna_resp_put_null(dyna_buf_t *b, int proto);
/* _ ; RESP2: the null array *-1. */
void dyna_resp_put_null_array(dyna_buf_t *b, int proto);
/* #t / #f; RESP2: :1 / :0. */
void dyna_resp_put_bool(dyna_buf_t *b, int proto, int v);
/* =<n + 4>, then "txt:" (fmt, 3 bytes) and the text; RESP2: a bulk string of the text. */
void dyna_resp_put_verbatim(dyna_buf_t *b, int proto, const char *fmt, const void *p, size_t n);
/* Formats d as Redis 7.0 replies a double ("%.17g", inf as "inf"/"-inf"; NaN as "nan"):
 * returns the length written to out (at least 32 bytes). */
size_t dyna_resp_fmt_double(double d, char *out);

/* A command as an array of bulk strings (client side). */
void dyna_resp_put_cmd(dyna_buf_t *b, size_t argc, const uint8_t *const *argv,
                       const size_t *argl);

#endif
