/* test_acl.c: the ACL rule parser and matcher (runtime/acl.c) over a small command table
 * of its own: users and their rules, passwords kept as SHA-256, key patterns, commands
 * and categories, containers and subcommands, and lines that must change nothing. */
#include "runtime/acl.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

enum { C_READ = 1u << 0, C_WRITE = 1u << 1, C_ADMIN = 1u << 2, C_FAST = 1u << 3 };
enum { R_GET, R_SET, R_CONFIG, R_CONFIG_GET, R_CONFIG_SET, R_LOCAL, R_PING, NROWS };
static const char *const names[NROWS] = {"get", "set", "config", "config|get", "config|set", "dyna.local", "ping"};
static const uint32_t cats[NROWS] = {C_READ | C_FAST, C_WRITE, 0, C_ADMIN, C_ADMIN, C_READ | C_ADMIN, C_FAST};
static const int32_t parent[NROWS] = {-1, -1, -1, R_CONFIG, R_CONFIG, -1, -1};
static const char *const cat_names[4] = {"read", "write", "admin", "fast"};
static const dyna_acl_table_t table = {NROWS, names, cats, parent, cat_names, 4};

static dyna_acl_t acl;

static int setup(void **state) {
  (void)state;
  return dyna_acl_init(&acl, &table);
}
static int teardown(void **state) {
  (void)state;
  dyna_acl_free(&acl);
  return 0;
}

static int set(const char *line) {
  char err[256];
  return dyna_acl_setuser(&acl, line, strlen(line), err, sizeof(err));
}
static const dyna_acl_user_t *user(const char *name) {
  return dyna_acl_find(&acl, (const uint8_t *)name, strlen(name));
}
static int pass_ok(const char *name, const char *pw) {
  return dyna_acl_check_pass(user(name), (const uint8_t *)pw, strlen(pw));
}
static int key_ok(const char *name, const char *key) {
  return dyna_acl_key_allowed(user(name), (const uint8_t *)key, strlen(key));
}
static int cmd_ok(const char *name, size_t row) { return dyna_acl_cmd_allowed(user(name), row); }

static void test_default_user(void **state) {
  (void)state;
  assert_non_null(user("default"));
  assert_true(pass_ok("default", "anything")); /* nopass */
  for (size_t r = 0; r < NROWS; r++) assert_true(cmd_ok("default", r));
  assert_true(key_ok("default", "any:key"));
  char line[256];
  dyna_acl_describe(user("default"), line, sizeof(line));
  assert_string_equal(line, "user default on nopass ~* &* +@all");
  assert_int_equal(dyna_acl_requirepass(&acl, "secret"), 0);
  assert_false(pass_ok("default", "anything"));
  assert_true(pass_ok("default", "secret"));
  assert_int_equal(dyna_acl_requirepass(&acl, "two words"), 0); /* any byte, spaces too */
  assert_false(pass_ok("default", "secret"));
  assert_true(pass_ok("default", "two words"));
  assert_int_equal(dyna_acl_requirepass(&acl, ""), 0);
  assert_true(pass_ok("default", "whatever"));
}

static void test_passwords(void **state) {
  (void)state;
  assert_int_equal(set("alice >one"), 0);
  assert_false(pass_ok("alice", "one")); /* a new user is off */
  assert_int_equal(set("alice on"), 0);
  assert_true(pass_ok("alice", "one"));
  assert_false(pass_ok("alice", "One"));
  assert_false(pass_ok("alice", ""));
  assert_false(pass_ok("nobody", "one"));
  /* SHA-256("two"), as Redis's #<hash> */
  assert_int_equal(set("alice #3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3"), 0);
  assert_true(pass_ok("alice", "two"));
  assert_int_equal(set("alice <one"), 0);
  assert_false(pass_ok("alice", "one"));
  assert_true(pass_ok("alice", "two"));
  assert_int_not_equal(set("alice <never"), 0); /* no such password */
  assert_int_equal(set("alice !3FC4CCFE745870E2C0D99F71F30FF0656C8DEDD41CC1D7D3D376B0DBE685E2F3"), 0);
  assert_false(pass_ok("alice", "two"));
  assert_int_equal(set("alice nopass"), 0);
  assert_true(pass_ok("alice", "x"));
  assert_int_equal(set("alice resetpass"), 0);
  assert_false(pass_ok("alice", "x"));
  assert_int_equal(set("alice >three off"), 0);
  assert_false(pass_ok("alice", "three"));
  /* the password is kept as its hash only */
  char line[512];
  assert_int_equal(set("bob on >hunter2"), 0);
  dyna_acl_describe(user("bob"), line, sizeof(line));
  assert_null(strstr(line, "hunter2"));
  assert_non_null(strstr(line, "#f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"));
}

