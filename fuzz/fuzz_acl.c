/* fuzz_acl.c: libFuzzer target for the ACL rule parser (runtime/acl.c), which reads the
 * "user" lines of dynad's configuration file.
 *
 * The input is split into lines, each applied with dyna_acl_setuser to one acl over a
 * small command table of its own. Properties, checked after every line:
 *   all or none   a refused line leaves every user exactly as it was (their ACL LIST
 *                 lines compare equal) and adds none; an accepted one leaves its user;
 *   round trip    a user's ACL LIST line, replayed as "name reset <its rules>" on a fresh
 *                 acl, makes the same user (when the input has no NUL byte, which a
 *                 description cannot show);
 *   bounds        describing never writes past the buffer and says the length it needed.
 * Any broken property traps. */
#include "runtime/acl.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                \
  do {                          \
    if (!(x)) __builtin_trap(); \
  } while (0)

static const char *const names[] = {"get", "set", "config", "config|get", "config|set", "dyna.local", "ping"};
static const uint32_t cats[] = {3, 2, 0, 4, 4, 5, 8};
static const int32_t parent[] = {-1, -1, -1, 2, 2, -1, -1};
static const char *const cat_names[] = {"read", "write", "admin", "fast"};
static const dyna_acl_table_t table = {7, names, cats, parent, cat_names, 4};

#define DESC_MAX 16384

/* Every user described, end to end, into out (NUL-separated); its length. */
static size_t describe_all(const dyna_acl_t *acl, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < acl->nusers; i++) {
    size_t need = dyna_acl_describe(&acl->users[i], NULL, 0);
    CHECK(n + need + 1 <= DESC_MAX * 4);
    size_t got = dyna_acl_describe(&acl->users[i], out + n, need + 1);
    CHECK(got == need && strlen(out + n) == need);
    n += need + 1;
  }
  return n;
}

static void round_trip(const dyna_acl_user_t *u) {
  static char desc[DESC_MAX], line[DESC_MAX + 16], again[DESC_MAX];
  size_t n = dyna_acl_describe(u, desc, sizeof(desc));
  if (n >= sizeof(desc)) return;
  /* "user NAME rest" -> "NAME reset rest" */
  const char *name = desc + 5, *rest = strchr(name, ' ');
  CHECK(rest != NULL);
  size_t nlen = (size_t)(rest - name);
  memcpy(line, name, nlen);
  memcpy(line + nlen, " reset", 6);
  strcpy(line + nlen + 6, rest);
  dyna_acl_t fresh;
  CHECK(dyna_acl_init(&fresh, &table) == 0);
  char err[256];
  CHECK(dyna_acl_setuser(&fresh, line, strlen(line), err, sizeof(err)) == 0);
  const dyna_acl_user_t *v = dyna_acl_find(&fresh, (const uint8_t *)u->name, strlen(u->name));
  CHECK(v != NULL);
  dyna_acl_describe(v, again, sizeof(again));
  CHECK(strcmp(desc, again) == 0);
  /* the same user, not only the same text */
  CHECK(u->on == v->on && u->nopass == v->nopass && u->npass == v->npass && u->allkeys == v->allkeys &&
        u->allchannels == v->allchannels && u->npats == v->npats);
  CHECK(memcmp(u->pass, v->pass, u->npass * sizeof(u->pass[0])) == 0);
  CHECK(memcmp(u->cmds, v->cmds, sizeof(u->cmds)) == 0);
  for (size_t i = 0; i < u->npats; i++)
    CHECK(u->pats[i].len == v->pats[i].len && memcmp(u->pats[i].p, v->pats[i].p, u->pats[i].len) == 0);
  dyna_acl_free(&fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char before[DESC_MAX * 4], after[DESC_MAX * 4];
  dyna_acl_t acl;
  CHECK(dyna_acl_init(&acl, &table) == 0);
  size_t off = 0;
  int nul = memchr(data, 0, size) != NULL; /* a description cannot show a NUL byte */
  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    const char *line = (const char *)data + off;
    size_t n0 = describe_all(&acl, before), users0 = acl.nusers;
    char err[256];
    err[0] = 0;
    int rc = dyna_acl_setuser(&acl, line, len, err, sizeof(err));
    if (rc) {
      CHECK(err[0] != 0);
      CHECK(acl.nusers == users0);
      size_t n1 = describe_all(&acl, after);
      CHECK(n0 == n1 && memcmp(before, after, n0) == 0);
    } else {
      CHECK(acl.nusers == users0 || acl.nusers == users0 + 1);
      if (!nul)
        for (size_t i = 0; i < acl.nusers; i++) round_trip(&acl.users[i]);
    }
    off += len + 1;
  }
  dyna_acl_free(&acl);
  return 0;
}
