// families.js: every command family Dyna serves, driven through ioredis, one async
// function per family: fn(t, ctx) with t a harness.Harness and ctx:
//   w      the client that writes
//   rd     the client that reads (another node of the cluster for the plain client: a
//          quorum read sees an acknowledged write; the same Cluster client for the cluster
//          test)
//   all    a client per node (the plain test) or [the Cluster client]: reads through each
//   members  how many nodes the cluster has
//   k(s)   the key name for s (a per-run prefix, so that two runs never share keys)
//   cluster  true for the Cluster client: keys a multi-key command or a pipeline names
//          share a {hash tag}, as Redis Cluster asks
//   newClient(opts)  another plain client (on the reading node) with extra options
//   one    a client of a single node (the plain writer; a node connection of the Cluster
//          client): CONFIG SET and CLIENT SETNAME are that node's own
//   scan   the client that lists keys (SCAN, KEYS, DBSIZE, FLUSHALL): any node answers for
//          the whole cluster
//   flush  the cluster runs with --enable-flush-command: the key-space family (run last)
//          ends with FLUSHALL
// The expected replies are what a single Redis 7.0 answers, in ioredis's shapes (numbers
// for integers, strings for bulk strings and doubles, null for nil, objects for HGETALL).
// test_ioredis.js (plain client) and test_ioredis_cluster.js (Cluster client) run FAMILIES;
// a family added here runs in both.
'use strict';
const { waitUntil } = require('./harness');

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const sorted = (a) => [...a].sort();

// ---- strings: SET (EX, PX, NX, XX, GET, KEEPTTL), GET, MSET/MGET, SETNX, GETSET, MSETNX,
// APPEND, STRLEN, GETRANGE, SETRANGE, GETDEL, DEL, EXISTS; binary-safe values.
async function strings(t, { w, rd, all, k }) {
  t.eq('set', await w.set(k('s1'), 'v1'), 'OK');
  t.eq('get through every node', await Promise.all(all.map((c) => c.get(k('s1')))), all.map(() => 'v1'));
  t.eq('set nx on a present key', await w.set(k('s1'), 'v2', 'NX'), null);
  t.eq('set ex nx on an absent key', await w.set(k('s2'), 'a', 'EX', 100, 'NX'), 'OK');
  t.check('... with its ttl', (await rd.ttl(k('s2'))) > 90);
  t.eq('set xx on an absent key', await w.set(k('absent'), 'v', 'XX'), null);
  t.eq('get of an absent key', await rd.get(k('absent')), null);
  t.eq('set get', await w.set(k('s1'), 'v3', 'GET'), 'v1');
  t.eq('get after set get', await rd.get(k('s1')), 'v3');
  const tag = '{str}';
  t.eq('mset', await w.mset(k(tag + 'm1'), '1', k(tag + 'm2'), '2', k(tag + 'm3'), '3'), 'OK');
  t.eq('mget', await rd.mget(k(tag + 'm1'), k(tag + 'm2'), k(tag + 'nope'), k(tag + 'm3')), ['1', '2', null, '3']);
  t.eq('mset with an object', await w.mset({ [k(tag + 'o1')]: 'x', [k(tag + 'o2')]: 'y' }), 'OK');
  t.eq('... read back', await rd.mget(k(tag + 'o1'), k(tag + 'o2')), ['x', 'y']);
  t.eq('msetnx with one present', await w.msetnx(k(tag + 'm1'), 'a', k(tag + 'm9'), 'b'), 0);
  t.eq('msetnx of absent keys', await w.msetnx(k(tag + 'm8'), 'a', k(tag + 'm9'), 'b'), 1);
  t.eq('setnx', [await w.setnx(k('n1'), 'a'), await w.setnx(k('n1'), 'b')], [1, 0]);
  t.eq('getset', [await w.getset(k('g1'), 'a'), await w.getset(k('g1'), 'b'), await rd.get(k('g1'))], [null, 'a', 'b']);
  t.eq('append', [await w.append(k('a1'), 'hello'), await w.append(k('a1'), ' world')], [5, 11]);
  t.eq('strlen', await rd.strlen(k('a1')), 11);
  t.eq('getrange', await rd.getrange(k('a1'), 0, 4), 'hello');
  t.eq('getrange negative', await rd.getrange(k('a1'), -5, -1), 'world');
  t.eq('setrange', await w.setrange(k('a1'), 6, 'WORLD'), 11);
  t.eq('... read back', await rd.get(k('a1')), 'hello WORLD');
  t.eq('setrange past the end pads with NUL', [await w.setrange(k('pad'), 3, 'x'), await rd.getBuffer(k('pad'))],
       [4, Buffer.from([0, 0, 0, 0x78])]);
  t.eq('getdel', [await w.getdel(k('g1')), await rd.exists(k('g1'))], ['b', 0]);
  t.eq('exists counts each key named', await rd.exists(k(tag + 'm1'), k(tag + 'm2'), k(tag + 'm1'), k(tag + 'nope')), 3);
  t.eq('del', await w.del(k(tag + 'm1'), k(tag + 'm2'), k(tag + 'nope')), 2);
  t.eq('... gone', await rd.mget(k(tag + 'm1'), k(tag + 'm2')), [null, null]);
  const bin = Buffer.from([0x00, 0x01, 0xff, 0x0d, 0x0a, 0x00, 0x80, 0x7f]);
  t.eq('binary-safe value (NUL, CR LF, 0xff)', [await w.set(k('bin'), bin), await rd.getBuffer(k('bin'))], ['OK', bin]);
  const binKey = Buffer.concat([Buffer.from(k('')), Buffer.from([0x00, 0xfe, 0x0a])]);
  t.eq('binary-safe key', [await w.set(binKey, 'v'), await rd.get(binKey)], ['OK', 'v']);
  const big = 'x'.repeat(200000);
  t.eq('a 200 KB value', [await w.set(k('big'), big), (await rd.get(k('big'))).length], ['OK', 200000]);
  t.eq('empty value', [await w.set(k('empty'), ''), await rd.get(k('empty')), await rd.strlen(k('empty'))], ['OK', '', 0]);
  await w.set(k('ttl'), 'v', 'EX', 100);
  t.eq('append keeps the expiry', [await w.append(k('ttl'), 'x'), (await rd.ttl(k('ttl'))) > 90], [2, true]);
  t.eq('setrange keeps the expiry', [await w.setrange(k('ttl'), 0, 'Z'), (await rd.ttl(k('ttl'))) > 90, await rd.get(k('ttl'))],
       [2, true, 'Zx']);
  t.eq('getset drops it', [await w.getset(k('ttl'), 'n'), await rd.ttl(k('ttl'))], ['Zx', -1]);
  await w.set(k('exp'), 'old', 'PX', 200);
  await waitUntil(async () => (await rd.exists(k('exp'))) === 0, 30000, 'a 200 ms key to expire');
  t.eq('an expired key is absent to strlen getrange setnx', [await rd.strlen(k('exp')), await rd.getrange(k('exp'), 0, -1),
       await w.setnx(k('exp'), 'new')], [0, '', 1]);
  await w.set(k('exp2'), 'old', 'PX', 200);
  await waitUntil(async () => (await rd.exists(k('exp2'))) === 0, 30000, 'a 200 ms key to expire');
  t.eq('append to an expired key starts a new value with no expiry', [await w.append(k('exp2'), 'x'), await rd.get(k('exp2')),
       await rd.ttl(k('exp2'))], [1, 'x', -1]);
}

