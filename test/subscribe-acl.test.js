"use strict";
// onClientSubscribeAuthorize: allow, deny, QoS override, invalid QoS, async,
// throw, rejection and timeout.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, nextPacket } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { Recorder } = require("./helpers/recorder");

/** The seed example's policy: `<username>/…` and `server/public/…`, QoS capped at 1. */
const perUser = (session, sub) => {
  const user = session?.username ?? "";
  const allowed = sub.topicFilter.startsWith(`${user}/`) || sub.topicFilter.startsWith("server/public/");
  return allowed ? { allow: true, qos: Math.min(sub.qos, 1) } : { allow: false, reason: "not yours" };
};

/** Subscribes and resolves with the SUBACK's granted codes (no rejection on failure codes). */
async function subackCodes(client, filters, opts) {
  const suback = nextPacket(client, "suback");
  client.subscribe(filters, opts, () => {});
  return (await suback).granted;
}

/** True if a SUBACK code is a failure (0x80 and above). */
const failed = (code) => (code & 0x80) !== 0;

test("the subscribe ACL allows a filter and grants the requested QoS", async (t) => {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: { onClientSubscribeAuthorize: rec.hook("acl", { allow: true }) },
  });
  const c = await connectClient(t, port, { username: "alice", clientId: "sub-acl-allow" });
  const granted = await c.subscribeAsync("alice/inbox", { qos: 2 });
  assert.equal(granted[0].qos, 2);
  const [session, sub] = await rec.waitFor("acl");
  assert.equal(session.clientId, "sub-acl-allow");
  assert.equal(session.username, "alice");
  assert.deepEqual(sub, { topicFilter: "alice/inbox", qos: 2 });
  const msgs = collectMessages(c);
  await server.publish("alice/inbox", "hi", { qos: 2 });
  await msgs.waitFor((m) => m.topic === "alice/inbox");
});

test("the subscribe ACL denies a filter: SUBACK failure and nothing delivered (MQTT 3.1.1)", async (t) => {
  const { server, port } = await startServer(t, { hooks: { onClientSubscribeAuthorize: perUser } });
  const c = await connectClient(t, port, { username: "alice", protocolVersion: 4 });
  const codes = await subackCodes(c, ["bob/secret", "alice/ok"], { qos: 1 });
  assert.equal(codes.length, 2);
  assert.ok(failed(codes[0]), `bob/secret refused, got ${codes[0]}`);
  assert.equal(codes[1], 1, "alice/ok granted at QoS 1");
  const msgs = collectMessages(c);
  await server.publish("bob/secret", "for bob only", { qos: 1 });
  await server.publish("alice/ok", "marker", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "alice/ok");
  assert.deepEqual(msgs.onTopic("bob/secret"), []);
});

test("the subscribe ACL denies a filter with reason code 0x87 for an MQTT 5 client", async (t) => {
  const { port } = await startServer(t, { hooks: { onClientSubscribeAuthorize: perUser } });
  const c = await connectClient(t, port, { username: "alice", protocolVersion: 5 });
  const codes = await subackCodes(c, "bob/secret", { qos: 0 });
  assert.deepEqual(codes, [0x87]);
  await assert.rejects(c.subscribeAsync("bob/other"), (err) => err.packet?.granted?.[0] === 0x87);
});

test("the subscribe ACL can lower the granted QoS, and delivery follows it", async (t) => {
  const { server, port } = await startServer(t, { hooks: { onClientSubscribeAuthorize: perUser } });
  const c = await connectClient(t, port, { username: "alice" });
  const granted = await c.subscribeAsync("server/public/news", { qos: 2 });
  assert.equal(granted[0].qos, 1);
  const msgs = collectMessages(c);
  await server.publish("server/public/news", "capped", { qos: 2 });
  const m = await msgs.waitFor((x) => x.topic === "server/public/news");
  assert.equal(m.packet.qos, 1);
});

