#!/usr/bin/python3
"""test_package: the Debian package (debian/, docs/deploy.md, Installing the package).

Builds dyna_VERSION_ARCH.deb with `dpkg-buildpackage -b -us -uc` from a copy of the tree
(never in the source tree) and runs lintian on it, then checks what it holds and runs what
it installs:
- its control data: name, version (include/dyna_version.h), dependencies, conffiles, the
  maintainer scripts that create the dyna user and purge /var/lib/dyna;
- its files: dynad, dyna, dyna-bench, dynad.service, /etc/dyna/dynad.conf, the man pages
  (rendered by man without a warning);
- the unit's settings (user, config, restart, file limit, sandboxing);
- extracted into a scratch root (dpkg -x): the packaged dynad starts from the packaged
  config file (flags move its data and ports into the scratch dir) and the packaged dyna
  talks to it.

A Release build takes minutes on a loaded machine, so the build is cached by the tree's
hash: the copy lives in <build>/pkg/src (kept between runs, files rewritten only when their
content changed, so the package's CMake build is incremental), and the package of a tree
that was already built and passed lintian is reused (<build>/pkg/dyna-HASH.deb). The
first run after a change of the tree rebuilds; later runs take seconds.
"""
import glob
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dynalib  # noqa: E402

ROOT = dynalib.repo_root()
PKG_DIR = os.path.join(os.path.dirname(os.path.abspath(dynalib.tmp_root())), "pkg")
STAGE = os.path.join(PKG_DIR, "src", "dyna")
# What the package's own build leaves in the copy and a sync must not delete.
KEEP = re.compile(r"^(obj-deb/|debian/dyna/|debian/\.debhelper/|debian/files$|debian/.*\.substvars$|"
                  r"debian/.*debhelper\.log$|debian/debhelper-build-stamp$|debian/.*\.debhelper$)")
BUILD_TIMEOUT = 1500


def version():
    parts = {}
    with open(os.path.join(ROOT, "include", "dyna_version.h")) as f:
        for m in re.finditer(r"#define DYNA_VERSION_(MAJOR|MINOR|PATCH) (\d+)", f.read()):
            parts[m.group(1)] = m.group(2)
    return "%s.%s.%s" % (parts["MAJOR"], parts["MINOR"], parts["PATCH"])


def tree_files():
    """The tree's files: tracked and untracked, not ignored (git ls-files)."""
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, stdout=subprocess.PIPE).stdout
    names = sorted(set(n for n in out.decode().split("\0") if n))
    return [n for n in names if os.path.isfile(os.path.join(ROOT, n))]


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_hash(files):
    h = hashlib.sha256()
    for n in files:
        p = os.path.join(ROOT, n)
        h.update(n.encode() + b"\0" + oct(os.stat(p).st_mode & 0o111).encode() + b"\0")
        h.update(file_sha(p).encode() + b"\n")
    return h.hexdigest()[:16]


def sync_stage(files):
    """Makes STAGE hold exactly the tree's files (besides the package build's own output),
    rewriting only those whose content differs so that ninja rebuilds only what changed."""
    os.makedirs(STAGE, exist_ok=True)
    want = set(files)
    for n in files:
        src, dst = os.path.join(ROOT, n), os.path.join(STAGE, n)
        if os.path.isfile(dst) and file_sha(dst) == file_sha(src):
            if (os.stat(dst).st_mode ^ os.stat(src).st_mode) & 0o111:
                shutil.copymode(src, dst)
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    for dirpath, dirnames, filenames in os.walk(STAGE):
        rel_dir = os.path.relpath(dirpath, STAGE)
        for fn in filenames:
            rel = fn if rel_dir == "." else os.path.join(rel_dir, fn)
            if rel not in want and not KEEP.match(rel):
                os.unlink(os.path.join(dirpath, fn))
    # dh would skip the steps its stamps say were done: the build runs again every time.
    for n in ["debian/debhelper-build-stamp", "debian/files"]:
        if os.path.exists(os.path.join(STAGE, n)):
            os.unlink(os.path.join(STAGE, n))
    for p in glob.glob(os.path.join(STAGE, "debian", "*.debhelper.log")):
        os.unlink(p)
    shutil.rmtree(os.path.join(STAGE, "debian", ".debhelper"), ignore_errors=True)
    shutil.rmtree(os.path.join(STAGE, "debian", "dyna"), ignore_errors=True)


