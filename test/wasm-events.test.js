"use strict";
// Notifications reach a policy's `events` export as they reach JS callbacks.
//
// 1. Kinds and counts: rust-acl.wasm logs the kind of every event it gets
//    (`event #n: <kind>`); the same client session against JS callbacks
//    yields the same kinds, as many times.
// 2. Data: event-echo.wasm logs every field of every event as canonical JSON
//    (`event-echo <case> <json>`, see guest-examples/event-echo); JS callbacks
//    format their arguments into the same JSON; the same session (with a
//    refused MQTT 5 connect and an ACL-denied publish, so all 14 notification
//    hooks fire) yields equal records, hook by hook, field by field.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, startServer, shutDown, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused, closed } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { withTimeout } = require("./helpers/wait");
const { loadGuest } = require("./helpers/policies");

/** Hook name → the WIT case name rust-acl logs. */
const KINDS = {
  onClientConnect: "client-connect",
  onClientConnack: "client-connack",
  onClientConnected: "client-connected",
  onSessionCreated: "session-created",
  onClientSubscribe: "client-subscribe",
  onSessionSubscribed: "session-subscribed",
  onMessagePublish: "message-publish",
  onMessageDelivered: "message-delivered",
  onMessageAcked: "message-acked",
  onClientUnsubscribe: "client-unsubscribe",
  onSessionUnsubscribed: "session-unsubscribed",
  onClientDisconnected: "client-disconnected",
};

/** One client: connect, subscribe, publish to itself at QoS 1, unsubscribe, disconnect. */
async function session(t, port) {
  const c = await connectClient(t, port, { username: "alice", password: "demo" });
  await c.subscribeAsync("alice/echo", { qos: 1 });
  const got = nextMessage(c, "alice/echo");
  await c.publishAsync("alice/echo", "hi", { qos: 1 });
  await got;
  await c.unsubscribeAsync("alice/echo");
  const gone = closed(c);
  c.end();
  await gone;
}

/** Resolves once `kinds()` has `n` entries of `kind`. */
async function until(kinds, kind, what) {
  await withTimeout(
    new Promise((resolve) => {
      const poll = () => (kinds().includes(kind) ? resolve() : setImmediate(poll));
      poll();
    }),
    what,
  );
}

