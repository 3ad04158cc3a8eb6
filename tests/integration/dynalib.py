"""dynalib: shared helpers for Dyna's integration tests (Python 3 standard library only).

- A minimal RESP2 client: commands go out as arrays of bulk strings; replies come back as
    simple string -> str          ("+OK"   -> "OK")
    error         -> RespError    ("-ERR x" -> RespError("ERR x")), a value, never raised
    integer       -> int
    bulk string   -> bytes
    nil ($-1/*-1) -> None
    array         -> list (nested arrays are nested lists)
  EOF while a reply is awaited raises ConnectionClosed.
- Processes: start_node() runs dynad on 127.0.0.1 and returns a Node handle (.proc, .port,
  .stop(), .kill(), .rss_kb(), .log_text()); every node started is remembered so that
  cleanup_all() (also run at exit) kills whatever is left.
- Clusters: start_cluster_node() runs dynad on its own loopback IP with an explicit
  --cluster address (and --join), restart_cluster_node() starts it again on the same data
  dir; cluster_status()/cluster_ring() parse DYNA.STATUS/DYNA.RING; pipelined() and
  local_holders() batch many commands on one socket.
- Harness: a scratch directory under $DYNA_TMP, check()/section() printing one line per
  check, and run_tests() that runs named test functions, cleans up and sets the exit code.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory).
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

# ---------------------------------------------------------------------------- RESP


class RespError(object):
    """An error reply (-ERR ...). A value, compared by its message."""

    __slots__ = ("msg",)

    def __init__(self, msg):
        self.msg = msg

    def startswith(self, prefix):
        return self.msg.startswith(prefix)

    def __eq__(self, other):
        return isinstance(other, RespError) and other.msg == self.msg

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("RespError", self.msg))

    def __repr__(self):
        return "RespError(%r)" % self.msg


class ConnectionClosed(Exception):
    """The peer closed the connection while a reply was expected."""


class ProtocolViolation(Exception):
    """The server sent bytes that are not RESP2."""


def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, int):
        return str(x).encode()
    raise TypeError("cannot encode %r" % (x,))


def encode_command(*args):
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        parts.append(b"$%d\r\n" % len(a))
        parts.append(a)
        parts.append(b"\r\n")
    return b"".join(parts)


class _NeedMore(Exception):
    pass


def parse_reply(buf, pos=0):
    """Parses one reply from buf[pos:]; returns (value, new_pos) or raises _NeedMore."""
    n = len(buf)
    if pos >= n:
        raise _NeedMore()
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _NeedMore()
    t = buf[pos:pos + 1]
    line = bytes(buf[pos + 1:end])
    nxt = end + 2
    if t == b"+":
        return line.decode("utf-8", "replace"), nxt
    if t == b"-":
        return RespError(line.decode("utf-8", "replace")), nxt
    if t == b":":
        try:
            return int(line), nxt
        except ValueError:
            raise ProtocolViolation("bad integer %r" % line)
    if t == b"$":
        try:
            ln = int(line)
        except ValueError:
            raise ProtocolViolation("bad bulk length %r" % line)
        if ln < 0:
            return None, nxt
        if nxt + ln + 2 > n:
            raise _NeedMore()
        if buf[nxt + ln:nxt + ln + 2] != b"\r\n":
            raise ProtocolViolation("bulk not followed by CRLF")
        return bytes(buf[nxt:nxt + ln]), nxt + ln + 2
    if t == b"*":
        try:
            cnt = int(line)
        except ValueError:
            raise ProtocolViolation("bad array length %r" % line)
        if cnt < 0:
            return None, nxt
        out = []
        p = nxt
        for _ in range(cnt):
            v, p = parse_reply(buf, p)
            out.append(v)
        return out, p
    raise ProtocolViolation("unknown reply type byte %r at %d" % (t, pos))


class Client(object):
    """A blocking RESP2 connection. Replies are read in order from a private buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, connect=True):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = None
        self.buf = bytearray()
        self.pos = 0
        if connect:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- low level
    def send_raw(self, data):
        self.sock.sendall(_b(data))

    def send(self, *args):
        self.sock.sendall(encode_command(*args))

    def _fill(self, deadline=None):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            self.sock.settimeout(min(left, self.timeout))
        try:
            data = self.sock.recv(1 << 20)
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not data:
            raise ConnectionClosed("server closed the connection")
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def read_reply(self, deadline=None):
        while True:
            try:
                v, p = parse_reply(self.buf, self.pos)
            except _NeedMore:
                self._fill(deadline)
                continue
            self.pos = p
            if self.pos == len(self.buf):
                self.buf = bytearray()
                self.pos = 0
            return v

    def read_replies(self, n, deadline=None):
        return [self.read_reply(deadline) for _ in range(n)]

    def pending_bytes(self):
        return len(self.buf) - self.pos

    # -- high level
    def call(self, *args):
        self.send(*args)
        return self.read_reply()

    def pipeline(self, commands):
        """Sends every command (a tuple of args) in one write, returns their replies."""
        self.sock.sendall(b"".join(encode_command(*c) for c in commands))
        return self.read_replies(len(commands))

    def wait_closed(self, timeout=10.0):
        """Reads (discarding replies) until EOF. Returns (True, leftover bytes) on EOF
        within timeout, (False, bytes) otherwise. Connection reset counts as closed."""
        deadline = time.monotonic() + timeout
        got = bytearray(self.buf[self.pos:])
        self.buf = bytearray()
        self.pos = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, bytes(got)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False, bytes(got)
            except (ConnectionResetError, BrokenPipeError):
                return True, bytes(got)
            finally:
                try:
                    self.sock.settimeout(self.timeout)
                except OSError:
                    pass
            if not data:
                return True, bytes(got)
            got += data

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(port, host="127.0.0.1", timeout=10.0):
    return Client(port, host, timeout)


