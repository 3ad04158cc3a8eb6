#!/usr/bin/python3
"""The cluster port under a shared secret (--cluster-secret-file; docs/security.md, Cluster
authentication; docs/protocol.md, Links): real dynad processes on 127.0.39.x.

1. form: a 3-node cluster whose nodes share a secret forms, serves through every node
   and converges (every node holds every key: N = 3).
2. intruders: a node without a secret and one with a wrong secret try to join; raw
   sockets send a plain HELLO and a PUT, and a HELLO with a made-up proof and a PUT. No
   member lists them, no key they sent is stored (DYNA.LOCAL on every member), each
   member logs the refusal with the peer's address and reason.
3. replay: a fourth node joins through a small relay in this test, so its link to s3
   passes through here and is captured. A captured PUT injected again into that live link
   makes s3 close it (bad frame MAC); the captured handshake and frames replayed on a new
   connection are refused at the proof. A peer written here that holds the secret (the
   scheme of docs/protocol.md in Python) first plants a key (so the check below can see a
   write), then a replayed sequence number, an altered frame and a frame of an older
   connection are each refused and store nothing. A connection that never completes the
   handshake is closed after the deadline.
4. rotation: every node's secret file goes from (A) to (A, next B) to (B, next A) to (B)
   by rolling restarts, one node at a time; after every restart the cluster settles and
   serves reads and writes through every node; at the end a node holding only A is
   refused.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import hashlib
import hmac
import os
import select
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, cluster_ring, cluster_status, dynad_path, free_port, local_values,  # noqa: E402
                     pipelined, preference_names, restart_cluster_node, settled, short,
                     start_cluster_node, wait_until)

H = Harness("cluster_secret")
S = {"nodes": {}}
IPS = {"s1": "127.0.39.1", "s2": "127.0.39.2", "s3": "127.0.39.3", "s4": "127.0.39.4",
       "x5": "127.0.39.5", "x6": "127.0.39.6", "relay": "127.0.39.7", "x8": "127.0.39.8"}
RAW_IP = "127.0.39.9"  # the source address of the raw sockets here
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)
SECRET_A = b"secret-A-7c1f0e5d9a2b4c6e8f0a1b2c3d4e5f60"
SECRET_B = b"secret-B-0f9e8d7c6b5a49382716051423324150"
MAGIC = 0x414E5944
AUTH_BIT = 1 << 32
T_HELLO, T_PUT, T_AUTH = 1, 4, 18


# ---------------------------------------------------------------------------- wire

def _varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _bytes(b):
    return _varint(len(b)) + b


def wire_frame(mtype, req=0, flags=0, node=0, key=b"", obj=b"", val=b"", w=0):
    """An inter-node frame as src/proto/wire.c encodes it (status 0, ctx empty)."""
    body = (bytes([2, mtype]) + _varint(req) + _varint(0) + _varint(flags) + struct.pack("<Q", node) +
            _bytes(key) + _bytes(obj) + _bytes(b"") + _bytes(val) + _varint(w))
    return struct.pack("<I", len(body)) + body


def decode_frame(f):
    """A whole frame -> dict(type, req, flags, node, key, obj, val), or None."""
    pos = [6]

    def varint():
        v, shift = 0, 0
        while True:
            b = f[pos[0]]
            pos[0] += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def bts():
        n = varint()
        b = f[pos[0]:pos[0] + n]
        pos[0] += n
        return b

    try:
        d = {"type": f[5], "req": varint()}
        varint()
        d["flags"] = varint()
        d["node"] = struct.unpack_from("<Q", f, pos[0])[0]
        pos[0] += 8
        d["key"], d["obj"], _, d["val"] = bts(), bts(), bts(), bts()
        return d
    except (IndexError, struct.error):
        return None


def split_stream(buf):
    """Captured dialer bytes -> (hello, auth, [(frame, tag)...]) as the scheme lays them out."""
    out, pos = [], 0
    while pos + 4 <= len(buf):
        n = struct.unpack_from("<I", buf, pos)[0] + 4
        tagged = len(out) >= 2
        if pos + n + (16 if tagged else 0) > len(buf):
            break
        out.append((buf[pos:pos + n], buf[pos + n:pos + n + 16] if tagged else b""))
        pos += n + (16 if tagged else 0)
    return out[0][0], out[1][0], out[2:]


def transcript(label, cluster, id_d, id_a, nd, na):
    return (b"dyna-peer-auth-1" + label + _bytes(cluster) + struct.pack("<QQ", id_d, id_a) + nd + na)


def hm(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def recv_frame(s, timeout=5.0):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < 4 or len(buf) < struct.unpack_from("<I", buf)[0] + 4:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return buf


def closed_by_peer(s, timeout=10.0):
    """True once the other end closes s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


