"use strict";
// MQTT behaviour end to end: server publish, retained messages, QoS 0/1/2,
// shared subscriptions, will messages, and MQTT 3.1 / 3.1.1 / 5.0 clients.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { QoS } = require("..");
const { startServer } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { nextMessage, collectMessages } = require("./helpers/messages");

test("server.publish delivers a string payload as UTF-8 and a Buffer payload byte for byte", async (t) => {
  const { server, port } = await startServer(t);
  const sub = await connectClient(t, port);
  await sub.subscribeAsync("srv/#", { qos: 2 });
  const text = nextMessage(sub, "srv/text");
  await server.publish("srv/text", "grüße ✓", { qos: QoS.AtLeastOnce });
  assert.equal((await text).payload.toString("utf8"), "grüße ✓");
  const bytes = Buffer.from([0, 1, 2, 254, 255]);
  const bin = nextMessage(sub, "srv/bin");
  await server.publish("srv/bin", bytes, { qos: QoS.ExactlyOnce });
  const got = await bin;
  assert.deepEqual(got.payload, bytes);
  assert.equal(got.packet.qos, 2);
});

test("server.publish defaults to QoS 0 without retain", async (t) => {
  const { server, port } = await startServer(t);
  const sub = await connectClient(t, port);
  await sub.subscribeAsync("defaults/t", { qos: 2 });
  const got = nextMessage(sub, "defaults/t");
  await server.publish("defaults/t", "x");
  const m = await got;
  assert.equal(m.packet.qos, 0);
  assert.equal(m.packet.retain, false);
});

test("a retained message from a client is delivered to a later subscriber", async (t) => {
  const { port } = await startServer(t);
  const pub = await connectClient(t, port);
  await pub.publishAsync("retained/client", "last known value", { qos: 1, retain: true });
  const late = await connectClient(t, port);
  const got = nextMessage(late, "retained/client");
  await late.subscribeAsync("retained/#", { qos: 1 });
  const m = await got;
  assert.equal(m.payload.toString(), "last known value");
  assert.equal(m.packet.retain, true);
});

test("a retained message from server.publish is delivered to a later subscriber", async (t) => {
  const { server, port } = await startServer(t);
  await server.publish("retained/server", "boot ok", { qos: QoS.AtLeastOnce, retain: true });
  const late = await connectClient(t, port, { protocolVersion: 5 });
  const got = nextMessage(late, "retained/server");
  await late.subscribeAsync("retained/server");
  const m = await got;
  assert.equal(m.payload.toString(), "boot ok");
  assert.equal(m.packet.retain, true);
});

test("an empty retained payload clears the retained message", async (t) => {
  const { port } = await startServer(t);
  const pub = await connectClient(t, port);
  await pub.publishAsync("retained/clear", "old", { qos: 1, retain: true });
  await pub.publishAsync("retained/clear", "", { qos: 1, retain: true });
  await pub.publishAsync("retained/marker", "marker", { qos: 1, retain: true });
  const late = await connectClient(t, port);
  const msgs = collectMessages(late);
  await late.subscribeAsync(["retained/clear", "retained/marker"], { qos: 1 });
  await msgs.waitFor((m) => m.topic === "retained/marker", "the retained marker");
  assert.deepEqual(msgs.onTopic("retained/clear"), []);
});

test("a QoS 2 message makes the full round trip at QoS 2", async (t) => {
  const { port } = await startServer(t);
  const sub = await connectClient(t, port);
  const pub = await connectClient(t, port);
  const granted = await sub.subscribeAsync("qos2/t", { qos: 2 });
  assert.equal(granted[0].qos, 2);
  const got = nextMessage(sub, "qos2/t");
  // publishAsync resolves only after PUBREC/PUBREL/PUBCOMP completed.
  await pub.publishAsync("qos2/t", "exactly once", { qos: 2 });
  const m = await got;
  assert.equal(m.payload.toString(), "exactly once");
  assert.equal(m.packet.qos, 2);
});

