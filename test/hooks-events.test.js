"use strict";
// Every one of the 17 hooks fires with the documented data: shapes, types,
// clientId / username, and the broker's real node id.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { Recorder } = require("./helpers/recorder");

const ALL_HOOKS = [
  "onClientConnect",
  "onClientAuthenticate",
  "onClientConnack",
  "onSessionCreated",
  "onClientConnected",
  "onClientSubscribeAuthorize",
  "onClientSubscribe",
  "onSessionSubscribed",
  "onClientPublishAuthorize",
  "onMessagePublish",
  "onMessageDelivered",
  "onMessageAcked",
  "onMessageDropped",
  "onClientUnsubscribe",
  "onSessionUnsubscribed",
  "onClientDisconnected",
  "onSessionTerminated",
];

/** Every hook recorded; decisions allow, except publishes to hooks/denied. */
function recordingHooks(rec) {
  const hooks = {};
  for (const name of ALL_HOOKS) hooks[name] = rec.hook(name);
  hooks.onClientAuthenticate = rec.hook("onClientAuthenticate", { allow: true });
  hooks.onClientSubscribeAuthorize = rec.hook("onClientSubscribeAuthorize", { allow: true });
  hooks.onClientPublishAuthorize = rec.hook("onClientPublishAuthorize", (s, p) =>
    p.topic === "hooks/denied" ? { allow: false, reason: "denied by test" } : { allow: true },
  );
  return hooks;
}

/** The broker's node id: 1, the id of a standalone rmqtt node and the seed API's value. */
function assertNode(node, label) {
  assert.equal(node, 1, `${label}: node is the broker's node id`);
}

function assertRemoteAddr(addr, label) {
  assert.equal(typeof addr, "string", `${label}: remoteAddr is a string`);
  assert.match(addr, /127\.0\.0\.1/, `${label}: remoteAddr names the loopback client`);
}

/** SessionInfo: { node, remoteAddr, clientId, username }. */
function assertSession(s, clientId, username, label) {
  assert.ok(s && typeof s === "object", `${label}: session is an object`);
  assertNode(s.node, label);
  assertRemoteAddr(s.remoteAddr, label);
  assert.equal(s.clientId, clientId, `${label}: clientId`);
  assert.equal(s.username, username, `${label}: username`);
}

/** MessageFrom: { type, node, remoteAddr, clientId, username }. */
function assertFromClient(from, clientId, username, label) {
  assert.ok(from && typeof from === "object", `${label}: from is an object`);
  assert.equal(from.type, "client", `${label}: from.type`);
  assertNode(from.node, label);
  assertRemoteAddr(from.remoteAddr, label);
  assert.equal(from.clientId, clientId, `${label}: from.clientId`);
  assert.equal(from.username, username, `${label}: from.username`);
}

/** MessageInfo: { dup, qos, retain, topic, payload: Buffer, createTime }. */
function assertMessageInfo(msg, { topic, payload, qos }, label) {
  assert.ok(msg && typeof msg === "object", `${label}: message is an object`);
  assert.equal(msg.topic, topic, `${label}: topic`);
  assert.ok(Buffer.isBuffer(msg.payload), `${label}: payload is a Buffer`);
  assert.equal(msg.payload.toString(), payload, `${label}: payload`);
  assert.equal(msg.qos, qos, `${label}: qos`);
  assert.equal(typeof msg.dup, "boolean", `${label}: dup`);
  assert.equal(typeof msg.retain, "boolean", `${label}: retain`);
  assert.equal(typeof msg.createTime, "number", `${label}: createTime is a number`);
  assert.ok(Math.abs(msg.createTime - Date.now()) < 60_000, `${label}: createTime is epoch milliseconds, got ${msg.createTime}`);
}

