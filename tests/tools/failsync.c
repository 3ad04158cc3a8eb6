/* failsync.c: a test-only LD_PRELOAD shim (libdyna_failsync.so) that makes fsync and
 * fdatasync fail with EIO while the file named by the environment variable
 * DYNA_FAILSYNC_FLAG exists: a disk whose flushes fail, switched on and off from a test
 * (tests/integration/test_commitfail.py). Without the variable it changes nothing.
 * Works for dynamically linked programs only; the real calls are found with
 * dlsym(RTLD_NEXT). Built by CMake from tests/tools/; never part of dynad. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int failing(void) {
  const char *flag = getenv("DYNA_FAILSYNC_FLAG");
  return flag && *flag && access(flag, F_OK) == 0;
}

static int call(const char *name, int fd) {
  if (failing()) {
    errno = EIO;
    return -1;
  }
  sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

int fsync(int fd) { return call("fsync", fd); }
int fdatasync(int fd) { return call("fdatasync", fd); }
