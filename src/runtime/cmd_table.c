/* cmd_table.c: the command table (one row per command, see cmd_table.h), its O(1) index
 * and the dispatcher: look up, check arity, call the handler.
 *
 *   parsed command ─▶ dyna_cmd_lookup(argv[0])    hash of the lowercased name, one compare
 *        │ unknown: "ERR unknown command 'x', with args beginning with: 'a' 'b' "
 *        ▼
 *   arity from the row                         "ERR wrong number of arguments for 'get' command"
 *        ▼
 *   container? ─▶ dyna_cmd_sub_lookup(argv[1]) "ERR unknown subcommand 'x'. Try CONFIG HELP."
 *        │        arity from the sub-row
 *        ▼
 *   row->fn(s, c, args) ─▶ answer now, or a slot + node requests (cmd_reply.c)
 *
 * Flags, key positions, ACL categories and tips of the Redis commands are Redis 7.0's,
 * so that clients which ask COMMAND route and classify them as they would on Redis;
 * summaries describe what Dyna does. */
#include "runtime/cmd_table.h"
#include "runtime/auth.h"
#include "core/typed.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <ctype.h>
#include <stdio.h>

#define DYNA_SINCE "0.1.0" /* Dyna's own commands: the version that added them */

/* Shorthands for the rows. */
#define KEYS(first, last, step) .first_key = (first), .last_key = (last), .key_step = (step)
#define DOCS(grp, ver, cplx, text) .group = (grp), .since = (ver), .complexity = (cplx), .summary = (text)
#define SUBS(table) .subs = (table), .nsubs = sizeof(table) / sizeof((table)[0])
#define SPECS(table) .specs = (table), .nspecs = sizeof(table) / sizeof((table)[0])

/* ---------- key specs of the rows whose keys are not one range (Redis 7.0's) ---------- */

/* A single key at index i with flags f; a range from i to the last argument. */
#define SPEC_KEY(i, f) {.flags = (f), .begin = (i), .a = 0, .b = 1, .c = 0}
#define SPEC_REST(i, f) {.flags = (f), .begin = (i), .a = -1, .b = 1, .c = 0}
static const dyna_key_spec_t SPECS_SET[] = {
    {.notes = "RW and ACCESS due to the optional `GET` argument", .flags = "RW access update variable_flags",
     .begin = 1, .a = 0, .b = 1}};
static const dyna_key_spec_t SPECS_GETEX[] = {
    {.notes = "RW and UPDATE because it changes the TTL", .flags = "RW access update", .begin = 1, .a = 0, .b = 1}};
static const dyna_key_spec_t SPECS_MOVE[] = {SPEC_KEY(1, "RW access delete"), SPEC_KEY(2, "RW insert")};
static const dyna_key_spec_t SPECS_RENAME[] = {SPEC_KEY(1, "RW access delete"), SPEC_KEY(2, "OW update")};
static const dyna_key_spec_t SPECS_RENAMENX[] = {SPEC_KEY(1, "RW access delete"), SPEC_KEY(2, "OW insert")};
static const dyna_key_spec_t SPECS_COPY[] = {SPEC_KEY(1, "RO access"), SPEC_KEY(2, "OW update")};
static const dyna_key_spec_t SPECS_OW_STORE[] = {SPEC_KEY(1, "OW update"), SPEC_REST(2, "RO access")};
static const dyna_key_spec_t SPECS_RW_STORE[] = {SPEC_KEY(1, "RW update"), SPEC_REST(2, "RO access")};
static const dyna_key_spec_t SPECS_RANGESTORE[] = {SPEC_KEY(1, "OW update"), SPEC_KEY(2, "RO access")};
static const dyna_key_spec_t SPECS_SINTERCARD[] = {
    {.flags = "RO access", .begin = 1, .keynum = 1, .a = 0, .b = 1, .c = 1}};

/* ---------- sub-tables ---------- */

static const dyna_cmd_t COMMAND_SUBS[] = {
    {.name = "command|count", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     DOCS("server", "2.8.13", "O(1)", "Returns the number of commands this node knows."),
     .fn = dyna_cmd_command_count},
    {.name = "command|docs", .arity = -2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     .tips = "nondeterministic_output_order",
     DOCS("server", "7.0.0", "O(N) where N is the number of commands to look up",
          "Returns the documentation of the named commands, or of every command."),
     .fn = dyna_cmd_command_docs},
    {.name = "command|getkeys", .arity = -4, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     DOCS("server", "2.8.13", "O(N) where N is the number of arguments to the command",
          "Extracts the key names from a full command line."),
     .fn = dyna_cmd_command_getkeys},
    {.name = "command|getkeysandflags", .arity = -4, .flags = CMD_LOADING | CMD_STALE,
     .acl = ACL_SLOW | ACL_CONNECTION,
     DOCS("server", "7.0.0", "O(N) where N is the number of arguments to the command",
          "Extracts the key names and their access flags from a full command line."),
     .fn = dyna_cmd_command_getkeysandflags},
    {.name = "command|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     DOCS("server", "5.0.0", "O(1)", "Lists the COMMAND subcommands."), .fn = dyna_cmd_help},
    {.name = "command|info", .arity = -2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     .tips = "nondeterministic_output_order",
     DOCS("server", "2.8.13", "O(N) where N is the number of commands to look up",
          "Returns arity, flags, key positions and ACL categories of the named commands, or of every command."),
     .fn = dyna_cmd_command_info},
    {.name = "command|list", .arity = -2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     .tips = "nondeterministic_output_order",
     DOCS("server", "7.0.0", "O(N) where N is the total number of commands",
          "Returns the names of the commands, subcommands included, optionally filtered."),
     .fn = dyna_cmd_command_list},
};

static const dyna_cmd_t CONFIG_SUBS[] = {
    {.name = "config|get", .arity = -3, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "2.0.0", "O(N) when N is the number of configuration parameters",
          "Returns the parameters whose names match any of the glob patterns, with their values."),
     .fn = dyna_cmd_config_get},
    {.name = "config|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("server", "5.0.0", "O(1)", "Lists the CONFIG subcommands."), .fn = dyna_cmd_help},
    {.name = "config|resetstat", .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "2.0.0", "O(1)", "Resets the counters of INFO stats, commandstats and errorstats."),
     .fn = dyna_cmd_config_resetstat},
    {.name = "config|rewrite", .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "2.8.0", "O(1)", "Refused: Dyna does not rewrite its configuration file."),
     .fn = dyna_cmd_config_rewrite},
    {.name = "config|set", .arity = -4, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, .tips = "request_policy:all_nodes response_policy:all_succeeded",
     DOCS("server", "2.0.0", "O(N) when N is the number of configuration parameters provided",
          "Sets options that can change while the node runs, all of them or none; until the node restarts."),
     .fn = dyna_cmd_config_set},
};

#define CLIENT_ADMIN .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, \
    .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS | ACL_CONNECTION
