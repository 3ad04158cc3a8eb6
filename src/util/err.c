/* err.c: names for Dyna's error codes. */
#include "util/err.h"

const char *dyna_strerror(int err) {
  switch (err) {
  case DYNA_OK: return "success";
  case DYNA_ENOMEM: return "out of memory";
  case DYNA_EINVAL: return "invalid argument";
  case DYNA_ENOTFOUND: return "not found";
  case DYNA_ETOOBIG: return "too big";
  case DYNA_ECORRUPT: return "corrupt data";
  case DYNA_EIO: return "I/O error";
  case DYNA_ENOQUORUM: return "quorum not reached";
  case DYNA_EBUSY: return "busy";
  case DYNA_ETIMEDOUT: return "timed out";
  case DYNA_ELOCKED: return "data directory locked by another process";
  case DYNA_ECONTEXT: return "invalid context";
  case DYNA_EFULL: return "storage full";
  case DYNA_EPROTO: return "protocol error";
  case DYNA_ECONN: return "connection error";
  case DYNA_EAGAIN: return "incomplete input";
  case DYNA_EREMOTE: return "server error";
  case DYNA_ERANGE: return "increment or decrement would overflow";
  default: return "unknown error";
  }
}
