#!/usr/bin/env node
// Smoke check of the built guests without the broker: each component of
// dist/ is transpiled to JS with `jco transpile` and called from Node.
//
//   node guest-examples/check.mjs
//
// * rust-acl, ts-acl.quickjs and ts-acl.starlingmonkey must give the SAME
//   decision for every case of the table below (and the expected one);
// * js-auth.{quickjs,starlingmonkey} follow the authentication rules;
// * the rmqtt:hooks@0.2.0 guests (rust-policy-v2, ts-jwt-auth, ts-user-table,
//   js-throw-probe) against a fake host/data/crypto: see check-lib/v2.mjs.
// The hostile guests need the broker's limits: the host tests cover them.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

import { checkV2 } from './check-lib/v2.mjs';

// QuickJS components use extended-const, behind a flag before Node 22.
if (!process.execArgv.includes('--experimental-wasm-extended-const') && Number(process.versions.node.split('.')[0]) < 22) {
  const r = spawnSync(process.execPath, ['--experimental-wasm-extended-const', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const DIST = path.join(HERE, 'dist');
const JCO = path.join(ROOT, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-check-'));
// Transpiled modules import @bytecodealliance/preview2-shim: resolve it from the repository.
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tmp, 'node_modules'));
const logs = [];
globalThis.__guestCheckLog = (level, message) => logs.push(`${level}: ${message}`);
fs.writeFileSync(
  path.join(tmp, 'host.mjs'),
  'export function log(level, message) { globalThis.__guestCheckLog(level, message); }\n' +
    'export function nowMillis() { return BigInt(Date.now()); }\n',
);

// 0.1.0 guests import host.mjs above; 0.2.0 guests every interface of check-lib/fake-host-v2.mjs.
const FAKE_V2 = pathToFileURL(path.join(HERE, 'check-lib', 'fake-host-v2.mjs')).href;
const MAPS = ['rmqtt:hooks/host@0.1.0=../host.mjs', `rmqtt:hooks/*@0.2.0=${FAKE_V2}`];

/** Transpiles dist/<name>.wasm; returns a function giving a fresh instance per call. */
function transpile(name) {
  const wasm = path.join(DIST, `${name}.wasm`);
  if (!fs.existsSync(wasm)) throw new Error(`${wasm} is missing: run node scripts/build-guests.mjs`);
  const out = path.join(tmp, name);
  const r = spawnSync(process.execPath, [JCO, 'transpile', wasm, '-o', out, '--quiet', '--name', 'guest', '--map', ...MAPS], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`jco transpile ${name}: ${r.stdout}${r.stderr}`);
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  const url = pathToFileURL(path.join(out, 'guest.js')).href;
  let n = 0;
  // A new URL is a new module: a new instance of the component.
  return () => import(`${url}?instance=${n++}`);
}

async function load(name) {
  return transpile(name)();
}

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => (b == null ? b : new TextDecoder().decode(b));
const conn = (username, password) => ({
  clientId: 'c1', username, password: password === undefined ? undefined : enc(password),
  protocolVersion: 4, keepAlive: 60, cleanStart: true,
});
const session = (username) => ({ node: 1n, clientId: 'c1', username });
const msg = (topic, payload = 'hello', qos = 'exactly-once') => ({ topic, payload: enc(payload), qos, retain: false });

// Normalise: absent options as null, payloads as strings.
const norm = (d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v instanceof Uint8Array ? dec(v) : v ?? null]));

