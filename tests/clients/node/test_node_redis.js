// test_node_redis.js: node-redis (npm package `redis`, pinned in package.json) against a
// running Dyna cluster, speaking RESP3 (createClient({RESP: 3}): the client sends HELLO 3
// when it connects) and RESP2 side by side:
//   node test_node_redis.js HOST:PORT,HOST:PORT,HOST:PORT
// 1. RESP3 shapes as the client receives them: a client whose type mapping turns maps into
//    Map, sets into Set, doubles into Number and verbatim strings into VerbatimString sees
//    HELLO, HGETALL and CONFIG GET as Maps, SMEMBERS as a Set, ZSCORE and ZRANGE WITHSCORES'
//    scores as numbers, INFO as verbatim text ("txt"), a missing key as null (a RESP2 reply
//    would arrive as an array or a string and fail these);
// 2. node-redis's typed commands (hGetAll, sMembers, zScore, zRangeWithScores, configGet,
//    ...) give the same JavaScript values over RESP3 and RESP2;
// 3. strings, counters, lists and expiry over RESP3, writes through one node, reads through
//    another;
// 4. the key space (scanIterator with MATCH/COUNT/TYPE, KEYS, DBSIZE, TYPE, RENAME and COPY on
//    hash-tagged keys) and the server commands (CLIENT SETNAME/GETNAME/INFO, INFO's
//    redis_version, CONFIG SET/GET, TIME) over RESP3;
// 5. transactions: multi()...exec() of typed commands, the RESP3 types inside EXEC,
//    EXECABORT, WATCH conflict -> WatchError.
// Run by tests/integration/test_node_client.py, which starts the cluster. Prints one line
// per check and "node-redis: N checks, M failed"; exits 0 only when every check passed.
'use strict';
const { createClient, RESP_TYPES, VerbatimString, WatchError } = require('redis');
const { Harness, parseNodes } = require('./harness');
const { infoFields } = require('./families');

const sorted = (a) => [...a].sort();
// What a reply is, for a failure message.
const kind = (v) => (v === null || v === undefined ? String(v) : (Object.getPrototypeOf(v) ? v.constructor.name : 'Object') +
                     ' ' + require('./harness').show(v));
// node-redis builds objects without a prototype: a plain copy compares with a literal.
const plain = (v) => (v && typeof v === 'object' && !Array.isArray(v) && !Object.getPrototypeOf(v) ? { ...v } : v);

function clientOf(node, resp) {
  return createClient({
    RESP: resp,
    socket: { host: node.host, port: node.port, connectTimeout: 10000, reconnectStrategy: false },
  });
}

// ---- 1. the RESP3 types themselves, through a type mapping that keeps them apart.
async function shapes(t, { w, raw, k }) {
  const hello = await raw.sendCommand(['HELLO', '3']);
  t.check('HELLO 3: a Map with proto 3 and version', hello instanceof Map && hello.get('proto') === 3 &&
          typeof hello.get('version') === 'string', kind(hello));
  await w.hSet(k('h'), { name: 'ann', age: '30' });
  const h = await raw.sendCommand(['HGETALL', k('h')]);
  t.check('HGETALL: a Map', h instanceof Map, kind(h));
  t.eq('... of the fields', h instanceof Map ? Object.fromEntries(h) : h, { name: 'ann', age: '30' });
  t.check('HGETALL of an absent key: an empty Map', (await raw.sendCommand(['HGETALL', k('nohash')])) instanceof Map);
  await w.sAdd(k('s'), ['a', 'b', 'c']);
  const s = await raw.sendCommand(['SMEMBERS', k('s')]);
  t.check('SMEMBERS: a Set', s instanceof Set, kind(s));
  t.eq('... of the members', s instanceof Set ? sorted(s) : s, ['a', 'b', 'c']);
  t.check('SINTER: a Set', (await raw.sendCommand(['SINTER', k('s'), k('s')])) instanceof Set);
  await w.zAdd(k('z'), [{ score: 1.5, value: 'a' }, { score: 2, value: 'b' }]);
  t.eq('ZSCORE: a double (a Number)', await raw.sendCommand(['ZSCORE', k('z'), 'a']), 1.5);
  t.eq('ZRANGE WITHSCORES: [member, double] pairs', await raw.sendCommand(['ZRANGE', k('z'), '0', '-1', 'WITHSCORES']),
       [['a', 1.5], ['b', 2]]);
  t.eq('ZINCRBY: a double', await raw.sendCommand(['ZINCRBY', k('z'), '1', 'b']), 3);
  const cfg = await raw.sendCommand(['CONFIG', 'GET', 'maxclients']);
  t.check('CONFIG GET: a Map', cfg instanceof Map && /^\d+$/.test(cfg.get('maxclients')), kind(cfg));
  const info = await raw.sendCommand(['INFO', 'server']);
  t.check('INFO: verbatim text (txt)', info instanceof VerbatimString && info.format === 'txt' &&
          String(info).includes('redis_version:'), kind(info));
  t.eq('GET of an absent key: null', await raw.sendCommand(['GET', k('nokey')]), null);
  t.eq('HGET of an absent field: null', await raw.sendCommand(['HGET', k('h'), 'nope']), null);
  t.eq('SISMEMBER stays an integer (as Redis 7.0)', await raw.sendCommand(['SISMEMBER', k('s'), 'a']), 1);
}

