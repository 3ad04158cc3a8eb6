/* bench/peer_auth.c: what the cluster secret costs per peer frame (runtime/peer_auth.c):
 * one dialer seals and one acceptor opens frames of a few sizes after a handshake, and
 * the handshake itself (both proofs and the session key). A benchmark, not a test: it
 * prints CPU ns per operation (the thread's CPU clock, best of 5 runs) and never fails on them.
 *
 *   build/bench/bench_peer_auth [frames per size]   (default 200000)
 *
 * Under `valgrind --tool=callgrind` it gives instructions instead of time (run it with a
 * small count: docs/performance.md, The cluster secret). */
#include "runtime/peer_auth.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void handshake(dyna_peer_auth_t *d, dyna_peer_auth_t *a, const dyna_auth_keys_t *k) {
  uint8_t nd[DYNA_AUTH_NONCE], na[DYNA_AUTH_NONCE], proof[DYNA_AUTH_PROOF];
  memset(nd, 1, sizeof(nd));
  memset(na, 2, sizeof(na));
  dyna_peer_auth_init(d, k, DYNA_AUTH_DIALER, "dyna", 1, nd);
  dyna_peer_auth_init(a, k, DYNA_AUTH_ACCEPTOR, "dyna", 2, na);
  if (dyna_peer_auth_peer(a, 1, nd) || dyna_peer_auth_peer(d, 2, na)) exit(1);
  dyna_peer_auth_prove(d, proof);
  if (dyna_peer_auth_verify(a, proof, sizeof(proof))) exit(1);
  dyna_peer_auth_prove(a, proof);
  if (dyna_peer_auth_verify(d, proof, sizeof(proof))) exit(1);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n < 1) n = 1;
  const char *text = "bench-secret-0123456789abcdef0123456789";
  dyna_auth_keys_t k;
  char err[128];
  if (dyna_auth_keys_parse(text, strlen(text), &k, err, sizeof(err))) return 1;
  static uint8_t frame[16384];
  memset(frame, 0x5a, sizeof(frame));
  printf("%-24s %12s %12s\n", "operation", "ns each", "MB/s");
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    long m = n / 100 + 1;
    double t0 = now_ns();
    for (long i = 0; i < m; i++) {
      dyna_peer_auth_t d, a;
      handshake(&d, &a, &k);
      dyna_peer_auth_free(&d);
      dyna_peer_auth_free(&a);
    }
    double t = (now_ns() - t0) / (double)m;
    if (t < best) best = t;
  }
  printf("%-24s %12.0f %12s\n", "handshake (both sides)", best, "-");
  const size_t sizes[] = {32, 128, 1024, 16384};
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    best = 1e30;
    for (int r = 0; r < 5; r++) {
      dyna_peer_auth_t d, a;
      handshake(&d, &a, &k);
      uint8_t tag[DYNA_AUTH_TAG];
      double t0 = now_ns();
      for (long i = 0; i < n; i++) {
        if (dyna_peer_auth_seal(&d, frame, sizes[s], tag) || dyna_peer_auth_open(&a, frame, sizes[s], tag)) return 1;
      }
      double t = (now_ns() - t0) / (double)n / 2; /* per seal or open */
      if (t < best) best = t;
      dyna_peer_auth_free(&d);
      dyna_peer_auth_free(&a);
    }
    char name[40];
    snprintf(name, sizeof(name), "tag a %zu-byte frame", sizes[s]);
    printf("%-24s %12.0f %12.0f\n", name, best, (double)sizes[s] / best * 1e3);
  }
  return 0;
}
