"use strict";
// A message the broker acknowledged is delivered or reported: a PUBLISH at
// (or just under) the listener's maxPacketSize grows on its way out (the
// broker adds properties for the subscriber), and one that no longer fits
// the subscriber's Maximum Packet Size is reported with onMessageDropped and
// a reason, while the subscriber stays connected and gets what follows.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { withTimeout } = require("./helpers/wait");

const MAX = 1024;
const TOPIC = "big/t";

/** A payload that makes the MQTT 5 QoS 1 PUBLISH to TOPIC (no properties) `MAX + delta` bytes long. */
function payloadFor(delta) {
  // fixed header (1 + 2-byte remaining length) + topic (2 + len) + packet id (2) + properties length (1)
  const overhead = 1 + 2 + 2 + TOPIC.length + 2 + 1;
  return Buffer.alloc(MAX - overhead + delta, 0x61);
}

for (const protocolVersion of [5, 4]) {
  test(`publishes up to maxPacketSize reach an MQTT ${protocolVersion === 5 ? "5" : "3.1.1"} subscriber or are reported dropped, and it stays connected`, async (t) => {
    const deltas = [-20, -3, -2, -1, 0];
    const received = new Set();
    const dropped = new Map();
    let settle;
    const accounted = new Promise((resolve) => {
      settle = () => {
        if (received.size + dropped.size >= deltas.length) resolve();
      };
    });
    const { port } = await startServer(t, {
      listeners: [tcpListener({ maxPacketSize: MAX })],
      hooks: {
        onMessageDropped: (_session, _from, message, info) => {
          if (message.topic !== TOPIC) return;
          dropped.set(message.payload.length, info.reason);
          settle();
        },
      },
    });
    const sub = await connectClient(t, port, { protocolVersion });
    await sub.subscribeAsync("big/#", { qos: 1 });
    let closes = 0;
    sub.on("close", () => { closes += 1; });
    const end = new Promise((resolve) => {
      sub.on("message", (topic, payload) => {
        if (topic === TOPIC) {
          received.add(payload.length);
          settle();
        } else if (topic === "big/end") resolve();
      });
    });
    const pub = await connectClient(t, port, { protocolVersion: 5 });
    for (const delta of deltas) await pub.publishAsync(TOPIC, payloadFor(delta), { qos: 1 });
    await pub.publishAsync("big/end", "end", { qos: 1 });

    await withTimeout(end, "the message after the big ones");
    await withTimeout(accounted, () => `every big message received or reported (received ${[...received]}, dropped ${[...dropped.keys()]})`);
    assert.equal(closes, 0, "the subscriber was not disconnected");
    assert.ok(sub.connected);
    for (const reason of dropped.values()) assert.match(String(reason), /too large/);
    // Well under the limit always gets through.
    assert.ok(received.has(payloadFor(-20).length));
  });
}
