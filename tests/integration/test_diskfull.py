#!/usr/bin/python3
"""A full disk is bad input from the disk (DESIGN promise 5): clear errors, no crash, no
damage to stored data, and service comes back when space does.

dynad runs with its data directory on a small tmpfs (as shared/FAULTS.md shows). Writes
fill it until the store reports "storage full": from then on writes get a RESP error,
reads keep working, every write that was acknowledged before reads back, and the node
stays up. Then the tmpfs is grown (`mount -o remount,size=...`): writes succeed again,
and after a restart everything acknowledged is still there. Needs root for mount; without
it the test says so and skips (CI runs as root).

A full disk at start: a node is killed (kill -9) with writes in its log, its tmpfs is
filled to the last page, or to the last byte, and it is started again: it must refuse to
start and name the cause, "No space left on device" (a short write on a full disk, which
LMDB reports as an I/O error, used to read "cannot open store ...: I/O error"). Once space
is back it starts, and every acknowledged write reads back.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Client, Harness, RespError, dynad_path, free_port, start_node  # noqa: E402

H = Harness("diskfull")
MOUNT = None
MOUNTS = []


def sh(*args):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = sh("mount", "-t", "tmpfs", "-o", "size=%s" % size, "dynafull", path)
    return r.returncode == 0, r.stdout.strip()


def umount(path):
    sh("umount", "-l", path)


def info_int(c, field):
    """One numeric field of INFO."""
    for line in c.call("INFO").split(b"\r\n"):
        if line.startswith(field.encode() + b":"):
            return int(line.split(b":", 1)[1])
    raise AssertionError("INFO has no field %s" % field)


def t_disk_full(h):
    global MOUNT
    if os.geteuid() != 0:
        h.note("not root: cannot mount a small tmpfs; skipped")
        return
    MOUNT = h.path("small")
    ok, out = mount_tmpfs(MOUNT, "3m")
    if not ok:
        h.note("mount failed (%s); skipped" % out)
        MOUNT = None
        return
    data = os.path.join(MOUNT, "n1")
    node = start_node("full", data)
    with Client(node.port, timeout=20) as c:
        inc0 = info_int(c, "incarnation")
    acked = {}
    errors = []
    value = b"v" * 4000
    with Client(node.port, timeout=20) as c:
        for i in range(4000):  # 16 MB of values into a 3 MB filesystem
            key = b"k%05d" % i
            r = c.call("SET", key, value)
            if isinstance(r, RespError):
                errors.append(r.msg)
                if len(errors) >= 20:
                    break
            else:
                acked[key] = value
    h.note("%d writes acknowledged before the disk was full; first error: %s"
           % (len(acked), errors[0] if errors else None))
    h.check("writes to a full disk get an error", len(errors) > 0)
    h.check("the error says what happened", errors and ("full" in errors[0] or "I/O" in errors[0]),
            errors[0] if errors else "")
    h.check("dynad is still running", node.alive())
    with Client(node.port, timeout=20) as c:
        h.check("PING answers", c.call("PING") == "PONG")
        bad = [k for k, v in acked.items() if c.call("GET", k) != v]
        h.check("every acknowledged write reads back while the disk is full", not bad,
                "%d of %d missing or wrong, e.g. %s" % (len(bad), len(acked), bad[:3]))
        info = c.call("INFO")
        h.check("INFO counts the failed commits", b"commit_errors:0\r\n" not in info)
        # A failed commit loses versions this node may already have sent to replicas:
        # it must never make those dots again (core/node.h, dyna_node_writes_lost).
        inc1 = info_int(c, "incarnation")
        h.check("a failed commit started a new incarnation", inc1 > inc0,
                "incarnation %d before the disk was full, %d after" % (inc0, inc1))
    # Space comes back: writes work again, and the store survived intact.
    r = sh("mount", "-o", "remount,size=64m", MOUNT)
    h.expect("tmpfs grown", r.returncode == 0, r.stdout)
    with Client(node.port, timeout=20) as c:
        r = None
        for _ in range(50):  # a batch that was in flight may still fail once
            r = c.call("SET", b"after", b"space")
            if not isinstance(r, RespError):
                break
        h.check("writes succeed once there is space again", r == "OK", str(r))
        acked[b"after"] = b"space"
    node.stop()
    h.check("dynad stopped cleanly", node.proc.returncode == 0, str(node.proc.returncode))
    node = start_node("full", data)
    with Client(node.port, timeout=20) as c:
        bad = [k for k, v in acked.items() if c.call("GET", k) != v]
        h.check("after a restart every acknowledged write is intact", not bad,
                "%d of %d missing or wrong" % (len(bad), len(acked)))
        inc2 = info_int(c, "incarnation")
        h.check("the new incarnation was recorded: a restart does not go back to an old one",
                inc2 >= inc1, "incarnation %d while full, %d after the restart" % (inc1, inc2))
    node.stop()


def fill(path, leave):
    """Fills the filesystem of path with a file, then gives back `leave` bytes of it."""
    f = os.path.join(path, "fill")
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    block = b"\0" * 4096
    try:
        while os.write(fd, block) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    if leave:
        os.truncate(f, max(0, os.path.getsize(f) - leave))
    return f


def t_full_at_start(h):
    if os.geteuid() != 0:
        h.note("not root: cannot mount a small tmpfs; skipped")
        return
    for leave, what in ((4096, "one page left"), (0, "not a byte left")):
        mnt = h.path("start%d" % leave)
        ok, out = mount_tmpfs(mnt, "16m")
        h.expect("tmpfs mounted", ok, out)
        MOUNTS.append(mnt)
        data = os.path.join(mnt, "n1")
        node = start_node("start%d" % leave, data, extra_args=("--map-size-mb", 32),
                          log_path=h.path("start%d.log" % leave))
        with Client(node.port, timeout=20) as c:
            got = c.pipeline([("SET", "k%04d" % i, "v" * 100) for i in range(2000)])
        acked = ["k%04d" % i for i, r in enumerate(got) if r == "OK"]
        h.check("%s: 2000 writes acknowledged before the kill" % what, len(acked) == 2000, str(len(acked)))
        node.kill()
        f = fill(mnt, leave)
        p = subprocess.run([dynad_path(), "--name", "start%d" % leave, "--data", data, "--map-size-mb", "32",
                            "--listen", "127.0.0.1:%d" % free_port()], capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        h.check("%s: dynad refuses to start on the full disk" % what, p.returncode != 0, out[-300:])
        h.check("%s: ...and says \"No space left on device\"" % what,
                "No space left on device" in out and "I/O error" not in out, out[-300:])
        os.unlink(f)
        node = start_node("start%d" % leave, data, extra_args=("--map-size-mb", 32),
                          log_path=h.path("start%d.log" % leave))
        with Client(node.port, timeout=20) as c:
            got = c.pipeline([("GET", k) for k in acked])
        h.check("%s: with space back it starts and every acknowledged write reads back" % what,
                all(g == b"v" * 100 for g in got), "%d of %d" % (sum(g == b"v" * 100 for g in got), len(got)))
        node.stop()


def main():
    try:
        H.run([("a full disk", t_disk_full),
               ("a full disk at start", t_full_at_start)])
    finally:
        if MOUNT:
            umount(MOUNT)
        for m in MOUNTS:
            umount(m)


if __name__ == "__main__":
    main()
