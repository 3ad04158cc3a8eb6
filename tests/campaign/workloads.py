"""workloads.py: the campaign's client workloads. Each is a class whose step() makes one
operation through a random live node and records what it sent and what came back; the
checker (checker.py) judges the records against the healed cluster.

Outcomes: "ok" (the answer acknowledges the write / the read answered), "maybe" (an error
reply, a timeout or a closed connection: a write may or may not have happened).

  register  DYNA.GET then DYNA.PUT (or DYNA.DEL) with the context, every value unique
  cart      DYNA.GET, union of the siblings' items plus one new item, DYNA.PUT
  counter   INCRBY with unique amounts
  set       SADD unique members, SREM of some acknowledged ones
  list      RPUSH unique elements, LPOP now and then
  expiry    SET k v EX s, or SET k v then EXPIRE k s, on keys written once
  hash      HSET of unique fields (each written once, with a unique value), HINCRBY of
            one counter field per key with unique amounts
  zset      ZADD of unique members with their own score, ZINCRBY of one member per key
            with unique amounts
"""
import socket
import threading
import time

from cluster import Client, ConnectionClosed
from dynalib import ProtocolViolation

TIMEOUT = 3.0   # a client's patience (a paused node answers nothing)
KEYS = {"register": 12, "cart": 8, "counter": 8, "set": 8, "list": 8, "hash": 8, "zset": 8}


class Conns(object):
    """One connection per node for one thread; a failed one is dropped and made again."""

    def __init__(self):
        self.c = {}

    def call(self, node, *args):
        """The reply, or None with the exception text as the second value."""
        try:
            c = self.c.get(node.name)
            if c is None or c.port != node.port:
                c = self.c[node.name] = Client(node.port, host=node.host, timeout=TIMEOUT)
            return c.call(*args), None
        except (OSError, ConnectionClosed, ProtocolViolation, socket.timeout) as e:
            c = self.c.pop(node.name, None)
            if c:
                c.close()
            return None, "%s: %s" % (type(e).__name__, e)

    def close(self):
        for c in self.c.values():
            c.close()
        self.c = {}


class Workload(object):
    name = "?"

    def __init__(self, tid, rng):
        self.tid, self.rng, self.seq = tid, rng, 0
        self.ops = []          # (t_start, kind "r"/"w", ok) for availability
        self.lock = threading.Lock()
        self.own_keys = None   # keys of their own (expose.py's records), else name:0..KEYS-1

    def uid(self):
        self.seq += 1
        return "%s%d-%d" % (self.name[0], self.tid, self.seq)

    def key(self):
        return "%s:%d" % (self.name, self.rng.randrange(KEYS[self.name]))

    def keys(self):
        if self.own_keys is not None:
            return list(self.own_keys)
        return ["%s:%d" % (self.name, i) for i in range(KEYS[self.name])]

    def op(self, t0, kind, ok):
        self.ops.append((t0, kind, ok))


def siblings(reply):
    """(context, [values]) of a DYNA.GET reply; None when it is not one."""
    if reply is None:
        return None
    if reply == []:
        return b"", []
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
        return reply[0] or b"", reply[1]
    return None


class Register(Workload):
    name = "register"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.writes = []   # {key, value (None for a delete), observed, acked}

    def step(self, conns, node, t0):
        k = self.key()
        r, _ = conns.call(node, "DYNA.GET", k)
        s = siblings(r)
        self.op(t0, "r", s is not None)
        if s is None:
            return
        ctx, vals = s
        delete = self.rng.random() < 0.1
        v = None if delete else self.uid()
        t1 = time.monotonic()
        if delete:
            r, _ = conns.call(node, "DYNA.DEL", k, ctx)
        else:
            r, _ = conns.call(node, "DYNA.PUT", k, ctx, v)
        ok = isinstance(r, bytes)
        self.op(t1, "w", ok)
        self.writes.append({"key": k, "value": v, "observed": set(vals), "acked": ok})


class Cart(Workload):
    name = "cart"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.adds = []     # (key, item, acked)

    def step(self, conns, node, t0):
        k = self.key()
        r, _ = conns.call(node, "DYNA.GET", k)
        s = siblings(r)
        self.op(t0, "r", s is not None)
        if s is None:
            return
        ctx, vals = s
        items = set()
        for v in vals:
            items.update(x for x in v.decode().split(",") if x)
        item = self.uid()
        items.add(item)
        t1 = time.monotonic()
        r, _ = conns.call(node, "DYNA.PUT", k, ctx, ",".join(sorted(items)))
        ok = isinstance(r, bytes)
        self.op(t1, "w", ok)
        self.adds.append((k, item, ok))


class Counter(Workload):
    name = "counter"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.incs = []     # (key, amount, acked)

    def step(self, conns, node, t0):
        k = self.key()
        self.seq += 1
        amount = 1000 * self.seq + self.tid   # unique per thread and step
        r, _ = conns.call(node, "INCRBY", k, amount)
        ok = isinstance(r, int)
        self.op(t0, "w", ok)
        self.incs.append((k, amount, ok))


