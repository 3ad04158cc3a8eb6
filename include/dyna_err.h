/* dyna_err.h: Dyna's error codes, shared by the server and the client library.
 *
 * 0 (DYNA_OK) is success; every error is a negative code in the range Dyna reserves,
 * DYNA_ERR_FIRST (-30001) down to DYNA_ERR_RESERVED_END (-30999), so a code never collides
 * with an errno value (positive, or negated as some libraries return them) or with
 * another library's codes. A code keeps its value and meaning for good: new codes are
 * added below the last one (and DYNA_ELAST moves), none is ever renumbered or reused.
 * DYNA_ELAST is one past the last code in use, for tables indexed by code
 * (index = DYNA_ERR_FIRST - code, for codes in (DYNA_ELAST, DYNA_ERR_FIRST]).
 *
 * Which calls return which codes is written at each call in dyna.h. */
#ifndef DYNA_ERR_PUBLIC_H
#define DYNA_ERR_PUBLIC_H
#include "dyna_api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DYNA_OK = 0,
  DYNA_ENOMEM = -30001,    /* allocation failed */
  DYNA_EINVAL = -30002,    /* malformed request or argument, or a call made where it may not be */
  DYNA_ENOTFOUND = -30003, /* no such key / record */
  DYNA_ETOOBIG = -30004,   /* key, value or request over its limit */
  DYNA_ECORRUPT = -30005,  /* stored or received bytes fail to decode */
  DYNA_EIO = -30006,       /* storage or OS I/O error */
  DYNA_ENOQUORUM = -30007, /* too few replicas answered in time */
  DYNA_EBUSY = -30008,     /* overloaded; try again */
  DYNA_ETIMEDOUT = -30009, /* no answer in time */
  DYNA_ELOCKED = -30010,   /* data directory in use by another process */
  DYNA_ECONTEXT = -30011,  /* a causal context that does not decode */
  DYNA_EFULL = -30012,     /* storage full */
  DYNA_EPROTO = -30013,    /* protocol violation by a peer or server */
  DYNA_ECONN = -30014,     /* connection failed or closed */
  DYNA_EAGAIN = -30015,    /* not yet: more input needed */
  DYNA_EREMOTE = -30016,   /* the server answered with an error (see its message) */
  DYNA_ERANGE = -30017,    /* a number's result would not fit (an increment or decrement
                              would overflow) */
  DYNA_ELAST = -30018
};

/* The reserved range: every DYNA_E* code c satisfies DYNA_ERR_IS_DYNA(c). */
#define DYNA_ERR_FIRST (-30001)
#define DYNA_ERR_RESERVED_END (-30999)
#define DYNA_ERR_IS_DYNA(c) ((c) <= DYNA_ERR_FIRST && (c) >= DYNA_ERR_RESERVED_END)

/** A human-readable name for a code.
 * @param[in] err  0, a DYNA_E* code, or anything else
 * @return a static string, never NULL ("success" for 0, "unknown error" for a code
 *         Dyna does not define); the caller must not free it.
 * Errors: none. Thread-safe: may be called from any thread at any time. */
DYNA_API const char *dyna_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
