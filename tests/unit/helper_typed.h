/* helper_typed.h: the harness the typed-command unit tests (test_typed_set, _hash, _zset,
 * _list, _counter, _keys) share: run a command line on an object through
 * dyna_typed_find, check or render its RESP reply, compare and merge objects, build
 * string keys. Every failure is a cmocka failure of the calling test. Linked only into
 * the test_typed_* tests (CMakeLists.txt): it needs the core and proto. */
#ifndef DYNA_TEST_HELPER_TYPED_H
#define DYNA_TEST_HELPER_TYPED_H
#include <stddef.h>
#include <stdint.h>

#include "core/object.h"
#include "core/typed.h"
#include "util/buf.h"

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

/* Command lines: split at spaces, at most 64 arguments, 1023 bytes. */

/* Parses resp (exactly one RESP reply; freed here) and renders it: ":n", "-msg",
 * "$bytes", "nil", "+ok", "[a,b]". Returns a static buffer, valid until the next call. */
const char *typed_parse_one(dyna_buf_t *resp);

/* Runs line on o (write or read); *changed := the write's changed flag (0 for a read).
 * Returns the one reply rendered as typed_parse_one does. */
const char *typed_render_run(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, int *changed);

/* Runs line on o ("get" runs dyna_typed_get); asserts the reply is the RESP bytes want;
 * returns *changed (reads: 0). */
int typed_expect(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, const char *want);

/* typed_expect that must also leave o exactly as it was (errors, no-op answers). */
void typed_expect_unchanged(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, const char *want);

/* Runs line ("\\e" stands for an empty argument) on o with *env as actor; checks the RESP
 * reply is want and, for a write, that *changed is want_changed (TYPED_EITHER: not
 * checked) and that an unchanged object is byte-equal to before. */
#define TYPED_EITHER -1
void typed_tx(dyna_obj_t *o, const dyna_tenv_t *env, uint64_t actor, const char *line, const char *want,
              int want_changed);

/* The canonical encoding of o (the caller frees it with dyna_buf_free). */
dyna_buf_t typed_enc(const dyna_obj_t *o);

/* Asserts a and b encode to the same bytes. */
void typed_same_bytes(const dyna_obj_t *a, const dyna_obj_t *b);

/* Asserts a and b encode to the same bytes and dyna_obj_equal says so too. */
void typed_same(const dyna_obj_t *a, const dyna_obj_t *b);

/* *ab := a merged with b, *ba := b merged with a (both initialised here; the caller
 * clears them); asserts they encode the same. */
void typed_merge_both(const dyna_obj_t *a, const dyna_obj_t *b, dyna_obj_t *ab, dyna_obj_t *ba);

/* a := a merged with b and b := b merged with the old a, in place; asserts they encode
 * the same. */
void typed_merge_both_ways(dyna_obj_t *a, dyna_obj_t *b);

/* *dst := a copy of src (initialised here; the caller clears it). */
void typed_copy(dyna_obj_t *dst, const dyna_obj_t *src);

/* A plain string key (a register value "x" by actor 9), as SET leaves it. */
void typed_make_string(dyna_obj_t *o);

/* SET key v by actor at wall time ts as the register path does (a write that
 * supersedes the typed kinds). */
void typed_set_str(dyna_obj_t *o, uint64_t actor, const char *v, uint64_t ts);

/* An environment: actor, now, rand seed 42. */
dyna_tenv_t typed_env(uint64_t actor, uint64_t now);

/* How many times c occurs in s. */
int typed_count_char(const char *s, char c);

#endif
