"use strict";
// Every listener kind (tcp, tls, ws, wss) accepts MQTT clients, and messages
// cross between them; server.listeners reports the real ports.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { makeSelfSignedCert } = require("./helpers/certs");

function listener(protocol, certs, extra = {}) {
  const l = { name: `${protocol}-listener`, address: "127.0.0.1", port: 0, protocol, ...extra };
  if (protocol === "tls" || protocol === "wss") Object.assign(l, { tlsCert: certs.cert, tlsKey: certs.key });
  return l;
}

for (const protocol of ["tcp", "tls", "ws", "wss"]) {
  test(`a ${protocol} listener carries a publish/subscribe round trip`, async (t) => {
    const certs = makeSelfSignedCert(t);
    if (!certs && (protocol === "tls" || protocol === "wss")) return t.skip("no way to make a certificate");
    const { server, port } = await startServer(t, { listeners: [listener(protocol, certs)] });
    assert.deepEqual(server.listeners, [
      { name: `${protocol}-listener`, protocol, address: "127.0.0.1", port },
    ]);
    assert.ok(port > 0);
    const sub = await connectClient(t, port, { protocol });
    const pub = await connectClient(t, port, { protocol, protocolVersion: 5 });
    await sub.subscribeAsync("kinds/t", { qos: 1 });
    const got = nextMessage(sub, "kinds/t");
    await pub.publishAsync("kinds/t", `over ${protocol}`, { qos: 1 });
    assert.equal((await got).payload.toString(), `over ${protocol}`);
  });
}

test("a message published over one listener kind reaches subscribers on every kind", async (t) => {
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("no way to make a certificate");
  const { server } = await startServer(t, {
    listeners: ["tcp", "tls", "ws", "wss"].map((p) => listener(p, certs)),
  });
  const subs = [];
  for (const l of server.listeners) {
    const c = await connectClient(t, l.port, { protocol: l.protocol });
    await c.subscribeAsync("everywhere/t");
    subs.push(c);
  }
  const wss = server.listeners.find((l) => l.protocol === "wss");
  const pub = await connectClient(t, wss.port, { protocol: "wss" });
  const all = Promise.all(subs.map((c) => nextMessage(c, "everywhere/t")));
  await pub.publishAsync("everywhere/t", "hello all");
  for (const m of await all) assert.equal(m.payload.toString(), "hello all");
});

test("a WebSocket listener accepts the /mqtt path and the root path", async (t) => {
  const { port } = await startServer(t, { listeners: [listener("ws")] });
  await connectClient(t, port, { protocol: "ws" }); // ws://127.0.0.1:port/mqtt
  const mqtt = require("mqtt");
  const c = mqtt.connect(`ws://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  c.on("error", () => {});
  t.after(() => c.end(true));
  await new Promise((resolve, reject) => {
    c.once("connect", resolve);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
});

test("allowAnonymous applies per listener", async (t) => {
  const { server } = await startServer(t, {
    listeners: [
      { name: "open", address: "127.0.0.1", port: 0, protocol: "tcp", allowAnonymous: true },
      { name: "closed", address: "127.0.0.1", port: 0, protocol: "ws", allowAnonymous: false },
    ],
  });
  const open = server.listeners.find((l) => l.name === "open");
  const shut = server.listeners.find((l) => l.name === "closed");
  await connectClient(t, open.port);
  const err = await connectRefused(t, shut.port, { protocol: "ws" });
  assert.ok(err.code !== undefined, `refused with a CONNACK code, got ${err}`);
});

for (const protocol of ["tls", "wss"]) {
  test(`a ${protocol} listener presents the configured certificate to a verifying client`, async (t) => {
    const certs = makeSelfSignedCert(t);
    if (!certs) return t.skip("no way to make a certificate");
    const { port } = await startServer(t, { listeners: [listener(protocol, certs)] });
    const ca = require("node:fs").readFileSync(certs.cert);
    const c = await connectClient(t, port, { protocol, rejectUnauthorized: true, ca, servername: "localhost" });
    assert.equal(c.connected, true);
  });
}

test("a plain TCP client cannot talk to a TLS listener", async (t) => {
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("no way to make a certificate");
  const { port } = await startServer(t, { listeners: [listener("tls", certs)] });
  await connectRefused(t, port, { protocol: "tcp", connectTimeout: 3000 });
});
