"use strict";
// How a client finds its tenant: listener-bound, `user@tenant`, a JS
// resolver, the fallback tenant; a client no rule resolves is refused with a
// reason; tenant declarations and their error codes; tenants across restarts.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { spawnNode } = require("./helpers/child");
const { MqttServer, shutDown } = require("./helpers/server");
const { connectClient, createClient, nextPacket } = require("./helpers/client");
const { loadGuest } = require("./helpers/policies");
const { Recorder } = require("./helpers/recorder");
const { listener } = require("./helpers/tenants");

/** A server with `tenants` ({ id: hooks }) and one gateway listener. */
async function gateway(t, tenants, tenancy = {}) {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  for (const [id, hooks] of Object.entries(tenants)) {
    await server.addTenant(id, { hooks });
  }
  await server.start({ listeners: [listener("gw")], tenancy });
  return { server, port: server.listeners[0].port };
}

/** The CONNACK a client receives (accepted or not). */
async function connackPacket(t, port, opts) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  return nextPacket(client, "connack");
}

/** Auth hooks that record which tenant each CONNECT reached. */
function tagged(rec, id) {
  return { onClientAuthenticate: rec.hook("auth", (a) => ({ allow: true, reason: `${id}:${a.tenant}` })) };
}

/** Resolves with the tenant (as its auth hook saw it) `opts` connects to. */
async function tenantOf(t, rec, port, opts) {
  const before = rec.calls.length;
  await connectClient(t, port, opts);
  const call = rec.calls.slice(before).find((c) => c.name === "auth" && c.args[0].clientId === opts.clientId);
  assert.ok(call, `an auth call for ${opts.clientId}`);
  return call.args[0].tenant;
}

test("a client no rule resolves is refused with a reason (MQTT 5) or code 5 (MQTT 3.1.1)", async (t) => {
  const { port } = await gateway(t, { acme: undefined });
  const v5 = await connackPacket(t, port, { clientId: "lost5", protocolVersion: 5 });
  assert.equal(v5.reasonCode, 0x87);
  assert.match(v5.properties.reasonString, /no tenant: use a username of the form user@tenant/);
  const unknown = await connackPacket(t, port, { clientId: "lost-u", username: "bob@nope", protocolVersion: 5 });
  assert.equal(unknown.reasonCode, 0x87);
  assert.match(unknown.properties.reasonString, /unknown tenant `nope`/);
  const v4 = await connackPacket(t, port, { clientId: "lost4", protocolVersion: 4 });
  assert.equal(v4.returnCode, 5);
});

test("user@tenant picks the tenant (last separator wins), and the hooks see the tenant", async (t) => {
  const rec = new Recorder();
  const { port } = await gateway(t, { acme: tagged(rec, "acme"), x: tagged(rec, "x") });
  assert.equal(await tenantOf(t, rec, port, { clientId: "u1", username: "bob@acme" }), "acme");
  assert.equal(await tenantOf(t, rec, port, { clientId: "u2", username: "bob@x@acme" }), "acme");
  const [req] = rec.argsOf("auth", (a) => a.clientId === "u1")[0];
  assert.equal(req.username, "bob@acme", "the tenant's hook sees the full username");
});

test("fallbackTenant takes clients no other rule resolves; a custom separator and null", async (t) => {
  const rec = new Recorder();
  const tenants = { acme: tagged(rec, "acme"), spare: tagged(rec, "spare") };
  const { port } = await gateway(t, tenants, { usernameSeparator: "/", fallbackTenant: "spare" });
  assert.equal(await tenantOf(t, rec, port, { clientId: "f1" }), "spare");
  assert.equal(await tenantOf(t, rec, port, { clientId: "f2", username: "bob/acme" }), "acme");
  assert.equal(await tenantOf(t, rec, port, { clientId: "f3", username: "bob@acme" }), "spare");

  const rec2 = new Recorder();
  const off = await gateway(t, { acme: tagged(rec2, "acme"), spare: tagged(rec2, "spare") }, {
    usernameSeparator: null,
    fallbackTenant: "spare",
  });
  assert.equal(await tenantOf(t, rec2, off.port, { clientId: "n1", username: "bob@acme" }), "spare");
});