class RedisSet(Workload):
    name = "set"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.adds = []      # (key, member, acked)
        self.removes = []   # (key, member, reply): reply 1 = removed what it saw
        self.live = []      # acknowledged adds not yet removed

    def step(self, conns, node, t0):
        if self.live and self.rng.random() < 0.2:
            k, m = self.live.pop(self.rng.randrange(len(self.live)))
            r, _ = conns.call(node, "SREM", k, m)
            self.op(t0, "w", isinstance(r, int))
            self.removes.append((k, m, r if isinstance(r, int) else None))
            return
        k, m = self.key(), self.uid()
        r, _ = conns.call(node, "SADD", k, m)
        ok = r == 1
        self.op(t0, "w", ok)
        self.adds.append((k, m, ok))
        if ok:
            self.live.append((k, m))


class List(Workload):
    name = "list"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.pushes = []    # (key, element, acked)
        self.pops = []      # (key, element or None when empty / unknown, acked)

    def step(self, conns, node, t0):
        k = self.key()
        if self.rng.random() < 0.15:
            r, err = conns.call(node, "LPOP", k)
            ok = (r is None and err is None) or isinstance(r, bytes)
            self.op(t0, "w", ok)
            self.pops.append((k, r.decode() if isinstance(r, bytes) else None, ok))
            return
        e = self.uid()
        r, _ = conns.call(node, "RPUSH", k, e)
        ok = isinstance(r, int)
        self.op(t0, "w", ok)
        self.pushes.append((k, e, ok))


class Expiry(Workload):
    name = "expiry"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.written = []   # {key, t_start, t_end, deadline (monotonic, client's view), acked}

    def keys(self):
        return [w["key"] for w in self.written]

    def step(self, conns, node, t0):
        k = "expiry:" + self.uid()
        secs = self.rng.randint(1, 3)
        if self.rng.random() < 0.5:
            r, _ = conns.call(node, "SET", k, "v", "EX", secs)
            ok = r == "OK"
        else:
            r, _ = conns.call(node, "SET", k, "v")
            ok = r == "OK"
            if ok:
                r, _ = conns.call(node, "EXPIRE", k, secs)
                ok = r == 1
        self.op(t0, "w", ok)
        # The deadline the key may not outlive, as the client sees it: the answer came
        # after the write's coordinator took its clock reading.
        t1 = time.monotonic()
        self.written.append({"key": k, "t_start": t0, "t_end": t1, "deadline": t1 + secs, "acked": ok})


class Hash(Workload):
    name = "hash"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.sets = []     # (key, field, value, acked)
        self.incs = []     # (key, amount, acked): HINCRBY key n amount

    def step(self, conns, node, t0):
        k = self.key()
        if self.rng.random() < 0.3:
            self.seq += 1
            amount = 1000 * self.seq + self.tid   # unique per step
            r, _ = conns.call(node, "HINCRBY", k, "n", amount)
            ok = isinstance(r, int)
            self.op(t0, "w", ok)
            self.incs.append((k, amount, ok))
            return
        f = self.uid()
        r, _ = conns.call(node, "HSET", k, f, "v" + f)
        ok = r == 1
        self.op(t0, "w", ok)
        self.sets.append((k, f, "v" + f, ok))


class ZSet(Workload):
    name = "zset"

    def __init__(self, tid, rng):
        Workload.__init__(self, tid, rng)
        self.adds = []     # (key, member, score, acked)
        self.incs = []     # (key, amount, acked): ZINCRBY key amount z

    def step(self, conns, node, t0):
        k = self.key()
        if self.rng.random() < 0.3:
            self.seq += 1
            amount = 1000 * self.seq + self.tid
            r, _ = conns.call(node, "ZINCRBY", k, amount, "z")
            ok = isinstance(r, bytes)
            self.op(t0, "w", ok)
            self.incs.append((k, amount, ok))
            return
        m = self.uid()
        score = self.seq
        r, _ = conns.call(node, "ZADD", k, score, m)
        ok = r == 1
        self.op(t0, "w", ok)
        self.adds.append((k, m, score, ok))


KINDS = [Register, Register, Cart, Cart, Counter, RedisSet, List, Expiry, Hash, ZSet]


class Worker(threading.Thread):
    """Runs one workload against random live nodes until stopped."""

    def __init__(self, wl, cluster, stop_ev, pace):
        threading.Thread.__init__(self, daemon=True)
        self.wl, self.cluster, self.stop_ev, self.pace = wl, cluster, stop_ev, pace
        self.error = None

    def run(self):
        conns = Conns()
        try:
            while not self.stop_ev.is_set():
                nodes = self.cluster.up()
                if not nodes:
                    self.stop_ev.wait(0.1)
                    continue
                node = self.wl.rng.choice(nodes)
                self.wl.step(conns, node, time.monotonic())
                self.stop_ev.wait(self.pace)
        except Exception as e:   # a bug of the campaign itself: reported, fails the run
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            conns.close()

