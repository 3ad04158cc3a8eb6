/* wire.h: the inter-node message codec. Pure: bytes in, structs out, and back.
 *
 * A connection between two nodes carries frames:
 *
 *   u32le length of what follows | u8 version (2) | u8 type | body
 *
 * The first frame each way is HELLO; the receiver checks magic, protocol version and
 * cluster name before anything else and closes the connection on a mismatch. Every
 * body has the same field layout, so one decoder bounds-checks them all; a type uses
 * the fields it needs and the decoder rejects a frame whose type does not allow a
 * field that is present (non-empty):
 *
 *   varint req | zigzag-varint status | varint flags | u64le node |
 *   bytes key | bytes obj | bytes ctx | bytes val | varint w
 *   (bytes = varint length + that many bytes)
 *
 * Field use per type (see docs/protocol.md):
 *   HELLO     flags = magic "DYNA" (bit 32: the sender has a cluster secret),
 *             w = protocol version, key = cluster name, node = sender id,
 *             val = sender's cluster address, obj = the sender's nonce (with bit 32 only)
 *   GOSSIP    obj = encoded cluster state, or (node != 0, obj empty) node = a digest of
 *             the sender's state, answered by the receiver's whole state when its differs
 *   JOIN      obj = the joiner's encoded member record; answered by GOSSIP
 *   PUT       req, key, obj = encoded object to merge; node = intended owner when the
 *             write is a hint (0 otherwise); flags bit 0 = handoff, bit 1 = anti-entropy,
 *             bit 2 = a transaction's batch: obj = every key and its object
 *             (core/batch.h), key = the first of them, applied all or nothing;
 *             w = the record hash of the version obj was made from by one write
 *             (0: none; core/replica.h: dyna_replica_merge)
 *   PUT_ACK   req, status
 *   GET       req, key
 *   GET_RESP  req, status, obj (empty when absent)
 *   FWD       req, key, ctx = encoded context, val = value, flags = request flags
 *             (bit 0 blind, bit 1 delete, bit 2 typed: val = the command's arguments
 *             (dyna_wire_put_args), bit 3 keep the key's expiry, bit 4 a transaction:
 *             val = its commands, core/batch.h), w = write quorum,
 *             node = a PUT's expiry (wall ms, 0 none)
 *   FWD_RESP  req, status, ctx = new context, flags bit 0 = a live value existed,
 *             bit 1 = a typed write that wrote nothing; val = a typed write's RESP answer
 *   PING/PONG req (a heartbeat sequence number); a PING's node = a member the sender's
 *             failure detector judges unreachable, for the receiver to ask itself (0: none)
 *   AAE_TREE  w = partition + 1, obj = the sender's bucket hashes (u64le each)
 *   AAE_DIFF  w = partition + 1, obj = bitmap of the buckets that differ (empty: none);
 *             flags bit 0 = reap: obj lists (bytes store key, u64le record hash) of
 *             tombstones every replica agrees on, to delete
 *   SCAN      req, w = partition + 1, node = position to start at, flags = keys wanted
 *             (core/scan.h: a page of the partition's live keys)
 *   SCAN_RESP req, status, node = where the next page starts (SCAN) or the live-key
 *             count (COUNT), obj = SCAN's page: per key varint kind | bytes key
 *   COUNT     req, obj = bitmap of the partitions to count (bit p of byte p / 8)
 *   FLUSH     req: tombstone every live key held here (FLUSHALL); answered once durable
 *   HO_CHECK  req, w = partition + 1, obj = the sender's 8-byte tree root of it: which
 *             buckets of the partition a handoff target already holds as the sender does
 *   HO_HAVE   req (the HO_CHECK's), w = partition + 1, obj = empty (the same root) or the
 *             receiver's 256 bucket hashes (u64le each)
 *   AUTH      obj = a handshake proof (proto/peer_auth.h: only with a cluster secret,
 *             after the HELLOs; the node never sees it)
 *
 * Ownership: a decoded dyna_msg_t points into the frame it was decoded from.
 */