#define CLIENT_PLAIN .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION
static const dyna_cmd_t CLIENT_SUBS[] = {
    {.name = "client|getname", .arity = 2, CLIENT_PLAIN,
     DOCS("connection", "2.6.9", "O(1)", "Returns the name of this connection, or nil."),
     .fn = dyna_cmd_client_getname},
    {.name = "client|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     DOCS("connection", "5.0.0", "O(1)", "Lists the CLIENT subcommands."), .fn = dyna_cmd_help},
    {.name = "client|id", .arity = 2, CLIENT_PLAIN,
     DOCS("connection", "5.0.0", "O(1)", "Returns this connection's id."), .fn = dyna_cmd_client_id},
    {.name = "client|info", .arity = 2, CLIENT_PLAIN, .tips = "nondeterministic_output",
     DOCS("connection", "6.2.0", "O(1)", "Returns this connection's line of CLIENT LIST."),
     .fn = dyna_cmd_client_info},
    {.name = "client|kill", .arity = -3, CLIENT_ADMIN,
     DOCS("connection", "2.4.0", "O(N) where N is the number of client connections",
          "Closes the connections of an address (ip:port), or those that match ID, ADDR, LADDR, TYPE, USER and "
          "SKIPME filters."),
     .fn = dyna_cmd_client_kill},
    {.name = "client|list", .arity = -2, CLIENT_ADMIN, .tips = "nondeterministic_output",
     DOCS("connection", "2.4.0", "O(N) where N is the number of client connections",
          "Returns a line about each open connection of this node: id, addresses, name, age, last command."),
     .fn = dyna_cmd_client_list},
    {.name = "client|no-evict", .arity = 3, CLIENT_ADMIN,
     DOCS("connection", "7.0.0", "O(1)", "Accepts ON or OFF: Dyna never evicts a connection."),
     .fn = dyna_cmd_client_no_evict},
    {.name = "client|no-touch", .arity = 3, CLIENT_PLAIN,
     DOCS("connection", "7.2.0", "O(1)", "Accepts ON or OFF: Dyna keeps no access times."),
     .fn = dyna_cmd_client_no_touch},
    {.name = "client|setinfo", .arity = 4, CLIENT_PLAIN,
     DOCS("connection", "7.2.0", "O(1)", "Sets this connection's LIB-NAME or LIB-VER, shown by CLIENT LIST."),
     .fn = dyna_cmd_client_setinfo},
    {.name = "client|setname", .arity = 3, CLIENT_PLAIN,
     DOCS("connection", "2.6.9", "O(1)", "Names this connection (shown by CLIENT LIST and GETNAME)."),
     .fn = dyna_cmd_client_setname},
};

static const dyna_cmd_t CLUSTER_SUBS[] = {
    {.name = "cluster|countkeysinslot", .arity = 3, .flags = CMD_STALE, .acl = ACL_SLOW,
     DOCS("cluster", "3.0.0", "O(1)", "Refused: a slot's keys are spread over its replicas, no one node holds them all."),
     .fn = dyna_cmd_cluster_keysinslot},
    {.name = "cluster|getkeysinslot", .arity = 4, .flags = CMD_STALE, .acl = ACL_SLOW,
     .tips = "nondeterministic_output",
     DOCS("cluster", "3.0.0", "O(1)", "Refused: a slot's keys are spread over its replicas, no one node holds them all."),
     .fn = dyna_cmd_cluster_keysinslot},
    {.name = "cluster|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("cluster", "5.0.0", "O(1)", "Lists the CLUSTER subcommands."), .fn = dyna_cmd_help},
    {.name = "cluster|info", .arity = 2, .flags = CMD_STALE, .acl = ACL_SLOW,
     .tips = "nondeterministic_output",
     DOCS("cluster", "3.0.0", "O(Q) where Q is the number of partitions",
          "Returns the cluster's state as Redis Cluster words it: slots assigned, known nodes, size."),
     .fn = dyna_cmd_cluster_info},
    {.name = "cluster|keyslot", .arity = 3, .flags = CMD_STALE, .acl = ACL_SLOW,
     DOCS("cluster", "3.0.0", "O(N) where N is the number of bytes in the key",
          "Returns the hash slot of a key (CRC16 of the key or its {hash tag}, mod 16384)."),
     .fn = dyna_cmd_cluster_keyslot},
    {.name = "cluster|myid", .arity = 2, .flags = CMD_STALE, .acl = ACL_SLOW,
     DOCS("cluster", "3.0.0", "O(1)", "Returns this node's id: its Dyna id in 16 hex digits, then 24 zeros."),
     .fn = dyna_cmd_cluster_myid},
    {.name = "cluster|nodes", .arity = 2, .flags = CMD_STALE, .acl = ACL_SLOW,
     .tips = "nondeterministic_output",
     DOCS("cluster", "3.0.0", "O(N * Q) where N is the number of members and Q of partitions",
          "Returns every member as a master of the slot ranges whose preference list it heads."),
     .fn = dyna_cmd_cluster_nodes},
    {.name = "cluster|shards", .arity = 2, .flags = CMD_STALE, .acl = ACL_SLOW,
     .tips = "nondeterministic_output",
     DOCS("cluster", "7.0.0", "O(Q log Q) where Q is the number of partitions",
          "Returns one shard per preference list: its slot ranges, its first node as master, the rest as replicas."),
     .fn = dyna_cmd_cluster_shards},
    {.name = "cluster|slots", .arity = 2, .flags = CMD_STALE, .acl = ACL_SLOW,
     .tips = "nondeterministic_output",
     DOCS("cluster", "3.0.0", "O(Q) where Q is the number of partitions",
          "Returns each slot range with its preference list: the first node as master, the rest as replicas."),
     .fn = dyna_cmd_cluster_slots},
};

/* ACL (cmd_auth.c): the users of the configuration, read-only (docs/security.md) */
static const dyna_cmd_t ACL_SUBS[] = {
    {.name = "acl|cat", .arity = -2, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("server", "6.0.0", "O(1) since the categories and commands are a fixed set.",
          "Lists the ACL categories, or the commands inside a category."),
     .fn = dyna_cmd_acl_cat},
    {.name = "acl|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("server", "6.0.0", "O(1)", "Lists the ACL subcommands."), .fn = dyna_cmd_help},
    {.name = "acl|list", .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "6.0.0", "O(N). Where N is the number of configured users.",
          "Lists every user as its rules (passwords as their SHA-256)."),
     .fn = dyna_cmd_acl_list},
    {.name = "acl|users", .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "6.0.0", "O(N). Where N is the number of configured users.", "Lists every user name."),
     .fn = dyna_cmd_acl_users},
    {.name = "acl|whoami", .arity = 2, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("server", "6.0.0", "O(1)", "Returns the user this connection is logged in as."),
     .fn = dyna_cmd_acl_whoami},
};

static const dyna_cmd_t DYNA_ADMIN_SUBS[] = {
    {.name = "dyna.admin|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("dyna", DYNA_SINCE, "O(1)", "Lists the DYNA.ADMIN subcommands."), .fn = dyna_cmd_help},
    {.name = "dyna.admin|join", .arity = 3, .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("dyna", DYNA_SINCE, "O(1)", "Joins this node to the cluster of the member at a cluster address host:port."),
     .fn = dyna_cmd_dyna_admin_join},
    {.name = "dyna.admin|leave", .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("dyna", DYNA_SINCE, "O(1)", "Takes this node out of its cluster; its partitions move to the others."),
     .fn = dyna_cmd_dyna_admin_leave},
    {.name = "dyna.admin|remove", .arity = 3, .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("dyna", DYNA_SINCE, "O(1)", "Removes another member, by name or id, from the cluster."),
     .fn = dyna_cmd_dyna_admin_remove},
    {.name = "dyna.admin|repair", .arity = -2, .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("dyna", DYNA_SINCE, "O(1)", "Starts anti-entropy now, for one partition or for every partition."),
     .fn = dyna_cmd_dyna_admin_repair},
};

static const dyna_cmd_t OBJECT_SUBS[] = {
    {.name = "object|encoding", .arity = 3, .flags = CMD_READONLY, KEYS(2, 2, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW, .key_flags = "RO", .tips = "nondeterministic_output",
     DOCS("generic", "2.2.3", "O(1)",
          "Returns the encoding Redis 7.0 would use for a value of this kind and size (Dyna has one per kind)."),
     .fn = dyna_cmd_typed},
    {.name = "object|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_KEYSPACE | ACL_SLOW,
     DOCS("generic", "6.2.0", "O(1)", "Lists the OBJECT subcommands."), .fn = dyna_cmd_typed},
};

/* ---------- the table ---------- */

static const dyna_cmd_t COMMANDS[] = {
    /* strings (cmd_string.c): the register, as plain Redis commands */
    {.name = "get", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_STRING | ACL_FAST, .key_flags = "RO access",
     DOCS("string", "1.0.0", "O(1)", "Returns the value of a key: the last written sibling, or nil."),
     .fn = dyna_cmd_get},
    {.name = "set", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "RW access update variable_flags", SPECS(SPECS_SET),
     DOCS("string", "1.0.0", "O(1)",
          "Sets the value of a key, superseding every version its coordinator knows; with NX, XX or GET, "
          "judged on a quorum read and written with its context."),
     .fn = dyna_cmd_set},
    {.name = "setex", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "OW update",
     DOCS("string", "2.0.0", "O(1)", "Sets the value of a key and its time to live in seconds (a blind write)."),
     .fn = dyna_cmd_setex},
    {.name = "psetex", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "OW update",
     DOCS("string", "2.6.0", "O(1)", "Sets the value of a key and its time to live in milliseconds (a blind write)."),
     .fn = dyna_cmd_psetex},
    {.name = "setnx", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "OW insert",
     DOCS("string", "1.0.0", "O(1)",
          "Sets a key when a quorum read finds no value; concurrent writers may both succeed (siblings)."),
     .fn = dyna_cmd_setnx},
    {.name = "getset", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "1.0.0", "O(1)", "Sets a key and returns the value a quorum read found before, or nil."),
     .fn = dyna_cmd_getset},
    {.name = "msetnx", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 2),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "OW insert",
     .tips = "request_policy:multi_shard response_policy:agg_min",
     DOCS("string", "1.0.1", "O(N) where N is the number of keys to set",
          "Sets several keys when quorum reads find none of them; not atomic across keys."),
     .fn = dyna_cmd_msetnx},
    {.name = "append", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW insert",
     DOCS("string", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and "
          "the already present value is of any size, since the dynamic string library used by Redis will double "
          "the free space available on every reallocation.",
          "Appends to the value a quorum read found; returns the new length."),
     .fn = dyna_cmd_append},
    {.name = "strlen", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_STRING | ACL_FAST, .key_flags = "RO",
     DOCS("string", "2.2.0", "O(1)", "Returns the length of a key's value (the last written sibling), 0 if none."),
     .fn = dyna_cmd_strlen},
    {.name = "getrange", .arity = 4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_STRING | ACL_SLOW, .key_flags = "RO access",
     DOCS("string", "2.4.0",
          "O(N) where N is the length of the returned string. The complexity is ultimately determined by the "
          "returned length, but because creating a substring from an existing string is very cheap, it can be "
          "considered O(1) for small strings.",
          "Returns a substring of a key's value (the last written sibling)."),
     .fn = dyna_cmd_getrange},
    {.name = "setrange", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "RW update",
     DOCS("string", "2.2.0",
          "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small "
          "so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the "
          "value argument.",
          "Overwrites part of the value a quorum read found, padding with zero bytes; returns the new length."),
     .fn = dyna_cmd_setrange},
    {.name = "getdel", .arity = 2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access delete",
     DOCS("string", "6.2.0", "O(1)", "Returns the value a quorum read found and deletes exactly the versions read."),
     .fn = dyna_cmd_getdel},
    {.name = "del", .arity = -2, .flags = CMD_WRITE, KEYS(1, -1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, .key_flags = "RM delete",
     .tips = "request_policy:multi_shard response_policy:agg_sum",
     DOCS("generic", "1.0.0", "O(N) where N is the number of keys",
          "Deletes keys (a tombstone each); returns how many had a value."),
     .fn = dyna_cmd_del},
    {.name = "exists", .arity = -2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, -1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO",
     .tips = "request_policy:multi_shard response_policy:agg_sum",
     DOCS("generic", "1.0.0", "O(N) where N is the number of keys",
          "Returns how many of the keys have a value, counting repeats."),
     .fn = dyna_cmd_exists},
    /* ---- the key space (cmd_keys.c over core/scan.h) ---- */
    {.name = "touch", .arity = -2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, -1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO",
     .tips = "request_policy:multi_shard response_policy:agg_sum",
     DOCS("generic", "3.2.1", "O(N) where N is the number of keys",
          "Returns how many of the keys exist, as EXISTS (Dyna keeps no access time)."),
     .fn = dyna_cmd_exists},
    {.name = "unlink", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, -1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RM delete",
     .tips = "request_policy:multi_shard response_policy:agg_sum",
     DOCS("generic", "4.0.0", "O(N) where N is the number of keys",
          "Deletes keys as DEL does; returns how many had a value."),
     .fn = dyna_cmd_del},
    {.name = "rename", .arity = 3, .flags = CMD_WRITE, KEYS(1, 2, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, .key_flags = "RW access delete", SPECS(SPECS_RENAME),
     DOCS("generic", "1.0.0", "O(1)",
          "Renames a key within its partition (its state and deadline go with it)."),
     .fn = dyna_cmd_rename},
    {.name = "renamenx", .arity = 3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 2, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW access delete", SPECS(SPECS_RENAMENX),
     DOCS("generic", "1.0.0", "O(1)", "Renames a key within its partition unless the new name exists."),
     .fn = dyna_cmd_renamenx},
    {.name = "copy", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, .key_flags = "RO access", SPECS(SPECS_COPY),
     DOCS("generic", "6.2.0", "O(N) worst case for collections, where N is the number of nested items",
          "Copies a key within its partition (its state and deadline go with it)."),
     .fn = dyna_cmd_copy},
    {.name = "scan", .arity = -2, .flags = CMD_READONLY,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .tips = "nondeterministic_output request_policy:special",
     DOCS("generic", "2.8.0", "O(1) for every call. O(N) for a complete iteration",
          "Iterates over the keys of the whole cluster (a cursor names a partition and a place in it)."),
     .fn = dyna_cmd_scan},
    {.name = "keys", .arity = 2, .flags = CMD_READONLY,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW | ACL_DANGEROUS,
     .tips = "request_policy:all_shards nondeterministic_output_order",
     DOCS("generic", "1.0.0", "O(N) with N being the number of keys in the cluster",
          "Returns every key matching a pattern (refused beyond 100000 keys: use SCAN)."),
     .fn = dyna_cmd_keys},
    {.name = "randomkey", .arity = 1, .flags = CMD_READONLY,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .tips = "request_policy:all_shards nondeterministic_output",
     DOCS("generic", "1.0.0", "O(1)", "Returns a key of the cluster, picked at random."),
     .fn = dyna_cmd_randomkey},
    {.name = "dbsize", .arity = 1, .flags = CMD_READONLY | CMD_FAST,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .tips = "request_policy:all_shards response_policy:agg_sum",
     DOCS("generic", "1.0.0", "O(1)",
          "Returns the number of keys: the sum over partitions of one replica's count."),
     .fn = dyna_cmd_dbsize},
    {.name = "flushall", .arity = -1, .flags = CMD_WRITE,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS,
     .tips = "request_policy:all_shards response_policy:all_succeeded",
     DOCS("server", "1.0.0", "O(N) where N is the total number of keys",
          "Deletes every key of the cluster (needs --enable-flush-command)."),
     .fn = dyna_cmd_flushall},
    {.name = "flushdb", .arity = -1, .flags = CMD_WRITE,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS,
     .tips = "request_policy:all_shards response_policy:all_succeeded",
     DOCS("server", "1.0.0", "O(N) where N is the number of keys",
          "Deletes every key of the cluster, as FLUSHALL (one database)."),
     .fn = dyna_cmd_flushall},
    {.name = "mget", .arity = -2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, -1, 1),
     .acl = ACL_READ | ACL_STRING | ACL_FAST, .key_flags = "RO access",
     .tips = "request_policy:multi_shard",
     DOCS("string", "1.0.0", "O(N) where N is the number of keys", "Returns the values of several keys."),
     .fn = dyna_cmd_mget},
    {.name = "mset", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 2),
     .acl = ACL_WRITE | ACL_STRING | ACL_SLOW, .key_flags = "OW update",
     .tips = "request_policy:multi_shard response_policy:all_succeeded",
     DOCS("string", "1.0.1", "O(N) where N is the number of keys",
          "Sets several keys; refused whole if any key or value is over its limit."),
     .fn = dyna_cmd_mset},

    /* connection and server (cmd_server.c, cmd_command.c) */
    {.name = "ping", .arity = -1, .flags = CMD_FAST, .acl = ACL_FAST | ACL_CONNECTION,
     .tips = "request_policy:all_shards response_policy:all_succeeded",
     DOCS("connection", "1.0.0", "O(1)", "Answers PONG, or the message given."), .fn = dyna_cmd_ping},
    {.name = "echo", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_FAST, .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "1.0.0", "O(1)", "Answers the message given."), .fn = dyna_cmd_echo},
    {.name = "select", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_FAST, .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "1.0.0", "O(1)", "Accepts database 0, the only keyspace Dyna has."),
     .fn = dyna_cmd_select},
    {.name = "hello", .arity = -1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "6.0.0", "O(1)", "Handshake: the protocol (2 or 3), an optional name; answers the server map."),
     .fn = dyna_cmd_hello},
    {.name = "reset", .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "6.2.0", "O(1)", "Resets the connection: RESP2, no name."), .fn = dyna_cmd_reset},
    {.name = "quit", .arity = -1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "1.0.0", "O(1)", "Answers OK and closes the connection once every reply is sent."),
     .fn = dyna_cmd_quit},
    {.name = "auth", .arity = -2,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("connection", "1.0.0", "O(N) where N is the number of passwords defined for the user",
          "Logs the connection in as a user (default when none is named); failed logins are slowed down."),
     .fn = dyna_cmd_auth},
    {.name = "acl", .arity = -2, .acl = ACL_SLOW,
     DOCS("server", "6.0.0", "Depends on subcommand.", "Subcommands about users and their rules."),
     SUBS(ACL_SUBS)},
    {.name = "client", .arity = -2, .acl = ACL_SLOW,
     DOCS("connection", "2.4.0", "Depends on subcommand.", "Subcommands about this connection."),
     SUBS(CLIENT_SUBS)},
    /* Redis Cluster (cmd_cluster.c): the slot map cluster-aware clients route by */
    {.name = "cluster", .arity = -2, .acl = ACL_SLOW,
     DOCS("cluster", "3.0.0", "Depends on subcommand.", "Subcommands about the slot map, for cluster-aware clients."),
     SUBS(CLUSTER_SUBS)},
    {.name = "readonly", .arity = 1, .flags = CMD_FAST | CMD_LOADING | CMD_STALE, .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("cluster", "3.0.0", "O(1)", "Answers OK: reads go through a quorum wherever they are sent."),
     .fn = dyna_cmd_readonly},
    {.name = "readwrite", .arity = 1, .flags = CMD_FAST | CMD_LOADING | CMD_STALE, .acl = ACL_FAST | ACL_CONNECTION,
     DOCS("cluster", "3.0.0", "O(1)", "Answers OK: reads go through a quorum wherever they are sent."),
     .fn = dyna_cmd_readonly},
    {.name = "command", .arity = -1, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION,
     .tips = "nondeterministic_output_order",
     DOCS("server", "2.8.13", "O(N) where N is the total number of commands",
          "Describes every command: name, arity, flags, key positions, ACL categories."),
     .fn = dyna_cmd_command, SUBS(COMMAND_SUBS)},
    {.name = "config", .arity = -2, .acl = ACL_SLOW,
     DOCS("server", "2.0.0", "Depends on subcommand.", "Subcommands about the node's configuration."),
     SUBS(CONFIG_SUBS)},
    {.name = "time", .arity = 1, .flags = CMD_LOADING | CMD_STALE | CMD_FAST, .acl = ACL_FAST,
     .tips = "nondeterministic_output",
     DOCS("server", "2.6.0", "O(1)", "Returns this node's wall clock: seconds and microseconds."),
     .fn = dyna_cmd_time},
    {.name = "monitor", .arity = 1, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     DOCS("server", "1.0.0", NULL, "Refused: Dyna does not copy every command to a monitoring connection."),
     .fn = dyna_cmd_monitor},
    {.name = "info", .arity = -1, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_DANGEROUS,
     .tips = "nondeterministic_output request_policy:all_shards response_policy:special",
     DOCS("server", "1.0.0", "O(1)", "Returns the node's state and counters as text, by section."),
     .fn = dyna_cmd_info},

    /* transactions (cmd_multi.c): the commands of one partition, run as one batch */
    {.name = "multi", .arity = 1, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_TRANSACTION,
     DOCS("transactions", "1.2.0", "O(1)", "Starts a transaction: the commands that follow are queued until EXEC."),
     .fn = dyna_cmd_multi},
    {.name = "exec", .arity = 1, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG,
     .acl = ACL_SLOW | ACL_TRANSACTION,
     DOCS("transactions", "1.2.0", "Depends on commands in the transaction",
          "Runs the queued commands (keys of one partition) at one coordinator and replicates their writes "
          "as one batch; nil when a watched key changed."),
     .fn = dyna_cmd_exec},
    {.name = "discard", .arity = 1, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_TRANSACTION,
     DOCS("transactions", "2.0.0", "O(N), when N is the number of queued commands",
          "Forgets the queued commands and the watched keys."),
     .fn = dyna_cmd_discard},
    {.name = "watch", .arity = -2, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     KEYS(1, -1, 1), .acl = ACL_FAST | ACL_TRANSACTION, .key_flags = "RO",
     DOCS("transactions", "2.2.0", "O(1) for every key.",
          "Watches keys (a quorum read of each): EXEC answers nil if one changed before it."),
     .fn = dyna_cmd_watch},
    {.name = "unwatch", .arity = 1, .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_TRANSACTION,
     DOCS("transactions", "2.2.0", "O(1)", "Forgets every watched key."), .fn = dyna_cmd_unwatch},

    /* Dyna's own (cmd_dyna.c) */
    {.name = "dyna.get", .arity = -2, .flags = CMD_READONLY, KEYS(1, 1, 1), .acl = ACL_READ | ACL_SLOW,
     .key_flags = "RO access",
     DOCS("dyna", DYNA_SINCE, "O(S) where S is the number of siblings",
          "DYNA.GET key [R n|LOCAL|EACH]: every sibling of a key and its causal context, after R replicas answered."),
     .fn = dyna_cmd_dyna_get},
    {.name = "dyna.put", .arity = -4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SLOW, .key_flags = "RW update",
     DOCS("dyna", DYNA_SINCE, "O(S) where S is the number of siblings",
          "DYNA.PUT key context value [W n|LOCAL|EACH]: writes a value that supersedes what the context saw; "
          "returns the new context."),
     .fn = dyna_cmd_dyna_put},
    {.name = "dyna.del", .arity = -3, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, .key_flags = "RM delete",
     DOCS("dyna", DYNA_SINCE, "O(S) where S is the number of siblings",
          "DYNA.DEL key context [W n|LOCAL|EACH]: writes a tombstone that supersedes what the context saw."),
     .fn = dyna_cmd_dyna_del},
    {.name = "dyna.local", .arity = 2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, /* -@admin denies it (docs/security.md) */
     .key_flags = "RO access",
     DOCS("dyna", DYNA_SINCE, "O(S) where S is the number of siblings",
          "Like DYNA.GET, from this node's own replica only: no quorum, no repair."),
     .fn = dyna_cmd_dyna_local},
    {.name = "dyna.status", .arity = 1, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("dyna", DYNA_SINCE, "O(M) where M is the number of members",
          "Every member as this node sees it: addresses, status, share, reachability."),
     .fn = dyna_cmd_dyna_status},
    {.name = "dyna.ring", .arity = 1, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW,
     DOCS("dyna", DYNA_SINCE, "O(Q) where Q is the number of partitions",
          "The partition map: members and each partition's preference list (the layout clients route by)."),
     .fn = dyna_cmd_dyna_ring},
    {.name = "dyna.admin", .arity = -2, .acl = ACL_SLOW,
     DOCS("dyna", DYNA_SINCE, "Depends on subcommand.", "Membership changes and repair."),
     SUBS(DYNA_ADMIN_SUBS)},
    /* ---- typed commands (cmd_typed.c over core/typed.h's families) ---- */
    {.name = "incr", .arity = 2, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "1.0.0", NULL, "Increments a counter by one (a counter that merges concurrent increments)."),
     .fn = dyna_cmd_typed},
    {.name = "incrby", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "1.0.0", NULL, "Increments a counter by a number."),
     .fn = dyna_cmd_typed},
    {.name = "decr", .arity = 2, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "1.0.0", NULL, "Decrements a counter by one."),
     .fn = dyna_cmd_typed},
    {.name = "decrby", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "1.0.0", NULL, "Decrements a counter by a number."),
     .fn = dyna_cmd_typed},
    {.name = "incrbyfloat", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update",
     DOCS("string", "2.6.0", NULL, "Increments a counter by a floating point number."),
     .fn = dyna_cmd_typed},
    {.name = "sadd", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_FAST, .key_flags = "RW insert",
     DOCS("set", "1.0.0", NULL, "Adds members to a set (an add wins over a concurrent remove)."),
     .fn = dyna_cmd_typed},
    {.name = "srem", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_FAST, .key_flags = "RW delete",
     DOCS("set", "1.0.0", NULL, "Removes members from a set."),
     .fn = dyna_cmd_typed},
    {.name = "smembers", .arity = 2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("set", "1.0.0", NULL, "Returns the members of a set."),
     .fn = dyna_cmd_typed},
    {.name = "sismember", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SET | ACL_FAST, .key_flags = "RO",
     DOCS("set", "1.0.0", NULL, "Tells whether a member is in a set."),
     .fn = dyna_cmd_typed},
    {.name = "smismember", .arity = -3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SET | ACL_FAST, .key_flags = "RO access",
     DOCS("set", "6.2.0", NULL, "Tells whether each member is in a set."),
     .fn = dyna_cmd_typed},
    {.name = "scard", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SET | ACL_FAST, .key_flags = "RO",
     DOCS("set", "1.0.0", NULL, "Returns the number of members of a set."),
     .fn = dyna_cmd_typed},
    {.name = "spop", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_FAST, .key_flags = "RW access delete",
     .tips = "nondeterministic_output",
     DOCS("set", "1.0.0", NULL, "Removes and returns random members of a set."),
     .fn = dyna_cmd_typed},
    {.name = "srandmember", .arity = -2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output",
     DOCS("set", "1.0.0", NULL, "Returns random members of a set."),
     .fn = dyna_cmd_typed},
    {.name = "sinter", .arity = -2, .flags = CMD_READONLY, KEYS(1, -1, 1),
     .acl = ACL_READ | ACL_SET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("set", "1.0.0", NULL, "Returns the intersection of sets (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "sintercard", .arity = -3, .flags = CMD_READONLY | CMD_MOVABLEKEYS,
     .acl = ACL_READ | ACL_SET | ACL_SLOW, SPECS(SPECS_SINTERCARD),
     DOCS("set", "7.0.0", NULL, "Returns the size of the intersection of sets, counting up to a limit."),
     .fn = dyna_cmd_typed},
    {.name = "sinterstore", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_SLOW, .key_flags = "RW update", SPECS(SPECS_RW_STORE),
     DOCS("set", "1.0.0", NULL, "Stores the intersection of sets in a key (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "sunion", .arity = -2, .flags = CMD_READONLY, KEYS(1, -1, 1),
     .acl = ACL_READ | ACL_SET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("set", "1.0.0", NULL, "Returns the union of sets (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "sunionstore", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_SLOW, .key_flags = "OW update", SPECS(SPECS_OW_STORE),
     DOCS("set", "1.0.0", NULL, "Stores the union of sets in a key (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "sdiff", .arity = -2, .flags = CMD_READONLY, KEYS(1, -1, 1),
     .acl = ACL_READ | ACL_SET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("set", "1.0.0", NULL, "Returns the difference of sets (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "sdiffstore", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, -1, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_SLOW, .key_flags = "OW update", SPECS(SPECS_OW_STORE),
     DOCS("set", "1.0.0", NULL, "Stores the difference of sets in a key (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "smove", .arity = 4, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 2, 1),
     .acl = ACL_WRITE | ACL_SET | ACL_FAST, .key_flags = "RW access delete", SPECS(SPECS_MOVE),
     DOCS("set", "1.0.0", NULL, "Moves a member from one set to another (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "hset", .arity = -4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW update",
     DOCS("hash", "2.0.0", NULL, "Sets fields of a hash (the last written value of a field wins)."),
     .fn = dyna_cmd_typed},
    {.name = "hsetnx", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW insert",
     DOCS("hash", "2.0.0", NULL, "Sets a field of a hash only when it is absent."),
     .fn = dyna_cmd_typed},
    {.name = "hget", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_FAST, .key_flags = "RO access",
     DOCS("hash", "2.0.0", NULL, "Returns the value of a field of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hmget", .arity = -3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_FAST, .key_flags = "RO access",
     DOCS("hash", "2.0.0", NULL, "Returns the values of fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hmset", .arity = -4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW update",
     DOCS("hash", "2.0.0", NULL, "Sets fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hdel", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW delete",
     DOCS("hash", "2.0.0", NULL, "Deletes fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hgetall", .arity = 2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("hash", "2.0.0", NULL, "Returns every field and value of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hkeys", .arity = 2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("hash", "2.0.0", NULL, "Returns the fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hvals", .arity = 2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output_order",
     DOCS("hash", "2.0.0", NULL, "Returns the values of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hlen", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_FAST, .key_flags = "RO",
     DOCS("hash", "2.0.0", NULL, "Returns the number of fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hexists", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_FAST, .key_flags = "RO",
     DOCS("hash", "2.0.0", NULL, "Tells whether a field exists in a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hincrby", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW access update",
     DOCS("hash", "2.0.0", NULL, "Increments the integer value of a field of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hincrbyfloat", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_HASH | ACL_FAST, .key_flags = "RW access update",
     DOCS("hash", "2.6.0", NULL, "Increments the floating point value of a field of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hstrlen", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_FAST, .key_flags = "RO",
     DOCS("hash", "3.2.0", NULL, "Returns the length of the value of a field of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "hrandfield", .arity = -2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output",
     DOCS("hash", "6.2.0", NULL, "Returns random fields of a hash."),
     .fn = dyna_cmd_typed},
    {.name = "zadd", .arity = -4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST, .key_flags = "RW update",
     DOCS("sorted-set", "1.2.0", NULL, "Adds members to a sorted set, or updates their scores."),
     .fn = dyna_cmd_typed},
    {.name = "zincrby", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST, .key_flags = "RW access update",
     DOCS("sorted-set", "1.2.0", NULL, "Increments the score of a member of a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zrem", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST, .key_flags = "RW delete",
     DOCS("sorted-set", "1.2.0", NULL, "Removes members from a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zscore", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "1.2.0", NULL, "Returns the score of a member of a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zmscore", .arity = -3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "6.2.0", NULL, "Returns the scores of members of a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zcard", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO",
     DOCS("sorted-set", "1.2.0", NULL, "Returns the number of members of a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zcount", .arity = 4, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "2.0.0", NULL, "Counts the members of a sorted set within a score range."),
     .fn = dyna_cmd_typed},
    {.name = "zrank", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "2.0.0", NULL, "Returns the rank of a member, scores ascending."),
     .fn = dyna_cmd_typed},
    {.name = "zrevrank", .arity = 3, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "2.2.0", NULL, "Returns the rank of a member, scores descending."),
     .fn = dyna_cmd_typed},
    {.name = "zrange", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "1.2.0", NULL, "Returns members of a sorted set in a range of ranks, scores or names."),
     .fn = dyna_cmd_typed},
    {.name = "zrevrange", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "1.2.0", NULL, "Returns members of a sorted set in a range of ranks, scores descending."),
     .fn = dyna_cmd_typed},
    {.name = "zrangebyscore", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "1.0.5", NULL, "Returns members of a sorted set within a score range."),
     .fn = dyna_cmd_typed},
    {.name = "zrevrangebyscore", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "2.2.0", NULL, "Returns members of a sorted set within a score range, descending."),
     .fn = dyna_cmd_typed},
    {.name = "zrangebylex", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "2.8.9", NULL, "Returns members of a sorted set within a name range."),
     .fn = dyna_cmd_typed},
    {.name = "zrevrangebylex", .arity = -4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     DOCS("sorted-set", "2.8.9", NULL, "Returns members of a sorted set within a name range, descending."),
     .fn = dyna_cmd_typed},
    {.name = "zlexcount", .arity = 4, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_FAST, .key_flags = "RO access",
     DOCS("sorted-set", "2.8.9", NULL, "Counts the members of a sorted set within a name range."),
     .fn = dyna_cmd_typed},
    {.name = "zremrangebyrank", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RW delete",
     DOCS("sorted-set", "2.0.0", NULL, "Removes the members of a sorted set within a range of ranks."),
     .fn = dyna_cmd_typed},
    {.name = "zremrangebyscore", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RW delete",
     DOCS("sorted-set", "1.2.0", NULL, "Removes the members of a sorted set within a score range."),
     .fn = dyna_cmd_typed},
    {.name = "zremrangebylex", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RW delete",
     DOCS("sorted-set", "2.8.9", NULL, "Removes the members of a sorted set within a name range."),
     .fn = dyna_cmd_typed},
    {.name = "zpopmin", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST, .key_flags = "RW access delete",
     DOCS("sorted-set", "5.0.0", NULL, "Removes and returns the members with the lowest scores."),
     .fn = dyna_cmd_typed},
    {.name = "zpopmax", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_FAST, .key_flags = "RW access delete",
     DOCS("sorted-set", "5.0.0", NULL, "Removes and returns the members with the highest scores."),
     .fn = dyna_cmd_typed},
    {.name = "zrandmember", .arity = -2, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_SORTEDSET | ACL_SLOW, .key_flags = "RO access",
     .tips = "nondeterministic_output",
     DOCS("sorted-set", "6.2.0", NULL, "Returns random members of a sorted set."),
     .fn = dyna_cmd_typed},
    {.name = "zrangestore", .arity = -5, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
     .acl = ACL_WRITE | ACL_SORTEDSET | ACL_SLOW, .key_flags = "OW update", SPECS(SPECS_RANGESTORE),
     DOCS("sorted-set", "6.2.0", NULL, "Stores a range of a sorted set in a key."),
     .fn = dyna_cmd_typed},
    {.name = "lpush", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW insert",
     DOCS("list", "1.0.0", NULL, "Prepends elements to a list."),
     .fn = dyna_cmd_typed},
    {.name = "rpush", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW insert",
     DOCS("list", "1.0.0", NULL, "Appends elements to a list."),
     .fn = dyna_cmd_typed},
    {.name = "lpushx", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW insert",
     DOCS("list", "2.2.0", NULL, "Prepends elements to a list only when it exists."),
     .fn = dyna_cmd_typed},
    {.name = "rpushx", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW insert",
     DOCS("list", "2.2.0", NULL, "Appends elements to a list only when it exists."),
     .fn = dyna_cmd_typed},
    {.name = "lpop", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW access delete",
     DOCS("list", "1.0.0", NULL, "Removes and returns the first elements of a list."),
     .fn = dyna_cmd_typed},
    {.name = "rpop", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_FAST, .key_flags = "RW access delete",
     DOCS("list", "1.0.0", NULL, "Removes and returns the last elements of a list."),
     .fn = dyna_cmd_typed},
    {.name = "llen", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_LIST | ACL_FAST, .key_flags = "RO",
     DOCS("list", "1.0.0", NULL, "Returns the length of a list."),
     .fn = dyna_cmd_typed},
    {.name = "lrange", .arity = 4, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_LIST | ACL_SLOW, .key_flags = "RO access",
     DOCS("list", "1.0.0", NULL, "Returns a range of elements of a list."),
     .fn = dyna_cmd_typed},
    {.name = "lindex", .arity = 3, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_LIST | ACL_SLOW, .key_flags = "RO access",
     DOCS("list", "1.0.0", NULL, "Returns an element of a list by its index."),
     .fn = dyna_cmd_typed},
    {.name = "lset", .arity = 4, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW update",
     DOCS("list", "1.0.0", NULL, "Sets the element of a list at an index."),
     .fn = dyna_cmd_typed},
    {.name = "linsert", .arity = 5, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW insert",
     DOCS("list", "2.2.0", NULL, "Inserts an element before or after another in a list."),
     .fn = dyna_cmd_typed},
    {.name = "lrem", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW delete",
     DOCS("list", "1.0.0", NULL, "Removes elements equal to a value from a list."),
     .fn = dyna_cmd_typed},
    {.name = "ltrim", .arity = 4, .flags = CMD_WRITE, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW delete",
     DOCS("list", "1.0.0", NULL, "Keeps only a range of elements of a list."),
     .fn = dyna_cmd_typed},
    {.name = "lpos", .arity = -3, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_LIST | ACL_SLOW, .key_flags = "RO access",
     DOCS("list", "6.0.6", NULL, "Returns the index of matching elements of a list."),
     .fn = dyna_cmd_typed},
    {.name = "lmove", .arity = 5, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW access delete", SPECS(SPECS_MOVE),
     DOCS("list", "6.2.0", NULL, "Moves an element from one list to another (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "rpoplpush", .arity = 3, .flags = CMD_WRITE | CMD_DENYOOM, KEYS(1, 2, 1),
     .acl = ACL_WRITE | ACL_LIST | ACL_SLOW, .key_flags = "RW access delete", SPECS(SPECS_MOVE),
     DOCS("list", "1.2.0", NULL, "Moves the last element of a list to the head of another (keys of one partition)."),
     .fn = dyna_cmd_typed},
    {.name = "type", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO",
     DOCS("generic", "1.0.0", NULL, "Returns the kind of a key: string, set, hash, zset, list, or none."),
     .fn = dyna_cmd_typed},
    {.name = "expire", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW update",
     DOCS("generic", "1.0.0", NULL, "Sets a key's time to live in seconds."),
     .fn = dyna_cmd_typed},
    {.name = "pexpire", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW update",
     DOCS("generic", "2.6.0", NULL, "Sets a key's time to live in milliseconds."),
     .fn = dyna_cmd_typed},
    {.name = "expireat", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW update",
     DOCS("generic", "1.2.0", NULL, "Sets a key's expiry as a Unix time in seconds."),
     .fn = dyna_cmd_typed},
    {.name = "pexpireat", .arity = -3, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW update",
     DOCS("generic", "2.6.0", NULL, "Sets a key's expiry as a Unix time in milliseconds."),
     .fn = dyna_cmd_typed},
    {.name = "ttl", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO access", .tips = "nondeterministic_output",
     DOCS("generic", "1.0.0", NULL, "Returns a key's time to live in seconds."),
     .fn = dyna_cmd_typed},
    {.name = "pttl", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO access", .tips = "nondeterministic_output",
     DOCS("generic", "2.6.0", NULL, "Returns a key's time to live in milliseconds."),
     .fn = dyna_cmd_typed},
    {.name = "expiretime", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO access",
     DOCS("generic", "7.0.0", NULL, "Returns a key's expiry as a Unix time in seconds."),
     .fn = dyna_cmd_typed},
    {.name = "pexpiretime", .arity = 2, .flags = CMD_READONLY | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .key_flags = "RO access",
     DOCS("generic", "7.0.0", NULL, "Returns a key's expiry as a Unix time in milliseconds."),
     .fn = dyna_cmd_typed},
    {.name = "getex", .arity = -2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_WRITE | ACL_STRING | ACL_FAST, .key_flags = "RW access update", SPECS(SPECS_GETEX),
     DOCS("string", "6.2.0", NULL, "Returns the value of a key and sets or removes its expiry."),
     .fn = dyna_cmd_typed},
    {.name = "object", .arity = -2, .acl = ACL_SLOW,
     DOCS("generic", "2.2.3", "Depends on subcommand.", "Inspects a key: its encoding."), SUBS(OBJECT_SUBS)},
    {.name = "dyna.hsiblings", .arity = 3, .flags = CMD_READONLY, KEYS(1, 1, 1),
     .acl = ACL_READ | ACL_HASH | ACL_SLOW, .key_flags = "RO access",
     DOCS("dyna", DYNA_SINCE, "O(N) where N is the number of values the field holds",
          "Returns every value a hash field holds after concurrent writes (HGET shows one of them)."),
     .fn = dyna_cmd_typed},
    {.name = "persist", .arity = 2, .flags = CMD_WRITE | CMD_FAST, KEYS(1, 1, 1),
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST, .key_flags = "RW update",
     DOCS("generic", "2.2.0", NULL, "Removes a key's expiry."),
     .fn = dyna_cmd_typed},
};
#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

size_t dyna_cmd_count(void) { return NCOMMANDS; }

const dyna_cmd_t *dyna_cmd_at(size_t i) { return i < NCOMMANDS ? &COMMANDS[i] : NULL; }

const char *dyna_cmd_sub_name(const dyna_cmd_t *cmd) {
  const char *bar = strchr(cmd->name, '|');
  return bar ? bar + 1 : cmd->name;
}

/* ---------- names of flags and categories ---------- */

const char *dyna_cmd_flag_name(uint32_t bit) {
  static const char *const names[CMD_FLAG_BITS] = {
      "write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking", "loading", "stale",
      "skip_monitor", "skip_slowlog", "fast", "no_auth", "may_replicate", "no_multi", "movablekeys",
      "allow_busy"};
  for (uint32_t i = 0; i < CMD_FLAG_BITS; i++)
    if (bit == 1u << i) return names[i];
  return NULL;
}

const char *dyna_acl_name(uint32_t bit) {
  static const char *const names[ACL_BITS] = {
      "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string", "@bitmap",
      "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking",
      "@dangerous", "@connection", "@transaction", "@scripting"};
  for (uint32_t i = 0; i < ACL_BITS; i++)
    if (bit == 1u << i) return names[i];
  return NULL;
}

/* ---------- row indexes (commandstats): the top-level rows, then each container's ---------- */

static size_t row_base[sizeof(COMMANDS) / sizeof(COMMANDS[0])]; /* first index of a container's subs */
static size_t nrows;

static void rows_build(void) {
  nrows = NCOMMANDS;
  for (size_t i = 0; i < NCOMMANDS; i++) {
    row_base[i] = nrows;
    nrows += COMMANDS[i].nsubs;
  }
  DYNA_ASSERT(nrows <= DYNA_CMDSTAT_MAX, "%zu command rows: grow DYNA_CMDSTAT_MAX", nrows);
}

size_t dyna_cmd_rows(void) {
  if (!nrows) rows_build();
  return nrows;
}

size_t dyna_cmd_index(const dyna_cmd_t *cmd) {
  if (!nrows) rows_build();
  if (cmd >= COMMANDS && cmd < COMMANDS + NCOMMANDS) return (size_t)(cmd - COMMANDS);
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (COMMANDS[i].subs && cmd >= COMMANDS[i].subs && cmd < COMMANDS[i].subs + COMMANDS[i].nsubs)
      return row_base[i] + (size_t)(cmd - COMMANDS[i].subs);
  DYNA_ASSERT(0, "command row %p is in no table", (const void *)cmd);
  return 0;
}

const dyna_cmd_t *dyna_cmd_row(size_t idx) {
  if (!nrows) rows_build();
  if (idx < NCOMMANDS) return &COMMANDS[idx];
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (idx >= row_base[i] && idx < row_base[i] + COMMANDS[i].nsubs) return &COMMANDS[i].subs[idx - row_base[i]];
  return NULL;
}

/* ---------- the index: open addressing over lowercased names ---------- */

#define NAME_MAX_LEN 32  /* longer names are unknown without hashing them */
#define INDEX_SIZE 512   /* a power of two, at least twice the rows */
static uint16_t index_slot[INDEX_SIZE]; /* row + 1; 0 = empty */
static int index_built;

static uint8_t ascii_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

static uint32_t name_hash(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a over the lowercased bytes */
  for (size_t i = 0; i < n; i++) {
    h ^= ascii_lower(p[i]);
    h *= 16777619u;
  }
  return h;
}

/* 1 when the n bytes at p are the lowercase name, in any case (ASCII: a command name is
 * never anything else). A byte that is 0 in p does not end it early. */
static int name_is(const char *name, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!name[i] || (uint8_t)name[i] != ascii_lower(p[i])) return 0;
  return name[n] == 0;
}

/* Builds the index once; checks the table's own rules on the way (a broken row is a bug
 * in this file, found at the first command). */
static void index_build(void) {
  _Static_assert(NCOMMANDS < 65535 && 2 * NCOMMANDS <= INDEX_SIZE, "grow INDEX_SIZE");
  for (size_t i = 0; i < NCOMMANDS; i++) {
    const dyna_cmd_t *cmd = &COMMANDS[i];
    size_t n = strlen(cmd->name);
    DYNA_ASSERT(n > 0 && n <= NAME_MAX_LEN, "command name '%s' length %zu", cmd->name, n);
    for (size_t k = 0; k < n; k++)
      DYNA_ASSERT(!isupper((unsigned char)cmd->name[k]), "command name '%s' not lowercase", cmd->name);
    DYNA_ASSERT(cmd->arity != 0 && (cmd->fn || cmd->subs), "command '%s' arity %d", cmd->name, cmd->arity);
    DYNA_ASSERT((cmd->first_key == 0) == (cmd->key_flags == NULL), "command '%s' keys/key flags", cmd->name);
    for (size_t k = 0; k < cmd->nsubs; k++)
      DYNA_ASSERT(cmd->subs[k].fn && cmd->subs[k].arity != 0 &&
                      !strncmp(cmd->subs[k].name, cmd->name, n) && cmd->subs[k].name[n] == '|',
                  "subcommand '%s' of '%s'", cmd->subs[k].name, cmd->name);
    /* A typed command's family relies on the arity it declares (core/typed.h): the two
     * must be the same number. */
    const dyna_typed_cmd_t *t = cmd->fn == dyna_cmd_typed ? dyna_typed_find((const uint8_t *)cmd->name, n) : NULL;
    DYNA_ASSERT(!t || t->arity == cmd->arity, "command '%s' arity %d in the table, %d in its family",
                cmd->name, cmd->arity, t ? t->arity : 0);
    uint32_t h = name_hash((const uint8_t *)cmd->name, n) & (INDEX_SIZE - 1);
    while (index_slot[h]) {
      DYNA_ASSERT(strcmp(COMMANDS[index_slot[h] - 1].name, cmd->name), "command '%s' twice", cmd->name);
      h = (h + 1) & (INDEX_SIZE - 1);
    }
    index_slot[h] = (uint16_t)(i + 1);
  }
  index_built = 1;
}

const dyna_cmd_t *dyna_cmd_sub_lookup(const dyna_cmd_t *parent, const uint8_t *sub, size_t len) {
  for (size_t i = 0; i < parent->nsubs; i++) {
    const char *name = dyna_cmd_sub_name(&parent->subs[i]);
    if (name_is(name, sub, len)) return &parent->subs[i];
  }
  return NULL;
}

const dyna_cmd_t *dyna_cmd_lookup(const uint8_t *name, size_t len) {
  if (!index_built) index_build();
  const uint8_t *bar = memchr(name, '|', len);
  if (bar) {
    const dyna_cmd_t *parent = dyna_cmd_lookup(name, (size_t)(bar - name));
    if (!parent || !parent->subs) return NULL;
    return dyna_cmd_sub_lookup(parent, bar + 1, len - (size_t)(bar - name) - 1);
  }
  if (len == 0 || len > NAME_MAX_LEN) return NULL;
  uint32_t h = name_hash(name, len) & (INDEX_SIZE - 1);
  while (index_slot[h]) {
    const dyna_cmd_t *cmd = &COMMANDS[index_slot[h] - 1];
    if (name_is(cmd->name, name, len)) return cmd;
    h = (h + 1) & (INDEX_SIZE - 1);
  }
  return NULL;
}

/* ---------- dispatch ---------- */

/* Appends "'arg' " for the arguments from 1 on, while the text is under 128 bytes, each
 * cut to what is left of those 128 (Redis 7's "with args beginning with:" list). Bytes
 * that are not printable show as '?'. */
static void quoted_args(const dyna_args_t *a, size_t from, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (size_t i = from; i < a->argc && n < 128 && n + 4 < cap; i++) {
    size_t k = dyna_arg_len(a, i);
    if (k > 128 - n) k = 128 - n;
    if (k > cap - n - 4) k = cap - n - 4;
    out[n++] = '\'';
    for (size_t j = 0; j < k; j++) {
      uint8_t ch = dyna_arg(a, i)[j];
      out[n++] = isprint(ch) ? (char)ch : '?';
    }
    out[n++] = '\'';
    out[n++] = ' ';
    out[n] = 0;
  }
}

/* Copies argument i, cut to 128 bytes, with unprintable bytes as '?'. */
static void printable_arg(const dyna_args_t *a, size_t i, char *out, size_t cap) {
  size_t k = dyna_arg_len(a, i);
  if (k > 128) k = 128;
  if (k > cap - 1) k = cap - 1;
  for (size_t j = 0; j < k; j++) {
    uint8_t ch = dyna_arg(a, i)[j];
    out[j] = isprint(ch) ? (char)ch : '?';
  }
  out[k] = 0;
}

static void unknown_command(conn_t *c, const dyna_args_t *a) {
  char name[132], args[140], line[320];
  printable_arg(a, 0, name, sizeof(name));
  quoted_args(a, 1, args, sizeof(args));
  snprintf(line, sizeof(line), "ERR unknown command '%s', with args beginning with: %s", name, args);
  dyna_conn_answer_error(c, line);
}

static void unknown_subcommand(conn_t *c, const dyna_cmd_t *parent, const dyna_args_t *a) {
  char sub[132], upper[NAME_MAX_LEN + 1], line[220];
  printable_arg(a, 1, sub, sizeof(sub));
  size_t k = 0;
  for (; parent->name[k] && k < NAME_MAX_LEN; k++) upper[k] = (char)toupper((unsigned char)parent->name[k]);
  upper[k] = 0;
  snprintf(line, sizeof(line), "ERR unknown subcommand '%s'. Try %s HELP.", sub, upper);
  dyna_conn_answer_error(c, line);
}

int dyna_args_pointers(const dyna_args_t *a, const uint8_t ***argv) {
  *argv = dyna_malloc((a->argc ? a->argc : 1) * sizeof(**argv));
  if (!*argv) return DYNA_ENOMEM;
  for (size_t i = 0; i < a->argc; i++) (*argv)[i] = dyna_arg(a, i);
  return 0;
}

/* Runs row cmd's handler for c, counting it (INFO commandstats): its time, and the
 * replies it answered at once or in slots that start with '-' as failures. */
static void run(dyna_server_t *s, conn_t *c, const dyna_cmd_t *cmd, const dyna_args_t *a) {
  size_t idx = dyna_cmd_index(cmd);
  size_t out = c->wq.out.len;
  uint64_t t0 = uv_hrtime();
  c->last_cmd = cmd->name;
  c->last_cmd_ms = dyna_server_now(s);
  c->cur_stat = (uint32_t)idx + 1; /* the slots it opens carry it (dyna_conn_slot_push) */
  cmd->fn(s, c, a);
  c->cur_stat = 0;
  dyna_cmdstat_t *st = &s->stats.cmd[idx];
  st->calls++;
  st->usec += (uv_hrtime() - t0) / 1000;
  if (c->wq.out.len > out) { /* answered at once, with nothing ahead of it */
    dyna_buf_t part = {.data = c->wq.out.data + out, .len = c->wq.out.len - out};
    dyna_stats_reply(s, (uint32_t)idx, &part);
  }
}

/* A command refused before its handler (arity, unknown subcommand): a rejected call. */
static void rejected(dyna_server_t *s, const dyna_cmd_t *cmd) {
  if (cmd) s->stats.cmd[dyna_cmd_index(cmd)].rejected++;
  static const uint8_t err[] = "-ERR\r\n";
  dyna_stats_error_reply(s, err, sizeof(err) - 1);
}

void dyna_cmd_dispatch(dyna_server_t *s, conn_t *c, const dyna_resp_cmd_t *rc) {
  dyna_args_t a = {rc->argc, rc->base, rc->argo, rc->argl};
  const dyna_cmd_t *cmd = dyna_cmd_lookup(dyna_arg(&a, 0), dyna_arg_len(&a, 0));
  const dyna_cmd_t *row = NULL; /* the row whose handler runs */
  int queue = dyna_txn_queueing(c, cmd); /* inside MULTI (cmd_multi.c) */
  if (!cmd) {
    rejected(s, NULL);
    unknown_command(c, &a);
  } else if (!dyna_cmd_arity_ok(cmd->arity, a.argc)) {
    rejected(s, cmd);
    dyna_conn_answer_arity_error(c, cmd->name);
  } else if (cmd->subs && (a.argc >= 2 || !cmd->fn)) {
    const dyna_cmd_t *sub = dyna_cmd_sub_lookup(cmd, dyna_arg(&a, 1), dyna_arg_len(&a, 1));
    if (!sub) {
      rejected(s, cmd);
      unknown_subcommand(c, cmd, &a);
    } else if (!dyna_cmd_arity_ok(sub->arity, a.argc)) {
      rejected(s, sub);
      dyna_conn_answer_arity_error(c, sub->name);
    } else {
      row = sub;
    }
  } else {
    row = cmd;
  }
  if (row && dyna_auth_refuses(s, c, row, &a)) row = NULL; /* NOAUTH, NOPERM (cmd_auth.c) */
  if (row && queue) dyna_txn_queue(s, c, &a, row);
  else if (row) run(s, c, row, &a);
  else if (queue) dyna_txn_error(c); /* refused at queue time: EXEC aborts */
  dyna_conn_flush_slots(s, c);
}
