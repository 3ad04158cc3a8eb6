/* nfq_delay.c: a test tool that delays packets by a fixed time, for the tests' "slow
 * network" faults (a WAN between data centres, the campaign's delayed packets) on a kernel
 * without the netem qdisc. iptables hands the packets to an NFQUEUE queue; this program
 * binds that queue, holds each packet MS milliseconds, then lets it go on (NF_ACCEPT):
 *
 *   nfq_delay QNUM MS &
 *   iptables -A OUTPUT -s A -d B -j NFQUEUE --queue-num QNUM --queue-bypass
 *
 * It never looks at or changes a packet: it asks the kernel for metadata only and gives
 * every verdict as ACCEPT, in arrival order (a FIFO of (packet id, due time); the delay is
 * the same for all, so the oldest is always the next due). The loop sleeps in ppoll until
 * the oldest packet is due or the queue's socket has news, whichever is first.
 *
 * Bounded: at most QUEUE_MAX packets held. The kernel queue has that length and is
 * "fail-open" (NFQA_CFG_F_FAIL_OPEN): a packet that finds it full is accepted at once,
 * undelayed, rather than dropped; so is one that finds our FIFO full. A flood therefore
 * loses its delay, never its packets. Verdicts are given in batches (every id up to the
 * newest due one), which also releases a packet whose notification the socket lost.
 *
 * It prints "nfq_delay: queue Q ready (MS ms)" on stdout once bound (callers wait for that line
 * before adding their rules). SIGTERM or SIGINT: accepts every packet held and every one
 * still arriving, then unbinds and exits 0. Remove the iptables rules first: packets that
 * arrive after the unbind go through undelayed (--queue-bypass), not dropped.
 *
 * It stops (as on SIGTERM) when its parent dies (PR_SET_PDEATHSIG; strictly, when the
 * parent's thread that started it ends: start and stop it from the same thread).
 *
 * Ownership: main owns everything (the library handles, the FIFO's array, the receive
 * buffer) and frees it on every exit path; the callback only appends to the FIFO.
 * Needs root (CAP_NET_ADMIN). Used by tests/integration/wan.py; not part of dynad. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 4096u              /* packets held at once (kernel queue and FIFO) */
#define RCVBUF_BYTES (8 << 20)       /* the socket's buffer: room for QUEUE_MAX notices */
#define RECV_BYTES 65536             /* one read from the socket */

struct held {
    uint32_t id;       /* the kernel's packet id (they increase in arrival order) */
    int64_t due_ns;    /* CLOCK_MONOTONIC time at which it is accepted */
};

/* The FIFO: a ring of QUEUE_MAX entries, oldest at head. */
struct fifo {
    struct held *ring;   /* owned by main */
    uint32_t head, len;
    int64_t delay_ns;
    uint64_t held_total, passed_full;  /* counts for the exit line */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Called by nfq_handle_packet for each queued packet: appends it to the FIFO, or
 * accepts it at once when the FIFO is full. Returns 0 (the library ignores it). */
static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data) {
    struct fifo *f = data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    (void)msg;
    if (ph == NULL)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (f->len == QUEUE_MAX) {
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        f->passed_full++;
        return 0;
    }
    struct held *h = &f->ring[(f->head + f->len) % QUEUE_MAX];
    h->id = id;
    h->due_ns = now_ns() + f->delay_ns;
    f->len++;
    f->held_total++;
    return 0;
}

/* Accepts every held packet due at or before t (all of them when t is INT64_MAX) with one
 * batch verdict. Returns -1 when the verdict could not be sent, else 0. */
