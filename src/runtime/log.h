/* log.h: dynad's log lines on stderr, one per event: "<time> <LEVEL> <node> message", or
 * with --log-format json one JSON object per line: {"time","level","node","msg"}. */
#ifndef DYNA_LOG_H
#define DYNA_LOG_H

typedef enum { DYNA_LOG_DEBUG = 0, DYNA_LOG_INFO, DYNA_LOG_WARN, DYNA_LOG_ERROR } dyna_log_level_t;

void dyna_log_set(dyna_log_level_t min, const char *node_name);
/* --log-format: 0 text (the default), 1 JSON lines. */
typedef enum { DYNA_LOG_TEXT = 0, DYNA_LOG_JSON } dyna_log_format_t;
void dyna_log_set_format(dyna_log_format_t f);
/* The name of a format ("text", "json"), NULL past the last. */
const char *dyna_log_format_name(int f);
int dyna_log_parse(const char *s, dyna_log_level_t *out);
/* The name of a level ("debug" ...), NULL when level is none. */
const char *dyna_log_level_name(int level);
void dyna_log(dyna_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) dyna_log(DYNA_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) dyna_log(DYNA_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) dyna_log(DYNA_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) dyna_log(DYNA_LOG_ERROR, __VA_ARGS__)

#endif
