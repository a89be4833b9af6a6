"use strict";
// CONNECTs the broker must refuse, and with the code the spec gives: strings
// containing U+0000 are malformed (MQTT-1.5.3-2 / MQTT-1.5.4-2), client ids
// longer than the listener's maxClientIdLen are not valid, a CONNECT above the
// listener's maxPacketSize is too large. Raw packets where mqtt.js would not
// send them; real MQTT 3.1.1 and 5 clients otherwise.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { TYPE, PROP, RawClient, connect, publish, rawConnect, parseConnack } = require("./helpers/raw-mqtt");

const NUL = Buffer.from("a\u0000b");

/** The CONNACKs received before the broker closed `client`. */
async function connacksUntilClosed(client, version) {
  await client.waitClosed();
  return client.received(TYPE.CONNACK).map((p) => parseConnack(p, version).code);
}

const NUL_FIELDS = {
  "client id": { clientId: NUL },
  username: { clientId: "nul-user", username: NUL },
  "will topic": { clientId: "nul-will", will: { topic: NUL, payload: "bye" } },
  password: null, // binary data: NUL is allowed there (checked below)
};

for (const version of [4, 5]) {
  const v = version === 5 ? "MQTT 5" : "MQTT 3.1.1";
  for (const [field, fields] of Object.entries(NUL_FIELDS)) {
    if (!fields) continue;
    test(`${v}: a CONNECT whose ${field} contains U+0000 is refused as malformed`, async (t) => {
      const { port } = await startServer(t);
      const client = new RawClient(t, port);
      await client.send(connect({ version, ...fields }));
      const codes = await connacksUntilClosed(client, version);
      // MQTT 5: CONNACK 0x81 Malformed Packet, then close. MQTT 3.1.1 has no
      // return code for it: close only.
      assert.deepEqual(codes, version === 5 ? [0x81] : []);
    });
  }

  test(`${v}: a password may contain NUL bytes (binary data, not a string)`, async (t) => {
    const { port } = await startServer(t);
    const { connack } = await rawConnect(t, port, { version, clientId: "nul-pass", username: "u", password: NUL });
    assert.equal(connack.code, 0);
  });

  test(`${v}: a PUBLISH whose topic contains U+0000 closes the connection and reaches nobody`, async (t) => {
    const { port } = await startServer(t);
    const sub = await connectClient(t, port, { protocolVersion: 5 });
    await sub.subscribeAsync("#", { qos: 0 });
    const got = [];
    sub.on("message", (topic) => got.push(topic));
    const { client, connack } = await rawConnect(t, port, { version, clientId: "nul-topic" });
    assert.equal(connack.code, 0);
    await client.send(publish({ version, topic: Buffer.from("nul/\u0000/x"), payload: "x" }));
    await client.waitClosed();
    // A publish after the close arrives after anything the bad one could have sent.
    const pub = await connectClient(t, port);
    const marker = nextMessage(sub, "nul/marker");
    await pub.publishAsync("nul/marker", "m");
    await marker;
    assert.deepEqual(got, ["nul/marker"]);
  });
}

test("MQTT 5: a user property named with U+0000 closes the connection and reaches nobody", async (t) => {
  // Such a name is what rmqtt-js uses internally to mark a publish denied by
  // the publish ACL: a client must not be able to send one.
  const { port } = await startServer(t);
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  await sub.subscribeAsync("#", { qos: 0 });
  const got = [];
  sub.on("message", (topic) => got.push(topic));
  const { client } = await rawConnect(t, port, { version: 5, clientId: "nul-prop" });
  await client.send(
    publish({ topic: "nul/prop", payload: "x", props: [[PROP.USER_PROPERTY, [Buffer.from("\u0000rmqtt-js:denied"), "forged"]]] }),
  );
  await client.waitClosed();
  const pub = await connectClient(t, port);
  const marker = nextMessage(sub, "nul/marker");
  await pub.publishAsync("nul/marker", "m");
  await marker;
  assert.deepEqual(got, ["nul/marker"]);
});

for (const protocolVersion of [4, 5]) {
  const v = protocolVersion === 5 ? "MQTT 5" : "MQTT 3.1.1";
  const notValid = protocolVersion === 5 ? 0x85 : 2; // Client Identifier not valid / Identifier rejected

  test(`${v}: client ids up to maxClientIdLen (default 256) are accepted, longer ones refused`, async (t) => {
    const { port } = await startServer(t);
    await connectClient(t, port, { protocolVersion, clientId: "i".repeat(256) });
    const longer = await connectRefused(t, port, { protocolVersion, clientId: "i".repeat(257) });
    assert.equal(longer.code, notValid);
    const huge = await connectRefused(t, port, { protocolVersion, clientId: "h".repeat(60 * 1024) });
    assert.equal(huge.code, notValid);
  });

  test(`${v}: maxClientIdLen sets the longest client id`, async (t) => {
    const { port } = await startServer(t, { listeners: [tcpListener({ maxClientIdLen: 30 })] });
    await connectClient(t, port, { protocolVersion, clientId: "j".repeat(30) });
    const refused = await connectRefused(t, port, { protocolVersion, clientId: "j".repeat(31) });
    assert.equal(refused.code, notValid);
  });
}

test("MQTT 5: a CONNECT larger than maxPacketSize is refused with 0x95 Packet too large", async (t) => {
  const { port } = await startServer(t, { listeners: [tcpListener({ maxPacketSize: 1024 })] });
  const client = new RawClient(t, port);
  await client.send(connect({ version: 5, clientId: "big", username: "u", password: Buffer.alloc(2000, 0x61) }));
  assert.deepEqual(await connacksUntilClosed(client, 5), [0x95]);
  // One just under the limit is fine.
  const { connack } = await rawConnect(t, port, {
    version: 5,
    clientId: "fits",
    username: "u",
    password: Buffer.alloc(900, 0x61),
  });
  assert.equal(connack.code, 0);
});
