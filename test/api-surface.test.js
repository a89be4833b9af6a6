"use strict";
// The package root exports and the two config helpers of the seed API.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const pkg = require("..");
const { MqttServer, QoS, RmqttError } = pkg;
const { connectClient } = require("./helpers/client");
const { makeSelfSignedCert } = require("./helpers/certs");

test("the package root exports MqttServer, QoS and RmqttError", () => {
  assert.equal(typeof MqttServer, "function");
  assert.equal(typeof RmqttError, "function");
  assert.equal(QoS.AtMostOnce, 0);
  assert.equal(QoS.AtLeastOnce, 1);
  assert.equal(QoS.ExactlyOnce, 2);
});

test("the default export is MqttServer, as in the seed API", () => {
  assert.equal(pkg.default, MqttServer);
});

test("RmqttError is an Error subclass", () => {
  assert.ok(RmqttError.prototype instanceof Error);
});

test("a new server is not running and can be closed without being started", async () => {
  const server = new MqttServer();
  assert.equal(server.running, false);
  await server.stop(); // stopping a stopped server resolves (and logs a WARN)
  await server.close();
});

test("createBasicConfig defaults to one anonymous TCP listener on 0.0.0.0:1883", () => {
  const config = MqttServer.createBasicConfig();
  assert.deepEqual(config.listeners, [
    { name: "tcp", address: "0.0.0.0", port: 1883, protocol: "tcp", allowAnonymous: true },
  ]);
});

test("createBasicConfig takes a port and an address", () => {
  const config = MqttServer.createBasicConfig(18830, "127.0.0.1");
  assert.equal(config.listeners.length, 1);
  assert.equal(config.listeners[0].port, 18830);
  assert.equal(config.listeners[0].address, "127.0.0.1");
  assert.equal(config.listeners[0].protocol, "tcp");
});

test("a createBasicConfig config starts a server that accepts clients", async (t) => {
  const server = new MqttServer();
  t.after(async () => {
    if (server.running) await server.stop();
    await server.close();
  });
  await server.start(MqttServer.createBasicConfig(0, "127.0.0.1"));
  assert.equal(server.running, true);
  assert.equal(server.listeners.length, 1);
  const [l] = server.listeners;
  assert.equal(l.name, "tcp");
  assert.equal(l.protocol, "tcp");
  assert.equal(l.address, "127.0.0.1");
  assert.ok(Number.isInteger(l.port) && l.port > 0, `real port, got ${l.port}`);
  const client = await connectClient(t, l.port);
  assert.equal(client.connected, true);
});

test("createMultiProtocolConfig without certificates has TCP and WebSocket listeners only", () => {
  const config = MqttServer.createMultiProtocolConfig({
    tcpPort: 11883,
    wsPort: 18080,
    tlsPort: 18883,
    wssPort: 18443,
    address: "127.0.0.1",
  });
  assert.deepEqual(
    config.listeners.map((l) => [l.name, l.protocol, l.port, l.address, l.allowAnonymous]),
    [
      ["tcp", "tcp", 11883, "127.0.0.1", true],
      ["ws", "ws", 18080, "127.0.0.1", true],
    ],
  );
});

test("createMultiProtocolConfig defaults to 1883, 8080, 8883 and 8443 on 0.0.0.0", () => {
  const config = MqttServer.createMultiProtocolConfig({ tlsCert: "/c.pem", tlsKey: "/k.pem" });
  assert.deepEqual(
    config.listeners.map((l) => [l.protocol, l.port, l.address]),
    [
      ["tcp", 1883, "0.0.0.0"],
      ["ws", 8080, "0.0.0.0"],
      ["tls", 8883, "0.0.0.0"],
      ["wss", 8443, "0.0.0.0"],
    ],
  );
  for (const l of config.listeners.filter((x) => x.protocol === "tls" || x.protocol === "wss")) {
    assert.equal(l.tlsCert, "/c.pem");
    assert.equal(l.tlsKey, "/k.pem");
  }
});

test("createMultiProtocolConfig passes allowAnonymous to every listener", () => {
  const config = MqttServer.createMultiProtocolConfig({
    tlsCert: "/c.pem",
    tlsKey: "/k.pem",
    allowAnonymous: false,
  });
  assert.equal(config.listeners.length, 4);
  for (const l of config.listeners) assert.equal(l.allowAnonymous, false, l.name);
});

test("a createMultiProtocolConfig config starts all four listeners on OS-assigned ports", async (t) => {
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("neither openssl nor the selfsigned package is available");
  const config = MqttServer.createMultiProtocolConfig({
    tcpPort: 0,
    wsPort: 0,
    tlsPort: 0,
    wssPort: 0,
    address: "127.0.0.1",
    tlsCert: certs.cert,
    tlsKey: certs.key,
  });
  const server = new MqttServer();
  t.after(async () => {
    if (server.running) await server.stop();
    await server.close();
  });
  await server.start(config);
  const byProtocol = Object.fromEntries(server.listeners.map((l) => [l.protocol, l]));
  assert.deepEqual(Object.keys(byProtocol).sort(), ["tcp", "tls", "ws", "wss"]);
  const ports = server.listeners.map((l) => l.port);
  assert.equal(new Set(ports).size, 4, `distinct real ports, got ${ports}`);
  for (const l of server.listeners) {
    assert.ok(l.port > 0, `${l.name} has a real port`);
    assert.equal(l.address, "127.0.0.1");
    const client = await connectClient(t, l.port, { protocol: l.protocol });
    assert.equal(client.connected, true, `${l.protocol} client connected`);
  }
});
