/* words.h: the words a RESP error reply starts with, defined once for the server (dynad
 * writes them) and the client library (libdyna reads them back into DYNA_E* codes).
 *
 *   dyna error code          word        example reply
 *   DYNA_ENOQUORUM     <->   NOQUORUM    -NOQUORUM 1 of 2 replicas answered
 *   DYNA_ETOOBIG       <->   TOOBIG      -TOOBIG value is 2000000 bytes, limit is 1048576
 *   DYNA_EBUSY         <->   BUSY        -BUSY ...
 *   DYNA_ETIMEDOUT     <->   TIMEOUT     -TIMEOUT ...
 *   DYNA_ECONTEXT      <->   ERR invalid context ...   (ERR, told apart by its first words)
 *   DYNA_ERANGE        <->   ERR increment or decrement would overflow   (Redis's text)
 *   anything else       ->   ERR         -ERR ...
 *   (read back) any other word  ->  DYNA_EREMOTE
 *
 * Words with no code of their own are here too, so that every reply that carries one
 * spells it the same way: NOPROTO (HELLO asks for another protocol), WRONGTYPE (a
 * command on a key of another type) and CROSSSLOT (keys of two partitions in a
 * transaction, RENAME or COPY). Pure: no I/O, no printing. */
#ifndef DYNA_PROTO_WORDS_H
#define DYNA_PROTO_WORDS_H
#include "util/buf.h"
#include <stddef.h>

#define DYNA_WORD_ERR "ERR"
#define DYNA_WORD_NOQUORUM "NOQUORUM"
#define DYNA_WORD_TOOBIG "TOOBIG"
#define DYNA_WORD_BUSY "BUSY"
#define DYNA_WORD_TIMEOUT "TIMEOUT"
#define DYNA_WORD_NOPROTO "NOPROTO"
#define DYNA_WORD_WRONGTYPE "WRONGTYPE" /* a command on a key of another type */
#define DYNA_WORD_CROSSSLOT "CROSSSLOT" /* keys of two partitions (cmd_multi.c, cmd_keys.c) */

/* The whole error a node answers when it could not allocate for a command. */
#define DYNA_ERR_OOM DYNA_WORD_ERR " out of memory"

/* The text after "ERR " that marks a context that does not decode (DYNA_ECONTEXT). */
#define DYNA_MSG_BAD_CONTEXT "invalid context"
/* The text after "ERR " of a number whose result would not fit (DYNA_ERANGE), as Redis
 * words it (INCR, HINCRBY ...). */
#define DYNA_MSG_OVERFLOW "increment or decrement would overflow"

/* The word an error reply for status starts with ("ERR" for any status without its own
 * word, 0 included). Never NULL; static. */
const char *dyna_word_of_status(int status);

/* The DYNA_E* code of an error reply's text msg (without the leading '-'), as the
 * client reports it: the code whose word msg starts with (a whole word: "BUSYX" is not
 * BUSY), DYNA_ECONTEXT for "ERR invalid context...", DYNA_ERANGE for "ERR increment or
 * decrement would overflow", else DYNA_EREMOTE. NULL gives
 * DYNA_EREMOTE. */
int dyna_word_status(const char *msg);

/* Appends the error reply "-WORD msg\r\n" for status: msg, or dyna_strerror(status) when
 * msg is NULL or empty. The line is cut at 255 bytes; CR and LF become spaces. */
void dyna_resp_put_status_error(dyna_buf_t *b, int status, const char *msg);

#endif
