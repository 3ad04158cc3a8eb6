#!/usr/bin/python3
"""Fairness between clients (docs/architecture.md, "The turn budget"): one client that
pipelines a deep stream of commands gets at most a turn budget of them taken per loop
turn, and every other client is served in between.

On a 3-node cluster (N=3, W=2: the flood's SETs wait for a quorum, so their replies are
pending while later ECHOs are answered at once), one client floods node n1 with 200,000
pipelined commands (SET, ECHO, GET, PING, and MULTI ... EXEC groups), sending and
reading at once; meanwhile a watcher on another connection sends probes (PING, CLIENT
LIST ID <flooder>, INFO stats), one after another. Checked, by counting, never by
clocks:

  (a) INFO max_cmds_per_turn never exceeds client_turn_budget_cmds, and the flood made
      the flooder yield (loop_turns_budget_yields grew);
  (b) the watcher's PING is answered while the flood is still being processed: when
      its PONG arrives the flooder has not got all its replies, and the same probe's
      INFO counts fewer commands than the flood's;
  (c) every flood reply arrives, each the one its command asks for, in order (an EXEC's
      reply holds its transaction's replies);
  (d) memory stays bounded: the flooder's query buffer (CLIENT LIST qbuf, and its
      capacity) stays under 256 KiB however much of the flood is in flight.

Run twice: over plain TCP, and over TLS (the client port's --tls-port, where the input
is decrypted into the same buffer: a yielded TLS client is resumed without a new read).
Then connections closed while they wait for their next share (CLIENT KILL, a reset, a
half-close whose replies must all still come): the node serves on, and its log has no
sanitizer report (a closed connection left on the ready list is a use after free).

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, _NeedMore, encode_command, free_port, parse_reply,  # noqa: E402
                     repo_root, settled, short, start_cluster_node, wait_until)

H = Harness("fairness")
S = {}
IPS = {"n1": "127.0.43.1", "n2": "127.0.43.2", "n3": "127.0.43.3"}
COMMON = ("--gossip-interval-ms", 200, "--n", 3, "--w", 2)
FIXED = b"fixed-value-" * 20
BLOCKS = 25000          # 8 commands each: 200,000 commands
QBUF_BOUND = 256 * 1024  # the flooder's input buffer (bytes buffered, and its capacity)
STALL_S = 60            # a hang detector: no byte either way for this long fails


class Reader(object):
    """Replies parsed from a non-blocking socket (plain or TLS) as bytes come."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def pump(self):
        """Reads what the socket has now; returns (replies parsed, 1 when bytes came)."""
        got = 0
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not data:
                raise ConnectionError("closed by the server")
            got = 1
            self.buf += data
        out = []
        while True:
            try:
                v, p = parse_reply(self.buf, self.pos)
            except _NeedMore:
                break
            out.append(v)
            self.pos = p
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        return out, got


def info_fields(text):
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line and not line.startswith("#"))


def build_flood():
    """The flood's bytes and each command's expected reply, in order."""
    cmds, want = [], []
    for i in range(BLOCKS):
        if i % 500 == 499:  # a transaction: its EXEC is one command, taken whole
            cmds += [("MULTI",), ("SET", "{tx}k", "t%d" % i), ("ECHO", "x%d" % i), ("EXEC",),
                     ("ECHO", "a%d" % i), ("PING",), ("ECHO", "b%d" % i), ("ECHO", "c%d" % i)]
            want += ["OK", "QUEUED", "QUEUED", ["OK", b"x%d" % i], b"a%d" % i, "PONG", b"b%d" % i, b"c%d" % i]
            continue
        cmds += [("SET", "fl:%d" % (i % 1000), "v%d" % i), ("ECHO", "e%d" % i), ("GET", "fixed"), ("PING",),
                 ("ECHO", "f%d" % i), ("ECHO", "g%d" % i), ("ECHO", "h%d" % i), ("ECHO", "i%d" % i)]
        want += ["OK", b"e%d" % i, FIXED, "PONG", b"f%d" % i, b"g%d" % i, b"h%d" % i, b"i%d" % i]
    return b"".join(encode_command(*c) for c in cmds), want