test("a JS resolver runs first; null falls through to user@tenant; a throw or a bad answer refuses", async (t) => {
  const rec = new Recorder();
  const { server, port } = await gateway(t, { acme: tagged(rec, "acme"), globex: tagged(rec, "globex") });
  server.setTenantResolver(
    rec.hook("resolve", (req) => {
      if (req.clientId.startsWith("g-")) return "globex";
      if (req.clientId.startsWith("async-")) return Promise.resolve("acme");
      if (req.clientId.startsWith("throw-")) throw new Error("resolver broke");
      if (req.clientId.startsWith("bad-")) return 42;
      return null;
    }),
  );
  assert.equal(await tenantOf(t, rec, port, { clientId: "g-1", username: "bob@acme" }), "globex");
  assert.equal(await tenantOf(t, rec, port, { clientId: "async-1" }), "acme");
  assert.equal(await tenantOf(t, rec, port, { clientId: "other", username: "bob@globex" }), "globex");
  const [req] = rec.argsOf("resolve", (r) => r.clientId === "g-1")[0];
  assert.equal(req.username, "bob@acme");
  assert.equal(typeof req.remoteAddr, "string");

  const threw = await connackPacket(t, port, { clientId: "throw-1", username: "bob@acme", protocolVersion: 5 });
  assert.equal(threw.reasonCode, 0x87);
  assert.match(threw.properties.reasonString, /tenant resolver failed/);
  const bad = await connackPacket(t, port, { clientId: "bad-1", username: "bob@acme", protocolVersion: 5 });
  assert.equal(bad.reasonCode, 0x87);

  server.setTenantResolver(null);
  assert.equal(await tenantOf(t, rec, port, { clientId: "g-2", username: "bob@acme" }), "acme");
  assert.throws(() => server.setTenantResolver("acme"), { code: "ERR_INVALID_OPTIONS" });
});

test("tenant declarations: duplicate, unknown, invalid ids and hooks, listener config errors", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  const acme = await server.addTenant("acme");
  assert.equal(acme.id, "acme");
  assert.equal(server.tenant("acme"), acme);
  assert.deepEqual(server.tenants.map((x) => x.id), ["acme"]);
  await assert.rejects(server.addTenant("acme"), { code: "ERR_TENANT_EXISTS" });
  await assert.rejects(server.addTenant(""), { code: "ERR_INVALID_TENANT" });
  await assert.rejects(server.addTenant(7), { code: "ERR_INVALID_TENANT" });
  await assert.rejects(server.addTenant("b", { hooks: { onNothing() {} } }), { code: "ERR_INVALID_HOOK" });
  await assert.rejects(server.addTenant("b", { hooks: { onClientAuthenticate: 1 } }), { code: "ERR_INVALID_HOOK" });
  assert.throws(() => server.tenant("b"), { code: "ERR_TENANT_UNKNOWN" });
  assert.throws(() => acme.setHooks({ onClientAuthenticate: "x" }), { code: "ERR_INVALID_HOOK" });

  await assert.rejects(
    server.start({ listeners: [listener("x", { tenant: "nope" })] }),
    { code: "ERR_TENANT_UNKNOWN" },
  );
  await assert.rejects(
    server.start({ listeners: [listener("ws", { protocol: "ws" })], tenancy: {} }),
    { code: "ERR_CONFIG_TENANT_LISTENER" },
  );
  assert.equal(server.running, false);
  // A ws listener bound to a tenant is fine.
  await server.start({ listeners: [listener("ws", { protocol: "ws", tenant: "acme" })], tenancy: {} });
  assert.equal(server.running, true);
});

