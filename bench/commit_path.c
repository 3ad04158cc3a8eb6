/* bench/commit_path.c: what handing a log record to the disk costs the process, by way
 * of hand-off (issue 23: "measure io_uring for the log's write+fdatasync against the log
 * thread"). Each mode commits COUNT records of SIZE bytes, one after another, each a
 * pwrite into a zero-filled file and an fdatasync, the way dynad's log commits a batch
 * (src/store/lmdb_batch.c, wal.c), and the "loop" (the main thread) learns of each
 * through epoll as dynad's libuv loop does:
 *
 *   thread  the loop queues the record under a mutex and signals a condition variable;
 *           a log thread writes and fdatasyncs it, then writes an eventfd (what
 *           uv_async_send does); the loop wakes from epoll_wait and reads the eventfd.
 *           This is dynad's path today.
 *   uring   the loop submits a pwrite and an fdatasync linked in one io_uring
 *           submission; the ring signals an eventfd registered with it on completion;
 *           the loop wakes from epoll_wait, reads the eventfd and reaps the completions.
 *   uring-sync  the loop writes the record itself (a pwrite into the page cache does
 *           not block for long) and submits only the fdatasync to the ring.
 *   inline  the loop writes and fdatasyncs itself (blocked meanwhile): no hand-off at
 *           all, the floor for the two above.
 *
 * Printed per commit: wall µs, CPU µs of the whole process (getrusage: every thread,
 * io_uring's kernel workers included, as they belong to the process), voluntary and
 * involuntary context switches. Rounds interleave the modes; the figures are medians.
 *
 * Usage: bench_commit_path [DIR] [COUNT] [SIZE] [ROUNDS]   (/var/tmp 2000 3000 3)
 * Built only where liburing is found (Debian liburing-dev). Not a test: it prints. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { M_THREAD, M_URING, M_URING_SYNC, M_INLINE, M_N };
static const char *mode_name[M_N] = {"thread", "uring", "uring-sync", "inline"};

typedef struct {
  double wall_us, cpu_us, vcsw, ivcsw; /* per commit */
} figures_t;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The log file: zero-filled ahead, as dyna_wal_prepare leaves it (an append overwrites
 * allocated blocks, so fdatasync writes no metadata). Owned by the caller (close it). */
static int open_log(const char *dir, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/commit_path.%d.tmp", dir, (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die("open");
  unlink(path);
  static char zero[1 << 16];
  for (size_t off = 0; off < bytes; off += sizeof(zero))
    if (pwrite(fd, zero, sizeof(zero), (off_t)off) != (ssize_t)sizeof(zero)) die("prefill");
  if (fsync(fd)) die("fsync");
  return fd;
}

static void wait_readable(int ep, int efd) {
  struct epoll_event ev;
  for (;;) {
    int n = epoll_wait(ep, &ev, 1, -1);
    if (n == 1) break;
    if (n < 0 && errno != EINTR) die("epoll_wait");
  }
  uint64_t v;
  if (read(efd, &v, sizeof(v)) != sizeof(v)) die("read eventfd");
}

/* ---- thread: dynad's log thread ---- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fd, efd, quit;
  uint64_t pushed, written;
  const char *rec;
  size_t size;
} logq_t;

static void *log_main(void *arg) {
  logq_t *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->quit && q->written == q->pushed) pthread_cond_wait(&q->cv, &q->mu);
    if (q->written == q->pushed) break;
    uint64_t to = q->pushed;
    pthread_mutex_unlock(&q->mu);
    if (pwrite(q->fd, q->rec, q->size, (off_t)((to - 1) * q->size)) != (ssize_t)q->size) die("pwrite");
    if (fdatasync(q->fd)) die("fdatasync");
    uint64_t one = 1;
    if (write(q->efd, &one, sizeof(one)) != sizeof(one)) die("write eventfd");
    pthread_mutex_lock(&q->mu);
    q->written = to;
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

static void run_thread(int fd, int ep, int efd, const char *rec, size_t size, size_t count) {
  logq_t q = {.fd = fd, .efd = efd, .rec = rec, .size = size};
  pthread_mutex_init(&q.mu, NULL);
  pthread_cond_init(&q.cv, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, log_main, &q)) die("pthread_create");
  for (size_t i = 1; i <= count; i++) {
    pthread_mutex_lock(&q.mu);
    q.pushed = i;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    wait_readable(ep, efd);
  }
  pthread_mutex_lock(&q.mu);
  q.quit = 1;
  pthread_cond_signal(&q.cv);
  pthread_mutex_unlock(&q.mu);
  pthread_join(t, NULL);
  pthread_cond_destroy(&q.cv);
  pthread_mutex_destroy(&q.mu);
}

/* ---- uring: write and fdatasync linked, completion through a registered eventfd ---- */

