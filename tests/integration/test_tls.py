#!/usr/bin/python3
"""TLS on both of dynad's ports, with real processes and certificates made by
scripts/tls-certs.sh (and the openssl command for the bad ones):

- the client port: redis-cli --tls --cacert, redis-py ssl=True and the dyna CLI --tls
  work; a plaintext client on the TLS port is closed at once (not left hanging) and the
  node logs why with its address; with client certificates required (and the plain port
  off, the options given in a config file) a client with no certificate, an expired one
  or one from another CA is refused and stores nothing;
- the cluster port (--tls-cluster yes): a 3-node cluster forms, serves and converges; a
  rogue dynad with no TLS, one with a self-signed certificate and one with another
  node's certificate (of the CA, naming another address) cannot join; a member
  restarted with a self-signed certificate, and with no TLS at all, cannot get a replica
  write stored on the others.

Environment: DYNA_BIN (directory holding dynad and dyna), DYNA_TMP (scratch directory)."""
import os
import re
import socket
import ssl
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, Node, all_see, bin_dir, cluster_status, free_port, local_values,  # noqa: E402
                     repo_root, restart_cluster_node, short, start_cluster_node, wait_until)

H = Harness("tls")
S = {}
IPS = {"a": "127.0.29.1", "b": "127.0.29.2", "c": "127.0.29.3", "r1": "127.0.29.4",
       "r2": "127.0.29.5", "s": "127.0.29.6"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)


def sh(*args):
    return subprocess.run([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60)


def openssl(*args):
    r = sh("openssl", *args)
    if r.returncode:
        raise RuntimeError("openssl %s: %s" % (" ".join(map(str, args)), r.stdout.decode()))


def make_certs(h):
    """Our CA and node certificates (the script), another CA's client certificate, an
    expired client certificate of our CA and a self-signed node certificate."""
    d, other = h.path("tls"), h.path("other")
    script = os.path.join(repo_root(), "scripts", "tls-certs.sh")
    specs = ["%s@%s" % (n, ip) for n, ip in sorted(IPS.items())]
    for where in (d, other):
        r = sh("bash", script, where, *specs)
        h.expect("scripts/tls-certs.sh %s" % os.path.basename(where), r.returncode == 0, r.stdout.decode())
    c = lambda *p: os.path.join(d, *p)  # noqa: E731
    openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-subj", "/CN=old client",
            "-keyout", c("old.key"), "-out", c("old.csr"))
    openssl("x509", "-req", "-in", c("old.csr"), "-CA", c("ca.crt"), "-CAkey", c("ca.key"),
            "-CAcreateserial", "-days", "-1", "-out", c("old.crt"))
    openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "5", "-subj", "/CN=rogue",
            "-addext", "subjectAltName=IP:%s,IP:%s,IP:%s" % (IPS["r2"], IPS["c"], IPS["r1"]),
            "-keyout", c("self.key"), "-out", c("self.crt"))
    S["d"], S["other"] = d, other


def cert(name, where=None):
    d = where or S["d"]
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def tls_args(name, cert_name=None, ca=None, cluster=True, port=None, auth="yes"):
    crt, key = cert(cert_name or name)
    args = ["--tls-cert-file", crt, "--tls-key-file", key,
            "--tls-ca-cert-file", ca or os.path.join(S["d"], "ca.crt"), "--tls-auth-clients", auth]
    if cluster:
        args += ["--tls-cluster", "yes"]
    if port:
        args += ["--tls-port", port]
    return args


def tls_redis(ip, port, client="client", where=None, ca=None):
    """A redis-py client on the TLS port, with client's certificate (None: none)."""
    kw = dict(host=ip, port=port, ssl=True, ssl_ca_certs=ca or os.path.join(S["d"], "ca.crt"),
              socket_timeout=10, socket_connect_timeout=10)
    if client:
        kw["ssl_certfile"], kw["ssl_keyfile"] = cert(client, where)
    return redis.Redis(**kw)


def refused(fn):
    """The exception fn raised (the attempt was refused), or None when it succeeded."""
    try:
        fn()
    except Exception as e:  # redis ConnectionError, ssl.SSLError, OSError
        return e
    return None


def log_has(node, text, timeout=10):
    try:
        wait_until(lambda: text in node.log_text(), timeout, 0.05, "%r in %s's log" % (text, node.name))
        return True
    except AssertionError:
        return False


# ---------------------------------------------------------------------------- client port

