"use strict";
// onClientPublishAuthorize: allow, deny (never delivered, reason string to
// MQTT 5 clients), mutation of topic / payload / QoS, invalid mutation, throw,
// timeout, the $SYS default, and one call per client publish.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, nextPacket } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { Recorder } = require("./helpers/recorder");

const NOT_AUTHORIZED = 0x87;

/**
 * A subscriber on `filters` plus an end marker: `settle()` publishes the marker
 * from `publisher` and resolves once it arrived, so everything published
 * before it has had its chance to arrive. The marker travels at QoS 2, the
 * slowest path (mqtt.js emits a QoS 2 message only at PUBREL), so no earlier
 * message of any QoS can show up after it.
 */
async function watch(t, port, filters) {
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  const msgs = collectMessages(sub);
  await sub.subscribeAsync([...filters, "test-end/marker"], { qos: 2 });
  let n = 0;
  msgs.settle = async (publisher) => {
    n += 1;
    const id = `end-${n}`;
    await publisher.publishAsync("test-end/marker", id, { qos: 2 });
    await msgs.waitFor((m) => m.topic === "test-end/marker" && m.payload.toString() === id, "the end marker");
  };
  msgs.payloadsOn = (topic) => msgs.onTopic(topic).map((m) => m.payload.toString());
  return msgs;
}

test("the publish ACL allows a publish and sees its session and packet", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: rec.hook("acl", { allow: true }) },
  });
  const msgs = await watch(t, port, ["allowed/t"]);
  const pub = await connectClient(t, port, { clientId: "pub-acl-allow", username: "paula" });
  await pub.publishAsync("allowed/t", "ok", { qos: 1, retain: false });
  await msgs.waitFor((m) => m.topic === "allowed/t");
  const [session, packet] = await rec.waitFor("acl", (s, p) => p.topic === "allowed/t");
  assert.equal(session.clientId, "pub-acl-allow");
  assert.equal(session.username, "paula");
  assert.equal(typeof session.node, "number");
  assert.equal(packet.topic, "allowed/t");
  assert.ok(Buffer.isBuffer(packet.payload));
  assert.equal(packet.payload.toString(), "ok");
  assert.equal(packet.qos, 1);
  assert.equal(packet.retain, false);
});

test("a denied publish is never delivered", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (s, p) => ({ allow: !p.topic.startsWith("forbidden/") }),
    },
  });
  const msgs = await watch(t, port, ["forbidden/#", "open/#"]);
  const pub = await connectClient(t, port);
  for (const qos of [0, 1, 2]) {
    await pub.publishAsync(`forbidden/q${qos}`, "must not arrive", { qos });
    await pub.publishAsync(`open/q${qos}`, "arrives", { qos });
  }
  await msgs.settle(pub);
  assert.deepEqual(msgs.filter((m) => m.topic.startsWith("forbidden/")), []);
  assert.equal(msgs.filter((m) => m.topic.startsWith("open/")).length, 3);
});

test("a denied retained publish is not stored for later subscribers", async (t) => {
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: (s, p) => ({ allow: p.topic !== "keep/denied" }) },
  });
  const pub = await connectClient(t, port);
  await pub.publishAsync("keep/denied", "no", { qos: 1, retain: true });
  await pub.publishAsync("keep/allowed", "yes", { qos: 1, retain: true });
  const late = await connectClient(t, port);
  const msgs = collectMessages(late);
  await late.subscribeAsync(["keep/allowed", "keep/denied"], { qos: 1 });
  await msgs.waitFor((m) => m.topic === "keep/allowed");
  const other = await connectClient(t, port);
  await late.subscribeAsync("marker/after-retained", { qos: 1 });
  await other.publishAsync("marker/after-retained", "m", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "marker/after-retained");
  assert.deepEqual(msgs.onTopic("keep/denied"), []);
});

test("the deny reason reaches an MQTT 5 publisher as the PUBACK reason string", async (t) => {
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: () => ({ allow: false, reason: "read-only topic" }) },
  });
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  const puback = nextPacket(pub, "puback");
  await assert.rejects(pub.publishAsync("ro/t", "x", { qos: 1 }), (err) => err.code === NOT_AUTHORIZED);
  const packet = await puback;
  assert.equal(packet.reasonCode, NOT_AUTHORIZED);
  assert.equal(packet.properties?.reasonString, "read-only topic");
  assert.equal(pub.connected, true, "the publisher stays connected");
});

test("a denied QoS 2 publish is refused in the PUBREC of an MQTT 5 publisher", async (t) => {
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: () => ({ allow: false, reason: "no qos2 here" }) },
  });
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  const pubrec = nextPacket(pub, "pubrec");
  await assert.rejects(pub.publishAsync("q2/denied", "x", { qos: 2 }), (err) => err.code === NOT_AUTHORIZED);
  const packet = await pubrec;
  assert.equal(packet.reasonCode, NOT_AUTHORIZED);
  assert.equal(packet.properties?.reasonString, "no qos2 here");
});

