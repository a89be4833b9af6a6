"use strict";
// Exactly once across connections: a QoS 2 PUBLISH that a persistent session
// sends again (DUP) after its connection ended before PUBREL, on a reconnect
// or after a restart of the broker, is answered with PUBREC and not delivered
// a second time [MQTT-4.3.3-10]. Raw packets, since client libraries resend on
// their own terms.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { MqttServer, tcpListener, shutDown } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { TYPE, rawConnect } = require("./helpers/raw-mqtt");
const packets = require("./helpers/mqtt-packets");
const { withTimeout } = require("./helpers/wait");

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-js-qos2-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function persistentServer(t, dir) {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  await server.start({ listeners: [tcpListener()], persistence: { dir } });
  return server;
}

/** A subscriber that counts payloads on `topic` and resolves `until(p)` when `p` arrives. */
async function countingSubscriber(t, port, topic) {
  const sub = await connectClient(t, port);
  const seen = [];
  const waiters = [];
  sub.on("message", (_t, payload) => {
    seen.push(payload.toString());
    for (const w of [...waiters]) if (w.payload === payload.toString()) w.resolve();
  });
  await sub.subscribeAsync(topic, { qos: 2 });
  const until = (payload) =>
    seen.includes(payload)
      ? Promise.resolve()
      : withTimeout(new Promise((resolve) => waiters.push({ payload, resolve })), `"${payload}" at the subscriber`);
  return { sub, seen, until };
}

/** Sends a QoS 2 PUBLISH and awaits its PUBREC; returns the PUBREC packet. */
async function publishQos2(client, { topic, payload, packetId, dup = false }) {
  await client.send(packets.publish({ topic, payload, qos: 2, packetId, dup }));
  return client.next(TYPE.PUBREC, `PUBREC ${packetId}`);
}

async function release(client, packetId) {
  await client.send(packets.packet(0x62, packets.u16(packetId)));
  return client.next(TYPE.PUBCOMP, `PUBCOMP ${packetId}`);
}

const PUBLISHER = { version: 4, clientId: "qos2-pub", clean: false };

test("a QoS 2 PUBLISH resent after a reconnect, before PUBREL, is delivered once", async (t) => {
  const server = await persistentServer(t, tempDir(t));
  const port = server.listeners[0].port;
  const { seen, until } = await countingSubscriber(t, port, "x2/#");

  const first = await rawConnect(t, port, PUBLISHER);
  await publishQos2(first.client, { topic: "x2/a", payload: "once", packetId: 7 });
  await until("once");
  first.client.socket.destroy(); // gone before PUBREL
  await first.client.waitClosed();

  const again = await rawConnect(t, port, PUBLISHER);
  assert.equal(again.connack.sessionPresent, true);
  const rec = await publishQos2(again.client, { topic: "x2/a", payload: "once", packetId: 7, dup: true });
  assert.equal(rec.body.readUInt16BE(0), 7);
  await release(again.client, 7);
  // A later message from the same publisher arrives after any second copy would have.
  await publishQos2(again.client, { topic: "x2/a", payload: "end", packetId: 8 });
  await release(again.client, 8);
  await until("end");
  assert.deepEqual(seen, ["once", "end"]);
});

test("a QoS 2 PUBLISH resent after the broker restarted, before PUBREL, is delivered once", async (t) => {
  const dir = tempDir(t);
  let server = await persistentServer(t, dir);
  let port = server.listeners[0].port;
  const before = await countingSubscriber(t, port, "r2/#");

  const first = await rawConnect(t, port, PUBLISHER);
  await publishQos2(first.client, { topic: "r2/a", payload: "once", packetId: 9 });
  await before.until("once");
  before.sub.end(true);
  await server.stop();
  await server.start({ listeners: [tcpListener()], persistence: { dir } });
  port = server.listeners[0].port;

  // A new subscriber: it can only see a second copy of "once".
  const after = await countingSubscriber(t, port, "r2/#");
  const again = await rawConnect(t, port, PUBLISHER);
  assert.equal(again.connack.sessionPresent, true);
  await publishQos2(again.client, { topic: "r2/a", payload: "once", packetId: 9, dup: true });
  await release(again.client, 9);
  await publishQos2(again.client, { topic: "r2/a", payload: "end", packetId: 10 });
  await release(again.client, 10);
  await after.until("end");
  assert.deepEqual(after.seen, ["end"], "the first copy was delivered before the restart, and only then");
});

test("a new QoS 2 PUBLISH that reuses a completed packet id is delivered", async (t) => {
  const server = await persistentServer(t, tempDir(t));
  const port = server.listeners[0].port;
  const { seen, until } = await countingSubscriber(t, port, "n2/#");
  const { client } = await rawConnect(t, port, PUBLISHER);
  await publishQos2(client, { topic: "n2/a", payload: "one", packetId: 3 });
  await release(client, 3);
  await publishQos2(client, { topic: "n2/a", payload: "two", packetId: 3 });
  await release(client, 3);
  // A resend (DUP) whose first copy never arrived is a new message too.
  await publishQos2(client, { topic: "n2/a", payload: "three", packetId: 3, dup: true });
  await release(client, 3);
  await until("three");
  assert.deepEqual(seen, ["one", "two", "three"]);
});
