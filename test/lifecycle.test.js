"use strict";
// start / stop / close: clients are disconnected, ports are freed, a stopped
// server starts again, and two servers live side by side in one process.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, RmqttError } = require("..");
const { startServer, tcpListener, shutDown } = require("./helpers/server");
const { connectClient, connectRefused, closed } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { isPortFree } = require("./helpers/ports");
const { Recorder } = require("./helpers/recorder");

test("stop disconnects connected clients and frees the port", async (t) => {
  const { server, port } = await startServer(t);
  const a = await connectClient(t, port);
  const b = await connectClient(t, port, { protocolVersion: 5 });
  const bothClosed = Promise.all([closed(a, "client a to be disconnected"), closed(b, "client b to be disconnected")]);
  await server.stop();
  assert.equal(server.running, false);
  await bothClosed;
  assert.equal(await isPortFree(port), true, `port ${port} is free after stop`);
});

test("a new connection is refused after stop", async (t) => {
  const { server, port } = await startServer(t);
  await server.stop();
  const err = await connectRefused(t, port);
  assert.match(String(err.code ?? err.message), /ECONNREFUSED|closed/);
});

test("start after stop works, on the same port", async (t) => {
  const { server, port } = await startServer(t);
  await server.stop();
  await server.start({ listeners: [tcpListener({ port })] });
  assert.equal(server.running, true);
  assert.equal(server.listeners[0].port, port);
  const sub = await connectClient(t, port);
  await sub.subscribeAsync("again/t");
  const got = nextMessage(sub, "again/t");
  await server.publish("again/t", "second life");
  assert.equal((await got).payload.toString(), "second life");
});

test("hooks set before a stop still apply after the restart", async (t) => {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) },
  });
  await server.stop();
  await server.start({ listeners: [tcpListener({ port })] });
  const client = await connectClient(t, port);
  await rec.waitFor("auth", (a) => a.clientId === client.options.clientId);
});

test("stop and start three times in a row", async (t) => {
  const { server } = await startServer(t);
  for (let i = 0; i < 3; i++) {
    await server.stop();
    assert.equal(server.running, false);
    await server.start({ listeners: [tcpListener()] });
    assert.equal(server.running, true);
    await connectClient(t, server.listeners[0].port);
  }
});

test("close stops a running server and frees its port", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  await server.start({ listeners: [tcpListener()] });
  const { port } = server.listeners[0];
  const client = await connectClient(t, port);
  const gone = closed(client, "the client to be disconnected by close");
  await server.close();
  assert.equal(server.running, false);
  await gone;
  assert.equal(await isPortFree(port), true);
});

test("running is true only between start and stop", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  assert.equal(server.running, false);
  const starting = server.start({ listeners: [tcpListener()] });
  await starting;
  assert.equal(server.running, true);
  await server.stop();
  assert.equal(server.running, false);
});

test("two servers in one process serve different ports independently", async (t) => {
  const recA = new Recorder();
  const recB = new Recorder();
  const a = await startServer(t, { hooks: { onClientConnected: recA.hook("connected") } });
  const b = await startServer(t, { hooks: { onClientConnected: recB.hook("connected") } });
  assert.notEqual(a.port, b.port);

  const subA = await connectClient(t, a.port, { clientId: "two-servers-a" });
  const subB = await connectClient(t, b.port, { clientId: "two-servers-b" });
  await subA.subscribeAsync("shared/name");
  await subB.subscribeAsync("shared/name");

  // Each server's hooks see only its own clients.
  await recA.waitFor("connected", (s) => s.clientId === "two-servers-a");
  await recB.waitFor("connected", (s) => s.clientId === "two-servers-b");

  // A message published on B reaches B's subscriber, not A's.
  const fromA = [];
  subA.on("message", (topic, payload) => fromA.push(payload.toString()));
  const gotB = nextMessage(subB, "shared/name");
  await b.server.publish("shared/name", "for b");
  assert.equal((await gotB).payload.toString(), "for b");
  const gotA = nextMessage(subA, "shared/name");
  await a.server.publish("shared/name", "for a");
  assert.equal((await gotA).payload.toString(), "for a");
  assert.deepEqual(fromA, ["for a"]);
  assert.equal(recA.count("connected", (s) => s.clientId === "two-servers-b"), 0);
  assert.equal(recB.count("connected", (s) => s.clientId === "two-servers-a"), 0);

  // Stopping one leaves the other serving.
  await a.server.stop();
  assert.equal(b.server.running, true);
  const again = nextMessage(subB, "shared/name");
  await b.server.publish("shared/name", "still here");
  assert.equal((await again).payload.toString(), "still here");
});

test("listeners is empty once the server is stopped", async (t) => {
  const { server } = await startServer(t);
  assert.equal(server.listeners.length, 1);
  await server.stop();
  assert.deepEqual(server.listeners, []);
});

test("a closed server cannot be started again", async (t) => {
  const server = new MqttServer();
  await server.close();
  await assert.rejects(server.start({ listeners: [tcpListener()] }), (err) => err instanceof RmqttError);
  assert.equal(server.running, false);
});

test("stop, start and close called without awaiting run in call order", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  const first = server.start({ listeners: [tcpListener()] });
  const stopped = server.stop();
  const second = server.start({ listeners: [tcpListener()] });
  await Promise.all([first, stopped, second]);
  assert.equal(server.running, true);
  await connectClient(t, server.listeners[0].port);
});

test("a started server the program no longer references keeps serving", async (t) => {
  const { spawnNode } = require("./helpers/child");
  const child = spawnNode(t, [
    "--expose-gc",
    "-e",
    `
      const { MqttServer } = require(".");
      const mqtt = require("mqtt");
      (async () => {
        let port;
        await (async () => {
          const s = new MqttServer();
          await s.start({ listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }] });
          port = s.listeners[0].port;
        })();
        for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        const c = await mqtt.connectAsync("mqtt://127.0.0.1:" + port, { reconnectPeriod: 0 });
        await c.endAsync();
        console.log("still serving");
        process.exit(0);
      })().catch((e) => { console.error(e); process.exit(1); });
    `,
  ]);
  const { code } = await child.exit(20_000);
  assert.equal(code, 0, child.output());
  assert.match(child.output(), /still serving/);
});

test("stop completes while a decision hook is still pending", async (t) => {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: rec.hook("auth", () => new Promise(() => {})) },
  });
  const { createClient } = require("./helpers/client");
  const c = createClient(port, { username: "stuck", password: "x" });
  t.after(() => c.end(true));
  await rec.waitFor("auth");
  const started = Date.now();
  await server.stop();
  assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
  assert.equal(server.running, false);
});

test("publishes racing a stop all settle, and the failures are RmqttErrors", async (t) => {
  const { server } = await startServer(t);
  const publishes = Array.from({ length: 200 }, (_, i) => server.publish(`race/${i}`, "x", { qos: 1 }));
  const stopping = server.stop();
  const results = await Promise.allSettled([...publishes, stopping]);
  assert.equal(results.at(-1).status, "fulfilled", "stop resolved");
  for (const r of results.slice(0, -1)) {
    if (r.status === "rejected") {
      assert.ok(r.reason instanceof RmqttError, `publish failed with ${r.reason}`);
    }
  }
});
