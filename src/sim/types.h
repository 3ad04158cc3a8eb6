/* types.h: dyna-sim's typed-key workload and its checks (workload_types.c, --types). */
#ifndef DYNA_SIM_TYPES_H
#define DYNA_SIM_TYPES_H
#include "core/node.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --types bits: one per type, and expiry. */
enum { ST_COUNTER = 0, ST_SET, ST_HASH, ST_ZSET, ST_LIST, ST_NTYPES };
#define ST_EXPIRE 0x100u
#define ST_ALL (0x1fu | ST_EXPIRE)

struct sim_world;
struct sim_opts;
typedef struct sim_types sim_types_t;

/* Parses "counter,set,hash,zset,list,expire" or "all": 0, or -1 on an unknown name. */
int sim_types_parse(const char *v, uint32_t *out);
/* How many typed keys o asks for (before types this build lacks are dropped). */
uint32_t sim_types_count(const struct sim_opts *o);
/* Sets up w->types for nkeys typed keys numbered from first_key, writing their names
 * (names[j], klens[j]); drops from w->o.types the types this build has no commands
 * for. Returns how many keys it uses (<= nkeys). */
int sim_types_init(struct sim_world *w, uint32_t first_key, uint32_t nkeys, char (*names)[24],
                   size_t *klens);
void sim_types_free(struct sim_world *w);
/* Client c's next write to typed key tk (named name): fills req (its arguments live in
 * w->types until the next call). -1 when the key takes no more writes. */
int sim_types_start(struct sim_world *w, uint32_t c, uint32_t tk, const char *name, size_t klen,
                    dyna_req_t *req);
/* The answer to client c's typed write; or its loss (outcome unknown). */
void sim_types_reply(struct sim_world *w, uint32_t c, const dyna_node_reply_t *r);
void sim_types_lost(struct sim_world *w, uint32_t c);
/* The end-of-run checks of typed key tk on its final merged read o. */
void sim_types_check(struct sim_world *w, uint32_t tk, const char *name, const dyna_obj_t *o);
void sim_types_report(struct sim_world *w, FILE *out);
/* The simulator's own typed command, known to every simulated node (cfg.typed_extra):
 * `sim.del key`, DEL of the key exactly as the node's DEL makes it (a register tombstone,
 * then dyna_obj_supersede), answering the array of what it removed as its coordinator
 * observed it (the members, fields or list elements of the key's typed state), so that
 * the model knows which adds each delete removed. Returns the rows, ended by a row with
 * name NULL (static). */
const struct dyna_typed_cmd *sim_types_cmds(void);

#endif