# ---------------------------------------------------------------------------- paths


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def bin_dir():
    d = os.environ.get("DYNA_BIN")
    if d:
        return d
    for cand in ("build-integ/bin", "build/bin", "bin"):
        p = os.path.join(repo_root(), cand)
        if os.path.exists(os.path.join(p, "dynad")):
            return p
    return os.path.join(repo_root(), "build", "bin")


def dynad_path():
    return os.path.join(bin_dir(), "dynad")


def lib_dir():
    """Where the build puts libraries and the test tools (libdyna_failsync.so)."""
    return os.environ.get("DYNA_LIB") or os.path.join(bin_dir(), "..", "lib")


def tmp_root():
    d = os.environ.get("DYNA_TMP") or tempfile.gettempdir()
    os.makedirs(d, exist_ok=True)
    return d


def make_tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix + "-", dir=tmp_root())


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind to 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------------------- processes

_ALL_NODES = []


class NodeStartError(Exception):
    pass


class Node(object):
    """A running dynad. stderr goes to log_path."""

    def __init__(self, name, data_dir, port, args, log_path, host="127.0.0.1", env=None):
        self.name, self.data_dir, self.port, self.args, self.log_path = name, data_dir, port, args, log_path
        self.host = host
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, close_fds=True, env=env)
        _ALL_NODES.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=15.0):
        """Polls until the port accepts and answers PING with PONG, or the process exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeStartError("dynad %s exited with %s before it was ready; log:\n%s"
                                     % (self.name, self.proc.returncode, self.log_tail()))
            try:
                with Client(self.port, host=self.host, timeout=2.0) as c:
                    r = c.call("PING")
                    if r == "PONG":
                        return
                    last = r
            except (OSError, ConnectionClosed) as e:
                last = e
            time.sleep(0.02)
        raise NodeStartError("dynad %s not ready on port %d after %.0f s (last: %r); log:\n%s"
                             % (self.name, self.port, timeout, last, self.log_tail()))

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10.0):
        """SIGTERM, wait; SIGKILL if it does not stop in time. Returns the exit code
        (negative for a signal, as subprocess reports it)."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                self.kill()
                return None
        self._close_log()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._close_log()
        return self.proc.returncode

    def _close_log(self):
        try:
            self._log.close()
        except OSError:
            pass

    def rss_kb(self):
        """VmRSS of the process in KiB (None when it is gone)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def client(self, timeout=10.0):
        return Client(self.port, host=self.host, timeout=timeout)


def start_node(name, data_dir, port=None, extra_args=(), wait=True, log_path=None, timeout=15.0,
               env=None):
    """Starts dynad --name NAME --data DIR --listen 127.0.0.1:PORT EXTRA... and (by default)
    waits until it answers PING. With port=None a free port is picked (retried if taken).
    env: the process environment (None: this one's)."""
    attempts = 3 if port is None else 1
    last = None
    for _ in range(attempts):
        p = port if port is not None else free_port()
        args = [dynad_path(), "--name", name, "--data", data_dir, "--listen", "127.0.0.1:%d" % p]
        args += [str(a) for a in extra_args]
        lp = log_path or os.path.join(os.path.dirname(os.path.abspath(data_dir)), "%s.log" % name)
        node = Node(name, data_dir, p, args, lp, env=env)
        if not wait:
            return node
        try:
            node.wait_ready(timeout)
            return node
        except NodeStartError as e:
            last = e
            node.kill()
            if "cannot listen" not in node.log_text():
                raise
    raise last


def cleanup_all():
    for n in list(_ALL_NODES):
        try:
            if n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait(timeout=5)
        except Exception:
            pass
        n._close_log()
    del _ALL_NODES[:]


atexit.register(cleanup_all)


# ---------------------------------------------------------------------------- clusters
#
# Every cluster node gets its own loopback IP (127.0.0.x binds with no set-up) for both
# its client port and its cluster port, so that firewall rules can cut one pair of nodes
# (dynad binds its outgoing peer links to its cluster IP).


def start_cluster_node(name, data_dir, ip, join=None, extra_args=(), wait=True, log_path=None,
                       port=None, cluster_port=None, timeout=15.0):
    """Starts dynad --name NAME --data DIR --listen IP:PORT --cluster IP:CPORT [--join ADDR]
    EXTRA... Free ports on ip are picked when not given (retried if taken). The Node gets
    .ip, .cluster_port and .cluster_addr ("ip:cport", what another node passes to --join)."""
    fixed = port is not None and cluster_port is not None
    attempts = 1 if fixed else 4
    last = None
    for _ in range(attempts):
        p = port if port is not None else free_port(ip)
        cp = cluster_port if cluster_port is not None else free_port(ip)
        if p == cp:
            continue
        args = [dynad_path(), "--name", name, "--data", data_dir, "--listen", "%s:%d" % (ip, p),
                "--cluster", "%s:%d" % (ip, cp)]
        if join:
            args += ["--join", join]
        args += [str(a) for a in extra_args]
        lp = log_path or os.path.join(os.path.dirname(os.path.abspath(data_dir)), "%s.log" % name)
        node = Node(name, data_dir, p, args, lp, host=ip)
        node.ip, node.cluster_port, node.cluster_addr = ip, cp, "%s:%d" % (ip, cp)
        if not wait:
            return node
        try:
            node.wait_ready(timeout)
            return node
        except NodeStartError as e:
            last = e
            node.kill()
            if "cannot listen" not in node.log_text():
                raise
    raise last or NodeStartError("no free port pair on %s" % ip)


def restart_cluster_node(node, wait=True, keep_join=False, timeout=15.0):
    """Starts the same node again (same name, data dir, addresses and flags) after it
    stopped. Without keep_join the --join flag is dropped: a member must find its cluster
    again from its own data dir. Returns the new Node."""
    if node.alive():
        raise RuntimeError("node %s is still running" % node.name)
    args = list(node.args)
    if not keep_join and "--join" in args:
        i = args.index("--join")
        del args[i:i + 2]
    new = Node(node.name, node.data_dir, node.port, args, node.log_path, host=node.host)
    new.ip, new.cluster_port, new.cluster_addr = node.ip, node.cluster_port, node.cluster_addr
    if wait:
        new.wait_ready(timeout)
    return new


STATUS_FIELDS = ("name", "id", "addr", "client_addr", "status", "zone", "owned", "reach", "phi", "dc")


def _s(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def parse_status(reply):
    """DYNA.STATUS reply -> {name: {name, id, addr, client_addr, status, zone, owned,
    reach}}; None when the reply is not the expected shape."""
    if not isinstance(reply, list):
        return None
    out = {}
    for row in reply:
        if not isinstance(row, list) or len(row) != len(STATUS_FIELDS):
            return None
        d = dict(zip(STATUS_FIELDS, [_s(x) for x in row]))
        out[d["name"]] = d
    return out


def cluster_status(node, timeout=5.0):
    """The node's DYNA.STATUS as parse_status() gives it; None when it does not answer."""
    try:
        with Client(node.port, host=node.host, timeout=timeout) as c:
            return parse_status(c.call("DYNA.STATUS"))
    except (OSError, ConnectionClosed, ProtocolViolation):
        return None


def all_see(nodes, names, want):
    """Every node sees each of names with reach in want and status valid."""
    for n in nodes:
        st = cluster_status(n)
        if not st or any(st.get(m, {}).get("status") != "valid" or st[m]["reach"] not in want for m in names):
            return False
    return True


def one_ring(nodes):
    """Every node answers DYNA.RING with the same ring version and preference lists (so
    a key's replicas are the same whichever node coordinates it). Compared as sets: with
    sites each node lists its own site's homes first."""
    rings = [cluster_ring(n) for n in nodes]
    if any(r is None for r in rings):
        return False
    prefs = [[sorted(p) for p in r["prefs"]] for r in rings]
    return all(r["version"] == rings[0]["version"] and p == prefs[0] for r, p in zip(rings, prefs))


def same_addresses(nodes, names):
    """Every node holds each of names (those among nodes) at the addresses that member
    gives itself (its own DYNA.STATUS row): a member restarted on other addresses is
    known by the others at the new ones only once gossip brings its record, and until
    then CLUSTER SLOTS names the old ones."""
    sts = [cluster_status(n) for n in nodes]
    if any(st is None for st in sts):
        return False
    own = {}
    for st in sts:
        for nm, row in st.items():
            if row["reach"] == "self":
                own[nm] = (row["addr"], row["client_addr"])
    return all(nm not in own or (st.get(nm, {}).get("addr"), st.get(nm, {}).get("client_addr")) == own[nm]
               for st in sts for nm in names)


def settled(nodes, names):
    """Every node sees each of names valid and reachable, at the addresses it gives
    itself, and all agree on the ring: a freshly formed cluster is ready for a test that
    writes at one node and reads at another (before that, two nodes may place a key on
    different replicas) or for a client that asks CLUSTER SLOTS."""
    return all_see(nodes, names, ("self", "reachable")) and same_addresses(nodes, names) and one_ring(nodes)


def reach(node, other):
    """How node judges other ("reachable", "unreachable", ...); None when it cannot tell."""
    st = cluster_status(node)
    return st and st.get(other, {}).get("reach")


# A partition of two nodes, driven by SIGSTOP (test_strings.py, test_types.py): side 1 is
# p1 alone (p2 stopped), side 2 is p2 alone (p1 stopped), then both run again.

def start_pair(h, ips, extra_args):
    """Starts cluster nodes p1 and p2 (p2 joins p1) at ips["p1"], ips["p2"]; returns
    (p1, p2) once each sees the other reachable. The caller stops them."""
    p1 = start_cluster_node("p1", h.path("p1"), ips["p1"], extra_args=extra_args)
    p2 = start_cluster_node("p2", h.path("p2"), ips["p2"], join=p1.cluster_addr, extra_args=extra_args)
    wait_until(lambda: all_see((p1, p2), ("p1", "p2"), ("self", "reachable")), 30, 0.05,
               "p1 and p2 to see each other")
    return p1, p2


def partition_side_1(p1, p2):
    """Side 1: p2 is stopped; returns once p1 judges it unreachable."""
    p2.proc.send_signal(signal.SIGSTOP)
    wait_until(lambda: reach(p1, "p2") == "unreachable", 30, 0.05, "p1 to judge the stopped p2 unreachable")


def partition_side_2(p1, p2):
    """Side 2: p1 is stopped, p2 resumes; returns once p2 judges p1 unreachable."""
    p1.proc.send_signal(signal.SIGSTOP)
    p2.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: reach(p2, "p1") == "unreachable", 30, 0.05, "p2 to judge the stopped p1 unreachable")


def partition_heal(p1, p2):
    """Healed: p1 resumes; returns once each sees the other reachable again."""
    p1.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: all_see((p1, p2), ("p1", "p2"), ("self", "reachable")), 30, 0.05,
               "p1 and p2 to see each other again")


