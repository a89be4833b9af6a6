"use strict";
// A client that sends garbage loses its own connection and nothing else:
// connected clients keep their sessions and traffic, new clients still get
// in, on a plain listener, a TLS listener and a tenant gateway.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const crypto = require("node:crypto");

const { startServer, tcpListener, MqttServer, shutDown } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { withTimeout } = require("./helpers/wait");
const { makeSelfSignedCert } = require("./helpers/certs");
const { watchDisconnects } = require("./helpers/tenants");

/** A CONNECT whose fixed header and protocol name are given, the rest well formed. */
function connectWith({ protocol = "MQTT", level = 4, flags = 0x02 } = {}) {
  const name = Buffer.from(protocol);
  const body = Buffer.concat([
    Buffer.from([0, name.length]),
    name,
    Buffer.from([level, flags, 0, 30, 0, 1, 0x78]),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** What a broker must survive as the first bytes of a connection. */
const GARBAGE = {
  "an HTTP request": Buffer.from("GET / HTTP/1.1\r\nHost: broker\r\n\r\n"),
  "random bytes": crypto.randomBytes(256),
  "a PUBLISH before CONNECT": Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x62, 0x63]),
  "a CONNECT with an unknown protocol name": connectWith({ protocol: "XQTT" }),
  "a CONNECT with protocol level 9": connectWith({ level: 9 }),
  "a CONNECT with the reserved flag set": connectWith({ flags: 0x03 }),
  "a CONNECT with a malformed remaining length": Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]),
};

/** Writes `bytes` on a raw TCP connection; resolves once the broker closed it. */
function sendGarbage(port, bytes) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {}); // a reset is one way of being closed
  socket.resume(); // read (and drop) what the broker answers, e.g. a refusing CONNACK, up to its close
  socket.on("connect", () => socket.write(bytes));
  return withTimeout(
    new Promise((resolve) => socket.on("close", resolve)),
    `the broker to close a connection that sent ${bytes.length} garbage bytes`,
  ).finally(() => socket.destroy());
}

/** A publisher and a subscriber on `port`, subscribed to `topic`. */
async function pair(t, port, opts = {}) {
  const sub = await connectClient(t, port, opts);
  const pub = await connectClient(t, port, opts);
  await sub.subscribeAsync("survivors/#", { qos: 1 });
  return { sub, pub };
}

/** One QoS 1 message makes it from `pub` to `sub`. */
async function roundTrip(pub, sub, label) {
  const got = nextMessage(sub, `survivors/${label}`);
  await pub.publishAsync(`survivors/${label}`, label, { qos: 1 });
  assert.equal((await got).payload.toString(), label);
}

/** Throws every kind of garbage at `port`; the clients of `pair` stay connected. */
async function survives(t, port, clientOpts = {}) {
  const { sub, pub } = await pair(t, port, clientOpts);
  const drops = watchDisconnects([sub, pub]);
  await Promise.all(Object.values(GARBAGE).map((bytes) => sendGarbage(port, bytes)));
  await roundTrip(pub, sub, "after-garbage");
  const late = await connectClient(t, port, clientOpts);
  await roundTrip(late, sub, "newcomer");
  assert.equal(drops.count, 0, `no client was disconnected: ${drops.events.join(", ")}`);
}

test("garbage on a plain listener closes that connection only", async (t) => {
  const { port } = await startServer(t);
  await survives(t, port);
});

test("each kind of garbage is refused on its own connection", async (t) => {
  const { port } = await startServer(t);
  for (const [what, bytes] of Object.entries(GARBAGE)) {
    await t.test(what, () => sendGarbage(port, bytes));
  }
});

test("plain MQTT and garbage on a TLS listener close that connection only", async (t) => {
  const files = makeSelfSignedCert(t);
  if (!files) return t.skip("no way to make a certificate");
  const { port } = await startServer(t, {
    listeners: [tcpListener({ name: "tls", protocol: "tls", tlsCert: files.cert, tlsKey: files.key })],
    logger: () => {}, // rmqtt WARNs each failed TLS handshake
  });
  const { sub, pub } = await pair(t, port, { protocol: "tls" });
  await Promise.all(
    [connectWith(), ...Object.values(GARBAGE)].map((bytes) => sendGarbage(port, bytes)),
  );
  await roundTrip(pub, sub, "tls-after-garbage");
});

test("garbage on a tenant gateway closes that connection only", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  await server.addTenant("acme", {});
  await server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: { fallbackTenant: "acme" } });
  await survives(t, server.listeners[0].port, { username: "dev@acme" });
});

test("garbage on a TLS tenant gateway closes that connection only", async (t) => {
  const files = makeSelfSignedCert(t);
  if (!files) return t.skip("no way to make a certificate");
  const server = new MqttServer({ logger: () => {} });
  t.after(() => shutDown(server));
  await server.addTenant("acme", {});
  await server.start({
    listeners: [tcpListener({ name: "gw-tls", protocol: "tls", tlsCert: files.cert, tlsKey: files.key })],
    tenancy: { fallbackTenant: "acme" },
  });
  const port = server.listeners[0].port;
  const { sub, pub } = await pair(t, port, { protocol: "tls", username: "dev@acme" });
  await Promise.all([connectWith(), ...Object.values(GARBAGE)].map((bytes) => sendGarbage(port, bytes)));
  await roundTrip(pub, sub, "tls-gateway-after-garbage");
});