// ---- counters: INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT, their errors.
async function counters(t, { w, rd, all, k }) {
  t.eq('incr of an absent key', await w.incr(k('views')), 1);
  t.eq('incrby', await w.incrby(k('views'), 41), 42);
  t.eq('decr', await w.decr(k('views')), 41);
  t.eq('decrby', await w.decrby(k('views'), 11), 30);
  t.eq('get of a counter through every node', await Promise.all(all.map((c) => c.get(k('views')))), all.map(() => '30'));
  t.eq('incrbyfloat', await w.incrbyfloat(k('views'), '0.5'), '30.5');
  t.eq('... read back', await rd.get(k('views')), '30.5');
  t.eq('incr of a written number', [await w.set(k('n'), '10'), await w.incr(k('n'))], ['OK', 11]);
  t.eq('type of a counter', await rd.type(k('views')), 'string');
  t.eq('incr past the top', [await w.set(k('big'), '9223372036854775807'), await t.error(w.incr(k('big')))],
       ['OK', 'ERR increment or decrement would overflow']);
  t.eq('incr of a non-number', [await w.set(k('word'), 'abc'), await t.error(w.incr(k('word')))],
       ['OK', 'ERR value is not an integer or out of range']);
  t.eq('incrby with a non-number', await t.error(w.incrby(k('views2'), 'x')), 'ERR value is not an integer or out of range');
  t.eq('incrbyfloat of a non-number', await t.error(w.incrbyfloat(k('word'), '1')), 'ERR value is not a valid float');
  await w.incrby(k('c2'), 25);
  t.eq('a counter read by the string commands', [await rd.strlen(k('c2')), await rd.getrange(k('c2'), 0, 0),
       await w.set(k('c2'), 'x', 'NX')], [2, '2', null]);
  t.eq('append to a counter', [await w.append(k('c2'), '7'), await rd.get(k('c2')), await w.incr(k('c2'))], [3, '257', 258]);
  t.eq('getset and getdel of a counter', [await w.incr(k('c3')), await w.getset(k('c3'), '9'), await w.incr(k('c3')),
       await w.getdel(k('c3')), await rd.exists(k('c3'))], [1, '1', 10, '10', 0]);
  t.eq('100 increments in flight at once add up',
       [(await Promise.all(Array.from({ length: 100 }, () => w.incr(k('many'))))).length, await rd.get(k('many'))],
       [100, '100']);
}

// ---- sets, the multi-key ones included.
async function sets(t, { w, rd, k }) {
  const c = k('{set}cart'), o = k('{set}other'), d = k('{set}dst'), m = k('{set}moved');
  t.eq('sadd', await w.sadd(c, 'apple', 'pear', 'fig'), 3);
  t.eq('sadd again', await w.sadd(c, 'apple', 'kiwi'), 1);
  t.eq('smembers', sorted(await rd.smembers(c)), ['apple', 'fig', 'kiwi', 'pear']);
  t.eq('sismember', [await rd.sismember(c, 'fig'), await rd.sismember(c, 'plum')], [1, 0]);
  t.eq('smismember', await rd.smismember(c, 'fig', 'plum'), [1, 0]);
  t.eq('scard', await rd.scard(c), 4);
  t.eq('srem', await w.srem(c, 'kiwi', 'plum'), 1);
  const popped = await w.spop(c);
  t.check('spop took a member', ['apple', 'pear', 'fig'].includes(popped), String(popped));
  t.eq('spop removed it', await rd.sismember(c, popped), 0);
  await w.sadd(c, popped);
  t.check('srandmember', ['apple', 'pear', 'fig'].includes(await rd.srandmember(c)));
  t.eq('srandmember -5 repeats', (await rd.srandmember(c, -5)).length, 5);
  t.eq('srandmember 10 gives each once', sorted(await rd.srandmember(c, 10)), ['apple', 'fig', 'pear']);
  await w.sadd(o, 'pear', 'fig', 'plum');
  t.eq('sinter', sorted(await rd.sinter(c, o)), ['fig', 'pear']);
  t.eq('sunion', sorted(await rd.sunion(c, o)), ['apple', 'fig', 'pear', 'plum']);
  t.eq('sdiff', await rd.sdiff(c, o), ['apple']);
  t.eq('sintercard', await rd.sintercard(2, c, o), 2);
  t.eq('sintercard limit', await rd.sintercard(2, c, o, 'LIMIT', 1), 1);
  t.eq('sinterstore', [await w.sinterstore(d, c, o), sorted(await rd.smembers(d))], [2, ['fig', 'pear']]);
  t.eq('sunionstore', await w.sunionstore(d, c, o), 4);
  t.eq('sdiffstore', [await w.sdiffstore(d, c, o), await rd.smembers(d)], [1, ['apple']]);
  t.eq('smove', [await w.smove(c, m, 'apple'), await rd.sismember(c, 'apple'), await rd.smembers(m)], [1, 0, ['apple']]);
  t.eq('smove of an absent member', await w.smove(c, m, 'nope'), 0);
  t.eq('spop with a count empties the set', sorted(await w.spop(o, 5)), ['fig', 'pear', 'plum']);
  t.eq('... and the key is gone', [await rd.exists(o), await rd.type(o)], [0, 'none']);
  t.eq('type', await rd.type(c), 'set');
}

