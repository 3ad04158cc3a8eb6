/* acl.c: users, their rules and the checks made on every command (see acl.h). A rule
 * line is applied to a copy of its user, which replaces the user only when every rule
 * was good, so a bad line changes nothing. Passwords are kept as their SHA-256 only and
 * compared in constant time (CRYPTO_memcmp). */
#include "runtime/acl.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/glob.h"
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void dyna_acl_sha256(const uint8_t *p, size_t len, uint8_t out[DYNA_ACL_SHA256_LEN]) {
  unsigned int n = 0;
  int ok = EVP_Digest(p, len, out, &n, EVP_sha256(), NULL);
  DYNA_ASSERT(ok == 1 && n == DYNA_ACL_SHA256_LEN, "SHA-256 failed (%d, %u bytes)", ok, n);
}

/* ---------- users: copy, free ---------- */

static void user_free(dyna_acl_user_t *u) {
  for (size_t i = 0; i < u->npats; i++) dyna_free(u->pats[i].p);
  dyna_free(u->pats);
  u->pats = NULL;
  u->npats = 0;
}

/* A deep copy of src into dst (dst's own patterns are not freed). 0 or -1 (dst empty). */
static int user_copy(dyna_acl_user_t *dst, const dyna_acl_user_t *src) {
  *dst = *src;
  dst->pats = NULL;
  dst->npats = 0;
  if (!src->npats) return 0;
  dst->pats = dyna_calloc(DYNA_ACL_PATS_MAX, sizeof(*dst->pats));
  if (!dst->pats) return -1;
  for (size_t i = 0; i < src->npats; i++) {
    dst->pats[i].p = dyna_malloc(src->pats[i].len + 1);
    if (!dst->pats[i].p) { user_free(dst); return -1; }
    memcpy(dst->pats[i].p, src->pats[i].p, src->pats[i].len + 1);
    dst->pats[i].len = src->pats[i].len;
    dst->npats++;
  }
  return 0;
}

static void set_all_cmds(const dyna_acl_t *acl, dyna_acl_user_t *u, int allow) {
  memset(u->cmds, allow ? 0xff : 0, sizeof(u->cmds));
  (void)acl;
  snprintf(u->rules, sizeof(u->rules), "%s", allow ? "+@all" : "-@all");
}

static void user_new(const dyna_acl_t *acl, dyna_acl_user_t *u, const char *name, size_t len) {
  memset(u, 0, sizeof(*u));
  memcpy(u->name, name, len);
  u->name[len] = 0;
  set_all_cmds(acl, u, 0);
}

int dyna_acl_init(dyna_acl_t *acl, const dyna_acl_table_t *t) {
  memset(acl, 0, sizeof(*acl));
  if (t->nrows > DYNA_ACL_ROWS_MAX) return -1;
  acl->users = dyna_calloc(DYNA_ACL_USERS_MAX, sizeof(*acl->users));
  if (!acl->users) return -1;
  acl->t = t;
  dyna_acl_user_t *d = &acl->users[0];
  user_new(acl, d, "default", 7);
  d->on = 1;
  d->nopass = 1;
  d->allkeys = 1;
  d->allchannels = 1;
  set_all_cmds(acl, d, 1);
  acl->nusers = 1;
  return 0;
}

void dyna_acl_free(dyna_acl_t *acl) {
  for (size_t i = 0; i < acl->nusers; i++) user_free(&acl->users[i]);
  dyna_free(acl->users);
  memset(acl, 0, sizeof(*acl));
}

/* ---------- rules ---------- */