test("a policy's events export and JS callbacks see the same notifications", async (t) => {
  const acl = await loadGuest(t, "rust-acl.wasm");

  const logs = captureLogs();
  const wasm = await startServer(t, {
    logger: logs.logger,
    hooks: Object.fromEntries(Object.keys(KINDS).map((h) => [h, acl])),
  });
  await session(t, wasm.port);
  const wasmKinds = () =>
    logs.records
      .filter((r) => r.target.includes("[rust-acl]"))
      .map((r) => /event #\d+: (\S+)/.exec(r.message)?.[1])
      .filter(Boolean);
  await until(wasmKinds, "client-disconnected", "the wasm disconnect event");

  const jsKindsSeen = [];
  const js = await startServer(t, {
    hooks: Object.fromEntries(Object.entries(KINDS).map(([h, kind]) => [h, () => jsKindsSeen.push(kind)])),
  });
  await session(t, js.port);
  await until(() => jsKindsSeen, "client-disconnected", "the JS disconnect event");

  const sorted = (a) => [...a].sort();
  assert.deepEqual(sorted(wasmKinds()), sorted(jsKindsSeen));
  for (const kind of ["client-connected", "session-subscribed", "message-publish", "message-delivered"]) {
    assert.ok(jsKindsSeen.includes(kind), `${kind} was notified`);
  }
  // The stats count the same notifications per hook on each backend.
  const counts = (server, backend) =>
    Object.fromEntries(server.stats().hooks.filter((r) => r.backend === backend).map((r) => [r.hook, r.calls]));
  assert.deepEqual(counts(wasm.server, "wasm"), counts(js.server, "js"));
});

// ---------------------------------------------------------------------------
// 2. Field by field: event-echo.wasm against JS callbacks.

/** Hook name → the WIT `event` case; all 14 notification hooks. */
const CASES = {
  ...KINDS,
  onSessionTerminated: "session-terminated",
  onMessageDropped: "message-dropped",
};

/** Checks that a JS argument has exactly `keys` (so no field escapes the comparison). */
function exactKeys(obj, keys, what) {
  assert.deepEqual(Object.keys(obj).sort(), [...keys].sort(), `${what}: fields`);
}

// The canonical records of event-echo (guest-examples/event-echo/src/lib.rs),
// built from the JS callbacks' arguments. Differences of shape between the JS
// API and the WIT, none of them a loss of data:
// - an absent `tenant` is omitted in JS, `none` in the WIT: null here;
// - ConnectInfo's `protoVer` is `protocol-version` in the WIT, and JS names
//   the clean flag `cleanSession` (3.x) or `cleanStart` (5), the WIT always
//   `clean-start`;
// - MessageFrom's `type` is `kind` in the WIT;
// - the `{ reason? }` info argument is an `option<string>` field in the WIT.
const canon = {
  session(s, what = "session") {
    assert.ok(s && typeof s === "object", `${what} is an object`);
    exactKeys(s, ["node", "remoteAddr", "clientId", "username", ...("tenant" in s ? ["tenant"] : [])], what);
    return { node: s.node, clientId: s.clientId, username: s.username, remoteAddr: s.remoteAddr, tenant: s.tenant ?? null };
  },
  connectInfo(c, extra = []) {
    const clean = c.protoVer >= 5 ? "cleanStart" : "cleanSession";
    exactKeys(c, ["node", "remoteAddr", "clientId", "username", "keepAlive", "protocolVersion", "protoVer", clean, ...("tenant" in c ? ["tenant"] : []), ...extra], "connect info");
    return {
      node: c.node,
      clientId: c.clientId,
      username: c.username,
      remoteAddr: c.remoteAddr,
      keepAlive: c.keepAlive,
      protocolVersion: c.protoVer,
      cleanStart: c[clean],
      tenant: c.tenant ?? null,
    };
  },
  subscription(sub) {
    exactKeys(sub, ["topicFilter", "qos"], "subscription");
    return { topicFilter: sub.topicFilter, qos: sub.qos };
  },
  topicFilter(unsub) {
    exactKeys(unsub, ["topicFilter"], "unsubscription");
    return unsub.topicFilter;
  },
  reason(info) {
    exactKeys(info ?? {}, info?.reason === undefined ? [] : ["reason"], "reason info");
    return info?.reason ?? null;
  },
  from(f) {
    exactKeys(f, ["type", "node", "remoteAddr", "clientId", "username"], "message from");
    return { kind: f.type, node: f.node, clientId: f.clientId, username: f.username, remoteAddr: f.remoteAddr };
  },
  message(m) {
    exactKeys(m, ["dup", "qos", "retain", "topic", "payload", "createTime", "properties"], "message info");
    assert.ok(Buffer.isBuffer(m.payload), "payload is a Buffer");
    return { dup: m.dup, qos: m.qos, retain: m.retain, topic: m.topic, payload: m.payload.toString("hex"), createTime: m.createTime };
  },
};

/** Hook name → (callback arguments) → the canonical record event-echo logs. */
const FORMAT = {
  onClientConnect: (info) => canon.connectInfo(info),
  onClientConnack: (info) => ({ info: canon.connectInfo(info, ["connAck"]), connAck: info.connAck }),
  onClientConnected: (s) => canon.session(s),
  onSessionCreated: (s) => canon.session(s),
  onClientDisconnected: (s, info) => ({ session: canon.session(s), reason: canon.reason(info) }),
  onSessionTerminated: (s, info) => ({ session: canon.session(s), reason: canon.reason(info) }),
  onClientSubscribe: (s, sub) => ({ session: canon.session(s), subscription: canon.subscription(sub) }),
  onSessionSubscribed: (s, sub) => ({ session: canon.session(s), subscription: canon.subscription(sub) }),
  onClientUnsubscribe: (s, unsub) => ({ session: canon.session(s), topicFilter: canon.topicFilter(unsub) }),
  onSessionUnsubscribed: (s, unsub) => ({ session: canon.session(s), topicFilter: canon.topicFilter(unsub) }),
  onMessagePublish: (s, f, m) => ({ session: s === null ? null : canon.session(s), from: canon.from(f), message: canon.message(m) }),
  onMessageDelivered: (s, f, m) => ({ session: canon.session(s), from: canon.from(f), message: canon.message(m) }),
  onMessageAcked: (s, f, m) => ({ session: canon.session(s), from: canon.from(f), message: canon.message(m) }),
  onMessageDropped: (s, f, m, info) => ({
    session: s === null ? null : canon.session(s),
    from: f === null ? null : canon.from(f),
    message: canon.message(m),
    reason: canon.reason(info),
  }),
};

/** Decision hooks, JS on both servers: mallory is refused, publishes to echo/denied are dropped. */
const DECISIONS = {
  onClientAuthenticate: (req) =>
    req.username === "mallory" ? { allow: false, reason: "refused by test" } : { allow: true },
  onClientPublishAuthorize: (_s, msg) =>
    msg.topic === "echo/denied" ? { allow: false, reason: "denied by test" } : { allow: true },
};

/** Payload with bytes that are not UTF-8, so a lossy conversion would show. */
const PAYLOAD = Buffer.from([0x00, 0x68, 0x69, 0xff, 0xfe, 0x0a]);

/**
 * The session whose notifications are compared: a refused MQTT 5 connect
 * (client-connect and a failed client-connack, clean-start), then one MQTT
 * 3.1.1 client: connect, subscribe at QoS 1, publish to itself at QoS 1,
 * receive, publish a denied message (message-dropped), unsubscribe,
 * disconnect (client-disconnected, session-terminated). Fixed client ids,
 * so both runs carry the same ones.
 */
async function echoSession(t, port) {
  await connectRefused(t, port, {
    clientId: "echo-refused",
    username: "mallory",
    password: "x",
    protocolVersion: 5,
    keepalive: 17,
  });
  const c = await connectClient(t, port, { clientId: "echo-c1", username: "alice", password: "demo", keepalive: 42 });
  await c.subscribeAsync("echo/t", { qos: 1 });
  const got = nextMessage(c, "echo/t");
  await c.publishAsync("echo/t", PAYLOAD, { qos: 1 });
  assert.deepEqual((await got).payload, PAYLOAD);
  await c.publishAsync("echo/denied", "nope", { qos: 1 });
  await c.unsubscribeAsync("echo/t");
  const gone = closed(c);
  c.end();
  await gone;
}

/** Resolves once `ready()` is true (polled on every turn of the event loop). */
function untilTrue(ready, what) {
  return withTimeout(
    new Promise((resolve) => {
      const poll = () => (ready() ? resolve() : setImmediate(poll));
      poll();
    }),
    what,
  );
}

/** Records by case: `{ [case]: record[] }`, in arrival order. */
function byCase(entries) {
  const out = {};
  for (const [kind, record] of entries) (out[kind] ??= []).push(record);
  return out;
}

/**
 * What legitimately differs between the two runs, cleared after checking it:
 * - remoteAddr: the client's ephemeral port differs per connection (the
 *   address itself is compared);
 * - createTime: the wall clock of each run (checked to lie within the run).
 * `node` is compared as is: both servers run in this process, with the same
 * node id.
 */
function normalize(value, window) {
  if (Array.isArray(value)) return value.map((v) => normalize(v, window));
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "remoteAddr" && typeof v === "string") {
      assert.match(v, /^127\.0\.0\.1:\d+$/, "remoteAddr is the loopback client's address");
      out[k] = v.replace(/:\d+$/, ":<port>");
    } else if (k === "createTime") {
      assert.ok(Number.isInteger(v) && v >= window.start - 1000 && v <= window.end + 1000, `createTime ${v} within the run`);
      out[k] = "<time>";
    } else {
      out[k] = normalize(v, window);
    }
  }
  return out;
}

