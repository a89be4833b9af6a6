"use strict";
// setHooks binds the hooks it names and keeps the others (as in the seed API:
// one call per concern adds up), `null` unbinds one, `{ replace: true }`
// replaces the whole set; before start or while running, and a change while
// running takes effect without disconnecting anyone.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, startServer, shutDown, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { Recorder } = require("./helpers/recorder");

/**
 * A server whose hooks record publishes and deny every subscription, and a
 * client whose subscription to `topic` was denied once.
 */
async function startWithDenyingAcl(t, topic) {
  const first = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: {
      onMessagePublish: first.hook("publish"),
      onClientSubscribeAuthorize: first.hook("subAcl", { allow: false }),
    },
  });
  const client = await connectClient(t, port);
  await assert.rejects(client.subscribeAsync(topic));
  await first.waitFor("subAcl");
  return { server, client, first };
}

test("setHooks while running takes effect without disconnecting clients", async (t) => {
  const { server, port } = await startServer(t);
  const sub = await connectClient(t, port, { clientId: "stays-sub" });
  const pub = await connectClient(t, port, { clientId: "stays-pub", username: "pat" });
  let dropped = 0;
  for (const c of [sub, pub]) {
    c.on("close", () => { dropped += 1; });
    c.on("offline", () => { dropped += 1; });
  }
  const msgs = collectMessages(sub);
  await sub.subscribeAsync(["before/t", "after/#", "marker/t"], { qos: 1 });
  await pub.publishAsync("before/t", "plain", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "before/t");

  // New policy: deny new connections, rewrite every publish.
  const rec = new Recorder();
  server.setHooks({
    onClientAuthenticate: rec.hook("auth", { allow: false }),
    onClientPublishAuthorize: rec.hook("pubAcl", (s, p) =>
      p.topic === "before/t" ? { allow: true, topic: `after/${s.username}` } : { allow: true },
    ),
  });

  // Existing connections keep working and the new publish ACL already applies.
  await pub.publishAsync("before/t", "rewritten", { qos: 1 });
  const m = await msgs.waitFor((x) => x.topic === "after/pat", "the rewritten message");
  assert.equal(m.payload.toString(), "rewritten");
  await rec.waitFor("pubAcl", (s) => s.clientId === "stays-pub");

  // New connections meet the new auth hook.
  await connectRefused(t, port, { clientId: "newcomer" });
  await rec.waitFor("auth", (a) => a.clientId === "newcomer");

  assert.equal(dropped, 0, "no client was disconnected");
  assert.equal(sub.connected && pub.connected, true);
});

test("setHooks calls add up: one call per concern, as the seed README writes them", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  server.setHooks({
    onClientAuthenticate: ({ username, password }) => ({ allow: Boolean(username) && password === "demo" }),
  });
  server.setHooks({
    onClientSubscribeAuthorize: (session, sub) => ({ allow: sub.topicFilter.startsWith(`${session?.username}/`) }),
  });
  await server.start({ listeners: [tcpListener()] });
  const port = server.listeners[0].port;
  await connectRefused(t, port, { username: "mallory", password: "wrong" });
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  assert.equal((await alice.subscribeAsync("alice/t", { qos: 1 }))[0].qos, 1);
  await assert.rejects(alice.subscribeAsync("bob/t", { qos: 1 }), "the second call's ACL denies");
});

test("setHooks with a hook already bound rebinds that hook and keeps the others", async (t) => {
  const { server, client: c, first } = await startWithDenyingAcl(t, "merge/t");

  const second = new Recorder();
  server.setHooks({ onClientSubscribeAuthorize: second.hook("subAcl", { allow: true }) });
  const msgs = collectMessages(c);
  assert.equal((await c.subscribeAsync("merge/t", { qos: 1 }))[0].qos, 1, "the new subscribe ACL allows");
  await c.publishAsync("merge/t", "after rebind", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "merge/t");
  await first.waitFor("publish", (s, f, m) => m.topic === "merge/t");
  assert.equal(first.count("subAcl"), 1, "the old subscribe ACL was not called again");
  assert.equal(second.count("subAcl"), 1);
});

test("null unbinds one hook (rmqtt's default applies again) and undefined leaves it bound", async (t) => {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: () => ({ allow: false }),
      onClientConnack: rec.hook("connack"),
    },
  });
  await connectRefused(t, port);
  server.setHooks({ onClientAuthenticate: undefined });
  await connectRefused(t, port);
  server.setHooks({ onClientAuthenticate: null });
  const c = await connectClient(t, port);
  await rec.waitFor("connack", (i) => i.clientId === c.options.clientId && i.connAck === "Success");
});

test("{ replace: true } replaces the whole set: hooks left out are no longer called", async (t) => {
  const { server, client: c, first } = await startWithDenyingAcl(t, "replace/t");

  const second = new Recorder();
  server.setHooks({ onMessagePublish: second.hook("publish") }, { replace: true });
  const msgs = collectMessages(c);
  const granted = await c.subscribeAsync("replace/t", { qos: 1 });
  assert.equal(granted[0].qos, 1, "the old subscribe ACL no longer denies");
  await c.publishAsync("replace/t", "after swap", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "replace/t");
  await second.waitFor("publish", (s, f, m) => m.topic === "replace/t");
  assert.equal(first.count("subAcl"), 1, "the old subscribe ACL was not called again");
  assert.equal(first.count("publish", (s, f, m) => m.topic === "replace/t"), 0, "the old onMessagePublish was not called");
});

test("setHooks({}, { replace: true }) removes every hook; setHooks({}) changes nothing", async (t) => {
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: () => ({ allow: false }) },
  });
  await connectRefused(t, port);
  server.setHooks({});
  await connectRefused(t, port);
  server.setHooks({}, { replace: true });
  await connectClient(t, port);
});

test("setHooks options must be an object with a boolean `replace`", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  for (const bad of [null, 1, "replace", { replace: "yes" }]) {
    assert.throws(() => server.setHooks({}, bad), { code: "ERR_INVALID_OPTIONS" });
  }
});

test("hooks set before start apply from the first connection", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientConnect: rec.hook("connect") },
  });
  const c = await connectClient(t, port, { clientId: "first-conn" });
  await rec.waitFor("connect", (i) => i.clientId === c.options.clientId);
});

test("switching auth policies many times while clients connect never mixes answers", async (t) => {
  const { server, port } = await startServer(t);
  for (let i = 0; i < 5; i++) {
    server.setHooks({ onClientAuthenticate: () => ({ allow: true }) });
    await connectClient(t, port);
    server.setHooks({ onClientAuthenticate: () => ({ allow: false }) });
    await connectRefused(t, port);
  }
});
