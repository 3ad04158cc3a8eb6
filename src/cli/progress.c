/* progress.c: `dyna admin repair --wait` and `dyna admin leave --wait`: after the admin
 * command, poll the node once a second (INFO, DYNA.STATUS) and print one progress line
 * each time, with a bar, counts and the rate since the previous line, until the work is
 * done:
 *   repair  until no forced anti-entropy exchange is queued (INFO aae_partitions_queued);
 *   leave   until the node reads itself REMOVED, or stops answering (it shut down).
 * Uses only libdyna's public API (dyna_command). */
#include "cli/progress.h"
#include "cli/nodes.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The value of INFO field `key` in text, or -1 when absent. */
static long long info_field(const char *text, const char *key) {
  char pat[64];
  snprintf(pat, sizeof(pat), "\n%s:", key);
  const char *at = strstr(text, pat);
  return at ? atoll(at + strlen(pat)) : -1;
}

static void bar(long long done, long long total) {
  static const char full[] = "##############################", empty[] = "..............................";
  int width = 30, k = total > 0 ? (int)(width * (done < total ? done : total) / total) : width;
  if (k < 0) k = 0;
  printf("[%.*s%.*s]", k, full, width - k, empty);
}

static void pause_1s(void) {
  struct timespec ts = {1, 0};
  nanosleep(&ts, NULL);
}

int dyna_cli_wait_repair(dyna_client_t *c) {
  char *text = malloc(65536);
  if (!text) return DYNA_ENOMEM;
  long long total = -1, last_keys = -1;
  int rc;
  for (;;) {
    if ((rc = dyna_cli_info_text(c, text, 65536))) break;
    long long queued = info_field(text, "aae_partitions_queued"), keys = info_field(text, "aae_keys_repaired");
    if (queued < 0) { /* a node without the field: nothing to follow */
      printf("repair: this node does not report its progress\n");
      break;
    }
    if (total < 0) total = queued;
    printf("repair: ");
    bar(total - queued, total);
    printf(" %lld of %lld partitions exchanged, %lld keys repaired (%lld/s)\n", total - queued, total, keys,
           last_keys < 0 ? 0 : keys - last_keys);
    fflush(stdout);
    last_keys = keys;
    if (queued == 0) {
      printf("repair: done\n");
      break;
    }
    pause_1s();
  }
  free(text);
  return rc;
}

/* The node's own DYNA.STATUS row (by id): its status and partitions owned. */
static int own_row(dyna_client_t *c, const char *id, char *status, size_t cap, long long *owned) {
  dyna_reply_t *r;
  int rc = dyna_cli_ask(c, "DYNA.STATUS", &r);
  if (rc) return rc;
  snprintf(status, cap, "?");
  *owned = -1;
  for (size_t i = 0; i < r->n; i++) {
    const dyna_reply_t *row = &r->elem[i];
    if (row->type != DYNA_REPLY_ARRAY || row->n < 9 || !row->elem[1].str) continue;
    if (strcmp((const char *)row->elem[1].str, id)) continue;
    snprintf(status, cap, "%s", row->elem[4].str ? (const char *)row->elem[4].str : "?");
    *owned = row->elem[6].integer;
  }
  dyna_reply_free(r);
  return 0;
}

int dyna_cli_wait_leave(dyna_client_t *c) {
  char *text = malloc(65536);
  if (!text) return DYNA_ENOMEM;
  char id[32] = "", status[32];
  long long owned0 = -1, last_keys = -1, owned;
  int rc;
  for (;;) {
    if ((rc = dyna_cli_info_text(c, text, 65536))) break;
    const char *at = strstr(text, "\nnode_id:");
    if (at) snprintf(id, sizeof(id), "%.*s", (int)strcspn(at + 9, "\r\n"), at + 9);
    long long keys = info_field(text, "handoff_keys_sent");
    if ((rc = own_row(c, id, status, sizeof(status), &owned))) break;
    if (owned0 < 0) owned0 = owned;
    printf("leave: %s, ", status);
    bar(owned0 - owned, owned0);
    printf(" %lld of %lld partitions given up, %lld keys handed off (%lld/s)\n", owned0 - owned, owned0, keys,
           last_keys < 0 ? 0 : keys - last_keys);
    fflush(stdout);
    last_keys = keys;
    if (!strcmp(status, "removed")) {
      printf("leave: done (removed; the node may be stopped)\n");
      break;
    }
    pause_1s();
  }
  free(text);
  /* A node that finished leaving may shut down before our next question: that is done. */
  if (rc == DYNA_ECONN) {
    printf("leave: the node stopped answering (done)\n");
    rc = 0;
  }
  return rc;
}
