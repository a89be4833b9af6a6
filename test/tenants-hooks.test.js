"use strict";
// Each tenant has its own hooks and counters: one tenant's policy denies what
// another's allows, per-tenant stats count connections, messages and hook
// outcomes, and a hostile wasm policy in one tenant leaves the others serving.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { connectClient, connectRefused } = require("./helpers/client");
const { collectMessages, nextMessage } = require("./helpers/messages");
const { loadGuest } = require("./helpers/policies");
const { captureLogs } = require("./helpers/logs");
const { MqttServer, shutDown } = require("./helpers/server");
const { eventually, listener, startTenants } = require("./helpers/tenants");

const deny = (reason) => () => ({ allow: false, reason });
const allow = () => ({ allow: true });

test("tenant A's hooks deny what tenant B's allow, on the same topics", async (t) => {
  const { connect, portOf } = await startTenants(t, "username", {
    acme: {
      onClientAuthenticate: (req) => ({ allow: req.username !== "bad@acme" }),
      onClientSubscribeAuthorize: deny("acme: no subscriptions"),
      onClientPublishAuthorize: deny("acme: no publishes"),
    },
    globex: { onClientAuthenticate: allow, onClientSubscribeAuthorize: allow, onClientPublishAuthorize: allow },
  });
  await connectRefused(t, portOf("acme"), { clientId: "x", username: "bad@acme" });
  const goodB = await connect(t, "globex", { clientId: "x", username: "bad" });
  const a = await connect(t, "acme", { clientId: "same" });
  const b = await connect(t, "globex", { clientId: "same" });
  await assert.rejects(a.subscribeAsync("t/x", { qos: 1 }), /Subscribe error/, "acme denies the subscription");
  const [grantB] = await b.subscribeAsync("t/x", { qos: 1 });
  assert.equal(grantB.qos, 1, "globex grants it");
  const got = collectMessages(b);
  await goodB.publishAsync("t/x", "from-b", { qos: 1 });
  await got.waitFor((m) => m.payload.toString() === "from-b");
});

test("tenant.setHooks swaps one tenant's hooks and leaves the other's alone", async (t) => {
  const { server, connect, portOf } = await startTenants(t, "listener", {
    acme: { onClientAuthenticate: allow },
    globex: { onClientAuthenticate: allow },
  });
  await connect(t, "acme", { clientId: "a1", username: "u" });
  server.tenant("acme").setHooks({ onClientAuthenticate: deny("closed for maintenance") });
  await connectRefused(t, portOf("acme"), { clientId: "a2", username: "u" });
  await connect(t, "globex", { clientId: "b1", username: "u" });
});

test("tenant.setHooks merges like server.setHooks: named hooks rebind, null unbinds, replace replaces", async (t) => {
  const { server, portOf } = await startTenants(t, "listener", {
    acme: { onClientAuthenticate: deny("acme auth"), onClientSubscribeAuthorize: deny("acme acl") },
  });
  const acme = server.tenant("acme");
  const port = portOf("acme");
  acme.setHooks({ onClientAuthenticate: allow });
  const c = await connectClient(t, port, { clientId: "m1" });
  await assert.rejects(c.subscribeAsync("t/x"), /Subscribe error/, "the subscribe ACL was kept");
  acme.setHooks({ onClientSubscribeAuthorize: null });
  assert.equal((await c.subscribeAsync("t/x", { qos: 1 }))[0].qos, 1, "null unbound the subscribe ACL");
  acme.setHooks({ onClientSubscribeAuthorize: deny("again") }, { replace: true });
  await connectClient(t, port, { clientId: "m2" }); // auth unbound by replace: rmqtt's default lets it in
  await assert.rejects(c.subscribeAsync("t/y"), /Subscribe error/);
});

test("tenant stats count connections, messages in and out, and hook outcomes", async (t) => {
  const { server, connect, portOf } = await startTenants(t, "listener", {
    acme: {
      onClientAuthenticate: (req) => ({ allow: req.username !== "bad" }),
      onClientPublishAuthorize: (s, m) => ({ allow: m.topic !== "t/denied" }),
    },
    globex: undefined,
  });
  const acme = server.tenant("acme");
  await connectRefused(t, portOf("acme"), { clientId: "refused", username: "bad" });
  const sub = await connect(t, "acme", { clientId: "sub", username: "s" });
  const pub = await connect(t, "acme", { clientId: "pub", username: "p" });
  const got = collectMessages(sub);
  await sub.subscribeAsync("t/#", { qos: 1 });
  for (let i = 0; i < 3; i++) await pub.publishAsync("t/ok", `m${i}`, { qos: 1 });
  await pub.publishAsync("t/denied", "no", { qos: 1 }).catch(() => undefined);
  await got.waitFor((m) => m.payload.toString() === "m2");

  const s = await eventually(() => {
    const now = acme.stats();
    return now.connections === 2 && now.messagesOut === 3 ? now : null;
  }, "acme's counters");
  assert.equal(s.id, "acme");
  assert.equal(s.messagesIn, 3, "denied publishes are not counted in");
  const auth = s.hooks.find((h) => h.hook === "onClientAuthenticate");
  assert.deepEqual([auth.backend, auth.calls, auth.allows, auth.denies], ["js", 3, 2, 1]);
  const acl = s.hooks.find((h) => h.hook === "onClientPublishAuthorize");
  assert.deepEqual([acl.calls, acl.allows, acl.denies, acl.timeouts, acl.traps], [4, 3, 1, 0, 0]);
  assert.equal(typeof acl.p99Micros, "number");

  const all = server.tenantStats();
  assert.deepEqual(all.map((x) => x.id), ["acme", "globex"]);
  const globex = all.find((x) => x.id === "globex");
  assert.deepEqual([globex.connections, globex.messagesIn, globex.messagesOut, globex.hooks.length], [0, 0, 0, 0]);
  assert.equal(server.stats().hooks.length, 0, "tenant hooks are not counted as the server's own");

  await pub.endAsync();
  await eventually(() => acme.stats().connections === 1, "the disconnect to be counted");
});

