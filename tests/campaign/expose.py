"""expose.py: the deliberate-bug checks' schedule (campaign.py --schedule expose). The
random nemesis (nemesis.py) picks faults and their timing on the wall clock, so a run
only makes a deliberate bug likely to show; this schedule makes the faults and the
writes that go with them, chosen so that each bug the campaign checks in `make test`
(dynad's test-only DYNA_TEST_BUGS early-ack, set-remove-wins, counter-sum) must show in
the checker's verdict whatever the timing. Each step waits for what it needs (a failure
detector's verdict, an answer), never for a length of time; a step that does not get it
within its deadline fails the schedule (an error: a PROBLEM line, a failed run).

  split  c1..c5 shuffled by the seed, three cut from the other two (both ways, nft).
         Once every node judges every node of the other side unreachable (DYNA.STATUS)
         and every node of its own side reachable, through a node of each side (a home
         replica of the key when the side has one, else the side's first node: a sloppy
         quorum):
         - on each of 4 set keys (set:x0..3), SADD of a new member, again with another
           until that side acknowledged one: each key gets two acknowledged adds made
           concurrently (neither side's state holds the other's);
         - on counter keys (counter:x0, x1, ...), 3 INCRBY with unique amounts per side,
           every one acknowledged (a key with an unanswered increment is set aside,
           judged like the others, and a fresh key taken) until 4 keys are done: on each
           of them both sides increment, and on the side with a home replica that home
           coordinates all 3 (one actor, three seqs).
         Then the net heals, and the step waits until every node judges every other
         reachable.
  wipe   a node v (not c5) cut from every other; once v judges them all unreachable,
         its writes have no target but itself (a write's targets are the reachable home
         replicas and fallbacks: docs/architecture.md); then a DYNA.PUT through v, with an
         empty context, on each of 4 register keys v is a home replica of
         (register:x...), again with a new value while there is no answer (a timeout):
         until it is OK or an error. Then v is killed, its data dir wiped, the net
         healed, and v starts again as a new node (nemesis.py, wipe).

The writes are recorded in workload records of their own (workloads.py's Register,
RedisSet, Counter with keys of their own), which the checker judges with the others.

Why each bug must show (docs/reliability.md, "Deliberate bugs in the real daemon"):
  early-ack        v answers each PUT after its own write alone; nothing about it ever
                   leaves v, whose disk is then wiped: 4 acknowledged values, never read
                   over, gone (lost). Without the bug v answers -NOQUORUM: nothing
                   acknowledged is lost.
  set-remove-wins  the bug's merge keeps only values the incoming state holds (a value
                   of the receiving side survives only if the other side holds its dot
                   too), so no state ever holds both concurrent adds of a key: after the
                   heal one of them is gone (lost), whichever merge comes first.
  counter-sum      the home's first acknowledged increment reached some other replica
                   (W = 2), which holds that actor's contribution at the first seq and
                   must, to converge, merge a later seq of the same actor: the bug adds
                   the two totals. Totals only grow under merge, so the healed counter
                   stays above everything written to the key, all of it acknowledged
                   (doubled).
"""
import random
import time

import workloads
from cluster import DISK_NODE, NAMES
from dynalib import cluster_ring, cluster_status, preference_names
from nemesis import Nemesis

WAIT = 30.0         # the longest a step waits for a failure detector or an answer (s)
SET_KEYS = 4
COUNTER_KEYS = 4    # counter keys to complete
COUNTER_POOL = 40   # counter keys tried at most
INCRS = 3           # increments per side and key
REGISTER_KEYS = 4


class ScheduleError(Exception):
    pass


