"use strict";
// WasmPolicy.load (path and bytes, every load error code reachable from
// bytes, the hooks list), binding at setHooks (ERR_POLICY_MISSING_EXPORT,
// ERR_POLICY_CLOSED), and server.stats() split by backend.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");

const { MqttServer, RmqttError, WasmPolicy } = require("..");
const { startServer, shutDown, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused, nextPacket } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { guest, loadGuest, jsAcl } = require("./helpers/policies");

const DECISIONS = ["onClientAuthenticate", "onClientSubscribeAuthorize", "onClientPublishAuthorize"];
const NOTIFICATIONS = [
  "onClientConnect", "onClientConnack", "onClientConnected", "onClientDisconnected",
  "onSessionCreated", "onSessionSubscribed", "onSessionUnsubscribed", "onSessionTerminated",
  "onClientSubscribe", "onClientUnsubscribe", "onMessagePublish", "onMessageDelivered",
  "onMessageAcked", "onMessageDropped",
];

/** Tiny components, from `jco parse` of the WAT beside each. */
const COMPONENTS = {
  // (component)
  empty: "0061736d0d000100",
  // (component (import "rmqtt:hooks/types@0.1.0" (instance $t))
  //            (export "rmqtt:hooks/authenticate@0.2.0" (instance $t)))
  otherVersion:
    "0061736d0d00010007030142000a1c010017726d7174743a686f6f6b732f747970657340302e312e3005000b2401001e726d7174743a686f6f6b732f61757468656e74696361746540302e322e3005000000160e636f6d706f6e656e742d6e616d6501050501000174",
  // (component (import "rmqtt:hooks/types@0.1.0" (instance $t))
  //            (import "acme:secrets/vault@1.0.0" (instance (export "f" (func))))
  //            (export "rmqtt:hooks/events@0.1.0" (instance $t)))
  foreignImport:
    "0061736d0d00010007030142000a1c010017726d7174743a686f6f6b732f747970657340302e312e300500070e01420201400001000400016601000a1d01001861636d653a736563726574732f7661756c7440312e302e3005010b1e010018726d7174743a686f6f6b732f6576656e747340302e312e3005000000160e636f6d706f6e656e742d6e616d6501050501000174",
};