#ifndef DYNA_WIRE_H
#define DYNA_WIRE_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_WIRE_VERSION 2 /* 2: keys placed by Redis Cluster slots (1: by xxHash3) */
#define DYNA_WIRE_MAGIC 0x414e5944u /* "DYNA" little-endian */
#define DYNA_WIRE_MAX_FRAME (80u << 20)

typedef enum {
  DYNA_MSG_HELLO = 1,
  DYNA_MSG_GOSSIP,
  DYNA_MSG_JOIN,
  DYNA_MSG_PUT,
  DYNA_MSG_PUT_ACK,
  DYNA_MSG_GET,
  DYNA_MSG_GET_RESP,
  DYNA_MSG_FWD,
  DYNA_MSG_FWD_RESP,
  DYNA_MSG_PING,
  DYNA_MSG_PONG,
  DYNA_MSG_AAE_TREE,
  DYNA_MSG_AAE_DIFF,
  DYNA_MSG_SCAN,
  DYNA_MSG_SCAN_RESP,
  DYNA_MSG_COUNT,
  DYNA_MSG_FLUSH,
  DYNA_MSG_AUTH, /* cluster-secret handshake only (proto/peer_auth.h) */
  DYNA_MSG_HO_CHECK,
  DYNA_MSG_HO_HAVE,
  DYNA_MSG_TYPE_MAX
} dyna_msg_type_t;

#define DYNA_PUT_HANDOFF 0x1u
#define DYNA_PUT_AAE 0x2u
#define DYNA_PUT_BATCH 0x4u  /* obj = a transaction's keys and objects (core/batch.h) */
#define DYNA_FWD_BLIND 0x1u
#define DYNA_FWD_DELETE 0x2u
#define DYNA_FWD_TYPED 0x4u   /* val = the typed write's arguments (dyna_wire_put_args) */
#define DYNA_FWD_KEEPTTL 0x8u /* a PUT that keeps the key's expiry */
#define DYNA_FWD_RESP3 0x10u  /* a typed write whose answer is RESP3 (the client's protocol) */
#define DYNA_FWD_BATCH 0x20u  /* val = a transaction's commands (core/batch.h) */
#define DYNA_FWD_RESP_EXISTED 0x1u /* FWD_RESP: a live value existed */
#define DYNA_FWD_RESP_NOWRITE 0x2u /* FWD_RESP: a typed write that changed nothing */

typedef struct dyna_msg {
  uint8_t type;
  uint64_t req;
  int32_t status;
  uint64_t flags;
  uint64_t node;
  const uint8_t *key; size_t klen;
  const uint8_t *obj; size_t objlen;
  const uint8_t *ctx; size_t ctxlen;
  const uint8_t *val; size_t vlen;
  uint64_t w;
} dyna_msg_t;

/* Appends one whole frame (length prefix included) to out. */
void dyna_wire_encode(const dyna_msg_t *m, dyna_buf_t *out);

/* Looks at the start of a byte stream: returns 0 with *flen = length of the first whole
 * frame (prefix included), DYNA_EAGAIN when more bytes are needed (*flen = total needed
 * when known, else 0), or DYNA_ETOOBIG when the announced length exceeds max. */
int dyna_wire_frame(const uint8_t *buf, size_t len, size_t max, size_t *flen);

/* Decodes one whole frame (prefix included). Returns 0 or DYNA_EPROTO (bad version,
 * unknown type, truncation, trailing bytes, a field the type does not allow, a key
 * over 64 KiB). *m points into frame. */
int dyna_wire_decode(const uint8_t *frame, size_t len, dyna_msg_t *m);

const char *dyna_msg_type_name(int type);

/* A typed write's arguments in FWD's val: varint argc | argc x (varint len | bytes). */
void dyna_wire_put_args(dyna_buf_t *out, size_t argc, const uint8_t *const *argv, const size_t *argl);
/* argc of an encoded argument list, 0 when it is malformed (or empty). */
size_t dyna_wire_args_count(const uint8_t *p, size_t len);
/* Decodes exactly argc arguments (pointing into p); DYNA_EPROTO unless p holds exactly
 * that many, and nothing else. */
int dyna_wire_get_args(const uint8_t *p, size_t len, size_t argc, const uint8_t **argv, size_t *argl);

#endif