static void test_commands_and_categories(void **state) {
  (void)state;
  assert_int_equal(set("carol on nopass +@read"), 0);
  assert_true(cmd_ok("carol", R_GET));
  assert_true(cmd_ok("carol", R_LOCAL));
  assert_false(cmd_ok("carol", R_SET));
  assert_false(cmd_ok("carol", R_PING));
  assert_int_equal(set("carol -@admin +ping"), 0);
  assert_false(cmd_ok("carol", R_LOCAL));
  assert_true(cmd_ok("carol", R_GET));
  assert_true(cmd_ok("carol", R_PING));
  /* a container: every subcommand; a subcommand alone */
  assert_int_equal(set("carol +config"), 0);
  assert_true(cmd_ok("carol", R_CONFIG_GET));
  assert_true(cmd_ok("carol", R_CONFIG_SET));
  assert_int_equal(set("carol -config|set"), 0);
  assert_true(cmd_ok("carol", R_CONFIG_GET));
  assert_false(cmd_ok("carol", R_CONFIG_SET));
  char line[256];
  dyna_acl_describe(user("carol"), line, sizeof(line));
  assert_string_equal(line, "user carol on nopass resetchannels -@all +@read -@admin +ping +config -config|set");
  assert_int_equal(set("carol allcommands -@ADMIN"), 0); /* categories any case */
  assert_true(cmd_ok("carol", R_SET));
  assert_false(cmd_ok("carol", R_CONFIG_GET));
  assert_int_equal(set("carol nocommands"), 0);
  for (size_t r = 0; r < NROWS; r++) assert_false(cmd_ok("carol", r));
  assert_int_equal(set("carol +@all"), 0);
  for (size_t r = 0; r < NROWS; r++) assert_true(cmd_ok("carol", r));
  assert_int_equal(set("carol reset"), 0);
  for (size_t r = 0; r < NROWS; r++) assert_false(cmd_ok("carol", r));
  assert_false(pass_ok("carol", "x"));
}

static void test_keys(void **state) {
  (void)state;
  assert_int_equal(set("dave on nopass ~foo:* ~bar"), 0);
  assert_true(key_ok("dave", "foo:1"));
  assert_true(key_ok("dave", "bar"));
  assert_false(key_ok("dave", "bar2"));
  assert_false(key_ok("dave", "FOO:1")); /* case-sensitive, as Redis */
  assert_false(key_ok("dave", ""));
  assert_int_equal(set("dave resetkeys ~b?z"), 0);
  assert_false(key_ok("dave", "foo:1"));
  assert_true(key_ok("dave", "baz"));
  assert_int_equal(set("dave allkeys"), 0);
  assert_true(key_ok("dave", "anything"));
  assert_int_equal(set("dave resetkeys"), 0);
  assert_false(key_ok("dave", "anything"));
  assert_int_equal(set("dave ~*"), 0);
  assert_true(key_ok("dave", "anything"));
  char line[256];
  assert_int_equal(set("erin on nopass ~a:* &* +get"), 0);
  dyna_acl_describe(user("erin"), line, sizeof(line));
  assert_string_equal(line, "user erin on nopass ~a:* &* -@all +get");
  /* a small buffer: cut, NUL-terminated, the whole length returned */
  char small[10];
  assert_int_equal(dyna_acl_describe(user("erin"), small, sizeof(small)), strlen(line));
  assert_string_equal(small, "user erin");
}

/* A bad line changes nothing: not the rules before the bad one, not a new user. */
static void test_bad_lines_change_nothing(void **state) {
  (void)state;
  static const char *const bad[] = {
      "frank on +nosuch",          "frank on +@nosuch",   "frank on bogus",
      "frank on #123",             "frank on #zz4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3",
      "frank on %R~foo",           "frank on (~foo +get)", "frank on clearselectors",
      "",                          "   ",                   "fr\x01nk on",
      "frank on +",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256] = "";
    assert_int_not_equal(dyna_acl_setuser(&acl, bad[i], strlen(bad[i]), err, sizeof(err)), 0);
    assert_true(err[0] != 0);
    assert_null(user("frank"));
  }
  assert_int_equal(set("gina on >pw ~g:* +get"), 0);
  assert_int_not_equal(set("gina off resetpass resetkeys +set +nosuch"), 0);
  assert_true(pass_ok("gina", "pw"));
  assert_true(key_ok("gina", "g:1"));
  assert_false(cmd_ok("gina", R_SET));
  assert_int_equal(acl.nusers, 2);
  /* a long name, and too many users */
  char name[DYNA_ACL_NAME_MAX + 8];
  memset(name, 'n', sizeof(name) - 1);
  name[sizeof(name) - 1] = 0;
  assert_int_not_equal(set(name), 0);
  for (int i = 2; i < DYNA_ACL_USERS_MAX; i++) {
    char line[32];
    snprintf(line, sizeof(line), "u%d on", i);
    assert_int_equal(set(line), 0);
  }
  assert_int_not_equal(set("onetoomany on"), 0);
  assert_int_equal(set("u5 off"), 0); /* an existing user still takes rules */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_default_user, setup, teardown),
      cmocka_unit_test_setup_teardown(test_passwords, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commands_and_categories, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_lines_change_nothing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
