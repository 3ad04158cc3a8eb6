#!/usr/bin/python3
"""tsan_checkpoints.py: the LMDB engine's checkpoint thread at work beside the loop, for
ThreadSanitizer (scripts/tsan-test.sh runs it in build-tsan; it is not a ctest test: the
gcc and ASan builds gain nothing from it that test_wal does not give).

The promise tests rarely start a checkpoint in a real dynad (one comes after 64 MiB of
log at the default map size), so the checkpoint thread's side of lmdb_batch.c (applying
`ckpt` to LMDB, freeing the checkpointed overlay, preparing the next log segment) would
run under TSan only in the unit tests, without the loop's reads, scans and replies. Here
one dynad with --map-size-mb 16 checkpoints every 2 MiB logged, under --sync batch (the
log thread appends) and --sync none (the loop appends): three writers pipeline SETs of
1 KiB values over their own keys while a reader SCANs every key and GETs the newest ones,
so that the loop reads the overlays and LMDB while the threads write and free them. Then:

  - the log rolled at least 4 times (a roll starts every checkpoint: the newest
    wal-<segment>.log number counts them);
  - every key reads back with its last acknowledged value, before and after a restart;
  - dynad stops with exit code 0 on SIGTERM (a ThreadSanitizer report with
    halt_on_error=1 ends it with 66; the report file is counted by tsan-test.sh too).

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP.
"""
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Client, Harness, encode_command, short, start_node  # noqa: E402

H = Harness("tsan_checkpoints")
WRITERS = 3
KEYS = 1500      # keys per writer
ROUNDS = 8       # each writer writes each of its keys this many times
WINDOW = 64      # commands in flight per writer
VALUE = 1024     # bytes per value: 3 x 1500 x 8 x ~1.1 KiB = ~40 MiB logged, ~16 checkpoints


def key(tid, i):
    return b"ck:%d:%05d" % (tid, i)


def value(tid, i, rnd):
    head = key(tid, i) + b"|%d|" % rnd
    return head + b"v" * (VALUE - len(head))


def writer(port, tid, errors):
    """Writes every key of thread tid ROUNDS times, WINDOW commands in flight."""
    try:
        with Client(port, timeout=60) as c:
            cmds = [encode_command("SET", key(tid, i), value(tid, i, r)) for r in range(ROUNDS) for i in range(KEYS)]
            for at in range(0, len(cmds), WINDOW):
                chunk = cmds[at:at + WINDOW]
                c.send_raw(b"".join(chunk))
                for rep in c.read_replies(len(chunk)):
                    if rep != "OK":
                        errors.append("writer %d: %s" % (tid, short(rep)))
                        return
    except Exception as e:  # noqa: BLE001 (any failure is the test's)
        errors.append("writer %d: %s: %s" % (tid, type(e).__name__, e))


def reader(port, stop, errors, stats):
    """SCANs every key and GETs a few, again and again, until stop is set."""
    try:
        with Client(port, timeout=60) as c:
            while not stop.is_set():
                cursor = b"0"
                while True:
                    cursor, keys = c.call("SCAN", cursor, "MATCH", "ck:*", "COUNT", 200)
                    stats["scanned"] += len(keys)
                    if keys:
                        got = c.call("MGET", *keys[:20])
                        if any(v is None or not v.startswith(k + b"|") for k, v in zip(keys, got)):
                            errors.append("reader: a scanned key read back wrong: %s" % short(list(zip(keys, got))[:3]))
                            return
                    if cursor == b"0" or stop.is_set():
                        break
                stats["passes"] += 1
    except Exception as e:  # noqa: BLE001
        errors.append("reader: %s: %s" % (type(e).__name__, e))


def newest_segment(data_dir):
    n = 0
    for root, _, files in os.walk(data_dir):
        for f in files:
            m = re.match(r"wal-([0-9a-f]{16})\.log$", f)
            if m:
                n = max(n, int(m.group(1), 16))
    return n


def read_back(h, port, what):
    want = {key(t, i): value(t, i, ROUNDS - 1) for t in range(WRITERS) for i in range(KEYS)}
    keys = sorted(want)
    bad = []
    with Client(port, timeout=60) as c:
        for at in range(0, len(keys), 500):
            part = keys[at:at + 500]
            for k, v in zip(part, c.call("MGET", *part)):
                if v != want[k]:
                    bad.append(k)
    h.check("%s: all %d keys read back with their last value" % (what, len(keys)), not bad,
            "%d wrong, e.g. %s" % (len(bad), short(bad[:3])))


def run_policy(h, sync):
    name = "ck-" + sync
    data = h.path(name)
    args = ("--map-size-mb", 16, "--sync", sync)
    node = start_node(name, data, extra_args=args, timeout=60)
    errors, stats, stop = [], {"scanned": 0, "passes": 0}, threading.Event()
    ws = [threading.Thread(target=writer, args=(node.port, t, errors)) for t in range(WRITERS)]
    rd = threading.Thread(target=reader, args=(node.port, stop, errors, stats))
    rd.start()
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    rd.join()
    h.check("%s: writers and reader saw no error" % sync, not errors, "; ".join(errors[:3]))
    h.note("%s: %d full scans, %d keys scanned beside the writers" % (sync, stats["passes"], stats["scanned"]))
    seg = newest_segment(data)
    h.note("%s: newest log segment %d" % (sync, seg))
    h.check("%s: the log rolled at least 4 times (checkpoints ran)" % sync, seg >= 5, "newest segment %d" % seg)
    read_back(h, node.port, sync)
    rc = node.stop(timeout=120)
    h.eq("%s: dynad stops cleanly (exit 0; ThreadSanitizer's is 66)" % sync, rc, 0)
    node = start_node(name, data, extra_args=args, timeout=60)
    read_back(h, node.port, sync + " after a restart")
    rc = node.stop(timeout=120)
    h.eq("%s: dynad stops cleanly after the restart" % sync, rc, 0)


if __name__ == "__main__":
    H.run([
        ("checkpoints under --sync batch", lambda h: run_policy(h, "batch")),
        ("checkpoints under --sync none", lambda h: run_policy(h, "none")),
    ])