test("a denied QoS 1 publish from an MQTT 3.1.1 client is acknowledged and the client stays connected", async (t) => {
  const { port } = await startServer(t, { hooks: { onClientPublishAuthorize: () => ({ allow: false }) } });
  const pub = await connectClient(t, port, { protocolVersion: 4 });
  await pub.publishAsync("v4/denied", "x", { qos: 1 });
  await pub.publishAsync("v4/denied", "y", { qos: 2 });
  assert.equal(pub.connected, true);
});

test("the publish ACL can rewrite topic, payload and QoS, and subscribers get the rewrite", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (session, p) =>
        p.topic.startsWith("in/")
          ? {
              allow: true,
              topic: `out/${session.username}/${p.topic.slice(3)}`,
              payload: Buffer.from(p.payload.toString().toUpperCase()),
              qos: 1,
            }
          : { allow: true },
    },
  });
  const msgs = await watch(t, port, ["in/#", "out/#"]);
  const pub = await connectClient(t, port, { username: "mia" });
  await pub.publishAsync("in/temp", "twenty degrees", { qos: 0 });
  const m = await msgs.waitFor((x) => x.topic === "out/mia/temp", "the rewritten message");
  assert.equal(m.payload.toString(), "TWENTY DEGREES");
  assert.equal(m.packet.qos, 1);
  await msgs.settle(pub);
  assert.deepEqual(msgs.onTopic("in/temp"), [], "nothing on the original topic");
  assert.equal(msgs.onTopic("out/mia/temp").length, 1);
});

test("the publish ACL can rewrite the payload alone", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (s, p) =>
        p.topic === "redact/t" ? { allow: true, payload: Buffer.from("[redacted]") } : { allow: true },
    },
  });
  const msgs = await watch(t, port, ["redact/t"]);
  const pub = await connectClient(t, port);
  await pub.publishAsync("redact/t", "secret", { qos: 2 });
  const m = await msgs.waitFor((x) => x.topic === "redact/t");
  assert.equal(m.payload.toString(), "[redacted]");
  assert.equal(m.packet.qos, 2, "QoS unchanged");
});

test("a rewritten topic is what the retained store and onMessagePublish see", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (s, p) => (p.topic === "raw/r" ? { allow: true, topic: "cooked/r" } : { allow: true }),
      onMessagePublish: rec.hook("publish"),
    },
  });
  const pub = await connectClient(t, port);
  await pub.publishAsync("raw/r", "kept", { qos: 1, retain: true });
  const [, , msg] = await rec.waitFor("publish", (s, f, m) => m.payload.toString() === "kept");
  assert.equal(msg.topic, "cooked/r");
  const late = await connectClient(t, port);
  const msgs = collectMessages(late);
  await late.subscribeAsync("cooked/r", { qos: 1 });
  const m = await msgs.waitFor((x) => x.topic === "cooked/r");
  assert.equal(m.payload.toString(), "kept");
  assert.equal(m.packet.retain, true);
});

for (const [label, mutation] of [
  ["QoS 3", { qos: 3 }],
  ["QoS -1", { qos: -1 }],
  ["a topic with +", { topic: "bad/+/topic" }],
  ["a topic with #", { topic: "bad/#" }],
]) {
  test(`an invalid rewrite to ${label} is ignored with a WARN and the message delivered unmutated`, async (t) => {
    const logs = captureLogs();
    const { port } = await startServer(t, {
      logger: logs.logger,
      hooks: {
        onClientPublishAuthorize: (s, p) => (p.topic === "orig/t" ? { allow: true, ...mutation } : { allow: true }),
      },
    });
    const msgs = await watch(t, port, ["orig/t", "bad/#"]);
    const pub = await connectClient(t, port);
    await pub.publishAsync("orig/t", "unchanged", { qos: 1 });
    const m = await msgs.waitFor((x) => x.topic === "orig/t", "the unmutated message");
    assert.equal(m.payload.toString(), "unchanged");
    assert.equal(m.packet.qos, 1);
    await logs.waitForWarn(/onClientPublishAuthorize/);
    await msgs.settle(pub);
    assert.equal(msgs.filter((x) => x.topic.startsWith("bad/")).length, 0);
  });
}

test("an invalid field in a rewrite is ignored while the valid fields apply", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: {
      onClientPublishAuthorize: (s, p) =>
        p.topic === "half/t" ? { allow: true, qos: 9, payload: Buffer.from("new body") } : { allow: true },
    },
  });
  const msgs = await watch(t, port, ["half/t"]);
  const pub = await connectClient(t, port);
  await pub.publishAsync("half/t", "old body", { qos: 1 });
  const m = await msgs.waitFor((x) => x.topic === "half/t");
  assert.equal(m.payload.toString(), "new body");
  assert.equal(m.packet.qos, 1);
  await logs.waitForWarn(/onClientPublishAuthorize/);
});

test("a publish ACL that throws denies the publish and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: {
      onClientPublishAuthorize: (s, p) => {
        if (p.topic === "throws/t") throw new Error("publish acl exploded");
        return { allow: true };
      },
    },
  });
  const msgs = await watch(t, port, ["throws/t"]);
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  await assert.rejects(pub.publishAsync("throws/t", "x", { qos: 1 }), (err) => err.code === NOT_AUTHORIZED);
  await logs.waitForWarn(/onClientPublishAuthorize/);
  await msgs.settle(pub);
  assert.deepEqual(msgs.onTopic("throws/t"), []);
});