def partition_resume(p1, p2):
    """Resumes whichever of p1, p2 is still alive (stopped or not): for a finally."""
    for p in (p1, p2):
        if p.alive():
            p.proc.send_signal(signal.SIGCONT)


def parse_ring(reply):
    """DYNA.RING reply -> {size, n, version, members: [{id, client_addr, name, status}],
    prefs: [[member index...] per partition]}; None when malformed."""
    if not isinstance(reply, list) or len(reply) != 5 or not isinstance(reply[3], list):
        return None
    members = []
    for m in reply[3]:
        if not isinstance(m, list) or len(m) != 4:
            return None
        members.append(dict(zip(("id", "client_addr", "name", "status"), [_s(x) for x in m])))
    return {"size": reply[0], "n": reply[1], "version": reply[2], "members": members,
            "prefs": reply[4]}


def cluster_ring(node, timeout=5.0):
    try:
        with Client(node.port, host=node.host, timeout=timeout) as c:
            return parse_ring(c.call("DYNA.RING"))
    except (OSError, ConnectionClosed, ProtocolViolation):
        return None


def pipelined(node, commands, batch=500, timeout=30.0):
    """Sends commands (tuples of args) to one node in batches on one connection; returns
    every reply in order."""
    out = []
    with Client(node.port, host=node.host, timeout=timeout) as c:
        for i in range(0, len(commands), batch):
            out.extend(c.pipeline(commands[i:i + batch]))
    return out


