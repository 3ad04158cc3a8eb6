// harness.js: the checks the Node.js client tests print, in the form of the Python tests'
// dynalib.Harness: one line per check ("  ok   what" or "  FAIL what: got ..., want ..."),
// a "== family" line per family, a closing "NAME: N checks, M failed" line, and the exit
// status (0 only when every check passed). No test framework: nothing beyond the clients is
// installed.
'use strict';
const util = require('util');

function show(v) {
  const s = util.inspect(v, { depth: 4, breakLength: Infinity, maxArrayLength: 20 });
  return s.length <= 160 ? s : s.slice(0, 160) + '...(' + s.length + ' chars)';
}

class Harness {
  constructor(name) {
    this.name = name;
    this.checks = 0;
    this.failures = [];
    this.prefix = '';
  }

  // Records one check; a failed check does not stop the family.
  check(what, cond, detail) {
    this.checks++;
    const label = this.prefix + what;
    if (cond) {
      console.log('  ok   ' + label);
    } else {
      const msg = label + (detail ? ': ' + detail : '');
      console.log('  FAIL ' + msg);
      this.failures.push(msg);
    }
    return !!cond;
  }

  eq(what, got, want) {
    return this.check(what, util.isDeepStrictEqual(got, want), 'got ' + show(got) + ', want ' + show(want));
  }

  // The error text the promise rejects with (null when it resolves): for
  // t.eq('...', await t.error(p), 'WRONGTYPE ...').
  async error(promise) {
    try {
      await promise;
    } catch (e) {
      return e && e.message !== undefined ? e.message : String(e);
    }
    return null;
  }

  // Runs each [name, fn] in turn: an exception fails that family and the next one runs.
  async run(families, ctx) {
    const t0 = Date.now();
    for (const [name, fn] of families) {
      console.log('== ' + name);
      const t = Date.now();
      this.prefix = name + ': ';
      try {
        await fn(this, ctx);
      } catch (e) {
        const msg = name + ' raised ' + (e && e.stack ? e.stack : String(e));
        console.log('  FAIL ' + msg);
        this.failures.push(msg);
      }
      this.prefix = '';
      console.log('   (' + ((Date.now() - t) / 1000).toFixed(1) + ' s)');
    }
    console.log(this.name + ': ' + this.checks + ' checks, ' + this.failures.length + ' failed, ' +
                ((Date.now() - t0) / 1000).toFixed(1) + ' s');
    for (const f of this.failures) console.log('FAILED: ' + f);
    return this.failures.length === 0 && this.checks > 0;
  }
}

// "ip:port,ip:port,..." (argv[2]) -> [{host, port}, ...]
function parseNodes(arg) {
  if (!arg) throw new Error('usage: node ' + process.argv[1] + ' HOST:PORT[,HOST:PORT...]');
  return arg.split(',').map((a) => {
    const i = a.lastIndexOf(':');
    return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
  });
}

// Polls fn() until it returns a truthy value (returned) or timeoutMs passes (throws).
async function waitUntil(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { Harness, parseNodes, waitUntil, show };