// ---- hashes.
async function hashes(t, { w, rd, k }) {
  const u = k('user');
  t.eq('hset with an object', await w.hset(u, { name: 'ann', age: '30' }), 2);
  t.eq('hget', await rd.hget(u, 'name'), 'ann');
  t.eq('hmget', await rd.hmget(u, 'name', 'nope'), ['ann', null]);
  t.eq('hgetall', await rd.hgetall(u), { name: 'ann', age: '30' });
  t.eq('hgetall of an absent key', await rd.hgetall(k('nohash')), {});
  t.eq('hkeys hvals hlen', [sorted(await rd.hkeys(u)), sorted(await rd.hvals(u)), await rd.hlen(u)],
       [['age', 'name'], ['30', 'ann'], 2]);
  t.eq('hexists', [await rd.hexists(u, 'age'), await rd.hexists(u, 'x')], [1, 0]);
  t.eq('hincrby', [await w.hincrby(u, 'visits', 5), await w.hincrby(u, 'visits', -2)], [5, 3]);
  t.eq('hincrbyfloat', await w.hincrbyfloat(u, 'score', '1.5'), '1.5');
  t.eq('hstrlen', await rd.hstrlen(u, 'name'), 3);
  t.eq('hsetnx', [await w.hsetnx(u, 'name', 'bob'), await w.hsetnx(u, 'nick', 'a')], [0, 1]);
  t.eq('hmset', await w.hmset(u, 'city', 'oslo', 'zip', '0150'), 'OK');
  t.eq('hdel', await w.hdel(u, 'nick', 'zip', 'nope'), 2);
  t.check('hrandfield', ['name', 'age', 'visits', 'score', 'city'].includes(await rd.hrandfield(u)));
  t.eq('hrandfield with a count', sorted(await rd.hrandfield(u, 10)), ['age', 'city', 'name', 'score', 'visits']);
  t.eq('hincrby of a non-number', await t.error(w.hincrby(u, 'name', 1)), 'ERR hash value is not an integer');
  t.eq('type', await rd.type(u), 'hash');
}

// ---- sorted sets (not ZRANGESTORE: not served yet, docs/compatibility.md).
async function zsets(t, { w, rd, k }) {
  const z = k('{z}rank'), lex = k('{z}lex');
  t.eq('zadd', await w.zadd(z, 1, 'a', 2, 'b', 3, 'c'), 3);
  t.eq('zadd nx', await w.zadd(z, 'NX', 10, 'a', 4, 'd'), 1);
  t.eq('zadd xx ch', await w.zadd(z, 'XX', 'CH', 5, 'a', 9, 'e'), 1);
  t.eq('zadd gt ch (lower: kept)', await w.zadd(z, 'GT', 'CH', 2, 'a'), 0);
  t.eq('zadd lt ch', await w.zadd(z, 'LT', 'CH', 0.5, 'a'), 1);
  t.eq('zadd incr', await w.zadd(z, 'INCR', 3, 'b'), '5');
  t.eq('zincrby', await w.zincrby(z, 1, 'c'), '4');
  t.eq('zscore zmscore', [await rd.zscore(z, 'b'), await rd.zmscore(z, 'a', 'x')], ['5', ['0.5', null]]);
  t.eq('zcard zcount', [await rd.zcard(z), await rd.zcount(z, 1, 4)], [4, 2]);
  t.eq('zrank zrevrank', [await rd.zrank(z, 'a'), await rd.zrevrank(z, 'a'), await rd.zrank(z, 'x')], [0, 3, null]);
  t.eq('zrange', await rd.zrange(z, 0, -1), ['a', 'c', 'd', 'b']);
  t.eq('zrange withscores', await rd.zrange(z, 0, 1, 'WITHSCORES'), ['a', '0.5', 'c', '4']);
  t.eq('zrange byscore limit', await rd.zrange(z, 1, 10, 'BYSCORE', 'LIMIT', 1, 2), ['d', 'b']);
  t.eq('zrange rev', await rd.zrange(z, 0, 0, 'REV'), ['b']);
  t.eq('zrevrange', await rd.zrevrange(z, 0, 1), ['b', 'd']);
  t.eq('zrangebyscore zrevrangebyscore', [await rd.zrangebyscore(z, 4, 5), await rd.zrevrangebyscore(z, 5, '(4')],
       [['c', 'd', 'b'], ['b']]);
  t.eq('zrangebyscore -inf +inf', await rd.zrangebyscore(z, '-inf', '+inf'), ['a', 'c', 'd', 'b']);
  await w.zadd(lex, 0, 'x', 0, 'y', 0, 'z');
  t.eq('zrangebylex zrevrangebylex zlexcount', [await rd.zrangebylex(lex, '[y', '+'),
       await rd.zrevrangebylex(lex, '+', '(x'), await rd.zlexcount(lex, '-', '+')], [['y', 'z'], ['z', 'y'], 3]);
  t.eq('zremrangebylex', await w.zremrangebylex(lex, '[x', '[y'), 2);
  t.eq('zrem', await w.zrem(z, 'd', 'nope'), 1);
  t.eq('zpopmin zpopmax', [await w.zpopmin(z), await w.zpopmax(z)], [['a', '0.5'], ['b', '5']]);
  await w.zadd(z, 1, 'p', 2, 'q', 3, 'r', 4, 's');
  t.eq('zremrangebyscore', await w.zremrangebyscore(z, 1, 2), 2);
  t.eq('zremrangebyrank', await w.zremrangebyrank(z, 0, 0), 1);
  t.eq('zrange after', await rd.zrange(z, 0, -1), ['c', 's']);
  t.check('zrandmember', ['c', 's'].includes(await rd.zrandmember(z)));
  t.eq('zrandmember with a count and scores', sorted(await rd.zrandmember(z, 5, 'WITHSCORES')), ['4', '4', 'c', 's']);
  t.eq('zadd of a non-number', await t.error(w.zadd(z, 'x', 'm')), 'ERR value is not a valid float');
  t.eq('type', await rd.type(z), 'zset');
}

