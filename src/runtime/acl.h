/* acl.h: dynad's users and their rules (Redis 7.0's ACL, the subset that fits Dyna): who
 * may log in with which password, which commands each user may run and which keys those
 * commands may name. Pure: no sockets, no clock, no files; SHA-256 from OpenSSL's
 * libcrypto. The runtime (cmd_auth.c) builds one dyna_acl_t from the configuration at
 * start and asks it on every command; the unit test and the fuzz target drive it with a
 * command table of their own.
 *
 * A user line is "name rule rule ...", each rule one of (as Redis 7.0 spells them):
 *   on | off                 the user may log in / may not
 *   >password  <password     add / remove a password (kept only as its SHA-256)
 *   #hex  !hex               add / remove a password given as its SHA-256 (64 hex digits)
 *   nopass                   any password logs in (the passwords are forgotten)
 *   resetpass                no password at all (and not nopass): nobody logs in
 *   ~pattern  allkeys        keys the user's commands may name (glob, case-sensitive); ~*
 *   resetkeys                no key pattern
 *   +cmd -cmd +cmd|sub -cmd|sub   allow / deny a command (a container: every subcommand)
 *   +@cat -@cat              allow / deny a category ("@read", "@admin", "@all")
 *   allcommands nocommands   +@all / -@all
 *   &pattern allchannels resetchannels   accepted and ignored (Dyna has no pub/sub)
 *   reset                    resetpass resetkeys resetchannels off -@all
 * Rules apply left to right; a line's rules apply to the user named (created "off", with
 * no password, no key and no command when new) all or none.
 *
 * Ownership: a dyna_acl_t owns its users; dyna_acl_free releases them. The table given
 * to dyna_acl_init is the caller's and must outlive the acl. */
#ifndef DYNA_RUNTIME_ACL_H
#define DYNA_RUNTIME_ACL_H
#include <stddef.h>
#include <stdint.h>

#define DYNA_ACL_NAME_MAX 64      /* longest user name */
#define DYNA_ACL_USERS_MAX 64     /* users of one acl, default included */
#define DYNA_ACL_PASS_MAX 16      /* passwords of one user */
#define DYNA_ACL_PATS_MAX 128     /* key patterns of one user */
#define DYNA_ACL_PAT_LEN_MAX 512  /* longest key pattern */
#define DYNA_ACL_ROWS_MAX 512     /* command-table rows an acl can describe */
#define DYNA_ACL_RULES_MAX 1024   /* the command rules of one user, as ACL LIST shows them */
#define DYNA_ACL_SHA256_LEN 32

/* The command table as the acl sees it: row i's name ("get", "config|get"), its category
 * bits, its container's row (-1 for a top-level row); the name of category bit b without
 * the '@' ("read"), NULL for an unused bit. */
typedef struct dyna_acl_table {
  size_t nrows;
  const char *const *names;
  const uint32_t *cats;
  const int32_t *parent;
  const char *const *cat_names;
  unsigned ncats;
} dyna_acl_table_t;

typedef struct dyna_acl_pat {
  char *p; /* owned, NUL-terminated */
  size_t len;
} dyna_acl_pat_t;

typedef struct dyna_acl_user {
  char name[DYNA_ACL_NAME_MAX + 1];
  int on;         /* may log in */
  int nopass;     /* any password logs in */
  uint8_t pass[DYNA_ACL_PASS_MAX][DYNA_ACL_SHA256_LEN]; /* SHA-256 of each password */
  size_t npass;
  int allkeys;    /* ~*: every key */
  int allchannels; /* shown by ACL LIST only */
  dyna_acl_pat_t *pats; /* owned array of npats */
  size_t npats;
  uint8_t cmds[DYNA_ACL_ROWS_MAX / 8]; /* bit i: row i allowed */
  char rules[DYNA_ACL_RULES_MAX];      /* the command rules, for ACL LIST ("-@all +@read") */
} dyna_acl_user_t;

typedef struct dyna_acl {
  const dyna_acl_table_t *t;
  dyna_acl_user_t *users; /* owned array of nusers (users[0] is "default") */
  size_t nusers;
} dyna_acl_t;

/* An acl with the user "default" alone, as Redis starts: on, nopass, ~*, &*, +@all.
 * 0, or -1 when memory is short or t has more than DYNA_ACL_ROWS_MAX rows (acl zeroed). */
int dyna_acl_init(dyna_acl_t *acl, const dyna_acl_table_t *t);
void dyna_acl_free(dyna_acl_t *acl);

/* Applies the user line (len bytes: "name rule ...", see above; spaces and tabs between
 * words) to the user it names, creating it when new. 0, or -1 with a one-line reason in
 * err ("rule '+nosuch': unknown command or category") and acl unchanged. Cost: O(words *
 * rows) at worst. */
int dyna_acl_setuser(dyna_acl_t *acl, const char *line, size_t len, char *err, size_t errlen);

/* Sets the default user's password as Redis's requirepass does: "" makes it nopass,
 * anything else (any bytes, spaces included) its one password, replacing the others.
 * Returns 0. */
int dyna_acl_requirepass(dyna_acl_t *acl, const char *pass);

/* The user named (len bytes), or NULL. */
const dyna_acl_user_t *dyna_acl_find(const dyna_acl_t *acl, const uint8_t *name, size_t len);

/* 1 when u is on and the password (len bytes) is one of its own (or u is nopass), else 0.
 * u may be NULL (no such user: 0, after the same hashing work). */
int dyna_acl_check_pass(const dyna_acl_user_t *u, const uint8_t *pass, size_t len);

/* 1 when u may run row (the row the command runs: a subcommand's own), else 0. */
int dyna_acl_cmd_allowed(const dyna_acl_user_t *u, size_t row);

/* 1 when u's commands may name the key (len bytes), else 0. */
int dyna_acl_key_allowed(const dyna_acl_user_t *u, const uint8_t *key, size_t len);

/* u as ACL LIST shows it ("user alice on #<sha256> ~foo:* resetchannels -@all +@read"),
 * cut to fit cap (NUL-terminated). Returns the length it needed. */
size_t dyna_acl_describe(const dyna_acl_user_t *u, char *out, size_t cap);

/* The category bit named (without '@', any case), or -1. */
int dyna_acl_cat_find(const dyna_acl_table_t *t, const char *name, size_t len);

/* SHA-256 of len bytes at p into out (the form passwords are kept in). */
void dyna_acl_sha256(const uint8_t *p, size_t len, uint8_t out[DYNA_ACL_SHA256_LEN]);

#endif
