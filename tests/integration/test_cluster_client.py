#!/usr/bin/python3
"""Cluster-aware Redis clients against a real 3-node cluster on loopback (127.0.0.121-124):
redis-py's RedisCluster and redis-cli -c route each key to a node of its preference list
through CLUSTER SLOTS, as libdyna does through DYNA.RING.

The cluster runs with N=2 (R=W=2), so a key's preference list leaves one node out and the
routing is observable: every node counts the client requests it takes for keys whose home
replicas include it (INFO coordinated_local) and for others (coordinated_remote).

  1. Shapes, against what the ring says: CLUSTER SLOTS covers slots 0..16383 in order,
     each range's nodes are (in order) the preference list DYNA.RING gives its partitions,
     with client addresses and 40-hex ids; every node answers the same map; CLUSTER
     SHARDS, NODES, INFO, MYID, KEYSLOT (Redis's values), READONLY/READWRITE, INFO
     cluster_enabled; COUNTKEYSINSLOT refused with a clear error.
  2. redis-py RedisCluster (python3-redis 4.3): SET/GET/INCR/SADD/HSET/ZADD/LPUSH/EXPIRE
     and multi-key commands on hash-tagged keys give the right answers; for each key the
     node the client picks (get_node_from_key) is the first of the key's preference list;
     the counters show every request landed on a home replica (remote delta 0 on every
     node, local delta > 0 on every node). Control: the same commands through one node
     with a plain Redis client count remote requests (the counter can see a miss).
     RedisCluster's pipeline() is not a transaction in redis-py 4.3 (each command to its
     key's node): commands over several partitions all apply, an error fails only its
     own; pipeline(transaction=True) is refused by the client ("transaction is deprecated
     in cluster mode"); a transaction through the node of its slot (the node's own
     client, get_redis_connection) is MULTI/EXEC and applies.
  3. redis-cli -c SET/GET through a node.
  4. A 4th node joins: CLUSTER SLOTS from every node gives the new map (the new node
     heads ranges); the RedisCluster with its stale map still gets right answers (no
     -MOVED: a stale map costs a hop, not an error); after it re-reads the map its
     requests land on home replicas again. The 4th node leaves: CLUSTER SLOTS no longer
     names it.

Environment: DYNA_BIN (dynad), DYNA_TMP."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, RespError, cluster_ring, cluster_status, key_partition,  # noqa: E402
                     key_slot, preference_names, short, start_cluster_node, wait_until)

import redis  # noqa: E402
from redis.cluster import RedisCluster  # noqa: E402

H = Harness("cluster_client")
S = {}
IPS = {"n1": "127.0.0.121", "n2": "127.0.0.122", "n3": "127.0.0.123", "n4": "127.0.0.124"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 2000, "--n", 2, "--r", 2,
          "--w", 2, "--log-level", "warn")
SLOTS = 16384


def node(name):
    return S["nodes"][name]


def call(name, *args):
    n = node(name)
    with Client(n.port, host=n.host, timeout=10.0) as c:
        return c.call(*args)


def info_fields(name):
    text = call(name, "INFO").decode()
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def counters(names):
    """{name: (coordinated_local, coordinated_remote)}"""
    out = {}
    for n in names:
        f = info_fields(n)
        out[n] = (int(f["coordinated_local"]), int(f["coordinated_remote"]))
    return out


def settled(names):
    """The common ring when every node of names has one ring version and exactly names
    as valid members; else False."""
    rings = [cluster_ring(node(n)) for n in names]
    if any(r is None for r in rings) or len(set(r["version"] for r in rings)) != 1:
        return False
    if any(sorted(m["name"] for m in r["members"] if m["status"] == "valid") != sorted(names) for r in rings):
        return False
    return rings[0]


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def expected_ranges(ring):
    """[(first, last, [client addr...])] from DYNA.RING: partitions as slot ranges, adjacent
    partitions with one preference list joined (what CLUSTER SLOTS must answer)."""
    per = SLOTS // ring["size"]
    out = []
    for p, idxs in enumerate(ring["prefs"]):
        addrs = [ring["members"][i]["client_addr"] for i in idxs]
        if out and out[-1][2] == addrs and out[-1][1] == p * per - 1:
            out[-1] = (out[-1][0], (p + 1) * per - 1, addrs)
        else:
            out.append((p * per, (p + 1) * per - 1, addrs))
    return out


def slots_ranges(reply):
    """CLUSTER SLOTS -> [(first, last, ["host:port"...])]."""
    return [(r[0], r[1], ["%s:%d" % (s(nd[0]), nd[1]) for nd in r[2:]]) for r in reply]


def redis_id(ring, addr):
    for m in ring["members"]:
        if m["client_addr"] == addr:
            return m["id"] + "0" * 24
    return None


# ---------------------------------------------------------------------------- 1. shapes

def t_start(h):
    S["nodes"] = {}
    first = None
    for name in ("n1", "n2", "n3"):
        n = start_cluster_node(name, h.path(name), IPS[name],
                               join=first.cluster_addr if first else None, extra_args=COMMON)
        S["nodes"][name] = n
        first = first or n
    S["ring"] = wait_until(lambda: settled(["n1", "n2", "n3"]), 20, 0.2, "3 members and one ring version")
    h.eq("ring n", S["ring"]["n"], 2)


def t_shapes(h):
    ring = S["ring"]
    want = expected_ranges(ring)
    replies = {n: call(n, "CLUSTER", "SLOTS") for n in ("n1", "n2", "n3")}
    got = slots_ranges(replies["n1"])
    h.eq("CLUSTER SLOTS: each range with its preference list's client addresses, as DYNA.RING gives them",
         got, want)
    h.check("CLUSTER SLOTS covers 0..16383 in order, no gap",
            got and got[0][0] == 0 and got[-1][1] == SLOTS - 1 and
            all(a[1] + 1 == b[0] for a, b in zip(got, got[1:])), short(got))
    h.check("every node answers the same CLUSTER SLOTS", replies["n1"] == replies["n2"] == replies["n3"])
    r0 = replies["n1"][0]
    h.check("a node entry is [host, port, 40-hex id, []] with the member's id",
            all(len(nd) == 4 and nd[3] == [] and s(nd[2]) == redis_id(ring, "%s:%d" % (s(nd[0]), nd[1]))
                for r in replies["n1"] for nd in r[2:]), short(r0))

    ids = {}
    for n in ("n1", "n2", "n3"):
        myid = s(call(n, "CLUSTER", "MYID"))
        ids[n] = myid
        h.check("CLUSTER MYID on %s: 40 hex digits beginning with INFO node_id" % n,
                len(myid) == 40 and myid.startswith(info_fields(n)["node_id"]), myid)
    # A ping answered late on a loaded machine (the ASan phase) can leave a peer suspect
    # for a moment (its ranges counted pfail): wait for every range to be ok, then check.
    def info_all_ok():
        t = s(call("n2", "CLUSTER", "INFO"))
        return t if "cluster_slots_ok:16384" in t.split("\r\n") else None
    try:
        info = wait_until(info_all_ok, 10.0, 0.1, "n2's CLUSTER INFO to count every range ok")
    except AssertionError:
        info = s(call("n2", "CLUSTER", "INFO"))  # the checks below say what is wrong
    for want_line in ("cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384",
                      "cluster_known_nodes:3", "cluster_size:3"):
        h.check("CLUSTER INFO has %s" % want_line, want_line in info.split("\r\n"), info)
    h.eq("INFO cluster_enabled", info_fields("n1").get("cluster_enabled"), "1")

    nodes = s(call("n3", "CLUSTER", "NODES"))
    lines = [l for l in nodes.split("\n") if l]
    h.eq("CLUSTER NODES: one line per member", sorted(l.split(" ")[0] for l in lines), sorted(ids.values()))
    mine = [l for l in lines if "myself" in l.split(" ")[2]]
    h.check("CLUSTER NODES: 'myself' on n3's own line only", len(mine) == 1 and mine[0].startswith(ids["n3"]),
            nodes)
    heads = {}
    for first, last, addrs in want:
        heads.setdefault(redis_id(ring, addrs[0]), []).append("%d-%d" % (first, last))
    h.check("CLUSTER NODES: each member lists the ranges it heads",
            all(l.split(" ")[8:] == heads.get(l.split(" ")[0], []) for l in lines), nodes[:300])

    shards = call("n1", "CLUSTER", "SHARDS")
    covered = sorted((sh[1][i], sh[1][i + 1]) for sh in shards for i in range(0, len(sh[1]), 2))
    h.eq("CLUSTER SHARDS: the shards' ranges are exactly CLUSTER SLOTS' ranges",
         covered, [(a, b) for a, b, _ in want])
    roles_ok = all([s(nd[9]) for nd in sh[3]] == ["master"] + ["replica"] * (len(sh[3]) - 1) for sh in shards)
    h.check("CLUSTER SHARDS: the first node of each shard is master, the rest replicas", roles_ok, short(shards))

    for key, slot in ((b"foo", 12182), (b"{user1000}.following", 3443), (b"{user1000}.followers", 3443),
                      (b"foo{}{bar}", 8363), (b"foo{{bar}}zap", 4015)):
        h.eq("CLUSTER KEYSLOT %s" % key.decode(), call("n1", "CLUSTER", "KEYSLOT", key), slot)
    h.eq("READONLY", call("n1", "READONLY"), "OK")
    h.eq("READWRITE", call("n1", "READWRITE"), "OK")
    err = call("n1", "CLUSTER", "COUNTKEYSINSLOT", 5)
    h.check("CLUSTER COUNTKEYSINSLOT: a clear error", isinstance(err, RespError) and "not served" in err.msg,
            short(err))
    h.eq("CLUSTER COUNTKEYSINSLOT 16384: Redis's error",
         call("n1", "CLUSTER", "COUNTKEYSINSLOT", 16384), RespError("ERR Invalid slot"))
    h.eq("CLUSTER KEYSLOT without a key: Redis's arity error",
         call("n1", "CLUSTER", "KEYSLOT"), RespError("ERR wrong number of arguments for 'cluster|keyslot' command"))


# ---------------------------------------------------------------------------- 2. redis-py

def workload(r, tag, check):
    """Commands on keys of every type, single-key and multi-key on hash-tagged keys;
    check(what, got, want) records each answer. Returns the keys used."""
    keys = []
    for i in range(60):
        k = "%s:str:%d" % (tag, i)
        keys.append(k)
        r.set(k, "v%d" % i)
    check("SET/GET of 60 keys read back", [r.get("%s:str:%d" % (tag, i)) for i in range(60)],
          [b"v%d" % i for i in range(60)])
    for i in range(20):
        k = "%s:ctr:%d" % (tag, i)
        keys.append(k)
        r.incr(k)
        r.incrby(k, 4)
    check("INCR/INCRBY of 20 counters", [r.get("%s:ctr:%d" % (tag, i)) for i in range(20)], [b"5"] * 20)
    for i in range(10):
        k = "%s:set:%d" % (tag, i)
        keys.append(k)
        r.sadd(k, "a", "b", "c")
        r.srem(k, "b")
    check("SADD/SREM/SMEMBERS", [r.smembers("%s:set:%d" % (tag, i)) for i in range(10)], [{b"a", b"c"}] * 10)
    for i in range(10):
        k = "%s:hash:%d" % (tag, i)
        keys.append(k)
        r.hset(k, mapping={"f": "1", "g": "2"})
        r.hincrby(k, "n", 3)
    check("HSET/HINCRBY/HGETALL", [r.hgetall("%s:hash:%d" % (tag, i)) for i in range(10)],
          [{b"f": b"1", b"g": b"2", b"n": b"3"}] * 10)
    zk, lk = "%s:z" % tag, "%s:l" % tag
    keys += [zk, lk]
    r.zadd(zk, {"x": 1, "y": 2})
    check("ZADD/ZRANGE", r.zrange(zk, 0, -1, withscores=True), [(b"x", 1.0), (b"y", 2.0)])
    r.rpush(lk, "1", "2", "3")
    check("RPUSH/LRANGE", r.lrange(lk, 0, -1), [b"1", b"2", b"3"])
    r.expire(lk, 100)
    check("EXPIRE/TTL", 0 < r.ttl(lk) <= 100, True)
    # multi-key commands on keys sharing a hash tag: one slot, one node
    tagged = ["{%s:user:1}.cart" % tag, "{%s:user:1}.session" % tag, "{%s:user:1}.prefs" % tag]
    keys += tagged
    check("hash-tagged keys share a slot", len(set(key_slot(k) for k in tagged)), 1)
    r.mset({tagged[0]: "c", tagged[1]: "s", tagged[2]: "p"})
    check("MSET/MGET on hash-tagged keys", r.mget(tagged), [b"c", b"s", b"p"])
    check("EXISTS on hash-tagged keys", r.exists(*tagged), 3)
    check("DEL on hash-tagged keys", r.delete(tagged[0], tagged[1]), 2)
    check("MGET after DEL", r.mget(tagged), [None, None, b"p"])
    return keys


def t_redis_py(h):
    n1 = node("n1")
    rc = RedisCluster(host=n1.ip, port=n1.port, socket_timeout=10)
    S["rc"] = rc
    ring = S["ring"]
    # the client's own choice of node, key by key, against the ring
    sample = ["k%d" % i for i in range(300)] + ["{user1000}.following", "{user1000}.followers", "foo"]
    addr_of = dict((m["name"], m["client_addr"]) for m in ring["members"])
    bad = []
    for k in sample:
        cn = rc.get_node_from_key(k)
        first = preference_names(ring, k)[0]
        if "%s:%d" % (cn.host, cn.port) != addr_of[first]:
            bad.append((k, key_partition(k, ring["size"]), cn.name, first))
    h.check("RedisCluster picks the first node of the key's preference list for %d keys" % len(sample),
            not bad, short(bad))

    names = ("n1", "n2", "n3")
    before = counters(names)

    def check(what, got, want):
        h.eq("RedisCluster: " + what, got, want)

    keys = workload(rc, "rc", check)
    after = counters(names)
    local = dict((n, after[n][0] - before[n][0]) for n in names)
    remote = dict((n, after[n][1] - before[n][1]) for n in names)
    h.note("RedisCluster, %d keys: coordinated_local +%s, coordinated_remote +%s" % (len(keys), local, remote))
    h.eq("every request of RedisCluster landed on a home replica (coordinated_remote +0 on every node)",
         remote, dict((n, 0) for n in names))
    h.check("every node coordinated some of them (local > 0 on each)", all(v > 0 for v in local.values()),
            short(local))
    h.check("at least one request per command counted", sum(local.values()) >= 200, short(local))

    # control: all through n1 with a plain client: keys homed elsewhere count as remote
    before = counters(names)
    plain = redis.Redis(host=n1.ip, port=n1.port, socket_timeout=10)
    workload(plain, "plain", lambda what, got, want: h.eq("plain Redis via n1: " + what, got, want))
    after = counters(names)
    rem = after["n1"][1] - before["n1"][1]
    loc = after["n1"][0] - before["n1"][0]
    h.note("plain client through n1: coordinated_local +%d, coordinated_remote +%d" % (loc, rem))
    h.check("control: a client that does not route makes n1 count remote requests (the counter sees misses)",
            rem > 0 and loc > 0, "local +%d remote +%d" % (loc, rem))


def t_redis_py_pipeline(h):
    """RedisCluster's pipeline: in redis-py 4.3 cluster mode it is not a transaction (no
    MULTI: each command goes to its key's node), so every command applies, a failing one
    alone fails; pipeline(transaction=True) is refused by the client itself. A transaction
    through a cluster client is sent to the node of its keys' slot: the node's own client
    (get_redis_connection), whose pipeline() is MULTI/EXEC."""
    rc = S["rc"]
    keys = ["pipe:%d" % i for i in range(40)]
    h.check("the pipeline's keys span several partitions",
            len(set(key_partition(k, S["ring"]["size"]) for k in keys)) > 1)
    p = rc.pipeline()
    for i, k in enumerate(keys):
        p.set(k, "v%d" % i)
    p.set("pipe:str", "x")
    p.sadd("pipe:str", "m")
    p.incr("pipe:ctr")
    res = p.execute(raise_on_error=False)
    h.eq("RedisCluster pipeline(): every SET answered", res[:40], [True] * 40)
    h.eq("... a WRONGTYPE fails only its own command", [res[40], str(res[41]), res[42]],
         [True, "WRONGTYPE Operation against a key holding the wrong kind of value", 1])
    h.eq("... every command applied (read back through the client)", [rc.get(k) for k in keys] + [rc.get("pipe:ctr")],
         [b"v%d" % i for i in range(40)] + [b"1"])
    try:
        rc.pipeline(transaction=True)
        got = "no error"
    except Exception as e:  # noqa: BLE001 - the exception's class and text are what is checked
        got = "%s: %s" % (type(e).__name__, e)
    h.eq("RedisCluster.pipeline(transaction=True): refused by redis-py 4.3 itself", got,
         "RedisClusterException: transaction is deprecated in cluster mode")
    cart, sess = "{rc:user:1}.cart", "{rc:user:1}.session"
    nc = rc.get_redis_connection(rc.get_node_from_key(cart))
    t = nc.pipeline(transaction=True)
    t.sadd(cart, "book", "pen").set(sess, "token", ex=3600).scard(cart)
    h.eq("a transaction through the slot's node (get_redis_connection(...).pipeline()): MULTI/EXEC's replies",
         t.execute(), [2, True, 2])
    h.eq("... applied (read through the cluster client)", [sorted(rc.smembers(cart)), rc.get(sess), rc.ttl(sess) > 3500],
         [[b"book", b"pen"], b"token", True])


# ---------------------------------------------------------------------------- 3. redis-cli -c

def t_redis_cli(h):
    n = node("n2")

    def cli(*args):
        p = subprocess.run(["redis-cli", "-c", "-h", n.ip, "-p", str(n.port)] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return p.returncode, p.stdout.decode("utf-8", "replace").strip()

    h.eq("redis-cli -c SET", cli("SET", "cli:{t}:a", "hello"), (0, "OK"))
    h.eq("redis-cli -c GET", cli("GET", "cli:{t}:a"), (0, "hello"))
    h.eq("redis-cli -c INCR", cli("INCR", "cli:ctr"), (0, "1"))
    h.eq("redis-cli -c CLUSTER KEYSLOT", cli("CLUSTER", "KEYSLOT", "foo"), (0, "12182"))
    rc, out = cli("CLUSTER", "INFO")
    h.check("redis-cli -c CLUSTER INFO: cluster_state:ok", rc == 0 and "cluster_state:ok" in out, out)


# ---------------------------------------------------------------------------- 4. join and leave

def t_join_leave(h):
    n4 = start_cluster_node("n4", h.path("n4"), IPS["n4"], join=node("n1").cluster_addr, extra_args=COMMON)
    S["nodes"]["n4"] = n4
    all4 = ["n1", "n2", "n3", "n4"]
    ring = wait_until(lambda: settled(all4), 30, 0.2, "4 members and one ring version")
    want = expected_ranges(ring)
    for n in all4:
        h.eq("after the join, CLUSTER SLOTS on %s is the new map" % n, slots_ranges(call(n, "CLUSTER", "SLOTS")),
             want)
    h.check("n4 heads some ranges", any(a[0] == "%s:%d" % (n4.ip, n4.port) for _, _, a in want), short(want))
    h.check("CLUSTER INFO: 4 known nodes", "cluster_known_nodes:4" in s(call("n1", "CLUSTER", "INFO")))

    # the RedisCluster still has the 3-node map: right answers, some requests a hop away
    rc = S["rc"]
    before = counters(all4)
    workload(rc, "stale", lambda what, got, want: h.eq("stale map: " + what, got, want))
    after = counters(all4)
    remote = sum(after[n][1] - before[n][1] for n in all4)
    h.note("stale map after the join: %d requests reached a node outside the key's preference list" % remote)
    # a re-read map (what a client does after a refresh or a reconnect) is on target again
    rc.nodes_manager.initialize()
    before = counters(all4)
    workload(rc, "fresh", lambda what, got, want: h.eq("re-read map: " + what, got, want))
    after = counters(all4)
    h.eq("with the re-read map every request lands on a home replica (remote +0)",
         dict((n, after[n][1] - before[n][1]) for n in all4), dict((n, 0) for n in all4))

    h.eq("DYNA.ADMIN LEAVE on n4", call("n4", "DYNA.ADMIN", "LEAVE"), "OK")
    three = ["n1", "n2", "n3"]

    def gone():
        st = cluster_status(node("n1"))
        return st and st.get("n4", {}).get("status") == "removed" and settled(three)

    ring = wait_until(gone, 60, 0.2, "n4 removed and one ring on n1..n3")
    want = expected_ranges(ring)
    got = slots_ranges(call("n1", "CLUSTER", "SLOTS"))
    h.eq("after the leave, CLUSTER SLOTS is the 3-node map", got, want)
    n4addr = "%s:%d" % (n4.ip, n4.port)
    h.check("CLUSTER SLOTS no longer names n4", all(n4addr not in a for _, _, a in got))
    h.check("CLUSTER NODES no longer lists n4",
            redis_id(ring, n4addr) is None or redis_id(ring, n4addr) not in s(call("n1", "CLUSTER", "NODES")))
    rc.close()


if __name__ == "__main__":
    H.run([("start a 3-node cluster (N=2)", t_start),
           ("CLUSTER replies against the ring", t_shapes),
           ("redis-py RedisCluster routes to preference-list nodes", t_redis_py),
           ("redis-py RedisCluster pipeline (not a transaction) and a transaction through a slot's node",
            t_redis_py_pipeline),
           ("redis-cli -c", t_redis_cli),
           ("join and leave: the map follows the ring", t_join_leave)])