// ---- lists.
async function lists(t, { w, rd, k }) {
  const j = k('{l}jobs'), d = k('{l}done');
  t.eq('lpush', await w.lpush(j, 'b', 'a'), 2);
  t.eq('rpush', await w.rpush(j, 'c', 'd', 'c'), 5);
  t.eq('lrange', await rd.lrange(j, 0, -1), ['a', 'b', 'c', 'd', 'c']);
  t.eq('lpushx rpushx', [await w.lpushx(k('nolist'), 'x'), await w.rpushx(j, 'e')], [0, 6]);
  t.eq('llen lindex', [await rd.llen(j), await rd.lindex(j, -1), await rd.lindex(j, 99)], [6, 'e', null]);
  t.eq('lpos', [await rd.lpos(j, 'c'), await rd.lpos(j, 'c', 'RANK', 2), await rd.lpos(j, 'c', 'COUNT', 0)],
       [2, 4, [2, 4]]);
  t.eq('lset', await w.lset(j, 0, 'A'), 'OK');
  t.eq('lset out of range', await t.error(w.lset(j, 99, 'x')), 'ERR index out of range');
  t.eq('linsert', await w.linsert(j, 'BEFORE', 'd', 'D'), 7);
  t.eq('lrem', await w.lrem(j, 0, 'c'), 2);
  t.eq('lpop rpop', [await w.lpop(j), await w.rpop(j)], ['A', 'e']);
  t.eq('ltrim', [await w.ltrim(j, 0, 1), await rd.lrange(j, 0, -1)], ['OK', ['b', 'D']]);
  t.eq('lmove', await w.lmove(j, d, 'LEFT', 'RIGHT'), 'b');
  t.eq('rpoplpush', await w.rpoplpush(j, d), 'D');
  t.eq('... moved', [await rd.lrange(j, 0, -1), await rd.lrange(d, 0, -1)], [[], ['D', 'b']]);
  t.eq('lmove from an absent list', await w.lmove(j, d, 'LEFT', 'LEFT'), null);
  t.eq('lpop with a count', [await w.rpush(k('{l}c'), '1', '2', '3'), await w.lpop(k('{l}c'), 2)], [3, ['1', '2']]);
  const many = Array.from({ length: 600 }, (_, i) => 'e' + i);
  t.eq('rpush of 600 elements', await w.rpush(k('{l}long'), ...many), 600);
  t.eq('lrange 0 99 of them', await rd.lrange(k('{l}long'), 0, 99), many.slice(0, 100));
  t.eq('type', await rd.type(d), 'list');
}

// ---- expiry: EXPIRE/PEXPIRE/EXPIREAT (NX XX GT LT), TTL/PTTL, PERSIST, EXPIRETIME,
// SETEX/PSETEX, GETEX, SET KEEPTTL; a key set to expire goes away by itself.
async function expiry(t, { w, rd, k }) {
  const s = k('sess'), c = k('cart');
  t.eq('set ex', await w.set(s, 'v', 'EX', 60), 'OK');
  const ttl = await rd.ttl(s);
  t.check('ttl', ttl > 0 && ttl <= 60, String(ttl));
  t.eq('set keepttl keeps it', [await w.set(s, 'v2', 'KEEPTTL'), (await rd.ttl(s)) > 0], ['OK', true]);
  t.eq('set without keepttl drops it', [await w.set(s, 'v3'), await rd.ttl(s)], ['OK', -1]);
  t.eq('setex', [await w.setex(k('tok'), 30, 'a'), (await rd.ttl(k('tok'))) > 0], ['OK', true]);
  const pttl = [await w.psetex(k('tok'), 30000, 'b'), await rd.pttl(k('tok')), await rd.get(k('tok'))];
  t.check('psetex pttl', pttl[0] === 'OK' && pttl[1] > 0 && pttl[1] <= 30000 && pttl[2] === 'b', JSON.stringify(pttl));
  t.eq('getex ex', [await w.getex(k('tok'), 'EX', 100), (await rd.ttl(k('tok'))) > 90], ['b', true]);
  t.eq('getex persist', [await w.getex(k('tok'), 'PERSIST'), await rd.ttl(k('tok'))], ['b', -1]);
  await w.sadd(c, 'm');
  t.eq('expire nx', [await w.expire(c, 100, 'NX'), await w.expire(c, 200, 'NX')], [1, 0]);
  t.eq('expire gt lt xx', [await w.expire(c, 50, 'GT'), await w.expire(c, 50, 'LT'), await w.expire(k('nokey'), 5, 'XX')],
       [0, 1, 0]);
  const et = await rd.expiretime(c);
  t.check('expiretime', Math.abs(et - (Math.floor(Date.now() / 1000) + 50)) <= 5, String(et));
  t.eq('persist', [await w.persist(c), await rd.ttl(c), await w.persist(c)], [1, -1, 0]);
  t.eq('pexpire then pttl', [await w.pexpire(c, 100000), (await rd.pttl(c)) > 90000], [1, true]);
  const at = Math.floor(Date.now() / 1000) + 1000;
  t.eq('expireat', [await w.expireat(c, at), await rd.expiretime(c)], [1, at]);
  t.eq('pexpireat', [await w.pexpireat(c, at * 1000 + 500), await rd.pexpiretime(c)], [1, at * 1000 + 500]);
  t.eq('ttl of a missing key', [await rd.ttl(k('nokey')), await rd.pttl(k('nokey'))], [-2, -2]);
  t.eq('ttl of a key without expiry', [await w.set(k('persistent'), 'v'), await rd.ttl(k('persistent'))], ['OK', -1]);
  t.eq('set ex 0', await t.error(w.set(k('bad'), 'v', 'EX', 0)), "ERR invalid expire time in 'set' command");
  t.eq('set ex with px', await t.error(w.set(k('bad'), 'v', 'EX', 1, 'PX', 1)), 'ERR syntax error');
  t.eq('expire of a non-number', await t.error(w.expire(c, 'soon')), 'ERR value is not an integer or out of range');
  await w.set(k('gone'), 'v', 'PX', 300);
  await w.sadd(k('goneset'), 'm');
  await w.pexpire(k('goneset'), 300);
  await waitUntil(async () => (await rd.exists(k('gone'))) === 0 && (await rd.exists(k('goneset'))) === 0, 30000,
                  'keys written with a 300 ms expiry to go');
  t.eq('keys written with a 300 ms expiry are gone by themselves', [await rd.get(k('gone')), await rd.type(k('goneset'))],
       [null, 'none']);
}

