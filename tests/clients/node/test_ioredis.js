// test_ioredis.js: ioredis's plain client (new Redis()) against a running Dyna cluster:
// every command family of families.js, writes through the first node, reads through the
// second, some reads through every node.
//   node test_ioredis.js HOST:PORT,HOST:PORT,HOST:PORT [flush]
// ("flush": the nodes run with --enable-flush-command and the key-space family ends with
// FLUSHALL).
// Run by tests/integration/test_node_client.py, which starts the 3-node cluster. Prints one
// line per check and "ioredis: N checks, M failed"; exits 0 only when every check passed.
'use strict';
const Redis = require('ioredis');
const { Harness, parseNodes } = require('./harness');
const { FAMILIES } = require('./families');

async function main() {
  const nodes = parseNodes(process.argv[2]);
  const t = new Harness('ioredis');
  // No retries behind the test's back: a dropped connection fails the check that saw it.
  const opts = { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 10000, commandTimeout: 20000 };
  const all = nodes.map((n) => new Redis({ host: n.host, port: n.port, ...opts }));
  const errs = [];
  all.forEach((c, i) => c.on('error', (e) => errs.push('client ' + i + ': ' + e.message)));
  const run = 'io' + process.pid + ':';
  const rdNode = nodes[1 % nodes.length];
  const ctx = {
    w: all[0], rd: all[1 % all.length], all, members: nodes.length, k: (s) => run + s, cluster: false,
    one: all[0], scan: all[2 % all.length], flush: process.argv[3] === 'flush',
    newClient: (more) => new Redis({ host: rdNode.host, port: rdNode.port, ...opts, ...more }),
  };
  let ok = false;
  try {
    await Promise.all(all.map((c) => (c.status === 'ready' ? null : new Promise((res, rej) => {
      c.once('ready', res);
      c.once('end', () => rej(new Error('connection ended before ready')));
    }))));
    ok = await t.run(FAMILIES, ctx);
  } finally {
    all.forEach((c) => c.disconnect());
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
