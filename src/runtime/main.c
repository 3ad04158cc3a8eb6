/* main.c: dynad, one Dyna node: parse the configuration, open the data directory,
 * serve RESP clients until SIGTERM/SIGINT. */
#include "runtime/config.h"
#include "runtime/log.h"
#include "runtime/server.h"
#include <stdio.h>

int main(int argc, char **argv) {
  dyna_config_t cfg;
  dyna_config_default(&cfg);
  char err[512];
  int rc = dyna_config_parse(&cfg, argc, argv, err, sizeof(err));
  if (rc == 1) return 0;
  if (rc) {
    fprintf(stderr, "dynad: %s (see dynad --help)\n", err);
    return 2;
  }
  dyna_log_set(cfg.log_level, cfg.name);
  dyna_log_set_format(cfg.log_format);
  uv_loop_t loop;
  uv_loop_init(&loop);
  dyna_server_t *s;
  if (dyna_server_open(&cfg, &loop, &s, err, sizeof(err))) {
    if (cfg.log_format == DYNA_LOG_JSON) LOG_ERROR("%s", err);
    else fprintf(stderr, "dynad: %s\n", err);
    uv_loop_close(&loop);
    return 1;
  }
  dyna_server_run(s);
  dyna_server_free(s);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  LOG_INFO("stopped");
  return 0;
}