test("a tenant added while running is reachable at once; tenants, hooks and resolver survive a restart", async (t) => {
  const rec = new Recorder();
  const { server, port } = await gateway(t, { acme: tagged(rec, "acme") });
  await server.addTenant("late", { hooks: tagged(rec, "late") });
  assert.equal(await tenantOf(t, rec, port, { clientId: "l1", username: "bob@late" }), "late");

  server.setTenantResolver((req) => (req.clientId === "r1" ? "late" : null));
  await server.stop();
  await server.start({ listeners: [listener("gw")], tenancy: {} });
  const again = server.listeners[0].port;
  assert.equal(await tenantOf(t, rec, again, { clientId: "a2", username: "bob@acme" }), "acme");
  assert.equal(await tenantOf(t, rec, again, { clientId: "r1" }), "late");
});

test("after close, tenant calls fail with ERR_CLOSED", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  const acme = await server.addTenant("acme");
  await server.close();
  await assert.rejects(server.addTenant("b"), { code: "ERR_CLOSED" });
  assert.throws(() => server.tenant("acme"), { code: "ERR_CLOSED" });
  assert.throws(() => acme.setHooks({}), { code: "ERR_CLOSED" });
  assert.throws(() => acme.stats(), { code: "ERR_CLOSED" });
  assert.deepEqual(server.tenants, []);
});

test("a script with tenants, JS tenant hooks, a resolver and a connected client exits on its own after stop", async (t) => {
  const child = spawnNode(t, [
    "-e",
    `
    const { MqttServer } = require(".");
    const mqtt = require("mqtt");
    (async () => {
      const server = new MqttServer();
      await server.addTenant("acme", { hooks: { onClientAuthenticate: () => ({ allow: true }), onClientConnected() {} } });
      server.setTenantResolver(async () => null);
      await server.start({ listeners: [{ name: "gw", address: "127.0.0.1", port: 0, protocol: "tcp" }], tenancy: {} });
      const c = await mqtt.connectAsync("mqtt://127.0.0.1:" + server.listeners[0].port, { username: "u@acme", reconnectPeriod: 0 });
      await c.publishAsync("t", "x", { qos: 1 });
      await server.stop();
      c.end(true);
      console.log("stopped");
    })().catch((err) => { console.error(err); process.exit(1); });
    `,
  ]);
  const { code, signal } = await child.exit(20_000);
  assert.equal(signal, null, `no signal; output:\n${child.output()}`);
  assert.equal(code, 0, `exit code 0; output:\n${child.output()}`);
  assert.match(child.output(), /stopped/);
});

test("a WasmPolicy exporting tenant-resolver resolves tenants; one without the export is refused", async (t) => {
  const rec = new Recorder();
  const { server, port } = await gateway(t, { acme: tagged(rec, "acme"), globex: tagged(rec, "globex") });
  const resolver = await loadGuest(t, "tenant-resolver.wasm");
  assert.deepEqual(resolver.hooks, [], "a resolver serves no hook");
  server.setTenantResolver(resolver);
  assert.equal(await tenantOf(t, rec, port, { clientId: "globex/dev-1", username: "bob@acme" }), "globex");
  assert.equal(await tenantOf(t, rec, port, { clientId: "dev-2", username: "bob.acme" }), "acme");
  assert.equal(await tenantOf(t, rec, port, { clientId: "dev-3", username: "bob@globex" }), "globex");
  const unknown = await connackPacket(t, port, { clientId: "nope/dev-4", protocolVersion: 5 });
  assert.match(unknown.properties.reasonString, /unknown tenant `nope`/);

  const acl = await loadGuest(t, "rust-acl.wasm");
  assert.throws(() => server.setTenantResolver(acl), { code: "ERR_POLICY_MISSING_EXPORT" });
  // The resolver in force is unchanged, and survives a restart.
  await server.stop();
  await server.start({ listeners: [listener("gw")], tenancy: {} });
  const again = server.listeners[0].port;
  assert.equal(await tenantOf(t, rec, again, { clientId: "acme/dev-5", username: "bob@globex" }), "acme");
});
