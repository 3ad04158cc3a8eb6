#!/usr/bin/python3
"""Server commands clients and tools call, against one dynad, through python3-redis and raw
sockets: CLIENT (names, INFO, LIST, KILL and its filters, NO-EVICT, NO-TOUCH, SETINFO),
INFO by section with the fields redis-py, redis-cli and redis_exporter read, CONFIG SET
taking effect (and refused as Redis words it), CONFIG RESETSTAT / REWRITE, TIME, ECHO,
SELECT, MONITOR, QUIT; COMMAND INFO and COMMAND GETKEYS of every served command against
Redis 7.0.15's answers (redis7_command.json, made once from a real redis-server 7.0 with
COMMAND, so no redis-server is needed here); and a value over --max-value-bytes answered
-TOOBIG with the connection still usable."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, ConnectionClosed, Harness, RespError, encode_command, short,  # noqa: E402
                     start_node)

import redis  # noqa: E402  (Debian's python3-redis)

H = Harness("server_cmds")
STATE = {}
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redis7_command.json")
# Served names Redis 7.0 does not have: Dyna's own, and Redis 7.2's CLIENT SETINFO / NO-TOUCH.
NOT_IN_REDIS70 = {"client|setinfo", "client|no-touch"}


def node():
    return STATE["node"]


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def t_start(h):
    STATE["node"] = start_node("s1", h.path("s1"))
    h.check("dynad started on port %d" % node().port, True)


# ---------------------------------------------------------------------------- TOOBIG

def t_toobig(h):
    r = redis.Redis(port=node().port)
    cid = r.client_id()
    try:
        r.set("big", b"x" * (2 << 20))
        err = None
    except redis.ResponseError as e:
        err = str(e)
    except redis.ConnectionError as e:
        err = "connection error: %s" % e
    h.check("redis-py SET of 2 MiB -> ResponseError TOOBIG", err and err.startswith("TOOBIG value is 2097152 bytes"),
            repr(err))
    h.eq("... the same connection then answers PING", (r.ping(), r.client_id()), (True, cid))
    h.eq("... and nothing was stored", r.get("big"), None)
    try:
        r.mset({"m1": "1", "m2": b"y" * (3 << 20)})
        err = None
    except redis.ResponseError as e:
        err = str(e)
    h.check("MSET with a 3 MiB value -> TOOBIG", err and err.startswith("TOOBIG"), repr(err))
    h.eq("... neither key written, connection kept", (r.mget("m1", "m2"), r.client_id()), ([None, None], cid))
    # Pipelined: the replies keep their order around the dropped command.
    c = Client(node().port)
    try:
        c.send_raw(encode_command("SET", "p1", "a") + encode_command("SET", "p2", b"z" * (5 << 20)) +
                   encode_command("GET", "p1") + encode_command("PING"))
        got = c.read_replies(4, deadline=time.monotonic() + 30)
        h.check("pipelined SET, 5 MiB SET, GET, PING -> OK, TOOBIG, a, PONG",
                got[0] == "OK" and isinstance(got[1], RespError) and got[1].startswith("TOOBIG")
                and got[2:] == [b"a", "PONG"], short(got))
    finally:
        c.close()
    # Over Redis's 512 MiB bulk limit the stream is still ended, as Redis does.
    c = Client(node().port)
    try:
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999999\r\n")
        got = c.read_reply(deadline=time.monotonic() + 10)
        h.check("a declared bulk over 512 MiB -> an error", isinstance(got, RespError), short(got))
        h.check("... and the connection closed", c.wait_closed(10)[0])
    finally:
        c.close()


# ---------------------------------------------------------------------------- CLIENT

CLIENT_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi",
                 "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem",
                 "events", "cmd", "user", "redir", "resp", "lib-name", "lib-ver"]


def parse_line(line):
    return [tuple(kv.split("=", 1)) for kv in line.split(" ")]


def t_client(h):
    with node().client() as c, node().client() as other:
        my_id = c.call("CLIENT", "ID")
        other_id = other.call("CLIENT", "ID")
        h.check("CLIENT ID -> distinct integers", isinstance(my_id, int) and my_id != other_id, short(my_id))
        h.eq("CLIENT GETNAME before a name -> nil", c.call("CLIENT", "GETNAME"), None)
        h.eq("CLIENT SETNAME with a space", c.call("CLIENT", "SETNAME", "a b"),
             RespError("ERR Client names cannot contain spaces, newlines or special characters."))
        h.eq("CLIENT SETNAME with a newline", c.call("CLIENT", "SETNAME", "a\nb"),
             RespError("ERR Client names cannot contain spaces, newlines or special characters."))
        h.eq("CLIENT SETNAME web", c.call("CLIENT", "SETNAME", "web"), "OK")
        h.eq("CLIENT GETNAME -> web", c.call("CLIENT", "GETNAME"), b"web")
        h.eq("CLIENT SETINFO LIB-NAME", c.call("CLIENT", "SETINFO", "LIB-NAME", "mylib"), "OK")
        h.eq("CLIENT SETINFO LIB-VER", c.call("CLIENT", "SETINFO", "lib-ver", "1.2"), "OK")
        h.eq("CLIENT SETINFO bad option", c.call("CLIENT", "SETINFO", "colour", "x"),
             RespError("ERR Unrecognized option 'colour'"))
        info = s(c.call("CLIENT", "INFO"))
        h.check("CLIENT INFO: one line ending in a newline", info.endswith("\n") and info.count("\n") == 1, info)
        fields = parse_line(info.strip())
        h.eq("CLIENT INFO: Redis's fields in Redis's order", [k for k, _ in fields], CLIENT_FIELDS)
        d = dict(fields)
        h.eq("CLIENT INFO: id, name, cmd, lib-name, lib-ver, db, user, resp",
             (d["id"], d["name"], d["cmd"], d["lib-name"], d["lib-ver"], d["db"], d["user"], d["resp"]),
             (str(my_id), "web", "client|info", "mylib", "1.2", "0", "default", "2"))
        h.eq("CLIENT INFO: laddr is the node's port", d["laddr"].rsplit(":", 1)[1], str(node().port))
        h.eq("CLIENT INFO: addr is this socket's", d["addr"], "%s:%d" % c.sock.getsockname()[:2])
        lines = s(c.call("CLIENT", "LIST")).strip().split("\n")
        ids = {dict(parse_line(x))["id"]: dict(parse_line(x)) for x in lines}
        h.check("CLIENT LIST: both connections, with their names", str(my_id) in ids and str(other_id) in ids and
                ids[str(my_id)]["name"] == "web" and ids[str(other_id)]["name"] == "", short(lines))
        h.eq("CLIENT LIST ID <other>", [dict(parse_line(x))["id"] for x in
                                        s(c.call("CLIENT", "LIST", "ID", other_id)).strip().split("\n")], [str(other_id)])
        normal = {dict(parse_line(x))["id"] for x in s(c.call("CLIENT", "LIST", "TYPE", "normal")).strip().split("\n")}
        h.check("CLIENT LIST TYPE normal lists them", {str(my_id), str(other_id)} <= normal, short(normal))
        h.eq("CLIENT LIST TYPE master -> empty", c.call("CLIENT", "LIST", "TYPE", "master"), b"")
        h.eq("CLIENT LIST TYPE foo", c.call("CLIENT", "LIST", "TYPE", "foo"), RespError("ERR Unknown client type 'foo'"))
        h.eq("CLIENT LIST ID x", c.call("CLIENT", "LIST", "ID", "x"), RespError("ERR Invalid client ID"))
        h.eq("CLIENT LIST foo", c.call("CLIENT", "LIST", "foo"), RespError("ERR syntax error"))
        h.eq("CLIENT NO-EVICT on", c.call("CLIENT", "NO-EVICT", "on"), "OK")
        h.eq("CLIENT NO-TOUCH off", c.call("CLIENT", "NO-TOUCH", "off"), "OK")
        h.eq("CLIENT NO-EVICT maybe", c.call("CLIENT", "NO-EVICT", "maybe"), RespError("ERR syntax error"))
        h.eq("CLIENT KILL ID x", c.call("CLIENT", "KILL", "ID", "x"),
             RespError("ERR client-id should be greater than 0"))
        h.eq("CLIENT KILL 1.2.3.4:5 (old form, nobody)", c.call("CLIENT", "KILL", "1.2.3.4:5"),
             RespError("ERR No such client"))
        h.eq("CLIENT KILL USER nobody", c.call("CLIENT", "KILL", "USER", "nobody"), RespError("ERR No such user 'nobody'"))
        h.eq("CLIENT KILL FOO 1", c.call("CLIENT", "KILL", "FOO", "1"), RespError("ERR syntax error"))
        h.eq("CLIENT KILL ID 999999 -> 0", c.call("CLIENT", "KILL", "ID", 999999), 0)
        h.eq("CLIENT KILL ID <other> -> 1", c.call("CLIENT", "KILL", "ID", other_id), 1)
        h.check("... the other connection is closed", other.wait_closed(10)[0])
        h.eq("CLIENT KILL ID <me> (SKIPME yes by default) -> 0", c.call("CLIENT", "KILL", "ID", my_id), 0)
        h.eq("... and I am still here", c.call("PING"), "PONG")
    # The old form and the address filters.
    with node().client() as c, node().client() as a, node().client() as b:
        a_addr = "%s:%d" % a.sock.getsockname()[:2]
        h.eq("CLIENT KILL <ip:port> (old form) -> OK", c.call("CLIENT", "KILL", a_addr), "OK")
        h.check("... that connection is closed", a.wait_closed(10)[0])
        b_addr = "%s:%d" % b.sock.getsockname()[:2]
        h.eq("CLIENT KILL ADDR <b> -> 1", c.call("CLIENT", "KILL", "ADDR", b_addr), 1)
        h.check("... closed", b.wait_closed(10)[0])
    with node().client() as c, node().client() as d:
        laddr = "127.0.0.1:%d" % node().port
        h.eq("CLIENT KILL LADDR <node> SKIPME yes -> the others", c.call("CLIENT", "KILL", "LADDR", laddr, "SKIPME", "yes")
             >= 1, True)
        h.check("... the other one closed", d.wait_closed(10)[0])
        h.eq("CLIENT KILL ID <me> SKIPME no -> 1", c.call("CLIENT", "KILL", "ID", c.call("CLIENT", "ID"), "SKIPME", "no"), 1)
        h.check("... after its answer, my connection closes", c.wait_closed(10)[0])
    r = redis.Redis(port=node().port)
    r.client_setname("py")
    mine = [x for x in r.client_list() if x.get("name") == "py"]
    h.check("redis-py client_list() parses the lines (name, id, addr)", len(mine) == 1 and mine[0]["id"].isdigit()
            and ":" in mine[0]["addr"], short(mine))
    h.eq("redis-py client_info()['name']", r.client_info().get("name"), "py")


# ---------------------------------------------------------------------------- INFO

DEFAULT_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                    "Errorstats", "Cluster", "Keyspace", "Dyna"]


def sections(text):
    return [line[2:] for line in s(text).split("\r\n") if line.startswith("# ")]


def fields(text):
    out = {}
    for line in s(text).split("\r\n"):
        if line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def t_info(h):
    r = redis.Redis(port=node().port)
    info = r.info()
    h.check("redis-py info(): parsed, redis_version 7.0.x, redis_mode, tcp_port, role, cluster_enabled",
            str(info.get("redis_version", "")).startswith("7.0.") and info.get("redis_mode") == "cluster"
            and info.get("tcp_port") == node().port and info.get("role") == "master"
            and info.get("cluster_enabled") == 1 and info.get("connected_clients", 0) >= 1, short(info))
    want = ["redis_version", "dyna_version", "redis_mode", "os", "arch_bits", "process_id", "run_id", "tcp_port",
            "uptime_in_seconds", "uptime_in_days", "connected_clients", "blocked_clients", "maxclients", "used_memory",
            "used_memory_human", "used_memory_rss", "used_memory_peak", "maxmemory", "maxmemory_policy", "loading",
            "rdb_last_save_time", "aof_enabled", "total_connections_received", "total_commands_processed",
            "instantaneous_ops_per_sec", "total_net_input_bytes", "rejected_connections", "expired_keys",
            "evicted_keys", "keyspace_hits", "keyspace_misses", "total_error_replies", "role", "connected_slaves",
            "used_cpu_sys", "used_cpu_user", "cluster_enabled", "commits", "members", "ring_size", "node_name"]
    h.eq("INFO: the fields clients and redis_exporter read", [k for k in want if k not in info], [])
    h.check("run_id: 40 hex digits", len(info["run_id"]) == 40 and all(ch in "0123456789abcdef" for ch in info["run_id"]),
            info["run_id"])
    with node().client() as c:
        h.eq("INFO: the default sections in Redis's order, then Dyna's", sections(c.call("INFO")), DEFAULT_SECTIONS)
        h.eq("INFO default = INFO", sections(c.call("INFO", "default")), DEFAULT_SECTIONS)
        h.eq("INFO server", sections(c.call("INFO", "server")), ["Server"])
        h.eq("INFO CLIENTS memory (any case, several)", sections(c.call("INFO", "CLIENTS", "memory")),
             ["Clients", "Memory"])
        h.eq("INFO all: the default ones and commandstats", sections(c.call("INFO", "all")),
             DEFAULT_SECTIONS[:8] + ["Commandstats"] + DEFAULT_SECTIONS[8:])
        h.eq("INFO everything", sections(c.call("INFO", "everything")),
             DEFAULT_SECTIONS[:8] + ["Commandstats"] + DEFAULT_SECTIONS[8:])
        h.eq("INFO nosuch -> empty", c.call("INFO", "nosuch"), b"")
        h.eq("INFO dyna: Dyna's counters", "ring_version" in fields(c.call("INFO", "dyna")), True)
        h.eq("CONFIG RESETSTAT", c.call("CONFIG", "RESETSTAT"), "OK")
        st = fields(c.call("INFO", "stats"))
        h.check("after RESETSTAT: total_commands_processed restarts (a few)",
                int(st["total_commands_processed"]) <= 2, st["total_commands_processed"])
        c.call("SET", "hit", "1")
        c.call("GET", "hit")
        c.call("GET", "hit")
        c.call("GET", "miss")
        c.call("MGET", "hit", "miss", "miss2")
        c.call("GET")               # arity: rejected
        c.call("NOSUCHCOMMAND")     # unknown: an ERR, no row
        c.call("SELECT", "x")       # answered with an error: failed
        st = fields(c.call("INFO", "stats"))
        h.eq("keyspace_hits / keyspace_misses count GET and MGET keys", (st["keyspace_hits"], st["keyspace_misses"]),
             ("3", "3"))
        cs = fields(c.call("INFO", "commandstats"))
        get = dict(kv.split("=") for kv in cs.get("cmdstat_get", "").split(","))
        h.check("cmdstat_get: calls=3 rejected_calls=1 (not among the calls, as Redis) failed_calls=0, usec",
                get.get("calls") == "3" and get.get("rejected_calls") == "1" and get.get("failed_calls") == "0"
                and "usec" in get and "usec_per_call" in get, short(cs.get("cmdstat_get")))
        sel = dict(kv.split("=") for kv in cs.get("cmdstat_select", "").split(","))
        h.check("cmdstat_select: failed_calls=1", sel.get("failed_calls") == "1", short(cs.get("cmdstat_select")))
        h.check("cmdstat_info: a subcommand-less row counted", "cmdstat_info" in cs, short(list(cs)))
        c.call("CLIENT", "ID")
        cs = fields(c.call("INFO", "commandstats"))
        h.check("cmdstat_client|id: subcommands counted by their own row", "cmdstat_client|id" in cs, short(list(cs)))
        es = fields(c.call("INFO", "errorstats"))
        h.eq("errorstat_ERR counts the errors answered (arity, unknown, SELECT x)", es.get("errorstat_ERR"), "count=3")
        st = fields(c.call("INFO", "stats"))
        h.eq("total_error_replies", st["total_error_replies"], "3")
    cs = r.info("commandstats")
    h.check("redis-py info('commandstats') parses cmdstat_get", isinstance(cs.get("cmdstat_get"), dict)
            and cs["cmdstat_get"].get("calls", 0) >= 3, short(cs.get("cmdstat_get")))


# ---------------------------------------------------------------------------- CONFIG

def t_config(h):
    r = redis.Redis(port=node().port)
    with node().client() as c:
        names = [s(x) for x in c.call("CONFIG", "GET", "*")[0::2]]
        out = os.popen("%s --help" % node().args[0]).read()
        opts = sorted({w[2:] for line in out.splitlines() for w in line.split()[:1]
                       if w.startswith("--") and w not in ("--help,", "--config", "--version")})
        h.eq("CONFIG GET * lists every option of dynad --help", sorted(n for n in opts if n not in names), [])
        h.eq("CONFIG SET request-timeout-ms 1234", c.call("CONFIG", "SET", "request-timeout-ms", "1234"), "OK")
        h.eq("... CONFIG GET shows it", c.call("CONFIG", "GET", "request-timeout-ms"), [b"request-timeout-ms", b"1234"])
        h.eq("CONFIG SET R 1 W 1 (names in any case, two at once)", c.call("CONFIG", "SET", "R", "1", "W", "1"), "OK")
        d = fields(c.call("INFO", "dyna"))
        h.eq("... the node runs with them (INFO dyna r, w)", (d["r"], d["w"]), ("1", "1"))
        h.eq("CONFIG SET r 2 w 2 back", c.call("CONFIG", "SET", "r", "2", "w", "2"), "OK")
        h.eq("CONFIG SET r 9 (over n)", c.call("CONFIG", "SET", "r", "9"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'r') - r and w must not exceed n (3)"))
        h.eq("CONFIG SET n 2: fixed at start", c.call("CONFIG", "SET", "n", "2"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'n') - can't set immutable config"))
        h.eq("CONFIG SET foo 1", c.call("CONFIG", "SET", "foo", "1"),
             RespError("ERR Unknown option or number of arguments for CONFIG SET - 'foo'"))
        h.eq("CONFIG SET max-clients 7 max-clients 8", c.call("CONFIG", "SET", "max-clients", "7", "max-clients", "8"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'max-clients') - duplicate parameter"))
        h.eq("CONFIG SET maxclients x", c.call("CONFIG", "SET", "maxclients", "x"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                       "invalid value 'x' for max-clients"))
        h.eq("CONFIG SET maxclients 7 n 2: all or nothing", c.call("CONFIG", "SET", "maxclients", "7", "n", "2"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'n') - can't set immutable config"))
        h.eq("... maxclients unchanged", c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"10000"])
        h.eq("CONFIG SET a (odd)", c.call("CONFIG", "SET", "a"),
             RespError("ERR wrong number of arguments for 'config|set' command"))
        # Effects: the value limit, the client limit.
        h.eq("CONFIG SET max-value-bytes 100", c.call("CONFIG", "SET", "max-value-bytes", "100"), "OK")
        got = c.call("SET", "v", b"x" * 101)
        h.check("... a 101-byte SET -> TOOBIG", isinstance(got, RespError) and got.startswith("TOOBIG"), short(got))
        h.eq("... a 100-byte SET -> OK", c.call("SET", "v", b"x" * 100), "OK")
        got = c.call("SET", "v", b"x" * 200000)
        h.check("... a 200000-byte SET (over the parser's bound now) -> TOOBIG, connection kept",
                isinstance(got, RespError) and got.startswith("TOOBIG") and c.call("PING") == "PONG", short(got))
        h.eq("CONFIG SET max-value-bytes back", c.call("CONFIG", "SET", "max-value-bytes", "1048576"), "OK")
        n_now = int(fields(c.call("INFO", "clients"))["connected_clients"])
        h.eq("CONFIG SET maxclients <open + 1>", c.call("CONFIG", "SET", "maxclients", n_now + 1), "OK")
        extra = Client(node().port)
        h.eq("... one more client is served", extra.call("PING"), "PONG")
        over = Client(node().port)
        try:
            got = over.read_reply(deadline=time.monotonic() + 10)
        except ConnectionClosed:
            got = None
        h.eq("... the next one is refused", got, RespError("ERR max number of clients reached"))
        extra.close()
        over.close()
        h.eq("CONFIG SET maxclients back", c.call("CONFIG", "SET", "maxclients", "10000"), "OK")
        h.eq("CONFIG SET log-level warn", c.call("CONFIG", "SET", "log-level", "warn"), "OK")
        h.eq("CONFIG SET log-level loud", c.call("CONFIG", "SET", "log-level", "loud"),
             RespError("ERR CONFIG SET failed (possibly related to argument 'log-level') - invalid log-level 'loud'"))
        h.eq("CONFIG REWRITE without a config file", c.call("CONFIG", "REWRITE"),
             RespError("ERR The server is running without a config file"))
    h.eq("redis-py config_set('stall-timeout-ms', 20000)", r.config_set("stall-timeout-ms", 20000), True)
    h.eq("redis-py config_get('stall-timeout-ms')", r.config_get("stall-timeout-ms"), {"stall-timeout-ms": "20000"})
    h.eq("redis-py config_resetstat()", r.config_resetstat(), True)


# ---------------------------------------------------------------------------- small ones

def t_misc(h):
    r = redis.Redis(port=node().port)
    with node().client() as c:
        t = c.call("TIME")
        h.check("TIME -> [seconds, microseconds] of the wall clock (within a minute of ours)",
                isinstance(t, list) and len(t) == 2 and abs(int(t[0]) - time.time()) < 60
                and 0 <= int(t[1]) < 1000000, short(t))
        h.eq("TIME x", c.call("TIME", "x"), RespError("ERR wrong number of arguments for 'time' command"))
        h.eq("ECHO", c.call("ECHO", b"a\x00b"), b"a\x00b")
        h.eq("SELECT 0", c.call("SELECT", 0), "OK")
        h.eq("SELECT x", c.call("SELECT", "x"), RespError("ERR value is not an integer or out of range"))
        got = c.call("SELECT", 1)
        h.check("SELECT 1 -> ERR DB index is out of range", isinstance(got, RespError)
                and got.startswith("ERR DB index is out of range"), short(got))
        got = c.call("MONITOR")
        h.check("MONITOR -> a clear error", isinstance(got, RespError) and "MONITOR is not supported" in str(got), short(got))
        h.eq("... the connection goes on", c.call("PING"), "PONG")
        h.eq("QUIT -> OK", c.call("QUIT"), "OK")
        h.check("... then closed", c.wait_closed(10)[0])
    h.check("redis-py time()", isinstance(r.time(), tuple) and abs(r.time()[0] - time.time()) < 60)


# ---------------------------------------------------------------------------- COMMAND vs Redis 7.0

def spec_keys(specs, args):
    """The keys Redis 7.0's key specs find in the command line args (args[0] the name)."""
    out = []
    for sp in specs:
        d = dict(zip(sp[0::2], sp[1::2]))
        begin = d["begin_search"][3][1]
        fk = d["find_keys"]
        spec = dict(zip(fk[3][0::2], fk[3][1::2]))
        if begin >= len(args):
            continue
        if fk[1] == "range":
            last = spec["lastkey"]
            last = len(args) + last if last < 0 else begin + last
            out += [args[i] for i in range(begin, min(last, len(args) - 1) + 1, spec["keystep"])]
        else:
            n = int(args[begin + spec["keynumidx"]])
            first = begin + spec["firstkey"]
            out += [args[first + i * spec["keystep"]] for i in range(n)]
    return out


