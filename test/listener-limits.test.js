"use strict";
// Per-listener session limits: the message queue of an offline persistent
// session (maxQueuedMessages), the largest packet a client may send
// (maxPacketSize), and their validation (ERR_CONFIG_LIMIT).

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, RmqttError } = require("..");
const { startServer, tcpListener, shutDown } = require("./helpers/server");
const { connectClient, createClient, connackOf, closed } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { withTimeout } = require("./helpers/wait");

const BACKLOG = 3000;

/**
 * A persistent QoS 1 subscriber goes offline, BACKLOG messages are published
 * (each acknowledged), the subscriber comes back. Waits until every message is
 * accounted for, received or dropped (onMessageDropped), and returns
 * `{ received, dropped }` (received: distinct messages).
 */
async function offlineBacklog(t, maxQueuedMessages) {
  let dropped = 0;
  const received = new Set();
  let settle;
  const accounted = new Promise((resolve) => {
    settle = () => {
      if (received.size + dropped >= BACKLOG) resolve();
    };
  });
  let subGone;
  const disconnected = new Promise((resolve) => {
    subGone = resolve;
  });
  const { port } = await startServer(t, {
    listeners: [tcpListener({ maxQueuedMessages })],
    hooks: {
      onClientDisconnected: (session) => {
        if (session.clientId === "slow") subGone();
      },
      onMessageDropped: (session, _from, message, info) => {
        if (session?.clientId !== "slow" || message.topic !== "backlog/n") return;
        assert.equal(info.reason, "MessageQueueFull");
        dropped += 1;
        settle();
      },
    },
  });

  const sub = await connectClient(t, port, { clientId: "slow", clean: false });
  await sub.subscribeAsync("backlog/#", { qos: 1 });
  sub.end(true);
  await withTimeout(disconnected, "the subscriber's disconnect");

  const pub = await connectClient(t, port);
  await withTimeout(
    Promise.all(
      Array.from({ length: BACKLOG }, (_, i) => pub.publishAsync("backlog/n", String(i), { qos: 1 })),
    ),
    "PUBACKs of the backlog",
  );

  // Listen before the CONNACK: the queued messages follow it at once.
  const back = createClient(port, { clientId: "slow", clean: false });
  t.after(() => back.end(true));
  back.on("message", (topic, payload) => {
    if (topic !== "backlog/n") return;
    received.add(payload.toString());
    settle();
  });
  const connack = await withTimeout(connackOf(back), "the subscriber's return");
  assert.equal(connack.sessionPresent, true);
  await withTimeout(accounted, () => `all ${BACKLOG} messages (received ${received.size}, dropped ${dropped})`);
  return { received: received.size, dropped };
}

test("maxQueuedMessages 5000: a returning persistent subscriber gets all 3000 messages it missed", async (t) => {
  const { received, dropped } = await offlineBacklog(t, 5000);
  assert.equal(received, BACKLOG);
  assert.equal(dropped, 0);
});

test("maxQueuedMessages 10: the broker keeps about 10 of them and reports the others dropped", async (t) => {
  const { received, dropped } = await offlineBacklog(t, 10);
  // The queue, plus at most one in-flight window (default 16).
  assert.ok(received >= 1 && received <= 10 + 16, `${received} received, ${dropped} dropped`);
  assert.ok(dropped >= BACKLOG - (10 + 16), `${dropped} dropped`);
});

test("maxPacketSize: a client that sends a larger packet is disconnected", async (t) => {
  const { port } = await startServer(t, { listeners: [tcpListener({ maxPacketSize: 1024 })] });
  const client = await connectClient(t, port);
  await client.subscribeAsync("big", { qos: 0 });
  const small = nextMessage(client, "big");
  await client.publishAsync("big", Buffer.alloc(900, "x"));
  assert.equal((await small).payload.length, 900);
  const gone = closed(client, "the disconnect after an oversized publish");
  client.publish("big", Buffer.alloc(2000, "x"));
  await gone;
});

for (const [field, value, range] of [
  ["maxQueuedMessages", 0, "from 1 to 1000000"],
  ["maxInflight", 70000, "from 1 to 65535"],
  ["maxPacketSize", 1.5, "from 128 to 268435455"],
  ["sessionExpiryIntervalSecs", -1, "from 0 to 4294967295"],
  ["maxSessionExpiryIntervalSecs", "60", "from 1 to 4294967295"],
  ["maxInflight", NaN, "from 1 to 65535"],
]) {
  test(`${field} ${typeof value === "string" ? JSON.stringify(value) : String(value)} fails with ERR_CONFIG_LIMIT naming listener, field and range`, async (t) => {
    const server = new MqttServer();
    t.after(() => shutDown(server));
    await assert.rejects(server.start({ listeners: [tcpListener({ name: "edge", [field]: value })] }), (err) => {
      assert.ok(err instanceof RmqttError);
      assert.equal(err.code, "ERR_CONFIG_LIMIT");
      assert.match(err.message, /`edge`/);
      assert.ok(err.message.includes(field) && err.message.includes(range), err.message);
      return true;
    });
    assert.equal(server.running, false);
  });
}
