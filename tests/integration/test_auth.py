#!/usr/bin/python3
"""Client authentication against a real dynad (docs/security.md): tries to get in.

One node on 127.0.0.1 with requirepass and users from its config file:
  alice   ~app:* +@read +@write +@transaction +@connection +dyna.ring +acl|whoami -@admin
  reader  allkeys +@read +@connection -@admin          (denied by category: no writes)
  ops     allkeys +@all
  mallory off (disabled)
and a small failed-login delay (auth-fail-delay-ms 20, max 200).

- Not logged in: every command but AUTH HELLO QUIT RESET gets NOAUTH (an unknown command
  still its ERR first, as Redis 7.0); HELLO without AUTH its own NOAUTH; wrong password,
  unknown user, disabled user, HELLO AUTH with a wrong password: WRONGPASS; RESET logs out.
- Permissions: a key outside alice's patterns (alone, in MSET, in a MULTI, where it is
  refused at queue time and EXEC aborts), a command of a denied category (reader's SET,
  alice's CONFIG GET, DYNA.LOCAL, DYNA.ADMIN REPAIR, ACL LIST): NOPERM in Redis 7.0's words;
  INFO counts the refusals.
- Every failed attempt changes nothing stored: the keys it tried are absent, DBSIZE as
  before.
- Brute force: 16 wrong passwords pipelined on one connection are all answered WRONGPASS,
  and the server's own counter (INFO auth_delayed_replies) says it held back every one
  after the first (the first too while the node's level from earlier failures is high); the right password afterwards is held back too (the delay
  is chosen before the check); a fresh connection's first login is held back while the
  node's failure level is high. Asserted on counters, not on the clock.
- ACL WHOAMI, ACL USERS (sorted), ACL LIST (passwords as SHA-256 only), ACL CAT.
- CONFIG SET requirepass: the old password stops working, the new one works.
- CLIENT LIST shows the user; CLIENT KILL USER closes that user's connections only.
- redis-cli -a / --user --pass (and -3: HELLO 3 AUTH), redis-py password= / username=,
  the dyna CLI (--user/--pass, DYNA_PASSWORD) and dyna-bench --pass.
- A bad user line in the config stops dynad at start with a clear error.

Environment: DYNA_BIN (dynad, dyna, dyna-bench), DYNA_TMP."""
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Client, Harness, RespError, bin_dir, dynad_path, short, start_node  # noqa: E402

H = Harness("auth")
S = {}
PW = "s3cret"
NOAUTH = RespError("NOAUTH Authentication required.")
WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")
NOPERM_KEY = RespError("NOPERM this user has no permissions to access one of the keys used as arguments")


def noperm_cmd(name):
    return RespError("NOPERM this user has no permissions to run the '%s' command" % name)


CONFIG = """requirepass = %s
user = alice on >apw ~app:* +@read +@write +@transaction +@connection +dyna.ring +acl|whoami -@admin
user = reader on >rpw allkeys +@read +@connection -@admin
user = ops on >opw allkeys +@all
user = mallory off >mpw allkeys +@all
auth-fail-delay-ms = 20
auth-fail-delay-max-ms = 200
""" % PW


def login(user=None, pw=PW):
    c = Client(S["node"].port)
    r = c.call("AUTH", user, pw) if user else c.call("AUTH", pw)
    H.expect("AUTH %s" % (user or "default"), r == "OK", short(r))
    return c


def info_stats():
    """INFO stats through the connection logged in at start (a new login would itself be
    counted, and held back while the node's failure level is high)."""
    text = S["admin"].call("INFO", "stats").decode()
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def start(h):
    path = h.path("dynad.ini")
    with open(path, "w") as f:
        f.write(CONFIG)
    node = start_node("auth1", h.path("auth1"), extra_args=["--config", path], wait=False)
    S["node"] = node
    deadline = time.monotonic() + 20
    while True:  # ready: a PING answered (NOAUTH, since a password is required)
        try:
            with Client(node.port, timeout=2.0) as c:
                r = c.call("PING")
                break
        except OSError:
            if not node.alive() or time.monotonic() > deadline:
                raise AssertionError("dynad did not start: " + node.log_tail())
            time.sleep(0.05)
    h.eq("PING before AUTH", r, NOAUTH)
    S["admin"] = login()
    S["dbsize"] = S["admin"].call("DBSIZE")
    h.eq("DBSIZE at start", S["dbsize"], 0)