const AUTH = [
  [conn('alice', 'demo'), { allow: true, superuser: false, reason: null }],
  [conn('admin', 'demo'), { allow: true, superuser: true, reason: null }],
  [conn('alice', 'nope'), { allow: false, superuser: false, reason: 'bad credentials' }],
  [conn(undefined, 'demo'), { allow: false, superuser: false, reason: 'bad credentials' }],
  [conn('alice', undefined), { allow: false, superuser: false, reason: 'bad credentials' }],
];
const SUB = [
  [session('alice'), { topicFilter: 'alice/#', qos: 'exactly-once' }, { allow: true, qos: 'at-least-once', reason: null }],
  [session('alice'), { topicFilter: 'server/public/x', qos: 'at-most-once' }, { allow: true, qos: 'at-most-once', reason: null }],
  [session('alice'), { topicFilter: 'bob/#', qos: 'at-least-once' }, { allow: false, qos: null, reason: 'not authorized' }],
  [session('alice'), { topicFilter: 'alice', qos: 'at-least-once' }, { allow: false, qos: null, reason: 'not authorized' }],
  [session(undefined), { topicFilter: '/x', qos: 'at-least-once' }, { allow: false, qos: null, reason: 'not authorized' }],
];
const none = { topic: null, payload: null, qos: null };
const PUB = [
  [session('alice'), msg('$SYS/x'), { allow: false, ...none, reason: 'system topic' }],
  [session('alice'), msg('bob/x'), { allow: false, ...none, reason: 'not authorized' }],
  [session('alice'), msg('alice/x'), { allow: true, ...none, reason: null }],
  [session('alice'), msg('alice/a/upper', 'Hello, wörld!'), { allow: true, topic: 'alice/a/out', payload: 'HELLO, WöRLD!', qos: 'at-least-once', reason: null }],
  [session('bob'), msg('server/public/upper', 'x', 'at-most-once'), { allow: true, topic: 'server/public/out', payload: 'X', qos: 'at-most-once', reason: null }],
  [session(undefined), msg('server/public/t'), { allow: true, ...none, reason: null }],
];

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`  ok    ${name}`);
  } catch (e) {
    failed++;
    console.log(`  FAIL  ${name}: ${e.message}`);
  }
}

try {
  for (const name of ['rust-acl', 'ts-acl.quickjs', 'ts-acl.starlingmonkey']) {
    await check(name, async () => {
      const g = await load(name);
      for (const [req, want] of AUTH) assert.deepEqual(norm(g.authenticate.authenticate(req)), want, `authenticate ${req.username}/${dec(req.password)}`);
      for (const [s, sub, want] of SUB) assert.deepEqual(norm(g.authorizeSubscribe.authorizeSubscribe(s, sub)), want, `subscribe ${sub.topicFilter}`);
      for (const [s, m, want] of PUB) assert.deepEqual(norm(g.authorizePublish.authorizePublish(s, m)), want, `publish ${m.topic}`);
      logs.length = 0;
      g.events.onEvent({ tag: 'client-connected', val: session('alice') });
      g.events.onEvent({ tag: 'session-terminated', val: { session: session('alice'), reason: 'bye' } });
      assert.deepEqual(logs, ['info: event #1: client-connected', 'info: event #2: session-terminated']);
    });
  }
  for (const name of ['js-auth.quickjs', 'js-auth.starlingmonkey']) {
    await check(name, async () => {
      const g = await load(name);
      assert.equal(g.authorizePublish, undefined);
      const d = (u, p) => norm(g.authenticate.authenticate(conn(u, p)));
      assert.deepEqual(d('alice', 'demo'), { allow: true, superuser: false, reason: null });
      assert.deepEqual(d('admin', 'demo'), { allow: true, superuser: true, reason: null });
      assert.deepEqual(d(undefined, 'demo'), { allow: true, superuser: false, reason: null });
      assert.deepEqual(d('admin', 'demö'), { allow: false, superuser: false, reason: 'bad credentials' });
      assert.deepEqual(d('admin', undefined), { allow: false, superuser: false, reason: 'bad credentials' });
      assert.ok(logs.some((l) => l.startsWith('info: js-auth: allow')), 'logs through the host');
    });
  }
  await checkV2(async (name) => transpile(name), check);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(failed ? `${failed} guest(s) failed` : 'all guests agree');
process.exit(failed ? 1 : 0);
