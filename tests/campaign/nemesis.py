"""nemesis.py: the campaign's fault injector. One thread that, until the end of the run,
picks a fault from the seed's random stream, applies it for a few seconds, heals it and
rests, and records each fault's window (for the checker's availability figures). Faults
are dealt like cards: the menu shuffled, each fault once before any comes again, so a
short run meets most of them:

  kill       SIGKILL a node, restart it on the same data dir
  pause      SIGSTOP a node, SIGCONT
  majority   nft: three nodes cut from the other two (both ways)
  isolate    nft: one node cut from every other
  bridge     nft: {a,b} cut from {d,e}; c reaches both sides
  asym       nft: packets from one node to two others dropped, the other way open
  clock      one node's wall clock stepped through skew.c, then back: +1 h the first
             time in a run, then +1 h, -1 h, +2 min, +30 s or -30 s
  wipe       a node cut off from the others (nft) loses its disk: killed, its data dir
             wiped, started again with the same name and addresses and --join, its old
             id removed (DYNA.ADMIN REMOVE); anti-entropy refills it
  disk       c5's data dir (a tmpfs) shrunk to what it uses (writes that need new space
             get ENOSPC), then c5 killed and started on the full disk, then space back
  dup        nft `dup to`: every packet from one node to two others sent twice (TCP
             drops the copies: duplicated frames never reach dynad)
  delay      every packet between one node and the rest (both ways) held 20-100 ms
             (iptables NFQUEUE and tests/tools/nfq_delay: this kernel has no netem)
  eio        one node's fsync and fdatasync fail with EIO (libdyna_failsync.so) for a
             while: its commits fail, the writes they carried are answered with an error
  double     two faults at once: a network one (majority, isolate, bridge, asym, dup) and
             one of kill, pause, clock, eio on a node of their own, held together
  join/leave membership churn under load: c6 joins (at a quarter of the run), and
             leaves with DYNA.ADMIN LEAVE (at 60%)

Faults need root and nft (network, disk), root, iptables and nfq_delay (delay),
libdyna_skew.so (clock) and libdyna_failsync.so (eio); what this machine cannot do is
left out of the menu and named in the output.
"""
import random
import shutil
import signal
import threading
import time

from cluster import DISK_NODE, JOINER, NAMES, call


def commit_errors(node):
    """INFO commit_errors of node; 0 when it does not answer."""
    r = call(node, "INFO", timeout=3)
    if isinstance(r, bytes):
        for line in r.split(b"\r\n"):
            if line.startswith(b"commit_errors:"):
                return int(line.split(b":")[1])
    return 0


def node_id(node):
    r = call(node, "INFO", timeout=3)
    for line in (r if isinstance(r, bytes) else b"").split(b"\r\n"):
        if line.startswith(b"node_id:"):
            return line.split(b":")[1].decode()
    raise RuntimeError("no node_id from %s" % node.name)


def last_line(e):
    lines = [x for x in str(e).splitlines() if "cannot" in x or "error" in x.lower()]
    return lines[-1].strip() if lines else str(e).splitlines()[0]


