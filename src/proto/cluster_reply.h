/* cluster_reply.h: the answers of CLUSTER SLOTS, SHARDS, NODES and INFO, as Redis 7.0
 * shapes them, computed from the partition map (a dyna_ring_reply_t, the layout of
 * DYNA.RING) by pure functions, so that unit tests feed them canned maps. dynad's
 * CLUSTER family (src/runtime/cmd_cluster.c) builds the map from its cluster state
 * and answers with these.
 *
 *   partition map ──▶ slot ranges ──▶ CLUSTER SLOTS   [[first, last, master, replica...]...]
 *   (Q partitions,    (partition p     CLUSTER SHARDS  one shard per distinct preference list
 *    preference lists) = slots p*16384/Q   CLUSTER NODES   each member "master" of the ranges it
 *                        .. (p+1)*16384/Q-1;                heads, one line each
 *                        adjacent ones with   CLUSTER INFO    cluster_state:ok ...
 *                        the same list joined)
 *
 * A range's preference list is answered as Redis answers a master and its replicas: the
 * first node as the master, the others as replicas. Any node coordinates any key, so no
 * node ever answers -MOVED; a client routing by this map lands on a home replica of the
 * key (and saves the hop a non-replica coordinator makes).
 *
 * A node's Redis id (40 hex digits) is its 64-bit Dyna id in 16 hex digits followed by
 * 24 zeros: stable for the node's life, and readable beside DYNA.STATUS. */
#ifndef DYNA_PROTO_CLUSTER_REPLY_H
#define DYNA_PROTO_CLUSTER_REPLY_H
#include "proto/ring_reply.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_CLUSTER_ID_LEN 40

/* What the answers are made from. ring's members carry 16-hex-digit ids and client
 * addresses "host:port" ("[v6]:port"); a wildcard host (0.0.0.0, ::) is answered as ""
 * ("the host you connected to", as Redis answers an unknown address). */
typedef struct dyna_cluster_view {
  const dyna_ring_reply_t *ring;
  size_t self;            /* this node's index in ring->members */
  const uint8_t *down;    /* per member: 1 when this node judges it unreachable; NULL: none */
  const uint16_t *cport;  /* per member: its cluster (bus) port; NULL: 0 */
  uint64_t msgs_sent, msgs_received; /* inter-node messages, for CLUSTER INFO */
} dyna_cluster_view_t;

/* One slot range: slots first..last, whose preference list is partition p's. */
typedef struct dyna_slot_range {
  uint32_t first, last;
  uint32_t p;
} dyna_slot_range_t;

/* The next slot range at or after partition *p (advanced past it): partitions with no
 * preference list are skipped, adjacent partitions with equal lists joined. Returns 1
 * with *out set, or 0 when no partition is left. O(partitions joined * n). */
int dyna_slot_range_next(const dyna_ring_reply_t *r, uint32_t *p, dyna_slot_range_t *out);

/* The Redis id of a member whose Dyna id is hex16 (16 hex digits): out gets 40 hex
 * digits and a NUL. */
void dyna_cluster_node_id(const char *hex16, char out[DYNA_CLUSTER_ID_LEN + 1]);

/* Splits a client address "host:port" / "[v6]:port" into host (NUL-terminated, "" for
 * a wildcard) and port. Returns 0, or -1 when it is not such an address (host "" and
 * port 0 then). */
int dyna_cluster_addr_split(const char *addr, char *host, size_t hsize, uint16_t *port);

/* CLUSTER SLOTS: *ranges, each *(2 + k) :first :last and k nodes *4 $host :port $id *0. */
void dyna_cluster_put_slots(dyna_buf_t *b, const dyna_cluster_view_t *v);
/* CLUSTER SHARDS: one shard per distinct preference list: *4 "slots" *2m (first, last
 * of each of its m ranges) "nodes" *k, each node *14 of id, port, ip, endpoint, role
 * (master|replica), replication-offset (0), health (online|failed). Allocates an index
 * of the ranges (O(Q) memory, O(Q log Q) time). Returns 0 or DYNA_ENOMEM (nothing
 * appended). */
int dyna_cluster_put_shards(dyna_buf_t *b, const dyna_cluster_view_t *v);
/* CLUSTER NODES' text (appended to t): one line per member not removed, each as a
 * master of the ranges it heads:
 *   <id> <host>:<port>@<cport> [myself,]master[,fail?] - 0 0 <ring version> connected|disconnected <first>-<last> ...
 */
void dyna_cluster_nodes_text(dyna_buf_t *t, const dyna_cluster_view_t *v);
/* CLUSTER INFO's text (appended to t), Redis 7.0's fields in Redis's order:
 * cluster_state ok (fail while no ring), cluster_slots_assigned/ok/pfail (ranges whose
 * first node this node judges down)/fail, cluster_known_nodes (members not removed),
 * cluster_size (members heading a range), epochs (the ring version), messages. */
void dyna_cluster_info_text(dyna_buf_t *t, const dyna_cluster_view_t *v);

#endif
