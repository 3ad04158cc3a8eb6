/* cmd_command.c: COMMAND and its subcommands, answered from the command table
 * (cmd_table.c) in the shapes Redis 7 gives: in RESP3 the flags, categories, tips and
 * key specs are sets (and so is an empty list of subcommands), each key spec and the
 * docs are maps; RESP2 writes them all as flat arrays:
 *
 *   COMMAND [INFO [name ...]]  one entry per command (nil for an unknown name):
 *       [name, arity, [flag ...], first key, last key, step, [@category ...], [tip ...],
 *        [key spec ...], [subcommand entry ...]]
 *     a key spec: [[notes, n,] flags, [RO access ...], begin_search, [type, index, spec, [index, i]],
 *                  find_keys, [type, range, spec, [lastkey, l, keystep, s, limit, 0]]
 *                          or [type, keynum, spec, [keynumidx, k, firstkey, f, keystep, s]]]
 *   COMMAND DOCS [name ...]    [name, [summary, s, since, v, group, g, complexity, c,
 *                               subcommands, [name, [...], ...]], ...] (unknown names left out)
 *   COMMAND COUNT              the number of top-level commands
 *   COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]   names, subcommands included
 *   COMMAND GETKEYS cmd arg... the key arguments of a command line, as its key specs find them
 *   COMMAND GETKEYSANDFLAGS cmd arg...  [[key, [flag ...]], ...] */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Puts each space-separated word of list (NULL: none) as a simple string (simple != 0)
 * or a bulk string, after a set header (an array in RESP2) with their count. */
static void put_words(dyna_buf_t *b, int proto, const char *list, int simple) {
  size_t n = 0;
  for (const char *p = list; p && *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    n++;
    while (*p && *p != ' ') p++;
  }
  dyna_resp_put_set(b, proto, n);
  for (const char *p = list; p && *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ' ') e++;
    char w[64];
    size_t k = (size_t)(e - p) < sizeof(w) - 1 ? (size_t)(e - p) : sizeof(w) - 1;
    memcpy(w, p, k);
    w[k] = 0;
    if (simple) dyna_resp_put_simple(b, w);
    else dyna_resp_put_bulk_str(b, w);
    p = e;
  }
}

static void put_bits(dyna_buf_t *b, int proto, uint32_t bits, int nbits, const char *(*name)(uint32_t)) {
  size_t n = 0;
  for (int i = 0; i < nbits; i++) n += (bits >> i) & 1;
  dyna_resp_put_set(b, proto, n);
  for (int i = 0; i < nbits; i++)
    if ((bits >> i) & 1) dyna_resp_put_simple(b, name(1u << i));
}

/* One key spec: a map (a flat array in RESP2) of [notes,] flags, begin_search, find_keys. */
static void put_key_spec(dyna_buf_t *b, int proto, const dyna_key_spec_t *ks) {
  dyna_resp_put_map(b, proto, ks->notes ? 4 : 3);
  if (ks->notes) {
    dyna_resp_put_bulk_str(b, "notes");
    dyna_resp_put_bulk_str(b, ks->notes);
  }
  dyna_resp_put_bulk_str(b, "flags");
  put_words(b, proto, ks->flags, 1);
  dyna_resp_put_bulk_str(b, "begin_search");
  dyna_resp_put_map(b, proto, 2);
  dyna_resp_put_bulk_str(b, "type");
  dyna_resp_put_bulk_str(b, "index");
  dyna_resp_put_bulk_str(b, "spec");
  dyna_resp_put_map(b, proto, 1);
  dyna_resp_put_bulk_str(b, "index");
  dyna_resp_put_int(b, ks->begin);
  dyna_resp_put_bulk_str(b, "find_keys");
  dyna_resp_put_map(b, proto, 2);
  dyna_resp_put_bulk_str(b, "type");
  dyna_resp_put_bulk_str(b, ks->keynum ? "keynum" : "range");
  dyna_resp_put_bulk_str(b, "spec");
  dyna_resp_put_map(b, proto, 3);
  dyna_resp_put_bulk_str(b, ks->keynum ? "keynumidx" : "lastkey");
  dyna_resp_put_int(b, ks->a);
  dyna_resp_put_bulk_str(b, ks->keynum ? "firstkey" : "keystep");
  dyna_resp_put_int(b, ks->b);
  dyna_resp_put_bulk_str(b, ks->keynum ? "keystep" : "limit");
  dyna_resp_put_int(b, ks->c);
}

