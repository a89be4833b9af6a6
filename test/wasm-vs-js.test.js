"use strict";
// The same policy as JS callbacks and as wasm policies (Rust and TypeScript
// guests) decides the same for a table of cases: auth, subscribe ACL with a
// QoS cap, publish ACL with topic/payload/QoS rewrites, and invalid rewrites
// ignored.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused, nextPacket } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { loadGuest, jsAcl, jsBadMutation } = require("./helpers/policies");

const ACL_HOOKS = ["onClientAuthenticate", "onClientSubscribeAuthorize", "onClientPublishAuthorize"];

/** `{ hook: policy }` for every ACL hook. */
function allHooks(policy) {
  return Object.fromEntries(ACL_HOOKS.map((h) => [h, policy]));
}

/** Granted QoS of one SUBSCRIBE (128: refused). */
async function granted(client, filter, qos) {
  const suback = nextPacket(client, "suback");
  client.subscribe(filter, { qos }, () => {});
  return (await suback).granted[0];
}

/** Runs the ACL table against a server with `hooks`; returns what clients saw. */
async function aclOutcomes(t, hooks) {
  const { port } = await startServer(t, { hooks, listeners: [tcpListener({ allowAnonymous: false })] });
  const auth = {};
  for (const [user, password] of [["alice", "demo"], ["alice", "wrong"], ["bob", ""], ["admin", "demo"]]) {
    const opts = { username: user, password };
    auth[`${user}/${password}`] = await connectClient(t, port, opts).then(
      () => "accepted",
      async () => `refused ${(await connectRefused(t, port, opts)).code}`,
    );
  }
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  const admin = await connectClient(t, port, { username: "admin", password: "demo" });
  const subscribe = {
    "alice alice/# qos2": await granted(alice, "alice/#", 2),
    "alice server/public/x qos0": await granted(alice, "server/public/x", 0),
    "alice bob/# qos1": await granted(alice, "bob/#", 1),
    "admin bob/# qos2 (superuser)": await granted(admin, "bob/#", 2),
  };
  assert.equal(await granted(admin, "#", 2), 2, "the superuser observer subscribes to everything");
  const seen = collectMessages(admin);
  // QoS 2 deliveries reach mqtt.js's 'message' only at PUBREL, after the
  // marker maybe: the table publishes at QoS 0 and 1, and rewrites 2 to 1.
  const publishes = [
    ["alice/plain", "hi", 1],
    ["alice/x/upper", "MiXed ok", 2],
    ["server/public/upper", "abc", 0],
    ["bob/inbox", "not mine", 1],
    ["$SYS/brokers", "no", 1],
  ];
  for (const [topic, payload, qos] of publishes) {
    await alice.publishAsync(topic, payload, { qos });
  }
  await alice.publishAsync("alice/marker", "end", { qos: 1 });
  await seen.waitFor((m) => m.topic === "alice/marker", "the marker");
  const delivered = seen
    .filter((m) => m.topic !== "alice/marker")
    .map((m) => `${m.topic} ${m.payload.toString()} qos${m.packet.qos}`)
    .sort();
  return { auth, subscribe, delivered };
}

const EXPECTED_ACL = {
  auth: {
    "alice/demo": "accepted",
    "alice/wrong": "refused 4",
    "bob/": "refused 4",
    "admin/demo": "accepted",
  },
  subscribe: {
    "alice alice/# qos2": 1,
    "alice server/public/x qos0": 0,
    "alice bob/# qos1": 128,
    "admin bob/# qos2 (superuser)": 2,
  },
  delivered: [
    "alice/plain hi qos1",
    "alice/x/out MIXED OK qos1",
    "server/public/out ABC qos0",
  ],
};

test("the ACL decides the same as JS callbacks, as a Rust policy and as a TypeScript policy", async (t) => {
  const rust = await loadGuest(t, "rust-acl.wasm");
  const ts = await loadGuest(t, "ts-acl.quickjs.wasm");
  const js = await aclOutcomes(t, jsAcl);
  assert.deepEqual(js, EXPECTED_ACL, "JS callbacks");
  assert.deepEqual(await aclOutcomes(t, allHooks(rust)), js, "rust-acl.wasm");
  assert.deepEqual(await aclOutcomes(t, allHooks(ts)), js, "ts-acl.quickjs.wasm");
  // Mixed: wasm auth and publish ACL, JS subscribe ACL.
  const mixed = { ...allHooks(rust), onClientSubscribeAuthorize: jsAcl.onClientSubscribeAuthorize };
  assert.deepEqual(await aclOutcomes(t, mixed), js, "mixed wasm and JS");
});

/** Publishes under topics that make the policy rewrite invalidly; returns the deliveries. */
async function mutationOutcomes(t, hooks) {
  const { port } = await startServer(t, { hooks });
  const sub = await connectClient(t, port, { username: "s", password: "x" });
  const pub = await connectClient(t, port, { username: "p", password: "x" });
  await sub.subscribeAsync("t/#", { qos: 1 });
  const seen = collectMessages(sub);
  for (const topic of ["t/empty", "t/hash", "t/other"]) {
    await pub.publishAsync(topic, "original", { qos: 1 });
  }
  await seen.waitFor((m) => m.topic === "t/other", "the last message");
  return seen.map((m) => `${m.topic} ${m.payload.toString()} qos${m.packet.qos}`).sort();
}

test("invalid rewrites are ignored the same way for a wasm policy and a JS callback", async (t) => {
  const bad = await loadGuest(t, "hostile-bad-mutation.wasm");
  const expected = ["t/empty mutated qos1", "t/hash mutated qos1", "t/other mutated qos1"];
  assert.deepEqual(await mutationOutcomes(t, allHooks(bad)), expected, "hostile-bad-mutation.wasm");
  assert.deepEqual(await mutationOutcomes(t, jsBadMutation), expected, "JS: bad topics and qos 7 ignored");
});