def run(h, what, args, timeout, cwd=None, env=None):
    t = time.monotonic()
    r = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    out = r.stdout.decode(errors="replace")
    h.note("%s: exit %d in %.0f s" % (what, r.returncode, time.monotonic() - t))
    if r.returncode != 0:
        print(out[-6000:])
    return r.returncode, out


def build_package(h):
    """The .deb of this tree: from the cache, or built and linted now."""
    files = tree_files()
    key = tree_hash(files)
    cached = os.path.join(PKG_DIR, "dyna-%s.deb" % key)
    if os.path.exists(cached):
        h.note("package of tree %s from the cache (%s)" % (key, cached))
        return cached
    h.note("building the package of tree %s in %s" % (key, STAGE))
    sync_stage(files)
    for old in glob.glob(os.path.join(PKG_DIR, "src", "dyna_*")):
        os.unlink(old)
    env = dict(os.environ)
    env["DEB_BUILD_OPTIONS"] = "parallel=%d nocheck" % min(os.cpu_count() or 1, 4)
    env.pop("MAKEFLAGS", None)
    env["LC_ALL"] = "C.UTF-8"
    # -nc: no clean first, so that obj-deb (the CMake build) is reused between runs.
    rc, _ = run(h, "dpkg-buildpackage -b -us -uc -nc", ["dpkg-buildpackage", "-b", "-us", "-uc", "-nc"],
                BUILD_TIMEOUT, cwd=STAGE, env=env)
    h.expect("dpkg-buildpackage -b -us -uc succeeds", rc == 0)
    debs = glob.glob(os.path.join(PKG_DIR, "src", "dyna_%s_*.deb" % version()))
    h.expect("it made dyna_%s_ARCH.deb" % version(), len(debs) == 1, "found %r" % debs)
    # Lintian: no error and no warning (what remains is overridden in
    # debian/dyna.lintian-overrides, each with its reason).
    rc, out = run(h, "lintian", ["lintian", "--fail-on", "error,warning", debs[0]], 600)
    tags = [l for l in out.splitlines() if re.match(r"^[EW]: ", l)]
    h.expect("lintian: no error or warning", rc == 0 and not tags, "\n".join(tags) or out[-2000:])
    for old in glob.glob(os.path.join(PKG_DIR, "dyna-*.deb")):
        os.unlink(old)
    shutil.copy(debs[0], cached)
    return cached


def check_copyright(h, path):
    """The packaged copyright file: machine-readable (DEP-5), every Files paragraph under a
    licence whose text it holds, and that text the tree's LICENSE (MIT, Debian's Expat)."""
    text = open(path).read() if os.path.exists(path) else ""
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    field = lambda p, k: (re.search(r"^%s: *(.*)$" % k, p, re.M) or [None, None])[1]
    h.check("copyright: DEP-5 header (Format: .../copyright-format/1.0/)",
            paras and re.match(r"Format: https?://www\.debian\.org/doc/packaging-manuals/copyright-format/1\.0/?$",
                               paras[0].splitlines()[0]) is not None, text[:200])
    files = [p for p in paras if field(p, "Files")]
    texts = dict((field(p, "License"), p) for p in paras if field(p, "License") and not field(p, "Files"))
    h.check("copyright: a Files: * paragraph with Copyright and License",
            any(field(p, "Files") == "*" and field(p, "Copyright") and field(p, "License") for p in files),
            "%d Files paragraphs" % len(files))
    h.check("copyright: every licence named has its text", files and all(field(p, "License") in texts for p in files),
            "named %r, texts %r" % ([field(p, "License") for p in files], sorted(texts)))
    lic = open(os.path.join(ROOT, "LICENSE")).read() if os.path.exists(os.path.join(ROOT, "LICENSE")) else ""
    words = lambda t: re.sub(r"[\s.]+", " ", t).strip()
    body = texts.get("Expat", "").split("\n", 1)[-1]
    h.check("copyright: Expat, the text of the tree's LICENSE (MIT)",
            lic.startswith("MIT License") and body and words(body) in words(lic), body[:120])
    h.check("copyright holder as LICENSE names it",
            any(c and c in lic for c in (field(p, "Copyright") for p in files)), text[:300])