/* The row's one range as a key spec (rows without a specs list). */
static dyna_key_spec_t range_spec(const dyna_cmd_t *cmd) {
  dyna_key_spec_t ks = {.flags = cmd->key_flags, .begin = cmd->first_key, .b = cmd->key_step};
  ks.a = cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key;
  return ks;
}

/* The row's key specs: a set of maps in RESP3, as Redis 7.0. */
static void put_key_specs(dyna_buf_t *b, int proto, const dyna_cmd_t *cmd) {
  if (cmd->specs) {
    dyna_resp_put_set(b, proto, cmd->nspecs);
    for (size_t i = 0; i < cmd->nspecs; i++) put_key_spec(b, proto, &cmd->specs[i]);
    return;
  }
  if (!cmd->key_flags) { dyna_resp_put_set(b, proto, 0); return; }
  dyna_key_spec_t ks = range_spec(cmd);
  dyna_resp_put_set(b, proto, 1);
  put_key_spec(b, proto, &ks);
}

static void put_info(dyna_buf_t *b, int proto, const dyna_cmd_t *cmd) {
  dyna_resp_put_array(b, 10);
  dyna_resp_put_bulk_str(b, cmd->name);
  dyna_resp_put_int(b, cmd->arity);
  put_bits(b, proto, cmd->flags, CMD_FLAG_BITS, dyna_cmd_flag_name);
  dyna_resp_put_int(b, cmd->first_key);
  dyna_resp_put_int(b, cmd->last_key);
  dyna_resp_put_int(b, cmd->key_step);
  put_bits(b, proto, cmd->acl, ACL_BITS, dyna_acl_name);
  put_words(b, proto, cmd->tips, 0);
  put_key_specs(b, proto, cmd);
  /* Redis 7.0 answers no subcommands as an empty set, some as an array. */
  if (cmd->nsubs) dyna_resp_put_array(b, cmd->nsubs);
  else dyna_resp_put_set(b, proto, 0);
  for (size_t i = 0; i < cmd->nsubs; i++) put_info(b, proto, &cmd->subs[i]);
}

static void put_docs(dyna_buf_t *b, int proto, const dyna_cmd_t *cmd) {
  size_t n = 3 + (cmd->complexity != NULL) + (cmd->nsubs > 0);
  dyna_resp_put_map(b, proto, n);
  dyna_resp_put_bulk_str(b, "summary");
  dyna_resp_put_bulk_str(b, cmd->summary);
  dyna_resp_put_bulk_str(b, "since");
  dyna_resp_put_bulk_str(b, cmd->since);
  dyna_resp_put_bulk_str(b, "group");
  dyna_resp_put_bulk_str(b, cmd->group);
  if (cmd->complexity) {
    dyna_resp_put_bulk_str(b, "complexity");
    dyna_resp_put_bulk_str(b, cmd->complexity);
  }
  if (cmd->nsubs) {
    dyna_resp_put_bulk_str(b, "subcommands");
    dyna_resp_put_map(b, proto, cmd->nsubs);
    for (size_t i = 0; i < cmd->nsubs; i++) {
      dyna_resp_put_bulk_str(b, cmd->subs[i].name);
      put_docs(b, proto, &cmd->subs[i]);
    }
  }
}

static void finish(conn_t *c, dyna_buf_t *b) {
  if (!b->oom) return;
  dyna_buf_reset(b);
  b->oom = 0;
  dyna_resp_put_error(b, DYNA_ERR_OOM);
  (void)c;
}

void dyna_cmd_command(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, dyna_cmd_count());
  for (size_t i = 0; i < dyna_cmd_count(); i++) put_info(b, c->proto, dyna_cmd_at(i));
  finish(c, b);
}

void dyna_cmd_command_count(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_int(dyna_conn_answer_now(c), (int64_t)dyna_cmd_count());
}

void dyna_cmd_command_info(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc == 2) { dyna_cmd_command(s, c, a); return; }
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, a->argc - 2);
  for (size_t i = 2; i < a->argc; i++) {
    const dyna_cmd_t *cmd = dyna_cmd_lookup(dyna_arg(a, i), dyna_arg_len(a, i));
    if (cmd) put_info(b, c->proto, cmd);
    else dyna_resp_put_null(b, c->proto);
  }
  finish(c, b);
}