class PyPeer(object):
    """A dialer in Python that holds the secret: HELLO, AUTH, then tagged frames."""

    def __init__(self, node, secret, my_id=0x5EC0000000000001, cluster=b"dyna"):
        self.s = socket.create_connection((node.ip, node.cluster_port), timeout=5)
        nd = os.urandom(32)
        self.s.sendall(wire_frame(T_HELLO, flags=MAGIC | AUTH_BIT, w=2, key=cluster, node=my_id, obj=nd,
                                  val=b"127.0.39.9:1"))
        hello = decode_frame(recv_frame(self.s))
        na, id_a = hello["obj"], hello["node"]
        t = lambda label: transcript(label, cluster, my_id, id_a, nd, na)  # noqa: E731
        self.s.sendall(wire_frame(T_AUTH, obj=hm(secret, t(b"D"))))
        auth = decode_frame(recv_frame(self.s))
        self.acceptor_ok = auth is not None and auth["obj"] == hm(secret, t(b"A"))
        self.session = hm(secret, t(b"S"))
        self.seq = 0

    def tag(self, frame, seq):
        return hm(self.session, b"D" + struct.pack("<Q", seq) + frame)[:16]

    def send(self, frame, seq=None, tag=None):
        seq = self.seq if seq is None else seq
        self.s.sendall(frame + (tag if tag is not None else self.tag(frame, seq)))
        self.seq += 1

    def close(self):
        self.s.close()


# ---------------------------------------------------------------------------- relay

class Relay(object):
    """Listens on (ip, port) and forwards each connection to target, frame by frame in the
    dialer's direction (HELLO, AUTH, then frame + tag), keeping what the dialer sent.
    inject(bytes) sends extra bytes to the target between two whole units of the live
    link."""

    def __init__(self, ip, target):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((ip, 0))
        self.ls.listen(4)
        self.addr = "%s:%d" % (ip, self.ls.getsockname()[1])
        self.target = target
        self.captured = b""     # the first connection's dialer bytes
        self.units = 0          # whole units forwarded on the first connection
        self.pending = []       # bytes to inject
        self.upstream_closed = threading.Event()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def inject(self, b):
        self.pending.append(b)

    def _accept(self):
        self.ls.settimeout(0.2)
        first = True
        while not self.stop.is_set():
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._pump, args=(c, first), daemon=True).start()
            first = False

    def _pump(self, c, first):
        u = socket.create_connection(self.target)
        buf = b""
        n = 0
        try:
            while not self.stop.is_set():
                r, _, _ = select.select([c, u], [], [], 0.05)
                if u in r:
                    d = u.recv(65536)
                    if not d:
                        if first:
                            self.upstream_closed.set()
                        break
                    c.sendall(d)
                if c in r:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                    if first:
                        self.captured += d
                # forward whole units only, so that injections land between them
                while len(buf) >= 4:
                    size = struct.unpack_from("<I", buf)[0] + 4 + (16 if n >= 2 else 0)
                    if len(buf) < size:
                        break
                    u.sendall(buf[:size])
                    buf = buf[size:]
                    n += 1
                    if first:
                        self.units = n
                while first and self.pending and n >= 2:
                    u.sendall(self.pending.pop(0))
        except OSError:
            if first:
                self.upstream_closed.set()
        finally:
            c.close()
            u.close()

    def close(self):
        self.stop.set()
        self.ls.close()


# ---------------------------------------------------------------------------- helpers

def write_secret(name, *secrets):
    path = H.path("%s.secret" % name)
    with open(path, "wb") as f:
        f.write(b"".join(s + b"\n" for s in secrets))
    return path


def start(name, join=None, secret_path=None, extra=()):
    args = COMMON + tuple(extra)
    if secret_path:
        args += ("--cluster-secret-file", secret_path)
    n = start_cluster_node(name, H.path(name), IPS[name], join=join, extra_args=args)
    S["nodes"][name] = n
    return n


def members():
    return [S["nodes"][m] for m in S["members"]]


def local(node, keys):
    return [local_values(r) for r in pipelined(node, [("DYNA.LOCAL", k) for k in keys])]


def serve_check(h, nodes, tag):
    """Writes through every node and reads every key back through every node."""
    keys, ok = [], True
    for i, n in enumerate(nodes):
        mine = ["%s-%s-%d" % (tag, n.name, j) for j in range(10)]
        ok = ok and all(r == "OK" for r in pipelined(n, [("SET", k, "v-" + k) for k in mine]))
        keys += mine
    for n in nodes:
        got = pipelined(n, [("GET", k) for k in keys])
        ok = ok and got == [("v-" + k).encode() for k in keys]
    return ok


