#!/usr/bin/python3
"""The command table seen from outside: COMMAND, COMMAND COUNT / INFO / DOCS / LIST /
GETKEYS in the shapes Redis 7 gives (exact bytes where Dyna's row matches Redis 7.0's),
Redis 7's words for unknown commands, unknown subcommands and wrong arity, every row's
arity enforced, and the clients that ask: python3-redis and redis-cli."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, RespError, encode_command, parse_reply, short,  # noqa: E402
                     start_node)
import dynalib  # noqa: E402

H = Harness("command")
STATE = {}

# The commands dynad knows, and the subcommands of its containers.
COMMANDS = {"get", "set", "del", "exists", "mget", "mset", "setnx", "getset", "msetnx", "append", "strlen",
            "getrange", "setrange", "getdel", "ping", "echo", "select", "hello", "reset", "quit",
            "client", "command", "config", "info", "time", "monitor", "dyna.get", "dyna.put", "dyna.del", "dyna.local",
            "dyna.status", "dyna.ring", "dyna.admin"}
# The typed commands (runtime/cmd_typed.c): in the table whether or not their family
# has its functions yet.
TYPED = set("""incr incrby decr decrby incrbyfloat sadd srem smembers sismember smismember scard spop srandmember sinter sinterstore sunion sunionstore sdiff sdiffstore smove hset hsetnx hget hmget hmset hdel hgetall hkeys hvals hlen hexists hincrby hincrbyfloat hstrlen hrandfield zadd zincrby zrem zscore zmscore zcard zcount zrank zrevrank zrange zrevrange zrangebyscore zrevrangebyscore zrangebylex zrevrangebylex zlexcount zremrangebyrank zremrangebyscore zremrangebylex zpopmin zpopmax zrandmember zrangestore lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim lpos lmove rpoplpush type expire pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist sintercard getex object dyna.hsiblings""".split())
COMMANDS |= {"setex", "psetex"}
COMMANDS |= {"cluster", "readonly", "readwrite"}
# The key space (runtime/cmd_keys.c).
COMMANDS |= {"scan", "keys", "randomkey", "dbsize", "flushall", "flushdb", "touch", "unlink", "rename",
             "renamenx", "copy"}
COMMANDS |= {"multi", "exec", "discard", "watch", "unwatch"}  # transactions (runtime/cmd_multi.c)
COMMANDS |= {"auth", "acl"}  # logins and users (runtime/cmd_auth.c)
COMMANDS |= TYPED
SUBCOMMANDS = {
    "client": {"client|getname", "client|help", "client|id", "client|info", "client|kill", "client|list",
               "client|no-evict", "client|no-touch", "client|setinfo", "client|setname"},
    "command": {"command|count", "command|docs", "command|getkeys", "command|getkeysandflags", "command|help",
                "command|info", "command|list"},
    "config": {"config|get", "config|help", "config|resetstat", "config|rewrite", "config|set"},
    "cluster": {"cluster|countkeysinslot", "cluster|getkeysinslot", "cluster|help", "cluster|info",
                "cluster|keyslot", "cluster|myid", "cluster|nodes", "cluster|shards", "cluster|slots"},
    "object": {"object|encoding", "object|help"},
    "acl": {"acl|cat", "acl|help", "acl|list", "acl|users", "acl|whoami"},
    "dyna.admin": {"dyna.admin|help", "dyna.admin|join", "dyna.admin|leave", "dyna.admin|remove",
                   "dyna.admin|repair"},
}
FLAGS = {"write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking", "loading", "stale",
         "skip_monitor", "skip_slowlog", "fast", "no_auth", "may_replicate", "no_multi", "movablekeys",
         "allow_busy"}

# What Redis 7.0.15 answers, byte for byte, for commands whose row Dyna keeps as Redis has it.
KEYSPEC = (b"*1\r\n*6\r\n$5\r\nflags\r\n%s$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n"
           b"$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
           b"$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n%s$7\r\nkeystep\r\n%s$5\r\nlimit\r\n:0\r\n")
REDIS7_INFO = {
    "get": b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
           b"*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n" + KEYSPEC % (b"*2\r\n+RO\r\n+access\r\n", b":0\r\n", b":1\r\n")
           + b"*0\r\n",
    "del": b"*1\r\n*10\r\n$3\r\ndel\r\n:-2\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:1\r\n*3\r\n+@keyspace\r\n+@write\r\n"
           b"+@slow\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n$23\r\nresponse_policy:agg_sum\r\n"
           + KEYSPEC % (b"*2\r\n+RM\r\n+delete\r\n", b":-1\r\n", b":1\r\n") + b"*0\r\n",
    "mset": b"*1\r\n*10\r\n$4\r\nmset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n*3\r\n+@write\r\n"
            b"+@string\r\n+@slow\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n$29\r\nresponse_policy:all_succeeded\r\n"
            + KEYSPEC % (b"*2\r\n+OW\r\n+update\r\n", b":-1\r\n", b":2\r\n") + b"*0\r\n",
    "exists": b"*1\r\n*10\r\n$6\r\nexists\r\n:-2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:-1\r\n:1\r\n*3\r\n"
              b"+@keyspace\r\n+@read\r\n+@fast\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n"
              b"$23\r\nresponse_policy:agg_sum\r\n" + KEYSPEC % (b"*1\r\n+RO\r\n", b":-1\r\n", b":1\r\n") + b"*0\r\n",
    "ping": b"*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n"
            b"*2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n",
    "echo": b"*1\r\n*10\r\n$4\r\necho\r\n:2\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n"
            b"+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n",
    "config|get": b"*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"
                  b":0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n",
    "nosuch": b"*1\r\n$-1\r\n",
}


def _string_info(name, arity, flags, keys, acl, tips, keyflags, lastkey, keystep):
    """Redis 7.0.15's COMMAND INFO bytes of a string command (one key spec, no subcommands)."""
    def arr(words, plus=True):
        return b"*%d\r\n" % len(words) + b"".join((b"+%s\r\n" if plus else b"$%d\r\n%s\r\n") %
                                                     ((w,) if plus else (len(w), w)) for w in words)
    return (b"*1\r\n*10\r\n$%d\r\n%s\r\n:%d\r\n" % (len(name), name, arity) + arr(flags)
            + b"".join(b":%d\r\n" % k for k in keys) + arr(acl) + arr(tips, plus=False)
            + KEYSPEC % (arr(keyflags), b":%d\r\n" % lastkey, b":%d\r\n" % keystep) + b"*0\r\n")


