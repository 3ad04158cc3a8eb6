#!/usr/bin/env python3
"""bench/fsync_cost.py: the CPU time and latency of one log commit on this disk.

A log commit here is one pwrite of a few KiB plus fdatasync (src/store/wal.c). On a VM
the fdatasync is not only waiting: it submits the write and a cache flush, each a
doorbell to the hypervisor, and takes their completion interrupts. This measures the
CPU (user + system time of this process) and the latency per commit, for:
  overwrite  into a zero-filled file (a prepared or recycled segment: no metadata)
  append     at the end of a growing file (the size changes: the inode is written too)
  nosync     the same pwrite into the zero-filled file without fdatasync (the baseline)

usage: python3 bench/fsync_cost.py [DIR] [COUNT]   (DIR: default /var/tmp, COUNT 2000)
Standard library only; the file goes into a temporary directory under DIR, removed after.
A benchmark, not a test: it prints figures and never fails on them."""
import os
import resource
import sys
import tempfile
import time

RECORD = 3000  # bytes per commit: about 20 SETs of 100-byte values plus headers


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(d, mode, count):
    path = os.path.join(d, "log")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if mode != "append":
            os.pwrite(fd, b"\0" * (count * RECORD + 4096), 0)
            os.fsync(fd)
        rec = b"x" * RECORD
        lat = []
        c0, t0 = cpu(), time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            os.pwrite(fd, rec, i * RECORD)
            if mode != "nosync":
                os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
        c1, t1 = cpu(), time.perf_counter()
        lat.sort()
        print("%-9s cpu %6.1f us/commit   latency p50 %.3f p90 %.3f p99 %.3f ms   wall %6.1f us/commit"
              % (mode, (c1 - c0) / count * 1e6, lat[count // 2] * 1e3, lat[count * 9 // 10] * 1e3,
                 lat[count * 99 // 100] * 1e3, (t1 - t0) / count * 1e6))
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with tempfile.TemporaryDirectory(dir=d) as t:
        for mode in ("nosync", "overwrite", "append", "overwrite", "append"):
            run(t, mode, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