// ---- 2. the typed commands give the same values over RESP3 and RESP2.
async function sameValues(t, { w, r2, r3, k }) {
  await w.hSet(k('u'), { name: 'bob', visits: '3' });
  await w.sAdd(k('tags'), ['x', 'y']);
  await w.zAdd(k('rank'), [{ score: 0.5, value: 'p' }, { score: 7, value: 'q' }]);
  const both = async (fn) => [await fn(r3), await fn(r2)];
  const cases = [
    ['hGetAll', (c) => c.hGetAll(k('u')), { name: 'bob', visits: '3' }],
    ['sMembers (sorted)', async (c) => sorted(await c.sMembers(k('tags'))), ['x', 'y']],
    ['zScore', (c) => c.zScore(k('rank'), 'p'), 0.5],
    ['zRangeWithScores', (c) => c.zRangeWithScores(k('rank'), 0, -1), [{ value: 'p', score: 0.5 }, { value: 'q', score: 7 }]],
    ['zMScore', (c) => c.zmScore(k('rank'), ['q', 'nope']), [7, null]],
    ['configGet', (c) => c.configGet('maxclients'), null],
    ['hGet of an absent field', (c) => c.hGet(k('u'), 'nope'), null],
  ];
  for (const [what, fn, want] of cases) {
    const [v3, v2] = (await both(fn)).map(plain);
    t.eq(what + ': RESP3 = RESP2', v3, v2);
    if (want !== null) t.eq(what + ': the value', v3, want);
  }
}

// ---- 3. data families over RESP3: write through one node, read through another.
async function data(t, { w, r3, k }) {
  t.eq('set get', [await w.set(k('a'), 'v1'), await r3.get(k('a'))], ['OK', 'v1']);
  t.eq('set NX on a present key', await w.set(k('a'), 'v2', { condition: 'NX' }), null);
  t.eq('mSet mGet', [await w.mSet([[k('{m}1'), 'x'], [k('{m}2'), 'y']]), await r3.mGet([k('{m}1'), k('{m}nope'), k('{m}2')])],
       ['OK', ['x', null, 'y']]);
  t.eq('incr incrBy', [await w.incr(k('c')), await w.incrBy(k('c'), 9), await r3.get(k('c'))], [1, 10, '10']);
  t.eq('incrByFloat', await w.incrByFloat(k('f'), 1.25), '1.25');
  t.eq('rPush lRange', [await w.rPush(k('l'), ['a', 'b', 'c']), await r3.lRange(k('l'), 0, -1)], [3, ['a', 'b', 'c']]);
  t.eq('lPop', await w.lPop(k('l')), 'a');
  t.eq('expire ttl', [await w.expire(k('a'), 100), (await r3.ttl(k('a'))) > 90], [1, true]);
  t.eq('hIncrByFloat', await w.hIncrByFloat(k('hf'), 'x', 0.5), '0.5');
  t.eq('WRONGTYPE', await t.error(w.sAdd(k('a'), 'm')), 'WRONGTYPE Operation against a key holding the wrong kind of value');
}

