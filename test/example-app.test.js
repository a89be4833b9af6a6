"use strict";
// examples/simple-server.js (`npm run start:simple`): auth with password
// "demo", the per-user subscribe ACL, the heartbeat, and a clean exit on SIGTERM.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { spawnNode, ROOT } = require("./helpers/child");
const { connectClient, connectRefused, nextPacket } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { freePort } = require("./helpers/ports");

const EXAMPLE = path.join(ROOT, "examples", "simple-server.js");
const BOUND_MS = 20_000;

/** Starts the example on a free loopback port; resolves once it listens. */
async function startExample(t, env = {}) {
  const port = await freePort();
  const app = spawnNode(t, [EXAMPLE], {
    env: { PORT: String(port), HOST: "127.0.0.1", HEARTBEAT_MS: "200", ...env },
  });
  await app.waitForOutput(/listening on mqtt:\/\/127\.0\.0\.1:\d+/, BOUND_MS);
  return { app, port };
}

test("the example app serves demo users, sends heartbeats and exits 0 on SIGTERM", async (t) => {
  const { app, port } = await startExample(t);
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  const heartbeat = nextMessage(alice, "server/public/heartbeat", "a heartbeat");
  await alice.subscribeAsync("server/public/heartbeat");
  const beat = await heartbeat;
  assert.ok(beat.payload.length > 0, "the heartbeat has a payload");

  const closed = new Promise((resolve) => alice.once("close", resolve));
  app.child.kill("SIGTERM");
  const { code, signal } = await app.exit(BOUND_MS);
  assert.equal(signal, null, `no signal; output:\n${app.output()}`);
  assert.equal(code, 0, `exit code 0; output:\n${app.output()}`);
  await closed;
});

test("the example app exits 0 on SIGINT", async (t) => {
  const { app } = await startExample(t);
  app.child.kill("SIGINT");
  const { code } = await app.exit(BOUND_MS);
  assert.equal(code, 0, `output:\n${app.output()}`);
});

test("the example app refuses a wrong password and anonymous clients", async (t) => {
  const { port } = await startExample(t);
  await connectRefused(t, port, { username: "alice", password: "not-demo" });
  await connectRefused(t, port);
});

test("the example app lets a user subscribe to its own tree and server/public/ only, at QoS 1 at most", async (t) => {
  const { app, port } = await startExample(t);
  const alice = await connectClient(t, port, { username: "alice", password: "demo" });
  const granted = await alice.subscribeAsync("alice/#", { qos: 2 });
  assert.equal(granted[0].qos, 1, "QoS capped at 1");
  const suback = nextPacket(alice, "suback");
  alice.subscribe("bob/#", { qos: 0 }, () => {});
  const codes = (await suback).granted;
  assert.ok((codes[0] & 0x80) !== 0, `bob/# is refused, got ${codes}`);

  // Publishes and subscriptions are logged as they happen.
  const bob = await connectClient(t, port, { username: "bob", password: "demo" });
  const got = nextMessage(alice, "alice/inbox");
  await bob.publishAsync("alice/inbox", "hello alice", { qos: 1 });
  assert.equal((await got).payload.toString(), "hello alice");
  await app.waitForOutput(/alice\/inbox/);
  await app.waitForOutput(/alice\/#/);
});

test("the example app publishes a retained status on server/public/status", async (t) => {
  const { port } = await startExample(t);
  const c = await connectClient(t, port, { username: "carol", password: "demo" });
  const got = nextMessage(c, "server/public/status");
  await c.subscribeAsync("server/public/status", { qos: 1 });
  const m = await got;
  assert.equal(m.packet.retain, true);
  assert.equal(JSON.parse(m.payload.toString()).status, "online");
});