def wait_settled(nodes, what, timeout=40):
    names = [n.name for n in nodes]
    wait_until(lambda: settled(nodes, names), timeout, 0.1, what)


def gossip_rounds(nodes, rounds=3):
    def rx(n):
        for line in n.client().call("INFO").split(b"\r\n"):
            if line.startswith(b"gossip_received:"):
                return int(line.split(b":")[1])
        return 0
    g0 = [rx(n) for n in nodes]
    wait_until(lambda: all(rx(n) >= g + rounds for n, g in zip(nodes, g0)), 20, 0.05, "gossip rounds")


# ---------------------------------------------------------------------------- 1. form

def t_form(h):
    for what, content, want in (("a missing", None, "No such file"), ("a too short", b"short\n", "secret 1 is 5 bytes"),
                                ("an empty", b"# nothing\n", "no secret in it")):
        path = H.path("bad-%s.secret" % what.replace(" ", "-"))
        if content is not None:
            with open(path, "wb") as f:
                f.write(content)
        p = subprocess.run([dynad_path(), "--name", "bad", "--data", H.path("bad"), "--listen",
                            "%s:%d" % (IPS["x8"], free_port(IPS["x8"])), "--cluster-secret-file", path],
                           capture_output=True, timeout=30)
        h.check("%s secret file: dynad refuses to start, saying why" % what,
                p.returncode != 0 and want in p.stderr.decode(errors="replace"), short(p.stderr))
    secret = {}
    for nm in ("s1", "s2", "s3"):
        secret[nm] = write_secret(nm, SECRET_A)
    S["secret"] = secret
    s1 = start("s1", secret_path=secret["s1"])
    start("s2", join=s1.cluster_addr, secret_path=secret["s2"])
    start("s3", join=s1.cluster_addr, secret_path=secret["s3"])
    S["members"] = ["s1", "s2", "s3"]
    wait_settled(members(), "the 3 nodes with the secret to form one cluster")
    h.check("a 3-node cluster with the secret forms (all valid, reachable, one ring)", True)
    h.check("it serves writes and reads through every node", serve_check(h, members(), "form"))
    keys = ["conv-%d" % i for i in range(60)]
    ok = all(r == "OK" for r in pipelined(s1, [("SET", k, "c-" + k) for k in keys]))

    def converged():
        return all(all(v == [("c-" + k).encode()] for k, v in zip(keys, local(n, keys))) for n in members())
    wait_until(converged, 30, 0.1, "every node to hold every key")
    h.check("it converges: every node holds all 60 keys written at one (N = 3)", ok and converged())
    info = s1.client().call("INFO")
    h.check("INFO has no refused peer links", b"peer_refused:0" in info, short(info[-300:]))


# ---------------------------------------------------------------------------- 2. intruders

def refusals(node):
    return [l for l in node.log_text().splitlines() if " refused: " in l]