void dyna_cmd_command_docs(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  dyna_buf_t *b = dyna_conn_answer_now(c);
  if (a->argc == 2) {
    dyna_resp_put_map(b, c->proto, dyna_cmd_count());
    for (size_t i = 0; i < dyna_cmd_count(); i++) {
      dyna_resp_put_bulk_str(b, dyna_cmd_at(i)->name);
      put_docs(b, c->proto, dyna_cmd_at(i));
    }
  } else {
    size_t found = 0;
    for (size_t i = 2; i < a->argc; i++) found += dyna_cmd_lookup(dyna_arg(a, i), dyna_arg_len(a, i)) != NULL;
    dyna_resp_put_map(b, c->proto, found);
    for (size_t i = 2; i < a->argc; i++) {
      const dyna_cmd_t *cmd = dyna_cmd_lookup(dyna_arg(a, i), dyna_arg_len(a, i));
      if (!cmd) continue;
      dyna_resp_put_bulk_str(b, cmd->name);
      put_docs(b, c->proto, cmd);
    }
  }
  finish(c, b);
}

/* Glob match of name against pat ('*', '?', '\' escapes), ignoring case. */
static int glob_match(const char *pat, size_t plen, const char *name) {
  while (plen) {
    if (*pat == '*') {
      while (plen > 1 && pat[1] == '*') { pat++; plen--; }
      if (plen == 1) return 1;
      for (const char *n = name; ; n++) {
        if (glob_match(pat + 1, plen - 1, n)) return 1;
        if (!*n) return 0;
      }
    }
    if (!*name) return 0;
    if (*pat == '\\' && plen > 1) { pat++; plen--; }
    if (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*name)) return 0;
    pat++;
    plen--;
    name++;
  }
  return !*name;
}

typedef enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN } list_filter_t;

static int list_match(const dyna_cmd_t *cmd, list_filter_t f, const uint8_t *arg, size_t len) {
  switch (f) {
  case FILTER_NONE: return 1;
  case FILTER_MODULE: return 0; /* no modules */
  case FILTER_ACLCAT:
    for (uint32_t i = 0; i < ACL_BITS; i++) {
      const char *name = dyna_acl_name(1u << i) + 1; /* without the '@' */
      if ((cmd->acl >> i & 1) && strlen(name) == len && !strncasecmp(name, (const char *)arg, len)) return 1;
    }
    return 0;
  case FILTER_PATTERN: return glob_match((const char *)arg, len, cmd->name);
  }
  return 0;
}

void dyna_cmd_command_list(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  list_filter_t f = FILTER_NONE;
  const uint8_t *arg = NULL;
  size_t len = 0;
  if (a->argc != 2) {
    if (a->argc != 5 || !dyna_arg_is(a, 2, "FILTERBY")) { dyna_conn_answer_syntax_error(c, NULL); return; }
    if (dyna_arg_is(a, 3, "MODULE")) f = FILTER_MODULE;
    else if (dyna_arg_is(a, 3, "ACLCAT")) f = FILTER_ACLCAT;
    else if (dyna_arg_is(a, 3, "PATTERN")) f = FILTER_PATTERN;
    else { dyna_conn_answer_syntax_error(c, NULL); return; }
    arg = dyna_arg(a, 4);
    len = dyna_arg_len(a, 4);
  }
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++) {
    dyna_buf_t *b = pass ? dyna_conn_answer_now(c) : NULL;
    if (b) dyna_resp_put_array(b, n);
    for (size_t i = 0; i < dyna_cmd_count(); i++) {
      const dyna_cmd_t *cmd = dyna_cmd_at(i);
      for (size_t k = 0; k <= cmd->nsubs; k++) {
        const dyna_cmd_t *x = k ? &cmd->subs[k - 1] : cmd;
        if (!list_match(x, f, arg, len)) continue;
        if (b) dyna_resp_put_bulk_str(b, x->name);
        else n++;
      }
    }
    if (b) finish(c, b);
  }
}

/* Calls fn (when not NULL) for each key argument of the command line at arguments
 * base .. base + n - 1 of a, as cmd's key specs find them, in spec order. Returns the
 * number of keys, or -1 when a key count argument is not a count the line can hold. */
