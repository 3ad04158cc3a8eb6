"""checker.py: what the campaign found, judged after the heal.

1. Convergence: from the heal, polls until every replica agrees: for the versioned keys
   (register, cart, expiry) DYNA.LOCAL on each of the key's home replicas (DYNA.RING)
   gives the same context and siblings; for the typed keys (counter, set, list), whose
   DYNA.LOCAL shows no values, the read through every live member gives the same answer.
2. The promises, on the converged cluster:
   lost         acknowledged writes that are gone: a register value nobody read before
                writing over it, a cart item, a set member never removed, a list element
                never popped (less one per pop whose outcome is unknown), a counter below
                the sum of its acknowledged increments, a hash field HSET wrote missing or
                with another value, a sorted-set member ZADD wrote missing or with another
                score, a HINCRBY field or ZINCRBY score below its acknowledged increments;
   resurrected  what came back after an acknowledged delete: a register value an
                acknowledged PUT/DEL had read (its context covered it), a set member an
                SREM answered 1 for, a list element an LPOP returned, an expired key
                that a GET still shows (deadline passed; keys written while some node's
                clock was stepped are left out, not those written after it was back:
                nemesis.py, clock);
   doubled      a list element twice; a counter (INCRBY, a HINCRBY field, a ZINCRBY
                score) above acknowledged + unknown increments.
3. Figures: siblings per register/cart key, write and read availability inside and
   outside fault windows.
"""
import time

from cluster import Client, ConnectionClosed, cluster_ring
from dynalib import local_values, pipelined, preference_names

TYPED = ("counter", "set", "list", "hash", "zset")


def _local_state(reply):
    vals = local_values(reply)
    if vals is None:
        return None
    ctx = reply[0] if isinstance(reply, list) and len(reply) == 2 else b""
    return (ctx or b"", tuple(sorted(vals)))


def _typed_read(kind, key):
    return {"counter": ("GET", key), "set": ("SMEMBERS", key), "list": ("LRANGE", key, 0, -1),
            "hash": ("HGETALL", key), "zset": ("ZRANGE", key, 0, -1, "WITHSCORES")}[kind]


def _pairs(r):
    """A flat [k1, v1, k2, v2, ...] reply as a dict of str -> str ({} for anything else)."""
    if not isinstance(r, list):
        return {}
    return dict((r[i].decode(), r[i + 1].decode()) for i in range(0, len(r) - 1, 2))


def _norm(kind, r):
    if kind == "set" and isinstance(r, list):
        return tuple(sorted(r))
    if kind == "hash" and isinstance(r, list):
        return tuple(sorted(_pairs(r).items()))
    return r


def divergence(cl, versioned, typed):
    """Problems (empty when converged): versioned keys whose home replicas differ, typed
    keys whose reads differ between members."""
    nodes = dict((n, cl.nodes[n]) for n in cl.members)
    ring = cluster_ring(nodes[cl.members[0]])
    if not ring:
        return ["no ring"]
    probs = []
    maps = {}
    try:
        for nm, n in nodes.items():
            maps[nm] = dict(zip(versioned, [_local_state(r) for r in
                                            pipelined(n, [("DYNA.LOCAL", k) for k in versioned], timeout=10)]))
        for k in versioned:
            homes = preference_names(ring, k)
            states = set(maps[h][k] for h in homes if h in maps)
            if len(states) != 1 or None in states:
                probs.append("%s: homes %s differ (%s)" % (k, homes, "; ".join(
                    "%s %r" % (h, maps[h][k]) for h in homes if h in maps)[:400]))
        answers = {}
        cmds = [_typed_read(kind, k) for kind, k in typed]
        for nm, n in nodes.items():
            answers[nm] = [_norm(kind, r) for (kind, _), r in zip(typed, pipelined(n, cmds, timeout=10))]
        for i, (kind, k) in enumerate(typed):
            if len(set(repr(answers[nm][i]) for nm in nodes)) != 1:
                probs.append("%s: reads differ between members" % k)
    except (OSError, ConnectionClosed) as e:
        probs.append("a member did not answer: %s" % e)
    return probs


