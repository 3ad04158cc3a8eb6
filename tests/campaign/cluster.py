"""cluster.py: the campaign's cluster of real dynad processes and the levers the nemesis
pulls on it (Python standard library; dynalib from tests/integration).

- Nodes c1..c5 (N=3, R=2, W=2, the default --sync batch) plus c6, the joiner of the
  membership churn, each on its own loopback address 127.77.K.1..6 (K from the pid, so
  two campaigns at once, or the integration tests' 127.0.0.x nodes, never share one).
- c5's data dir is a small tmpfs of its own when we are root, so the nemesis can fill it.
- Every node runs under tests/tools/skew.c (libdyna_skew.so) with its own offset file,
  so the nemesis can step one node's wall clock, and under tests/tools/failsync.c
  (libdyna_failsync.so) with its own flag file, so the nemesis can make its fsyncs fail
  with EIO.
- Firewall rules live in the nft tables `inet dynacampaign<pid>` (drops) and
  `ip dynacampaign<pid>` (duplicates: `dup to`, which the inet family lacks), match only
  our own addresses, and are removed by cleanup() (also at exit and on SIGTERM).
- Delayed packets: iptables NFQUEUE rules and tests/tools/nfq_delay
  (tests/integration/wan.py), on our addresses only, on the first free queue of 40-49;
  removed by heal_all() and cleanup() too.
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import dynalib  # noqa: E402
import wan  # noqa: E402

NAMES = ["c1", "c2", "c3", "c4", "c5"]
JOINER = "c6"
DISK_NODE = "c5"
from dynalib import (Client, ConnectionClosed, cluster_ring, cluster_status,  # noqa: E402
                     lib_dir, restart_cluster_node, start_cluster_node, wait_until)

NET = "127.77.%d" % (1 + os.getpid() % 250)
IPS = dict((nm, "%s.%d" % (NET, i + 1)) for i, nm in enumerate(NAMES + [JOINER]))
COMMON = ("--n", 3, "--r", 2, "--w", 2, "--gossip-interval-ms", 200, "--heartbeat-ms", 200,
          "--request-timeout-ms", 1000)
# c5's LMDB map is small, so that its log checkpoints every 4 MiB and prefills only
# 8 MiB ahead (store/lmdb_batch.c): a full disk then bites within seconds.
MAP_MB = {DISK_NODE: 32}
TABLE = "dynacampaign%d" % os.getpid()
DELAY_QUEUES = range(40, 50)   # NFQUEUE numbers tried in turn (one taken is skipped)
DISK_BIG, DISK_SMALL = "256m", "64m"


def run(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.decode().strip()))
    return r.returncode


class Cluster(object):
    """The nodes (by name), their scratch dir, the firewall and the disk of c5."""

    def __init__(self, root, bugs=None, log=print):
        self.root, self.bugs, self.log = root, bugs, log
        self.nodes = {}
        self.members = list(NAMES)   # who should be in the ring now
        self.is_root = os.geteuid() == 0
        self.nft_ok = self.is_root and shutil.which("nft") is not None
        self.disk_mounted = False
        self.nft_ready = False
        self.skew_lib = os.path.abspath(os.path.join(lib_dir(), "libdyna_skew.so"))
        if not os.path.exists(self.skew_lib):
            self.skew_lib = None
        self.eio_lib = os.path.abspath(os.path.join(lib_dir(), "libdyna_failsync.so"))
        if not os.path.exists(self.eio_lib):
            self.eio_lib = None
        self.dup_ready = False
        self.delay_why = wan.available()   # None, or why packets cannot be delayed here
        self.delays = []                   # wan.Delay in force

    # -- processes
    def env(self, name):
        env = dict(os.environ)
        env.pop("DYNA_TEST_BUGS", None)
        if self.bugs:
            env["DYNA_TEST_BUGS"] = self.bugs
        pre = []
        if self.skew_lib:
            pre.append(self.skew_lib)
            env["DYNA_SKEW_FILE"] = self.skew_file(name)
        if self.eio_lib:
            pre.append(self.eio_lib)
            env["DYNA_FAILSYNC_FLAG"] = self.eio_flag(name)
        if pre:
            env["LD_PRELOAD"] = " ".join(pre)
        return env

    def eio_flag(self, name):
        return os.path.join(self.root, name + ".eio")

    def eio(self, name, on):
        """While on, name's fsync and fdatasync fail with EIO (tests/tools/failsync.c)."""
        if on:
            open(self.eio_flag(name), "w").close()
        elif os.path.exists(self.eio_flag(name)):
            os.unlink(self.eio_flag(name))

    def skew_file(self, name):
        return os.path.join(self.root, name + ".skew")

    def data_dir(self, name):
        return os.path.join(self.root, name)

    def start(self, name, join=None, port=None, cluster_port=None):
        # dynalib starts nodes with this process's environment: set ours for the child.
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env(name))
        try:
            node = start_cluster_node(name, self.data_dir(name), IPS[name], join=join,
                                      extra_args=COMMON + ("--map-size-mb", MAP_MB.get(name, 256)),
                                      port=port, cluster_port=cluster_port, timeout=30)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.nodes[name] = node
        return node

    def restart(self, name):
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env(name))
        try:
            self.nodes[name] = restart_cluster_node(self.nodes[name], timeout=30)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return self.nodes[name]

    def form(self):
        if self.is_root:
            os.makedirs(self.data_dir(DISK_NODE), exist_ok=True)
            if run("mount", "-t", "tmpfs", "-o", "size=" + DISK_BIG, "dynacampaign",
                   self.data_dir(DISK_NODE), check=False) == 0:
                self.disk_mounted = True
        first = self.start(NAMES[0])
        for nm in NAMES[1:]:
            self.start(nm, join=first.cluster_addr)
        wait_until(lambda: self.settled(), 60, 0.2, "the 5 nodes to settle on one ring")

    def up(self, names=None):
        return [self.nodes[n] for n in (names or self.members) if n in self.nodes and self.nodes[n].alive()]

    def settled(self):
        """Every member answers, sees exactly the members valid and reachable, one ring."""
        rings = []
        for nm in self.members:
            n = self.nodes[nm]
            st = cluster_status(n, timeout=2.0)
            rg = cluster_ring(n, timeout=2.0)
            if not st or not rg:
                return None
            valid = sorted(k for k, m in st.items() if m["status"] == "valid")
            if valid != sorted(self.members):
                return None
            if any(st[k]["reach"] == "unreachable" for k in valid):
                return None
            rings.append(repr((rg["version"], rg["prefs"], [m["name"] for m in rg["members"]])))
        return len(set(rings)) == 1 and cluster_ring(self.nodes[self.members[0]])

    # -- network (nft, our addresses only)
    def nft(self, *args):
        run("nft", *args)

    def _chain(self):
        if not self.nft_ready:
            self.nft("add", "table", "inet", TABLE)
            self.nft("add", "chain", "inet", TABLE, "out",
                     "{ type filter hook output priority 0; policy accept; }")
            self.nft_ready = True

    def drop(self, a, b):
        """Drops every packet from node a to node b (one direction)."""
        self._chain()
        self.nft("add", "rule", "inet", TABLE, "out", "ip", "saddr", IPS[a], "ip", "daddr",
                 IPS[b], "drop")

    def dup(self, a, b):
        """Every packet from node a to node b is sent twice (nft `dup to`, family ip)."""
        if not self.dup_ready:
            self.nft("add", "table", "ip", TABLE)
            self.nft("add", "chain", "ip", TABLE, "out",
                     "{ type filter hook output priority 0; policy accept; }")
            self.dup_ready = True
        self.nft("add", "rule", "ip", TABLE, "out", "ip", "saddr", IPS[a], "ip", "daddr", IPS[b],
                 "dup", "to", IPS[b])

    def delay(self, side_a, side_b, ms):
        """Every packet between a node of side_a and one of side_b (both ways) waits ms."""
        self.delays.append(wan.Delay([IPS[a] for a in side_a], [IPS[b] for b in side_b], ms,
                                     DELAY_QUEUES))

    def heal_delay(self):
        while self.delays:
            d = self.delays.pop()
            d.close()
            if d.log.strip():
                self.log("  " + d.log.decode(errors="replace").strip().splitlines()[-1])

    def heal_net(self):
        if self.nft_ready:
            self.nft("flush", "chain", "inet", TABLE, "out")
        if self.dup_ready:
            self.nft("flush", "chain", "ip", TABLE, "out")

    # -- clocks
    def skew(self, name, seconds):
        with open(self.skew_file(name), "w") as f:
            f.write("%d\n" % seconds)

    # -- c5's disk
    def disk_fill(self):
        """Shrinks c5's tmpfs to what it uses now (plus 64 KiB): its writes that need new
        space get ENOSPC. The kernel refuses a size below the use, which grows under load
        between our look and the remount: then we look again."""
        for _ in range(20):
            st = os.statvfs(self.data_dir(DISK_NODE))
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            if run("mount", "-o", "remount,size=%d" % (used + 65536), self.data_dir(DISK_NODE),
                   check=False) == 0:
                return
        raise RuntimeError("could not shrink %s's tmpfs to its use" % DISK_NODE)

    def disk_usage(self):
        st = os.statvfs(self.data_dir(DISK_NODE))
        return "%s: %d of %d KiB used" % (DISK_NODE, (st.f_blocks - st.f_bfree) * st.f_frsize // 1024,
                                          st.f_blocks * st.f_frsize // 1024)

    def disk_free(self):
        run("mount", "-o", "remount,size=" + DISK_BIG, self.data_dir(DISK_NODE), check=False)

    # -- end
    def heal_all(self):
        for n in self.nodes.values():
            if n.alive():
                try:
                    n.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
        if self.nft_ready:
            self.heal_net()
        self.heal_delay()
        for nm in self.nodes:
            self.skew(nm, 0)
            self.eio(nm, False)
        if self.disk_mounted:
            self.disk_free()

    def cleanup(self):
        if self.nft_ok:
            for fam in ("inet", "ip"):
                subprocess.run(["nft", "delete", "table", fam, TABLE], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            self.nft_ready = self.dup_ready = False
        self.heal_delay()
        for n in self.nodes.values():
            if n.alive():
                try:
                    n.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
        dynalib.cleanup_all()
        if self.disk_mounted:
            subprocess.run(["umount", "-l", self.data_dir(DISK_NODE)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.disk_mounted = False


def call(node, *args, timeout=3.0):
    """One command on a fresh connection; the reply, or the exception (never raised)."""
    try:
        with Client(node.port, host=node.host, timeout=timeout) as c:
            return c.call(*args)
    except (OSError, ConnectionClosed) as e:
        return e


_CLUSTERS = []


def register(cl):
    _CLUSTERS.append(cl)


def _cleanup_all():
    for cl in _CLUSTERS:
        try:
            cl.cleanup()
        except Exception:
            pass


def _on_sigterm(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, _on_sigterm)
signal.signal(signal.SIGINT, _on_sigterm)