const HOSTILE = [
  { file: "hostile-loop.wasm", counters: ["timeouts"] },
  { file: "hostile-membomb.wasm", counters: ["traps", "timeouts"] },
  { file: "hostile-trap.wasm", counters: ["traps"] },
];

test("hostile wasm policies in three tenants deny their own clients while a fourth tenant keeps serving", async (t) => {
  const logs = captureLogs();
  const server = new MqttServer({ logger: logs.logger });
  t.after(() => shutDown(server));
  for (const { file } of HOSTILE) {
    const policy = await loadGuest(t, file, { timeoutMs: 50, maxMemoryBytes: 16 << 20 });
    await server.addTenant(file, {
      hooks: {
        onClientAuthenticate: policy,
        onClientSubscribeAuthorize: policy,
        onClientPublishAuthorize: policy,
      },
    });
  }
  const healthy = await loadGuest(t, "rust-acl.wasm");
  await server.addTenant("healthy", {
    hooks: {
      onClientAuthenticate: healthy,
      onClientSubscribeAuthorize: healthy,
      onClientPublishAuthorize: healthy,
    },
  });
  await server.start({ listeners: [listener("gw")], tenancy: {}, hookTimeoutMs: 10_000 });
  const port = server.listeners[0].port;

  const victims = HOSTILE.flatMap(({ file }) =>
    [1, 2, 3].map((i) => connectRefused(t, port, { clientId: `v${i}`, username: `victim${i}@${file}`, password: "demo" })),
  );
  const roundTrips = [1, 2, 3].map(async (n) => {
    const opts = (who) => ({ clientId: `${who}${n}`, username: `${who}${n}@healthy`, password: "demo" });
    const sub = await connectClient(t, port, opts("s"));
    const pub = await connectClient(t, port, opts("p"));
    const topic = `server/public/t${n}`;
    await sub.subscribeAsync(topic, { qos: 1 });
    const got = nextMessage(sub, topic);
    await pub.publishAsync(topic, `ok ${n}`, { qos: 1 });
    assert.equal((await got).payload.toString(), `ok ${n}`);
  });
  const [refusals] = await Promise.all([Promise.all(victims), Promise.all(roundTrips)]);
  assert.equal(refusals.length, 9);

  for (const { file, counters } of HOSTILE) {
    const auth = server.tenant(file).stats().hooks.find((h) => h.hook === "onClientAuthenticate");
    assert.equal(auth.backend, "wasm");
    assert.equal(auth.allows, 0, `${file} allowed nobody`);
    const failed = counters.reduce((n, c) => n + auth[c], 0);
    assert.ok(failed >= 3, `${file}: ${counters.join("+")} = ${failed}`);
  }
  const ok = server.tenant("healthy").stats();
  assert.ok(ok.hooks.every((h) => h.timeouts === 0 && h.traps === 0), "the healthy tenant's policy never failed");
  assert.ok(ok.messagesOut >= 3);
});

test("a tenant's superusers skip its subscribe and publish ACLs (but never write $SYS)", async (t) => {
  const { connect } = await startTenants(t, "listener", {
    acme: {
      onClientAuthenticate: (req) => ({ allow: true, superuser: req.username === "root" }),
      onClientSubscribeAuthorize: deny("no subscriptions"),
      onClientPublishAuthorize: deny("no publishes"),
    },
  });
  const root = await connect(t, "acme", { clientId: "root", username: "root" });
  const user = await connect(t, "acme", { clientId: "user", username: "user" });
  await assert.rejects(user.subscribeAsync("t/x", { qos: 1 }), /Subscribe error/);
  const [granted] = await root.subscribeAsync(["t/x", "$SYS/#"], { qos: 1 });
  assert.equal(granted.qos, 1);
  const got = collectMessages(root);
  await user.publishAsync("t/x", "from-user", { qos: 1 }).catch(() => undefined);
  await root.publishAsync("$SYS/forged", "sys", { qos: 1 }).catch(() => undefined);
  await root.publishAsync("t/x", "from-root", { qos: 1 });
  await got.waitFor((m) => m.payload.toString() === "from-root");
  assert.deepEqual(got.map((m) => m.payload.toString()), ["from-root"]);
});