def sample_line(name, arity, specs):
    """A command line of the right arity with distinct arguments; a keynum argument says 2."""
    n = arity if arity > 0 else -arity + 2
    args = [name] + ["a%d" % i for i in range(1, n)]
    for sp in specs:
        d = dict(zip(sp[0::2], sp[1::2]))
        if d["find_keys"][1] == "keynum":
            spec = dict(zip(d["find_keys"][3][0::2], d["find_keys"][3][1::2]))
            args[d["begin_search"][3][1] + spec["keynumidx"]] = "2"
    return args


def t_command_fixture(h):
    with open(FIXTURE) as f:
        redis70 = {e[0]: e for e in json.load(f)}
    for e in list(redis70.values()):
        for sub in e[9]:
            redis70[sub[0]] = sub
    with node().client() as c:
        entries = c.call("COMMAND")
    served = {}
    for e in entries:
        served[s(e[0])] = e
        for sub in e[9]:
            served[s(sub[0])] = sub
    missing = sorted(n for n in served if n not in redis70 and not n.startswith("dyna.") and n not in NOT_IN_REDIS70)
    h.eq("every served command is in Redis 7.0's COMMAND (or is Dyna's own)", missing, [])
    compared = 0
    with node().client() as c:
        for name in sorted(served):
            if name not in redis70:
                continue
            d, r = served[name], redis70[name]
            got = (d[1], sorted(s(x) for x in d[2]), d[3], d[4], d[5], sorted(s(x) for x in d[6]), sorted(s(x) for x in d[7]),
                   json.loads(json.dumps(d[8], default=s)))
            want = (r[1], sorted(r[2]), r[3], r[4], r[5], sorted(r[6]), sorted(r[7]), r[8])
            if got != want:
                h.check("COMMAND INFO %s as Redis 7.0 (arity, flags, keys, ACL, tips, key specs)" % name, False,
                        "got %s, want %s" % (short(got), short(want)))
            compared += 1
            if not r[8] or "|" in name:
                continue
            line = sample_line(name, r[1], r[8])
            keys = c.call("COMMAND", "GETKEYS", *line)
            want_keys = spec_keys(r[8], line)
            if [s(k) for k in keys] != want_keys if isinstance(keys, list) else True:
                h.check("COMMAND GETKEYS %s as Redis 7.0's key specs find them" % " ".join(line), False,
                        "got %s, want %s" % (short(keys), want_keys))
    h.check("compared %d served commands with Redis 7.0's COMMAND INFO and GETKEYS: all equal" % compared,
            compared > 100 and not any("as Redis 7.0" in f for f in h.failures), "")
    with node().client() as c:
        h.eq("COMMAND GETKEYS SMOVE src dst m", c.call("COMMAND", "GETKEYS", "SMOVE", "src", "dst", "m"),
             [b"src", b"dst"])
        h.eq("COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1",
             c.call("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1"), [b"a", b"b"])
        h.eq("COMMAND GETKEYS SINTERCARD 5 a b", c.call("COMMAND", "GETKEYS", "SINTERCARD", "5", "a", "b"),
             RespError("ERR Invalid arguments specified for command"))
        h.eq("COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT",
             c.call("COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "RIGHT"),
             [[b"a", ["RW", "access", "delete"]], [b"b", ["RW", "insert"]]])


if __name__ == "__main__":
    H.run([
        ("start", t_start),
        ("TOOBIG keeps the connection", t_toobig),
        ("CLIENT", t_client),
        ("INFO", t_info),
        ("CONFIG", t_config),
        ("TIME ECHO SELECT MONITOR QUIT", t_misc),
        ("COMMAND INFO and GETKEYS against Redis 7.0", t_command_fixture),
    ])