def t_client_port(h):
    make_certs(h)
    ip, tport = IPS["s"], free_port(IPS["s"])
    s = start_cluster_node("s", h.path("s"), ip, extra_args=COMMON + tuple(
        tls_args("s", cluster=False, port=tport, auth="optional")))
    S["s"], S["s_tport"] = s, tport
    ca = os.path.join(S["d"], "ca.crt")
    cli = ["redis-cli", "-h", ip, "-p", str(tport), "--tls", "--cacert", ca]
    r1 = sh(*(cli + ["SET", "tk", "over tls"]))
    r2 = sh(*(cli + ["GET", "tk"]))
    h.check("redis-cli --tls --cacert: SET then GET", r1.stdout.strip() == b"OK" and r2.stdout.strip() == b"over tls",
            short((r1.stdout, r2.stdout)))
    r = tls_redis(ip, tport, client=None)
    big = os.urandom(200000)
    r.set("big", big)
    p = r.pipeline(transaction=False)
    for i in range(3000):
        p.set("p%d" % i, "v%d" % i)
    for i in range(200):
        p.get("big")
    rep = p.execute()
    h.check("redis-py ssl=True: 3000 pipelined SETs and 200 GETs of 200 KB, in order",
            rep[:3000] == [True] * 3000 and all(x == big for x in rep[3000:]), short(rep[:3]))
    h.eq("the plain port sees what TLS wrote", s.client().call("GET", "p2999"), b"v2999")
    dyna = [os.path.join(bin_dir(), "dyna"), "-h", ip, "-p", str(tport), "--tls", "--cacert", ca]
    r3 = sh(*(dyna + ["put", "dk", "from dyna"]))
    r4 = sh(*(dyna + ["get", "dk"]))
    h.check("dyna --tls --cacert: put then get", r3.returncode == 0 and b"from dyna" in r4.stdout,
            short((r3.stdout, r4.stdout)))
    r5 = sh(*(dyna[:-1] + [os.path.join(S["other"], "ca.crt"), "get", "dk"]))
    h.check("dyna refuses a server whose certificate is not of its --cacert",
            r5.returncode != 0 and b"certificate" in r5.stdout, short(r5.stdout))

    # a plaintext client on the TLS port: closed at once, and the node says why
    sock = socket.create_connection((ip, tport), timeout=10)
    sock.sendall(b"*1\r\n$4\r\nPING\r\n")
    t0 = time.monotonic()
    try:
        got = sock.recv(100)
    except socket.timeout:
        got = None
    sock.close()
    h.check("a plaintext client on the TLS port is closed, not left hanging (got %r)" % (got,),
            got == b"" and time.monotonic() - t0 < 5)
    h.check("the node logs the refused plaintext client with its address and why",
            log_has(s, "TLS: handshake failed: wrong version number"),
            short(s.log_tail(5), 600))
    line = [ln for ln in s.log_text().splitlines() if "wrong version number" in ln]
    h.check("that log line names the client's address",
            bool(line) and re.search(r"client \d+ \(127\.\d+\.\d+\.\d+:\d+\)", line[0]), short(line))
    h.note("logged: %s" % (line[0] if line else "(nothing)"))
    h.check("the node still serves TLS clients after it", r.get("tk") == b"over tls")

    # A login over TLS (docs/security.md): libdyna sends AUTH on its TLS connection first.
    sh(*(cli + ["CONFIG", "SET", "requirepass", "tls-s3cret"]))
    r6 = sh(*(dyna + ["--pass", "tls-s3cret", "get", "dk"]))
    h.check("dyna --tls --pass: logs in over TLS, then reads", r6.returncode == 0 and b"from dyna" in r6.stdout,
            short(r6.stdout))
    r7 = sh(*(dyna + ["--pass", "not-it", "get", "dk"]))
    h.check("dyna --tls with a wrong password is refused (WRONGPASS)",
            r7.returncode != 0 and b"WRONGPASS" in r7.stdout, short(r7.stdout))
    r8 = sh(*(cli + ["GET", "dk"]))
    h.check("redis-cli --tls without the password: NOAUTH", b"NOAUTH" in r8.stdout, short(r8.stdout))
    sh(*(cli + ["-a", "tls-s3cret", "--no-auth-warning", "CONFIG", "SET", "requirepass", ""]))
    h.eq("requirepass cleared again", sh(*(cli + ["GET", "dk"])).stdout.strip(), b"from dyna")


def t_close_notify(h):
    """Commands that arrive in the same read as the client's close_notify are all answered
    (and done) before the node closes: the end of a stream waits for what came before it."""
    ip, tport = IPS["s"], S["s_tport"]
    ctx = ssl.create_default_context(cafile=os.path.join(S["d"], "ca.crt"))
    ctx.check_hostname = False
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_side=False)
    sock = socket.create_connection((ip, tport), timeout=10)
    while True:  # the handshake, pumped by hand so the bytes sent next are ours to group
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(65536)
            if not data:
                break
            inc.write(data)
    sock.sendall(out.read())
    keys = [b"cn%d" % i for i in range(300)]
    tls.write(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$2\r\nok\r\n" % (len(k), k) for k in keys)
              + b"*1\r\n$4\r\nPING\r\n")
    try:
        tls.unwrap()  # writes close_notify; the node's own comes later
    except ssl.SSLWantReadError:
        pass
    sock.sendall(out.read())  # every command and the close_notify in one write
    got = b""
    while True:
        try:
            data = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not data:
            break
        inc.write(data)
        try:
            while True:
                got += tls.read(65536)
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
    sock.close()
    h.check("300 SETs and a PING sent with close_notify in one write: all answered (%d +OK)" % got.count(b"+OK"),
            got == b"+OK\r\n" * 300 + b"+PONG\r\n", short(got[-60:]))
    c = S["s"].client()
    h.eq("and all 300 written", [c.call("GET", k.decode()) for k in (keys[0], keys[-1])], [b"ok", b"ok"])


