/* glob.c: shell-style pattern matching (see glob.h). One pass over the string; on a
 * mismatch after a '*' the match restarts one byte further from that '*' (only the
 * last '*' needs to be retried: an earlier one can only ever take fewer bytes). */
#include "util/glob.h"
#include <ctype.h>
#include <stdint.h>

static int fold(int c, int nocase) { return nocase ? tolower(c) : c; }

/* Matches the byte c against the pattern element at pat[*p] ('?', a set, an escaped or a
 * plain byte); on a match advances *p past the element and returns 1. */
static int match_one(const char *pat, size_t plen, size_t *p, unsigned char c, int nocase) {
  size_t i = *p;
  if (pat[i] == '?') {
    *p = i + 1;
    return 1;
  }
  if (pat[i] == '[') {
    size_t j = i + 1;
    int neg = j < plen && (pat[j] == '^' || pat[j] == '!');
    if (neg) j++;
    int hit = 0;
    size_t k = j;
    for (; k < plen && (pat[k] != ']' || k == j); k++) {
      unsigned char lo = (unsigned char)pat[k], hi;
      if (lo == '\\' && k + 1 < plen) lo = (unsigned char)pat[++k];
      hi = lo;
      if (k + 2 < plen && pat[k + 1] == '-' && pat[k + 2] != ']') { /* a range lo-hi */
        hi = (unsigned char)pat[k + 2];
        k += 2;
      }
      int fc = fold(c, nocase);
      if ((c >= lo && c <= hi) || (fc >= fold(lo, nocase) && fc <= fold(hi, nocase))) hit = 1;
    }
    if (k < plen) { /* a closed set */
      if (hit == neg) return 0;
      *p = k + 1;
      return 1;
    } /* else: no ']', so '[' is a plain byte */
  }
  if (pat[i] == '\\' && i + 1 < plen) i++;
  if (fold((unsigned char)pat[i], nocase) != fold(c, nocase)) return 0;
  *p = i + 1;
  return 1;
}

int dyna_glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase) {
  size_t p = 0, s = 0;
  size_t star_p = SIZE_MAX, star_s = 0; /* after the last '*' seen; where it began in str */
  while (s < slen) {
    if (p < plen && pat[p] == '*') {
      while (p < plen && pat[p] == '*') p++;
      star_p = p;
      star_s = s;
      continue;
    }
    if (p < plen && match_one(pat, plen, &p, (unsigned char)str[s], nocase)) {
      s++;
      continue;
    }
    if (star_p == SIZE_MAX) return 0;
    p = star_p; /* the '*' takes one more byte */
    s = ++star_s;
  }
  while (p < plen && pat[p] == '*') p++;
  return p == plen;
}