// ---- pipelining: ioredis pipeline() (no MULTI): replies in order, an error reply in the
// middle fails only its own command; auto-pipelining of concurrent calls.
async function pipeline(t, ctx) {
  const { w, rd, k, cluster } = ctx;
  const pk = (s) => k(cluster ? '{pipe}' + s : 'pipe:' + s);
  const n = 200;
  const p = w.pipeline();
  for (let i = 0; i < n; i++) {
    p.set(pk('k' + i), 'v' + i);
    p.incr(pk('ctr'));
    p.sadd(pk('set'), 'm' + i);
    p.hset(pk('hash'), 'f' + i, i);
  }
  const res = await p.exec();
  t.eq('pipeline of 800 writes: every reply, in order', res.length, 4 * n);
  t.check('... no error', res.every(([err]) => err === null), String((res.find(([err]) => err) || [])[0]));
  t.eq('... INCR replies count up', res.filter((_, i) => i % 4 === 1).map(([, v]) => v),
       Array.from({ length: n }, (_, i) => i + 1));
  const q = rd.pipeline();
  for (let i = 0; i < n; i++) q.get(pk('k' + i));
  q.scard(pk('set'));
  q.hlen(pk('hash'));
  q.get(pk('ctr'));
  const got = (await q.exec()).map(([err, v]) => (err ? 'ERR:' + err.message : v));
  t.eq('pipeline of reads: every value', got,
       [...Array.from({ length: n }, (_, i) => 'v' + i), n, n, String(n)]);
  const mixed = await w.pipeline().set(pk('a'), '1').sadd(pk('a'), 'x').incr(pk('a')).get(pk('a')).exec();
  t.eq('an error reply in a pipeline fails only its own command',
       mixed.map(([err, v]) => (err ? err.message : v)), ['OK', WRONGTYPE, 2, '2']);
  const auto = cluster ? w : ctx.newClient({ enableAutoPipelining: true });
  try {
    const vals = await Promise.all(Array.from({ length: n }, (_, i) => auto.get(pk('k' + i))));
    t.eq('auto-pipelining: 200 concurrent GETs', vals, Array.from({ length: n }, (_, i) => 'v' + i));
  } finally {
    if (auto !== w) auto.disconnect();
  }
}

// ---- transactions: multi()...exec() (ioredis's default: MULTI, the commands and EXEC in one
// write, the replies unwrapped to [err, value] pairs), every key of a transaction in one
// partition (a {hash tag}). The plain client also checks CROSSSLOT across two partitions,
// WATCH with a write from a second connection, and MULTI/DISCARD sent one command at a time.
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';
const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
const txValues = (res) => (res === null ? null : res.map(([err, v]) => (err ? 'ERR:' + err.message : v)));

async function transactions(t, ctx) {
  const { w, rd, k, cluster } = ctx;
  const tk = (s) => k('{tx}' + s);
  const res = await w.multi().set(tk('a'), '1').incr(tk('a')).sadd(tk('s'), 'x', 'y').hset(tk('h'), 'f', 'v')
    .zadd(tk('z'), 2.5, 'm').rpush(tk('l'), 'p', 'q').get(tk('a')).get(tk('none')).expire(tk('a'), 100).exec();
  t.eq('multi()...exec(): every reply, in order', txValues(res), ['OK', 2, 2, 1, 1, 2, '2', null, 1]);
  t.eq('... applied (read through another node)', [await rd.get(tk('a')), sorted(await rd.smembers(tk('s'))),
       await rd.hgetall(tk('h')), await rd.zscore(tk('z'), 'm'), await rd.lrange(tk('l'), 0, -1), (await rd.ttl(tk('a'))) > 90],
       ['2', ['x', 'y'], { f: 'v' }, '2.5', ['p', 'q'], true]);
  const own = await w.multi().set(tk('w'), 'x').sadd(tk('w'), 'm').get(tk('w')).exec();
  t.eq('a command\'s own error (WRONGTYPE) is its element; the others apply', txValues(own), ['OK', 'ERR:' + WRONGTYPE, 'x']);
  const abort = w.multi().set(tk('ab1'), 'v').call('SET', tk('ab2')).set(tk('ab2'), 'v').exec();
  t.eq('a queue-time error (SET with no value) aborts: exec() rejects with EXECABORT', await t.error(abort), EXECABORT);
  t.eq('... and nothing was applied', [await rd.exists(tk('ab1')), await rd.exists(tk('ab2'))], [0, 0]);
  const user = k('{user:1}');
  const cart = user + '.cart', session = user + '.session';
  const us = await w.multi().sadd(cart, 'book', 'pen').set(session, 'token', 'EX', 3600).scard(cart).exec();
  t.eq('{user:1}.cart (SADD) and {user:1}.session (SET EX) in one transaction', txValues(us), [2, 'OK', 2]);
  t.eq('... both there', [sorted(await rd.smembers(cart)), await rd.get(session), (await rd.ttl(session)) > 3500],
       [['book', 'pen'], 'token', true]);
  if (cluster) return;
  // Another partition than {tx}'s: the first {txN} tag whose transaction with {tx}a aborts.
  let other = null;
  for (let i = 0; i < 200 && !other; i++) {
    const e = await t.error(w.multi().get(tk('a')).get(k('{tx' + i + '}b')).exec());
    if (e !== null) other = k('{tx' + i + '}b');
  }
  t.check('a key of another partition exists', other !== null);
  const cross = w.multi().set(tk('c1'), 'v').set(other, 'v').exec();
  t.eq('keys of two partitions: EXECABORT (CROSSSLOT at queue time)', await t.error(cross), EXECABORT);
  t.eq('... nothing was applied', [await rd.exists(tk('c1')), await rd.exists(other)], [0, 0]);
  const q = await w.multi({ pipeline: false });
  const queued = [await w.set(tk('c1'), 'v'), await t.error(w.set(other, 'v'))];
  t.eq('MULTI sent alone, then one command at a time: QUEUED, then CROSSSLOT', [q, ...queued], ['OK', 'QUEUED', CROSSSLOT]);
  t.eq('... EXEC answers EXECABORT', await t.error(w.exec()), EXECABORT);
  t.eq('... nothing was applied', await rd.exists(tk('c1')), 0);
  await w.multi({ pipeline: false });
  t.eq('DISCARD: QUEUED, then OK', [await w.set(tk('d'), 'v'), await w.incr(tk('a')), await w.discard()],
       ['QUEUED', 'QUEUED', 'OK']);
  t.eq('... nothing was applied, the connection is out of MULTI', [await rd.exists(tk('d')), await rd.get(tk('a')),
       await w.get(tk('a'))], [0, '2', '2']);
  const other2 = ctx.newClient();
  try {
    t.eq('WATCH', await w.watch(tk('a')), 'OK');
    t.eq('... a write from a second connection', await other2.set(tk('a'), 'theirs'), 'OK');
    t.eq('... exec() answers null', await w.multi().set(tk('a'), 'mine').set(tk('wx'), 'v').exec(), null);
    t.eq('... nothing was applied', [await rd.get(tk('a')), await rd.exists(tk('wx'))], ['theirs', 0]);
    await w.watch(tk('a'));
    t.eq('WATCH then UNWATCH', await w.unwatch(), 'OK');
    await other2.set(tk('a'), 'theirs2');
    t.eq('... a write from a second connection no longer aborts', txValues(await w.multi().set(tk('a'), 'mine').exec()), ['OK']);
    await w.watch(tk('a'));
    t.eq('WATCH with no other write: exec() applies', txValues(await w.multi().incr(tk('n')).get(tk('a')).exec()), [1, 'mine']);
  } finally {
    other2.disconnect();
  }
}