def t_not_logged_in(h):
    st0 = info_stats()
    c = Client(S["node"].port)
    h.eq("GET before AUTH", c.call("GET", "app:1"), NOAUTH)
    h.eq("SET before AUTH", c.call("SET", "app:noauth", "x"), NOAUTH)
    h.eq("ACL WHOAMI before AUTH", c.call("ACL", "WHOAMI"), NOAUTH)
    r = c.call("NOSUCH", "a")
    h.check("an unknown command is ERR unknown command, not NOAUTH (Redis's order)",
            isinstance(r, RespError) and r.msg.startswith("ERR unknown command 'NOSUCH'"), short(r))
    r = c.call("HELLO", "2")
    h.check("HELLO without AUTH: NOAUTH HELLO must be called ...",
            isinstance(r, RespError) and r.msg.startswith("NOAUTH HELLO must be called with the client already"),
            short(r))
    h.eq("AUTH wrong password", c.call("AUTH", "wrong"), WRONGPASS)
    h.eq("AUTH unknown user", c.call("AUTH", "nobody", PW), WRONGPASS)
    h.eq("AUTH disabled user with its password", c.call("AUTH", "mallory", "mpw"), WRONGPASS)
    h.eq("AUTH alice with default's password", c.call("AUTH", "alice", PW), WRONGPASS)
    h.eq("AUTH with three arguments", c.call("AUTH", "a", "b", "c"), RespError("ERR syntax error"))
    h.eq("HELLO 2 AUTH default wrong", c.call("HELLO", "2", "AUTH", "default", "wrong"), WRONGPASS)
    h.eq("still NOAUTH after the failures", c.call("GET", "app:1"), NOAUTH)
    r = c.call("HELLO", "2", "AUTH", "default", PW, "SETNAME", "me")
    h.check("HELLO 2 AUTH default <right> answers the server map", isinstance(r, list) and b"proto" in r, short(r))
    h.eq("logged in: GET", c.call("GET", "app:none"), None)
    h.eq("CLIENT GETNAME after HELLO SETNAME", c.call("CLIENT", "GETNAME"), b"me")
    h.eq("RESET", c.call("RESET"), "RESET")
    h.eq("after RESET: NOAUTH again", c.call("GET", "app:1"), NOAUTH)
    h.eq("QUIT allowed before AUTH", c.call("QUIT"), "OK")
    c.close()
    h.eq("INFO acl_access_denied_auth counts the 5 failed logins",
         int(info_stats()["acl_access_denied_auth"]) - int(st0["acl_access_denied_auth"]), 5)


def t_permissions(h):
    st0 = info_stats()
    a = login("alice", "apw")
    h.eq("ACL WHOAMI", a.call("ACL", "WHOAMI"), b"alice")
    line = S["admin"].call("CLIENT", "LIST").decode()
    h.check("CLIENT LIST shows user=alice", " user=alice " in line, line)
    h.eq("alice SET app:1", a.call("SET", "app:1", "v1"), "OK")
    h.eq("alice GET app:1", a.call("GET", "app:1"), b"v1")
    h.eq("alice SADD app:s", a.call("SADD", "app:s", "m"), 1)
    h.eq("alice SET other (key outside ~app:*)", a.call("SET", "other", "x"), NOPERM_KEY)
    h.eq("alice GET other", a.call("GET", "other"), NOPERM_KEY)
    h.eq("alice MSET app:2 other: refused whole", a.call("MSET", "app:2", "x", "other", "y"), NOPERM_KEY)
    h.eq("alice App:1 (patterns are case-sensitive)", a.call("GET", "App:1"), NOPERM_KEY)
    h.eq("alice CONFIG GET (@admin)", a.call("CONFIG", "GET", "port"), noperm_cmd("config|get"))
    h.eq("alice DYNA.LOCAL (@admin)", a.call("DYNA.LOCAL", "app:1"), noperm_cmd("dyna.local"))
    h.eq("alice DYNA.ADMIN REPAIR (@admin)", a.call("DYNA.ADMIN", "REPAIR"), noperm_cmd("dyna.admin|repair"))
    h.eq("alice ACL LIST (@admin)", a.call("ACL", "LIST"), noperm_cmd("acl|list"))
    # MULTI: a denied command is refused when queued, and EXEC aborts
    h.eq("MULTI", a.call("MULTI"), "OK")
    h.eq("queued SET app:t", a.call("SET", "app:t", "1"), "QUEUED")
    h.eq("SET other refused at queue time", a.call("SET", "other", "1"), NOPERM_KEY)
    r = a.call("EXEC")
    h.check("EXEC aborts", isinstance(r, RespError) and r.msg.startswith("EXECABORT"), short(r))
    a.close()
    r = login("reader", "rpw")
    h.eq("reader GET app:1", r.call("GET", "app:1"), b"v1")
    h.eq("reader SET (category @write denied)", r.call("SET", "app:r", "x"), noperm_cmd("set"))
    h.eq("reader SADD", r.call("SADD", "app:s", "x"), noperm_cmd("sadd"))
    h.eq("reader INCR", r.call("INCR", "app:n"), noperm_cmd("incr"))
    r.close()
    st = info_stats()
    for k, n in (("acl_access_denied_key", 5), ("acl_access_denied_cmd", 7)):
        h.eq("INFO %s counts the refusals" % k, int(st[k]) - int(st0[k]), n)


