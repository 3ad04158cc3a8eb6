/* bugs.c: names of the deliberate bugs (see bugs.h). */
#include "core/bugs.h"
#include "core/node.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>

static const struct { const char *name; uint32_t bit; } BUGS[] = {
  {"early-ack", DYNA_BUG_EARLY_ACK},
  {"overwrite", DYNA_BUG_OVERWRITE},
  {"no-repair", DYNA_BUG_NO_REPAIR},
  {"undurable-ack", DYNA_BUG_UNDURABLE_ACK},
  {"keep-incarnation", DYNA_BUG_KEEP_INCARNATION},
  {"gate-forget-loss", DYNA_BUG_GATE_FORGET_LOSS},
  {"wall-stamp", DYNA_BUG_WALL_STAMP},
  {"counter-sum", DYNA_BUG_COUNTER_SUM},
  {"set-remove-wins", DYNA_BUG_SET_REMOVE_WINS},
  {"expiry-no-merge", DYNA_BUG_EXPIRY_NO_MERGE},
  {"typed-no-merge", DYNA_BUG_TYPED_NO_MERGE},
  {"list-dup", DYNA_BUG_LIST_DUP},
  {"del-forgets", DYNA_BUG_DEL_FORGETS},
  {"no-peer-back", DYNA_BUG_NO_PEER_BACK},
  {"replace-keeps-old", DYNA_BUG_REPLACE_KEEPS_OLD},
  {"replace-same-id", DYNA_BUG_REPLACE_SAME_ID},
  {"local-remote-ack", DYNA_BUG_LOCAL_REMOTE_ACK},
  {"fd-unasked-silence", DYNA_BUG_FD_UNASKED_SILENCE},
  {"fd-no-hearsay", DYNA_BUG_FD_NO_HEARSAY},
  {"admit-off", DYNA_BUG_ADMIT_OFF},
  {"handoff-trust", DYNA_BUG_HANDOFF_TRUST},
  {"each-one-site", DYNA_BUG_EACH_ONE_SITE},
};
#define NBUGS (sizeof(BUGS) / sizeof(BUGS[0]))

int dyna_bugs_parse(const char *list, uint32_t *out) {
  *out = 0;
  uint32_t bits = 0;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int found = len == 4 && !memcmp(p, "none", 4);
    for (size_t i = 0; i < NBUGS && !found; i++) {
      if (strlen(BUGS[i].name) == len && !memcmp(BUGS[i].name, p, len)) {
        bits |= BUGS[i].bit;
        found = 1;
      }
    }
    if (!found) return DYNA_EINVAL;
    if (!end) break;
    p = end + 1;
  }
  *out = bits;
  return 0;
}

void dyna_bugs_format(uint32_t bits, char *out, size_t cap) {
  if (!cap) return;
  out[0] = 0;
  size_t l = 0;
  if (!bits) l = (size_t)snprintf(out, cap, "none");
  for (size_t i = 0; i < NBUGS && l < cap; i++)
    if (bits & BUGS[i].bit) l += (size_t)snprintf(out + l, cap - l, "%s%s", l ? "," : "", BUGS[i].name);
}

void dyna_bugs_list(const char *sep, char *out, size_t cap) {
  if (!cap) return;
  out[0] = 0;
  size_t l = 0;
  for (size_t i = 0; i < NBUGS && l < cap; i++)
    l += (size_t)snprintf(out + l, cap - l, "%s%s", i ? sep : "", BUGS[i].name);
}
