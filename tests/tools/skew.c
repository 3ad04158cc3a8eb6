/* skew.c: an LD_PRELOAD shim for tests that steps a process's wall clock, as NTP or a
 * resumed VM would. It interposes clock_gettime and adds an offset to CLOCK_REALTIME and
 * CLOCK_REALTIME_COARSE only; every other clock (CLOCK_MONOTONIC, libuv's uv_now) is left
 * alone. The offset, in whole seconds (e.g. "3600", "-3600"), is read from the file named
 * by DYNA_SKEW_FILE, at most every 50 ms of real monotonic time; a missing or unreadable
 * file means 0.
 *
 *   LD_PRELOAD=.../libdyna_skew.so DYNA_SKEW_FILE=f dynad ...;  echo 3600 > f
 *
 * Why not libfaketime: it recurses inside jemalloc's clock_gettime. This shim calls the
 * kernel directly (syscall, no dlsym) and reads the file with open/read, so it never
 * allocates and never re-enters itself. Used by tests/integration/test_clock.py; it is
 * not part of dynad. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REREAD_NS 50000000ll

static int64_t offset_s;      /* the offset in force */
static int64_t next_read_ns;  /* monotonic time of the next look at the file */
static int reading;           /* a thread is reading the file (others use offset_s) */

static int real_gettime(clockid_t id, struct timespec *ts) {
  return (int)syscall(SYS_clock_gettime, id, ts);
}

/* Parses an optionally signed decimal number of seconds; 0 on anything else. */
static int64_t parse_seconds(const char *p, ssize_t n) {
  int64_t v = 0, sign = 1;
  ssize_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  if (i < n && (p[i] == '-' || p[i] == '+')) sign = p[i++] == '-' ? -1 : 1;
  ssize_t start = i;
  while (i < n && p[i] >= '0' && p[i] <= '9' && v < 1000000000) v = v * 10 + (p[i++] - '0');
  return i > start ? sign * v : 0;
}

static void refresh(void) {
  struct timespec m;
  if (real_gettime(CLOCK_MONOTONIC, &m)) return;
  int64_t now = (int64_t)m.tv_sec * 1000000000ll + m.tv_nsec;
  if (now < __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED)) return;
  if (__atomic_exchange_n(&reading, 1, __ATOMIC_ACQUIRE)) return;
  const char *path = getenv("DYNA_SKEW_FILE");
  int64_t off = 0;
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd >= 0) {
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) off = parse_seconds(buf, n);
    close(fd);
  }
  __atomic_store_n(&offset_s, off, __ATOMIC_RELAXED);
  __atomic_store_n(&next_read_ns, now + REREAD_NS, __ATOMIC_RELAXED);
  __atomic_store_n(&reading, 0, __ATOMIC_RELEASE);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  int rc = real_gettime(id, ts);
  if (rc || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE)) return rc;
  refresh();
  ts->tv_sec += (time_t)__atomic_load_n(&offset_s, __ATOMIC_RELAXED);
  return 0;
}
