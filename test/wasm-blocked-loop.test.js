"use strict";
// Decisions by wasm policies do not need the Node event loop: a child process
// owns the broker and busy-loops its main thread for 2 s; clients here, in
// the parent, get their CONNACK and complete a subscribe/publish round trip
// during the loop when the hooks are wasm, and only after it when the same
// hooks are JS callbacks. Ordering is asserted against the child's
// "LOOP END" line, not against durations.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { spawnNode, ROOT } = require("./helpers/child");
const { createClient, connackOf, connectClient } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { withTimeout } = require("./helpers/wait");

const CHILD = path.join(ROOT, "test", "fixtures", "blocking-server.js");
const START_MS = 30_000;

/** Starts the blocking broker; `timeline` records "loop start"/"loop end" as the lines arrive. */
async function startBlockingServer(t, mode) {
  const app = spawnNode(t, [CHILD, mode]);
  const ready = await app.waitForOutput(/READY \d+/, START_MS);
  const port = Number(ready.split(" ")[1]);
  const timeline = [];
  const t0 = performance.now();
  const mark = (what) => timeline.push({ what, ms: Math.round(performance.now() - t0) });
  let seen = "";
  app.child.stdout.on("data", (chunk) => {
    seen += chunk.toString();
    if (seen.includes("LOOP START") && !timeline.some((e) => e.what === "loop start")) mark("loop start");
    if (seen.includes("LOOP END") && !timeline.some((e) => e.what === "loop end")) mark("loop end");
  });
  t.after(() => app.child.kill("SIGTERM"));
  return { app, port, timeline, mark };
}

/** Blocks the child's loop; resolves once it has started. */
async function blockLoop(app) {
  const started = app.waitForOutput(/LOOP START/, START_MS);
  app.child.kill("SIGUSR2");
  await started;
}

test("wasm hooks answer while the Node thread that owns the server is blocked", async (t) => {
  const { app, port, timeline, mark } = await startBlockingServer(t, "wasm");
  await blockLoop(app);

  const connectAt = performance.now();
  const alice = createClient(port, { username: "alice", password: "demo" });
  t.after(() => alice.end(true));
  await withTimeout(connackOf(alice), "alice's CONNACK");
  mark("connack");
  t.diagnostic(`CONNACK ${Math.round(performance.now() - connectAt)} ms after connecting`);
  const bob = await connectClient(t, port, { username: "bob", password: "demo" });
  const granted = await alice.subscribeAsync("server/public/chat", { qos: 2 });
  assert.equal(granted[0].qos, 1, "the wasm subscribe ACL capped the QoS");
  const got = nextMessage(alice, "server/public/chat");
  await bob.publishAsync("server/public/chat", "during the loop", { qos: 1 });
  assert.equal((await got).payload.toString(), "during the loop");
  mark("round trip");

  await app.waitForOutput(/LOOP END/, START_MS);
  const order = timeline.map((e) => e.what);
  t.diagnostic(`timeline (ms): ${JSON.stringify(timeline)}`);
  assert.deepEqual(order, ["loop start", "connack", "round trip", "loop end"]);
});

test("JS hooks wait for the blocked Node thread: the CONNACK comes after the loop", async (t) => {
  const { app, port, timeline, mark } = await startBlockingServer(t, "js");
  await blockLoop(app);

  const connectAt = performance.now();
  const alice = createClient(port, { username: "alice", password: "demo" });
  t.after(() => alice.end(true));
  await withTimeout(connackOf(alice), "alice's CONNACK");
  mark("connack");
  t.diagnostic(`CONNACK ${Math.round(performance.now() - connectAt)} ms after connecting`);
  await app.waitForOutput(/LOOP END/, START_MS);
  const order = timeline.map((e) => e.what);
  t.diagnostic(`timeline (ms): ${JSON.stringify(timeline)}`);
  assert.deepEqual(order, ["loop start", "loop end", "connack"]);
});