// ---- 4a. the key space over RESP3.
async function keyspace(t, { w, r3, k }) {
  const ks = (s) => k('ks:' + s);
  const strs = Array.from({ length: 25 }, (_, i) => ks('s' + i));
  await Promise.all(strs.map((key) => w.set(key, 'v')));
  await w.hSet(ks('h'), 'f', 'v');
  await w.sAdd(ks('set'), 'm');
  const all = sorted([...strs, ks('h'), ks('set')]);
  const scan = async (opts) => {
    const seen = new Set();
    for await (const page of r3.scanIterator(opts)) for (const key of page) seen.add(key);
    return sorted(seen);
  };
  t.eq('scanIterator MATCH COUNT 6: every key written, nothing else', await scan({ MATCH: ks('*'), COUNT: 6 }), all);
  t.eq('scanIterator TYPE hash', await scan({ MATCH: ks('*'), TYPE: 'hash' }), [ks('h')]);
  t.eq('scanIterator TYPE set', await scan({ MATCH: ks('*'), TYPE: 'set' }), [ks('set')]);
  const one = await r3.scan('0', { MATCH: ks('*'), COUNT: 5 });
  t.check('scan: { cursor: a digit string, keys }', /^[0-9]+$/.test(one.cursor) && Array.isArray(one.keys), JSON.stringify(one));
  t.eq('keys', sorted(await r3.keys(ks('*'))), all);
  const n = await r3.dbSize();
  t.check('dbSize at least the keys written', n >= all.length, String(n));
  t.eq('type', [await r3.type(ks('h')), await r3.type(ks('set')), await r3.type(ks('s0')), await r3.type(ks('none'))],
       ['hash', 'set', 'string', 'none']);
  const tg = (s) => k('{nr}' + s);
  await w.set(tg('src'), 'hello');
  t.eq('rename on hash-tagged keys', [await w.rename(tg('src'), tg('dst')), await r3.get(tg('dst')), await r3.exists(tg('src'))],
       ['OK', 'hello', 0]);
  t.eq('copy', [await w.copy(tg('dst'), tg('cp')), await r3.get(tg('cp'))], [1, 'hello']);
  t.eq('unlink touch', [await w.touch([tg('dst'), tg('cp'), tg('nope')]), await w.unlink([tg('dst'), tg('cp')])], [2, 2]);
}

// ---- 4b. the server commands over RESP3.
async function server(t, { w }) {
  const name = 'node-redis-' + process.pid;
  t.eq('clientSetName clientGetName', [await w.clientSetName(name), await w.clientGetName()], ['OK', name]);
  const info = await w.clientInfo();
  t.check('clientInfo: parsed, with the name and resp 3', info && info.name === name && Number(info.resp) === 3,
          JSON.stringify(info).slice(0, 300));
  const f = infoFields(await w.info());
  t.check('info: redis_version 7.0 or later', /^([7-9]|\d\d)\.\d+\.\d+$/.test(f.redis_version || ''), String(f.redis_version));
  t.eq('configSet configGet', [await w.configSet('request-timeout-ms', '23456'), plain(await w.configGet('request-timeout-ms'))],
       ['OK', { 'request-timeout-ms': '23456' }]);
  const tm = await w.time();
  t.check('time: [seconds, microseconds] near this clock', Array.isArray(tm) && tm.length === 2 &&
          Math.abs(Number(tm[0]) - Date.now() / 1000) < 30 && Number(tm[1]) >= 0 && Number(tm[1]) < 1e6, JSON.stringify(tm));
  t.eq('echo', await w.echo('héllo'), 'héllo');
}