def t_client_certs(h):
    """Client certificates required; the plain port off; the options from a config file."""
    ip = IPS["s"]
    S["s"].stop()
    tport = free_port(ip)
    crt, key = cert("s")
    conf = h.path("t.conf")
    with open(conf, "w") as f:
        f.write("listen = %s:0\ncluster = %s:%d\ntls-port = %d\ntls-cert-file = %s\ntls-key-file = %s\n"
                "tls-ca-cert-file = %s\ntls-auth-clients = yes\n"
                % (ip, ip, free_port(ip), tport, crt, key, os.path.join(S["d"], "ca.crt")))
    args = [os.path.join(bin_dir(), "dynad"), "--name", "t", "--data", h.path("t"), "--config", conf]
    t = Node("t", h.path("t"), tport, args, h.path("t.log"), host=ip)
    good = tls_redis(ip, tport)
    wait_until(lambda: t.alive() and refused(good.ping) is None, 15, 0.05, "t to answer PING over TLS")
    h.check("a client with a certificate of the CA is served", good.set("k1", "v1") is True)
    cfg = dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
               for k, v in good.config_get("*").items())
    h.check("CONFIG GET shows the TLS options from the file, and the TLS port as the node's address",
            cfg.get("tls-port") == str(tport) and cfg.get("tls-auth-clients") == "yes" and
            cfg.get("listen") == "%s:%d" % (ip, tport), short(cfg))
    h.check("no plain client port (listen port 0)", "listening on %s:0 " % ip in t.log_text(), t.log_tail(3))
    tries = [("no certificate", tls_redis(ip, tport, client=None), "peer did not return a certificate"),
             ("an expired certificate", tls_redis(ip, tport, client="old"), "certificate has expired"),
             ("a certificate of another CA", tls_redis(ip, tport, where=S["other"]),
              "unable to get local issuer certificate")]
    for i, (what, cl, why) in enumerate(tries):
        e = refused(lambda: cl.set("bad%d" % i, "x"))
        h.check("a client with %s is refused (%s)" % (what, type(e).__name__ if e else "served!"), e is not None)
        h.check("the node logs why: %s" % why, log_has(t, why), short(t.log_tail(4), 600))
    h.eq("nothing the refused clients sent was stored", [good.get("bad%d" % i) for i in range(3)], [None] * 3)
    h.eq("the good client's key is there", good.get("k1"), b"v1")
    t.stop()


# ---------------------------------------------------------------------------- cluster port

def cluster_tls_args(name, cert_name=None, ca=None):
    return COMMON + tuple(tls_args(name, cert_name=cert_name, ca=ca, port=free_port(IPS[name])))


def t_cluster(h):
    a = start_cluster_node("a", h.path("a"), IPS["a"], extra_args=cluster_tls_args("a"))
    b = start_cluster_node("b", h.path("b"), IPS["b"], join=a.cluster_addr, extra_args=cluster_tls_args("b"))
    c = start_cluster_node("c", h.path("c"), IPS["c"], join=a.cluster_addr, extra_args=cluster_tls_args("c"))
    S["nodes"] = {"a": a, "b": b, "c": c}
    names = ["a", "b", "c"]
    wait_until(lambda: all_see([a, b, c], names, ("self", "reachable")), 30, 0.1, "3 members over TLS")
    h.check("a 3-node cluster forms over the TLS cluster port", True)
    keys = ["ck%03d" % i for i in range(60)]
    for i, k in enumerate(keys):
        [a, b, c][i % 3].client().call("SET", k, "val-" + k)
    tc = tls_redis(IPS["c"], int(c.args[c.args.index("--tls-port") + 1]))
    h.check("every key reads back through c's TLS client port",
            all(tc.get(k) == ("val-" + k).encode() for k in keys))

    def everywhere():
        for n in (a, b, c):
            with n.client() as cl:
                for k in keys:
                    if local_values(cl.call("DYNA.LOCAL", k)) != [("val-" + k).encode()]:
                        return False
        return True
    wait_until(everywhere, 20, 0.1, "every replica to hold every key")
    h.check("the cluster converges: every node holds all 60 keys (N=3)", True)
    S["keys"] = keys


