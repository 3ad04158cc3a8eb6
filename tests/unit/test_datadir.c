/* test_datadir.c: the data directory (runtime/datadir.c) on a real LMDB store: a new
 * directory gets a node id and the placement marker (Redis Cluster slots); reopening
 * keeps the id; a directory written before slots (a node id, no marker) and one with an
 * unknown marker are refused with a clear error, and left exactly as they were. */
#include "runtime/datadir.h"
#include "store/lmdb.h"
#include "util/err.h"
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const uint8_t PLACEMENT[] = "placement";

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 256];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Opens the directory's store directly and sets the placement marker to v (v < 0:
 * deletes it, as a dynad of before slots left it). */
static void set_marker(const dyna_config_t *cfg, int v) {
  dyna_store_t *st;
  assert_int_equal(dyna_store_lmdb_open(cfg->data, cfg->sync, cfg->map_size_mb << 20, &st), 0);
  uint8_t b = (uint8_t)v;
  if (v < 0) assert_int_equal(dyna_store_del(st, DYNA_SPACE_META, PLACEMENT, sizeof(PLACEMENT) - 1), 0);
  else assert_int_equal(dyna_store_put(st, DYNA_SPACE_META, PLACEMENT, sizeof(PLACEMENT) - 1, &b, 1), 0);
  assert_int_equal(dyna_store_commit(st), 0);
  dyna_store_close(st);
}

/* The marker as stored: its byte, or -1 when absent. */
static int get_marker(const dyna_config_t *cfg) {
  dyna_store_t *st;
  assert_int_equal(dyna_store_lmdb_open(cfg->data, cfg->sync, cfg->map_size_mb << 20, &st), 0);
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(st, DYNA_SPACE_META, PLACEMENT, sizeof(PLACEMENT) - 1, &b);
  int v = rc == DYNA_ENOTFOUND ? -1 : b.data[0];
  assert_true(rc == 0 || rc == DYNA_ENOTFOUND);
  dyna_buf_free(&b);
  dyna_store_close(st);
  return v;
}

static void test_placement_marker(void **state) {
  (void)state;
  dyna_config_t cfg;
  dyna_config_default(&cfg);
  cfg.map_size_mb = 64;
  const char *tmp = getenv("TMPDIR");
  snprintf(cfg.data, sizeof(cfg.data), "%s/dyna-datadir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(cfg.data));
  char err[512];
  dyna_store_t *st;
  uint64_t id1 = 0, id2 = 0;

  /* new: an id and the slots marker */
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id1, err, sizeof(err)), 0);
  assert_true(id1 != 0);
  dyna_store_close(st);
  assert_int_equal(get_marker(&cfg), 2);
  /* reopened: the same id */
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id2, err, sizeof(err)), 0);
  assert_true(id2 == id1);
  dyna_store_close(st);

  /* written before slots: a node id and no marker. Refused, named, unchanged. */
  set_marker(&cfg, -1);
  st = (dyna_store_t *)1;
  err[0] = 0;
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id2, err, sizeof(err)), -1);
  assert_null(st);
  print_message("refused: %s\n", err);
  assert_non_null(strstr(err, cfg.data));
  assert_non_null(strstr(err, "xxHash3"));
  assert_non_null(strstr(err, "Start with an empty data directory"));
  assert_int_equal(get_marker(&cfg), -1); /* the refusal wrote nothing */
  /* twice: still refused (the refusal did not mark it new) */
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id2, err, sizeof(err)), -1);

  /* an unknown marker (a newer dynad's): refused */
  set_marker(&cfg, 9);
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id2, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unknown key placement (marker 9)"));
  assert_int_equal(get_marker(&cfg), 9);

  /* the slots marker again: opens, with the id it always had */
  set_marker(&cfg, 2);
  assert_int_equal(dyna_datadir_open(&cfg, &st, &id2, err, sizeof(err)), 0);
  assert_true(id2 == id1);
  dyna_store_close(st);
  rm_dir(cfg.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_placement_marker),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