static int fail(char *err, size_t errlen, const char *rule, size_t len, const char *why) {
  snprintf(err, errlen, "rule '%.*s': %s", (int)(len > 128 ? 128 : len), rule, why);
  return -1;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* 64 hex digits into a SHA-256; 0 or -1. */
static int parse_hash(const char *p, size_t len, uint8_t out[DYNA_ACL_SHA256_LEN]) {
  if (len != 2 * DYNA_ACL_SHA256_LEN) return -1;
  for (size_t i = 0; i < DYNA_ACL_SHA256_LEN; i++) {
    int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static long find_hash(const dyna_acl_user_t *u, const uint8_t h[DYNA_ACL_SHA256_LEN]) {
  for (size_t i = 0; i < u->npass; i++)
    if (!memcmp(u->pass[i], h, DYNA_ACL_SHA256_LEN)) return (long)i;
  return -1;
}

static int add_hash(dyna_acl_user_t *u, const uint8_t h[DYNA_ACL_SHA256_LEN]) {
  u->nopass = 0;
  if (find_hash(u, h) >= 0) return 0;
  if (u->npass == DYNA_ACL_PASS_MAX) return -1;
  memcpy(u->pass[u->npass++], h, DYNA_ACL_SHA256_LEN);
  return 0;
}

/* Removes h; -1 when u has no such password (Redis refuses it too). */
static int del_hash(dyna_acl_user_t *u, const uint8_t h[DYNA_ACL_SHA256_LEN]) {
  long i = find_hash(u, h);
  if (i < 0) return -1;
  memmove(u->pass[i], u->pass[i + 1], (u->npass - (size_t)i - 1) * DYNA_ACL_SHA256_LEN);
  u->npass--;
  return 0;
}

static int add_pattern(dyna_acl_user_t *u, const char *p, size_t len) {
  if (len == 1 && p[0] == '*') {
    u->allkeys = 1;
    return 0;
  }
  for (size_t i = 0; i < u->npats; i++)
    if (u->pats[i].len == len && !memcmp(u->pats[i].p, p, len)) return 0;
  if (u->npats == DYNA_ACL_PATS_MAX) return -1;
  if (!u->pats && !(u->pats = dyna_calloc(DYNA_ACL_PATS_MAX, sizeof(*u->pats)))) return -1;
  char *copy = dyna_malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, p, len);
  copy[len] = 0;
  u->pats[u->npats].p = copy;
  u->pats[u->npats].len = len;
  u->npats++;
  return 0;
}

static void set_row(dyna_acl_user_t *u, size_t row, int allow) {
  if (allow) u->cmds[row / 8] |= (uint8_t)(1u << (row % 8));
  else u->cmds[row / 8] &= (uint8_t)~(1u << (row % 8));
}

int dyna_acl_cat_find(const dyna_acl_table_t *t, const char *name, size_t len) {
  for (unsigned b = 0; b < t->ncats; b++)
    if (t->cat_names[b] && strlen(t->cat_names[b]) == len && !strncasecmp(t->cat_names[b], name, len))
      return (int)b;
  return -1;
}

static long find_row(const dyna_acl_table_t *t, const char *name, size_t len) {
  for (size_t i = 0; i < t->nrows; i++)
    if (strlen(t->names[i]) == len && !strncasecmp(t->names[i], name, len)) return (long)i;
  return -1;
}

/* Appends " rule" (lowercased) to u->rules; -1 when it does not fit. */
static int note_rule(dyna_acl_user_t *u, const char *rule, size_t len) {
  size_t n = strlen(u->rules);
  if (n + 1 + len + 1 > sizeof(u->rules)) return -1;
  u->rules[n++] = ' ';
  for (size_t i = 0; i < len; i++) u->rules[n++] = (char)tolower((unsigned char)rule[i]);
  u->rules[n] = 0;
  return 0;
}

/* +cmd -cmd +cmd|sub -cmd|sub +@cat -@cat: 0 or -1 with err. */
static int cmd_rule(const dyna_acl_t *acl, dyna_acl_user_t *u, const char *w, size_t len, char *err, size_t errlen) {
  const dyna_acl_table_t *t = acl->t;
  int allow = w[0] == '+';
  const char *name = w + 1;
  size_t nlen = len - 1;
  if (nlen && name[0] == '@') {
    if (nlen == 4 && !strncasecmp(name + 1, "all", 3)) {
      set_all_cmds(acl, u, allow);
      return 0;
    }
    int b = dyna_acl_cat_find(t, name + 1, nlen - 1);
    if (b < 0) return fail(err, errlen, w, len, "unknown command category");
    for (size_t i = 0; i < t->nrows; i++)
      if (t->cats[i] & (1u << b)) set_row(u, i, allow);
  } else {
    long row = find_row(t, name, nlen);
    if (row < 0) return fail(err, errlen, w, len, "unknown command");
    set_row(u, (size_t)row, allow);
    for (size_t i = 0; i < t->nrows; i++) /* a container: every subcommand */
      if (t->parent[i] == row) set_row(u, i, allow);
  }
  if (note_rule(u, w, len)) return fail(err, errlen, w, len, "too many command rules");
  return 0;
}

static int word_is(const char *w, size_t len, const char *s) { return strlen(s) == len && !strncasecmp(w, s, len); }

/* One rule applied to u; 0 or -1 with err. */
static int apply_rule(const dyna_acl_t *acl, dyna_acl_user_t *u, const char *w, size_t len, char *err,
                      size_t errlen) {
  uint8_t h[DYNA_ACL_SHA256_LEN];
  if (word_is(w, len, "on")) u->on = 1;
  else if (word_is(w, len, "off")) u->on = 0;
  else if (word_is(w, len, "nopass")) { u->nopass = 1; u->npass = 0; }
  else if (word_is(w, len, "resetpass")) { u->nopass = 0; u->npass = 0; }
  else if (word_is(w, len, "allkeys")) u->allkeys = 1;
  else if (word_is(w, len, "resetkeys")) { user_free(u); u->allkeys = 0; }
  else if (word_is(w, len, "allchannels")) u->allchannels = 1;
  else if (word_is(w, len, "resetchannels")) u->allchannels = 0;
  else if (word_is(w, len, "allcommands")) set_all_cmds(acl, u, 1);
  else if (word_is(w, len, "nocommands")) set_all_cmds(acl, u, 0);
  else if (word_is(w, len, "reset")) {
    user_free(u);
    u->nopass = 0;
    u->npass = 0;
    u->allkeys = 0;
    u->allchannels = 0;
    u->on = 0;
    set_all_cmds(acl, u, 0);
  } else if (w[0] == '>' || w[0] == '<') {
    dyna_acl_sha256((const uint8_t *)w + 1, len - 1, h);
    if (w[0] == '>' && add_hash(u, h)) return fail(err, errlen, ">...", 4, "too many passwords");
    if (w[0] == '<' && del_hash(u, h)) return fail(err, errlen, "<...", 4, "no such password");
  } else if (w[0] == '#' || w[0] == '!') {
    if (parse_hash(w + 1, len - 1, h))
      return fail(err, errlen, w, len, "the hash must be 64 hexadecimal digits (SHA-256)");
    if (w[0] == '#' && add_hash(u, h)) return fail(err, errlen, w, len, "too many passwords");
    if (w[0] == '!' && del_hash(u, h)) return fail(err, errlen, w, len, "no such password");
  } else if (w[0] == '~') {
    if (len - 1 > DYNA_ACL_PAT_LEN_MAX) return fail(err, errlen, w, len, "key pattern too long");
    if (add_pattern(u, w + 1, len - 1)) return fail(err, errlen, w, len, "too many key patterns");
  } else if (w[0] == '&') {
    /* channels: Dyna has no pub/sub; accepted so that Redis users' lines load */
    if (len == 2 && w[1] == '*') u->allchannels = 1;
  } else if ((w[0] == '+' || w[0] == '-') && len > 1) {
    return cmd_rule(acl, u, w, len, err, errlen);
  } else if (w[0] == '%' || w[0] == '(' || word_is(w, len, "clearselectors")) {
    return fail(err, errlen, w, len, "key permissions and selectors are not supported");
  } else {
    return fail(err, errlen, w, len, "syntax error");
  }
  return 0;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

int dyna_acl_setuser(dyna_acl_t *acl, const char *line, size_t len, char *err, size_t errlen) {
  size_t i = 0;
  while (i < len && is_space(line[i])) i++;
  size_t n0 = i;
  while (i < len && !is_space(line[i])) i++;
  size_t nlen = i - n0;
  if (!nlen) return fail(err, errlen, "", 0, "a user line starts with the user's name");
  if (nlen > DYNA_ACL_NAME_MAX) return fail(err, errlen, line + n0, nlen, "user name too long");
  for (size_t k = n0; k < n0 + nlen; k++)
    if ((unsigned char)line[k] <= ' ' || (unsigned char)line[k] > '~')
      return fail(err, errlen, line + n0, nlen, "user names are printable bytes without spaces");
  const dyna_acl_user_t *old = dyna_acl_find(acl, (const uint8_t *)line + n0, nlen);
  if (!old && acl->nusers == DYNA_ACL_USERS_MAX) return fail(err, errlen, line + n0, nlen, "too many users");
  dyna_acl_user_t u;
  if (old) {
    if (user_copy(&u, old)) return fail(err, errlen, line + n0, nlen, "out of memory");
  } else {
    user_new(acl, &u, line + n0, nlen);
  }
  for (;;) {
    while (i < len && is_space(line[i])) i++;
    if (i == len) break;
    size_t w0 = i;
    while (i < len && !is_space(line[i])) i++;
    if (apply_rule(acl, &u, line + w0, i - w0, err, errlen)) {
      user_free(&u);
      return -1;
    }
  }
  if (old) {
    dyna_acl_user_t *slot = &acl->users[old - acl->users];
    user_free(slot);
    *slot = u;
  } else {
    acl->users[acl->nusers++] = u;
  }
  return 0;
}

int dyna_acl_requirepass(dyna_acl_t *acl, const char *pass) {
  dyna_acl_user_t *d = &acl->users[0]; /* "default": created first, never removed */
  DYNA_ASSERT(acl->nusers > 0 && !strcmp(d->name, "default"), "acl without its default user");
  size_t n = strlen(pass);
  d->npass = 0;
  d->nopass = n == 0;
  if (!n) return 0;
  uint8_t h[DYNA_ACL_SHA256_LEN];
  dyna_acl_sha256((const uint8_t *)pass, n, h); /* any byte, spaces included */
  return add_hash(d, h);
}

/* ---------- checks ---------- */

const dyna_acl_user_t *dyna_acl_find(const dyna_acl_t *acl, const uint8_t *name, size_t len) {
  for (size_t i = 0; i < acl->nusers; i++)
    if (strlen(acl->users[i].name) == len && !memcmp(acl->users[i].name, name, len)) return &acl->users[i];
  return NULL;
}

int dyna_acl_check_pass(const dyna_acl_user_t *u, const uint8_t *pass, size_t len) {
  uint8_t h[DYNA_ACL_SHA256_LEN];
  dyna_acl_sha256(pass, len, h);
  if (!u || !u->on) return 0;
  if (u->nopass) return 1;
  int ok = 0;
  for (size_t i = 0; i < u->npass; i++) ok |= CRYPTO_memcmp(u->pass[i], h, DYNA_ACL_SHA256_LEN) == 0;
  return ok;
}

int dyna_acl_cmd_allowed(const dyna_acl_user_t *u, size_t row) {
  DYNA_ASSERT(row < DYNA_ACL_ROWS_MAX, "row %zu", row);
  return (u->cmds[row / 8] >> (row % 8)) & 1;
}

int dyna_acl_key_allowed(const dyna_acl_user_t *u, const uint8_t *key, size_t len) {
  if (u->allkeys) return 1;
  for (size_t i = 0; i < u->npats; i++)
    if (dyna_glob_match(u->pats[i].p, u->pats[i].len, (const char *)key, len, 0)) return 1;
  return 0;
}

/* Appends s to out (at *n, cut at cap - 1), counting the whole length in *n. */
static void put(char *out, size_t cap, size_t *n, const char *s) {
  size_t k = strlen(s);
  if (*n < cap) {
    size_t room = cap - 1 - *n;
    memcpy(out + *n, s, k < room ? k : room);
    out[*n + (k < room ? k : room)] = 0;
  }
  *n += k;
}

size_t dyna_acl_describe(const dyna_acl_user_t *u, char *out, size_t cap) {
  size_t n = 0;
  char hex[2 * DYNA_ACL_SHA256_LEN + 3];
  if (cap) out[0] = 0;
  put(out, cap, &n, "user ");
  put(out, cap, &n, u->name);
  put(out, cap, &n, u->on ? " on" : " off");
  if (u->nopass) put(out, cap, &n, " nopass");
  for (size_t i = 0; i < u->npass; i++) {
    hex[0] = ' ';
    hex[1] = '#';
    for (size_t k = 0; k < DYNA_ACL_SHA256_LEN; k++) snprintf(hex + 2 + 2 * k, 3, "%02x", u->pass[i][k]);
    put(out, cap, &n, hex);
  }
  if (u->allkeys) put(out, cap, &n, " ~*");
  for (size_t i = 0; i < u->npats; i++) {
    put(out, cap, &n, " ~");
    put(out, cap, &n, u->pats[i].p);
  }
  put(out, cap, &n, u->allchannels ? " &*" : " resetchannels");
  put(out, cap, &n, " ");
  put(out, cap, &n, u->rules);
  return n;
}
