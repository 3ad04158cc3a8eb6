/* dyna_err.h: Dyna's error codes, shared by the server and the client library.
 * 0 is success; errors are negative codes in a reserved range so they never collide
 * with errno values, and dyna_strerror() names them. */
#ifndef DYNA_ERR_PUBLIC_H
#define DYNA_ERR_PUBLIC_H

enum {
  DYNA_OK = 0,
  DYNA_ENOMEM = -30001,    /* allocation failed */
  DYNA_EINVAL = -30002,    /* malformed request or argument */
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
  DYNA_ELAST = -30017
};

/* Returns a static, human-readable name for err (never NULL). */
const char *dyna_strerror(int err);

#endif