// ---- Dyna's own commands where a Redis client can use them.
async function dyna(t, { w, rd, all, k, members }) {
  for (const [i, c] of all.entries()) {
    const st = await c.call('DYNA.STATUS');
    t.check('DYNA.STATUS through client ' + i + ': a row per member', Array.isArray(st) && st.length === members,
            JSON.stringify(st));
  }
  const ring = await rd.call('DYNA.RING');
  t.check('DYNA.RING: size, N, version, members, preference lists',
          Array.isArray(ring) && ring.length === 5 && ring[4].length === ring[0], JSON.stringify(ring).slice(0, 200));
  t.eq('DYNA.GET of an absent key: an empty context, no value', await rd.call('DYNA.GET', k('vk')), ['', []]);
  const ctx = await w.call('DYNA.PUT', k('vk'), '', 'one');
  t.check('DYNA.PUT returns a context', typeof ctx === 'string' && ctx.length > 0, String(ctx));
  const g = await rd.call('DYNA.GET', k('vk'));
  t.eq('DYNA.GET: the value', g && g[1], ['one']);
  const ctx2 = await w.call('DYNA.PUT', k('vk'), g[0], 'two');
  t.check('DYNA.PUT with the context read', typeof ctx2 === 'string', String(ctx2));
  t.eq('... supersedes it', (await rd.call('DYNA.GET', k('vk')))[1], ['two']);
  t.eq('... and GET sees it', await rd.get(k('vk')), 'two');
  await w.hset(k('h'), 'f', 'A');
  t.eq('DYNA.HSIBLINGS of a field written once', await rd.call('DYNA.HSIBLINGS', k('h'), 'f'), ['A']);
  const g2 = await rd.call('DYNA.GET', k('vk'));
  const ctx3 = await w.call('DYNA.DEL', k('vk'), g2[0]);
  t.check('DYNA.DEL with the context read returns a context', typeof ctx3 === 'string' && ctx3.length > 0, String(ctx3));
  t.eq('... and the key is gone', await rd.get(k('vk')), null);
}

// ---- errors as Redis words them; the connection stays usable after each.
async function errors(t, { w, rd, k }) {
  const s = k('{e}str'), set = k('{e}set'), h = k('{e}hash'), l = k('{e}list'), z = k('{e}zset');
  await w.set(s, 'x');
  await w.sadd(set, 'm');
  await w.hset(h, 'f', 'v');
  await w.rpush(l, 'a');
  await w.zadd(z, 1, 'm');
  const cases = [
    ['sadd on a string', () => w.sadd(s, 'm')],
    ['get on a set', () => rd.get(set)],
    ['append on a set', () => w.append(set, 'x')],
    ['strlen on a hash', () => rd.strlen(h)],
    ['getrange on a list', () => rd.getrange(l, 0, -1)],
    ['setrange on a zset', () => w.setrange(z, 0, 'x')],
    ['getset on a set', () => w.getset(set, 'x')],
    ['getdel on a hash', () => w.getdel(h)],
    ['set get on a list', () => w.set(l, 'x', 'GET')],
    ['incr on a hash', () => w.incr(h)],
    ['lpush on a hash', () => w.lpush(h, 'x')],
    ['hget on a list', () => rd.hget(l, 'f')],
    ['zadd on a list', () => w.zadd(l, 1, 'x')],
    ['lrange on a zset', () => rd.lrange(z, 0, -1)],
    ['zscore on a set', () => rd.zscore(set, 'm')],
    ['smembers on a string', () => rd.smembers(s)],
    ['sinter with a string', () => rd.sinter(set, s)],
    ['smove to a string', () => w.smove(set, s, 'm')],
    ['lmove to a set', () => w.lmove(l, set, 'LEFT', 'LEFT')],
  ];
  for (const [what, fn] of cases) t.eq('WRONGTYPE: ' + what, await t.error(fn()), WRONGTYPE);
  t.eq('... and nothing changed', [await rd.get(s), await rd.smembers(set), await rd.lrange(l, 0, -1), await rd.hgetall(h),
       await rd.zrange(z, 0, -1)], ['x', ['m'], ['a'], { f: 'v' }, ['m']]);
  t.eq('setnx and set nx on a set: it is there', [await w.setnx(set, 'x'), await w.set(set, 'x', 'NX'), await rd.type(set)],
       [0, null, 'set']);
  t.eq('set xx on a set replaces it', [await w.set(set, 'x', 'XX'), await rd.type(set), await rd.get(set)], ['OK', 'string', 'x']);
  t.eq('unknown command', await t.error(w.call('NOSUCHCMD', 'a', 'b')),
       "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' ");
  t.eq('wrong number of arguments', await t.error(w.call('GET', 'a', 'b')), "ERR wrong number of arguments for 'get' command");
  t.eq('syntax error', await t.error(w.call('SET', s, 'v', 'BOGUS')), 'ERR syntax error');
  t.eq('not an integer', await t.error(w.call('EXPIRE', s, 'x')), 'ERR value is not an integer or out of range');
  t.eq('the connection still answers', [await w.ping(), await rd.get(s)], ['PONG', 'x']);
}