static void run_uring(int fd, int ep, int efd, const char *rec, size_t size, size_t count, int write_inline) {
  struct io_uring ring;
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc < 0) {
    errno = -rc;
    die("io_uring_queue_init");
  }
  if (io_uring_register_eventfd(&ring, efd) < 0) die("io_uring_register_eventfd");
  for (size_t i = 0; i < count; i++) {
    int sqes = 1;
    if (write_inline) {
      if (pwrite(fd, rec, size, (off_t)(i * size)) != (ssize_t)size) die("pwrite");
    } else {
      struct io_uring_sqe *w = io_uring_get_sqe(&ring);
      io_uring_prep_write(w, fd, rec, (unsigned)size, (uint64_t)(i * size));
      w->flags |= IOSQE_IO_LINK;
      sqes = 2;
    }
    io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, IORING_FSYNC_DATASYNC);
    if (io_uring_submit(&ring) != sqes) die("io_uring_submit");
    for (int done = 0; done < sqes;) {
      wait_readable(ep, efd);
      struct io_uring_cqe *cqe;
      while (io_uring_peek_cqe(&ring, &cqe) == 0) {
        if (cqe->res < 0) {
          errno = -cqe->res;
          die("io_uring completion");
        }
        io_uring_cqe_seen(&ring, cqe);
        done++;
      }
    }
  }
  io_uring_queue_exit(&ring);
}

static void run_inline(int fd, const char *rec, size_t size, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (pwrite(fd, rec, size, (off_t)(i * size)) != (ssize_t)size) die("pwrite");
    if (fdatasync(fd)) die("fdatasync");
  }
}

static figures_t measure(int mode, const char *dir, const char *rec, size_t size, size_t count) {
  int fd = open_log(dir, count * size + (1 << 16));
  int efd = eventfd(0, EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (efd < 0 || ep < 0) die("eventfd/epoll");
  struct epoll_event ev = {.events = EPOLLIN};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) die("epoll_ctl");
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = now_us();
  if (mode == M_THREAD) run_thread(fd, ep, efd, rec, size, count);
  else if (mode == M_URING || mode == M_URING_SYNC) run_uring(fd, ep, efd, rec, size, count, mode == M_URING_SYNC);
  else run_inline(fd, rec, size, count);
  double t1 = now_us();
  getrusage(RUSAGE_SELF, &r1);
  close(ep);
  close(efd);
  close(fd);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
               (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  figures_t f = {(t1 - t0) / count, cpu / count, (double)(r1.ru_nvcsw - r0.ru_nvcsw) / count,
                 (double)(r1.ru_nivcsw - r0.ru_nivcsw) / count};
  return f;
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/var/tmp";
  size_t count = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
  size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 3000;
  int rounds = argc > 4 ? atoi(argv[4]) : 3;
  if (!count || !size || rounds < 1 || rounds > 64) {
    fprintf(stderr, "usage: %s [DIR] [COUNT] [SIZE] [ROUNDS<=64]\n", argv[0]);
    return 2;
  }
  char *rec = malloc(size);
  if (!rec) die("malloc");
  memset(rec, 'x', size);
  double v[M_N][4][64];
  for (int r = 0; r < rounds; r++)
    for (int m = 0; m < M_N; m++) {
      figures_t f = measure(m, dir, rec, size, count);
      v[m][0][r] = f.wall_us, v[m][1][r] = f.cpu_us, v[m][2][r] = f.vcsw, v[m][3][r] = f.ivcsw;
      fprintf(stderr, "round %d %-6s wall %.1f us cpu %.1f us vcsw %.2f ivcsw %.2f\n", r + 1, mode_name[m],
              f.wall_us, f.cpu_us, f.vcsw, f.ivcsw);
    }
  printf("%zu commits of %zu B into %s, %d rounds, medians per commit\n", count, size, dir, rounds);
  printf("| mode | wall us | CPU us | voluntary ctx sw | involuntary |\n|---|---:|---:|---:|---:|\n");
  for (int m = 0; m < M_N; m++)
    printf("| %s | %.1f | %.1f | %.2f | %.2f |\n", mode_name[m], median(v[m][0], rounds), median(v[m][1], rounds),
           median(v[m][2], rounds), median(v[m][3], rounds));
  free(rec);
  return 0;
}