def members_of(n):
    st = cluster_status(n)
    return sorted(st) if st else None


def t_rogue_join(h):
    a, b, c = (S["nodes"][n] for n in ("a", "b", "c"))
    r1 = start_cluster_node("r1", h.path("r1"), IPS["r1"], join=a.cluster_addr, extra_args=COMMON)
    h.check("a logs the plaintext rogue's refusal with its address",
            log_has(a, "incoming from %s" % IPS["r1"]) and log_has(a, "wrong version number"),
            short(a.log_tail(5), 600))
    r2 = start_cluster_node("r2", h.path("r2"), IPS["r2"], join=a.cluster_addr,
                            extra_args=cluster_tls_args("r2", cert_name="self"))
    h.check("a logs the self-signed rogue's refusal",
            log_has(a, "certificate refused: self-signed certificate"), short(a.log_tail(5), 600))
    g = [members_of(n) for n in (a, b, c)]
    wait_until(lambda: all(members_of(n) == ["a", "b", "c"] for n in (a, b, c)), 10, 0.1, "members")
    h.check("no rogue in any member's DYNA.STATUS", all(members_of(n) == ["a", "b", "c"] for n in (a, b, c)),
            short(g))
    h.eq("the plaintext rogue sees only itself", members_of(r1), ["r1"])
    h.eq("the self-signed rogue sees only itself", members_of(r2), ["r2"])
    r1.stop()
    r2.stop()
    # a certificate of the CA, but another node's (a's, for 127.0.29.1), used from r1's address
    r3 = start_cluster_node("r3", h.path("r3"), IPS["r1"], join=a.cluster_addr,
                            extra_args=cluster_tls_args("r1", cert_name="a"))
    h.check("a refuses a peer whose valid certificate names another address",
            log_has(a, "its certificate does not name the address it claims"), short(a.log_tail(5), 600))
    h.check("and r3 refuses a's certificate when it dials a back, or never gets that far",
            members_of(r3) == ["r3"], short(members_of(r3)))
    h.check("no member lists r3", all(members_of(n) == ["a", "b", "c"] for n in (a, b, c)))
    r3.stop()


def refusals(n):
    """Log lines of TLS refusals of links coming from c's address."""
    mark = "incoming from %s:" % IPS["c"]
    return sum(1 for ln in n.log_text().splitlines() if mark in ln and "TLS:" in ln)


def t_rogue_replica_write(h):
    """c, a member, comes back with a self-signed certificate, then with no TLS: the
    replica writes it coordinates reach neither a nor b."""
    a, b, c = (S["nodes"][n] for n in ("a", "b", "c"))
    real_args = list(c.args)
    for label, extra in (("a self-signed certificate", ["--tls-cert-file", cert("self")[0],
                                                        "--tls-key-file", cert("self")[1]]),
                         ("no TLS on its cluster port", ["--tls-cluster", "no"])):
        c.stop()
        wait_until(lambda: all(cluster_status(n) and cluster_status(n)["c"]["reach"] == "unreachable"
                               for n in (a, b)), 15, 0.1, "a and b to see c down")
        c.args = real_args + extra
        c = restart_cluster_node(c)
        key = "rogue-%s" % label.split()[1]
        before = [refusals(n) for n in (a, b)]
        rep = c.client().call("SET", key, "injected")
        h.check("c with %s cannot reach its write quorum (%s)" % (label, short(rep)), rep != "OK")
        try:
            wait_until(lambda: all(refusals(n) > k for n, k in zip((a, b), before)), 10, 0.05, "refusals")
        except AssertionError:
            pass
        h.check("a and b log a refused TLS handshake from c (%s)" % label,
                all(refusals(n) > k for n, k in zip((a, b), before)), short(a.log_tail(4), 600))
        stored = [local_values(n.client().call("DYNA.LOCAL", key)) for n in (a, b)]
        h.eq("a and b store nothing c sent with %s" % label, stored, [[], []])
        h.check("a and b still hold what they held",
                all(local_values(a.client().call("DYNA.LOCAL", k)) == [("val-" + k).encode()]
                    for k in S["keys"][:10]))
    c.stop()
    c.args = real_args
    c = restart_cluster_node(c)
    S["nodes"]["c"] = c
    wait_until(lambda: all_see([a, b, c], ["a", "b", "c"], ("self", "reachable")), 30, 0.1, "c back")
    h.eq("c with its own certificate is a member again and writes reach quorum",
         c.client().call("SET", "back", "1"), "OK")


if __name__ == "__main__":
    H.run([("client port", t_client_port), ("close_notify after commands", t_close_notify),
           ("client certificates", t_client_certs),
           ("cluster", t_cluster), ("rogue joiners", t_rogue_join),
           ("rogue replica writes", t_rogue_replica_write)])