REDIS7_INFO.update({
    "setnx": _string_info(b"setnx", 3, [b"write", b"denyoom", b"fast"], (1, 1, 1), [b"@write", b"@string", b"@fast"],
                          [], [b"OW", b"insert"], 0, 1),
    "getset": _string_info(b"getset", 3, [b"write", b"denyoom", b"fast"], (1, 1, 1),
                           [b"@write", b"@string", b"@fast"], [], [b"RW", b"access", b"update"], 0, 1),
    "msetnx": _string_info(b"msetnx", -3, [b"write", b"denyoom"], (1, -1, 2), [b"@write", b"@string", b"@slow"],
                           [b"request_policy:multi_shard", b"response_policy:agg_min"], [b"OW", b"insert"], -1, 2),
    "append": _string_info(b"append", 3, [b"write", b"denyoom", b"fast"], (1, 1, 1),
                           [b"@write", b"@string", b"@fast"], [], [b"RW", b"insert"], 0, 1),
    "strlen": _string_info(b"strlen", 2, [b"readonly", b"fast"], (1, 1, 1), [b"@read", b"@string", b"@fast"], [],
                           [b"RO"], 0, 1),
    "getrange": _string_info(b"getrange", 4, [b"readonly"], (1, 1, 1), [b"@read", b"@string", b"@slow"], [],
                             [b"RO", b"access"], 0, 1),
    "setrange": _string_info(b"setrange", 4, [b"write", b"denyoom"], (1, 1, 1), [b"@write", b"@string", b"@slow"],
                             [], [b"RW", b"update"], 0, 1),
    "getdel": _string_info(b"getdel", 2, [b"write", b"fast"], (1, 1, 1), [b"@write", b"@string", b"@fast"], [],
                           [b"RW", b"access", b"delete"], 0, 1),
})

