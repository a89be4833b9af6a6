"use strict";
// examples/mixed-server.js (what `npm start` runs): wasm auth (js-auth) and
// ACL (rust-acl), JS logging of publishes, the heartbeat, stats on exit.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { spawnNode, ROOT } = require("./helpers/child");
const { connectClient, connectRefused, nextPacket } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { freePort } = require("./helpers/ports");

const EXAMPLE = path.join(ROOT, "examples", "mixed-server.js");
const BOUND_MS = 30_000;

test("npm start runs the mixed example", () => {
  const pkg = require("../package.json");
  assert.equal(pkg.scripts.start, "node examples/mixed-server.js");
  assert.equal(pkg.scripts["start:simple"], "node examples/simple-server.js");
});

test("the mixed example: wasm auth and ACL, JS publish log, heartbeat, stats on SIGTERM", async (t) => {
  const port = await freePort();
  const app = spawnNode(t, [EXAMPLE], { env: { PORT: String(port), HOST: "127.0.0.1", HEARTBEAT_MS: "200" } });
  await app.waitForOutput(/listening on mqtt:\/\/127\.0\.0\.1:\d+/, BOUND_MS);

  // Auth by the wasm policy (js-auth logs its decisions through host.log).
  const refused = await connectRefused(t, port, { username: "mallory", password: "guess" });
  assert.equal(refused.code, 4, "bad username or password");
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  const bob = await connectClient(t, port, { username: "bob", password: "demo" });

  // Subscribe ACL by rust-acl: own tree and server/public/ only, QoS ≤ 1.
  const granted = await alice.subscribeAsync("alice/#", { qos: 2 });
  assert.equal(granted[0].qos, 1);
  const suback = nextPacket(bob, "suback");
  bob.subscribe("alice/#", () => {});
  assert.equal((await suback).granted[0], 128, "bob may not read alice's tree");

  // Publish ACL rewrite by rust-acl, logged by the JS onMessagePublish hook
  // (which sees the message as the ACL rewrote it).
  const out = nextMessage(alice, "alice/news/out");
  await alice.publishAsync("alice/news/upper", "hello", { qos: 1 });
  assert.equal((await out).payload.toString(), "HELLO");
  await app.waitForOutput(/PUB {2}alice\/news\/out qos=1 from=\S+ \(alice\): HELLO/);

  // The heartbeat, through the server's own publish.
  const beat = nextMessage(bob, "server/public/heartbeat");
  await bob.subscribeAsync("server/public/heartbeat");
  assert.ok(JSON.parse((await beat).payload.toString()).beat >= 1);

  app.child.kill("SIGTERM");
  const { code } = await app.exit(BOUND_MS);
  assert.equal(code, 0, app.output());
  assert.match(app.output(), /STATS onClientAuthenticate \(wasm\): calls=3 allows=2 denies=1/);
  assert.match(app.output(), /STATS onMessagePublish \(js\): calls=\d+/);
});