class Expose(Nemesis):
    """The schedule, in the nemesis's place: its steps once each, in order."""

    def __init__(self, cl, rng, duration, log, tid0):
        Nemesis.__init__(self, cl, rng, duration, log)
        self.churn = []
        self.reg = workloads.Register(tid0, random.Random(0))
        self.reg.own_keys = []
        self.sets = workloads.RedisSet(tid0 + 1, random.Random(0))
        self.sets.own_keys = ["set:x%d" % i for i in range(SET_KEYS)]
        self.ctr = workloads.Counter(tid0 + 2, random.Random(0))
        self.ctr.own_keys = []
        self.conns = workloads.Conns()

    def records(self):
        return [self.reg, self.sets, self.ctr]

    def skipped(self):
        return [] if self.cl.nft_ok else ["the expose schedule (nft needs root): it cannot run"]

    def run(self):
        try:
            for what in ("split", "wipe"):
                t0 = time.monotonic()
                try:
                    if not self.cl.nft_ok:
                        raise ScheduleError("needs root and nft")
                    getattr(self, "x_" + what)()
                except Exception as e:   # reported: the run fails
                    self.errors.append("expose %s: %s: %s" % (what, type(e).__name__, e))
                    self.cl.heal_all()
                self.windows.append((t0, time.monotonic(), what))
                self.count(what, 1)
        finally:
            self.cl.heal_all()
            self.conns.close()

    # -- waiting for judgements and answers
    def wait_reach(self, who, others, want, what):
        """Until each node of who judges each of others `want` (DYNA.STATUS reach)."""
        t0 = time.monotonic()
        while True:
            sts = [cluster_status(self.cl.nodes[w], timeout=2.0) for w in who]
            if all(st and all(st.get(o, {}).get("reach") == want for o in others) for st in sts):
                return time.monotonic() - t0
            if time.monotonic() - t0 > WAIT:
                raise ScheduleError("%s: not within %.0f s" % (what, WAIT))
            time.sleep(0.1)

    def entry(self, ring, key, side):
        homes = [h for h in preference_names(ring, key) if h in side]
        return homes[0] if homes else side[0]

    def sadd(self, node, key):
        m = self.sets.uid()
        t0 = time.monotonic()
        r, _ = self.conns.call(self.cl.nodes[node], "SADD", key, m)
        ok = r == 1
        self.sets.op(t0, "w", ok)
        self.sets.adds.append((key, m, ok))
        return ok

    def incr(self, node, key):
        self.ctr.seq += 1
        amount = 1000 * self.ctr.seq + self.ctr.tid
        t0 = time.monotonic()
        r, _ = self.conns.call(self.cl.nodes[node], "INCRBY", key, amount)
        ok = isinstance(r, int)
        self.ctr.op(t0, "w", ok)
        self.ctr.incs.append((key, amount, ok))
        return ok

    # -- the steps
    def x_split(self):
        names = list(NAMES)
        self.rng.shuffle(names)
        sides = [names[:3], names[3:]]
        self.log("expose: partition %s | %s" % tuple(sides))
        self.cut(sides[0], sides[1])
        s = max(self.wait_reach(sides[0], sides[1], "unreachable", "the two sides judging each other unreachable"),
                self.wait_reach(sides[1], sides[0], "unreachable", "the two sides judging each other unreachable"))
        for side in sides:   # and its own side reachable: a write reaches the homes on its side
            for nm in side:
                self.wait_reach([nm], [o for o in side if o != nm], "reachable",
                                "each node judging its own side reachable")
        ring = cluster_ring(self.cl.nodes[names[0]])
        if not ring:
            raise ScheduleError("no ring from %s" % names[0])
        self.log("expose: each side judges the other unreachable (%.1f s) and itself reachable" % s)
        tries = 0
        for k in self.sets.own_keys:
            for side in sides:
                node, t0 = self.entry(ring, k, side), time.monotonic()
                while not self.sadd(node, k):
                    tries += 1
                    if time.monotonic() - t0 > WAIT:
                        raise ScheduleError("no SADD on %s acknowledged through %s within %.0f s" % (k, node, WAIT))
                    time.sleep(0.05)
        self.log("expose: %d set keys, an add acknowledged on each side of each (%d unacknowledged tries)"
                 % (len(self.sets.own_keys), tries))
        done, set_aside = [], []
        while len(done) < COUNTER_KEYS:
            if len(self.ctr.own_keys) >= COUNTER_POOL:
                raise ScheduleError("only %d of %d counter keys with every increment acknowledged (%d tried)"
                                    % (len(done), COUNTER_KEYS, COUNTER_POOL))
            k = "counter:x%d" % len(self.ctr.own_keys)
            self.ctr.own_keys.append(k)
            if all(self.incr(self.entry(ring, k, side), k) for side in sides for _ in range(INCRS)):
                done.append(k)
            else:
                set_aside.append(k)
        self.log("expose: %d counter keys with %d acknowledged increments per side%s"
                 % (len(done), INCRS, ", set aside (an increment unanswered): " + ", ".join(set_aside)
                    if set_aside else ""))
        self.cl.heal_net()
        s = self.wait_healed()
        self.log("expose: healed; every node judges every other reachable (%.1f s)" % s)

    def wait_healed(self):
        t0 = time.monotonic()
        for nm in NAMES:
            self.wait_reach([nm], [o for o in NAMES if o != nm], "reachable",
                            "every node judging every other reachable after the heal")
        return time.monotonic() - t0

    def x_wipe(self):
        v = self.rng.choice([n for n in NAMES if n != DISK_NODE])
        self.wipe(v, lambda: self.write_alone(v))

    def write_alone(self, v):
        others = [n for n in NAMES if n != v]
        s = self.wait_reach([v], others, "unreachable", "%s judging every other node unreachable" % v)
        ring = cluster_ring(self.cl.nodes[v])
        if not ring:
            raise ScheduleError("no ring from %s" % v)
        keys, i = [], 0
        while len(keys) < REGISTER_KEYS:
            k = "register:x%d" % i
            i += 1
            if v in preference_names(ring, k):
                keys.append(k)
        self.reg.own_keys = keys
        acked, answers = 0, {}
        for k in keys:
            t_first = time.monotonic()
            r = None
            while r is None:   # no answer (a timeout, a closed connection): again, a new value
                if time.monotonic() - t_first > WAIT:
                    raise ScheduleError("no answer from %s to a PUT on %s within %.0f s" % (v, k, WAIT))
                val = self.reg.uid()
                t0 = time.monotonic()
                r, _ = self.conns.call(self.cl.nodes[v], "DYNA.PUT", k, "", val)
                ok = isinstance(r, bytes)
                acked += ok
                word = "OK" if ok else "timeout" if r is None else str(getattr(r, "msg", r)).split(" ")[0]
                answers[word] = answers.get(word, 0) + 1
                self.reg.op(t0, "w", ok)
                self.reg.writes.append({"key": k, "value": val, "observed": set(), "acked": ok})
        self.wait_reach([v], others, "unreachable", "%s still judging every other node unreachable" % v)
        self.log("expose: %s judges every other node unreachable (%.1f s); %d of %d PUTs through it "
                 "acknowledged (%s; answers: %s)" % (v, s, acked, len(keys), ", ".join(keys), ", ".join(
                     "%s %d" % kv for kv in sorted(answers.items()))))
