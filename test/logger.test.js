"use strict";
// The logger option receives { level, target, message } records for the
// broker's WARN and ERROR logs, and for misused calls as the seed API logged
// them; expected client behaviour (a dropped connection) logs nothing.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, startServer, shutDown, tcpListener } = require("./helpers/server");
const { Recorder } = require("./helpers/recorder");
const { makeSelfSignedCert } = require("./helpers/certs");
const { connectClient, connectRefused } = require("./helpers/client");
const { captureLogs, isWarn } = require("./helpers/logs");

test("the logger receives a WARN record with level, target and message", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientAuthenticate: () => { throw new Error("for the logger"); } },
  });
  await connectRefused(t, port, { username: "u", password: "p" });
  const record = await logs.waitForWarn(/onClientAuthenticate/);
  assert.equal(typeof record.level, "string");
  assert.ok(isWarn(record));
  assert.equal(typeof record.target, "string");
  assert.ok(record.target.length > 0);
  assert.equal(typeof record.message, "string");
});

test("the logger receives no INFO or DEBUG chatter from rmqtt during normal traffic", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, { logger: logs.logger });
  const c = await connectClient(t, port);
  await c.subscribeAsync("quiet/t");
  await c.publishAsync("quiet/t", "x", { qos: 1 });
  await c.endAsync();
  for (const r of logs.records) {
    const level = String(r.level).toUpperCase();
    const fromRmqttItself = !String(r.target).startsWith("rmqtt_js");
    if (fromRmqttItself) assert.ok(level === "WARN" || level === "ERROR", `unexpected ${level} from ${r.target}: ${r.message}`);
  }
});

test("a logger that throws does not break the broker", async (t) => {
  const { port } = await startServer(t, {
    logger: () => { throw new Error("logger exploded"); },
    hooks: {
      onClientAuthenticate: (a) => {
        if (a.username === "bad") throw new Error("provoke a WARN");
        return { allow: true };
      },
    },
  });
  await connectRefused(t, port, { username: "bad", password: "x" });
  const ok = await connectClient(t, port, { username: "good", password: "x" });
  await ok.subscribeAsync("still/alive");
});

test("misused calls reject and are logged as in the seed API", async (t) => {
  const logs = captureLogs();
  const server = new MqttServer({ logger: logs.logger });
  t.after(() => shutDown(server));
  const entry = (re) => logs.records.find((r) => re.test(r.message));

  await assert.rejects(server.publish("a/b", "x"), { code: "ERR_NOT_RUNNING" });
  assert.equal(entry(/Attempted to publish while server is not running/)?.level, "error");
  await server.stop();
  assert.equal(entry(/Attempted to stop MQTT server, but it is not running/)?.level, "warn");
  await assert.rejects(server.start({ listeners: [] }), { code: "ERR_CONFIG_NO_LISTENERS" });
  assert.equal(entry(/Failed to start MQTT server: .*ERR_CONFIG_NO_LISTENERS/)?.level, "error");

  await server.start({ listeners: [tcpListener()] });
  await assert.rejects(server.start({ listeners: [tcpListener()] }), { code: "ERR_ALREADY_RUNNING" });
  assert.equal(entry(/Attempted to start MQTT server, but it is already running/)?.level, "warn");
  await assert.rejects(server.publish("a/#", "x"), { code: "ERR_INVALID_TOPIC" });
  assert.equal(entry(/Failed to publish message: .*ERR_INVALID_TOPIC/)?.level, "error");
  await assert.rejects(server.publish("a/b", "x", { qos: 3 }), { code: "ERR_INVALID_QOS" });
  assert.equal(entry(/Failed to publish message: .*ERR_INVALID_QOS/)?.level, "error");
});

test("a client that drops its connection logs nothing, on every listener kind", async (t) => {
  const logs = captureLogs();
  const rec = new Recorder();
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("no way to make a certificate");
  const tls = { tlsCert: certs.cert, tlsKey: certs.key };
  const { server } = await startServer(t, {
    logger: logs.logger,
    listeners: [
      tcpListener(),
      tcpListener({ name: "tls", protocol: "tls", ...tls }),
      tcpListener({ name: "ws", protocol: "ws" }),
      tcpListener({ name: "wss", protocol: "wss", ...tls }),
    ],
    hooks: { onClientDisconnected: rec.hook("gone") },
  });
  for (const { port, protocol } of server.listeners) {
    const c = await connectClient(t, port, { protocol });
    c.stream.destroy();
    await rec.waitFor("gone", (s) => s.clientId === c.options.clientId);
  }
  assert.deepEqual(logs.records, []);
});
