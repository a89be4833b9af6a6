"use strict";
// Notifications reach a policy's `events` export as they reach JS callbacks:
// rust-acl.wasm logs the kind of every event it gets (`event #n: <kind>`);
// the same client session against JS callbacks yields the same kinds, as
// many times. (rust-acl logs kinds only, so fields are not compared here.)

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, closed } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { withTimeout } = require("./helpers/wait");
const { loadGuest } = require("./helpers/policies");

/** Hook name → the WIT case name rust-acl logs. */
const KINDS = {
  onClientConnect: "client-connect",
  onClientConnack: "client-connack",
  onClientConnected: "client-connected",
  onSessionCreated: "session-created",
  onClientSubscribe: "client-subscribe",
  onSessionSubscribed: "session-subscribed",
  onMessagePublish: "message-publish",
  onMessageDelivered: "message-delivered",
  onMessageAcked: "message-acked",
  onClientUnsubscribe: "client-unsubscribe",
  onSessionUnsubscribed: "session-unsubscribed",
  onClientDisconnected: "client-disconnected",
};

/** One client: connect, subscribe, publish to itself at QoS 1, unsubscribe, disconnect. */
async function session(t, port) {
  const c = await connectClient(t, port, { username: "alice", password: "demo" });
  await c.subscribeAsync("alice/echo", { qos: 1 });
  const got = nextMessage(c, "alice/echo");
  await c.publishAsync("alice/echo", "hi", { qos: 1 });
  await got;
  await c.unsubscribeAsync("alice/echo");
  const gone = closed(c);
  c.end();
  await gone;
}

/** Resolves once `kinds()` has `n` entries of `kind`. */
async function until(kinds, kind, what) {
  await withTimeout(
    new Promise((resolve) => {
      const poll = () => (kinds().includes(kind) ? resolve() : setImmediate(poll));
      poll();
    }),
    what,
  );
}

test("a policy's events export and JS callbacks see the same notifications", async (t) => {
  const acl = await loadGuest(t, "rust-acl.wasm");

  const logs = captureLogs();
  const wasm = await startServer(t, {
    logger: logs.logger,
    hooks: Object.fromEntries(Object.keys(KINDS).map((h) => [h, acl])),
  });
  await session(t, wasm.port);
  const wasmKinds = () =>
    logs.records
      .filter((r) => r.target.includes("[rust-acl]"))
      .map((r) => /event #\d+: (\S+)/.exec(r.message)?.[1])
      .filter(Boolean);
  await until(wasmKinds, "client-disconnected", "the wasm disconnect event");

  const jsKindsSeen = [];
  const js = await startServer(t, {
    hooks: Object.fromEntries(Object.entries(KINDS).map(([h, kind]) => [h, () => jsKindsSeen.push(kind)])),
  });
  await session(t, js.port);
  await until(() => jsKindsSeen, "client-disconnected", "the JS disconnect event");

  const sorted = (a) => [...a].sort();
  assert.deepEqual(sorted(wasmKinds()), sorted(jsKindsSeen));
  for (const kind of ["client-connected", "session-subscribed", "message-publish", "message-delivered"]) {
    assert.ok(jsKindsSeen.includes(kind), `${kind} was notified`);
  }
  // The stats count the same notifications per hook on each backend.
  const counts = (server, backend) =>
    Object.fromEntries(server.stats().hooks.filter((r) => r.backend === backend).map((r) => [r.hook, r.calls]));
  assert.deepEqual(counts(wasm.server, "wasm"), counts(js.server, "js"));
});
