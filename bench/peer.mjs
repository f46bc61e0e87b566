// peer.mjs - runs one bench workload in the peer, aws-local-stepfunctions
// (npm, v3, installed by `make bench` into bench/.peer/), and prints
//
//   @seconds T      performance.now() around machine.run() (see below)
//   OUTPUT          the execution's output, compact JSON with sorted keys
//
// Usage: node bench/peer.mjs WORKLOAD SIZE (WORKLOAD and SIZE as for
// bench/ours.lua, whose Lua handlers the ones below mirror). The peer
// wants Node 22; on Node 20 it runs once Promise.withResolvers exists, so
// it is polyfilled before the peer is loaded.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

const here = dirname(fileURLToPath(import.meta.url));
const peerDir = process.env.BENCH_PEER_DIR || join(here, '.peer');
const peerMain = join(peerDir, 'node_modules', 'aws-local-stepfunctions',
                      'build', 'main.node.esm.js');
const { StateMachine } = await import(pathToFileURL(peerMain).href);

const [workload, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
if (!workload || !Number.isInteger(size)) {
  process.stderr.write('usage: node bench/peer.mjs WORKLOAD SIZE\n');
  process.exit(2);
}

const definition = JSON.parse(
  readFileSync(join(here, 'workloads', `${workload}.asl.json`), 'utf8'));

// Twins of bench/tasks/BenchIncr.lua and BenchDouble.lua, keyed by the
// Task state's name as taskResourceLocalHandlers wants.
const handlers = {
  Incr: (event) => ({ i: event.i + 1, n: event.n }),
  Double: (event) => event * 2,
};

let input;
if (workload.startsWith('map')) {
  input = { items: Array.from({ length: size }, (_, i) => i) };
} else if (workload === 'startup') {
  input = {};
} else {
  input = { n: size };
}

// Compact JSON with sorted keys, as moonstep.json.encode(v, {sort = true}).
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

// The constructor validates the definition (about 0.35 s on every
// construction on the reference machine); that is left out of the timing,
// which is the run alone. Ours includes its load and validation.
const machine = new StateMachine(definition);
const t0 = performance.now();
const output = await machine.run(input, {
  overrides: { taskResourceLocalHandlers: handlers },
}).result;
const t1 = performance.now();

process.stdout.write(`@seconds ${((t1 - t0) / 1000).toFixed(6)}\n`);
process.stdout.write(`${canonical(output)}\n`);
