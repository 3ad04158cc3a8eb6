/* typed_list.c: the list commands over an object (typed.h). Not written yet: the family
 * has no command, so dyna_typed_find answers none of them. */
#include "core/typed.h"

const dyna_typed_cmd_t dyna_typed_list_cmds[] = {{0}};