// ---- the connection commands a client sends on its own.
async function connection(t, { w }) {
  t.eq('ping', await w.ping(), 'PONG');
  t.eq('ping with a message', await w.ping('hi'), 'hi');
  t.eq('echo', await w.echo('hello'), 'hello');
  t.eq('select 0', await w.select(0), 'OK');
  t.check('client id', Number.isInteger(await w.client('ID')));
}

// All the keys SCAN returns for these options through one client (ioredis scanStream: the
// cursor loop until 0), each key once however often the server returned it (Redis too may
// return a key twice), sorted; dup counts the repeats.
async function scanAll(c, opts) {
  const seen = new Map();
  const stream = c.scanStream(opts);
  for await (const page of stream) for (const key of page) seen.set(key, (seen.get(key) || 0) + 1);
  return { keys: sorted(seen.keys()), dup: [...seen.values()].reduce((a, n) => a + n - 1, 0) };
}

// ---- the key space: SCAN (through ioredis scanStream, MATCH, COUNT, TYPE), KEYS, DBSIZE,
// RANDOMKEY, TYPE of each kind, EXISTS/TOUCH/UNLINK, RENAME/RENAMENX/COPY on keys sharing a
// {hash tag} (one partition), FLUSHALL when the cluster allows it (ctx.flush), last: it
// empties the key space. scan is ctx.scan (the plain client; for the Cluster client a plain
// connection to one of its nodes: any node scans the whole cluster).
async function keyspace(t, ctx) {
  const { w, rd, k } = ctx;
  const ks = (s) => k('ks:' + s);
  const strs = Array.from({ length: 30 }, (_, i) => ks('s' + i));
  const hs = Array.from({ length: 5 }, (_, i) => ks('h' + i));
  await Promise.all(strs.map((key, i) => w.set(key, 'v' + i)));
  await Promise.all(hs.map((key) => w.hset(key, 'f', 'v')));
  await w.sadd(ks('set'), 'm');
  await w.rpush(ks('list'), 'a');
  await w.zadd(ks('zset'), 1, 'm');
  await w.incr(ks('ctr'));
  const all = sorted([...strs, ...hs, ks('set'), ks('list'), ks('zset'), ks('ctr')]);
  const sc = await scanAll(ctx.scan, { match: ks('*'), count: 7 });
  t.eq('scanStream MATCH COUNT 7: every key written, nothing else', sc.keys, all);
  t.eq('scanStream COUNT 1000: the same keys', (await scanAll(ctx.scan, { match: ks('*'), count: 1000 })).keys, all);
  t.eq('scanStream TYPE hash', (await scanAll(ctx.scan, { match: ks('*'), type: 'hash' })).keys, sorted(hs));
  t.eq('scanStream TYPE string (counters included)', (await scanAll(ctx.scan, { match: ks('*'), type: 'string' })).keys,
       sorted([...strs, ks('ctr')]));
  t.eq('scanStream TYPE set, list, zset', [(await scanAll(ctx.scan, { match: ks('*'), type: 'set' })).keys,
       (await scanAll(ctx.scan, { match: ks('*'), type: 'list' })).keys, (await scanAll(ctx.scan, { match: ks('*'), type: 'zset' })).keys],
       [[ks('set')], [ks('list')], [ks('zset')]]);
  t.eq('scanStream of a pattern nothing matches', (await scanAll(ctx.scan, { match: k('nothing:*') })).keys, []);
  const [cur, page] = await ctx.scan.scan('0', 'MATCH', ks('*'), 'COUNT', 5);
  t.check('SCAN 0: a cursor string of digits and a page', /^[0-9]+$/.test(cur) && Array.isArray(page), JSON.stringify([cur, page]));
  t.eq('KEYS pattern', sorted(await ctx.scan.keys(ks('*'))), all);
  t.eq('KEYS of a pattern nothing matches', await ctx.scan.keys(k('nothing:*')), []);
  const size = await ctx.scan.dbsize();
  t.check('DBSIZE counts at least the keys written', Number.isInteger(size) && size >= all.length, String(size));
  const rk = await ctx.scan.randomkey();
  t.check('RANDOMKEY: some key', typeof rk === 'string' && rk.length > 0, String(rk));
  t.eq('TYPE of each kind', [await rd.type(strs[0]), await rd.type(hs[0]), await rd.type(ks('set')), await rd.type(ks('list')),
       await rd.type(ks('zset')), await rd.type(ks('ctr')), await rd.type(ks('none'))],
       ['string', 'hash', 'set', 'list', 'zset', 'string', 'none']);
  const tg = (s) => k('{ksr}' + s);
  await w.mset(tg('a'), '1', tg('b'), '2', tg('c'), '3');
  t.eq('TOUCH counts the keys that exist', await w.touch(tg('a'), tg('b'), tg('nope')), 2);
  t.eq('UNLINK', [await w.unlink(tg('a'), tg('b'), tg('nope')), await rd.exists(tg('a'), tg('b'), tg('c'))], [2, 1]);
  await w.set(tg('src'), 'hello', 'EX', 1000);
  t.eq('RENAME on hash-tagged keys', [await w.rename(tg('src'), tg('dst')), await rd.get(tg('dst')), await rd.exists(tg('src'))],
       ['OK', 'hello', 0]);
  t.check('... the expiry moves with it', (await rd.ttl(tg('dst'))) > 900);
  t.eq('RENAME of an absent key', await t.error(w.rename(tg('src'), tg('x'))), 'ERR no such key');
  t.eq('RENAMENX onto a present key', [await w.renamenx(tg('dst'), tg('c')), await rd.get(tg('c'))], [0, '3']);
  t.eq('RENAMENX onto an absent key', [await w.renamenx(tg('dst'), tg('dst2')), await rd.get(tg('dst2'))], [1, 'hello']);
  await w.hset(tg('h'), { f1: 'a', f2: 'b' });
  t.eq('COPY a hash', [await w.copy(tg('h'), tg('h2')), await rd.hgetall(tg('h2')), await rd.hgetall(tg('h'))],
       [1, { f1: 'a', f2: 'b' }, { f1: 'a', f2: 'b' }]);
  t.eq('COPY onto a present key', await w.copy(tg('dst2'), tg('c')), 0);
  t.eq('COPY REPLACE', [await w.copy(tg('dst2'), tg('c'), 'REPLACE'), await rd.get(tg('c'))], [1, 'hello']);
  await w.sadd(tg('set'), 'x', 'y');
  t.eq('RENAME a set', [await w.rename(tg('set'), tg('set2')), sorted(await rd.smembers(tg('set2'))), await rd.type(tg('set'))],
       ['OK', ['x', 'y'], 'none']);
  if (!ctx.flush) return;
  t.eq('FLUSHALL', await ctx.scan.flushall(), 'OK');
  t.eq('... then DBSIZE 0, KEYS and SCAN find nothing, GET nil',
       [await ctx.scan.dbsize(), await ctx.scan.keys('*'), (await scanAll(ctx.scan, { match: '*' })).keys, await rd.get(strs[0]),
        await rd.type(ks('set'))], [0, [], [], null, 'none']);
  t.eq('a write after FLUSHALL stays', [await w.set(ks('after'), 'x'), await rd.get(ks('after')),
       await ctx.scan.keys(k('*'))], ['OK', 'x', [ks('after')]]);
  t.eq('FLUSHDB ASYNC', [await ctx.scan.flushdb('ASYNC'), await ctx.scan.dbsize()], ['OK', 0]);
}

