"use strict";
// examples/tenants-server.js: two tenants with their own policies and
// retained status, the resolver, a reload on SIGHUP without disconnects, and
// a clean exit on SIGTERM.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { spawnNode, ROOT } = require("./helpers/child");
const { connectClient, connectRefused } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { freePort } = require("./helpers/ports");
const { watchDisconnects } = require("./helpers/tenants");

const EXAMPLE = path.join(ROOT, "examples", "tenants-server.js");
const BOUND_MS = 20_000;

test("the tenants example keeps acme and globex apart, reloads acme on SIGHUP and exits 0 on SIGTERM", async (t) => {
  const port = await freePort();
  const app = spawnNode(t, [EXAMPLE], { env: { PORT: String(port), HOST: "127.0.0.1", STATS_MS: "0" } });
  await app.waitForOutput(/listening on mqtt:\/\/127\.0\.0\.1:\d+/, BOUND_MS);

  const alice = await connectClient(t, port, { clientId: "alice", username: "alice@acme", password: "demo" });
  const bob = await connectClient(t, port, { clientId: "bob", username: "bob@globex", password: "globex" });
  const viaResolver = await connectClient(t, port, { clientId: "acme-device", username: "dev", password: "demo" });
  await connectRefused(t, port, { clientId: "x", username: "bob@globex", password: "demo" });
  await connectRefused(t, port, { clientId: "y", username: "nobody", password: "demo" });
  const disconnects = watchDisconnects([alice, bob, viaResolver]);

  const a = collectMessages(alice);
  const b = collectMessages(bob);
  await alice.subscribeAsync(["server/public/#", "alice@acme/#"], { qos: 1 });
  await bob.subscribeAsync("globex/#", { qos: 1 });
  const statusA = await a.waitFor((m) => m.topic === "server/public/status", "acme's retained status");
  const statusB = await b.waitFor((m) => m.topic === "globex/status", "globex's retained status");
  assert.equal(JSON.parse(statusA.payload).tenant, "acme");
  assert.equal(JSON.parse(statusB.payload).tenant, "globex");

  await alice.publishAsync("alice@acme/x/upper", "hello", { qos: 1 });
  assert.equal((await a.waitFor((m) => m.topic === "alice@acme/x/out")).payload.toString(), "HELLO");

  app.child.kill("SIGHUP");
  await app.waitForOutput(/acme: reloaded|acme: reload failed/, BOUND_MS);
  assert.match(app.output(), /acme: reloaded/);
  await alice.publishAsync("alice@acme/y/upper", "again", { qos: 1 });
  assert.equal((await a.waitFor((m) => m.topic === "alice@acme/y/out")).payload.toString(), "AGAIN");
  await bob.publishAsync("globex/news", "g", { qos: 1 });
  await b.waitFor((m) => m.topic === "globex/news");
  assert.equal(disconnects.count, 0, `no disconnects: ${disconnects.events.join(", ")}`);
  assert.ok(a.every((m) => !m.topic.startsWith("globex/")) && b.every((m) => m.topic.startsWith("globex/")));

  app.child.kill("SIGTERM");
  const { code } = await app.exit(BOUND_MS);
  assert.equal(code, 0, `output:\n${app.output()}`);
});