test("all 17 hooks fire with the documented data for an MQTT 3.1.1 session", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: recordingHooks(rec) });

  const sub = await connectClient(t, port, {
    clientId: "hooks-sub",
    username: "alice",
    password: "alice-pw",
    keepalive: 42,
    clean: true,
    protocolVersion: 4,
  });
  const pub = await connectClient(t, port, {
    clientId: "hooks-pub",
    username: "bob",
    password: "bob-pw",
    protocolVersion: 4,
  });

  // Connection lifecycle.
  const [connect] = await rec.waitFor("onClientConnect", (i) => i.clientId === "hooks-sub");
  assertNode(connect.node, "onClientConnect");
  assertRemoteAddr(connect.remoteAddr, "onClientConnect");
  assert.equal(connect.username, "alice");
  assert.equal(connect.keepAlive, 42);
  assert.equal(connect.protoVer, 4);
  assert.equal(connect.cleanSession, true);
  assert.equal("password" in connect, false, "onClientConnect does not expose the password");

  const [auth] = await rec.waitFor("onClientAuthenticate", (a) => a.clientId === "hooks-sub");
  assert.equal(auth.username, "alice");
  assert.equal(auth.password, "alice-pw");
  assert.equal(auth.protocolVersion, 4);
  assertRemoteAddr(auth.remoteAddr, "onClientAuthenticate");
  assert.equal(auth.keepAlive, 42);
  assert.equal(auth.cleanSession, true);

  const [connack] = await rec.waitFor("onClientConnack", (i) => i.clientId === "hooks-sub");
  assert.equal(connack.connAck, "Success");
  assert.equal(connack.username, "alice");
  assert.equal(connack.protoVer, 4);
  assertNode(connack.node, "onClientConnack");

  const [created] = await rec.waitFor("onSessionCreated", (s) => s.clientId === "hooks-sub");
  assertSession(created, "hooks-sub", "alice", "onSessionCreated");
  const [connected] = await rec.waitFor("onClientConnected", (s) => s.clientId === "hooks-sub");
  assertSession(connected, "hooks-sub", "alice", "onClientConnected");

  // Subscribe.
  await sub.subscribeAsync("hooks/t", { qos: 1 });
  const [aclSession, aclSub] = await rec.waitFor("onClientSubscribeAuthorize", (s, x) => x.topicFilter === "hooks/t");
  assertSession(aclSession, "hooks-sub", "alice", "onClientSubscribeAuthorize");
  assert.deepEqual(aclSub, { topicFilter: "hooks/t", qos: 1 });
  const [subSession, subInfo] = await rec.waitFor("onClientSubscribe", (s, x) => x.topicFilter === "hooks/t");
  assertSession(subSession, "hooks-sub", "alice", "onClientSubscribe");
  assert.deepEqual(subInfo, { topicFilter: "hooks/t", qos: 1 });
  const [subdSession, subdInfo] = await rec.waitFor("onSessionSubscribed", (s, x) => x.topicFilter === "hooks/t");
  assertSession(subdSession, "hooks-sub", "alice", "onSessionSubscribed");
  assert.deepEqual(subdInfo, { topicFilter: "hooks/t", qos: 1 });

  // Publish, delivery and acknowledgement.
  const got = nextMessage(sub, "hooks/t");
  await pub.publishAsync("hooks/t", "hello hooks", { qos: 1 });
  await got;
  const [pubSession, packet] = await rec.waitFor("onClientPublishAuthorize", (s, p) => p.topic === "hooks/t");
  assertSession(pubSession, "hooks-pub", "bob", "onClientPublishAuthorize");
  assert.ok(Buffer.isBuffer(packet.payload), "onClientPublishAuthorize: payload is a Buffer");
  assert.deepEqual(
    { topic: packet.topic, payload: packet.payload.toString(), qos: packet.qos, retain: packet.retain },
    { topic: "hooks/t", payload: "hello hooks", qos: 1, retain: false },
  );

  const [mpSession, mpFrom, mpMsg] = await rec.waitFor("onMessagePublish", (s, f, m) => m.topic === "hooks/t");
  if (mpSession !== null) assertSession(mpSession, "hooks-pub", "bob", "onMessagePublish session");
  assertFromClient(mpFrom, "hooks-pub", "bob", "onMessagePublish");
  assertMessageInfo(mpMsg, { topic: "hooks/t", payload: "hello hooks", qos: 1 }, "onMessagePublish");
  assert.equal(mpMsg.retain, false);
  assert.equal(mpMsg.dup, false);

  const [dSession, dFrom, dMsg] = await rec.waitFor("onMessageDelivered", (s, f, m) => m.topic === "hooks/t");
  assertSession(dSession, "hooks-sub", "alice", "onMessageDelivered");
  assertFromClient(dFrom, "hooks-pub", "bob", "onMessageDelivered");
  assertMessageInfo(dMsg, { topic: "hooks/t", payload: "hello hooks", qos: 1 }, "onMessageDelivered");

  const [aSession, aFrom, aMsg] = await rec.waitFor("onMessageAcked", (s, f, m) => m.topic === "hooks/t");
  assertSession(aSession, "hooks-sub", "alice", "onMessageAcked");
  assertFromClient(aFrom, "hooks-pub", "bob", "onMessageAcked");
  assertMessageInfo(aMsg, { topic: "hooks/t", payload: "hello hooks", qos: 1 }, "onMessageAcked");

  // A publish the ACL denies is dropped.
  await pub.publishAsync("hooks/denied", "nope", { qos: 1 });
  const [drSession, drFrom, drMsg, drInfo] = await rec.waitFor("onMessageDropped", (s, f, m) => m.topic === "hooks/denied");
  assert.ok(drSession === null || drSession === undefined || typeof drSession === "object");
  if (drFrom !== null && drFrom !== undefined) assertFromClient(drFrom, "hooks-pub", "bob", "onMessageDropped");
  assertMessageInfo(drMsg, { topic: "hooks/denied", payload: "nope", qos: 1 }, "onMessageDropped");
  if (drInfo !== undefined && drInfo !== null && drInfo.reason !== undefined) {
    assert.equal(typeof drInfo.reason, "string", "onMessageDropped: info.reason is a string");
  }

  // Unsubscribe.
  await sub.unsubscribeAsync("hooks/t");
  const [unSession, unInfo] = await rec.waitFor("onClientUnsubscribe", (s, u) => u.topicFilter === "hooks/t");
  assertSession(unSession, "hooks-sub", "alice", "onClientUnsubscribe");
  assert.deepEqual(unInfo, { topicFilter: "hooks/t" });
  const [sunSession, sunInfo] = await rec.waitFor("onSessionUnsubscribed", (s, u) => u.topicFilter === "hooks/t");
  assertSession(sunSession, "hooks-sub", "alice", "onSessionUnsubscribed");
  assert.deepEqual(sunInfo, { topicFilter: "hooks/t" });

  // Disconnect ends the (clean) session.
  await sub.endAsync();
  const [discSession, discInfo] = await rec.waitFor("onClientDisconnected", (s) => s.clientId === "hooks-sub");
  assertSession(discSession, "hooks-sub", "alice", "onClientDisconnected");
  if (discInfo?.reason !== undefined) assert.equal(typeof discInfo.reason, "string");
  const [termSession, termInfo] = await rec.waitFor("onSessionTerminated", (s) => s.clientId === "hooks-sub");
  assertSession(termSession, "hooks-sub", "alice", "onSessionTerminated");
  if (termInfo?.reason !== undefined) assert.equal(typeof termInfo.reason, "string");

  // Every hook fired, and every node field names the same broker node.
  for (const name of ALL_HOOKS) assert.ok(rec.count(name) > 0, `${name} fired`);
  const nodes = new Set();
  for (const c of rec.calls) {
    for (const arg of c.args) if (arg && typeof arg.node === "number") nodes.add(arg.node);
  }
  assert.equal(nodes.size, 1, `one node id across all hooks, got ${[...nodes]}`);
});

