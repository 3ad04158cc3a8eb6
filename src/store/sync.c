/* sync.c: names of the store sync policies, for configuration and INFO. */
#include "util/err.h"
#include "store/store.h"
#include <string.h>

int dyna_sync_parse(const char *s, dyna_sync_t *out) {
  if (!strcmp(s, "always")) *out = DYNA_SYNC_ALWAYS;
  else if (!strcmp(s, "batch")) *out = DYNA_SYNC_BATCH;
  else if (!strcmp(s, "none")) *out = DYNA_SYNC_NONE;
  else return DYNA_EINVAL;
  return 0;
}

const char *dyna_sync_name(dyna_sync_t s) {
  switch (s) {
  case DYNA_SYNC_ALWAYS: return "always";
  case DYNA_SYNC_BATCH: return "batch";
  case DYNA_SYNC_NONE: return "none";
  }
  return "unknown";
}
