"use strict";
// rmqtt:hooks@0.2.0 policies end to end, with real MQTT clients: a user
// table in tenant data checked with the host's argon2id (ts-user-table on
// QuickJS): a user added with `tenant.data.set` logs in at once, a deleted
// one is refused at the next connect, and two tenants sharing one loaded
// policy see only their own data. Then the policy unit-test API
// (`policy.authenticate(req, { data })` & co.), `config` and `init`
// (ERR_POLICY_INIT), an `err` answer (ERR_POLICY_ERROR, counted, the
// instance kept) and 0.1.0 policies still loading beside 0.2.0 ones.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { WasmPolicy, hashPassword } = require("..");
const { connectRefused } = require("./helpers/client");
const { rejectsWithCode } = require("./helpers/errors");
const { startTenants } = require("./helpers/tenants");

const DIST = path.join(__dirname, "..", "guest-examples", "dist");
const USER_TABLE = path.join(DIST, "ts-user-table.quickjs.wasm");
const RUST_V2 = path.join(DIST, "rust-policy-v2.wasm");
const RUST_V1 = path.join(DIST, "rust-acl.wasm");

/** A policy loaded for one test, closed after it. */
async function load(t, file, options = {}) {
  const policy = await WasmPolicy.load(file, { timeoutMs: 5000, ...options });
  t.after(() => policy.close());
  return policy;
}

const acl = (prefixes) => JSON.stringify({ pub: prefixes, sub: prefixes });

test("a user table in tenant data: added users log in at once, deleted ones are refused, tenants see only their own", async (t) => {
  const policy = await load(t, USER_TABLE);
  const hooks = {
    onClientAuthenticate: policy,
    onClientSubscribeAuthorize: policy,
    onClientPublishAuthorize: policy,
  };
  const { server, connect } = await startTenants(t, "listener", { acme: hooks, globex: hooks });
  const acme = server.tenant("acme").data;
  const globex = server.tenant("globex").data;

  // Not in the table yet.
  const port = (id) => server.listeners.find((l) => l.name === id).port;
  await connectRefused(t, port("acme"), { username: "alice", password: "wonderland" });

  acme.set("user:alice", await hashPassword("wonderland"));
  acme.set("acl:alice", acl(["acme/alice/"]));
  const alice = await connect(t, "acme", { username: "alice", password: "wonderland" });
  const granted = await alice.subscribeAsync("acme/alice/#", { qos: 1 });
  assert.equal(granted[0].qos, 1, "her ACL lets her subscribe under acme/alice/");
  await assert.rejects(alice.subscribeAsync("acme/bob/#", { qos: 1 }), (err) => {
    assert.equal(err.name, "ErrorWithSubackPacket", "and nowhere else (a failure SUBACK)");
    assert.ok(err.packet.granted[0] >= 0x80, `granted ${err.packet.granted}`);
    return true;
  });
  await connectRefused(t, port("acme"), { username: "alice", password: "not-her-password" });

  // The same policy serves globex, whose data does not know alice.
  await connectRefused(t, port("globex"), { username: "alice", password: "wonderland" });
  globex.set("user:alice", await hashPassword("another"));
  globex.set("acl:alice", acl(["globex/"]));
  await connectRefused(t, port("globex"), { username: "alice", password: "wonderland" });
  const globexAlice = await connect(t, "globex", { username: "alice", password: "another" });
  assert.ok(globexAlice.connected);

  acme.delete("user:alice");
  await connectRefused(t, port("acme"), { username: "alice", password: "wonderland" });
  assert.ok(alice.connected, "a deletion refuses the next connect; it does not cut the session");
});

