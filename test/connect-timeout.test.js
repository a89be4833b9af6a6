"use strict";
// A connection that sends no complete CONNECT within the listener's
// `connectTimeoutSecs` is closed by the broker: silent TCP peers and peers
// that stop in the middle of their CONNECT, while well-behaved MQTT 3.1.1 and
// MQTT 5 clients keep connecting and exchanging messages.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { withTimeout } = require("./helpers/wait");

const SILENT = 200;
const HALF = 40;

/** A well formed MQTT 3.1.1 CONNECT (client id "half"), of which a test sends only the start. */
const CONNECT = Buffer.from([
  0x10, 16, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 30, 0, 4, 0x68, 0x61, 0x6c, 0x66,
]);

/** How a hanging connection starts: nothing at all, or a prefix of a CONNECT. */
const STARTS = {
  nothing: null,
  "one byte of a CONNECT": CONNECT.subarray(0, 1),
  "a CONNECT's fixed header": CONNECT.subarray(0, 2),
  "half a CONNECT": CONNECT.subarray(0, 9),
  "all of a CONNECT but its last byte": CONNECT.subarray(0, CONNECT.length - 1),
};

/**
 * Opens a raw TCP connection that writes `bytes` (if any) and then nothing;
 * resolves with the socket once connected, and `socket.closedByBroker` once
 * the broker closed it.
 */
async function hangingConnection(t, port, bytes) {
  const socket = net.connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  socket.on("error", () => {}); // a reset is one way of being closed
  socket.resume(); // the broker answers nothing, but drain whatever comes
  socket.closedByBroker = new Promise((resolve) => socket.once("close", resolve));
  await withTimeout(
    new Promise((resolve) => socket.once("connect", resolve)),
    "a raw TCP connection to the broker",
  );
  if (bytes) socket.write(bytes);
  return socket;
}

test("connections that send no complete CONNECT are closed after connectTimeoutSecs", async (t) => {
  const { port } = await startServer(t, { listeners: [tcpListener({ connectTimeoutSecs: 1 })] });

  const sockets = [];
  for (let i = 0; i < SILENT; i += 1) sockets.push(await hangingConnection(t, port, null));
  const prefixes = Object.values(STARTS).filter(Boolean);
  for (let i = 0; i < HALF; i += 1) {
    sockets.push(await hangingConnection(t, port, prefixes[i % prefixes.length]));
  }

  // Meanwhile, well-behaved clients of both protocol versions get in and talk.
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  const pub = await connectClient(t, port, { protocolVersion: 4 });
  await sub.subscribeAsync("timeout/ok", { qos: 1 });

  let closed = 0;
  await withTimeout(
    Promise.all(sockets.map((s) => s.closedByBroker.then(() => { closed += 1; }))),
    () => `the broker to close all ${sockets.length} hanging connections (${closed} closed so far)`,
    60_000,
  );
  assert.equal(closed, SILENT + HALF);

  // The clients that did send their CONNECT were not touched.
  assert.ok(sub.connected && pub.connected, "well-behaved clients stay connected");
  const got = nextMessage(sub, "timeout/ok");
  await pub.publishAsync("timeout/ok", "still here", { qos: 1 });
  assert.equal((await got).payload.toString(), "still here");
});

test("the default connect timeout closes each way of hanging in the CONNECT", async (t) => {
  // No connectTimeoutSecs: the default (10 s) applies.
  const { port } = await startServer(t);
  await Promise.all(
    Object.entries(STARTS).map(async ([what, bytes]) => {
      const socket = await hangingConnection(t, port, bytes);
      await withTimeout(socket.closedByBroker, `the broker to close a connection that sent ${what}`, 60_000);
    }),
  );
});
