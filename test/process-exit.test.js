"use strict";
// A script that uses the broker and stops it exits on its own: nothing the
// addon creates keeps the Node event loop alive after stop().

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { spawnNode } = require("./helpers/child");

const EXIT_BOUND_MS = 20_000;

/** Runs `body` (an async function body with MqttServer, QoS, mqtt in scope) in a child process. */
function script(body) {
  return `
    const { MqttServer, QoS } = require(".");
    const mqtt = require("mqtt");
    (async () => { ${body} })().catch((err) => { console.error(err); process.exit(1); });
  `;
}

async function assertExitsCleanly(t, body) {
  const child = spawnNode(t, ["-e", script(body)]);
  const { code, signal } = await child.exit(EXIT_BOUND_MS);
  assert.equal(signal, null, `no signal; output:\n${child.output()}`);
  assert.equal(code, 0, `exit code 0; output:\n${child.output()}`);
}

test("a script that constructs a server and never starts it exits on its own", async (t) => {
  await assertExitsCleanly(t, `new MqttServer();`);
});

test("a script that starts and stops a server exits on its own", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer();
    await server.start({ listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] });
    await server.stop();
  `);
});

test("a script that starts, stops and closes a server exits on its own", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer();
    await server.start(MqttServer.createBasicConfig(0, "127.0.0.1"));
    await server.stop();
    await server.close();
  `);
});

test("a script with hooks, a connected client and a publish exits on its own after stop", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer({ logger: () => {} });
    server.setHooks({
      onClientAuthenticate: () => ({ allow: true }),
      onClientPublishAuthorize: () => ({ allow: true }),
      onMessagePublish: () => {},
      onClientConnected: () => {},
    });
    await server.start({ listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] });
    const port = server.listeners[0].port;
    const client = await mqtt.connectAsync("mqtt://127.0.0.1:" + port, { reconnectPeriod: 0 });
    await client.subscribeAsync("exit/t");
    const got = new Promise((resolve) => client.once("message", resolve));
    await server.publish("exit/t", "bye", { qos: QoS.AtLeastOnce });
    await got;
    await client.endAsync();
    await server.stop();
  `);
});

test("a script whose server is stopped while a client is still connected exits on its own", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer();
    server.setHooks({ onClientDisconnected: () => {} });
    await server.start({ listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] });
    const client = await mqtt.connectAsync("mqtt://127.0.0.1:" + server.listeners[0].port, { reconnectPeriod: 0 });
    client.on("error", () => {});
    await server.stop();
    client.end(true);
  `);
});

test("a script that restarts a server twice exits on its own", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer();
    const cfg = { listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] };
    await server.start(cfg);
    await server.stop();
    await server.start(cfg);
    await server.stop();
  `);
});

test("a script stopped while an auth decision is pending exits on its own", async (t) => {
  await assertExitsCleanly(t, `
    const server = new MqttServer();
    let asked;
    const askedP = new Promise((r) => { asked = r; });
    server.setHooks({ onClientAuthenticate: () => { asked(); return new Promise(() => {}); } });
    await server.start({ listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] });
    const client = mqtt.connect("mqtt://127.0.0.1:" + server.listeners[0].port, { reconnectPeriod: 0, username: "u", password: "p" });
    client.on("error", () => {});
    await askedP;
    await server.stop();
    client.end(true);
  `);
});