test("onClientConnect and onClientAuthenticate of an MQTT 5 client report cleanStart and protocol 5", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientConnect: rec.hook("connect"),
      onClientConnack: rec.hook("connack"),
      onClientAuthenticate: rec.hook("auth", { allow: true }),
    },
  });
  await connectClient(t, port, { clientId: "v5-client", protocolVersion: 5, clean: true, username: "u5", password: "p5" });
  const [info] = await rec.waitFor("connect", (i) => i.clientId === "v5-client");
  assert.equal(info.protoVer, 5);
  assert.equal(info.cleanStart, true);
  assert.equal(info.username, "u5");
  const [auth] = await rec.waitFor("auth", (a) => a.clientId === "v5-client");
  assert.equal(auth.protocolVersion, 5);
  assert.equal(auth.password, "p5");
  const [connack] = await rec.waitFor("connack", (i) => i.clientId === "v5-client");
  assert.equal(connack.connAck, "Success");
});

test("onClientConnack reports a refused connection with a non-Success reason", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientConnack: rec.hook("connack"),
      onClientAuthenticate: () => ({ allow: false, reason: "no" }),
    },
  });
  await connectRefused(t, port, { clientId: "refused-client", username: "x", password: "y" });
  const [info] = await rec.waitFor("connack", (i) => i.clientId === "refused-client");
  assert.equal(typeof info.connAck, "string");
  assert.notEqual(info.connAck, "Success");
  assert.match(info.connAck, /BadUsernameOrPassword|NotAuthorized/);
});