def t_nothing_stored(h):
    with login("ops", "opw") as c:
        for k in ("app:noauth", "other", "app:2", "app:t", "app:r", "app:n"):
            h.eq("%s was never written" % k, c.call("EXISTS", k), 0)
        h.eq("SMEMBERS app:s holds alice's member only", sorted(c.call("SMEMBERS", "app:s")), [b"m"])
        h.eq("DBSIZE: alice's two keys only", c.call("DBSIZE"), S["dbsize"] + 2)


def t_brute_force(h):
    st0 = info_stats()
    before = int(st0["auth_delayed_replies"])
    n = 16
    c = Client(S["node"].port, timeout=30)
    replies = c.pipeline([("AUTH", "guess%d" % i) for i in range(n)])
    h.eq("%d wrong passwords pipelined: all WRONGPASS" % n, replies, [WRONGPASS] * n)
    mid = int(info_stats()["auth_delayed_replies"])
    # every answer after the first by the connection's own failures; the first too when
    # the node's level from the earlier tests is still high
    h.check("the server held back every answer after the first (its counter)", n - 1 <= mid - before <= n,
            "held %d of %d" % (mid - before, n))
    h.eq("INFO acl_access_denied_auth counts them", int(info_stats()["acl_access_denied_auth"]) -
         int(st0["acl_access_denied_auth"]), n)
    h.eq("the right password afterwards is accepted", c.call("AUTH", PW), "OK")
    after = int(info_stats()["auth_delayed_replies"])
    h.eq("... and was held back as well (the delay is chosen before the check)", after - mid, 1)
    h.eq("the connection works once logged in", c.call("GET", "app:1"), b"v1")
    c.close()
    # the node's level: a fresh connection's first login waits too, right or wrong
    d = Client(S["node"].port, timeout=30)
    h.eq("fresh connection, right password", d.call("AUTH", PW), "OK")
    last = int(info_stats()["auth_delayed_replies"])
    h.eq("... held back by the node's failure level", last - after, 1)
    d.close()
    st = info_stats()
    h.check("INFO auth_delay_ms_total grew by at least the delays asked", int(st["auth_delay_ms_total"]) >= 20 * (n - 1),
            short(st))


