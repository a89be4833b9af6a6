// The rmqtt:hooks@0.2.0 guests of check.mjs: rust-policy-v2, ts-jwt-auth,
// ts-user-table (both engines: the same answers), js-throw-probe (what a
// throw in a JS export becomes, per engine).
//
// `load(name, { v2: true })` gives a function returning a FRESH instance of
// the transpiled component each call (a trap poisons an instance for good).
// Results of result-returning exports are compared as { ok }, { err } or
// { trap } (see `outcome`).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { pbkdf2Hash, signJwt } from './fake-host-v2.mjs';

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);
const hex = (b) => Buffer.from(b).toString('hex');

/** The fake broker's state for the next calls (see fake-host-v2.mjs). */
export function resetState({ config, data = {} } = {}) {
  const s = { config, data: new Map(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? enc(v) : v])), logs: [] };
  globalThis.__guestCheckV2 = s;
  return s;
}

/** Absent options as null, bytes as strings, recursively through records. */
function norm(v) {
  if (v instanceof Uint8Array) return dec(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v != null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v ?? null;
}

/** A call of a result-returning export: { ok: value } | { err: string } | { trap: message }. */
function outcome(fn) {
  try {
    return { ok: norm(fn()) };
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) return { trap: e.message };
    if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) return { err: e.payload };
    throw e;
  }
}

const NO_PROPS = {
  userProperties: [],
  contentType: undefined,
  responseTopic: undefined,
  correlationData: undefined,
  payloadFormatIndicator: undefined,
  messageExpiryInterval: undefined,
};

const conn = (username, password, userProperties = []) => ({
  clientId: 'c1',
  username,
  password: password == null ? undefined : enc(password),
  protocolVersion: 5,
  keepAlive: 60,
  cleanStart: true,
  userProperties,
});
const session = (username) => ({ node: 1n, clientId: 'c1', username });
const msg = (topic, payload = 'hello', props = {}) => ({
  topic,
  payload: enc(payload),
  qos: 'at-least-once',
  retain: false,
  properties: { ...NO_PROPS, ...props },
});
const sub = (topicFilter) => ({ topicFilter, qos: 'at-least-once' });

const KEY = 'check-secret';
const hour = () => Math.floor(Date.now() / 1000) + 3600;
const allowAuth = (superuser = false) => ({ ok: { allow: true, superuser, reason: null } });
const denyAuth = (reason) => ({ ok: { allow: false, superuser: false, reason } });
const allowSub = { ok: { allow: true, qos: null, reason: null } };
const denySub = { ok: { allow: false, qos: null, reason: 'not authorized' } };
const pubOf = (d) => ({ ok: { allow: true, topic: null, payload: null, qos: null, reason: null, userProperties: null, ...d } });
const denyPub = (reason = 'not authorized') => ({
  ok: { allow: false, topic: null, payload: null, qos: null, reason, userProperties: null },
});