test("delivery QoS is the lower of publish QoS and subscription QoS", async (t) => {
  const { port } = await startServer(t);
  const sub = await connectClient(t, port);
  const pub = await connectClient(t, port);
  await sub.subscribeAsync("downgrade/t", { qos: 1 });
  const got = nextMessage(sub, "downgrade/t");
  await pub.publishAsync("downgrade/t", "x", { qos: 2 });
  assert.equal((await got).packet.qos, 1);
});

test("a shared subscription gives each message to exactly one member", async (t) => {
  const { port } = await startServer(t);
  const m1 = await connectClient(t, port, { clientId: "share-m1" });
  const m2 = await connectClient(t, port, { clientId: "share-m2", protocolVersion: 5 });
  const pub = await connectClient(t, port);
  const got1 = collectMessages(m1);
  const got2 = collectMessages(m2);
  for (const m of [m1, m2]) {
    await m.subscribeAsync("$share/g/jobs/+", { qos: 1 });
    await m.subscribeAsync("jobs-done", { qos: 1 });
  }
  const N = 20;
  for (let i = 0; i < N; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
  // A plain subscription both members hold marks the end of the batch.
  await pub.publishAsync("jobs-done", "end", { qos: 1 });
  await got1.waitFor((m) => m.topic === "jobs-done", "the end marker on member 1");
  await got2.waitFor((m) => m.topic === "jobs-done", "the end marker on member 2");
  const jobs = (msgs) => msgs.filter((m) => m.topic.startsWith("jobs/")).map((m) => m.payload.toString());
  const all = [...jobs(got1), ...jobs(got2)];
  assert.equal(all.length, N, `each job delivered once in total, got ${all.length}`);
  assert.deepEqual(new Set(all), new Set(Array.from({ length: N }, (_, i) => String(i))));
  for (const m of [...got1, ...got2].filter((x) => x.topic.startsWith("jobs/"))) {
    assert.equal(m.topic, `jobs/${m.payload}`, "delivered on the real topic, not the $share filter");
  }
});

test("a plain subscriber gets every message while a shared group on the same topic shares them", async (t) => {
  const { server, port } = await startServer(t);
  const m1 = await connectClient(t, port);
  const m2 = await connectClient(t, port);
  const plain = await connectClient(t, port);
  const got1 = collectMessages(m1);
  const got2 = collectMessages(m2);
  const gotPlain = collectMessages(plain);
  for (const m of [m1, m2]) {
    await m.subscribeAsync("$share/grp/mix", { qos: 1 });
    await m.subscribeAsync("mix-end", { qos: 1 });
  }
  await plain.subscribeAsync("mix", { qos: 1 });
  for (let i = 0; i < 5; i++) await server.publish("mix", `m${i}`, { qos: QoS.AtLeastOnce });
  await server.publish("mix-end", "end", { qos: QoS.AtLeastOnce });
  await got1.waitFor((m) => m.topic === "mix-end", "the end marker on member 1");
  await got2.waitFor((m) => m.topic === "mix-end", "the end marker on member 2");
  await gotPlain.waitFor(() => gotPlain.length === 5, "5 messages on the plain subscriber");
  assert.deepEqual(gotPlain.map((m) => m.payload.toString()), ["m0", "m1", "m2", "m3", "m4"]);
  const inGroup = [...got1.onTopic("mix"), ...got2.onTopic("mix")].map((m) => m.payload.toString());
  assert.deepEqual(inGroup.sort(), ["m0", "m1", "m2", "m3", "m4"]);
});

test("the will message is delivered when a client drops without DISCONNECT", async (t) => {
  const { port } = await startServer(t);
  const watcher = await connectClient(t, port);
  await watcher.subscribeAsync("wills/#", { qos: 1 });
  const doomed = await connectClient(t, port, {
    clientId: "will-doomed",
    will: { topic: "wills/doomed", payload: Buffer.from("doomed went away"), qos: 1, retain: false },
  });
  const got = nextMessage(watcher, "wills/doomed");
  doomed.stream.destroy(); // no DISCONNECT packet
  const m = await got;
  assert.equal(m.payload.toString(), "doomed went away");
});

test("the will message of an MQTT 5 client is delivered when it drops", async (t) => {
  const { port } = await startServer(t);
  const watcher = await connectClient(t, port, { protocolVersion: 5 });
  await watcher.subscribeAsync("wills5/#", { qos: 1 });
  const doomed = await connectClient(t, port, {
    protocolVersion: 5,
    will: { topic: "wills5/doomed", payload: Buffer.from("v5 gone"), qos: 1, retain: false },
  });
  const got = nextMessage(watcher, "wills5/doomed");
  doomed.stream.destroy();
  assert.equal((await got).payload.toString(), "v5 gone");
});

test("no will message is sent when a client disconnects cleanly", async (t) => {
  const { port } = await startServer(t);
  const watcher = await connectClient(t, port);
  const msgs = collectMessages(watcher);
  await watcher.subscribeAsync(["wills/#", "after-clean"], { qos: 1 });
  const polite = await connectClient(t, port, {
    will: { topic: "wills/polite", payload: Buffer.from("should not appear"), qos: 1, retain: false },
  });
  await polite.endAsync(); // sends DISCONNECT
  const other = await connectClient(t, port);
  await other.publishAsync("after-clean", "marker", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "after-clean", "the marker after the clean disconnect");
  assert.deepEqual(msgs.onTopic("wills/polite"), []);
});

for (const [label, opts] of [
  ["MQTT 3.1", { protocolId: "MQIsdp", protocolVersion: 3 }],
  ["MQTT 3.1.1", { protocolVersion: 4 }],
  ["MQTT 5.0", { protocolVersion: 5 }],
]) {
  test(`an ${label} client publishes to and receives from an MQTT 5.0 and an MQTT 3.1.1 client`, async (t) => {
    const { port } = await startServer(t);
    const c = await connectClient(t, port, opts);
    const v5 = await connectClient(t, port, { protocolVersion: 5 });
    const v4 = await connectClient(t, port, { protocolVersion: 4 });
    await c.subscribeAsync("versions/to-c", { qos: 1 });
    await v5.subscribeAsync("versions/from-c", { qos: 1 });
    await v4.subscribeAsync("versions/from-c", { qos: 1 });
    const at5 = nextMessage(v5, "versions/from-c");
    const at4 = nextMessage(v4, "versions/from-c");
    await c.publishAsync("versions/from-c", `from ${label}`, { qos: 1 });
    assert.equal((await at5).payload.toString(), `from ${label}`);
    assert.equal((await at4).payload.toString(), `from ${label}`);
    const atC = nextMessage(c, "versions/to-c");
    await v5.publishAsync("versions/to-c", "from v5", { qos: 1 });
    assert.equal((await atC).payload.toString(), "from v5");
  });
}

test("MQTT 5 user properties pass from publisher to subscriber", async (t) => {
  const { port } = await startServer(t);
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  await sub.subscribeAsync("props/t", { qos: 1 });
  const got = nextMessage(sub, "props/t");
  await pub.publishAsync("props/t", "x", { qos: 1, properties: { userProperties: { trace: "abc" } } });
  const m = await got;
  assert.equal(m.packet.properties?.userProperties?.trace, "abc");
});

test("a wildcard subscription receives matching topics only", async (t) => {
  const { server, port } = await startServer(t);
  const sub = await connectClient(t, port);
  const msgs = collectMessages(sub);
  await sub.subscribeAsync(["wild/+/temp", "end/marker"], { qos: 1 });
  for (const topic of ["wild/a/temp", "wild/b/humidity", "wild/c/temp", "wild/a/b/temp"]) {
    await server.publish(topic, topic, { qos: QoS.AtLeastOnce });
  }
  await server.publish("end/marker", "end", { qos: QoS.AtLeastOnce });
  await msgs.waitFor((m) => m.topic === "end/marker");
  assert.deepEqual(
    msgs.filter((m) => m.topic !== "end/marker").map((m) => m.topic),
    ["wild/a/temp", "wild/c/temp"],
  );
});