def t_acl_commands(h):
    with login() as c:
        h.eq("ACL WHOAMI (default)", c.call("ACL", "WHOAMI"), b"default")
        h.eq("ACL USERS, sorted", c.call("ACL", "USERS"), [b"alice", b"default", b"mallory", b"ops", b"reader"])
        lines = [x.decode() for x in c.call("ACL", "LIST")]
        alice = [x for x in lines if x.startswith("user alice ")]
        want = "user alice on #%s ~app:* resetchannels -@all +@read +@write +@transaction +@connection " \
               "+dyna.ring +acl|whoami -@admin" % hashlib.sha256(b"apw").hexdigest()
        h.eq("ACL LIST alice", alice, [want])
        h.check("ACL LIST shows no password in clear", not any("apw" in x or PW in x for x in lines), short(lines))
        h.check("ACL LIST mallory is off", any(x.startswith("user mallory off ") for x in lines), short(lines))
        cats = c.call("ACL", "CAT")
        h.check("ACL CAT lists admin, read, write", all(x in cats for x in (b"admin", b"read", b"write")), short(cats))
        adm = c.call("ACL", "CAT", "admin")
        h.check("ACL CAT admin covers DYNA.ADMIN and DYNA.LOCAL",
                b"dyna.local" in adm and b"dyna.admin|repair" in adm, short(adm))
        h.eq("ACL CAT nosuch", c.call("ACL", "CAT", "nosuch"), RespError("ERR Unknown category 'nosuch'"))


def t_config_set(h):
    with login("ops", "opw") as c:
        h.eq("CONFIG SET requirepass", c.call("CONFIG", "SET", "requirepass", "n3w pass"), "OK")
    with Client(S["node"].port) as c:
        h.eq("the old password is refused", c.call("AUTH", PW), WRONGPASS)
        h.eq("the new one (with a space) works", c.call("AUTH", "n3w pass"), "OK")
        h.eq("CONFIG SET requirepass back", c.call("CONFIG", "SET", "requirepass", PW), "OK")
        h.eq("this connection stays logged in", c.call("GET", "app:1"), b"v1")


def t_client_kill_user(h):
    a = login("alice", "apw")
    r = login("reader", "rpw")
    h.eq("CLIENT KILL USER nosuch", S["admin"].call("CLIENT", "KILL", "USER", "nosuch"),
         RespError("ERR No such user 'nosuch'"))
    h.eq("CLIENT KILL USER alice closes alice's connection only", S["admin"].call("CLIENT", "KILL", "USER", "alice"), 1)
    closed, _ = a.wait_closed(10.0)
    h.check("alice's connection is closed", closed)
    h.eq("reader's connection still answers", r.call("GET", "app:1"), b"v1")
    a.close()
    r.close()


def run(args, env=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, env=env)
    return p.returncode, p.stdout.decode(errors="replace")


def t_redis_cli(h):
    port = str(S["node"].port)
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", port, "--no-auth-warning"]
    h.eq("redis-cli -a SET", run(cli + ["-a", PW, "SET", "app:cli", "x"]), (0, "OK\n"))
    h.eq("redis-cli --user alice --pass GET", run(cli + ["--user", "alice", "--pass", "apw", "GET", "app:cli"]),
         (0, "x\n"))
    rc, out = run(cli + ["--user", "alice", "--pass", "apw", "GET", "other"])
    h.check("redis-cli --user alice GET other: NOPERM", "NOPERM" in out, out)
    rc, out = run(cli + ["-a", "wrong", "GET", "app:cli"])
    h.check("redis-cli -a wrong: AUTH failed, then NOAUTH", "WRONGPASS" in out and "NOAUTH" in out, out)
    rc, out = run(cli + ["-3", "--user", "alice", "--pass", "apw", "ACL", "WHOAMI"])
    h.eq("redis-cli -3 (HELLO 3 AUTH) ACL WHOAMI", (rc, out), (0, "alice\n"))


def t_redis_py(h):
    import redis
    port = S["node"].port
    r = redis.Redis(host="127.0.0.1", port=port, password=PW)
    h.eq("redis-py password=: set", r.set("app:py", "1"), True)
    r.close()
    r = redis.Redis(host="127.0.0.1", port=port, username="alice", password="apw")
    h.eq("redis-py username=alice: get", r.get("app:py"), b"1")
    try:
        r.set("other", "1")
        h.check("redis-py alice set other refused", False, "accepted")
    except redis.exceptions.NoPermissionError as e:
        h.check("redis-py alice set other: NoPermissionError", "no permissions" in str(e), str(e))
    r.close()
    r = redis.Redis(host="127.0.0.1", port=port, username="alice", password="bad")
    try:
        r.get("app:py")
        h.check("redis-py wrong password refused", False, "accepted")
    except redis.exceptions.ResponseError as e:  # redis-py 4.3 maps WRONGPASS to no class of its own
        h.check("redis-py wrong password: WRONGPASS", "WRONGPASS" in str(e), str(e))
    r.close()
    r = redis.Redis(host="127.0.0.1", port=port)
    try:
        r.get("app:py")
        h.check("redis-py without a password refused", False, "accepted")
    except redis.exceptions.AuthenticationError as e:
        h.check("redis-py without a password: AuthenticationError (NOAUTH)", "Authentication" in str(e), str(e))
    r.close()