async function rustPolicyV2(fresh) {
  const g = await fresh();
  // init
  let s = resetState();
  assert.deepEqual(outcome(() => g.lifecycle.init()), { ok: null }, 'init without config');
  assert.deepEqual(s.logs, ['info: rust-policy-v2 init: config none']);
  resetState({ config: 'not json' });
  assert.deepEqual(outcome(() => g.lifecycle.init()), { err: 'config is not JSON' });
  resetState({ config: '{"failInit":"refused at init"}' });
  assert.deepEqual(outcome(() => g.lifecycle.init()), { err: 'refused at init' });
  resetState({ config: `{"jwtKey":"${KEY}"}` });
  assert.deepEqual(outcome(() => g.lifecycle.init()), { ok: null });

  // authenticate: throw, user property, JWT (config key, data key, no key), user table
  const auth = (req) => outcome(() => g.authenticate.authenticate(req));
  assert.deepEqual(auth(conn('throw', 'x')), { err: 'refused by policy error' });
  assert.deepEqual(auth(conn('jwt', 'x', [['a', 'b'], ['deny', '1']])), denyAuth('user property'));
  const admin = signJwt({ sub: 'jwt', role: 'admin', exp: hour() }, KEY);
  const plain = signJwt({ sub: 'jwt', exp: hour() }, KEY);
  assert.deepEqual(auth(conn('jwt', admin)), allowAuth(true), 'jwt admin, key from config');
  assert.deepEqual(auth(conn('jwt', plain)), allowAuth(false), 'jwt, key from config');
  assert.deepEqual(auth(conn('jwt', signJwt({ sub: 'jwt' }, 'other'))), denyAuth('bad signature'));
  assert.deepEqual(auth(conn('jwt', signJwt({ exp: 1000 }, KEY))), denyAuth('token expired'));
  resetState({ data: { 'jwt-key': KEY } });
  assert.deepEqual(auth(conn('jwt', plain)), allowAuth(false), 'jwt, key from data');
  resetState({ config: '{"jwtKey": 5}' });
  assert.deepEqual(auth(conn('jwt', plain)), { err: 'no jwt key (config jwtKey or data jwt-key)' });
  resetState({ data: { 'user:alice': pbkdf2Hash('pw-alice') } });
  assert.deepEqual(auth(conn('alice', 'pw-alice')), allowAuth(false), 'user table');
  assert.deepEqual(auth(conn('alice', 'nope')), denyAuth('bad credentials'));
  assert.deepEqual(auth(conn('alice', undefined)), denyAuth('bad credentials'));
  assert.deepEqual(auth(conn('carol', 'x')), denyAuth('unknown user'));
  assert.deepEqual(auth(conn(undefined, 'x')), denyAuth('unknown user'));

  // authorize-subscribe
  resetState({ data: { 'acl:alice': 'alice/, public/ ,', 'hmac-key': 'k' } });
  const subscribe = (u, f) => outcome(() => g.authorizeSubscribe.authorizeSubscribe(session(u), sub(f)));
  assert.deepEqual(subscribe('alice', 'alice/#'), allowSub);
  assert.deepEqual(subscribe('alice', 'public/x'), allowSub);
  assert.deepEqual(subscribe('alice', 'bob/x'), denySub);
  assert.deepEqual(subscribe('bob', 'alice/x'), denySub);
  assert.deepEqual(subscribe(undefined, 'alice/x'), denySub);
  assert.deepEqual(subscribe('throw', 'alice/x'), { err: 'refused by policy error' });

  // authorize-publish: ACL, content type in the reason, trace, /hash, /hmac
  const publish = (u, m) => outcome(() => g.authorizePublish.authorizePublish(session(u), m));
  assert.deepEqual(publish('alice', msg('bob/x')), denyPub());
  assert.deepEqual(publish('alice', msg('bob/x', 'x', { contentType: 'text/plain' })), denyPub('not authorized (content-type text/plain)'));
  assert.deepEqual(publish('alice', msg('alice/x')), pubOf({}));
  assert.deepEqual(
    publish('alice', msg('alice/x', 'x', { userProperties: [['trace', '1'], ['a', 'b']] })),
    pubOf({ userProperties: [['trace', '1'], ['a', 'b'], ['seen-by', 'rust-policy-v2']] }),
  );
  assert.deepEqual(publish('alice', msg('alice/x/hash', 'abc')), pubOf({ payload: hex(crypto.createHash('sha256').update('abc').digest()) }));
  assert.deepEqual(
    publish('alice', msg('public/x/hmac', 'abc')),
    pubOf({ payload: crypto.createHmac('sha256', 'k').update('abc').digest('hex') }),
  );
  resetState({ data: { 'acl:alice': 'alice/' } });
  assert.deepEqual(publish('alice', msg('alice/hmac')), { err: 'no hmac-key in data' });
  assert.deepEqual(publish('throw', msg('alice/x')), { err: 'refused by policy error' });

  // events: one line per event, message properties included
  s = resetState();
  const props = { userProperties: [['k', 'v']], contentType: 'text/plain', correlationData: enc('id'), messageExpiryInterval: 30 };
  const from = { kind: 'client', node: 1n, clientId: 'c1', username: 'alice' };
  const info = { dup: false, qos: 'at-least-once', retain: true, topic: 't/1', payload: enc('hi'), createTime: 5n, properties: { ...NO_PROPS, ...props } };
  g.events.onEvent({ tag: 'client-connected', val: session('alice') });
  g.events.onEvent({ tag: 'message-publish', val: { session: session('alice'), from, message: info } });
  assert.equal(s.logs.length, 2);
  assert.match(s.logs[0], /^info: rust-policy-v2 client-connected \{/);
  const [, json] = /^info: rust-policy-v2 message-publish (.*)$/.exec(s.logs[1]);
  assert.deepEqual(JSON.parse(json).message, {
    dup: false,
    qos: 1,
    retain: true,
    topic: 't/1',
    payload: hex(enc('hi')),
    createTime: 5,
    properties: {
      userProperties: [['k', 'v']],
      contentType: 'text/plain',
      responseTopic: null,
      correlationData: hex(enc('id')),
      payloadFormatIndicator: null,
      messageExpiryInterval: 30,
    },
  });
}

/** Runs `cases` against each engine's build and checks that both answer the same. */
async function sameOnBothEngines(freshes, cases) {
  const answers = [];
  for (const fresh of freshes) answers.push(await cases(fresh));
  for (const a of answers.slice(1)) assert.deepEqual(a, answers[0], 'the engines disagree');
}

async function tsJwtAuth(fresh) {
  const g = await fresh();
  const auth = (req) => outcome(() => g.authenticate.authenticate(req));
  const got = [];
  const alice = signJwt({ sub: 'alice', exp: hour() }, KEY);
  resetState({ config: JSON.stringify({ jwtKey: KEY }) });
  got.push(assertEq(auth(conn('alice', alice)), allowAuth(false)));
  got.push(assertEq(auth(conn('alice', signJwt({ sub: 'alice', role: 'admin' }, KEY))), allowAuth(true)));
  got.push(assertEq(auth(conn('bob', alice)), denyAuth("username does not match the token's sub")));
  got.push(assertEq(auth(conn('alice', signJwt({ sub: 'alice' }, 'wrong'))), denyAuth('bad signature')));
  got.push(assertEq(auth(conn('alice', signJwt({ sub: 'alice', exp: 1000 }, KEY))), denyAuth('token expired')));
  got.push(assertEq(auth(conn('alice', 'not-a-jwt')), denyAuth('malformed token: not three parts')));
  got.push(assertEq(auth(conn('alice', undefined)), denyAuth('password must be a UTF-8 JWT')));
  got.push(assertEq(auth(conn(undefined, alice)), denyAuth('username required')));
  resetState({ data: { 'jwt-key': KEY } });
  got.push(assertEq(auth(conn('alice', alice)), allowAuth(false)));
  resetState();
  got.push(assertEq(auth(conn('alice', alice)), { err: 'ts-jwt-auth: no jwt key (config jwtKey or data jwt-key)' }));
  resetState({ config: 'nope' });
  got.push(assertEq(auth(conn('alice', alice)), { err: 'ts-jwt-auth: config is not JSON' }));

  const s = resetState({ data: { 'acl:alice': '["alice/", "public/"]', 'acl:mallory': '[oops', 'acl:eve': '{"a":1}' } });
  const subscribe = (u, f) => outcome(() => g.authorizeSubscribe.authorizeSubscribe(session(u), sub(f)));
  const publish = (u, t) => outcome(() => g.authorizePublish.authorizePublish(session(u), msg(t)));
  got.push(assertEq(subscribe('alice', 'alice/#'), allowSub));
  got.push(assertEq(subscribe('alice', 'public/a'), allowSub));
  got.push(assertEq(subscribe('alice', 'bob/#'), denySub));
  got.push(assertEq(subscribe('bob', 'alice/#'), denySub));
  got.push(assertEq(subscribe(undefined, 'alice/#'), denySub));
  got.push(assertEq(publish('alice', 'alice/x'), { ok: { allow: true, topic: null, payload: null, qos: null, reason: null, userProperties: null } }));
  got.push(assertEq(publish('alice', 'bob/x'), denyPub()));
  const bad = subscribe('mallory', 'x');
  assert.match(bad.err ?? '', /^ts-jwt-auth: acl:mallory is not JSON \(.+\)$/, JSON.stringify(bad));
  got.push(assertEq(publish('eve', 'x'), { err: 'ts-jwt-auth: acl:eve must be a JSON array of strings' }));
  got.push(assertEq(subscribe('alice', 'alice/#'), allowSub)); // an err leaves the instance usable
  assert.ok(s.logs.length === 0, 'ACL calls do not log');
  return got;
}

async function tsUserTable(fresh) {
  const g = await fresh();
  const got = [];
  resetState({
    data: {
      'user:alice': pbkdf2Hash('pw-alice'),
      'user:bob': '$argon2id$v=19$m=19456,t=2,p=1$c3R1YnNhbHRzdHVic2FsdA$c3R1Yi1oYXNoLW5vdC1yZWFsbHktY29tcHV0ZWQtMzI',
      'user:bin': new Uint8Array([0xff, 0xfe]),
      'acl:alice': '{"pub": ["alice/"], "sub": ["alice/", "public/"]}',
      'acl:bob': '{"sub": ["bob/"]}',
      'acl:mallory': '{oops',
      'acl:eve': '{"pub": "alice/"}',
      'acl:zed': '[1]',
    },
  });
  const auth = (u, p) => outcome(() => g.authenticate.authenticate(conn(u, p)));
  got.push(assertEq(auth('alice', 'pw-alice'), allowAuth(false)));
  got.push(assertEq(auth('alice', 'nope'), denyAuth('bad credentials')));
  got.push(assertEq(auth('alice', undefined), denyAuth('bad credentials')));
  got.push(assertEq(auth('bob', 'pw-bob'), allowAuth(false)));
  got.push(assertEq(auth('carol', 'x'), denyAuth('unknown user')));
  got.push(assertEq(auth(undefined, 'x'), denyAuth('unknown user')));
  got.push(assertEq(auth('bin', 'x'), { err: 'ts-user-table: user:bin is not UTF-8' }));
  const subscribe = (u, f) => outcome(() => g.authorizeSubscribe.authorizeSubscribe(session(u), sub(f)));
  const publish = (u, t) => outcome(() => g.authorizePublish.authorizePublish(session(u), msg(t)));
  const allowPub = { ok: { allow: true, topic: null, payload: null, qos: null, reason: null, userProperties: null } };
  got.push(assertEq(subscribe('alice', 'public/news'), allowSub));
  got.push(assertEq(publish('alice', 'public/news'), denyPub()));
  got.push(assertEq(publish('alice', 'alice/x'), allowPub));
  got.push(assertEq(publish('bob', 'bob/x'), denyPub()));
  got.push(assertEq(subscribe('bob', 'bob/x'), allowSub));
  got.push(assertEq(subscribe('carol', 'x'), denySub));
  got.push(assertEq(subscribe(undefined, 'x'), denySub));
  // a malformed value in data: JSON.parse throws a SyntaxError inside the guest -> err
  const bad = publish('mallory', 'x');
  assert.match(bad.err ?? '', /^ts-user-table: .+/, JSON.stringify(bad));
  got.push(assertEq(publish('eve', 'x'), { err: 'ts-user-table: acl:eve: "pub" and "sub" must be arrays of strings' }));
  got.push(assertEq(subscribe('zed', 'x'), { err: 'ts-user-table: acl:zed must be a JSON object' }));
  got.push(assertEq(publish('alice', 'alice/x'), allowPub)); // the instance survived the errs
  return got;
}

function assertEq(actual, expected) {
  assert.deepEqual(actual, expected);
  return actual;
}

/**
 * What each engine makes of a throw in an export returning
 * `result<auth-decision, string>`, and of an `err` from an import. A change
 * here means jco / componentize changed: update ../ts-lib/errors.ts and the
 * README.
 */
const PROBE = {
  quickjs: {
    string: { err: 'thrown string' },
    error: { err: 'thrown Error' },
    payload: { err: 'thrown payload' },
    number: 'trap',
    importErr: 'object Error payload="bad signature" message="bad signature" string="Error: bad signature"',
  },
  starlingmonkey: {
    string: { err: 'thrown string' },
    error: 'trap',
    payload: { err: 'thrown payload' },
    number: 'trap',
    importErr: 'object ComponentError payload="bad signature" message="bad signature" string="Error: bad signature"',
  },
};

async function throwProbe(engine, fresh) {
  const want = PROBE[engine];
  resetState();
  for (const u of ['string', 'error', 'payload', 'number']) {
    const g = await fresh();
    const got = outcome(() => g.authenticate.authenticate(conn(u, 'x')));
    if (want[u] === 'trap') assert.ok(got.trap, `${u}: expected a trap, got ${JSON.stringify(got)}`);
    else assert.deepEqual(got, want[u], u);
  }
  const g = await fresh();
  assert.deepEqual(outcome(() => g.authenticate.authenticate(conn('jwt', signJwt({}, 'not-probe-key')))), denyAuth(want.importErr));
  assert.deepEqual(outcome(() => g.authenticate.authenticate(conn('jwt', signJwt({ a: 1 }, 'probe-key')))), {
    ok: { allow: true, superuser: false, reason: 'claims {"a":1}' },
  });
}

/** Runs the 0.2.0 checks through `check(name, fn)`; `load(name)` gives a fresh-instance factory. */
export async function checkV2(load, check) {
  await check('rust-policy-v2', async () => rustPolicyV2(await load('rust-policy-v2')));
  for (const [name, cases] of [
    ['ts-jwt-auth', tsJwtAuth],
    ['ts-user-table', tsUserTable],
  ]) {
    await check(`${name}.{quickjs,starlingmonkey}`, async () => {
      await sameOnBothEngines([await load(`${name}.quickjs`), await load(`${name}.starlingmonkey`)], cases);
    });
  }
  for (const engine of ['quickjs', 'starlingmonkey']) {
    await check(`js-throw-probe.${engine}`, async () => throwProbe(engine, await load(`js-throw-probe.${engine}`)));
  }
}
