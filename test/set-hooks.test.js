"use strict";
// setHooks replaces the whole hook set, before start or while running, and a
// change while running takes effect without disconnecting anyone.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { Recorder } = require("./helpers/recorder");

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

test("setHooks replaces the whole set: hooks left out are no longer called", async (t) => {
  const first = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: {
      onMessagePublish: first.hook("publish"),
      onClientSubscribeAuthorize: first.hook("subAcl", { allow: false }),
    },
  });
  const c = await connectClient(t, port);
  await assert.rejects(c.subscribeAsync("replace/t"));
  await first.waitFor("subAcl");

  const second = new Recorder();
  server.setHooks({ onMessagePublish: second.hook("publish") });
  const msgs = collectMessages(c);
  const granted = await c.subscribeAsync("replace/t", { qos: 1 });
  assert.equal(granted[0].qos, 1, "the old subscribe ACL no longer denies");
  await c.publishAsync("replace/t", "after swap", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "replace/t");
  await second.waitFor("publish", (s, f, m) => m.topic === "replace/t");
  assert.equal(first.count("subAcl"), 1, "the old subscribe ACL was not called again");
  assert.equal(first.count("publish", (s, f, m) => m.topic === "replace/t"), 0, "the old onMessagePublish was not called");
});

test("setHooks({}) removes every hook and rmqtt defaults apply again", async (t) => {
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: () => ({ allow: false }) },
  });
  await connectRefused(t, port);
  server.setHooks({});
  await connectClient(t, port);
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