def converge(cl, versioned, typed, timeout):
    """Polls divergence(); returns (seconds, last problems)."""
    t0 = time.monotonic()
    probs = ["never polled"]
    while time.monotonic() - t0 < timeout:
        probs = divergence(cl, versioned, typed)
        if not probs:
            break
        time.sleep(0.5)
    return time.monotonic() - t0, probs


def read_all(node, cmds):
    with Client(node.port, host=node.host, timeout=30) as c:
        out = []
        for i in range(0, len(cmds), 200):
            out.extend(c.pipeline(cmds[i:i + 200]))
        return out


def check(cl, wls, nemesis):
    """Judges every workload's records; returns (counts, details, figures)."""
    node = cl.nodes[cl.members[0]]
    counts = {"lost": 0, "resurrected": 0, "doubled": 0}
    details = []
    figures = {}

    by_workload = {}   # (kind, workload) -> count, for the summary line

    def bad(kind, what):
        counts[kind] += 1
        wk = (kind, what.split()[0] if not what.startswith("expired") else "expiry")
        by_workload[wk] = by_workload.get(wk, 0) + 1
        if len(details) < 40:
            details.append("%s: %s" % (kind, what))

    by = {}
    for w in wls:
        by.setdefault(w.name, []).append(w)

    def keys_of(name):
        """Every key the workloads of that name wrote (some have keys of their own:
        expose.py's records)."""
        return sorted(set(k for w in by[name] for k in w.keys()))

    # register and cart: the siblings of each key
    sib_hist = {}
    for name in ("register", "cart"):
        keys = keys_of(name)
        finals = {}
        for k, r in zip(keys, read_all(node, [("DYNA.GET", k, "R", 3) for k in keys])):
            vals = local_values(r)
            if vals is None:
                bad("lost", "%s unreadable after the heal: %r" % (k, r))
                vals = []
            finals[k] = set(v.decode() for v in vals)
            sib_hist[len(vals)] = sib_hist.get(len(vals), 0) + 1
        if name == "register":
            writes = [x for w in by[name] for x in w.writes]
            seen = {}
            for x in writes:
                seen.setdefault(x["key"], set()).update(v.decode() for v in x["observed"])
            for x in writes:
                if x["acked"] and x["value"] is not None and x["value"] not in finals[x["key"]] \
                        and x["value"] not in seen.get(x["key"], ()):
                    bad("lost", "register %s=%s acknowledged, never read over, gone" % (x["key"], x["value"]))
                if x["acked"]:
                    for v in x["observed"]:
                        if v.decode() in finals[x["key"]]:
                            bad("resurrected", "register %s=%s back after an acknowledged write read it"
                                % (x["key"], v.decode()))
        else:
            items = dict((k, set(i for v in vs for i in v.split(",") if i)) for k, vs in finals.items())
            for k, item, ok in (a for w in by[name] for a in w.adds):
                if ok and item not in items[k]:
                    bad("lost", "cart %s item %s acknowledged, gone" % (k, item))
    figures["siblings"] = sib_hist

    # counter
    keys = keys_of("counter")
    for k, r in zip(keys, read_all(node, [("GET", k) for k in keys])):
        acked = sum(a for w in by["counter"] for kk, a, ok in w.incs if kk == k and ok)
        maybe = sum(a for w in by["counter"] for kk, a, ok in w.incs if kk == k and not ok)
        total = int(r) if isinstance(r, bytes) else 0
        if total < acked:
            bad("lost", "counter %s = %d < %d acknowledged" % (k, total, acked))
        elif total > acked + maybe:
            bad("doubled", "counter %s = %d > %d acknowledged + %d unknown" % (k, total, acked, maybe))

    # set
    keys = keys_of("set")
    members = dict((k, set(m.decode() for m in (r if isinstance(r, list) else [])))
                   for k, r in zip(keys, read_all(node, [("SMEMBERS", k) for k in keys])))
    removed = set((k, m) for w in by["set"] for k, m, r in w.removes)
    for k, m, ok in (a for w in by["set"] for a in w.adds):
        if ok and (k, m) not in removed and m not in members[k]:
            bad("lost", "set %s member %s acknowledged, never removed, gone" % (k, m))
    for k, m, r in (x for w in by["set"] for x in w.removes):
        if r == 1 and m in members[k]:
            bad("resurrected", "set %s member %s back after SREM answered 1" % (k, m))

    # list
    keys = keys_of("list")
    lists = dict((k, [e.decode() for e in (r if isinstance(r, list) else [])])
                 for k, r in zip(keys, read_all(node, [("LRANGE", k, 0, -1) for k in keys])))
    pops = [p for w in by["list"] for p in w.pops]
    for k in keys:
        popped = set(e for kk, e, ok in pops if kk == k and ok and e)
        unknown = sum(1 for kk, e, ok in pops if kk == k and not ok)
        have = lists[k]
        for e in set(have):
            if have.count(e) > 1:
                bad("doubled", "list %s element %s %d times" % (k, e, have.count(e)))
            if e in popped:
                bad("resurrected", "list %s element %s back after an LPOP returned it" % (k, e))
        missing = [e for kk, e, ok in (p for w in by["list"] for p in w.pushes)
                   if kk == k and ok and e not in popped and e not in have]
        for e in missing[unknown:]:
            bad("lost", "list %s element %s acknowledged, never popped, gone" % (k, e))
    figures["pops_unknown"] = sum(1 for p in pops if not p[2])

    # hash: every acknowledged HSET field with its value; the HINCRBY field within bounds
    def bounds(kind, k, total, incs):
        acked = sum(a for kk, a, ok in incs if kk == k and ok)
        maybe = sum(a for kk, a, ok in incs if kk == k and not ok)
        if total < acked:
            bad("lost", "%s %s = %d < %d acknowledged" % (kind, k, total, acked))
        elif total > acked + maybe:
            bad("doubled", "%s %s = %d > %d acknowledged + %d unknown" % (kind, k, total, acked, maybe))

    keys = keys_of("hash")
    hashes = dict((k, _pairs(r)) for k, r in zip(keys, read_all(node, [("HGETALL", k) for k in keys])))
    for k, f, v, ok in (x for w in by["hash"] for x in w.sets):
        if ok and hashes[k].get(f) != v:
            bad("lost", "hash %s field %s=%s acknowledged, now %r" % (k, f, v, hashes[k].get(f)))
    incs = [x for w in by["hash"] for x in w.incs]
    for k in keys:
        bounds("hash field n of", k, int(hashes[k].get("n", "0")), incs)

    # zset: every acknowledged ZADD member with its score; the ZINCRBY member within bounds
    keys = keys_of("zset")
    zsets = dict((k, _pairs(r)) for k, r in zip(keys, read_all(node, [("ZRANGE", k, 0, -1, "WITHSCORES")
                                                                       for k in keys])))
    for k, m, score, ok in (x for w in by["zset"] for x in w.adds):
        got = zsets[k].get(m)
        if ok and (got is None or float(got) != score):
            bad("lost", "zset %s member %s score %d acknowledged, now %r" % (k, m, score, got))
    incs = [x for w in by["zset"] for x in w.incs]
    for k in keys:
        bounds("zset score of z in", k, int(float(zsets[k].get("z", "0"))), incs)

    # expiry: keys whose deadline passed, written while no clock was stepped (each key is
    # written once, by one SET or a SET and an EXPIRE through one node: a step that began
    # after its writes cannot move its deadline)
    now = time.monotonic()
    skews = nemesis.skews if nemesis else []
    due = [x for w in by["expiry"] for x in w.written
           if x["acked"] and x["deadline"] < now - 1.0
           and not any(a - 1.0 <= x["t_end"] and x["t_start"] <= b + 1.0 for a, b in skews)]
    for m in cl.members:
        got = read_all(cl.nodes[m], [("GET", x["key"]) for x in due])
        for x, r in zip(due, got):
            if r is not None:
                bad("resurrected", "expired key %s read %r through %s" % (x["key"], r, m))
    figures["expired_checked"] = len(due)

    # availability
    wins = nemesis.windows if nemesis else []
    av = {}
    for w in wls:
        for t, kind, ok in w.ops:
            inside = any(a <= t <= b for a, b, _ in wins)
            d = av.setdefault((kind, inside), [0, 0])
            d[0] += 1 if ok else 0
            d[1] += 1
    figures["availability"] = av
    figures["by_workload"] = by_workload
    figures["acked_writes"] = sum(1 for w in wls for t, kind, ok in w.ops if kind == "w" and ok)
    return counts, details, figures
