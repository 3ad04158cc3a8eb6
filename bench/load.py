#!/usr/bin/env python3
"""load.py: pipelined bulk loader for any RESP server (dynad or redis-server).

Sends SET <key> <value> for i in [start, start+count) over one connection, BATCH commands
per write, and checks that every reply is +OK. Keys are FORMAT % i; values are VALUE_SIZE
bytes. Prints one line: "loaded N keys, K key bytes, V value bytes, T s, R ops/s".
Exit status 1 on any error reply or a closed connection.

  load.py --port 7001 --count 1000000 --format 'key:%d' --value-size 100 [--shuffle SEED]
"""
import argparse
import random
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--format", default="key:%d")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--shuffle", type=int, metavar="SEED",
                    help="send the keys in a random order (seeded) instead of ascending i")
    a = ap.parse_args()

    value = (b"0123456789abcdefghijklmnopqrstuvwxyz" * (a.value_size // 36 + 1))[: a.value_size]
    vhead = b"$%d\r\n" % len(value) + value + b"\r\n"
    sock = socket.create_connection((a.host, a.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key_bytes = 0
    t0 = time.monotonic()
    order = list(range(a.start, a.start + a.count))
    if a.shuffle is not None:
        random.Random(a.shuffle).shuffle(order)
    end = a.count
    i = 0
    pending = b""
    while i < end:
        n = min(a.batch, end - i)
        parts = []
        for j in order[i:i + n]:
            k = (a.format % j).encode()
            key_bytes += len(k)
            parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n" % (len(k), k))
            parts.append(vhead)
        sock.sendall(b"".join(parts))
        # SET replies are single lines: +OK or -ERR...
        got = 0
        while got < n:
            chunk = sock.recv(1 << 16)
            if not chunk:
                sys.exit("load.py: connection closed by server after %d keys" % (i + got))
            pending += chunk
            lines = pending.split(b"\r\n")
            pending = lines.pop()
            for ln in lines:
                if ln != b"+OK":
                    sys.exit("load.py: unexpected reply at key %d: %r" % (order[i + got], ln[:200]))
                got += 1
        i += n
    dt = time.monotonic() - t0
    sock.close()
    print("loaded %d keys, %d key bytes, %d value bytes, %.2f s, %.0f ops/s"
          % (a.count, key_bytes, a.count * len(value), dt, a.count / dt if dt else 0))


if __name__ == "__main__":
    main()