class Nemesis(threading.Thread):
    def __init__(self, cl, rng, duration, log, only=None):
        threading.Thread.__init__(self, daemon=True)
        self.cl, self.rng, self.duration, self.log = cl, rng, duration, log
        self.stop_ev = threading.Event()
        self.windows = []    # (t_start, t_end, name)
        self.skews = []      # (t_start, t_end): some node's wall clock was off
        self.counts = {}
        self.errors = []
        self.menu = ["kill", "pause"]
        if cl.nft_ok:
            self.menu += ["majority", "isolate", "bridge", "asym", "wipe", "dup", "double"]
        if not cl.delay_why:
            self.menu.append("delay")
        if cl.skew_lib:
            self.menu.append("clock")
        if cl.eio_lib:
            self.menu.append("eio")
        if cl.disk_mounted:
            self.menu.append("disk")
        self.deck = []
        self.local = threading.local()   # a double's second fault draws from its own stream
        self.churn = [(0.25, "join"), (0.6, "leave")]
        if only:   # a comma list: only these faults (the deliberate-bug runs)
            self.menu = [f for f in self.menu if f in only.split(",")] or self.menu
            self.churn = [c for c in self.churn if c[1] in only.split(",")]
        self.left = False

    def skipped(self):
        out = []
        if not self.cl.nft_ok:
            out.append("network faults (nft needs root)")
        if not self.cl.skew_lib:
            out.append("clock (libdyna_skew.so not built)")
        if not self.cl.eio_lib:
            out.append("eio (libdyna_failsync.so not built)")
        if self.cl.delay_why:
            out.append("delayed packets (%s)" % self.cl.delay_why)
        if not self.cl.disk_mounted:
            out.append("disk (mounting a tmpfs needs root)")
        return out

    def run(self):
        t_begin = time.monotonic()
        end = t_begin + self.duration
        try:
            while not self.stop_ev.is_set() and time.monotonic() < end - 3:
                frac = (time.monotonic() - t_begin) / self.duration
                if self.churn and frac >= self.churn[0][0]:
                    what = self.churn.pop(0)[1]
                else:
                    if not self.deck:
                        self.deck = list(self.menu)
                        self.rng.shuffle(self.deck)
                    what = self.deck.pop()
                try:
                    self.apply(what, end)
                except Exception as e:   # e.g. a restart that failed: healed below
                    self.errors.append("nemesis %s: %s: %s" % (what, type(e).__name__, e))
                    self.cl.heal_all()
                self.stop_ev.wait(self.rng.uniform(1.0, 3.0))
        finally:
            self.cl.heal_all()

    @property
    def rng(self):
        return getattr(self.local, "rng", None) or self._rng

    @rng.setter
    def rng(self, r):
        self._rng = r

    def hold(self, end, lo=2.0, hi=6.0):
        self.stop_ev.wait(max(0.5, min(self.rng.uniform(lo, hi), end - time.monotonic() - 2)))

    def apply(self, what, end):
        victims = [n for n in NAMES if n in self.cl.nodes]
        v = self.rng.choice(victims)
        t0 = time.monotonic()
        getattr(self, "f_" + what)(v, end)
        self.windows.append((t0, time.monotonic(), what))
        self.counts[what] = self.counts.get(what, 0) + 1

    def f_kill(self, v, end):
        self.log("nemesis: kill -9 %s" % v)
        self.cl.nodes[v].kill()
        self.hold(end)
        self.cl.restart(v)

    def f_pause(self, v, end):
        self.log("nemesis: SIGSTOP %s" % v)
        self.cl.nodes[v].proc.send_signal(signal.SIGSTOP)
        self.hold(end)
        self.cl.nodes[v].proc.send_signal(signal.SIGCONT)

    def cut(self, side_a, side_b, both=True):
        for a in side_a:
            for b in side_b:
                self.cl.drop(a, b)
                if both:
                    self.cl.drop(b, a)

    def f_majority(self, v, end):
        names = list(NAMES)
        self.rng.shuffle(names)
        self.log("nemesis: partition %s | %s" % (names[:3], names[3:]))
        self.cut(names[:3], names[3:])
        self.hold(end)
        self.cl.heal_net()

    def f_isolate(self, v, end):
        self.log("nemesis: isolate %s" % v)
        self.cut([v], [n for n in self.cl.nodes if n != v])
        self.hold(end)
        self.cl.heal_net()

    def f_bridge(self, v, end):
        names = list(NAMES)
        self.rng.shuffle(names)
        self.log("nemesis: bridge %s | %s | %s" % (names[:2], names[2], names[3:]))
        self.cut(names[:2], names[3:])
        self.hold(end)
        self.cl.heal_net()

    def f_asym(self, v, end):
        others = self.rng.sample([n for n in NAMES if n != v], 2)
        self.log("nemesis: drop %s -> %s (one way)" % (v, others))
        self.cut([v], others, both=False)
        self.hold(end)
        self.cl.heal_net()

    def f_wipe(self, v, end):
        self.wipe(self.rng.choice([n for n in NAMES if n != DISK_NODE]), lambda: self.hold(end))

    def wipe(self, v, while_cut):
        """Isolates v, calls while_cut(), then kills v, wipes its data dir, heals and
        starts it again as a new node with its old name and addresses (--join), and
        removes its old id."""
        old = self.cl.nodes[v]
        old_id = node_id(old)
        self.log("nemesis: isolate %s, then wipe its disk and replace it" % v)
        self.cut([v], [n for n in self.cl.nodes if n != v])
        while_cut()
        old.kill()
        shutil.rmtree(old.data_dir)
        self.cl.heal_net()
        seed = self.cl.nodes[self.rng.choice([n for n in NAMES if n != v])]
        self.cl.start(v, join=seed.cluster_addr, port=old.port, cluster_port=old.cluster_port)
        rm = None
        for _ in range(20):   # the old id, once the new one is known (a survivor may be paused: retry)
            rm = call(seed, "DYNA.ADMIN", "REMOVE", old_id, timeout=5)
            if rm == "OK":
                break
            time.sleep(0.5)
        if rm != "OK":
            self.errors.append("DYNA.ADMIN REMOVE %s (old %s) -> %r" % (old_id, v, rm))

    def f_clock(self, v, end):
        # A forward step of an hour and back: the node's value stamps stay an hour ahead
        # until its clock catches up (they never go backwards), but the deadlines it sets
        # and judges follow its clock as it is (docs/architecture.md, "Two clocks"). So
        # the expiry check leaves out only the keys living while the step lasted; a dynad
        # whose deadlines came from its stamps sets them an hour late after the step back,
        # which the check reports as expired keys that came back.
        off = 3600 if not self.counts.get("clock") else self.rng.choice([3600, -3600, 120, 30, -30])
        self.log("nemesis: %s's wall clock %+d s" % (v, off))
        t0 = time.monotonic()
        self.cl.skew(v, off)
        self.hold(end)
        self.cl.skew(v, 0)
        # the shim re-reads its file every 50 ms
        self.skews.append((t0, time.monotonic() + 0.2))

    def f_disk(self, v, end):
        """c5's disk fills under load (the log reuses its prefilled, recycled segments, so
        commits fail only where the store needs new space); then c5 is killed and started
        on the full disk (it must refuse to start, not run on a store it cannot write);
        then space comes back and it starts again."""
        node = self.cl.nodes[DISK_NODE]
        before = commit_errors(node)
        self.log("nemesis: %s's disk full" % DISK_NODE)
        self.cl.disk_fill()
        self.hold(end)
        failed = commit_errors(node) - before if node.alive() else 0
        self.count("disk-commit-errors", max(0, failed))
        node.kill()
        self.cl.disk_fill()
        try:
            self.cl.restart(DISK_NODE)
            self.log("nemesis: %s started on its full disk (%s)" % (DISK_NODE, self.cl.disk_usage()))
            self.count("disk-start-ok", 1)
        except Exception as e:   # NodeStartError: it refused, as it should
            self.log("nemesis: %s refused to start on its full disk: %s" % (DISK_NODE, last_line(e)))
            self.count("disk-start-refused", 1)
        self.cl.disk_free()
        if not self.cl.nodes[DISK_NODE].alive():
            self.cl.restart(DISK_NODE)

    def f_dup(self, v, end):
        others = self.rng.sample([n for n in NAMES if n != v], 2)
        self.log("nemesis: packets %s -> %s sent twice" % (v, others))
        for o in others:
            self.cl.dup(v, o)
        self.hold(end)
        self.cl.heal_net()

    def f_delay(self, v, end):
        """Set up and healed in this one thread (nfq_delay stops when the thread that
        started it ends): not one of a double's faults."""
        ms = self.rng.randint(20, 100)
        others = [n for n in self.cl.nodes if n != v]
        self.log("nemesis: packets between %s and %s delayed %d ms each way" % (v, others, ms))
        self.cl.delay([v], others, ms)
        self.hold(end)
        self.cl.heal_delay()

    def f_eio(self, v, end):
        self.log("nemesis: %s's fsyncs fail with EIO" % v)
        before = commit_errors(self.cl.nodes[v])
        self.cl.eio(v, True)
        self.hold(end, 1.0, 3.0)
        self.cl.eio(v, False)
        self.count("eio-commit-errors", max(0, commit_errors(self.cl.nodes[v]) - before))

    def f_double(self, v, end):
        """Two faults at once on different nodes, each healed by its own code when its
        hold ends (the network one heals with heal_net: only its own rules exist then)."""
        net = self.rng.choice(["majority", "isolate", "bridge", "asym", "dup"])
        node_faults = ["kill", "pause"] + (["clock"] if self.cl.skew_lib else []) + \
                      (["eio"] if self.cl.eio_lib else [])
        other = self.rng.choice(node_faults)
        v2 = self.rng.choice([n for n in NAMES if n != v and n != DISK_NODE])
        self.log("nemesis: two at once: %s (%s) and %s (%s)" % (net, v, other, v2))
        sub_rng = random.Random(self.rng.random())
        err = []

        def second():
            self.local.rng = sub_rng
            try:
                getattr(self, "f_" + other)(v2, end)
            except Exception as e:   # reported like any fault's failure
                err.append(e)
        t = threading.Thread(target=second, daemon=True)
        t.start()
        getattr(self, "f_" + net)(v, end)
        t.join(120)
        self.count("double-" + other, 1)
        self.count("double-" + net, 1)
        if err:
            raise err[0]

    def count(self, what, n):
        self.counts[what] = self.counts.get(what, 0) + n

    def f_join(self, v, end):
        self.log("nemesis: %s joins" % JOINER)
        self.cl.start(JOINER, join=self.cl.nodes[NAMES[0]].cluster_addr)
        self.cl.members.append(JOINER)

    def f_leave(self, v, end):
        if JOINER not in self.cl.members:
            return
        self.log("nemesis: %s leaves (DYNA.ADMIN LEAVE)" % JOINER)
        r = call(self.cl.nodes[JOINER], "DYNA.ADMIN", "LEAVE", timeout=10)
        if r != "OK":
            self.errors.append("DYNA.ADMIN LEAVE on %s -> %r" % (JOINER, r))
            return
        self.left = True

    def finish_leave(self, timeout):
        """After the heal: waits until the others judge c6 removed, then stops it.
        Returns the seconds it took, or None (an error is recorded)."""
        if not self.left:
            return 0.0
        t0 = time.monotonic()
        others = [self.cl.nodes[n] for n in NAMES]
        while time.monotonic() - t0 < timeout:
            from dynalib import cluster_status
            sts = [cluster_status(n, timeout=2.0) for n in others]
            if all(st and st.get(JOINER, {}).get("status") == "removed" for st in sts):
                self.cl.nodes[JOINER].stop()
                self.cl.members.remove(JOINER)
                return time.monotonic() - t0
            time.sleep(0.25)
        self.errors.append("%s still not removed %.0f s after the heal" % (JOINER, timeout))
        return None
