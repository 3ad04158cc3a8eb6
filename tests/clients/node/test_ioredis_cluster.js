// test_ioredis_cluster.js: ioredis's Cluster client against a running 3-node Dyna cluster
// (N=2 of 3, so that a node outside a key's preference list exists):
//   node test_ioredis_cluster.js HOST:PORT,HOST:PORT,HOST:PORT [flush]
// 1. the client connects (it asks CLUSTER SLOTS) and every family of families.js runs
//    through it, keys of multi-key commands and pipelines sharing a {hash tag};
// 2. CLUSTER SLOTS covers the 16384 slots once, each range naming nodes of the cluster;
//    CLUSTER KEYSLOT agrees with the client's own slot function (CRC16 mod 16384);
// 3. routing: 300 keys SET through the client, each command counted per node where the
//    client sent it (a hook on every node connection it opens): every node gets some,
//    each key's node is one CLUSTER SLOTS names for its slot, and holds a replica of the
//    key (DYNA.LOCAL through a plain client on that node): a preference-list node;
// 4. hash tags: {user:1}.cart and {user:1}.session go to one node; MGET over them works; a
//    multi() over them (a transaction: every key of it in one slot) goes to that slot's node
//    and applies (the transactions family of families.js runs through this client too).
// Prints one line per check and "ioredis-cluster: N checks, M failed"; exits 0 only when
// every check passed.
// 5. SCAN through every master (ioredis has no Cluster scanStream; a client scans each
//    master's connection, as for Redis Cluster): each Dyna node answers a SCAN for the
//    whole cluster, so each master's scan returns every key, and the union over the masters
//    holds every key once per master (docs/client.md says so).
// Run by tests/integration/test_node_client.py, which starts the cluster (with
// --enable-flush-command: "flush" as the second argument).
'use strict';
const Redis = require('ioredis');
const calculateSlot = require('cluster-key-slot');
const { Harness, parseNodes } = require('./harness');
const { FAMILIES, scanAll } = require('./families');

const NSLOTS = 16384;
const NKEYS = 300;