def test_package(h):
    for tool in ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb", "man"):
        h.expect("%s is installed (scripts/setup.sh installs it)" % tool, shutil.which(tool) is not None)
    deb = build_package(h)

    # -- control data
    info = subprocess.run(["dpkg-deb", "-f", deb], check=True, stdout=subprocess.PIPE).stdout.decode()
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", info, re.M))
    h.eq("Package", fields.get("Package"), "dyna")
    h.eq("Version (include/dyna_version.h)", fields.get("Version"), version())
    h.check("Maintainer: a name and an address (debian/control)",
            re.fullmatch(r"[^<>]*\S <[^@<>\s]+@[^@<>\s]+>", fields.get("Maintainer", "")) is not None,
            fields.get("Maintainer"))
    depends = fields.get("Depends", "")
    for dep in ("adduser", "libuv1", "liblmdb0", "libmicrohttpd12", "libssl3", "libjemalloc2"):
        h.check("Depends on %s" % dep, re.search(r"(^|, )%s\b" % re.escape(dep), depends), depends)
    scratch = h.path("ctrl")
    subprocess.run(["dpkg-deb", "-e", deb, scratch], check=True)
    ctrl = sorted(os.listdir(scratch))
    for member in ("conffiles", "postinst", "postrm", "prerm", "md5sums"):
        h.check("control member %s" % member, member in ctrl, "members %r" % ctrl)
    read = lambda n: open(os.path.join(scratch, n)).read() if os.path.exists(os.path.join(scratch, n)) else ""
    h.check("conffiles: /etc/dyna/dynad.conf", "/etc/dyna/dynad.conf" in read("conffiles").split())
    postinst = read("postinst")
    h.check("postinst creates the dyna system user",
            re.search(r"adduser [^\n]*--system[^\n]*(\\\n[^\n]*)*\bdyna\b", postinst) is not None
            and "getent passwd dyna" in postinst)
    h.check("postinst enables and starts dynad.service (dh_installsystemd)",
            "deb-systemd-helper" in postinst and "dynad.service" in postinst)
    h.check("postrm purges /var/lib/dyna", re.search(r"purge.*\n\s*rm -rf /var/lib/dyna", read("postrm")) is not None)

    # -- files
    listing = subprocess.run(["dpkg-deb", "-c", deb], check=True, stdout=subprocess.PIPE).stdout.decode()
    paths = set(l.split()[-1].lstrip(".") for l in listing.splitlines() if l.strip())
    modes = dict((l.split()[-1].lstrip("."), l.split()[0]) for l in listing.splitlines() if l.strip())
    for p in ("/usr/sbin/dynad", "/usr/bin/dyna", "/usr/bin/dyna-bench"):
        h.check("%s, executable" % p, p in paths and modes[p] == "-rwxr-xr-x", modes.get(p))
    units = [p for p in ("/lib/systemd/system/dynad.service", "/usr/lib/systemd/system/dynad.service") if p in paths]
    h.check("the systemd unit dynad.service", len(units) == 1, "none in %d paths" % len(paths))
    for p in ("/etc/dyna/dynad.conf", "/usr/share/man/man8/dynad.8.gz", "/usr/share/man/man1/dyna.1.gz",
              "/usr/share/man/man1/dyna-bench.1.gz", "/usr/share/doc/dyna/copyright",
              "/usr/share/doc/dyna/deploy.md.gz"):
        h.check(p, p in paths)
    h.check("no test tool, simulator or unit test in the package",
            not [p for p in paths if re.search(r"dyna-sim|failsync|skew|/test_|hiredis_smoke", p)])

    # -- installed into a scratch root
    root = h.path("root")
    subprocess.run(["dpkg", "-x", deb, root], check=True)
    check_copyright(h, os.path.join(root, "usr/share/doc/dyna/copyright"))
    unit = open(os.path.join(root, units[0].lstrip("/"))).read() if units else ""
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    for k, v in (("User", "dyna"), ("Group", "dyna"), ("Restart", "on-failure"),
                 ("ExecStart", "/usr/sbin/dynad --config /etc/dyna/dynad.conf"), ("StateDirectory", "dyna"),
                 ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                 ("NoNewPrivileges", "yes"), ("ReadWritePaths", "/var/lib/dyna"),
                 ("WantedBy", "multi-user.target")):
        h.eq("dynad.service %s=" % k, settings.get(k), [v])
    h.check("dynad.service LimitNOFILE= a number of at least 10000 (max-clients' default)",
            re.fullmatch(r"\d+", (settings.get("LimitNOFILE") or [""])[0])
            and int(settings["LimitNOFILE"][0]) >= 10000, settings.get("LimitNOFILE"))
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(root, units[0].lstrip("/"))],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode(errors="replace")
        # ExecStart's /usr/sbin/dynad and Documentation's man page are in the scratch root
        # only: those two complaints are expected, any other (an unknown key, a bad value) not.
        bad = [l for l in out.splitlines() if l.strip() and not re.search(
            r"Command /usr/sbin/dynad is not executable|Command 'man dynad\(8\)' failed", l)]
        h.check("systemd-analyze verify: no complaint but the absent /usr/sbin/dynad and man page",
                not bad, out[-2000:])

    # The man pages render without a warning.
    for page in ("man8/dynad.8.gz", "man1/dyna.1.gz", "man1/dyna-bench.1.gz"):
        src = os.path.join(root, "usr/share/man", page)
        if not os.path.exists(src):
            continue
        plain = h.path(os.path.basename(page)[:-3])
        with gzip.open(src) as f, open(plain, "wb") as g:
            g.write(f.read())
        env = dict(os.environ, LC_ALL="C", MANROFFSEQ="", MANWIDTH="80")
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", plain], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h.check("man %s renders without warnings" % page, r.returncode == 0 and not r.stderr.strip(),
                r.stderr.decode(errors="replace")[-1000:])

    # The packaged programs run, and the packaged config file is one dynad takes.
    dynad = os.path.join(root, "usr/sbin/dynad")
    r = subprocess.run([dynad, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    h.eq("packaged dynad --version", r.stdout.decode().strip(), "dynad %s" % version())
    h.check("dynad.service sets no DYNA_TEST_BUGS", "DYNA_TEST_BUGS" not in unit)
    r = subprocess.run([dynad, "--data", h.path("bugs"), "--listen", "127.0.0.1:%d" % dynalib.free_port()],
                       env=dict(os.environ, DYNA_TEST_BUGS="early-ack"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    h.check("packaged (Release) dynad refuses to start with DYNA_TEST_BUGS set",
            r.returncode != 0 and b"DYNA_TEST_BUGS" in r.stdout, r.stdout.decode(errors="replace")[-500:])
    conf = os.path.join(root, "etc/dyna/dynad.conf")
    data = h.path("data")
    port, cport = dynalib.free_port(), dynalib.free_port()
    node = dynalib.Node("n1", data, port,
                        [dynad, "--config", conf, "--data", data, "--listen", "127.0.0.1:%d" % port,
                         "--cluster", "127.0.0.1:%d" % cport], h.path("dynad.log"))
    node.wait_ready(20)
    with node.client() as c:
        got = c.call("CONFIG", "GET", "name")
        h.eq("the packaged config's name (n1)", got, [b"name", b"n1"])
        h.eq("flags win over the file: data", c.call("CONFIG", "GET", "data"), [b"data", data.encode()])
    r = subprocess.run([os.path.join(root, "usr/bin/dyna"), "-p", str(port), "put", "pkg", "v"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    h.check("packaged dyna put", r.returncode == 0, r.stdout.decode(errors="replace"))
    r = subprocess.run([os.path.join(root, "usr/bin/dyna"), "-p", str(port), "get", "pkg"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    h.check("packaged dyna get reads it back", r.returncode == 0 and b"v" in r.stdout, r.stdout)
    h.eq("packaged dynad stops on SIGTERM", node.stop(), 0)

    # Every option the config file shows commented out is one dynad takes, with that value
    # (but those naming files, other hosts or fixed ports, and a password: PING would need it).
    lines = re.findall(r"^#([a-z-]+ = .*)$", open(conf).read(), re.M)
    usable = [l for l in lines if not re.match(r"(tls-[a-z-]+|cluster-secret-file|join|http|cluster|requirepass|user) =", l)]
    h.check("the config file shows the options commented out (%d usable here)" % len(usable), len(usable) >= 10)
    allconf = h.path("all.conf")
    with open(allconf, "w") as f:
        f.write(open(conf).read() + "\n" + "\n".join(usable) + "\n")
    port, cport = dynalib.free_port(), dynalib.free_port()
    node = dynalib.Node("n1", h.path("data2"), port,
                        [dynad, "--config", allconf, "--data", h.path("data2"), "--listen", "127.0.0.1:%d" % port,
                         "--cluster", "127.0.0.1:%d" % cport], h.path("dynad2.log"))
    try:
        node.wait_ready(20)
        h.check("dynad starts with them all uncommented", True)
    except dynalib.NodeStartError as e:
        h.check("dynad starts with them all uncommented", False, str(e)[-1000:])
    node.stop()


if __name__ == "__main__":
    dynalib.Harness("test_package").run([("package", test_package)])
