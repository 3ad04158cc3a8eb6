/* log.c: timestamped log lines on stderr, as text or JSON lines (see log.h). */
#include "runtime/log.h"
#include "util/json.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static dyna_log_level_t min_level = DYNA_LOG_INFO;
static char node[64] = "-";
static dyna_log_format_t format = DYNA_LOG_TEXT;

void dyna_log_set_format(dyna_log_format_t f) { format = f; }

const char *dyna_log_format_name(int f) { return f == DYNA_LOG_TEXT ? "text" : f == DYNA_LOG_JSON ? "json" : NULL; }

/* One JSON line: every string escaped (util/json.h), so a message holding a quote, a
 * control byte or bytes that are not UTF-8 still makes one valid line. */
static void log_json(const char *when, long ms, const char *level, const char *msg) {
  dyna_buf_t b = DYNA_BUF_INIT;
  char head[96];
  int n = snprintf(head, sizeof(head), "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"node\":\"", when, ms, level);
  dyna_buf_put(&b, head, (size_t)n);
  dyna_json_escape(&b, (const uint8_t *)node, strlen(node));
  dyna_buf_put(&b, "\",\"msg\":\"", 9);
  dyna_json_escape(&b, (const uint8_t *)msg, strlen(msg));
  dyna_buf_put(&b, "\"}\n", 3);
  if (!b.oom) fwrite(b.data, 1, b.len, stderr);
  else fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"(out of memory)\"}\n", when, ms, level);
  dyna_buf_free(&b);
}

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
  if (format == DYNA_LOG_JSON) log_json(when, ts.tv_nsec / 1000000, level_names[lvl], msg);
  else fprintf(stderr, "%s.%03ldZ %s %s %s\n", when, ts.tv_nsec / 1000000, tags[lvl], node, msg);
}
