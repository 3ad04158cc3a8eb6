/* b64.c: strict standard base64 (see b64.h). */
#include "util/b64.h"
#include "util/err.h"

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

size_t dyna_b64_encoded_len(size_t n) { return (n / 3 + (n % 3 != 0)) * 4; }

void dyna_b64_encode(const void *p, size_t n, dyna_buf_t *out) {
  const uint8_t *b = p;
  if (n == 0 || dyna_buf_reserve(out, dyna_b64_encoded_len(n))) return;
  for (size_t i = 0; i < n; i += 3) {
    size_t rem = n - i;
    uint32_t w = (uint32_t)b[i] << 16;
    if (rem > 1) w |= (uint32_t)b[i + 1] << 8;
    if (rem > 2) w |= b[i + 2];
    char q[4] = {ALPHABET[(w >> 18) & 63], ALPHABET[(w >> 12) & 63],
                 rem > 1 ? ALPHABET[(w >> 6) & 63] : '=', rem > 2 ? ALPHABET[w & 63] : '='};
    dyna_buf_put(out, q, 4);
  }
}

/* Decodes one quartet q into out; `last` allows padding. Returns 0 or DYNA_EINVAL. */
static int decode_quartet(const char *q, int last, dyna_buf_t *out) {
  int pad = 0;
  if (last && q[3] == '=') pad = q[2] == '=' ? 2 : 1;
  int v[4] = {0, 0, 0, 0};
  for (int k = 0; k < 4 - pad; k++)
    if ((v[k] = sextet(q[k])) < 0) return DYNA_EINVAL;
  if (pad == 2 && (v[1] & 0x0f)) return DYNA_EINVAL; /* bits past the last byte */
  if (pad == 1 && (v[2] & 0x03)) return DYNA_EINVAL;
  uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
               (uint32_t)v[3];
  uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
  dyna_buf_put(out, b, (size_t)(3 - pad));
  return 0;
}

int dyna_b64_decode(const char *s, size_t n, dyna_buf_t *out) {
  if (n % 4 != 0) return DYNA_EINVAL;
  if (n == 0) return 0;
  size_t start = out->len;
  if (dyna_buf_reserve(out, n / 4 * 3)) return DYNA_ENOMEM;
  for (size_t i = 0; i < n; i += 4) {
    if (decode_quartet(s + i, i + 4 == n, out)) {
      out->len = start;
      return DYNA_EINVAL;
    }
  }
  return 0;
}