def t_dyna_tools(h):
    port = str(S["node"].port)
    dyna = [os.path.join(bin_dir(), "dyna"), "-h", "127.0.0.1", "-p", port]
    env = dict(os.environ)
    env.pop("DYNA_PASSWORD", None)
    env.pop("DYNA_USER", None)
    rc, out = run(dyna + ["put", "app:d", "v"], env=env)
    h.check("dyna put without a password: exit 1, NOAUTH", rc == 1 and "NOAUTH" in out, out)
    rc, out = run(dyna + ["--pass", "wrong", "put", "app:d", "v"], env=env)
    h.check("dyna --pass wrong: exit 1, AUTH refused ... WRONGPASS", rc == 1 and "WRONGPASS" in out, out)
    rc, out = run(dyna + ["--user", "alice", "--pass", "apw", "put", "app:d", "v"], env=env)
    h.check("dyna --user alice --pass: put", rc == 0 and "context" in out, out)
    rc, out = run(dyna + ["--user", "alice", "--pass", "apw", "incr", "app:c", "5"], env=env)
    h.eq("dyna --user alice: incr (typed, routed by the ring)", (rc, out), (0, "5\n"))
    env2 = dict(env, DYNA_USER="alice", DYNA_PASSWORD="apw")
    rc, out = run(dyna + ["incr", "other", "1"], env=env2)
    h.check("dyna with DYNA_USER/DYNA_PASSWORD: incr other refused (NOPERM)", rc == 1 and "NOPERM" in out, out)
    rc, out = run(dyna + ["incr", "app:c", "1"], env=env2)
    h.eq("dyna with DYNA_USER/DYNA_PASSWORD: incr", (rc, out), (0, "6\n"))
    bench = [os.path.join(bin_dir(), "dyna-bench"), "--seeds", "127.0.0.1:" + port, "--ops", "300",
             "--connections", "2", "--keys", "50", "--key-prefix", "app:b:"]
    rc, out = run(bench + ["--user", "alice", "--pass", "apw"], env=env)
    h.check("dyna-bench --user alice --pass: 0 errors", rc == 0 and " 0 errors" in out, out[-400:])
    rc, out = run(bench, env=env)
    h.check("dyna-bench without a password: exit 1, NOAUTH", rc == 1 and "NOAUTH" in out, out[-400:])


def t_bad_user_line(h):
    rc, out = run([dynad_path(), "--name", "bad", "--data", h.path("bad"), "--listen", "127.0.0.1:1",
                   "--user", "eve on >pw +nosuch"])
    h.check("dynad --user 'eve on >pw +nosuch' exits 2 with the rule named",
            rc == 2 and "invalid user 'eve on >pw +nosuch': rule '+nosuch': unknown command" in out, out)
    rc, out = run([dynad_path(), "--name", "bad", "--data", h.path("bad"), "--listen", "127.0.0.1:1",
                   "--user", "eve on #abc"])
    h.check("dynad --user 'eve on #abc' exits 2 (a hash is 64 hex digits)", rc == 2 and "64 hexadecimal" in out, out)


if __name__ == "__main__":
    H.run([
        ("start a node with requirepass and users", start),
        ("not logged in: NOAUTH, WRONGPASS", t_not_logged_in),
        ("permissions: keys and categories", t_permissions),
        ("failed attempts changed nothing stored", t_nothing_stored),
        ("brute force is slowed by the delay", t_brute_force),
        ("ACL WHOAMI USERS LIST CAT", t_acl_commands),
        ("CONFIG SET requirepass", t_config_set),
        ("CLIENT KILL USER", t_client_kill_user),
        ("redis-cli -a / --user", t_redis_cli),
        ("redis-py password= / username=", t_redis_py),
        ("dyna and dyna-bench log in", t_dyna_tools),
        ("a bad user line stops dynad", t_bad_user_line),
    ])
