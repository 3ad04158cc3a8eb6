/* events.h: log lines for membership changes, reachability, ring changes and background
 * progress with their figures (events.c), from the server's tick. */
#ifndef DYNA_EVENTS_H
#define DYNA_EVENTS_H

struct dyna_server;
typedef struct dyna_events dyna_events_t;

/* Compares what the node shows now with the last tick and logs what changed. */
void dyna_events_tick(struct dyna_server *s);
/* Frees the snapshot (at server free). */
void dyna_events_free(struct dyna_server *s);

#endif
