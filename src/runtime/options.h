/* options.h: dynad's options, one row each (options.c, dynad_options[]). A row is the
 * option's whole definition: its name (--NAME on the command line, NAME in the INI file
 * and in CONFIG GET), its type and bounds, its default, its --help text, and where its
 * value lands: a field of dyna_config_t (the runtime's) and, for the options the node
 * itself reads, a field of the core's dyna_node_cfg_t. The defaults, --help, the INI
 * file, the command line, CONFIG GET and the node's configuration are all made from the
 * table, so an option added there reaches every one of them.
 *
 * Defaults: an option that lands in the node has no default in the table; it takes the
 * core's (dyna_node_cfg_default), so dynad, the simulator and the unit tests start from
 * the same values. The other rows give theirs as the text a user would write.
 */
#ifndef DYNA_OPTIONS_H
#define DYNA_OPTIONS_H
#include "core/node.h"
#include "runtime/config.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  DYNA_OPT_BOOL,   /* int 0/1; yes|no, true|false, on|off, 1|0; a switch on the command line */
  DYNA_OPT_U32,    /* an unsigned 32-bit field (uint32_t, or int for values below 2^31) */
  DYNA_OPT_U64,    /* uint64_t or size_t (64-bit targets only) */
  DYNA_OPT_BYTES,  /* a byte count in a uint64_t or size_t; --help shows MiB */
  DYNA_OPT_STRING, /* char[]: at most its size - 1 bytes */
  DYNA_OPT_ENUM,   /* an enum field, named by the row's enum_name */
  DYNA_OPT_ADDR,   /* HOST:PORT into a char[] host and an int port */
  DYNA_OPT_LIST,   /* --join's IP:PORT[,...] into cfg->join[] and cfg->njoin */
  DYNA_OPT_REPL,   /* replicas per site into a dyna_repl_t: 3, or dc1:3,dc2:2 (ring.h) */
  DYNA_OPT_QUORUM  /* a uint32_t quorum: a count min..max, local or each (node.h) */
} dyna_opt_type_t;

/* Where a value lands: offset and size of a field (size 0: nowhere). */
typedef struct dyna_opt_dest {
  size_t off, size;
} dyna_opt_dest_t;

typedef struct dynad_option {
  const char *name;       /* --NAME, the INI key and the CONFIG GET name */
  dyna_opt_type_t type;
  const char *def;        /* default, as text; NULL: the core's (dyna_node_cfg_default) */
  uint64_t min, max;      /* numbers: bounds; STRING: min is the least length (0 or 1) */
  const char *arg;        /* --help's placeholder for the value ("N", "HOST:PORT") */
  const char *help;       /* --help's text; '\n' starts an indented line */
  const char *def_help;   /* --help's default when it is worked out at start ("var/NAME") */
  const char *bad;        /* error for a bad value, "%v" the value and "%k" the name;
                             NULL: "invalid value '%v' for %k" */
  const char *reject;     /* STRING: bytes refused anywhere in the value */
  int (*valid)(uint64_t v);          /* numbers: one more check (ring-size: a power of 2) */
  const char *(*enum_name)(int v);   /* ENUM: the name of value v, NULL past the last one */
  void (*after)(dyna_config_t *c);   /* runs after a good value was stored (--cluster) */
  int runtime;            /* 1: may change while dynad runs (CONFIG SET, cmd_config.c): read
                             where it is used, by the runtime or through
                             dyna_node_set_runtime_cfg; 0: fixed at start */
  dyna_opt_dest_t cfg;    /* its field in dyna_config_t (ADDR: the host) */
  size_t port_off;        /* ADDR: the port's field in dyna_config_t */
  dyna_opt_dest_t node;   /* its field in dyna_node_cfg_t (ADDR: "host:port" text) */
} dynad_option_t;

extern const dynad_option_t dynad_options[];
extern const size_t dyna_noptions;

/* The row named name (exact, case-sensitive), or NULL. */
const dynad_option_t *dynad_option_find(const char *name);
/* Parses val and stores it into c. Returns 0, or -1 with a one-line message in err and c
 * unchanged. */
int dynad_option_set(const dynad_option_t *o, dyna_config_t *c, const char *val, char *err,
                    size_t errlen);
/* Writes o's value as text (the form dynad_option_set takes back): from node when o lands
 * there and node is not NULL (what the node runs with), else from c. */
void dynad_option_format(const dynad_option_t *o, const dyna_config_t *c,
                        const dyna_node_cfg_t *node, char *out, size_t cap);

/* Every row's default into c (zeroes the rest). */
void dynad_options_default(dyna_config_t *c);
/* dynad --help, made from the rows. */
void dynad_options_usage(FILE *f);

#endif