typedef void key_fn_t(void *ctx, const dyna_args_t *a, size_t i, const char *flags);
static long each_key(const dyna_cmd_t *cmd, const dyna_args_t *a, size_t base, size_t n, key_fn_t *fn, void *ctx) {
  dyna_key_spec_t one;
  const dyna_key_spec_t *specs = cmd->specs;
  size_t nspecs = cmd->nspecs;
  if (!specs) {
    if (!cmd->key_flags) return 0;
    one = range_spec(cmd);
    specs = &one;
    nspecs = 1;
  }
  long count = 0;
  for (size_t k = 0; k < nspecs; k++) {
    const dyna_key_spec_t *ks = &specs[k];
    size_t begin = (size_t)ks->begin, first, step, last; /* positions in the line */
    if (begin >= n) continue;
    if (ks->keynum) {
      size_t at = begin + (size_t)ks->a;
      char num[24], *end;
      if (at >= n || dyna_arg_str(a, base + at, num, sizeof(num))) return -1;
      long long nk = strtoll(num, &end, 10);
      step = (size_t)ks->c;
      first = begin + (size_t)ks->b;
      if (*end || !num[0] || nk <= 0 || step == 0 || first >= n ||
          (unsigned long long)nk > (n - first + step - 1) / step)
        return -1;
      last = first + ((size_t)nk - 1) * step;
    } else {
      step = (size_t)ks->b;
      first = begin;
      long l = ks->a < 0 ? (long)n + ks->a : (long)begin + ks->a;
      if (l < (long)first || step == 0) continue;
      last = (size_t)l < n ? (size_t)l : n - 1;
    }
    for (size_t i = first; i <= last; i += step) {
      if (fn) fn(ctx, a, base + i, ks->flags);
      count++;
    }
  }
  return count;
}

/* Where GETKEYS writes its keys: the answer and the client's protocol. */
typedef struct {
  dyna_buf_t *b;
  int proto;
} keys_out_t;

static void put_key(void *ctx, const dyna_args_t *a, size_t i, const char *flags) {
  keys_out_t *o = ctx;
  (void)flags;
  dyna_resp_put_bulk(o->b, dyna_arg(a, i), dyna_arg_len(a, i));
}

static void put_key_flags(void *ctx, const dyna_args_t *a, size_t i, const char *flags) {
  keys_out_t *o = ctx;
  dyna_resp_put_array(o->b, 2);
  dyna_resp_put_bulk(o->b, dyna_arg(a, i), dyna_arg_len(a, i));
  put_words(o->b, o->proto, flags, 1);
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS: the row of the command line after the subcommand,
 * its arity checked, then its keys as its key specs find them (Redis 7.0's words). */
static void getkeys(conn_t *c, const dyna_args_t *a, key_fn_t *fn) {
  const dyna_cmd_t *cmd = dyna_cmd_lookup(dyna_arg(a, 2), dyna_arg_len(a, 2));
  size_t n = a->argc - 2; /* the command line asked about, its name included */
  if (!cmd) { dyna_conn_answer_error(c, DYNA_WORD_ERR " Invalid command specified"); return; }
  if (cmd->subs && n >= 2) {
    const dyna_cmd_t *sub = dyna_cmd_sub_lookup(cmd, dyna_arg(a, 3), dyna_arg_len(a, 3));
    if (sub) cmd = sub;
  }
  if (!dyna_cmd_arity_ok(cmd->arity, n)) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " Invalid number of arguments specified for command");
    return;
  }
  if (!cmd->key_flags && !cmd->specs) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " The command has no key arguments");
    return;
  }
  long nkeys = each_key(cmd, a, 2, n, NULL, NULL);
  if (nkeys <= 0) { dyna_conn_answer_error(c, DYNA_WORD_ERR " Invalid arguments specified for command"); return; }
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, (size_t)nkeys);
  keys_out_t out = {b, c->proto};
  each_key(cmd, a, 2, n, fn, &out);
  finish(c, b);
}

long dyna_cmd_each_key(const dyna_cmd_t *cmd, const dyna_args_t *a, dyna_cmd_key_fn_t *fn, void *ctx) {
  return each_key(cmd, a, 0, a->argc, fn, ctx);
}

void dyna_cmd_command_getkeys(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  getkeys(c, a, put_key);
}

void dyna_cmd_command_getkeysandflags(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  getkeys(c, a, put_key_flags);
}