# Redis 7.0's COMMAND INFO of the cluster commands Dyna serves (recorded from redis-server 7.0.15).
REDIS7_INFO.update({
    'readonly': b'*1\r\n*10\r\n$8\r\nreadonly\r\n:1\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n',
    'readwrite': b'*1\r\n*10\r\n$9\r\nreadwrite\r\n:1\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n',
    'cluster|slots': b'*1\r\n*10\r\n$13\r\ncluster|slots\r\n:2\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n',
    'cluster|shards': b'*1\r\n*10\r\n$14\r\ncluster|shards\r\n:2\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n',
    'cluster|nodes': b'*1\r\n*10\r\n$13\r\ncluster|nodes\r\n:2\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n',
    'cluster|info': b'*1\r\n*10\r\n$12\r\ncluster|info\r\n:2\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n',
    'cluster|keyslot': b'*1\r\n*10\r\n$15\r\ncluster|keyslot\r\n:3\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n',
    'cluster|myid': b'*1\r\n*10\r\n$12\r\ncluster|myid\r\n:2\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n',
    'cluster|help': b'*1\r\n*10\r\n$12\r\ncluster|help\r\n:2\r\n*2\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n',
    'cluster|countkeysinslot': b'*1\r\n*10\r\n$23\r\ncluster|countkeysinslot\r\n:3\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n',
    'cluster|getkeysinslot': b'*1\r\n*10\r\n$21\r\ncluster|getkeysinslot\r\n:4\r\n*1\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n',
})


def node():
    return STATE["node"]


def raw(*args):
    """Sends one command on a fresh connection; returns the exact bytes of its reply."""
    s = socket.create_connection(("127.0.0.1", node().port), timeout=10)
    try:
        s.sendall(encode_command(*args))
        buf = b""
        while True:
            try:
                _, end = parse_reply(buf, 0)
                return buf[:end]
            except dynalib._NeedMore:
                data = s.recv(65536)
                if not data:
                    return buf
                buf += data
    finally:
        s.close()


