/* peer.h: dynad's links to other nodes (the inter-node transport).
 *
 * Each node dials every other member once and sends only on that outgoing link; it
 * receives on the links others dialled to it. So each pair of nodes has two TCP
 * connections, one per direction, and no tie-breaking is needed.
 *
 *   dialer                                   acceptor
 *   connect (source bound to own cluster IP) ─▶
 *   HELLO(magic, version, cluster, id, addr) ─▶ checks; closes with a logged reason
 *                                          ◀─ HELLO (so the dialer learns the id)
 *   frames ─────────────────────────────────▶ dyna_node_on_message(from = id)
 *
 * With --cluster-secret-file each HELLO also carries a nonce, an AUTH proof goes each way
 * after them (the dialer's first), and every later frame is followed by its tag; frames
 * queued meanwhile wait in the link's pend buffer (runtime/peer_auth.h,
 * proto/peer_auth.h). A failed proof or tag, or no handshake within 10 s, closes the link
 * with a warning naming the socket's peer address.
 *
 * A link whose HELLO checks out marks the peer reachable for the node; a failed or
 * closed link marks it unreachable and is redialled with backoff. Messages queued to a
 * peer beyond max-peer-output-bytes are dropped (counted): a slow peer cannot make this
 * node buffer without bound; requests then time out and handoff retries.
 *
 * Two lanes per link. A frame no request waits on (the node's dyna_outmsg_t.bulk:
 * anti-entropy, transfers and hints, read repair, a LOCAL write's copies to other sites)
 * waits in the link's bulk lane and joins the output a window (64 KiB) at a time, and
 * the kernel keeps at most about 64 KiB unsent (TCP_NOTSENT_LOWAT); every other frame
 * joins the output at once. So when a link carries less than it is given (a WAN between
 * sites), a request's frames wait behind at most about 128 KiB of background traffic,
 * not behind all of it; the backlog waits in the lane. max-peer-output-bytes bounds
 * each lane (a full bulk lane drops bulk frames, never a request's). Each lane keeps its
 * own order.
 */
#ifndef DYNA_PEER_H
#define DYNA_PEER_H
#include "util/buf.h"
#include <stdint.h>

struct dyna_server;
typedef struct dyna_peers dyna_peers_t;

typedef struct dyna_peer_stats {
  uint64_t frames_in, frames_out, bytes_in, bytes_out, dropped, refused, connects;
  uint64_t bulk_frames; /* frames that went through a bulk lane */
} dyna_peer_stats_t;

/* Starts listening on the cluster address. Returns 0 or -1 with a reason in err. */
int dyna_peers_open(struct dyna_server *s, dyna_peers_t **out, char *err, size_t errlen);
/* Closes every link (handles finish closing in the loop). */
void dyna_peers_close(dyna_peers_t *p);
void dyna_peers_free(dyna_peers_t *p);
/* Queues a copy of frame for node `to`, dialling it if needed (the caller keeps frame). The
 * frame leaves at the next dyna_peers_flush; a bulk one (no request waits on it) when
 * its lane's turn comes. */
void dyna_peers_send(dyna_peers_t *p, uint64_t to, const dyna_buf_t *frame, int bulk);
/* Bytes waiting in the links' bulk lanes. */
uint64_t dyna_peers_bulk_waiting(const dyna_peers_t *p);
/* Writes the frames queued since the last call: one write per link. The server calls it
 * at the end of every loop turn, and the group commit before it syncs. */
void dyna_peers_flush(dyna_peers_t *p);
/* Dials addr (HOST:PORT) and, once its HELLO names it, asks it to let us join. */
int dyna_peers_join(dyna_peers_t *p, const char *addr);
/* Periodic: keeps links to every live member, redials failed ones. */
void dyna_peers_tick(dyna_peers_t *p);
int dyna_peers_is_up(const dyna_peers_t *p, uint64_t id);
const dyna_peer_stats_t *dyna_peers_stats(const dyna_peers_t *p);

#endif