test("a publish ACL whose promise rejects denies the publish and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: {
      onClientPublishAuthorize: async (s, p) => {
        if (p.topic === "rejects/t") throw new Error("publish acl db down");
        return { allow: true };
      },
    },
  });
  const msgs = await watch(t, port, ["rejects/t"]);
  const pub = await connectClient(t, port);
  await pub.publishAsync("rejects/t", "x", { qos: 1 });
  await logs.waitForWarn(/onClientPublishAuthorize/);
  await msgs.settle(pub);
  assert.deepEqual(msgs.onTopic("rejects/t"), []);
});

test("a publish ACL that never answers denies after hookTimeoutMs with a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hookTimeoutMs: 300,
    hooks: {
      onClientPublishAuthorize: (s, p) => (p.topic === "hangs/t" ? new Promise(() => {}) : { allow: true }),
    },
  });
  const msgs = await watch(t, port, ["hangs/t"]);
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  const started = Date.now();
  await assert.rejects(pub.publishAsync("hangs/t", "x", { qos: 1 }), (err) => err.code === NOT_AUTHORIZED);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 4000, `hookTimeoutMs (300) is used, took ${elapsed} ms`);
  await logs.waitForWarn(/onClientPublishAuthorize/);
  await msgs.settle(pub);
  assert.deepEqual(msgs.onTopic("hangs/t"), []);
});

test("without a publish ACL, client publishes to $SYS/ topics are denied", async (t) => {
  const { port } = await startServer(t);
  const msgs = await watch(t, port, ["$SYS/#", "normal/t"]);
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  await assert.rejects(pub.publishAsync("$SYS/brokers/fake", "spoof", { qos: 1 }), (err) => err.code === NOT_AUTHORIZED);
  await pub.publishAsync("normal/t", "fine", { qos: 1 });
  await msgs.settle(pub);
  assert.deepEqual(msgs.filter((m) => m.topic.startsWith("$SYS/")), []);
  assert.equal(msgs.onTopic("normal/t").length, 1);
});

test("server.publish to a $SYS/ topic is not subject to the client default deny", async (t) => {
  const { server, port } = await startServer(t);
  const sub = await connectClient(t, port);
  const msgs = collectMessages(sub);
  await sub.subscribeAsync("$SYS/rmqtt-js/test", { qos: 1 });
  await server.publish("$SYS/rmqtt-js/test", "from the broker", { qos: 1 });
  const m = await msgs.waitFor((x) => x.topic === "$SYS/rmqtt-js/test");
  assert.equal(m.payload.toString(), "from the broker");
});

test("the publish ACL runs once per client publish, whatever the number of subscribers", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: rec.hook("acl", { allow: true }) },
  });
  const a = await watch(t, port, ["fan/out"]);
  const b = await watch(t, port, ["fan/+"]);
  const s1 = await connectClient(t, port);
  const s2 = await connectClient(t, port);
  await s1.subscribeAsync("$share/fan-group/fan/out", { qos: 1 });
  await s2.subscribeAsync("$share/fan-group/fan/out", { qos: 1 });
  const pub = await connectClient(t, port, { clientId: "fan-publisher" });
  for (const qos of [0, 1, 2]) await pub.publishAsync("fan/out", `q${qos}`, { qos });
  await a.settle(pub);
  await b.settle(pub);
  assert.equal(a.onTopic("fan/out").length, 3);
  assert.equal(b.onTopic("fan/out").length, 3);
  assert.equal(rec.count("acl", (s, p) => p.topic === "fan/out"), 3, "one ACL call per publish");
});

test("the publish ACL is not run for server.publish", async (t) => {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: rec.hook("acl", { allow: false }) },
  });
  const sub = await connectClient(t, port);
  const msgs = collectMessages(sub);
  await sub.subscribeAsync("srv-only/t");
  await server.publish("srv-only/t", "server says", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "srv-only/t");
  assert.equal(rec.count("acl"), 0);
});

test("a denied publish does not reach onMessagePublish but reaches onMessageDropped", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (s, p) => ({ allow: p.topic !== "drop/me", reason: "dropped by policy" }),
      onMessagePublish: rec.hook("publish"),
      onMessageDropped: rec.hook("dropped"),
    },
  });
  const pub = await connectClient(t, port);
  await pub.publishAsync("drop/me", "x", { qos: 1 });
  await pub.publishAsync("keep/me", "y", { qos: 1 });
  await rec.waitFor("publish", (s, f, m) => m.topic === "keep/me");
  const [, , msg, info] = await rec.waitFor("dropped", (s, f, m) => m.topic === "drop/me");
  assert.equal(msg.payload.toString(), "x");
  assert.match(String(info?.reason), /dropped by policy/);
  assert.equal(rec.count("publish", (s, f, m) => m.topic === "drop/me"), 0);
});
