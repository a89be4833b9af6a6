"use strict";
// MQTT 5 protocol errors answered as the spec says, with raw packets (mqtt.js
// will not send invalid ones): a Topic Alias of 0 or above the Topic Alias
// Maximum the broker advertised → DISCONNECT 0x94 Topic Alias invalid; more
// unacknowledged QoS 1/2 PUBLISHes than the broker's Receive Maximum (the
// listener's maxInflight) → DISCONNECT 0x93 Receive Maximum exceeded. And
// what the broker advertises in CONNACK works up to its limit.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { TYPE, PROP, rawConnect, publish, parseDisconnect } = require("./helpers/raw-mqtt");

const TOPIC_ALIAS_INVALID = 0x94;
const RECEIVE_MAXIMUM_EXCEEDED = 0x93;

/** The port of a broker with one loopback listener with `opts`. */
async function brokerWith(t, opts = {}) {
  const { port } = await startServer(t, { listeners: [tcpListener(opts)] });
  return port;
}

/** A subscriber (a real MQTT 5 client) collecting everything under `prefix/#`. */
async function watcher(t, port, prefix) {
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  await sub.subscribeAsync(`${prefix}/#`, { qos: 2 });
  return { sub, messages: collectMessages(sub) };
}

/** A message published after `client` closed, to know the earlier ones were routed or not. */
async function marker(t, port, messages, topic) {
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  await pub.publishAsync(topic, "marker", { qos: 1 });
  await messages.waitFor((m) => m.topic === topic, `the marker on ${topic}`);
  return messages.map((m) => `${m.topic}=${m.payload}`);
}

/** Awaits the broker's DISCONNECT and close of `client`; returns its reason code. */
async function disconnectCode(client) {
  const d = parseDisconnect(await client.next(TYPE.DISCONNECT, "the broker's DISCONNECT"));
  await client.waitClosed();
  return d.code;
}

test("CONNACK advertises Topic Alias Maximum 10 by default, and maxTopicAliases when set", async (t) => {
  for (const [opts, expected] of [[{}, 10], [{ maxTopicAliases: 3 }, 3], [{ maxTopicAliases: 0 }, 0]]) {
    const port = await brokerWith(t, opts);
    const { connack } = await rawConnect(t, port, { clientId: `adv-${expected}` });
    assert.equal(connack.code, 0);
    // 0 is the property's default: sent or left out, it means no aliases.
    assert.equal(connack.props.get(PROP.TOPIC_ALIAS_MAXIMUM) ?? 0, expected, JSON.stringify(opts));
  }
});

test("topic aliases 1..maxTopicAliases work, and map to their topics", async (t) => {
  const port = await brokerWith(t, { maxTopicAliases: 3 });
  const { messages } = await watcher(t, port, "alias");
  const { client } = await rawConnect(t, port, { clientId: "aliaser" });
  for (const alias of [1, 2, 3]) {
    await client.send(publish({ topic: `alias/${alias}`, payload: "set", props: [[PROP.TOPIC_ALIAS, alias]] }));
  }
  for (const alias of [3, 2, 1]) {
    await client.send(publish({ topic: "", payload: "use", qos: 1, packetId: alias, props: [[PROP.TOPIC_ALIAS, alias]] }));
  }
  for (const alias of [1, 2, 3]) {
    await messages.waitFor((m) => m.topic === `alias/${alias}` && String(m.payload) === "use", `alias ${alias} used`);
  }
  assert.equal(client.received(TYPE.PUBACK).length, 3);
  assert.equal(client.received(TYPE.DISCONNECT).length, 0);
});

