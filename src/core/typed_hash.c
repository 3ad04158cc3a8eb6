/* typed_hash.c: the hash commands over an object (typed.h). Not written yet: the family
 * has no command, so dyna_typed_find answers none of them. */
#include "core/typed.h"

const dyna_typed_cmd_t dyna_typed_hash_cmds[] = {{0}};