static int release_due(struct nfq_q_handle *qh, struct fifo *f, int64_t t) {
    uint32_t last = 0, n = 0;
    while (f->len > 0 && f->ring[f->head].due_ns <= t) {
        last = f->ring[f->head].id;
        f->head = (f->head + 1) % QUEUE_MAX;
        f->len--;
        n++;
    }
    if (n > 0 && nfq_set_verdict_batch(qh, last, NF_ACCEPT) < 0) {
        fprintf(stderr, "nfq_delay: verdict: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads every notice waiting on fd without blocking and hands it to the library (which
 * calls on_packet). Returns 0, or -1 on a socket error other than "nothing more". */
static int drain(struct nfq_handle *h, int fd, char *buf) {
    for (;;) {
        ssize_t r = recv(fd, buf, RECV_BYTES, MSG_DONTWAIT);
        if (r > 0) {
            nfq_handle_packet(h, buf, (int)r);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == ENOBUFS) {   /* notices lost: the next batch verdict covers them */
            fprintf(stderr, "nfq_delay: socket overrun (ENOBUFS)\n");
            continue;
        }
        fprintf(stderr, "nfq_delay: recv: %s\n", r < 0 ? strerror(errno) : "end of stream");
        return -1;
    }
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    unsigned long qnum, ms;
    if (argc != 3 || parse_uint(argv[1], 65535, &qnum) < 0 || parse_uint(argv[2], 60000, &ms) < 0) {
        fprintf(stderr, "usage: nfq_delay QNUM MS   (QNUM 0..65535, MS 0..60000; needs root)\n");
        return 2;
    }
    int rc = 1;
    struct nfq_handle *h = NULL;
    struct nfq_q_handle *qh = NULL;
    struct fifo f = {.ring = calloc(QUEUE_MAX, sizeof(struct held)),
                     .delay_ns = (int64_t)ms * 1000000};
    char *buf = malloc(RECV_BYTES);
    if (f.ring == NULL || buf == NULL) {
        fprintf(stderr, "nfq_delay: out of memory\n");
        goto out;
    }

    /* SIGTERM/SIGINT stay blocked except inside ppoll, so a stop is never missed. */
    sigset_t stops, during_poll;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, &during_poll);
    sigdelset(&during_poll, SIGTERM);
    sigdelset(&during_poll, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A caller killed with SIGKILL cannot stop us: its death does (no orphan holds the queue). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        goto out;

    h = nfq_open();
    if (h == NULL) {
        fprintf(stderr, "nfq_delay: nfq_open: %s (root?)\n", strerror(errno));
        goto out;
    }
    qh = nfq_create_queue(h, (uint16_t)qnum, on_packet, &f);
    if (qh == NULL) {
        fprintf(stderr, "nfq_delay: queue %lu: %s (taken by another program?)\n", qnum, strerror(errno));
        goto out;
    }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, QUEUE_MAX) < 0 ||
        nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
        fprintf(stderr, "nfq_delay: queue %lu settings: %s\n", qnum, strerror(errno));
        goto out;
    }
    int fd = nfq_fd(h);
    int bytes = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);

    printf("nfq_delay: queue %lu ready (%lu ms)\n", qnum, ms);
    fflush(stdout);

    while (!stop_signal) {
        struct timespec wait, *waitp = NULL;
        if (f.len > 0) {
            int64_t left = f.ring[f.head].due_ns - now_ns();
            if (left < 0)
                left = 0;
            wait.tv_sec = left / 1000000000;
            wait.tv_nsec = left % 1000000000;
            waitp = &wait;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = ppoll(&pfd, 1, waitp, &during_poll);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "nfq_delay: ppoll: %s\n", strerror(errno));
            goto out;
        }
        if (n > 0 && drain(h, fd, buf) < 0)
            goto out;
        if (release_due(qh, &f, now_ns()) < 0)
            goto out;
    }
    rc = 0;

out:
    /* Whatever ended the loop: nothing held stays held. Packets still arriving are taken
     * and let go until the socket is quiet, then the queue is unbound. */
    if (qh != NULL) {
        release_due(qh, &f, INT64_MAX);
        if (buf != NULL && drain(h, nfq_fd(h), buf) == 0)
            release_due(qh, &f, INT64_MAX);
        nfq_destroy_queue(qh);
    }
    if (h != NULL)
        nfq_close(h);
    if (rc == 0)
        fprintf(stderr, "nfq_delay: queue %lu: %llu packets held %lu ms, %llu passed at once (full)\n",
                qnum, (unsigned long long)f.held_total, ms, (unsigned long long)f.passed_full);
    free(buf);
    free(f.ring);
    return rc;
}