test("policy.authenticate / authorizeSubscribe / authorizePublish run the real component without a broker", async (t) => {
  const policy = await load(t, RUST_V2, { config: { jwtKey: "unused-here" } });
  const hash = await hashPassword("s3cret");
  const data = { "user:alice": hash, "acl:alice": "alice/,public/" };

  const ok = await policy.authenticate({ username: "alice", password: "s3cret" }, { data });
  assert.deepEqual(ok, { allow: true, superuser: false });
  const bad = await policy.authenticate({ username: "alice", password: "nope" }, { data });
  assert.deepEqual(bad, { allow: false, superuser: false, reason: "bad credentials" });
  const nodata = await policy.authenticate({ username: "alice", password: "s3cret" });
  assert.equal(nodata.reason, "unknown user", "without data every get is none");
  const flagged = await policy.authenticate(
    { username: "alice", password: "s3cret", properties: { userProperties: [["deny", "1"]] } },
    { data },
  );
  assert.deepEqual(flagged, { allow: false, superuser: false, reason: "user property" });

  const alice = { clientId: "c1", username: "alice" };
  assert.equal((await policy.authorizeSubscribe(alice, { topicFilter: "public/news", qos: 1 }, { data })).allow, true);
  assert.equal((await policy.authorizeSubscribe(alice, { topicFilter: "bob/x", qos: 1 }, { data })).allow, false);

  const traced = await policy.authorizePublish(
    alice,
    { topic: "alice/t", payload: "hi", qos: 1, properties: { userProperties: [["trace", "on"]] } },
    { data },
  );
  assert.deepEqual(traced.userProperties, [
    ["trace", "on"],
    ["seen-by", "rust-policy-v2"],
  ]);
  const hashed = await policy.authorizePublish(alice, { topic: "alice/hash", payload: "abc" }, { data });
  assert.equal(hashed.payload.toString(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  // A server's PolicyData works too, and an update is seen by the next call.
  const { server } = await startTenants(t, "listener", { acme: {} });
  const live = server.tenant("acme").data;
  live.replace(data);
  assert.equal((await policy.authenticate({ username: "alice", password: "s3cret" }, { data: live })).allow, true);
  live.delete("user:alice");
  assert.equal((await policy.authenticate({ username: "alice", password: "s3cret" }, { data: live })).allow, false);
});

test("an err answer rejects with ERR_POLICY_ERROR in a unit test, and denies a real client with the instance kept", async (t) => {
  const policy = await load(t, RUST_V2);
  const e = await rejectsWithCode(policy.authenticate({ username: "throw" }), "ERR_POLICY_ERROR");
  assert.match(e.message, /refused by policy error/);

  const { server, connect } = await startTenants(t, "listener", { acme: { onClientAuthenticate: policy } });
  const port = server.listeners[0].port;
  for (let i = 0; i < 3; i++) {
    await connectRefused(t, port, { username: "throw", password: "x" });
  }
  server.tenant("acme").data.set("user:bob", await hashPassword("pw"));
  const bob = await connect(t, "acme", { username: "bob", password: "pw" });
  assert.ok(bob.connected, "the policy still answers after its errors");
  const row = server.tenant("acme").stats().hooks.find((r) => r.hook === "onClientAuthenticate");
  assert.ok(row.errors >= 3, `errors counted: ${JSON.stringify(row)}`);
  assert.equal(row.traps, 0, "an err is not a trap");
});

test("config and init: a bad config fails the load with ERR_POLICY_INIT and the policy's message", async (t) => {
  let e = await rejectsWithCode(WasmPolicy.load(RUST_V2, { config: "not json" }), "ERR_POLICY_INIT");
  assert.match(e.message, /config is not JSON/);
  e = await rejectsWithCode(WasmPolicy.load(RUST_V2, { config: { failInit: "the JWT key is missing" } }), "ERR_POLICY_INIT");
  assert.match(e.message, /the JWT key is missing/);
  e = await rejectsWithCode(WasmPolicy.load(RUST_V2, { config: 42 }), "ERR_POLICY_OPTIONS");
  assert.match(e.message, /config/);
  const policy = await load(t, RUST_V2, { config: { jwtKey: "k" } });
  assert.ok(policy.serves("onClientAuthenticate"));
});

test("0.1.0 policies keep loading and answering beside 0.2.0 ones", async (t) => {
  const v1 = await load(t, RUST_V1);
  const v2 = await load(t, RUST_V2);
  assert.deepEqual(await v1.authenticate({ username: "alice", password: "demo" }), { allow: true, superuser: false });
  const d = await v2.authenticate({ username: "alice", password: "demo" });
  assert.equal(d.allow, false);
  const { connect } = await startTenants(t, "listener", {
    old: { onClientAuthenticate: v1 },
    new: { onClientAuthenticate: v2 },
  });
  const client = await connect(t, "old", { username: "alice", password: "demo" });
  assert.ok(client.connected);
});
