/* b64.h: standard base64 (RFC 4648 section 4, with '=' padding), used to show causal
 * contexts to users and to read them back. The decoder is strict so that every byte
 * string has exactly one accepted spelling: it rejects characters outside the
 * alphabet (including whitespace and the URL-safe '-' '_'), lengths that are not a
 * multiple of 4, misplaced or missing padding, and non-zero bits in the last
 * character before the padding. */
#ifndef DYNA_B64_H
#define DYNA_B64_H
#include "util/buf.h"
#include <stddef.h>

/* Number of characters dyna_b64_encode produces for n bytes (4 * ceil(n / 3)). */
size_t dyna_b64_encoded_len(size_t n);
/* Appends the base64 of p[0..n) to out (no NUL terminator; check out->oom). */
void dyna_b64_encode(const void *p, size_t n, dyna_buf_t *out);
/* Decodes s[0..n) and appends the bytes to out. Returns 0, DYNA_EINVAL (malformed) or
 * DYNA_ENOMEM; on error out's length is unchanged. Cost O(n). */
int dyna_b64_decode(const char *s, size_t n, dyna_buf_t *out);

#endif