test("a subscribe ACL qos above the requested QoS does not raise the grant", async (t) => {
  const { port } = await startServer(t, { hooks: { onClientSubscribeAuthorize: () => ({ allow: true, qos: 2 }) } });
  const c = await connectClient(t, port);
  assert.equal((await c.subscribeAsync("raise/t", { qos: 0 }))[0].qos, 0);
});

for (const qos of [3, -1, 7.5]) {
  test(`an invalid QoS ${qos} from the subscribe ACL is ignored with a WARN`, async (t) => {
    const logs = captureLogs();
    const { port } = await startServer(t, {
      logger: logs.logger,
      hooks: { onClientSubscribeAuthorize: () => ({ allow: true, qos }) },
    });
    const c = await connectClient(t, port);
    const granted = await c.subscribeAsync("invalid-qos/t", { qos: 1 });
    assert.equal(granted[0].qos, 1, "the requested QoS is granted");
    await logs.waitForWarn(/onClientSubscribeAuthorize/);
  });
}

test("an async subscribe ACL decides after awaiting", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientSubscribeAuthorize: async (session, sub) => {
        await new Promise((resolve) => setImmediate(resolve));
        return perUser(session, sub);
      },
    },
  });
  const c = await connectClient(t, port, { username: "carol" });
  const codes = await subackCodes(c, ["carol/a", "dave/b"], { qos: 1 });
  assert.equal(codes[0], 1);
  assert.ok(failed(codes[1]));
});

test("a subscribe ACL that throws denies the subscription and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientSubscribeAuthorize: () => { throw new Error("acl exploded"); } },
  });
  const c = await connectClient(t, port);
  const codes = await subackCodes(c, "boom/t", { qos: 1 });
  assert.ok(failed(codes[0]), `refused, got ${codes[0]}`);
  await logs.waitForWarn(/onClientSubscribeAuthorize/);
  assert.equal(c.connected, true, "the client stays connected");
});

test("a subscribe ACL whose promise rejects denies the subscription and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientSubscribeAuthorize: async () => { throw new Error("acl db down"); } },
  });
  const c = await connectClient(t, port, { protocolVersion: 5 });
  const codes = await subackCodes(c, "reject/t", { qos: 1 });
  assert.ok(failed(codes[0]));
  await logs.waitForWarn(/onClientSubscribeAuthorize/);
});

test("a subscribe ACL that never answers is denied after hookTimeoutMs with a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hookTimeoutMs: 300,
    hooks: {
      onClientSubscribeAuthorize: (s, sub) => (sub.topicFilter === "hang/t" ? new Promise(() => {}) : { allow: true }),
    },
  });
  const c = await connectClient(t, port);
  const started = Date.now();
  const codes = await subackCodes(c, "hang/t", { qos: 1 });
  const elapsed = Date.now() - started;
  assert.ok(failed(codes[0]), `refused, got ${codes[0]}`);
  assert.ok(elapsed < 4000, `hookTimeoutMs (300) is used, took ${elapsed} ms`);
  await logs.waitForWarn(/onClientSubscribeAuthorize/);
  // The session still works afterwards.
  const granted = await c.subscribeAsync("fine/t", { qos: 1 });
  assert.equal(granted[0].qos, 1);
});

test("without a subscribe ACL every subscription is granted as requested", async (t) => {
  const { port } = await startServer(t);
  const c = await connectClient(t, port);
  const granted = await c.subscribeAsync({ "a/#": { qos: 0 }, "b/+": { qos: 1 }, c: { qos: 2 } });
  assert.deepEqual(granted.map((g) => g.qos).sort(), [0, 1, 2]);
});

test("the subscribe ACL sees shared subscription filters", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientSubscribeAuthorize: rec.hook("acl", { allow: true }) },
  });
  const c = await connectClient(t, port);
  await c.subscribeAsync("$share/g1/jobs/#", { qos: 1 });
  const [, sub] = await rec.waitFor("acl");
  assert.match(sub.topicFilter, /jobs\/#$/);
});
