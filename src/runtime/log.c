/* log.c: timestamped log lines on stderr (see log.h). */
#include "runtime/log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static dyna_log_level_t min_level = DYNA_LOG_INFO;
static char node[64] = "-";

void dyna_log_set(dyna_log_level_t min, const char *node_name) {
  min_level = min;
  snprintf(node, sizeof(node), "%s", node_name ? node_name : "-");
}

static const char *level_names[] = {"debug", "info", "warn", "error"};

int dyna_log_parse(const char *s, dyna_log_level_t *out) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, level_names[i])) { *out = (dyna_log_level_t)i; return 0; }
  return -1;
}

const char *dyna_log_level_name(int level) {
  return level >= 0 && level < 4 ? level_names[level] : NULL;
}

void dyna_log(dyna_log_level_t lvl, const char *fmt, ...) {
  static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  if (lvl < min_level) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s.%03ldZ %s %s %s\n", when, ts.tv_nsec / 1000000, tags[lvl], node, msg);
}
