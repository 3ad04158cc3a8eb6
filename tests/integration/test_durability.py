#!/usr/bin/python3
"""No acknowledged write is lost (DESIGN promise 2) across kill -9.

Eight writer threads storm one dynad with SET (and every 5th write a DYNA.PUT), each
pipelining a small window of commands; a key counts as acknowledged only once its +OK
(or, for DYNA.PUT, its new context) has been read. After ~1.5 s or enough acknowledged
writes, dynad gets SIGKILL mid-storm; it is restarted on the same data directory and
every acknowledged key of this and every earlier round must read back with its value.
Three rounds with the default sync policy (batch), then one round with --sync always and
one with --sync none (which fsyncs nothing, but hands every acknowledged write to the OS
in its write-ahead log before the reply: a process crash must lose none of them).
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import ConnectionClosed, Harness, RespError, encode_command, short, start_node  # noqa: E402

H = Harness("durability")
THREADS = 8
WINDOW = 16            # commands in flight per thread
STORM_SECONDS = 1.5
MAX_ACKED = 60000      # stop the storm early once this many writes are acknowledged
ACKED = {}             # key -> value, over all rounds
S = {}


def value_for(key):
    return b"val|" + key + b"|" + b"x" * (len(key) % 23)


def writer(port, rnd_name, tid, acked, stats, stop):
    """Writes keys rnd_name:tid:seq until stop is set or the connection dies."""
    import socket as so
    from dynalib import Client
    try:
        c = Client(port, timeout=5)
    except OSError:
        stats["connect_errors"] += 1
        return
    seq = 0
    inflight = []  # (key, kind) in send order
    try:
        while not stop.is_set():
            batch = []
            while len(inflight) < WINDOW:
                key = b"%s:%d:%d" % (rnd_name, tid, seq)
                val = value_for(key)
                if seq % 5 == 4:
                    batch.append(encode_command("DYNA.PUT", key, "", val))
                    inflight.append((key, "dput"))
                else:
                    batch.append(encode_command("SET", key, val))
                    inflight.append((key, "set"))
                seq += 1
            c.send_raw(b"".join(batch))
            # Read at least one reply (keep the pipe full), whatever else has arrived.
            n_read = 0
            while inflight and (n_read == 0 or c.pending_bytes()):
                r = c.read_reply()
                key, kind = inflight.pop(0)
                n_read += 1
                if (kind == "set" and r == "OK") or (kind == "dput" and isinstance(r, bytes) and r):
                    acked[key] = value_for(key)
                else:
                    stats["bad_replies"] += 1
                    if len(stats["examples"]) < 5:
                        stats["examples"].append((key, r))
    except (ConnectionClosed, OSError, so.timeout):
        pass  # the node was killed: writes in flight are simply not acknowledged
    finally:
        c.close()


def storm(h, node, rnd_name):
    acked_per = [dict() for _ in range(THREADS)]
    stats = {"bad_replies": 0, "connect_errors": 0, "examples": []}
    stop = threading.Event()
    ths = [threading.Thread(target=writer, args=(node.port, rnd_name, i, acked_per[i], stats, stop), daemon=True)
           for i in range(THREADS)]
    for t in ths:
        t.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < STORM_SECONDS:
        if sum(len(a) for a in acked_per) >= MAX_ACKED:
            break
        if not node.alive():
            break
        time.sleep(0.02)
    h.check("dynad alive during the storm", node.alive(), node.log_tail())
    node.kill()  # SIGKILL mid-storm, writers still sending
    stop.set()
    for t in ths:
        t.join(15)
    h.check("writer threads finished after the kill", not any(t.is_alive() for t in ths))
    acked = {}
    for a in acked_per:
        acked.update(a)
    h.check("no error replies during the storm", stats["bad_replies"] == 0,
            "%d, e.g. %s" % (stats["bad_replies"], short(stats["examples"], 400)))
    h.check("writers connected", stats["connect_errors"] == 0, str(stats["connect_errors"]))
    return acked


def verify_all(h, node, label):
    keys = list(ACKED)
    missing, wrong = [], []
    with node.client(timeout=30) as c:
        for i in range(0, len(keys), 2000):
            part = keys[i:i + 2000]
            cmds = [("MGET",) + tuple(part[j:j + 100]) for j in range(0, len(part), 100)]
            replies = c.pipeline(cmds)
            flat = []
            for r in replies:
                if not isinstance(r, list):
                    raise AssertionError("MGET failed: %s" % short(r))
                flat.extend(r)
            for k, v in zip(part, flat):
                if v is None:
                    missing.append(k)
                elif v != ACKED[k]:
                    wrong.append((k, v))
        # DYNA.PUT keys: exactly one live sibling with the value.
        dkeys = [k for k in keys if k.rsplit(b":", 1)[1].isdigit() and int(k.rsplit(b":", 1)[1]) % 5 == 4][:300]
        sib = []
        for r, k in zip(c.pipeline([("DYNA.GET", k) for k in dkeys]), dkeys):
            if not (isinstance(r, list) and r[1] == [ACKED[k]]):
                sib.append((k, r))
    h.check("%s: all %d acknowledged keys read back" % (label, len(keys)), not missing,
            "%d missing, e.g. %s" % (len(missing), short(missing[:5])))
    h.check("%s: every value is the one written" % label, not wrong,
            "%d wrong, e.g. %s" % (len(wrong), short(wrong[:3])))
    h.check("%s: DYNA.PUT keys have exactly their one value (%d checked)" % (label, len(dkeys)), not sib,
            short(sib[:3]))


def run_round(h, rnd, extra_args=()):
    data = S["data"]
    node = start_node("dur", data, extra_args=extra_args)
    with node.client() as c:
        sync = c.call("CONFIG", "GET", "sync")
    h.check("round %d: node up (sync=%s)" % (rnd, sync[1].decode() if isinstance(sync, list) and len(sync) == 2 else sync),
            True)
    if ACKED:
        verify_all(h, node, "round %d before storm" % rnd)
    name = b"r%d" % rnd
    acked = storm(h, node, name)
    h.note("round %d: %d writes acknowledged before SIGKILL (exit %s)" % (rnd, len(acked), node.proc.returncode))
    h.check("round %d: some writes were acknowledged" % rnd, len(acked) > 0)
    ACKED.update(acked)
    node2 = start_node("dur", data, port=node.port, extra_args=extra_args)
    verify_all(h, node2, "round %d after restart" % rnd)
    rc = node2.stop()
    h.eq("round %d: clean stop after verification" % rnd, rc, 0)


def t_rounds_batch(h):
    S["data"] = h.path("dur")
    for rnd in (1, 2, 3):
        run_round(h, rnd)


def t_round_always(h):
    run_round(h, 4, extra_args=("--sync", "always"))


def t_round_none(h):
    run_round(h, 5, extra_args=("--sync", "none"))


if __name__ == "__main__":
    H.run([
        ("3 rounds of kill -9 mid-storm, sync batch", t_rounds_batch),
        ("1 round of kill -9 mid-storm, sync always", t_round_always),
        ("1 round of kill -9 mid-storm, sync none", t_round_none),
    ])
