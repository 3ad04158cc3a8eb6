/* words.c: error words and their DYNA_E* codes, both directions (see words.h). */
#include "proto/words.h"
#include "proto/resp.h"
#include "util/err.h"
#include <string.h>

/* The words that stand for a code of their own, in both directions. */
static const struct {
  int code;
  const char *word;
} WORDS[] = {
    {DYNA_ENOQUORUM, DYNA_WORD_NOQUORUM},
    {DYNA_ETOOBIG, DYNA_WORD_TOOBIG},
    {DYNA_EBUSY, DYNA_WORD_BUSY},
    {DYNA_ETIMEDOUT, DYNA_WORD_TIMEOUT},
};
#define NWORDS (sizeof(WORDS) / sizeof(WORDS[0]))

const char *dyna_word_of_status(int status) {
  for (size_t i = 0; i < NWORDS; i++)
    if (WORDS[i].code == status) return WORDS[i].word;
  return DYNA_WORD_ERR;
}

/* 1 when msg starts with word followed by a space or the end. */
static int starts_with_word(const char *msg, const char *word) {
  size_t n = strlen(word);
  return !strncmp(msg, word, n) && (msg[n] == ' ' || msg[n] == 0);
}

int dyna_word_status(const char *msg) {
  if (!msg) return DYNA_EREMOTE;
  for (size_t i = 0; i < NWORDS; i++)
    if (starts_with_word(msg, WORDS[i].word)) return WORDS[i].code;
  if (starts_with_word(msg, DYNA_WORD_ERR) &&
      !strncmp(msg + sizeof(DYNA_WORD_ERR), DYNA_MSG_BAD_CONTEXT, sizeof(DYNA_MSG_BAD_CONTEXT) - 1))
    return DYNA_ECONTEXT;
  if (starts_with_word(msg, DYNA_WORD_ERR) &&
      !strncmp(msg + sizeof(DYNA_WORD_ERR), DYNA_MSG_OVERFLOW, sizeof(DYNA_MSG_OVERFLOW) - 1))
    return DYNA_ERANGE;
  return DYNA_EREMOTE;
}

/* Appends as much of s as fits in line[*n .. cap-1). */
static void cat(char *line, size_t *n, size_t cap, const char *s) {
  size_t k = strlen(s);
  if (k > cap - 1 - *n) k = cap - 1 - *n;
  memcpy(line + *n, s, k);
  *n += k;
  line[*n] = 0;
}

void dyna_resp_put_status_error(dyna_buf_t *b, int status, const char *msg) {
  char line[256];
  size_t n = 0;
  line[0] = 0;
  cat(line, &n, sizeof(line), dyna_word_of_status(status));
  cat(line, &n, sizeof(line), " ");
  cat(line, &n, sizeof(line), msg && *msg ? msg : dyna_strerror(status));
  dyna_resp_put_error(b, line);
}