// CLUSTER SLOTS: [[start, end, [ip, port, id?], ...], ...] covers every slot exactly once.
async function slotMap(t, cluster, nodes) {
  const some = new Redis({ host: nodes[0].host, port: nodes[0].port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    const slots = await some.cluster('SLOTS');
    const owner = new Array(NSLOTS).fill(null);
    let overlaps = 0, unknown = 0;
    const known = new Set(nodes.map((n) => n.host + ':' + n.port));
    for (const [start, end, ...ns] of slots) {
      const addrs = ns.map((n) => n[0] + ':' + n[1]);
      unknown += addrs.filter((a) => !known.has(a)).length;
      for (let s = start; s <= end; s++) {
        if (owner[s]) overlaps++;
        owner[s] = addrs;
      }
    }
    t.check('CLUSTER SLOTS: every slot in a range', owner.every((o) => o && o.length > 0),
            owner.findIndex((o) => !o) + ' is not');
    t.eq('CLUSTER SLOTS: no slot in two ranges', overlaps, 0);
    t.eq('CLUSTER SLOTS: every node named is a member', unknown, 0);
    const keys = ['a', 'foo', '{user:1}.cart', 'user:1', '', 'x'.repeat(100)];
    const got = [];
    for (const key of keys) got.push(await some.cluster('KEYSLOT', key));
    t.eq('CLUSTER KEYSLOT = the client\'s slot function (CRC16 of the key or its tag, mod 16384)', got,
         keys.map((key) => calculateSlot(key)));
    return owner;
  } finally {
    some.disconnect();
  }
}

async function main() {
  const nodes = parseNodes(process.argv[2]);
  const t = new Harness('ioredis-cluster');
  const opts = { maxRetriesPerRequest: 0, connectTimeout: 10000, commandTimeout: 20000 };
  // sent[addr] = [key...]: the first key of each command sent on that node's connection.
  const sent = {};
  const cluster = new Redis.Cluster(nodes.map((n) => ({ host: n.host, port: n.port })), {
    scaleReads: 'master', redisOptions: opts, clusterRetryStrategy: () => null, slotsRefreshTimeout: 10000,
  });
  cluster.on('+node', (node) => {
    const addr = node.options.host + ':' + node.options.port;
    const orig = node.sendCommand.bind(node);
    node.sendCommand = (command, stream) => {
      const keys = command.getKeys ? command.getKeys() : [];
      if (keys.length) (sent[addr] = sent[addr] || []).push(String(keys[0]));
      return orig(command, stream);
    };
  });
  const errs = [];
  cluster.on('error', (e) => errs.push(e.message));
  const run = 'ioc' + process.pid + ':';
  let ok = false;
  try {
    await new Promise((res, rej) => {
      cluster.once('ready', res);
      cluster.once('end', () => rej(new Error('the cluster client ended before ready: ' + errs.join('; '))));
    });
    const masters = cluster.nodes('master');
    const ctx = {
      w: cluster, rd: cluster, all: [cluster], members: nodes.length, k: (s) => run + s, cluster: true,
      newClient: null, one: masters[0], scan: masters[masters.length - 1], flush: process.argv[3] === 'flush',
    };
    const owner = [];
    const families = [
      ['CLUSTER SLOTS and KEYSLOT', async (h) => owner.push(...await slotMap(h, cluster, nodes))],
      ...FAMILIES,
      ['routing: each key to a preference-list node', async (h) => {
        for (const a of Object.keys(sent)) delete sent[a];
        const keys = Array.from({ length: NKEYS }, (_, i) => run + 'route:' + i);
        await Promise.all(keys.map((key, i) => cluster.set(key, 'v' + i)));
        const where = {};
        for (const [addr, ks] of Object.entries(sent)) for (const key of ks) where[key] = addr;
        const counts = {};
        for (const n of nodes) counts[n.host + ':' + n.port] = 0;
        for (const key of keys) if (where[key]) counts[where[key]]++;
        console.log('  note SETs per node: ' + JSON.stringify(counts));
        h.eq('every SET was sent to a node', keys.filter((key) => !where[key]).length, 0);
        h.check('every node got some keys', Object.values(counts).every((c) => c > 0), JSON.stringify(counts));
        if (owner.length === NSLOTS) {
          const off = keys.filter((key) => where[key] && !owner[calculateSlot(key)].includes(where[key]));
          h.eq('each key went to a node CLUSTER SLOTS names for its slot', off, []);
        }
        const plain = {};
        for (const n of nodes) plain[n.host + ':' + n.port] = new Redis({ host: n.host, port: n.port, ...opts, retryStrategy: () => null });
        try {
          const missing = [];
          for (const key of keys) {
            const r = await plain[where[key]].call('DYNA.LOCAL', key);
            if (!(Array.isArray(r) && Array.isArray(r[1]) && r[1].length > 0)) missing.push(key);
          }
          h.eq('the node each key went to holds a replica of it (DYNA.LOCAL): a preference-list node', missing, []);
        } finally {
          Object.values(plain).forEach((c) => c.disconnect());
        }
      }],
      ['hash tags', async (h) => {
        for (const a of Object.keys(sent)) delete sent[a];
        const cart = '{user:1}.cart' + run, sess = '{user:1}.session' + run;
        await cluster.set(cart, 'book');
        await cluster.set(sess, 'token');
        const addrs = Object.entries(sent).filter(([, ks]) => ks.includes(cart) || ks.includes(sess)).map(([a]) => a);
        h.eq('{user:1}.cart and {user:1}.session went to one node', addrs.length, 1);
        h.eq('their slots are the tag\'s', [calculateSlot(cart), calculateSlot(sess)], [calculateSlot('user:1'), calculateSlot('user:1')]);
        h.eq('MGET over both', await cluster.mget(cart, sess), ['book', 'token']);
        h.eq('DEL over both', await cluster.del(cart, sess), 2);
        for (const a of Object.keys(sent)) delete sent[a];
        const tx = await cluster.multi().sadd(cart, 'book').set(sess, 'token', 'EX', 3600).smembers(cart).get(sess).exec();
        h.eq('multi() over both: every reply', tx, [[null, 1], [null, 'OK'], [null, ['book']], [null, 'token']]);
        const txAddrs = Object.entries(sent).filter(([, ks]) => ks.includes(cart) || ks.includes(sess)).map(([a]) => a);
        h.eq('... sent to one node', txAddrs.length, 1);
        if (owner.length === NSLOTS && txAddrs.length === 1) {
          h.check('... one CLUSTER SLOTS names for the tag\'s slot', owner[calculateSlot(cart)].includes(txAddrs[0]),
                  txAddrs[0] + ' not in ' + owner[calculateSlot(cart)]);
        }
      }],
    ];
    families.push(['SCAN through every master', async (h) => {
      const keys = Array.from({ length: 60 }, (_, i) => run + 'scan:' + i);
      await Promise.all(keys.map((key) => cluster.set(key, 'v')));
      const ms = cluster.nodes('master');
      h.eq('every node is a master of some slots (CLUSTER SLOTS heads)', ms.length, nodes.length);
      const per = [];
      for (const m of ms) per.push(await scanAll(m, { match: run + 'scan:*', count: 20 }));
      const want = [...keys].sort();
      h.eq('each master\'s scanStream returns every key (a Dyna node scans the whole cluster)', per.map((p) => p.keys),
           ms.map(() => want));
      const union = new Map();
      for (const p of per) for (const key of p.keys) union.set(key, (union.get(key) || 0) + 1);
      h.eq('so the scan over every master holds each key once per master',
           [union.size, [...union.values()].every((n) => n === ms.length)], [keys.length, true]);
    }]);
    ok = await t.run(families, ctx);
  } finally {
    cluster.disconnect();
  }
  if (errs.length) {
    console.log('FAILED: client errors: ' + errs.join('; '));
    ok = false;
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.log('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