/**
 * Starts a server whose hooks are `hooks`: on the default broker, or (with
 * `tenant`) on that tenant, reached through a listener bound to it.
 */
async function startRun(t, hooks, { tenant, logger } = {}) {
  if (!tenant) return startServer(t, { hooks, logger });
  const server = new MqttServer(logger ? { logger } : undefined);
  t.after(() => shutDown(server));
  await server.addTenant(tenant, { hooks });
  await server.start({ listeners: [tcpListener({ tenant })] });
  return { server, port: server.listeners[0].port };
}

/** Runs echoSession against JS callbacks, then against event-echo.wasm, and compares. */
async function compareRuns(t, { tenant } = {}) {
  // JS callbacks first: they tell how many of each notification to expect.
  const jsSeen = [];
  const jsWindow = { start: Date.now() };
  const jsHooks = { ...DECISIONS };
  for (const [hook, kind] of Object.entries(CASES)) {
    jsHooks[hook] = (...args) => {
      let record;
      try {
        record = FORMAT[hook](...args);
      } catch (err) {
        record = { formatError: String(err?.message ?? err) };
      }
      jsSeen.push([kind, record]);
    };
  }
  const js = await startRun(t, jsHooks, { tenant });
  await echoSession(t, js.port);
  const jsHas = (kind, clientId) => jsSeen.some(([k, r]) => k === kind && (r.session ?? r).clientId === clientId);
  await untilTrue(
    () => Object.values(CASES).every((k) => jsSeen.some(([seen]) => seen === k)) && jsHas("session-terminated", "echo-c1"),
    () => `every JS notification (seen: ${[...new Set(jsSeen.map(([k]) => k))].join(", ")})`,
  );
  jsWindow.end = Date.now();

  // The same session with the notifications bound to event-echo.wasm.
  const echo = await loadGuest(t, "event-echo.wasm");
  const logs = captureLogs();
  const wasmWindow = { start: Date.now() };
  const wasm = await startRun(
    t,
    { ...DECISIONS, ...Object.fromEntries(Object.keys(CASES).map((h) => [h, echo])) },
    { tenant, logger: logs.logger },
  );
  await echoSession(t, wasm.port);
  const wasmSeen = () =>
    logs.records
      .filter((r) => r.target.includes("[event-echo]"))
      .map((r) => /event-echo (\S+) (\{.*\})$/s.exec(r.message))
      .filter(Boolean)
      .map(([, kind, json]) => [kind, JSON.parse(json)]);
  const counts = (entries) => {
    const n = {};
    for (const [k] of entries) n[k] = (n[k] ?? 0) + 1;
    return n;
  };
  await untilTrue(
    () => Object.entries(counts(jsSeen)).every(([k, n]) => (counts(wasmSeen())[k] ?? 0) >= n),
    () => `the policy's lines (${JSON.stringify(counts(wasmSeen()))}, JS: ${JSON.stringify(counts(jsSeen))})`,
  );
  wasmWindow.end = Date.now();

  for (const [kind, record] of jsSeen) assert.equal(record.formatError, undefined, `JS ${kind}: ${record.formatError}`);
  const jsByCase = byCase(jsSeen.map(([k, r]) => [k, normalize(r, jsWindow)]));
  const wasmByCase = byCase(wasmSeen().map(([k, r]) => [k, normalize(r, wasmWindow)]));
  assert.deepEqual(Object.keys(wasmByCase).sort(), Object.values(CASES).sort(), "every case reached the policy");
  for (const kind of Object.values(CASES)) {
    assert.deepEqual(wasmByCase[kind], jsByCase[kind], `${kind}: policy records equal the JS ones`);
  }
  return jsByCase;
}

test("a policy's events export and JS callbacks get the same data, field by field", async (t) => {
  const records = await compareRuns(t);
  // Spot checks that the session really carried the data compared above.
  const pub = records["message-publish"].find((r) => r.message.topic === "echo/t");
  assert.equal(pub.message.payload, PAYLOAD.toString("hex"));
  assert.equal(pub.message.qos, 1);
  assert.equal(pub.session.username, "alice");
  const refused = records["client-connack"].find((r) => r.info.clientId === "echo-refused");
  assert.equal(refused.info.protocolVersion, 5);
  assert.equal(refused.info.keepAlive, 17);
  assert.notEqual(refused.connAck, "Success");
  assert.equal(records["message-dropped"][0].message.topic, "echo/denied");
  assert.equal(records["session-subscribed"][0].subscription.qos, 1);
  assert.equal(records["client-connected"][0].tenant, null);
});

test("the same holds for a tenant's hooks, tenant field included", async (t) => {
  const records = await compareRuns(t, { tenant: "acme" });
  assert.equal(records["client-connected"][0].tenant, "acme");
  assert.equal(records["client-connect"][0].tenant, "acme");
});