test("an anonymous client's hooks see a null username", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientConnected: rec.hook("connected"), onClientConnect: rec.hook("connect") },
  });
  await connectClient(t, port, { clientId: "anon-client" });
  const [session] = await rec.waitFor("connected", (s) => s.clientId === "anon-client");
  assert.equal(session.username, null);
  const [info] = await rec.waitFor("connect", (s) => s.clientId === "anon-client");
  assert.equal(info.username, null);
});

test("onMessagePublish reports server publishes as from type system with a null session", async (t) => {
  const rec = new Recorder();
  const { server } = await startServer(t, { hooks: { onMessagePublish: rec.hook("publish") } });
  await server.publish("sys/origin", "from the server", { qos: 1, retain: true });
  const [session, from, msg] = await rec.waitFor("publish", (s, f, m) => m.topic === "sys/origin");
  assert.equal(session, null);
  assert.equal(from.type, "system");
  assertNode(from.node, "onMessagePublish system");
  assert.equal(msg.payload.toString(), "from the server");
  assert.equal(msg.qos, 1);
  assert.equal(msg.retain, true);
});

test("onMessagePublish reports a will message as from type lastwill", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: { onMessagePublish: rec.hook("publish") } });
  const doomed = await connectClient(t, port, {
    clientId: "will-origin",
    username: "wendy",
    will: { topic: "wills/origin", payload: Buffer.from("bye"), qos: 0, retain: false },
  });
  doomed.stream.destroy();
  const [, from, msg] = await rec.waitFor("publish", (s, f, m) => m.topic === "wills/origin");
  assert.equal(from.type, "lastwill");
  assert.equal(from.clientId, "will-origin");
  assert.equal(msg.payload.toString(), "bye");
});

test("onClientSubscribe and onClientUnsubscribe get the real session", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientSubscribe: rec.hook("sub"), onClientUnsubscribe: rec.hook("unsub") },
  });
  const c = await connectClient(t, port, { clientId: "real-session", username: "ruth", protocolVersion: 5 });
  await c.subscribeAsync("real/+/x", { qos: 2 });
  await c.unsubscribeAsync("real/+/x");
  const [s1, sub] = await rec.waitFor("sub");
  assertSession(s1, "real-session", "ruth", "onClientSubscribe");
  assert.deepEqual(sub, { topicFilter: "real/+/x", qos: 2 });
  const [s2, unsub] = await rec.waitFor("unsub");
  assertSession(s2, "real-session", "ruth", "onClientUnsubscribe");
  assert.deepEqual(unsub, { topicFilter: "real/+/x" });
});

test("notification hooks fire in the order the broker saw the events", async (t) => {
  const order = [];
  const hooks = {};
  for (const name of ["onClientConnect", "onClientConnack", "onClientConnected", "onSessionSubscribed", "onClientDisconnected"]) {
    hooks[name] = (x) => {
      if (x?.clientId === "ordered") order.push(name);
    };
  }
  const rec = new Recorder();
  hooks.onSessionTerminated = rec.hook("terminated");
  const { port } = await startServer(t, { hooks });
  const c = await connectClient(t, port, { clientId: "ordered" });
  await c.subscribeAsync("order/t");
  await c.endAsync();
  await rec.waitFor("terminated", (s) => s.clientId === "ordered");
  assert.deepEqual(order, [
    "onClientConnect",
    "onClientConnack",
    "onClientConnected",
    "onSessionSubscribed",
    "onClientDisconnected",
  ]);
});

test("a notification hook that throws does not disturb the broker", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientConnected: () => { throw new Error("notification boom"); },
      onMessagePublish: async () => { throw new Error("async notification boom"); },
    },
  });
  const sub = await connectClient(t, port);
  const pub = await connectClient(t, port);
  await sub.subscribeAsync("robust/t");
  const got = nextMessage(sub, "robust/t");
  await pub.publishAsync("robust/t", "still works", { qos: 1 });
  assert.equal((await got).payload.toString(), "still works");
});

test("an empty payload reaches the hooks as an empty Buffer", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: rec.hook("acl", { allow: true }),
      onMessagePublish: rec.hook("publish"),
    },
  });
  const pub = await connectClient(t, port);
  await pub.publishAsync("empty/t", "", { qos: 1 });
  const [, packet] = await rec.waitFor("acl", (s, p) => p.topic === "empty/t");
  assert.ok(Buffer.isBuffer(packet.payload));
  assert.equal(packet.payload.length, 0);
  const [, , msg] = await rec.waitFor("publish", (s, f, m) => m.topic === "empty/t");
  assert.ok(Buffer.isBuffer(msg.payload));
  assert.equal(msg.payload.length, 0);
});
