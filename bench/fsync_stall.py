#!/usr/bin/env python3
"""bench/fsync_stall.py: how long a small write + fdatasync waits while something else
puts a burst of work on the same disk (the stalls that set the cluster's SET tail before
checkpoints were split up and log segments recycled: docs/performance.md, run L).

A thread appends 4 KiB + fdatasync in a loop to a zero-filled 8 MiB file (as a log does);
meanwhile, once, the main thread does one of:
  unlink      delete a 64 MiB file written and synced beforehand
  write       write 25 MiB into a new file (page cache only)
  write-sync  the same, then fdatasync it (as one large LMDB commit does)
and the script prints the loop's fdatasync latencies before and during/after it.

usage: python3 bench/fsync_stall.py unlink|write|write-sync [DIR]   (DIR: default /var/tmp)
Standard library only; the files go into a temporary directory under DIR, removed after."""
import os
import sys
import tempfile
import threading
import time

MB = 1 << 20


def stats(v):
    if not v:
        return "none"
    v = sorted(v)
    return "n=%d p50 %.2f p99 %.2f max %.1f ms" % (len(v), v[len(v) // 2] * 1e3,
                                                    v[int(len(v) * 0.99)] * 1e3, v[-1] * 1e3)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("unlink", "write", "write-sync"):
        print(__doc__)
        return 2
    mode = sys.argv[1]
    with tempfile.TemporaryDirectory(dir=sys.argv[2] if len(sys.argv) > 2 else "/var/tmp") as d:
        log = os.open(os.path.join(d, "log"), os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(log, b"\0" * (8 * MB), 0)
        os.fdatasync(log)
        chunk = os.urandom(MB)
        big = os.path.join(d, "big")
        if mode == "unlink":
            fd = os.open(big, os.O_WRONLY | os.O_CREAT, 0o644)
            for i in range(64):
                os.pwrite(fd, chunk, i * MB)
            os.fdatasync(fd)
            os.close(fd)
            time.sleep(1)
        lat, stop = [], [False]

        def appender():
            off = 0
            while not stop[0]:
                t = time.perf_counter()
                os.pwrite(log, b"y" * 4096, off)
                os.fdatasync(log)
                lat.append((t, time.perf_counter() - t))
                off = (off + 4096) % (8 * MB)

        th = threading.Thread(target=appender)
        th.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        if mode == "unlink":
            os.unlink(big)
        else:
            fd = os.open(big, os.O_WRONLY | os.O_CREAT, 0o644)
            for i in range(25):
                os.pwrite(fd, chunk, i * MB)
            if mode == "write-sync":
                os.fdatasync(fd)
            os.close(fd)
        t1 = time.perf_counter()
        time.sleep(0.5)
        stop[0] = True
        th.join()
        os.close(log)
        print("%s took %.1f ms" % (mode, (t1 - t0) * 1e3))
        print("  log fdatasync before:          %s" % stats([l for t, l in lat if t < t0]))
        print("  log fdatasync during and 0.5 s after: %s" % stats([l for t, l in lat if t >= t0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