def local_values(reply):
    """Values of a DYNA.LOCAL / DYNA.GET reply ([context, [value...]]); [] when the node
    holds nothing, None when the reply is an error or malformed."""
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
        return reply[1]
    if reply is None or reply == []:
        return []
    return None


def local_holders(nodes, keys, batch=500):
    """For each key, how many of nodes hold a non-empty local replica (DYNA.LOCAL).
    Returns {key: count}; raises AssertionError on an error reply."""
    counts = dict((k, 0) for k in keys)
    for n in nodes:
        replies = pipelined(n, [("DYNA.LOCAL", k) for k in keys], batch=batch)
        for k, r in zip(keys, replies):
            vals = local_values(r)
            if vals is None:
                raise AssertionError("DYNA.LOCAL %r on %s -> %s" % (k, n.name, short(r)))
            if vals:
                counts[k] += 1
    return counts


def raise_nofile(want):
    """Raises this process's RLIMIT_NOFILE soft limit towards want; returns the new limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it is truthy (returns its value) or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------- placement
#
# Where the ring puts a key: its Redis Cluster slot (CRC16/XMODEM of the key, or of its
# hash tag: the part between the first '{' and the next '}' when not empty, mod 16384),
# and the partition holding that slot (Q contiguous ranges of 16384 / Q slots), as
# src/util/keyhash.c computes it. binascii.crc_hqx is CRC16/XMODEM with initial value 0.

SLOTS = 16384


def key_hashed_part(key):
    """The part of key that is hashed: its hash tag when it has a non-empty one."""
    key = _b(key)
    open_ = key.find(b"{")
    if open_ >= 0:
        close = key.find(b"}", open_ + 1)
        if close > open_ + 1:
            return key[open_ + 1:close]
    return key


def key_slot(key):
    """The key's slot, as CLUSTER KEYSLOT answers."""
    import binascii
    return binascii.crc_hqx(key_hashed_part(key), 0) % SLOTS