for (const [what, alias] of [["0", 0], ["above the maximum", 4], ["far above the maximum", 65535]]) {
  test(`a Topic Alias ${what} gets DISCONNECT 0x94 Topic Alias invalid and is not delivered`, async (t) => {
    const port = await brokerWith(t, { maxTopicAliases: 3 });
    const { messages } = await watcher(t, port, "bad");
    const { client } = await rawConnect(t, port, { clientId: `alias-${alias}` });
    await client.send(publish({ topic: "bad/alias", payload: "x", qos: 1, props: [[PROP.TOPIC_ALIAS, alias]] }));
    assert.equal(await disconnectCode(client), TOPIC_ALIAS_INVALID);
    assert.deepEqual(await marker(t, port, messages, "bad/marker"), ["bad/marker=marker"]);
  });
}

test("CONNACK advertises the listener's maxInflight as Receive Maximum, whatever the client's own", async (t) => {
  const port = await brokerWith(t, { maxInflight: 3 });
  for (const own of [1, 3, 100]) {
    const { connack } = await rawConnect(t, port, {
      clientId: `recvmax-${own}`,
      props: [[PROP.RECEIVE_MAXIMUM, own]],
    });
    assert.equal(connack.props.get(PROP.RECEIVE_MAXIMUM), 3, `client's own Receive Maximum ${own}`);
  }
});

test("QoS 2 PUBLISHes up to Receive Maximum are accepted; one more gets DISCONNECT 0x93 and is not delivered", async (t) => {
  const port = await brokerWith(t, { maxInflight: 3 });
  const { messages } = await watcher(t, port, "rm");
  // The client's own Receive Maximum (1) limits what the broker sends it, not what it may send.
  const { client, connack } = await rawConnect(t, port, { clientId: "flooder", props: [[PROP.RECEIVE_MAXIMUM, 1]] });
  assert.equal(connack.props.get(PROP.RECEIVE_MAXIMUM), 3);
  // Three QoS 2 PUBLISHes, never released (no PUBREL): all three stay in flight.
  for (const id of [1, 2, 3]) {
    await client.send(publish({ topic: `rm/${id}`, payload: String(id), qos: 2, packetId: id }));
  }
  for (const id of [1, 2, 3]) await client.next(TYPE.PUBREC, `PUBREC ${id}`);
  // A fourth, QoS 1 or 2 alike, exceeds the Receive Maximum.
  await client.send(publish({ topic: "rm/4", payload: "4", qos: 1, packetId: 4 }));
  assert.equal(await disconnectCode(client), RECEIVE_MAXIMUM_EXCEEDED);
  assert.equal(client.received(TYPE.PUBACK).length, 0, "the fourth is not acknowledged");
  const seen = await marker(t, port, messages, "rm/marker");
  assert.ok(!seen.includes("rm/4=4"), `the fourth is not delivered: ${seen}`);
});

test("a QoS 2 PUBLISH above Receive Maximum is not delivered either", async (t) => {
  const port = await brokerWith(t, { maxInflight: 2 });
  const { messages } = await watcher(t, port, "rm2");
  const { client } = await rawConnect(t, port, { clientId: "flooder2" });
  for (const id of [1, 2, 3]) {
    await client.send(publish({ topic: `rm2/${id}`, payload: String(id), qos: 2, packetId: id }));
  }
  assert.equal(await disconnectCode(client), RECEIVE_MAXIMUM_EXCEEDED);
  assert.equal(client.received(TYPE.PUBREC).length, 2);
  const seen = await marker(t, port, messages, "rm2/marker");
  assert.ok(!seen.includes("rm2/3=3"), `the third is not delivered: ${seen}`);
});

test("QoS 1 PUBLISHes, each acknowledged before the next is read, never exceed Receive Maximum", async (t) => {
  const port = await brokerWith(t, { maxInflight: 2 });
  const { messages } = await watcher(t, port, "q1");
  const { client } = await rawConnect(t, port, { clientId: "burst" });
  const burst = Buffer.concat(
    Array.from({ length: 20 }, (_, i) => publish({ topic: "q1/n", payload: String(i), qos: 1, packetId: i + 1 })),
  );
  await client.send(burst);
  await messages.waitFor(() => messages.filter((m) => m.topic === "q1/n").length === 20, "all 20 delivered");
  assert.equal(client.received(TYPE.DISCONNECT).length, 0);
});