def t_intruders(h):
    s1 = S["nodes"]["s1"]
    before = {n.name: len(refusals(n)) for n in members()}
    # a connection that never says anything: closed once the handshake deadline passes
    # (checked at the end of the replay step, > 10 s from now)
    S["idle"] = socket.create_connection((s1.ip, s1.cluster_port), timeout=5, source_address=(RAW_IP, 0))
    x5 = start("x5", join=s1.cluster_addr)                                          # no secret
    x6 = start("x6", join=s1.cluster_addr, secret_path=write_secret("x6", SECRET_B))  # wrong secret
    for x in (x5, x6):
        pipelined(x, [("SET", "intruder-%s" % x.name, "evil")])
    # raw sockets: a plain HELLO then a PUT; an AUTH HELLO, a made-up proof, then a PUT
    captured_put = wire_frame(T_PUT, key=b"intruder-raw", obj=b"\x01\x00")
    plain = wire_frame(T_HELLO, flags=MAGIC, w=2, key=b"dyna", node=0xBAD1, val=b"127.0.39.9:1") + captured_put
    s = socket.create_connection((s1.ip, s1.cluster_port), timeout=5, source_address=(RAW_IP, 0))
    s.sendall(plain)
    h.check("a plain HELLO + PUT on the cluster port: closed by the node", closed_by_peer(s))
    s.close()
    s = socket.create_connection((s1.ip, s1.cluster_port), timeout=5, source_address=(RAW_IP, 0))
    s.sendall(wire_frame(T_HELLO, flags=MAGIC | AUTH_BIT, w=2, key=b"dyna", node=0xBAD2, obj=os.urandom(32),
                         val=b"127.0.39.9:1"))
    hello = decode_frame(recv_frame(s) or b"")
    h.check("a HELLO with a challenge is answered by one (a fresh nonce)",
            hello is not None and hello["flags"] == MAGIC | AUTH_BIT and len(hello["obj"]) == 32, short(hello))
    s.sendall(wire_frame(T_AUTH, obj=os.urandom(32)) + captured_put + os.urandom(16))
    h.check("a made-up proof + PUT: closed by the node", closed_by_peer(s))
    s.close()
    gossip_rounds(members())
    sts = [cluster_status(n) for n in members()]
    h.check("no member lists x5 (no secret) or x6 (wrong secret)",
            all(st is not None and sorted(st) == sorted(S["members"]) for st in sts), short(sts))
    for x in (x5, x6):
        st = cluster_status(x)
        h.check("%s sees only itself" % x.name, st is not None and sorted(st) == [x.name], short(st))
    keys = ["intruder-x5", "intruder-x6", "intruder-raw"]
    h.check("no member stores a key the intruders wrote (DYNA.LOCAL)",
            all(v == [] for n in members() for v in local(n, keys)),
            short([(n.name, local(n, keys)) for n in members()]))
    logs = "\n".join(l for l in refusals(s1)[before["s1"]:])
    for what, ip in (("peer has no cluster secret", IPS["x5"]),
                     ("wrong proof", IPS["x6"]), ("peer has no cluster secret", RAW_IP + ":"),
                     ("wrong proof", RAW_IP + ":")):
        h.check("s1 logs a refusal from %s: %s" % (ip, what),
                any(what in l and ("from %s" % ip) in l for l in logs.splitlines()), short(logs, 1500))
    h.check("the cluster still serves", serve_check(h, members(), "after-intruders"))
    x5.stop()
    x6.stop()


# ---------------------------------------------------------------------------- 3. replay