async function loadFails(source, options, code, pattern) {
  await assert.rejects(WasmPolicy.load(source, options), (e) => {
    assert.ok(e instanceof RmqttError, `an RmqttError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("a policy loads from a path and from bytes, and lists the hooks its exports serve", async (t) => {
  const fromPath = await loadGuest(t, "rust-acl.wasm");
  assert.equal(fromPath.name, "rust-acl");
  assert.deepEqual([...fromPath.hooks], [...DECISIONS, ...NOTIFICATIONS]);
  assert.equal(fromPath.timeoutMs, 50);
  assert.match(fromPath.loadInfo.digest, /^[0-9a-f]{64}$/);
  assert.ok(["compiled", "disk", "memory"].includes(fromPath.loadInfo.cacheSource));
  assert.ok(fromPath.loadInfo.loadMs >= 0);
  assert.ok(Object.isFrozen(fromPath.hooks));

  const bytes = fs.readFileSync(guest("rust-acl.wasm"));
  const fromBytes = await WasmPolicy.load(new Uint8Array(bytes), { name: "acl-bytes", timeoutMs: 200 });
  t.after(() => fromBytes.close());
  assert.equal(fromBytes.name, "acl-bytes");
  assert.equal(fromBytes.timeoutMs, 200);
  assert.equal(fromBytes.loadInfo.digest, fromPath.loadInfo.digest, "same bytes, same digest");
  assert.equal(fromBytes.loadInfo.cacheSource, "memory", "the second load of the same bytes hits the cache");

  const auth = await loadGuest(t, "js-auth.quickjs.wasm");
  assert.deepEqual([...auth.hooks], ["onClientAuthenticate"]);
  assert.ok(auth.serves("onClientAuthenticate"));
  assert.ok(!auth.serves("onClientPublishAuthorize"));

  const unnamed = await WasmPolicy.load(bytes);
  t.after(() => unnamed.close());
  assert.equal(unnamed.name, "policy");
});

test("each kind of bad policy rejects with its own code", async () => {
  await loadFails("/nonexistent/policy.wasm", {}, "ERR_POLICY_IO", /nonexistent\/policy\.wasm/);
  await loadFails(Buffer.from("definitely not wasm"), {}, "ERR_POLICY_INVALID");
  await loadFails(Buffer.from("0061736d01000000", "hex"), {}, "ERR_POLICY_INVALID", /core WebAssembly module/);
  await loadFails(Buffer.from(COMPONENTS.empty, "hex"), {}, "ERR_POLICY_NO_EXPORTS");
  await loadFails(
    Buffer.from(COMPONENTS.otherVersion, "hex"), {}, "ERR_POLICY_WIT_VERSION", /rmqtt:hooks\/authenticate@0\.2\.0/,
  );
  await loadFails(
    Buffer.from(COMPONENTS.foreignImport, "hex"), {}, "ERR_POLICY_UNSATISFIED_IMPORT", /acme:secrets\/vault@1\.0\.0/,
  );
});

test("bad load options reject with ERR_POLICY_OPTIONS", async () => {
  const path = guest("rust-acl.wasm");
  await loadFails(path, { timeoutMs: 0 }, "ERR_POLICY_OPTIONS", /timeoutMs/);
  await loadFails(path, { timeoutMs: Number.NaN }, "ERR_POLICY_OPTIONS", /timeoutMs/);
  await loadFails(path, { maxInstances: 1.5 }, "ERR_POLICY_OPTIONS", /maxInstances/);
  await loadFails(path, { maxMemoryBytes: 1024 }, "ERR_POLICY_OPTIONS", /max_memory_bytes/);
  await loadFails(path, { name: "" }, "ERR_POLICY_OPTIONS", /name/);
  await loadFails(path, { timeout: 5 }, "ERR_POLICY_OPTIONS", /unknown option "timeout" \(did you mean "timeoutMs"\?\)/);
  await loadFails(42, {}, "ERR_POLICY_OPTIONS", /file path or a Uint8Array/);
  assert.throws(() => new WasmPolicy(), /WasmPolicy\.load/);
});

test("binding a policy to a hook it does not export throws at setHooks, naming hook and policy", async (t) => {
  const auth = await loadGuest(t, "js-auth.quickjs.wasm");
  const server = new MqttServer();
  t.after(() => shutDown(server));
  assert.throws(
    () => server.setHooks({ onClientAuthenticate: auth, onClientPublishAuthorize: auth }),
    (e) => {
      assert.ok(e instanceof RmqttError);
      assert.equal(e.code, "ERR_POLICY_MISSING_EXPORT");
      assert.match(e.message, /onClientPublishAuthorize/);
      assert.match(e.message, /js-auth\.quickjs/);
      return true;
    },
  );
  // The failed call changed nothing; a valid mix binds.
  server.setHooks({ onClientAuthenticate: auth, onClientSubscribeAuthorize: jsAcl.onClientSubscribeAuthorize });
  assert.throws(() => server.setHooks({ onClientAuthenticate: { policy: auth } }), { code: "ERR_INVALID_HOOK" });
});

test("a failed setHooks leaves the hooks in force unchanged", async (t) => {
  const auth = await loadGuest(t, "js-auth.quickjs.wasm");
  const { server, port } = await startServer(t, { hooks: { onClientAuthenticate: auth } });
  assert.throws(() => server.setHooks({ onClientConnected: auth }), { code: "ERR_POLICY_MISSING_EXPORT" });
  await connectClient(t, port, { username: "u", password: "demo" });
  await connectRefused(t, port, { username: "u", password: "nope" });
});

test("a closed policy cannot be bound; a running server that uses it keeps it", async (t) => {
  const auth = await loadGuest(t, "js-auth.quickjs.wasm");
  const { server, port } = await startServer(t, { hooks: { onClientAuthenticate: auth } });
  auth.close();
  auth.close();
  assert.equal(auth.closed, true);
  await connectClient(t, port, { username: "u", password: "demo" });
  await connectRefused(t, port, { username: "u", password: "nope" });
  assert.throws(() => server.setHooks({ onClientAuthenticate: auth }), { code: "ERR_POLICY_CLOSED" });
  // Binding another hook keeps this one bound, so it names the closed policy too.
  assert.throws(() => server.setHooks({ onClientConnected: () => {} }), (e) => {
    assert.equal(e.code, "ERR_POLICY_CLOSED");
    assert.match(e.message, /onClientAuthenticate/);
    return true;
  });
  // A restart binds the remembered hooks again, and the policy is gone.
  await server.stop();
  await assert.rejects(server.start({ listeners: [tcpListener()] }), {
    code: "ERR_POLICY_CLOSED",
  });
  // Unbinding it lets the server start with rmqtt's default auth.
  server.setHooks({ onClientAuthenticate: null });
  await server.start({ listeners: [tcpListener()] });
  await connectClient(t, server.listeners[0].port, { username: "u", password: "nope" });
});

test("stats() counts decisions per hook and backend, and is empty before any call", async (t) => {
  const acl = await loadGuest(t, "rust-acl.wasm");
  const fresh = new MqttServer();
  t.after(() => shutDown(fresh));
  assert.deepEqual(fresh.stats(), { hooks: [], droppedNotifications: {} });

  const { server, port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: acl,
      onClientSubscribeAuthorize: jsAcl.onClientSubscribeAuthorize,
      onClientPublishAuthorize: acl,
    },
  });
  await connectRefused(t, port, { username: "alice", password: "wrong" });
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  await alice.subscribeAsync("alice/#", { qos: 1 });
  const suback = nextPacket(alice, "suback");
  alice.subscribe("bob/#", () => {});
  await suback;
  const msgs = collectMessages(alice);
  await alice.publishAsync("alice/a", "1", { qos: 1 });
  await alice.publishAsync("bob/x", "2", { qos: 1 }).catch(() => {});
  await alice.publishAsync("alice/b", "3", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "alice/b");

  const stats = server.stats();
  const row = (hook, backend) => stats.hooks.find((r) => r.hook === hook && r.backend === backend);
  const auth = row("onClientAuthenticate", "wasm");
  assert.deepEqual(
    { calls: auth.calls, allows: auth.allows, denies: auth.denies, timeouts: auth.timeouts, traps: auth.traps, errors: auth.errors },
    { calls: 2, allows: 1, denies: 1, timeouts: 0, traps: 0, errors: 0 },
  );
  const sub = row("onClientSubscribeAuthorize", "js");
  assert.deepEqual([sub.calls, sub.allows, sub.denies], [2, 1, 1]);
  const pub = row("onClientPublishAuthorize", "wasm");
  assert.deepEqual([pub.calls, pub.allows, pub.denies], [3, 2, 1]);
  for (const r of [auth, sub, pub]) {
    assert.ok(r.p50Micros > 0 && r.p50Micros <= r.p99Micros, JSON.stringify(r));
    assert.ok(r.p99Micros < 5_000_000, "under the 5 s hook timeout");
  }
  assert.equal(row("onClientAuthenticate", "js"), undefined, "no JS auth calls");
  assert.deepEqual(stats.droppedNotifications, {});

  // Counters survive a stop.
  await server.stop();
  assert.equal(server.stats().hooks.find((r) => r.hook === "onClientAuthenticate").calls, 2);
});
