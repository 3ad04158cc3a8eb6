"""wan.py: the tests' network delay fault (a slow link, a WAN between sites) on a kernel
without netem: iptables hands the packets between chosen loopback addresses to an NFQUEUE
queue, and tests/tools/nfq_delay holds each one for a fixed time before letting it go.

    with Delay(["127.0.49.1"], ["127.0.49.2", "127.0.49.3"], 50, range(40, 50)):
        ...   # every packet 127.0.49.1 -> .2/.3 and back waits 50 ms

Delay(src_ips, dst_ips, ms, qnums, both=True): for every pair (s, d) the rule
    iptables -w -A OUTPUT -s S -d D -m comment --comment dynadelay-<pid>
             -j NFQUEUE --queue-num Q --queue-bypass
(and D -> S when both): a packet crossing one way waits ms, a round trip 2 x ms (one way
only: ms). qnums is a queue number or several to try in turn (one taken by another program
is skipped). Root only (iptables, the queue). Packets between addresses not named are
untouched; --queue-bypass lets packets through undelayed whenever nfq_delay is not bound.

close() (the with-block's end, atexit, or a second call: idempotent) removes the rules it
added, then stops nfq_delay (SIGTERM: it lets every held packet go). Rules left by a run
killed with SIGKILL carry its pid in their comment; clean_stale() (called by every Delay)
removes those whose process is gone, and nfq_delay itself stops when its parent does.
Start and close a Delay from the same thread (nfq_delay's parent-death signal follows the
thread that started it).

Used by tests/integration/test_delay.py and the campaign's nemesis (tests/campaign)."""
import atexit
import os
import re
import signal
import subprocess

from dynalib import bin_dir

TAG = "dynadelay-"
_OPEN = []


def nfq_delay_path():
    return os.path.join(bin_dir(), "nfq_delay")


def available():
    """None when a Delay can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    if subprocess.run(["sh", "-c", "command -v iptables"], stdout=subprocess.DEVNULL).returncode:
        return "no iptables"
    if not os.path.exists(nfq_delay_path()):
        return "%s not built" % nfq_delay_path()
    return None


def iptables(*args, check=True):
    r = subprocess.run(["iptables", "-w"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if check and r.returncode:
        raise RuntimeError("iptables %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def our_rules(owner=None):
    """The OUTPUT rules a Delay added (of owner pid, or of any), as `iptables -S` lines."""
    out = iptables("-S", "OUTPUT").stdout.splitlines()
    pat = re.compile(r"--comment \"?%s(\d+)\"?" % TAG)
    rules = []
    for line in out:
        m = pat.search(line)
        if m and (owner is None or int(m.group(1)) == owner):
            rules.append((int(m.group(1)), line))
    return rules


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def clean_stale():
    """Deletes the Delay rules of processes that are gone (a run killed with SIGKILL)."""
    for pid, line in our_rules():
        if pid != os.getpid() and not _alive(pid):
            iptables(*(["-D"] + line.split()[1:]), check=False)


class Delay(object):
    def __init__(self, src_ips, dst_ips, ms, qnums, both=True):
        self.ms = int(ms)
        self.qnums = [qnums] if isinstance(qnums, int) else list(qnums)
        self.pairs = [(s, d) for s in src_ips for d in dst_ips if s != d]
        if both:
            self.pairs += [(d, s) for (s, d) in self.pairs if (d, s) not in self.pairs]
        self.proc = None
        self.qnum = None
        self.added = []      # rule specs (after -A/-D) in force
        self.log = b""
        self.start()

    def spec(self, s, d):
        return ["OUTPUT", "-s", s, "-d", d, "-m", "comment", "--comment", TAG + str(os.getpid()),
                "-j", "NFQUEUE", "--queue-num", str(self.qnum), "--queue-bypass"]

    def start(self):
        clean_stale()
        errs = []
        for q in self.qnums:
            p = subprocess.Popen([nfq_delay_path(), str(q), str(self.ms)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            line = p.stdout.readline().decode(errors="replace")
            if "ready" in line:
                self.proc, self.qnum = p, q
                break
            p.wait(timeout=10)
            errs.append(p.stderr.read().decode(errors="replace").strip())
        if self.proc is None:
            raise RuntimeError("nfq_delay could not bind any of queues %s: %s" % (self.qnums, errs))
        _OPEN.append(self)
        try:
            for s, d in self.pairs:
                sp = self.spec(s, d)
                iptables("-A", *sp)
                self.added.append(sp)
        except Exception:
            self.close()
            raise

    def close(self):
        """Removes our rules, then stops nfq_delay; safe to call again."""
        while self.added:
            iptables("-D", *self.added.pop(), check=False)
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log = self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None
        if self in _OPEN:
            _OPEN.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def close_all():
    for d in list(_OPEN):
        try:
            d.close()
        except Exception:
            pass


atexit.register(close_all)
