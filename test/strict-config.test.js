"use strict";
// Strict config everywhere: an unknown key in the server config, a listener,
// `tenancy`, or the options of `new MqttServer`, `setHooks`, `addTenant`,
// `tenant.setHooks`/`reload`, `WasmPolicy.load`, `publish` and
// `createMultiProtocolConfig` is refused with a code and a message naming the
// key and the nearest known one. Tenant ids follow one rule wherever they
// come from, and a fallback tenant must be declared.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { MqttServer, RmqttError, WasmPolicy } = require("..");
const { shutDown, tcpListener } = require("./helpers/server");
const { connectClient, createClient, nextPacket } = require("./helpers/client");
const { captureLogs } = require("./helpers/logs");
const { guest, loadGuest } = require("./helpers/policies");
const { Recorder } = require("./helpers/recorder");

/** A fresh server closed after the test (its failed starts logged nowhere). */
function newServer(t, options = { logger: () => {} }) {
  const server = new MqttServer(options);
  t.after(() => shutDown(server));
  return server;
}

/** An RmqttError with `code` whose message contains each of `parts`. */
function failure(code, ...parts) {
  return (err) => {
    assert.ok(err instanceof RmqttError, `an RmqttError, got ${err}`);
    assert.equal(err.code, code, err.message);
    for (const part of parts) {
      assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} contains ${JSON.stringify(part)}`);
    }
    return true;
  };
}

/** `start(config)` fails with `code`; nothing runs; a good config then starts and serves a client. */
async function startFails(t, config, code, ...parts) {
  const server = newServer(t);
  await assert.rejects(server.start(config), failure(code, ...parts));
  assert.equal(server.running, false);
  assert.deepEqual(server.listeners, []);
  await server.start({ listeners: [tcpListener()] });
  await connectClient(t, server.listeners[0].port);
}

/** The CONNACK a client receives, accepted or not. */
async function connackPacket(t, port, opts) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  return nextPacket(client, "connack");
}

const BAD_TENANT_IDS = ["#", "+", "a/b", ".", "..", "$SYS", "a\u0000b", "a@b", "a b", "é", "x".repeat(65), "x".repeat(300)];
const RULE = 'a tenant id is 1 to 64 characters from A-Z, a-z, 0-9, "_", "." and "-", and not "." or ".."';

// ---- the server config (checked by the host) ----

test("an unknown listener key is refused with the listener and the nearest key; the listener admits nobody", async (t) => {
  await startFails(
    t,
    { listeners: [tcpListener({ allowAnonymus: false })] },
    "ERR_INVALID_CONFIG",
    'listener `tcp` (listeners[0]): unknown listener key "allowAnonymus" (did you mean "allowAnonymous"?)',
  );
  // A listener without a name is named by its index.
  await startFails(
    t,
    { listeners: [tcpListener({ name: "a" }), { address: "127.0.0.1", port: 0, protocol: "tcp", tls_cert: "x" }] },
    "ERR_INVALID_CONFIG",
    'listeners[1]: unknown listener key "tls_cert" (did you mean "tlsCert"?)',
  );
  // Nothing close: the known keys are listed.
  await startFails(
    t,
    { listeners: [tcpListener({ limits: {} })] },
    "ERR_INVALID_CONFIG",
    'unknown listener key "limits" (known keys: name, address, port, protocol,',
  );
  // A function (which JSON would drop) is still a key.
  await startFails(t, { listeners: [tcpListener({ onConnect() {} })] }, "ERR_INVALID_CONFIG", '"onConnect"');
});

test("an unknown top-level or tenancy key is refused with the nearest key", async (t) => {
  await startFails(
    t,
    { listeners: [tcpListener()], hookTimeoutMS: 100 },
    "ERR_INVALID_CONFIG",
    'unknown config key "hookTimeoutMS" (did you mean "hookTimeoutMs"?)',
  );
  await startFails(
    t,
    { listeners: [tcpListener()], tenancy: { fallbackTenent: "acme" } },
    "ERR_INVALID_CONFIG",
    'unknown tenancy key "fallbackTenent" (did you mean "fallbackTenant"?)',
  );
});

test("the seed API's pluginsDefaultStartups is accepted and ignored; every documented listener key is accepted", async (t) => {
  const server = newServer(t);
  await server.start({
    listeners: [
      tcpListener({
        allowAnonymous: true,
        maxQueuedMessages: 10,
        maxInflight: 4,
        maxPacketSize: 4096,
        sessionExpiryIntervalSecs: 60,
        maxSessionExpiryIntervalSecs: 600,
        connectTimeoutSecs: 5,
        maxClientIdLen: 64,
        maxTopicAliases: 4,
        tenant: undefined,
      }),
    ],
    pluginsDefaultStartups: ["rmqtt-acl", "rmqtt-retainer"],
    hookTimeoutMs: 1000,
  });
  for (const protocolVersion of [4, 5]) {
    await connectClient(t, server.listeners[0].port, { protocolVersion });
  }
});

test("createMultiProtocolConfig refuses an unknown option", () => {
  assert.throws(
    () => MqttServer.createMultiProtocolConfig({ tcpport: 1883 }),
    failure("ERR_INVALID_CONFIG", 'createMultiProtocolConfig(options): unknown option "tcpport" (did you mean "tcpPort"?)'),
  );
});

// ---- API options (checked in lib/) ----

test("new MqttServer(options) refuses an unknown option", () => {
  assert.throws(
    () => new MqttServer({ loger: () => {} }),
    failure("ERR_INVALID_OPTIONS", 'new MqttServer(options): unknown option "loger" (did you mean "logger"?)'),
  );
});

test("setHooks options and hook names: an unknown one is refused and nothing changes", async (t) => {
  const server = newServer(t);
  const rec = new Recorder();
  server.setHooks({ onClientAuthenticate: rec.hook("auth", () => ({ allow: false, reason: "kept" })) });
  assert.throws(
    () => server.setHooks({ onClientAuthenticate: null }, { replce: true }),
    failure("ERR_INVALID_OPTIONS", 'setHooks(hooks, options): unknown option "replce" (did you mean "replace"?)'),
  );
  assert.throws(
    () => server.setHooks({ onClientAuthenticated: () => ({ allow: true }) }),
    failure("ERR_INVALID_HOOK", 'unknown hook "onClientAuthenticated" (did you mean "onClientAuthenticate"?)'),
  );
  await server.start({ listeners: [tcpListener()] });
  const connack = await connackPacket(t, server.listeners[0].port, { protocolVersion: 5 });
  assert.equal(connack.reasonCode, 0x86, "the auth hook bound before the failed calls still denies");
});

test("addTenant and tenant.setHooks refuse an unknown option; the tenant is not declared", async (t) => {
  const server = newServer(t);
  await assert.rejects(
    server.addTenant("acme", { limits: { maxConnections: 5 } }),
    failure("ERR_INVALID_OPTIONS", 'addTenant(id, options): unknown option "limits" (known options: hooks, maxDataBytes)'),
  );
  assert.throws(() => server.tenant("acme"), { code: "ERR_TENANT_UNKNOWN" });
  await assert.rejects(
    server.addTenant("acme", { hook: {} }),
    failure("ERR_INVALID_OPTIONS", 'unknown option "hook" (did you mean "hooks"?)'),
  );
  const acme = await server.addTenant("acme", { hooks: {} });
  assert.throws(
    () => acme.setHooks({}, { Replace: true }),
    failure("ERR_INVALID_OPTIONS", 'unknown option "Replace" (did you mean "replace"?)'),
  );
});

test("WasmPolicy.load and tenant.reload refuse an unknown option; the tenant keeps its hooks", async (t) => {
  await assert.rejects(
    WasmPolicy.load(guest("rust-acl.wasm"), { timeout: 5 }),
    failure("ERR_POLICY_OPTIONS", 'WasmPolicy.load(source, options): unknown option "timeout" (did you mean "timeoutMs"?)'),
  );
  const server = newServer(t);
  const acl = await loadGuest(t, "rust-acl.wasm");
  const acme = await server.addTenant("acme", { hooks: { onClientAuthenticate: acl } });
  await assert.rejects(
    acme.reload(guest("rust-acl.wasm"), { maxInstance: 2 }),
    failure("ERR_POLICY_OPTIONS", 'unknown option "maxInstance" (did you mean "maxInstances"?)'),
  );
  await server.start({ listeners: [tcpListener({ tenant: "acme" })] });
  const port = server.listeners[0].port;
  const denied = await connackPacket(t, port, { protocolVersion: 5, username: "bob", password: "nope" });
  assert.equal(denied.reasonCode, 0x86, "rust-acl still answers");
  await connectClient(t, port, { username: "bob", password: "demo" });
});

test("publish refuses an unknown option", async (t) => {
  const server = newServer(t);
  await server.start({ listeners: [tcpListener()] });
  await assert.rejects(
    server.publish("t", "x", { retian: true }),
    failure("ERR_INVALID_OPTIONS", 'publish(topic, payload, options): unknown option "retian" (did you mean "retain"?)'),
  );
});

// ---- tenant ids ----

test("addTenant refuses every id that breaks the rule, and states the rule", async (t) => {
  const server = newServer(t);
  for (const id of [...BAD_TENANT_IDS, "", 7, null]) {
    await assert.rejects(server.addTenant(id), failure("ERR_INVALID_TENANT", "addTenant(id): invalid tenant id", RULE), JSON.stringify(id));
  }
  await assert.rejects(server.addTenant("x".repeat(300)), failure("ERR_INVALID_TENANT", "(300 characters)"));
  for (const id of ["a", "A-b_c.9", "..a", "x".repeat(64)]) {
    assert.equal((await server.addTenant(id)).id, id);
  }
  assert.equal(server.tenants.length, 4);
});

test("a listener tenant or fallbackTenant that breaks the rule fails start with ERR_INVALID_TENANT", async (t) => {
  for (const id of BAD_TENANT_IDS) {
    const server = newServer(t);
    await assert.rejects(
      server.start({ listeners: [tcpListener({ tenant: id })] }),
      failure("ERR_INVALID_TENANT", "listener `tcp` tenant is", RULE),
      JSON.stringify(id),
    );
    await assert.rejects(
      server.start({ listeners: [tcpListener()], tenancy: { fallbackTenant: id } }),
      failure("ERR_INVALID_TENANT", "tenancy.fallbackTenant is", RULE),
      JSON.stringify(id),
    );
    assert.equal(server.running, false);
  }
});

test("publish({ tenant }) refuses an id that breaks the rule", async (t) => {
  const server = newServer(t);
  await server.start({ listeners: [tcpListener()] });
  await assert.rejects(server.publish("t", "x", { tenant: "a/b" }), failure("ERR_INVALID_TENANT", RULE));
});

test("a fallbackTenant that is not declared fails start with ERR_TENANT_UNKNOWN; declared, it takes clients", async (t) => {
  const server = newServer(t);
  await server.addTenant("acme");
  await assert.rejects(
    server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: { fallbackTenant: "spare" } }),
    failure("ERR_TENANT_UNKNOWN", "tenancy.fallbackTenant names tenant `spare`, which is not declared"),
  );
  assert.equal(server.running, false);
  const rec = new Recorder();
  await server.addTenant("spare", {
    hooks: { onClientAuthenticate: rec.hook("auth", (a) => ({ allow: a.tenant === "spare" })) },
  });
  await server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: { fallbackTenant: "spare" } });
  for (const protocolVersion of [4, 5]) {
    await connectClient(t, server.listeners[0].port, { protocolVersion });
  }
  assert.equal(rec.calls.length, 2);
});

test("an undeclared listener tenant names the listener", async (t) => {
  const server = newServer(t);
  await assert.rejects(
    server.start({ listeners: [tcpListener({ name: "edge", tenant: "ghost" })] }),
    failure("ERR_TENANT_UNKNOWN", "listener `edge` tenant names tenant `ghost`, which is not declared"),
  );
});

test("a JS resolver answering an invalid id refuses the client with a WARN (MQTT 3.1.1 and 5)", async (t) => {
  const logs = captureLogs();
  const server = newServer(t, { logger: logs.logger });
  await server.addTenant("acme");
  await server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: { fallbackTenant: "acme" } });
  const port = server.listeners[0].port;
  server.setTenantResolver((req) => (req.clientId.startsWith("bad") ? "a/b" : null));
  const v5 = await connackPacket(t, port, { clientId: "bad5", protocolVersion: 5 });
  assert.equal(v5.reasonCode, 0x87);
  assert.equal(v5.properties.reasonString, "tenant resolver returned an invalid tenant id");
  const warn = await logs.waitForWarn(/tenant resolver returned "a\/b" for client `bad5`/);
  assert.match(warn.message, /a tenant id is 1 to 64 characters/);
  const v4 = await connackPacket(t, port, { clientId: "bad4", protocolVersion: 4 });
  assert.equal(v4.returnCode, 5);
  // A good answer (here: none, then the fallback) still connects.
  await connectClient(t, port, { clientId: "good", protocolVersion: 5 });
});

test("a wasm resolver answering an invalid id refuses the client with a WARN", async (t) => {
  const logs = captureLogs();
  const server = newServer(t, { logger: logs.logger });
  await server.addTenant("acme");
  await server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: {} });
  const port = server.listeners[0].port;
  // tenant-resolver: a client id `<tenant>/<device>` names `<tenant>`.
  server.setTenantResolver(await loadGuest(t, "tenant-resolver.wasm"));
  for (const [clientId, tenant] of [["$SYS/dev", "$SYS"], ["a@b/dev", "a@b"]]) {
    const connack = await connackPacket(t, port, { clientId, protocolVersion: 5 });
    assert.equal(connack.reasonCode, 0x87, clientId);
    assert.equal(connack.properties.reasonString, "tenant resolver returned an invalid tenant id");
    await logs.waitForWarn(new RegExp(`tenant resolver returned "${tenant.replace("$", "\\$")}"`));
  }
  await connectClient(t, port, { clientId: "acme/dev", protocolVersion: 5 });
});

test("a username naming an invalid tenant is refused with the rule as the reason", async (t) => {
  const server = newServer(t);
  await server.addTenant("acme");
  await server.start({ listeners: [tcpListener({ name: "gw" })], tenancy: {} });
  const port = server.listeners[0].port;
  const connack = await connackPacket(t, port, { username: "bob@$SYS", protocolVersion: 5 });
  assert.equal(connack.reasonCode, 0x87);
  assert.match(connack.properties.reasonString, /^invalid tenant "\$SYS" in the username: a tenant id is/);
  await connectClient(t, port, { username: "bob@acme", protocolVersion: 4 });
});