def t_replay(h):
    s1, s3 = S["nodes"]["s1"], S["nodes"]["s3"]
    relay = Relay(IPS["relay"], (s3.ip, s3.cluster_port))
    S["relay"] = relay
    S["secret"]["s4"] = write_secret("s4", SECRET_A)
    s4 = start("s4", join=relay.addr, secret_path=S["secret"]["s4"])
    S["members"].append("s4")
    wait_settled(members(), "s4 to join through the relay")
    h.expect("s4's link to s3 runs through the relay", relay.units >= 3, str(relay.units))
    # a key that s4 coordinates and s3 replicates: its PUT goes through the relay
    ring = cluster_ring(s4)
    key = next(k for k in ("replay-%d" % i for i in range(1000))
               if preference_names(ring, k.encode())[:3].count("s4") and "s3" in preference_names(ring, k.encode()))
    h.expect("SET through s4", pipelined(s4, [("SET", key, "value-one")]) == ["OK"])
    homes = [S["nodes"][nm] for nm in preference_names(ring, key.encode())[:3]]
    wait_until(lambda: all(local(n, [key]) == [[b"value-one"]] for n in homes), 10, 0.05,
               "the key's three replicas (s3 among them) to hold it")
    hello, auth, frames = split_stream(relay.captured)
    puts = [(f, t) for f, t in frames if (decode_frame(f) or {}).get("type") == T_PUT and
            decode_frame(f)["key"] == key.encode()]
    h.expect("the relay captured s4's PUT of %s" % key, len(puts) >= 1, short([decode_frame(f) for f, _ in frames]))
    put, put_tag = puts[0]
    obj = decode_frame(put)["obj"]
    before = {n.name: local(n, [key]) for n in members()}
    nref = len(refusals(s3))

    # the captured PUT again on the same live link
    relay.inject(put + put_tag)
    h.check("a captured frame injected again into the live link: s3 closes it",
            relay.upstream_closed.wait(10))
    wait_until(lambda: len(refusals(s3)) > nref, 10, 0.05, "s3's refusal in its log")
    h.check("s3 logs it: bad frame MAC", "bad frame MAC" in refusals(s3)[-1], refusals(s3)[-1])

    # the captured connection replayed on new ones, to s3 and to s1
    for n in (s3, s1):
        s = socket.create_connection((n.ip, n.cluster_port), timeout=5, source_address=(RAW_IP, 0))
        s.sendall(hello)
        recv_frame(s)
        s.sendall(auth + b"".join(f + t for f, t in frames))
        h.check("the captured handshake and frames on a new connection to %s: closed" % n.name,
                closed_by_peer(s))
        s.close()
    wait_until(lambda: any("wrong proof" in l for l in refusals(s1)), 10, 0.05, "s1's refusal")

    # a peer that holds the secret, to show that a write would be seen ... (keys s3 is a
    # home replica of, so that handoff does not move them away while we look)
    ring = cluster_ring(s3)

    def s3_key(prefix):
        return next(k for k in ("%s-%d" % (prefix, i) for i in range(1000))
                    if "s3" in preference_names(ring, k.encode()))
    planted, two, first = s3_key("planted-one"), s3_key("planted-two"), s3_key("planted-first")
    refused = {"seq": s3_key("planted-seq"), "alt": s3_key("planted-alt"), "old": s3_key("planted-old")}
    p = PyPeer(s3, SECRET_A)
    h.expect("a Python peer with the secret completes the handshake", p.acceptor_ok)
    p.send(wire_frame(T_PUT, key=planted.encode(), obj=obj))
    wait_until(lambda: local(s3, [planted]) == [[b"value-one"]], 10, 0.05, "the planted key on s3")
    h.check("with the secret, a PUT is stored (the test can see a write)", True)

    # ... and what is refused: a replayed sequence number, an altered frame, an old tag
    def altered(f):
        k = refused["alt"].encode()
        return f.replace(k, k[:-1] + b"#")
    attempts = [("its sequence number replayed", "seq", lambda p, f: p.send(f, seq=0)),
                ("one byte altered after tagging", "alt", lambda p, f: p.send(f, tag=p.tag(altered(f), p.seq))),
                ("a tag of an older connection", "old", lambda p, f: p.send(f, tag=PyPeer.tag(old, f, p.seq)))]
    old = p
    p.send(wire_frame(T_PUT, key=two.encode(), obj=obj))  # seq 1 on the first connection
    for what, k, send in attempts:
        q = PyPeer(s3, SECRET_A)
        if k == "seq":
            q.send(wire_frame(T_PUT, key=first.encode(), obj=obj))  # seq 0 taken
        send(q, wire_frame(T_PUT, key=refused[k].encode(), obj=obj))
        h.check("a PUT with %s: closed by s3" % what, closed_by_peer(q.s))
        q.close()
    old.close()
    wait_until(lambda: local(s3, [two]) == [[b"value-one"]], 10, 0.05, "the second planted key")
    rk = sorted(refused.values())
    h.check("none of the refused PUTs stored anything, on any node",
            all(v == [] for n in members() for v in local(n, rk)), short([(n.name, local(n, rk)) for n in members()]))
    h.check("the replayed key is as it was on every node",
            {n.name: local(n, [key]) for n in members()} == before)
    h.check("membership unchanged", all(sorted(cluster_status(n) or {}) == sorted(S["members"]) for n in members()))
    wait_settled(members(), "the cluster to settle again after the refusals")
    h.check("the cluster still serves", serve_check(h, members(), "after-replay"))
    relay.close()
    h.check("a connection that never proves the secret is closed after the deadline (10 s)",
            closed_by_peer(S["idle"], 30) and any("no handshake within" in l for l in refusals(s1)))
    S["idle"].close()


# ---------------------------------------------------------------------------- 4. rotation

def t_rotation(h):
    steps = [("(A, next B)", (SECRET_A, SECRET_B)), ("(B, next A)", (SECRET_B, SECRET_A)), ("(B)", (SECRET_B,))]
    for label, secrets in steps:
        ok = True
        for nm in list(S["members"]):
            n = S["nodes"][nm]
            write_secret(nm, *secrets)
            n.stop()
            others = [S["nodes"][m] for m in S["members"] if m != nm]
            ok = ok and serve_check(h, others, "rot-%s-down-%s" % (len(secrets), nm))
            S["nodes"][nm] = restart_cluster_node(n)
            wait_settled(members(), "the cluster to settle after %s restarted with %s" % (nm, label))
            ok = ok and serve_check(h, members(), "rot-%d-%s-%s" % (len(secrets), secrets[0][7:8].decode(), nm))
        h.check("rolling restart to %s: settled and served after every restart" % label, ok)
    x8 = start("x8", join=S["nodes"]["s1"].cluster_addr, secret_path=write_secret("x8", SECRET_A))
    gossip_rounds(members())
    h.check("after the rotation a node holding only the old secret is refused",
            all(sorted(cluster_status(n) or {}) == sorted(S["members"]) for n in members()) and
            any("wrong proof" in l and IPS["x8"] in l for l in refusals(S["nodes"]["s1"])))
    x8.stop()
    for n in members():
        n.stop()


if __name__ == "__main__":
    H.run([("form", t_form), ("intruders", t_intruders), ("replay", t_replay), ("rotation", t_rotation)])