def connect(tls):
    ip, n1 = IPS["n1"], S["n1"]
    sock = socket.create_connection((ip, S["tport"] if tls else n1.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        ctx = ssl.create_default_context(cafile=os.path.join(S["certs"], "ca.crt"))
        sock = ctx.wrap_socket(sock, server_hostname=ip)
    return sock


def call(sock, *args):
    sock.settimeout(10)
    sock.sendall(encode_command(*args))
    r = Reader(sock)
    while True:
        try:
            v, _ = parse_reply(r.buf, 0)
            return v
        except _NeedMore:
            data = sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed by the server")
            r.buf += data


def t_start(h):
    certs = h.path("tls")
    r = subprocess.run(["bash", os.path.join(repo_root(), "scripts", "tls-certs.sh"), certs] +
                       ["%s@%s" % kv for kv in sorted(IPS.items())], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    h.expect("scripts/tls-certs.sh", r.returncode == 0, r.stdout.decode())
    S["certs"] = certs
    S["tport"] = free_port(IPS["n1"])
    tls = ("--tls-port", S["tport"], "--tls-cert-file", os.path.join(certs, "n1.crt"),
           "--tls-key-file", os.path.join(certs, "n1.key"), "--tls-auth-clients", "no")
    S["http"] = "%s:%d" % (IPS["n1"], free_port(IPS["n1"]))
    n1 = start_cluster_node("n1", h.path("n1"), IPS["n1"], extra_args=COMMON + tls + ("--http", S["http"]))
    n2 = start_cluster_node("n2", h.path("n2"), IPS["n2"], join=n1.cluster_addr, extra_args=COMMON)
    n3 = start_cluster_node("n3", h.path("n3"), IPS["n3"], join=n1.cluster_addr, extra_args=COMMON)
    S.update(n1=n1, n2=n2, n3=n3)
    wait_until(lambda: settled((n1, n2, n3), ("n1", "n2", "n3")), 60, 0.1, "the 3 nodes to settle")
    with n1.client() as c:
        h.expect("SET fixed", c.call("SET", "fixed", FIXED) == "OK")
        info = info_fields(c.call("INFO", "stats"))
    S["budget"] = int(info.get("client_turn_budget_cmds", "0"))
    h.expect("INFO shows the turn budget", S["budget"] > 0, short(info))


def flood(h, tls):
    label = "TLS" if tls else "plain"
    n1 = S["n1"]
    data, want = build_flood()
    total = len(want)
    watcher = n1.client(timeout=10)
    fl = connect(tls)
    try:
        fid = call(fl, "CLIENT", "ID")
        h.expect("[%s] flooder has an id" % label, isinstance(fid, int), short(fid))
        base = info_fields(watcher.call("INFO", "stats"))
        base_cmds = int(base["total_commands_processed"])
        base_yields = int(base["loop_turns_budget_yields"])
        fl.setblocking(False)
        watcher.sock.setblocking(False)
        fr, wr = Reader(fl), Reader(watcher.sock)
        probe = encode_command("PING") + encode_command("CLIENT", "LIST", "ID", str(fid)) + \
            encode_command("INFO", "stats")
        off, got, bad, first_bad = 0, 0, 0, None
        outstanding, wreplies, pongs = False, [], 0
        probes = []  # (flood replies got when its PONG came, commands done then, qbuf, qbuf cap)
        while got < total:
            if not outstanding and got > 0:
                watcher.sock.sendall(probe)  # a few dozen bytes: the socket takes them
                outstanding, wreplies = True, []
            wl = [fl] if off < len(data) else []
            r, w, _ = select.select([fl, watcher.sock], wl, [], STALL_S)
            if not r and not w and not (tls and fl.pending()):
                h.check("[%s] the flood makes progress" % label, False,
                        "no byte for %d s after %d of %d replies" % (STALL_S, got, total))
                break
            if w:
                try:
                    off += fl.send(data[off:off + 65536])
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass
            replies, _ = fr.pump()
            for v in replies:
                if v != want[got]:
                    bad += 1
                    if first_bad is None:
                        first_bad = "reply %d: %s, want %s" % (got, short(v), short(want[got]))
                got += 1
            if outstanding:
                more, _ = wr.pump()
                wreplies += more
                if len(wreplies) >= 3:
                    pong, cl, inf = wreplies[:3]
                    pongs += pong == "PONG"
                    fields = dict(kv.split("=", 1) for kv in cl.decode().split() if "=" in kv)
                    done = int(info_fields(inf)["total_commands_processed"]) - base_cmds
                    qbuf = int(fields.get("qbuf", -1))
                    cap = qbuf + int(fields.get("qbuf-free", 0))
                    probes.append((got, done, qbuf, cap))
                    outstanding = False
        h.check("[%s] all %d flood replies arrived" % (label, total), got == total, "%d" % got)
        h.check("[%s] (c) each flood reply is its command's, in order" % label, bad == 0,
                "%d wrong; first: %s" % (bad, first_bad))
        fl.setblocking(True)
        watcher.sock.setblocking(True)
        if outstanding:  # the last probe's replies
            while len(wreplies) < 3:
                wreplies += [watcher.read_reply()]
        after = info_fields(watcher.call("INFO", "stats"))
        mid = [p for p in probes if p[0] < total and p[1] < total]
        h.note("[%s] %d probes answered during the flood; flood replies got at their PONG: first %s, "
               "%d with fewer than all" % (label, len(probes), short([p[0] for p in probes[:8]]), len(mid)))
        h.check("[%s] each probe's PING answered PONG" % label, pongs == len(probes), "%d of %d" % (pongs, len(probes)))
        h.check("[%s] (b) the watcher's PING is answered while the flood is in progress "
                "(flooder's replies not all in, INFO counts fewer commands than the flood)" % label,
                len(mid) >= 1, short(probes, 300))
        maxq = max([p[2] for p in probes] or [0])
        maxcap = max([p[3] for p in probes] or [0])
        h.note("[%s] flooder's query buffer at the probes: at most %d bytes, capacity %d" % (label, maxq, maxcap))
        h.check("[%s] (d) the flooder's query buffer stays bounded (%d KiB)" % (label, QBUF_BOUND // 1024),
                maxq <= QBUF_BOUND and maxcap <= QBUF_BOUND and len(probes) > 0,
                "qbuf %d, capacity %d" % (maxq, maxcap))
        yields = int(after["loop_turns_budget_yields"]) - base_yields
        mx = int(after["max_cmds_per_turn"])
        h.note("[%s] INFO: loop_turns_budget_yields +%d, max_cmds_per_turn %d (budget %d)" %
               (label, yields, mx, S["budget"]))
        h.check("[%s] (a) the flooder yielded at its turn budget" % label, yields > 0, "%d" % yields)
        h.check("[%s] (a) max_cmds_per_turn <= the budget" % label, 0 < mx <= S["budget"],
                "%d > %d" % (mx, S["budget"]))
        with urllib.request.urlopen("http://%s/metrics" % S["http"], timeout=10) as m:
            series = [ln for ln in m.read().decode().splitlines() if ln.startswith("dyna_client_turn_yields_total ")]
        with n1.client() as c:
            now = int(info_fields(c.call("INFO", "stats"))["loop_turns_budget_yields"])
        h.check("[%s] /metrics dyna_client_turn_yields_total is INFO's count (%d)" % (label, now),
                len(series) == 1 and int(float(series[0].split()[1])) == now, short(series))
        # After the flood, the flooder is an ordinary client again: it reads and answers.
        h.eq("[%s] the flooder still answers" % label, call(fl, "ECHO", "after"), b"after")
    finally:
        fl.close()
        watcher.close()


def t_plain(h):
    flood(h, False)


def t_tls(h):
    flood(h, True)


def t_close_while_yielded(h):
    """Connections closed while they wait for their next share: one killed by CLIENT KILL
    from another client, one reset by its client, one that half-closes after its flood
    (its commands are still answered). The node stays up and serves; under the sanitizers
    t_stop's log check catches a use of a freed connection."""
    n1 = S["n1"]
    flood = b"".join(encode_command("ECHO", "k%d" % i) for i in range(60000))
    with n1.client() as w:
        base = int(info_fields(w.call("INFO", "stats"))["loop_turns_budget_yields"])
        for how in ("kill", "reset"):
            fl = socket.create_connection((IPS["n1"], n1.port), timeout=10)
            fid = call(fl, "CLIENT", "ID")
            fl.setblocking(False)
            off = 0
            while off < len(flood):  # what the kernel takes now; the rest is not sent
                try:
                    off += fl.send(flood[off:])
                except BlockingIOError:
                    break
            if how == "kill":
                r = w.call("CLIENT", "KILL", "ID", str(fid))
                h.eq("[kill] CLIENT KILL ID of the flooder", r, 1)
            else:
                fl.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            fl.close()
            h.eq("[%s] the node still answers" % how, w.call("PING"), "PONG")
        # Half-close: the whole flood sent, then EOF; every reply still comes, in order.
        fl = socket.create_connection((IPS["n1"], n1.port), timeout=30)
        half = b"".join(encode_command("ECHO", "k%d" % i) for i in range(15000))
        fl.sendall(half)
        fl.shutdown(socket.SHUT_WR)
        r = Reader(fl)
        got, bad = 0, 0
        while True:
            data = fl.recv(1 << 20)
            if not data:
                break
            r.buf += data
            more = []
            while True:
                try:
                    v, r.pos = parse_reply(r.buf, r.pos)
                    more.append(v)
                except _NeedMore:
                    break
            for v in more:
                bad += v != b"k%d" % got
                got += 1
        fl.close()
        want = 15000
        h.check("[half-close] every reply came, in order, then the close", got == want and bad == 0,
                "%d of %d, %d wrong" % (got, want, bad))
        yields = int(info_fields(w.call("INFO", "stats"))["loop_turns_budget_yields"]) - base
        h.check("the floods yielded (so they were closed with input waiting, at least the last)", yields > 0,
                "%d" % yields)
        def alone():
            return len([ln for ln in w.call("CLIENT", "LIST").decode().splitlines() if ln]) == 1
        wait_until(alone, 30, 0.05, "the closed floods' connections to be gone")
        h.check("only the watcher is left connected", alone())


def t_stop(h):
    for nm in ("n1", "n2", "n3"):
        n = S[nm]
        h.eq("%s stops cleanly" % nm, n.stop(), 0)
        log = n.log_text()
        h.check("%s log has no sanitizer/crash report" % nm,
                "AddressSanitizer" not in log and "runtime error" not in log and "Segmentation" not in log,
                short(log[-500:], 600))


if __name__ == "__main__":
    H.run([
        ("start", t_start),
        ("flood over plain TCP", t_plain),
        ("flood over TLS", t_tls),
        ("connections closed while they wait for their share", t_close_while_yielded),
        ("stop", t_stop),
    ])
