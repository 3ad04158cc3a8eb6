#!/usr/bin/python3
"""loopback.py: the loopback addresses the tests put dynad on must not collide. CTest runs
test files side by side, and test_faults.py cuts links with firewall rules between
addresses (test_delay.py and wan.py delay them): a node of another file on one of those
addresses would be cut too. Checks, over tests/integration/*.py and tests/campaign/*.py:
  - no literal address 127.x.y.z (other than 127.0.0.1, where every node picks a free
    port and nothing is cut) appears in two files;
  - every address made by a pattern ("127.0.46.%d" % ...) is in a range declared below
    for its file (the files that pick a block by pid), and no two files' ranges and
    literals overlap, except the pairs declared to share a range on purpose.
Prints each collision; exits 1 when there is one.
Usage: loopback.py [REPO_ROOT]"""
import glob
import ipaddress
import os
import re
import sys

# The files that make addresses from a pattern: the ranges those patterns can give.
RANGES = {
    "test_faults.py": [("127.0.0.128", "127.0.0.247")],      # 128 + 8 * (pid % 15), 8 each
    "test_cluster.py": [("127.0.0.21", "127.0.0.24")],       # 21 + i, 4 nodes
    "test_dc.py": [("127.0.46.11", "127.0.46.229"), ("127.0.47.11", "127.0.47.229")],
    "test_dc_wan.py": [("127.0.46.14", "127.0.46.232"), ("127.0.47.14", "127.0.47.232")],
    "test_dc_lanes.py": [("127.0.51.11", "127.0.51.249"), ("127.0.52.11", "127.0.52.249")],
    "test_delay.py": [("127.0.49.10", "127.0.49.249")],      # 10 + 3 * (pid % 80), 3 each
    "cluster.py": [("127.77.1.1", "127.77.250.255")],        # the campaign: 127.77.(1 + pid % 250).x
}
# test_dc.py takes addresses 1-3 of its pid's block of 8 and test_dc_wan.py 4-6 of its own:
# never the same address although their ranges interleave.
SHARED = {frozenset(("test_dc.py", "test_dc_wan.py"))}

LITERAL = re.compile(r"(?<![\d.])127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
PATTERN = re.compile(r"127\.[\d.]*%")


def ip(s):
    return int(ipaddress.IPv4Address(s))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    files = sorted(glob.glob(os.path.join(root, "tests", "integration", "*.py")) +
                   glob.glob(os.path.join(root, "tests", "campaign", "*.py")))
    claims = {}  # file -> [(lo, hi)]
    bad = []
    for path in files:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        spans = []
        for m in LITERAL.finditer(text):
            a = ip(m.group(0))
            if m.group(0) != "127.0.0.1":
                spans.append((a, a))
        if PATTERN.search(text):
            if name not in RANGES:
                bad.append("%s makes 127.x addresses from a pattern: declare its range in %s"
                           % (name, os.path.relpath(__file__, root)))
            spans += [(ip(lo), ip(hi)) for lo, hi in RANGES.get(name, [])]
        if spans:
            claims[name] = spans
    names = sorted(claims)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if frozenset((a, b)) in SHARED:
                continue
            for lo1, hi1 in claims[a]:
                for lo2, hi2 in claims[b]:
                    if lo1 <= hi2 and lo2 <= hi1:
                        bad.append("%s and %s both use %s" % (a, b, ipaddress.IPv4Address(max(lo1, lo2))))
    for line in bad:
        print("COLLISION: %s" % line)
    print("loopback: %d files with addresses, %d collisions" % (len(names), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
