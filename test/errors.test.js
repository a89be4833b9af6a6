"use strict";
// Every error code: configuration mistakes, binding, lifecycle misuse,
// invalid publishes and invalid hooks. Errors are RmqttError with a stable code.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { MqttServer, RmqttError } = require("..");
const { startServer, tcpListener, shutDown } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { freePort, busyPort } = require("./helpers/ports");
const { makeSelfSignedCert } = require("./helpers/certs");
const { rejectsWithCode } = require("./helpers/errors");

/** A fresh server closed after the test. */
function newServer(t) {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  return server;
}

/**
 * Starting `config` fails with `code`; the server is not left running and the
 * same instance then starts a good configuration.
 */
async function assertStartFails(t, config, code) {
  const server = newServer(t);
  await rejectsWithCode(server.start(config), code);
  assert.equal(server.running, false, "not running after a failed start");
  await server.start({ listeners: [tcpListener()] });
  assert.equal(server.running, true, "a good config starts after the failure");
  await connectClient(t, server.listeners[0].port);
}

function tempFile(t, name, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-js-test-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test("a config without listeners fails with ERR_CONFIG_NO_LISTENERS", async (t) => {
  await assertStartFails(t, { listeners: [] }, "ERR_CONFIG_NO_LISTENERS");
});

for (const port of [65536, 70000, -1, 1.5, NaN, Infinity, "1883"]) {
  test(`port ${typeof port === "string" ? `"${port}" (a string)` : port} fails with ERR_CONFIG_PORT`, async (t) => {
    await assertStartFails(t, { listeners: [tcpListener({ port })] }, "ERR_CONFIG_PORT");
  });
}

test("two listeners on the same port fail with ERR_CONFIG_DUPLICATE_PORT", async (t) => {
  const port = await freePort();
  await assertStartFails(
    t,
    {
      listeners: [
        tcpListener({ name: "a", port }),
        { name: "b", address: "127.0.0.1", port, protocol: "ws" },
      ],
    },
    "ERR_CONFIG_DUPLICATE_PORT",
  );
});

test("several listeners on port 0 are not duplicates", async (t) => {
  const { server } = await startServer(t, {
    listeners: [tcpListener({ name: "a" }), tcpListener({ name: "b" })],
  });
  const [a, b] = server.listeners;
  assert.notEqual(a.port, b.port);
  await connectClient(t, a.port);
  await connectClient(t, b.port);
});

test("a TLS listener without a certificate fails with ERR_CONFIG_TLS_MISSING", async (t) => {
  await assertStartFails(
    t,
    { listeners: [{ name: "tls", address: "127.0.0.1", port: 0, protocol: "tls" }] },
    "ERR_CONFIG_TLS_MISSING",
  );
});

test("a WSS listener with a certificate but no key fails with ERR_CONFIG_TLS_MISSING", async (t) => {
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("no way to make a certificate");
  await assertStartFails(
    t,
    { listeners: [{ name: "wss", address: "127.0.0.1", port: 0, protocol: "wss", tlsCert: certs.cert }] },
    "ERR_CONFIG_TLS_MISSING",
  );
});

test("a certificate file that does not exist fails with ERR_CONFIG_TLS_FILE", async (t) => {
  const missing = path.join(os.tmpdir(), `rmqtt-js-missing-${process.pid}`, "cert.pem");
  await assertStartFails(
    t,
    {
      listeners: [
        { name: "tls", address: "127.0.0.1", port: 0, protocol: "tls", tlsCert: missing, tlsKey: missing },
      ],
    },
    "ERR_CONFIG_TLS_FILE",
  );
});

test("an unparsable certificate fails with ERR_CONFIG_TLS_FILE", async (t) => {
  const cert = tempFile(t, "cert.pem", "this is not a certificate\n");
  const key = tempFile(t, "key.pem", "this is not a key\n");
  await assertStartFails(
    t,
    { listeners: [{ name: "wss", address: "127.0.0.1", port: 0, protocol: "wss", tlsCert: cert, tlsKey: key }] },
    "ERR_CONFIG_TLS_FILE",
  );
});

test("an unparsable key fails with ERR_CONFIG_TLS_FILE", async (t) => {
  const certs = makeSelfSignedCert(t);
  if (!certs) return t.skip("no way to make a certificate");
  const key = tempFile(t, "key.pem", "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
  await assertStartFails(
    t,
    { listeners: [{ name: "tls", address: "127.0.0.1", port: 0, protocol: "tls", tlsCert: certs.cert, tlsKey: key }] },
    "ERR_CONFIG_TLS_FILE",
  );
});

for (const address of ["not-an-address", "999.1.1.1", ""]) {
  test(`address "${address}" fails with ERR_CONFIG_ADDRESS`, async (t) => {
    await assertStartFails(t, { listeners: [tcpListener({ address })] }, "ERR_CONFIG_ADDRESS");
  });
}

for (const hookTimeoutMs of [0, -5]) {
  test(`hookTimeoutMs ${JSON.stringify(hookTimeoutMs)} is refused with ERR_CONFIG_HOOK_TIMEOUT`, async (t) => {
    await assertStartFails(t, { listeners: [tcpListener()], hookTimeoutMs }, "ERR_CONFIG_HOOK_TIMEOUT");
  });
}

test("a port held by another socket fails with ERR_BIND", async (t) => {
  const port = await busyPort(t);
  await assertStartFails(t, { listeners: [tcpListener({ port })] }, "ERR_BIND");
});

test("a port held by another running server fails with ERR_BIND and leaves the first one serving", async (t) => {
  const { port } = await startServer(t);
  const second = newServer(t);
  await rejectsWithCode(second.start({ listeners: [tcpListener({ port })] }), "ERR_BIND");
  assert.equal(second.running, false);
  await connectClient(t, port);
});

test("a failed bind of the second listener leaves nothing bound", async (t) => {
  const busy = await busyPort(t);
  const first = await freePort();
  const server = newServer(t);
  await rejectsWithCode(
    server.start({ listeners: [tcpListener({ name: "a", port: first }), tcpListener({ name: "b", port: busy })] }),
    "ERR_BIND",
  );
  // The first listener's port must have been released.
  const other = newServer(t);
  await other.start({ listeners: [tcpListener({ port: first })] });
  assert.equal(other.listeners[0].port, first);
});

test("starting a running server fails with ERR_ALREADY_RUNNING and leaves it running", async (t) => {
  const { server, port } = await startServer(t);
  await rejectsWithCode(server.start({ listeners: [tcpListener()] }), "ERR_ALREADY_RUNNING");
  assert.equal(server.running, true);
  await connectClient(t, port);
});

test("publishing before start fails with ERR_NOT_RUNNING", async (t) => {
  const server = newServer(t);
  await rejectsWithCode(server.publish("a/b", "x"), "ERR_NOT_RUNNING");
});

test("publishing after stop fails with ERR_NOT_RUNNING", async (t) => {
  const { server } = await startServer(t);
  await server.stop();
  await rejectsWithCode(server.publish("a/b", "x"), "ERR_NOT_RUNNING");
});

for (const qos of [3, -1, 1.5]) {
  test(`publishing with qos ${JSON.stringify(qos)} fails with ERR_INVALID_QOS`, async (t) => {
    const { server } = await startServer(t);
    await rejectsWithCode(server.publish("a/b", "x", { qos }), "ERR_INVALID_QOS");
  });
}

for (const topic of ["a/+/c", "a/#", "+", "#", ""]) {
  test(`publishing to topic "${topic}" fails with ERR_INVALID_TOPIC`, async (t) => {
    const { server } = await startServer(t);
    await rejectsWithCode(server.publish(topic, "x"), "ERR_INVALID_TOPIC");
  });
}

for (const [label, hooks] of [
  ["a number", { onClientAuthenticate: 42 }],
  ["a string", { onMessagePublish: "log it" }],
  ["an object", { onClientPublishAuthorize: { allow: true } }],
]) {
  test(`a hook that is ${label} fails with ERR_INVALID_HOOK`, async (t) => {
    const server = newServer(t);
    assert.throws(
      () => server.setHooks(hooks),
      (err) => err instanceof RmqttError && err.code === "ERR_INVALID_HOOK",
    );
  });
}

test("a misspelled hook name fails with ERR_INVALID_HOOK", async (t) => {
  const server = newServer(t);
  assert.throws(
    () => server.setHooks({ onClientAuthenticated: () => ({ allow: true }) }),
    (err) => err instanceof RmqttError && err.code === "ERR_INVALID_HOOK" && /onClientAuthenticated/.test(err.message),
  );
});

test("setHooks with something other than an object fails with ERR_INVALID_HOOK", async (t) => {
  const server = newServer(t);
  for (const bad of [null, 42, "hooks"]) {
    assert.throws(() => server.setHooks(bad), (err) => err instanceof RmqttError && err.code === "ERR_INVALID_HOOK");
  }
});

test("an invalid hook set leaves the previous hooks in place", async (t) => {
  const calls = [];
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: (a) => { calls.push(a.clientId); return { allow: true }; } },
  });
  assert.throws(() => server.setHooks({ onClientAuthenticate: 42 }), { code: "ERR_INVALID_HOOK" });
  const client = await connectClient(t, port);
  assert.deepEqual(calls, [client.options.clientId]);
});