// ---- 5. transactions: client.multi()...exec() with typed commands; inside EXEC the answers
// keep their RESP3 types (a map for HGETALL, a double for ZSCORE, null for a missing GET); a
// queue-time error (EXEC then answers EXECABORT) rejects exec() and applies nothing; a watched key written by another
// connection rejects exec() with node-redis's WatchError and applies nothing.
async function transactions(t, { w, r3, r2, k }) {
  const tk = (s) => k('{tx}' + s);
  const got = await w.multi().hSet(tk('h'), { name: 'ann', age: '30' }).zAdd(tk('z'), { score: 1.5, value: 'a' })
    .set(tk('s'), 'v').incr(tk('n')).sAdd(tk('set'), ['x', 'y']).hGetAll(tk('h')).zScore(tk('z'), 'a').get(tk('none'))
    .get(tk('s')).exec();
  t.eq('multi()...exec() of typed commands: each reply as its command gives it', got.map(plain),
       [2, 1, 'OK', 1, 2, { name: 'ann', age: '30' }, 1.5, null, 'v']);
  // Untyped commands (addCommand: no transform of the client's) show the protocol's own shapes
  // under the client's default mapping: a RESP3 map arrives as an object, a RESP3 double as a
  // number; over RESP2 the same EXEC holds an array and a string.
  const raw = await r3.multi().addCommand(['HGETALL', tk('h')]).addCommand(['ZSCORE', tk('z'), 'a'])
    .addCommand(['GET', tk('none')]).exec();
  t.check('inside EXEC over RESP3: HGETALL a map (an object, not an array)',
          raw[0] !== null && typeof raw[0] === 'object' && !Array.isArray(raw[0]), kind(raw[0]));
  t.eq('... of the fields', plain(raw[0]), { name: 'ann', age: '30' });
  t.check('... ZSCORE a double (a number, not a string)', raw[1] === 1.5, kind(raw[1]));
  t.check('... a missing GET null', raw[2] === null, kind(raw[2]));
  const raw2 = await r2.multi().addCommand(['HGETALL', tk('h')]).addCommand(['ZSCORE', tk('z'), 'a']).exec();
  t.eq('the same EXEC over RESP2: an array and a string', raw2, [['age', '30', 'name', 'ann'], '1.5']);
  const abort = await t.error(w.multi().set(tk('ab'), 'v').addCommand(['GET']).exec());
  t.eq('a queue-time error (GET with no key): exec() rejects with it (node-redis reports the first error)', abort,
       "ERR wrong number of arguments for 'get' command");
  t.eq('... nothing was applied', await r3.exists(tk('ab')), 0);
  await w.watch(tk('s'));
  await r3.set(tk('s'), 'theirs');
  let err = null;
  try {
    await w.multi().set(tk('s'), 'mine').set(tk('wx'), 'v').exec();
  } catch (e) {
    err = e;
  }
  t.check('WATCH, a write from another connection: exec() rejects with WatchError', err instanceof WatchError, kind(err));
  t.eq('... nothing was applied', [await r3.get(tk('s')), await r3.exists(tk('wx'))], ['theirs', 0]);
  await w.watch(tk('s'));
  t.eq('WATCH and no other write: exec() applies', await w.multi().set(tk('s'), 'mine').get(tk('s')).exec(), ['OK', 'mine']);
}

async function main() {
  const nodes = parseNodes(process.argv[2]);
  const t = new Harness('node-redis');
  const w = clientOf(nodes[0], 3);
  const r3 = clientOf(nodes[1 % nodes.length], 3);
  const r2 = clientOf(nodes[2 % nodes.length], 2);
  const clients = [w, r3, r2];
  const errs = [];
  clients.forEach((c, i) => c.on('error', (e) => errs.push('client ' + i + ': ' + e.message)));
  let ok = false;
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const typeMapping = {
      [RESP_TYPES.MAP]: Map, [RESP_TYPES.SET]: Set, [RESP_TYPES.DOUBLE]: Number, [RESP_TYPES.VERBATIM_STRING]: VerbatimString,
    };
    const raw = { sendCommand: (args) => r3.sendCommand(args, { typeMapping }) };
    const run = 'nr' + process.pid + ':';
    const ctx = { w, r3, r2, raw, k: (s) => run + s };
    ok = await t.run([['RESP3 types', shapes], ['typed commands: RESP3 = RESP2', sameValues], ['data families', data],
                      ['key space', keyspace], ['server', server], ['transactions', transactions]], ctx);
  } finally {
    await Promise.all(clients.map((c) => (c.isOpen ? c.quit().catch(() => c.destroy()) : null)));
  }
  if (errs.length) {
    console.log('FAILED: connection errors: ' + errs.join('; '));
    ok = false;
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.log('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
