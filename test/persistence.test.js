"use strict";
// persistence.dir across restarts, with real MQTT 3.1.1 and 5 clients:
// retained messages (set, replaced, cleared), persistent sessions with their
// subscriptions and offline QoS 1/2 queues, unacknowledged in-flight QoS 1
// messages resent with DUP oldest first, clean sessions not kept, session
// expiry counted across a restart, a tenant's own store, and delayed wills.
// Restarts are stop()/start() of one server, or close() and a new MqttServer
// on the same directory.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");

const { tcpListener } = require("./helpers/server");
const { connectClient, uniqueClientId, closed } = require("./helpers/client");
const { TYPE, PROP, rawConnect, subscribe, parsePublish } = require("./helpers/raw-mqtt");
const {
  startBroker,
  storeLog,
  persistentSession,
  publishMarker,
  connectCollecting,
  puback,
  pubrec,
} = require("./helpers/persistence");

const VERSIONS = [
  [4, "MQTT 3.1.1"],
  [5, "MQTT 5"],
];
const RESTARTS = [
  ["stop", "stop()/start()"],
  ["close", "close() and a new MqttServer"],
];

/** Waits `ms`: only where the passing of time is what the test is about. */
function elapse(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

const text = (m) => `${m.topic}=${m.payload.toString()}`;

for (const [mode, how] of RESTARTS) {
  for (const [v, vname] of VERSIONS) {
    test(`retained messages set and cleared before ${how} stay so (${vname})`, async (t) => {
      const broker = await startBroker(t);
      const base = uniqueClientId("ret");
      const pub = await connectClient(t, broker.port(), { protocolVersion: v });
      await pub.publishAsync(`${base}/kept`, "first", { qos: 1, retain: true });
      await pub.publishAsync(`${base}/kept`, "second", { qos: 1, retain: true });
      await pub.publishAsync(`${base}/cleared`, "soon gone", { qos: 1, retain: true });
      await pub.publishAsync(`${base}/cleared`, "", { qos: 1, retain: true });
      await pub.endAsync();

      await broker.restart(mode);

      const { client, messages } = await connectCollecting(t, broker.port(), { protocolVersion: v });
      await client.subscribeAsync(`${base}/#`, { qos: 1 });
      const kept = await messages.waitFor((m) => m.topic === `${base}/kept`, "the retained message after the restart");
      assert.equal(kept.payload.toString(), "second", "the last retained value is the one kept");
      assert.equal(kept.packet.retain, true, "delivered as a retained message");
      await publishMarker(t, broker.port(), messages, `${base}/marker`);
      assert.deepEqual(
        messages.filter((m) => m.topic !== `${base}/marker`).map(text),
        [`${base}/kept=second`],
        "the cleared retained message stays cleared",
      );
    });
  }
}

for (const [mode, how] of RESTARTS) {
  for (const [v, vname] of VERSIONS) {
    test(`a persistent session survives ${how}: subscriptions and offline QoS 1/2 messages (${vname})`, async (t) => {
      const broker = await startBroker(t);
      const id = uniqueClientId("sess");
      const opts = persistentSession(v, id);
      const q1 = `${id}/q1`;
      const q2 = `${id}/q2`;

      const first = await connectCollecting(t, broker.port(), opts);
      assert.equal(first.connack.sessionPresent, false, "a new session");
      await first.client.subscribeAsync([q1, q2], { qos: 2 });
      await first.client.endAsync(); // a normal DISCONNECT: the session stays

      const pub = await connectClient(t, broker.port(), { protocolVersion: v });
      const offline = [];
      for (let i = 1; i <= 6; i++) {
        const qos = i % 2 === 1 ? 1 : 2;
        const topic = qos === 1 ? q1 : q2;
        await pub.publishAsync(topic, `m${i}`, { qos });
        offline.push({ topic, payload: `m${i}`, qos });
      }
      await pub.endAsync();

      await broker.restart(mode);

      const again = await connectCollecting(t, broker.port(), opts);
      assert.equal(again.connack.sessionPresent, true, "the session is still there after the restart");
      await again.packets.until((l) => l.length >= offline.length, "the messages queued before the restart");

      // No resubscription: new messages on both filters reach the session.
      const pub2 = await connectClient(t, broker.port(), { protocolVersion: v });
      await pub2.publishAsync(q2, "after-q2", { qos: 2 });
      await pub2.endAsync();
      await publishMarker(t, broker.port(), again.messages, q1, "after-q1", v);

      assert.deepEqual(
        again.packets.map(({ topic, payload, qos }) => ({ topic, payload, qos })),
        [...offline, { topic: q2, payload: "after-q2", qos: 2 }, { topic: q1, payload: "after-q1", qos: 1 }],
        "each message once, in the order it was published, at its QoS",
      );
    });
  }
}

for (const [v, vname] of VERSIONS) {
  test(`unacknowledged QoS 1 messages in flight are resent with DUP, oldest first, after a restart (${vname})`, async (t) => {
    const N = 8;
    const broker = await startBroker(t);
    const id = uniqueClientId("inflight");
    const topic = `${id}/t`;
    const conn = { version: v, clientId: id, clean: false, props: v === 5 ? [[PROP.SESSION_EXPIRY, 300]] : [] };

    const { client: sub } = await rawConnect(t, broker.port(), conn);
    await sub.send(subscribe({ version: v, filter: topic, qos: 1 }));
    await sub.next(TYPE.SUBACK, "the SUBACK");
    const pub = await connectClient(t, broker.port(), { protocolVersion: v });
    for (let i = 1; i <= N; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
    await pub.endAsync();
    for (let i = 1; i <= N; i++) {
      const p = await sub.next(TYPE.PUBLISH, `first delivery of m${i}`);
      assert.equal(parsePublish(p, v).payload.toString(), `m${i}`);
      assert.equal(p.flags & 0x08, 0, "a first delivery has no DUP flag");
    }
    // The subscriber never PUBACKs them.

    await broker.restart("stop");
    await sub.waitClosed("the subscriber's connection to end with the stop");

    const { client: again, connack } = await rawConnect(t, broker.port(), conn);
    assert.equal(connack.sessionPresent, true);
    const resent = [];
    for (let i = 1; i <= N; i++) {
      const p = await again.next(TYPE.PUBLISH, `the resend of message ${i}`);
      const m = parsePublish(p, v);
      resent.push({ payload: m.payload.toString(), dup: (p.flags & 0x08) !== 0, qos: m.qos });
      await again.send(puback(m.packetId));
    }
    // A SUBACK after the PUBACKs: the broker has processed them.
    await again.send(subscribe({ version: v, filter: `${id}/sync`, qos: 0, packetId: 9999 }));
    await again.next(TYPE.SUBACK, "the SUBACK behind the PUBACKs");
    assert.deepEqual(
      resent,
      Array.from({ length: N }, (_, i) => ({ payload: `m${i + 1}`, dup: true, qos: 1 })),
      "every unacknowledged message once, with DUP, in the order first sent",
    );

    // Acknowledged now: another restart resends nothing.
    await broker.restart("stop");
    await again.waitClosed("the connection to end with the second stop");
    const { client: third, connack: c3 } = await rawConnect(t, broker.port(), conn);
    assert.equal(c3.sessionPresent, true);
    const pub3 = await connectClient(t, broker.port(), { protocolVersion: v });
    await pub3.publishAsync(topic, "fresh", { qos: 1 });
    const p = await third.next(TYPE.PUBLISH, "the fresh message");
    assert.equal(parsePublish(p, v).payload.toString(), "fresh", "no acknowledged message is resent before it");
    assert.equal(p.flags & 0x08, 0);
  });
}

for (const [v, vname] of VERSIONS) {
  test(`a QoS 2 message the subscriber PUBRECed before a restart gets its PUBREL after it, not a new PUBLISH (${vname})`, async (t) => {
    const broker = await startBroker(t);
    const id = uniqueClientId("rel");
    const topic = `${id}/t`;
    const conn = { version: v, clientId: id, clean: false, props: v === 5 ? [[PROP.SESSION_EXPIRY, 300]] : [] };

    const { client: sub } = await rawConnect(t, broker.port(), conn);
    await sub.send(subscribe({ version: v, filter: topic, qos: 2 }));
    await sub.next(TYPE.SUBACK, "the SUBACK");
    const pub = await connectClient(t, broker.port(), { protocolVersion: v });
    await pub.publishAsync(topic, "released", { qos: 2 });
    await pub.publishAsync(topic, "unacknowledged", { qos: 2 });
    await pub.endAsync();
    const first = parsePublish(await sub.next(TYPE.PUBLISH, "the first QoS 2 message"), v);
    const second = parsePublish(await sub.next(TYPE.PUBLISH, "the second QoS 2 message"), v);
    assert.deepEqual([first.payload.toString(), second.payload.toString()], ["released", "unacknowledged"]);
    await sub.send(pubrec(first.packetId)); // the second one is never acknowledged
    const rel = await sub.next(TYPE.PUBREL, "the PUBREL of the first message");
    assert.equal(rel.body.readUInt16BE(0), first.packetId);
    // A SUBACK after the PUBREC: the broker has processed it.
    await sub.send(subscribe({ version: v, filter: `${id}/sync`, qos: 0, packetId: 9999 }));
    await sub.next(TYPE.SUBACK, "the SUBACK behind the PUBREC");

    await broker.restart("stop");
    await sub.waitClosed("the subscriber's connection to end with the stop");

    const { client: again, connack } = await rawConnect(t, broker.port(), conn);
    assert.equal(connack.sessionPresent, true);
    const resent = parsePublish(await again.next(TYPE.PUBLISH, "the resend of the unacknowledged message"), v);
    assert.equal(resent.payload.toString(), "unacknowledged");
    assert.equal(resent.packetId, second.packetId, "resent with its packet id");
    assert.deepEqual(
      again.received(TYPE.PUBLISH).map((p) => parsePublish(p, v).payload.toString()),
      ["unacknowledged"],
      "the PUBRECed message is not published again (MQTT: resend the PUBREL)",
    );
    const rel2 = await again.next(TYPE.PUBREL, "the PUBREL of the PUBRECed message, resent");
    assert.equal(rel2.body.readUInt16BE(0), first.packetId);
  });
}

for (const [v, vname] of VERSIONS) {
  test(`a clean session is not kept across a restart (${vname})`, async (t) => {
    const broker = await startBroker(t);
    const id = uniqueClientId("clean");
    const topic = `${id}/t`;
    const cleanOpts =
      v === 5
        ? { protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: 0 } }
        : { protocolVersion: 4, clientId: id, clean: true };
    const live = await connectCollecting(t, broker.port(), cleanOpts);
    await live.client.subscribeAsync(topic, { qos: 1 });
    const pub = await connectClient(t, broker.port(), { protocolVersion: v });
    await pub.publishAsync(topic, "while connected", { qos: 1 });
    await live.messages.waitFor((m) => m.topic === topic, "the live message");
    await pub.endAsync();

    // Still connected when the server stops.
    await broker.restart("stop");
    await closed(live.client);

    const again = await connectCollecting(t, broker.port(), persistentSession(v, id));
    assert.equal(again.connack.sessionPresent, false, "no session was kept for a clean client");
    await again.client.subscribeAsync(`${id}/marker`, { qos: 1 });
    const pub2 = await connectClient(t, broker.port(), { protocolVersion: v });
    await pub2.publishAsync(topic, "after the restart", { qos: 1 });
    await pub2.endAsync();
    await publishMarker(t, broker.port(), again.messages, `${id}/marker`);
    assert.deepEqual(again.messages.filter((m) => m.topic === topic).map(text), [], "its subscription is gone");
  });
}

test("session expiry keeps counting while the server is stopped (MQTT 5)", async (t) => {
  const EXPIRY_S = 2;
  const broker = await startBroker(t);
  const id = uniqueClientId("expiry");
  const topic = `${id}/t`;
  const opts = persistentSession(5, id, { expiry: EXPIRY_S });

  const first = await connectCollecting(t, broker.port(), opts);
  await first.client.subscribeAsync(topic, { qos: 1 });
  await first.client.endAsync();
  const disconnectedAt = Date.now();
  const pub = await connectClient(t, broker.port(), { protocolVersion: 5 });
  await pub.publishAsync(topic, "queued for an expiring session", { qos: 1 });
  await pub.endAsync();

  await broker.restart("stop", () => elapse(EXPIRY_S * 1000 + 500 - (Date.now() - disconnectedAt)));

  const again = await connectCollecting(t, broker.port(), opts);
  assert.equal(again.connack.sessionPresent, false, "the session expired while the server was stopped");
  await again.client.subscribeAsync(`${id}/marker`, { qos: 1 });
  await publishMarker(t, broker.port(), again.messages, `${id}/marker`, undefined, 5);
  assert.deepEqual(again.messages.filter((m) => m.topic === topic).map(text), [], "its queued message is gone with it");
});

test("a tenant keeps its own store: its retained message survives a restart, unseen by the default broker", async (t) => {
  const broker = await startBroker(t, {
    tenants: ["acme"],
    listeners: [tcpListener({ name: "default" }), tcpListener({ name: "acme", tenant: "acme" })],
  });
  const topic = `${uniqueClientId("tenant")}/r`;
  const pub = await connectClient(t, broker.port("acme"));
  await pub.publishAsync(topic, "acme only", { qos: 1, retain: true });
  await pub.endAsync();

  await broker.restart("stop");
  assert.ok(fs.existsSync(storeLog(broker.dir, "acme")), `${storeLog(broker.dir, "acme")} exists`);

  const inTenant = await connectCollecting(t, broker.port("acme"), {});
  await inTenant.client.subscribeAsync(topic, { qos: 1 });
  const m = await inTenant.messages.waitFor((x) => x.topic === topic, "the tenant's retained message");
  assert.equal(m.payload.toString(), "acme only");
  assert.equal(m.packet.retain, true);

  const inDefault = await connectCollecting(t, broker.port("default"), {});
  await inDefault.client.subscribeAsync([topic, `${topic}/marker`], { qos: 1 });
  await publishMarker(t, broker.port("default"), inDefault.messages, `${topic}/marker`);
  assert.deepEqual(inDefault.messages.filter((x) => x.topic === topic).map(text), [], "the default broker has no such retained message");
});

test("a restart does not write the retained messages it restores into the store again", async (t) => {
  const broker = await startBroker(t);
  const base = uniqueClientId("norewrite");
  const payload = "x".repeat(1024);
  const pub = await connectClient(t, broker.port(), {});
  for (let i = 0; i < 200; i++) {
    await pub.publishAsync(`${base}/${i}`, payload, { qos: 1, retain: true });
  }
  await pub.endAsync();
  await broker.restart("stop");
  const before = fs.statSync(storeLog(broker.dir)).size;
  await broker.restart("stop");
  const after = fs.statSync(storeLog(broker.dir)).size;
  // 200 KiB of retained payload: a rewrite would add at least that much;
  // what a restart may add is a few small records (clock, sessions).
  assert.ok(after - before < 16 * 1024, `the log grew by ${after - before} bytes over a restart`);

  const { client, messages } = await connectCollecting(t, broker.port(), {});
  await client.subscribeAsync(`${base}/#`, { qos: 1 });
  await messages.waitFor(() => messages.filter((m) => m.topic.startsWith(`${base}/`)).length === 200, "all 200 retained messages");
});

/** A subscriber's persistent MQTT 5 session on `topic`, left offline. */
async function offlineSubscriber(t, port, topic) {
  const opts = persistentSession(5, uniqueClientId("willsub"));
  const s = await connectCollecting(t, port, opts);
  await s.client.subscribeAsync(topic, { qos: 1 });
  await s.client.endAsync();
  return opts;
}

/** mqtt.js options of an MQTT 5 client with a delayed will on `topic`. */
function willClient(topic, delayS) {
  return persistentSession(5, uniqueClientId("will"), {
    expiry: 60,
    will: { topic, payload: "gone", qos: 1, properties: { willDelayInterval: delayS } },
  });
}

test("a delayed will pending when the server stops is sent once after the restart (MQTT 5)", async (t) => {
  const DELAY_S = 2;
  const broker = await startBroker(t);
  const topic = `${uniqueClientId("will")}/status`;
  const subOpts = await offlineSubscriber(t, broker.port(), topic);
  const willer = await connectClient(t, broker.port(), willClient(topic, DELAY_S));

  await broker.restart("stop"); // the will client's connection ends without a DISCONNECT
  await closed(willer);

  const sub = await connectCollecting(t, broker.port(), subOpts);
  assert.equal(sub.connack.sessionPresent, true);
  const will = await sub.messages.waitFor((m) => m.topic === topic, "the will after the restart");
  assert.equal(will.payload.toString(), "gone");
  // A second copy would come from a second delay running out.
  await elapse(DELAY_S * 1000);
  await publishMarker(t, broker.port(), sub.messages, topic, "marker", 5);
  assert.deepEqual(sub.messages.map(text), [`${topic}=gone`, `${topic}=marker`], "the will exactly once");
});

test("the will of a client that disconnected normally is not sent after a restart (MQTT 5)", async (t) => {
  const DELAY_S = 2;
  const broker = await startBroker(t);
  const topic = `${uniqueClientId("nowill")}/status`;
  const subOpts = await offlineSubscriber(t, broker.port(), topic);
  const willer = await connectClient(t, broker.port(), willClient(topic, DELAY_S));
  await willer.endAsync(); // DISCONNECT, reason 0: the will is discarded

  await broker.restart("stop");
  const restartedAt = Date.now();

  const sub = await connectCollecting(t, broker.port(), subOpts);
  assert.equal(sub.connack.sessionPresent, true);
  // Past the will delay, counted from the restart: a kept will would be out.
  await elapse(DELAY_S * 1000 + 1000 - (Date.now() - restartedAt));
  await publishMarker(t, broker.port(), sub.messages, topic, "marker", 5);
  assert.deepEqual(sub.messages.map(text), [`${topic}=marker`], "no will");
});