def key_partition(key, ring_size=256):
    """The partition of key in a ring of ring_size (a power of two, <= 16384) partitions."""
    return key_slot(key) // (SLOTS // ring_size)


def preference_names(ring, key):
    """The names of the key's first-N replicas according to a parse_ring() result."""
    idxs = ring["prefs"][key_partition(key, ring["size"])]
    return [ring["members"][i]["name"] for i in idxs]


def local_holder_names(nodes, keys, batch=500):
    """For each key, the sorted names of the nodes (of nodes) holding a non-empty local
    replica (DYNA.LOCAL). Returns {key: [name...]}; raises AssertionError on an error
    reply."""
    out = dict((k, []) for k in keys)
    for n in nodes:
        replies = pipelined(n, [("DYNA.LOCAL", k) for k in keys], batch=batch)
        for k, r in zip(keys, replies):
            vals = local_values(r)
            if vals is None:
                raise AssertionError("DYNA.LOCAL %r on %s -> %s" % (k, n.name, short(r)))
            if vals:
                out[k].append(n.name)
    for k in out:
        out[k].sort()
    return out


# ---------------------------------------------------------------------------- checks

class Harness(object):
    """One test file: a scratch dir, checks printed one per line, failures counted."""

    def __init__(self, name):
        self.name = name
        self.dir = make_tmpdir("dyna-" + name)
        self.failures = []
        self.nchecks = 0
        self.keep = bool(os.environ.get("DYNA_KEEP_TMP"))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def check(self, what, cond, detail=""):
        """Records one check; prints 'ok' or 'FAIL'. A failed check does not stop the
        test function (use expect() for that)."""
        self.nchecks += 1
        if cond:
            print("  ok   %s" % what, flush=True)
        else:
            msg = what + ((": " + detail) if detail else "")
            print("  FAIL %s" % msg, flush=True)
            self.failures.append(msg)
        return bool(cond)

    def expect(self, what, cond, detail=""):
        """Like check() but raises AssertionError on failure (the rest of the test
        function depends on it)."""
        if not self.check(what, cond, detail):
            raise AssertionError(what + ((": " + detail) if detail else ""))

    def eq(self, what, got, want):
        return self.check(what, got == want, "got %s, want %s" % (short(got), short(want)))

    def note(self, msg):
        print("  note %s" % msg, flush=True)

    def run(self, tests):
        """Runs each (name, fn(h)) in turn; an exception fails that test and continues.
        Cleans up every process and the scratch dir; exits 0 only when all passed."""
        t0 = time.monotonic()
        try:
            for name, fn in tests:
                print("== %s" % name, flush=True)
                t = time.monotonic()
                try:
                    fn(self)
                except Exception as e:
                    self.failures.append("%s: %s: %s" % (name, type(e).__name__, e))
                    print("  FAIL %s raised %s: %s" % (name, type(e).__name__, e), flush=True)
                    traceback.print_exc(file=sys.stdout)
                    print_log_tails()
                print("   (%.1f s)" % (time.monotonic() - t), flush=True)
        finally:
            cleanup_all()
            if self.failures and self.keep:
                print("keeping %s" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        print("%s: %d checks, %d failed, %.1f s" % (self.name, self.nchecks, len(self.failures),
                                                     time.monotonic() - t0), flush=True)
        for f in self.failures:
            print("FAILED: %s" % f, flush=True)
        sys.exit(1 if self.failures else 0)


def print_log_tails(n=12):
    """The last lines of every node's log (after a test function raised: CI keeps only
    the output, and a node's log usually says why a wait timed out)."""
    for node in list(_ALL_NODES):
        try:
            print("  --- %s log (last %d lines):\n%s" % (node.name, n, node.log_tail(n)), flush=True)
        except (OSError, ValueError):
            pass


def short(v, n=120):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def _on_sigterm(signum, frame):
    cleanup_all()
    sys.exit(128 + signum)


# CTest may time a test out with SIGTERM: still kill the children.
try:
    signal.signal(signal.SIGTERM, _on_sigterm)
except ValueError:
    pass