// The fields of an INFO reply: { name: value }.
function infoFields(text) {
  const f = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && line[0] !== '#') f[line.slice(0, i)] = line.slice(i + 1);
  }
  return f;
}

// ---- the server commands clients send: CLIENT SETNAME/GETNAME/ID/INFO/LIST, INFO fields
// clients read (redis_version, redis_mode, ...), CONFIG GET/SET of a runtime option, TIME,
// ECHO. ctx.one is a client of one node (CONFIG SET and the connection's name are that
// node's own).
async function server(t, ctx) {
  const c = ctx.one;
  const name = 'dyna-test-' + process.pid;
  t.eq('CLIENT GETNAME before a name', await c.client('GETNAME'), null);
  t.eq('CLIENT SETNAME', await c.client('SETNAME', name), 'OK');
  t.eq('CLIENT GETNAME', await c.client('GETNAME'), name);
  t.eq('CLIENT SETNAME with a space', await t.error(c.client('SETNAME', 'a b')),
       'ERR Client names cannot contain spaces, newlines or special characters.');
  const id = await c.client('ID');
  const info = await c.client('INFO');
  t.check('CLIENT INFO: this connection (id, name, cmd)', info.includes('id=' + id + ' ') && info.includes(' name=' + name + ' ') &&
          info.includes('cmd=client|info'), info);
  const list = String(await c.client('LIST')).split('\n').filter((l) => l);
  const mine = list.filter((l) => l.startsWith('id=' + id + ' '));
  t.check('CLIENT LIST: a line per client, this one with its name',
          mine.length === 1 && mine[0].includes(' name=' + name + ' ') && list.every((l) => /^id=\d+ addr=\S+ /.test(l)),
          list.join(' | ').slice(0, 300));
  const byId = String(await c.client('LIST', 'ID', id)).split('\n').filter((l) => l);
  t.check('CLIENT LIST ID: that line only', byId.length === 1 && byId[0].startsWith('id=' + id + ' ' + mine[0].split(' ')[1] + ' ') &&
          byId[0].includes(' name=' + name + ' '), byId.join(' | '));
  const f = infoFields(await c.info());
  t.check('INFO: redis_version as a client compares it (7.0 or later)', /^([7-9]|\d\d)\.\d+\.\d+$/.test(f.redis_version || ''),
          String(f.redis_version));
  t.eq('INFO: redis_mode, cluster_enabled, role', [f.redis_mode, f.cluster_enabled, f.role], ['cluster', '1', 'master']);
  t.check('INFO: connected_clients, uptime_in_seconds, tcp_port as numbers',
          Number(f.connected_clients) >= 1 && Number(f.uptime_in_seconds) >= 0 && Number(f.tcp_port) === c.options.port,
          JSON.stringify([f.connected_clients, f.uptime_in_seconds, f.tcp_port]));
  const fs = infoFields(await c.info('server'));
  t.check('INFO server: only that section', fs.redis_version === f.redis_version && fs.connected_clients === undefined,
          JSON.stringify(Object.keys(fs)).slice(0, 200));
  const opt = 'request-timeout-ms';
  const before = await c.config('GET', opt);
  t.check('CONFIG GET of a runtime option: [name, value]', Array.isArray(before) && before[0] === opt && /^\d+$/.test(before[1]),
          JSON.stringify(before));
  t.eq('CONFIG SET of it', await c.config('SET', opt, '12345'), 'OK');
  t.eq('... CONFIG GET gives the new value', await c.config('GET', opt), [opt, '12345']);
  t.eq('... and back', await c.config('SET', opt, before[1]), 'OK');
  t.eq('CONFIG GET a glob over Redis\'s names', await c.config('GET', 'maxclient*'), ['maxclients', (await c.config('GET', 'maxclients'))[1]]);
  t.eq('CONFIG SET of an option fixed at start', await t.error(c.config('SET', 'n', '3')),
       "ERR CONFIG SET failed (possibly related to argument 'n') - can't set immutable config");
  const [secs, usecs] = await c.time();
  t.check('TIME: seconds near this clock, microseconds below 1e6',
          Math.abs(Number(secs) - Date.now() / 1000) < 30 && Number(usecs) >= 0 && Number(usecs) < 1e6, JSON.stringify([secs, usecs]));
  const bin = Buffer.from([0, 0x0d, 0x0a, 0xff]);
  t.eq('ECHO of binary bytes', [await c.echo('hello'), await c.echoBuffer(bin)], ['hello', bin]);
}

const FAMILIES = [
  ['strings', strings], ['counters', counters], ['sets', sets], ['hashes', hashes], ['sorted sets', zsets],
  ['lists', lists], ['expiry', expiry], ['pipelining', pipeline], ['transactions', transactions], ['dyna commands', dyna],
  ['errors', errors], ['connection', connection], ['server', server], ['key space', keyspace],
];

module.exports = { FAMILIES, WRONGTYPE, scanAll, infoFields };