# Every row of issue 16 (and SET, GETDEL, OBJECT's subcommands): Redis 7.0.15's COMMAND
# INFO (arity, flags, first key, last key, step, ACL categories, tips), recorded once from
# redis-server 7.0.15 of Debian 12. Key specs are not compared: Dyna gives one per row
# (docs/compatibility.md).
REDIS7_ROWS = {
    'scan': (-2, ('readonly',), 0, 0, 0, ('@keyspace', '@read', '@slow'), ('nondeterministic_output', 'request_policy:special')),
    'keys': (2, ('readonly',), 0, 0, 0, ('@keyspace', '@read', '@slow', '@dangerous'), ('request_policy:all_shards', 'nondeterministic_output_order')),
    'randomkey': (1, ('readonly',), 0, 0, 0, ('@keyspace', '@read', '@slow'), ('request_policy:all_shards', 'nondeterministic_output')),
    'dbsize': (1, ('readonly', 'fast'), 0, 0, 0, ('@keyspace', '@read', '@fast'), ('request_policy:all_shards', 'response_policy:agg_sum')),
    'flushall': (-1, ('write',), 0, 0, 0, ('@keyspace', '@write', '@slow', '@dangerous'), ('request_policy:all_shards', 'response_policy:all_succeeded')),
    'flushdb': (-1, ('write',), 0, 0, 0, ('@keyspace', '@write', '@slow', '@dangerous'), ('request_policy:all_shards', 'response_policy:all_succeeded')),
    'touch': (-2, ('readonly', 'fast'), 1, -1, 1, ('@keyspace', '@read', '@fast'), ('request_policy:multi_shard', 'response_policy:agg_sum')),
    'unlink': (-2, ('write', 'fast'), 1, -1, 1, ('@keyspace', '@write', '@fast'), ('request_policy:multi_shard', 'response_policy:agg_sum')),
    'rename': (3, ('write',), 1, 2, 1, ('@keyspace', '@write', '@slow'), ()),
    'renamenx': (3, ('write', 'fast'), 1, 2, 1, ('@keyspace', '@write', '@fast'), ()),
    'copy': (-3, ('write', 'denyoom'), 1, 2, 1, ('@keyspace', '@write', '@slow'), ()),
    'decr': (2, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'decrby': (3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'expire': (-3, ('write', 'fast'), 1, 1, 1, ('@keyspace', '@write', '@fast'), ()),
    'expireat': (-3, ('write', 'fast'), 1, 1, 1, ('@keyspace', '@write', '@fast'), ()),
    'expiretime': (2, ('readonly', 'fast'), 1, 1, 1, ('@keyspace', '@read', '@fast'), ()),
    'getdel': (2, ('write', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'getex': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'hdel': (-3, ('write', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hexists': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@hash', '@fast'), ()),
    'hget': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@hash', '@fast'), ()),
    'hgetall': (2, ('readonly',), 1, 1, 1, ('@read', '@hash', '@slow'), ('nondeterministic_output_order',)),
    'hincrby': (4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hincrbyfloat': (4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hkeys': (2, ('readonly',), 1, 1, 1, ('@read', '@hash', '@slow'), ('nondeterministic_output_order',)),
    'hlen': (2, ('readonly', 'fast'), 1, 1, 1, ('@read', '@hash', '@fast'), ()),
    'hmget': (-3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@hash', '@fast'), ()),
    'hmset': (-4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hrandfield': (-2, ('readonly',), 1, 1, 1, ('@read', '@hash', '@slow'), ('nondeterministic_output',)),
    'hset': (-4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hsetnx': (4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@hash', '@fast'), ()),
    'hstrlen': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@hash', '@fast'), ()),
    'hvals': (2, ('readonly',), 1, 1, 1, ('@read', '@hash', '@slow'), ('nondeterministic_output_order',)),
    'incr': (2, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'incrby': (3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'incrbyfloat': (3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@string', '@fast'), ()),
    'lindex': (3, ('readonly',), 1, 1, 1, ('@read', '@list', '@slow'), ()),
    'linsert': (5, ('write', 'denyoom'), 1, 1, 1, ('@write', '@list', '@slow'), ()),
    'llen': (2, ('readonly', 'fast'), 1, 1, 1, ('@read', '@list', '@fast'), ()),
    'lmove': (5, ('write', 'denyoom'), 1, 2, 1, ('@write', '@list', '@slow'), ()),
    'lpop': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'lpos': (-3, ('readonly',), 1, 1, 1, ('@read', '@list', '@slow'), ()),
    'lpush': (-3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'lpushx': (-3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'lrange': (4, ('readonly',), 1, 1, 1, ('@read', '@list', '@slow'), ()),
    'lrem': (4, ('write',), 1, 1, 1, ('@write', '@list', '@slow'), ()),
    'lset': (4, ('write', 'denyoom'), 1, 1, 1, ('@write', '@list', '@slow'), ()),
    'ltrim': (4, ('write',), 1, 1, 1, ('@write', '@list', '@slow'), ()),
    'object|encoding': (3, ('readonly',), 2, 2, 1, ('@keyspace', '@read', '@slow'), ('nondeterministic_output',)),
    'object|help': (2, ('loading', 'stale'), 0, 0, 0, ('@keyspace', '@slow'), ()),
    'persist': (2, ('write', 'fast'), 1, 1, 1, ('@keyspace', '@write', '@fast'), ()),
    'pexpire': (-3, ('write', 'fast'), 1, 1, 1, ('@keyspace', '@write', '@fast'), ()),
    'pexpireat': (-3, ('write', 'fast'), 1, 1, 1, ('@keyspace', '@write', '@fast'), ()),
    'pexpiretime': (2, ('readonly', 'fast'), 1, 1, 1, ('@keyspace', '@read', '@fast'), ()),
    'psetex': (4, ('write', 'denyoom'), 1, 1, 1, ('@write', '@string', '@slow'), ()),
    'pttl': (2, ('readonly', 'fast'), 1, 1, 1, ('@keyspace', '@read', '@fast'), ('nondeterministic_output',)),
    'rpop': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'rpoplpush': (3, ('write', 'denyoom'), 1, 2, 1, ('@write', '@list', '@slow'), ()),
    'rpush': (-3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'rpushx': (-3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@list', '@fast'), ()),
    'sadd': (-3, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@set', '@fast'), ()),
    'scard': (2, ('readonly', 'fast'), 1, 1, 1, ('@read', '@set', '@fast'), ()),
    'sdiff': (-2, ('readonly',), 1, -1, 1, ('@read', '@set', '@slow'), ('nondeterministic_output_order',)),
    'sdiffstore': (-3, ('write', 'denyoom'), 1, -1, 1, ('@write', '@set', '@slow'), ()),
    'set': (-3, ('write', 'denyoom'), 1, 1, 1, ('@write', '@string', '@slow'), ()),
    'setex': (4, ('write', 'denyoom'), 1, 1, 1, ('@write', '@string', '@slow'), ()),
    'sinter': (-2, ('readonly',), 1, -1, 1, ('@read', '@set', '@slow'), ('nondeterministic_output_order',)),
    'sintercard': (-3, ('readonly', 'movablekeys'), 0, 0, 0, ('@read', '@set', '@slow'), ()),
    'sinterstore': (-3, ('write', 'denyoom'), 1, -1, 1, ('@write', '@set', '@slow'), ()),
    'sismember': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@set', '@fast'), ()),
    'smembers': (2, ('readonly',), 1, 1, 1, ('@read', '@set', '@slow'), ('nondeterministic_output_order',)),
    'smismember': (-3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@set', '@fast'), ()),
    'smove': (4, ('write', 'fast'), 1, 2, 1, ('@write', '@set', '@fast'), ()),
    'spop': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@set', '@fast'), ('nondeterministic_output',)),
    'srandmember': (-2, ('readonly',), 1, 1, 1, ('@read', '@set', '@slow'), ('nondeterministic_output',)),
    'srem': (-3, ('write', 'fast'), 1, 1, 1, ('@write', '@set', '@fast'), ()),
    'sunion': (-2, ('readonly',), 1, -1, 1, ('@read', '@set', '@slow'), ('nondeterministic_output_order',)),
    'sunionstore': (-3, ('write', 'denyoom'), 1, -1, 1, ('@write', '@set', '@slow'), ()),
    'ttl': (2, ('readonly', 'fast'), 1, 1, 1, ('@keyspace', '@read', '@fast'), ('nondeterministic_output',)),
    'type': (2, ('readonly', 'fast'), 1, 1, 1, ('@keyspace', '@read', '@fast'), ()),
    'zadd': (-4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@sortedset', '@fast'), ()),
    'zcard': (2, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zcount': (4, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zincrby': (4, ('write', 'denyoom', 'fast'), 1, 1, 1, ('@write', '@sortedset', '@fast'), ()),
    'zlexcount': (4, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zmscore': (-3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zpopmax': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@sortedset', '@fast'), ()),
    'zpopmin': (-2, ('write', 'fast'), 1, 1, 1, ('@write', '@sortedset', '@fast'), ()),
    'zrandmember': (-2, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ('nondeterministic_output',)),
    'zrange': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrangebylex': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrangebyscore': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrangestore': (-5, ('write', 'denyoom'), 1, 2, 1, ('@write', '@sortedset', '@slow'), ()),
    'zrank': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zrem': (-3, ('write', 'fast'), 1, 1, 1, ('@write', '@sortedset', '@fast'), ()),
    'zremrangebylex': (4, ('write',), 1, 1, 1, ('@write', '@sortedset', '@slow'), ()),
    'zremrangebyrank': (4, ('write',), 1, 1, 1, ('@write', '@sortedset', '@slow'), ()),
    'zremrangebyscore': (4, ('write',), 1, 1, 1, ('@write', '@sortedset', '@slow'), ()),
    'zrevrange': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrevrangebylex': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrevrangebyscore': (-4, ('readonly',), 1, 1, 1, ('@read', '@sortedset', '@slow'), ()),
    'zrevrank': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
    'zscore': (3, ('readonly', 'fast'), 1, 1, 1, ('@read', '@sortedset', '@fast'), ()),
}


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def t_start(h):
    STATE["node"] = start_node("c1", h.path("c1"))
    h.check("dynad started on port %d" % node().port, True)


def t_info_bytes(h):
    for name, want in REDIS7_INFO.items():
        h.eq("COMMAND INFO %s: Redis 7's exact bytes" % name, raw("COMMAND", "INFO", name), want)
    h.eq("COMMAND INFO GET (any case) = COMMAND INFO get", raw("COMMAND", "INFO", "GET"), REDIS7_INFO["get"])


def check_entry(h, e, parent=None):
    """One COMMAND INFO entry: [name, arity, flags, first, last, step, acl, tips, key specs, subs]."""
    ok = (isinstance(e, list) and len(e) == 10 and isinstance(e[0], bytes) and e[0] == e[0].lower()
          and isinstance(e[1], int) and e[1] != 0 and isinstance(e[2], list)
          and all(isinstance(f, str) and f in FLAGS for f in e[2])
          and all(isinstance(x, int) for x in e[3:6])
          and isinstance(e[6], list) and all(isinstance(c, str) and c.startswith("@") for c in e[6])
          and isinstance(e[7], list) and isinstance(e[8], list) and isinstance(e[9], list))
    if not ok:
        return h.check("COMMAND entry shape", False, short(e))
    name = s(e[0])
    if parent:
        ok = name.startswith(parent + "|") and not e[9]
    if e[3] and len(e[8]) == 1 and e[8][0][0] == b"flags":  # one range key spec: agrees with first/last/step
        spec = e[8][0]
        ok = ok and spec[2] == b"begin_search" \
            and spec[3][3] == [b"index", e[3]] and spec[5][3][1] == (e[4] if e[4] < 0 else e[4] - e[3]) \
            and spec[5][3][3] == e[5]
    elif e[3]:  # several specs (or notes), as Redis 7.0 has them: test_server_cmds compares them
        ok = ok and len(e[8]) >= 1 and all(b"begin_search" in sp and b"find_keys" in sp for sp in e[8])
    else:
        ok = ok and e[4] == 0 and e[5] == 0 and (e[8] == [] or b"movablekeys" in [f.encode() for f in e[2]])
    return ok


def t_issue16_rows(h):
    with node().client() as c:
        for name, want in sorted(REDIS7_ROWS.items()):
            e = c.call("COMMAND", "INFO", name)[0]
            got = e and (e[1], tuple(e[2]), e[3], e[4], e[5], tuple(e[6]), tuple(s(x) for x in e[7]))
            h.eq("COMMAND INFO %s: arity, flags, keys, ACL categories, tips as Redis 7.0" % name, got, want)


def t_command(h):
    with node().client() as c:
        all_ = c.call("COMMAND")
        h.expect("COMMAND -> an array", isinstance(all_, list), short(all_))
        names = {s(e[0]) for e in all_}
        h.eq("COMMAND lists exactly the table's commands", names, COMMANDS)
        h.eq("COMMAND COUNT = the number of entries of COMMAND", c.call("COMMAND", "COUNT"), len(all_))
        bad = [short(e) for e in all_ if not check_entry(h, e)]
        h.check("every entry: [name, arity, flags, first, last, step, @acl, tips, key specs, subs]",
                not bad, short(bad))
        subs = {s(e[0]): {s(x[0]) for x in e[9]} for e in all_ if e[9]}
        h.eq("containers and their subcommands", subs, SUBCOMMANDS)
        bad = [s(x[0]) for e in all_ for x in e[9] if not check_entry(h, x, s(e[0]))]
        h.check("every subcommand entry well formed, named parent|sub", not bad, short(bad))
        h.eq("COMMAND INFO (no names) = COMMAND", c.call("COMMAND", "INFO"), all_)
        r = c.call("COMMAND", "INFO", "get", "nosuch", "config|get", "dyna.put")
        h.check("COMMAND INFO get nosuch config|get dyna.put -> [entry, nil, entry, entry]",
                len(r) == 4 and r[1] is None and r[0][0] == b"get" and r[2][0] == b"config|get"
                and r[3][:6] == [b"dyna.put", -4, ["write", "denyoom"], 1, 1, 1], short(r))
        lst = c.call("COMMAND", "LIST")
        h.eq("COMMAND LIST: every command and subcommand",
             set(s(x) for x in lst), COMMANDS | set().union(*SUBCOMMANDS.values()))
        h.eq("COMMAND LIST FILTERBY PATTERN dyna.a*",
             sorted(s(x) for x in c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "dyna.a*")),
             sorted({"dyna.admin"} | SUBCOMMANDS["dyna.admin"]))
        h.eq("COMMAND LIST FILTERBY ACLCAT string",
             sorted(s(x) for x in c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string")),
             ["append", "decr", "decrby", "get", "getdel", "getex", "getrange", "getset", "incr", "incrby",
              "incrbyfloat", "mget", "mset", "msetnx", "psetex", "set", "setex", "setnx", "setrange", "strlen"])
        h.eq("COMMAND LIST FILTERBY MODULE x -> []", c.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), [])
        h.eq("COMMAND GETKEYS mset a 1 b 2", c.call("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"), [b"a", b"b"])
        h.eq("COMMAND GETKEYS del x y z", c.call("COMMAND", "GETKEYS", "del", "x", "y", "z"), [b"x", b"y", b"z"])
        h.eq("COMMAND GETKEYS dyna.put k ctx v", c.call("COMMAND", "GETKEYS", "dyna.put", "k", "", "v"), [b"k"])
        h.eq("COMMAND GETKEYS nosuch x", c.call("COMMAND", "GETKEYS", "nosuch", "x"),
             RespError("ERR Invalid command specified"))
        h.eq("COMMAND GETKEYS get a b", c.call("COMMAND", "GETKEYS", "get", "a", "b"),
             RespError("ERR Invalid number of arguments specified for command"))
        h.eq("COMMAND GETKEYS echo x", c.call("COMMAND", "GETKEYS", "echo", "x"),
             RespError("ERR The command has no key arguments"))
        r = c.call("COMMAND", "HELP")
        h.check("COMMAND HELP -> lines naming each subcommand",
                isinstance(r, list) and r[0].startswith("COMMAND <subcommand>") and "GETKEYS" in r, short(r))


def t_docs(h):
    with node().client() as c:
        r = c.call("COMMAND", "DOCS", "get")
        h.check("COMMAND DOCS get -> [get, [summary, s, since, 1.0.0, group, string, complexity, O(1)]]",
                len(r) == 2 and r[0] == b"get" and len(r[1]) == 8 and r[1][0::2] ==
                [b"summary", b"since", b"group", b"complexity"] and r[1][3] == b"1.0.0"
                and r[1][5] == b"string" and r[1][7] == b"O(1)" and r[1][1], short(r))
        h.eq("COMMAND DOCS nosuch -> []", c.call("COMMAND", "DOCS", "nosuch"), [])
        r = c.call("COMMAND", "DOCS", "nosuch", "DYNA.GET")
        h.check("COMMAND DOCS nosuch DYNA.GET -> only dyna.get, group dyna",
                len(r) == 2 and r[0] == b"dyna.get" and dict(zip(r[1][0::2], r[1][1::2]))[b"group"] == b"dyna",
                short(r))
        r = c.call("COMMAND", "DOCS", "config")
        d = dict(zip(r[1][0::2], r[1][1::2])) if len(r) == 2 else {}
        sub = d.get(b"subcommands", [])
        h.check("COMMAND DOCS config -> a subcommands map with config|get, help, resetstat, rewrite, set",
                sub[0::2] == [b"config|get", b"config|help", b"config|resetstat", b"config|rewrite", b"config|set"]
                and all(x[0::2][:3] == [b"summary", b"since", b"group"] for x in sub[1::2]), short(r))
        all_ = c.call("COMMAND", "DOCS")
        h.eq("COMMAND DOCS (no names): one doc per command", set(s(x) for x in all_[0::2]), COMMANDS)
        bad = [s(n) for n, d in zip(all_[0::2], all_[1::2])
               if d[0:6:2] != [b"summary", b"since", b"group"] or not d[1] or not d[3] or not d[5]]
        h.check("every doc has a summary, since and group", not bad, short(bad))


def t_errors(h):
    with node().client() as c:
        h.eq("unknown command, no args (Redis 7's words)", c.call("FOO"),
             RespError("ERR unknown command 'FOO', with args beginning with: "))
        h.eq("unknown command with args", c.call("foo", "bar", "baz"),
             RespError("ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "))
        r = c.call("foo", "x" * 200, "y")
        h.eq("unknown command: args cut at 128 bytes", r,
             RespError("ERR unknown command 'foo', with args beginning with: '%s' " % ("x" * 128)))
        h.eq("a known name followed by a NUL byte is unknown", c.call(b"get\x00xx", "k"),
             RespError("ERR unknown command 'get?xx', with args beginning with: 'k' "))
        h.eq("a name longer than any command", c.call("getgetgetgetgetgetgetgetgetgetgetget"),
             RespError("ERR unknown command 'getgetgetgetgetgetgetgetgetgetgetget', with args beginning with: "))
        h.eq("GET with no key", c.call("GET"), RespError("ERR wrong number of arguments for 'get' command"))
        h.eq("CONFIG alone", c.call("CONFIG"), RespError("ERR wrong number of arguments for 'config' command"))
        h.eq("COMMAND COUNT x", c.call("COMMAND", "COUNT", "x"),
             RespError("ERR wrong number of arguments for 'command|count' command"))
        h.eq("MSET a (odd)", c.call("MSET", "a", "1", "b"),
             RespError("ERR wrong number of arguments for 'mset' command"))
        h.eq("COMMAND FOO", c.call("COMMAND", "FOO"), RespError("ERR unknown subcommand 'FOO'. Try COMMAND HELP."))
        h.eq("CONFIG SET of an unknown option", c.call("CONFIG", "SET", "a", "b"),
             RespError("ERR Unknown option or number of arguments for CONFIG SET - 'a'"))
        h.eq("DYNA.ADMIN NOPE", c.call("DYNA.ADMIN", "NOPE"),
             RespError("ERR unknown subcommand 'NOPE'. Try DYNA.ADMIN HELP."))
        h.eq("DYNA.GET k R (no number): syntax error", c.call("DYNA.GET", "k", "R"), RespError("ERR syntax error"))
        h.eq("connection fine after errors", c.call("PING"), "PONG")


def t_every_arity(h):
    """Each row's arity, read back from COMMAND, is what the server enforces."""
    with node().client() as c:
        entries = c.call("COMMAND")
        rows = [(None, e) for e in entries] + [(s(e[0]), x) for e in entries for x in e[9]]
        checked, bad = 0, []
        for parent, e in rows:
            name, arity = s(e[0]), e[1]
            words = [parent.upper(), name.split("|")[1].upper()] if parent else [name.upper()]
            if arity > 0:
                argv = words + ["x"] * (arity - len(words) + 1)  # one too many
            elif -arity - 1 >= len(words):
                argv = words + ["x"] * (-arity - 1 - len(words))  # one too few
            else:
                continue  # -1 (any), or a container name that must be followed by a subcommand
            r = c.call(*argv)
            checked += 1
            if r != RespError("ERR wrong number of arguments for '%s' command" % name):
                bad.append("%s -> %s" % (" ".join(argv), short(r)))
        h.check("%d rows: one argument too many or too few -> the arity error naming the row" % checked,
                not bad and checked >= 25, short(bad))


def t_python_redis(h):
    try:
        import redis
    except ImportError:
        h.note("SKIP python3-redis checks: apt-get install python3-redis")
        return
    r = redis.Redis(port=node().port)
    cmds = r.command()
    h.check("redis-py command(): a dict by name with arity, flags and key positions",
            set(cmds) == COMMANDS and cmds["get"]["arity"] == 2 and cmds["get"]["flags"] == ["readonly", "fast"]
            and (cmds["mset"]["first_key_pos"], cmds["mset"]["last_key_pos"], cmds["mset"]["step_count"]) == (1, -1, 2),
            short(cmds.get("get")))
    h.eq("redis-py command_count()", r.command_count(), len(COMMANDS))
    h.eq("redis-py command_list(category='admin')", sorted(s(x) for x in r.command_list(category="admin")),
         ["acl|list", "acl|users", "client|kill", "client|list", "client|no-evict", "config|get",
          "config|resetstat", "config|rewrite", "config|set", "dyna.admin|join", "dyna.admin|leave",
          "dyna.admin|remove", "dyna.admin|repair", "dyna.local", "monitor"])
    h.eq("redis-py command_getkeys('mset', ...)", r.command_getkeys("mset", "a", "1", "b", "2"), ["a", "b"])
    info = r.execute_command("COMMAND INFO", "get", "set")
    h.check("redis-py COMMAND INFO get set", [x[:6] for x in info] ==
            [[b"get", 2, [b"readonly", b"fast"], 1, 1, 1], [b"set", -3, [b"write", b"denyoom"], 1, 1, 1]], short(info))
    docs = r.execute_command("COMMAND DOCS", "set")
    h.check("redis-py COMMAND DOCS set", docs[0] == b"set" and docs[1][4:6] == [b"group", b"string"], short(docs))
    got = r.config_get("max*")
    h.eq("redis-py config_get('max*'): Redis's maxclients and our max-value-bytes among them",
         {k: got.get(k) for k in ("maxclients", "max-value-bytes")},
         {"maxclients": "10000", "max-value-bytes": "1048576"})
    h.check("redis-py config_get('max*'): every name matches the pattern",
            all(k.startswith("max") for k in got), repr(sorted(got)))
    h.eq("redis-py client_setname / client_getname", (r.client_setname("app"), r.client_getname()), (True, "app"))
    r.close()


def t_redis_cli(h):
    cli = "/usr/bin/redis-cli"
    if not os.path.exists(cli):
        h.note("SKIP redis-cli checks: %s is absent (apt-get install redis-tools)" % cli)
        return

    def run(*args):
        p = subprocess.run([cli, "-p", str(node().port)] + list(args), capture_output=True, timeout=20)
        return p.returncode, p.stdout.decode("utf-8", "replace").strip().splitlines()
    rc, out = run("COMMAND", "DOCS", "get")
    h.check("redis-cli COMMAND DOCS get", rc == 0 and out[0] == "get" and out[1:7:2] == ["summary", "since", "group"]
            and out[4] == "1.0.0" and out[6] == "string", short(out))
    rc, out = run("COMMAND", "COUNT")
    h.eq("redis-cli COMMAND COUNT", (rc, out), (0, [str(len(COMMANDS))]))
    rc, out = run("COMMAND", "INFO", "get")
    h.eq("redis-cli COMMAND INFO get (first lines)", (rc, out[:9]),
         (0, ["get", "2", "readonly", "fast", "1", "1", "1", "@read", "@string"]))


if __name__ == "__main__":
    H.run([
        ("start", t_start),
        ("COMMAND INFO: Redis 7's bytes", t_info_bytes),
        ("COMMAND, COUNT, INFO, LIST, GETKEYS", t_command),
        ("COMMAND INFO of issue 16's rows: Redis 7.0's", t_issue16_rows),
        ("COMMAND DOCS", t_docs),
        ("error words", t_errors),
        ("every row's arity", t_every_arity),
        ("python3-redis", t_python_redis),
        ("redis-cli", t_redis_cli),
    ])
