"use strict";
// Hostile policies (endless loop, memory bomb, trap) bound to auth deny their
// clients at the policy's deadline — long before the server's hook timeout —
// while clients of another server in the same process keep working, and the
// process stays up.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { loadGuest, jsAcl } = require("./helpers/policies");

/** The server's own hook timeout: a deny before it came from the policy. */
const SERVER_HOOK_TIMEOUT_MS = 10_000;

/** How each guest's failures are counted (a memory bomb may also be cut by the deadline). */
const HOSTILE = [
  { file: "hostile-loop.wasm", counters: ["timeouts"], warn: /exceeded its deadline/ },
  { file: "hostile-membomb.wasm", counters: ["traps", "timeouts"], warn: /failed, denying/ },
  { file: "hostile-trap.wasm", counters: ["traps"], warn: /trapped/ },
];

/** A healthy server with the JS ACL; resolves after one pub/sub round trip. */
async function roundTrip(t, port, n) {
  const sub = await connectClient(t, port, { username: `s${n}`, password: "demo" });
  const pub = await connectClient(t, port, { username: `p${n}`, password: "demo" });
  await sub.subscribeAsync("server/public/healthy", { qos: 1 });
  const got = nextMessage(sub, "server/public/healthy");
  await pub.publishAsync("server/public/healthy", `ok ${n}`, { qos: 1 });
  assert.equal((await got).payload.toString(), `ok ${n}`);
}

for (const { file, counters, warn } of HOSTILE) {
  test(`${file} bound to auth denies within its deadline; another server keeps serving`, async (t) => {
    const policy = await loadGuest(t, file, { timeoutMs: 100, maxMemoryBytes: 16 << 20 });
    const logs = captureLogs();
    const hostile = await startServer(t, {
      logger: logs.logger,
      hooks: { onClientAuthenticate: policy },
      listeners: [tcpListener({ allowAnonymous: false })],
      hookTimeoutMs: SERVER_HOOK_TIMEOUT_MS,
    });
    const healthy = await startServer(t, { hooks: jsAcl, logger: logs.logger });

    const started = performance.now();
    const [refusals] = await Promise.all([
      Promise.all([1, 2, 3].map((i) => connectRefused(t, hostile.port, { username: `victim${i}`, password: "demo" }))),
      roundTrip(t, healthy.port, 1),
    ]);
    const took = performance.now() - started;
    t.diagnostic(`3 refusals + a healthy round trip in ${Math.round(took)} ms`);
    assert.equal(refusals.length, 3);
    assert.ok(took < SERVER_HOOK_TIMEOUT_MS, `denied by the policy's deadline, not the server's timeout (${took} ms)`);

    // The policy keeps denying (each call gets a fresh instance), the other server keeps serving.
    await connectRefused(t, hostile.port, { username: "victim4", password: "demo" });
    await roundTrip(t, healthy.port, 2);

    const row = hostile.server.stats().hooks.find((r) => r.hook === "onClientAuthenticate");
    assert.equal(row.backend, "wasm");
    assert.equal(row.calls, 4);
    assert.equal(counters.reduce((n, c) => n + row[c], 0), 4, JSON.stringify(row));
    assert.equal(row.allows, 0);
    await logs.waitForWarn(warn);
  });
}
