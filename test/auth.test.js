"use strict";
// onClientAuthenticate: allow, deny, superuser, async, throw, rejection,
// timeout, and the defaults when no hook is registered.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { nextMessage, collectMessages } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { Recorder } = require("./helpers/recorder");

/** CONNACK codes of a refusal: 3.1.1 return codes 4/5, MQTT 5 reason codes 0x86/0x87. */
const REFUSED_V4 = [4, 5];
const REFUSED_V5 = [0x86, 0x87];

function assertRefusedCode(err, codes) {
  assert.ok(codes.includes(err.code), `expected a CONNACK refusal code in ${codes}, got ${err.code} (${err.message})`);
}

const demoAuth = ({ username, password }) => ({
  allow: Boolean(username) && password === "demo",
  superuser: false,
  reason: "demo credentials",
});

test("the auth hook allows a client with good credentials", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: { onClientAuthenticate: rec.hook("auth", demoAuth) } });
  const c = await connectClient(t, port, { username: "alice", password: "demo" });
  assert.equal(c.connected, true);
  const [req] = await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
  assert.equal(req.username, "alice");
  assert.equal(req.password, "demo");
});

test("the auth hook gets non-ASCII client ids, usernames and passwords unchanged", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) } });
  await connectClient(t, port, { clientId: "clïent-✓", username: "jürgen ✓", password: "pässwörd-🔑" });
  const [req] = await rec.waitFor("auth", (a) => a.clientId === "clïent-✓");
  assert.equal(req.username, "jürgen ✓");
  assert.equal(req.password, "pässwörd-🔑");
});

test("the auth hook denies a client with bad credentials (MQTT 3.1.1)", async (t) => {
  const { port } = await startServer(t, { hooks: { onClientAuthenticate: demoAuth } });
  const err = await connectRefused(t, port, { username: "alice", password: "wrong", protocolVersion: 4 });
  assertRefusedCode(err, REFUSED_V4);
});

test("the auth hook denies a client with bad credentials (MQTT 5)", async (t) => {
  const { port } = await startServer(t, { hooks: { onClientAuthenticate: demoAuth } });
  const err = await connectRefused(t, port, { username: "alice", password: "wrong", protocolVersion: 5 });
  assertRefusedCode(err, REFUSED_V5);
});

test("the auth hook sees anonymous clients with null username and password", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: { onClientAuthenticate: rec.hook("auth", demoAuth) } });
  await connectRefused(t, port, { clientId: "anon-auth" });
  const [req] = await rec.waitFor("auth", (a) => a.clientId === "anon-auth");
  assert.equal(req.username, null);
  assert.equal(req.password, null);
});

test("an async auth hook that resolves allow admits the client", async (t) => {
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: async (a) => {
        await new Promise((resolve) => setImmediate(resolve));
        return { allow: a.username === "async-user" };
      },
    },
  });
  await connectClient(t, port, { username: "async-user", password: "x" });
  const err = await connectRefused(t, port, { username: "someone-else", password: "x" });
  assertRefusedCode(err, REFUSED_V4);
});

test("an auth hook that throws denies the client and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: {
      onClientAuthenticate: () => {
        throw new Error("auth backend exploded");
      },
    },
  });
  const err = await connectRefused(t, port, { username: "u", password: "p" });
  assertRefusedCode(err, REFUSED_V4);
  await logs.waitForWarn(/onClientAuthenticate/);
});

test("an auth hook whose promise rejects denies the client and logs a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientAuthenticate: () => Promise.reject(new Error("auth db unreachable")) },
  });
  const err = await connectRefused(t, port, { username: "u", password: "p", protocolVersion: 5 });
  assertRefusedCode(err, REFUSED_V5);
  await logs.waitForWarn(/onClientAuthenticate/);
});

test("an auth hook that never answers is denied after hookTimeoutMs with a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hookTimeoutMs: 300,
    hooks: { onClientAuthenticate: () => new Promise(() => {}) },
  });
  const started = Date.now();
  const err = await connectRefused(t, port, { username: "u", password: "p" });
  const elapsed = Date.now() - started;
  assertRefusedCode(err, REFUSED_V4);
  assert.ok(elapsed >= 250, `denied only after the timeout, took ${elapsed} ms`);
  assert.ok(elapsed < 4000, `hookTimeoutMs (300) is used instead of the 5 s default, took ${elapsed} ms`);
  await logs.waitForWarn(/onClientAuthenticate/);
});

test("without hookTimeoutMs an auth hook that never answers is denied after the 5 s default", async (t) => {
  const { port } = await startServer(t, {
    hooks: { onClientAuthenticate: () => new Promise(() => {}) },
  });
  const started = Date.now();
  const err = await connectRefused(t, port, { username: "u", password: "p", connectTimeout: 15_000 });
  const elapsed = Date.now() - started;
  assertRefusedCode(err, REFUSED_V4);
  assert.ok(elapsed >= 4500 && elapsed < 9000, `denied after about 5000 ms, took ${elapsed} ms`);
});

test("an auth hook that returns something other than a decision denies with a WARN", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientAuthenticate: () => "yes please" },
  });
  await connectRefused(t, port, { username: "u", password: "p" });
  await logs.waitForWarn(/onClientAuthenticate/);
});

test("a pending auth decision for one client does not hold up other clients", async (t) => {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: async (a) => {
        rec.push("auth", [a]);
        if (a.username === "slow") await gate;
        return { allow: true };
      },
    },
  });
  const slowConnecting = connectClient(t, port, { username: "slow", password: "x" });
  await rec.waitFor("auth", (a) => a.username === "slow");
  // While "slow" waits for its decision, "fast" is admitted and works.
  const fast = await connectClient(t, port, { username: "fast", password: "x" });
  await fast.subscribeAsync("busy/t");
  const got = nextMessage(fast, "busy/t");
  await fast.publishAsync("busy/t", "not blocked", { qos: 1 });
  assert.equal((await got).payload.toString(), "not blocked");
  release();
  await slowConnecting;
});

test("without an auth hook anonymous clients are allowed by default", async (t) => {
  const { port } = await startServer(t);
  await connectClient(t, port);
  await connectClient(t, port, { username: "anyone", password: "anything" });
});

test("allowAnonymous false refuses clients when no auth hook is registered", async (t) => {
  const { port } = await startServer(t, { listeners: [tcpListener({ allowAnonymous: false })] });
  const anon = await connectRefused(t, port);
  assertRefusedCode(anon, REFUSED_V4);
  const named = await connectRefused(t, port, { username: "alice", password: "demo" });
  assertRefusedCode(named, REFUSED_V4);
});

test("allowAnonymous false admits a client the auth hook allows", async (t) => {
  const { port } = await startServer(t, {
    listeners: [tcpListener({ allowAnonymous: false })],
    hooks: { onClientAuthenticate: demoAuth },
  });
  await connectClient(t, port, { username: "alice", password: "demo" });
  await connectRefused(t, port, { username: "alice", password: "nope" });
});

test("the auth hook is authoritative even on an anonymous-friendly listener", async (t) => {
  const { port } = await startServer(t, {
    listeners: [tcpListener({ allowAnonymous: true })],
    hooks: { onClientAuthenticate: () => ({ allow: false }) },
  });
  const err = await connectRefused(t, port);
  assertRefusedCode(err, REFUSED_V4);
});

test("a superuser bypasses the subscribe and publish ACLs", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: ({ username }) => ({ allow: true, superuser: username === "root" }),
      onClientSubscribeAuthorize: rec.hook("subAcl", { allow: false, reason: "nobody subscribes" }),
      onClientPublishAuthorize: rec.hook("pubAcl", { allow: false, reason: "nobody publishes" }),
    },
  });
  const root = await connectClient(t, port, { username: "root", password: "x" });
  const msgs = collectMessages(root);
  const granted = await root.subscribeAsync("locked/#", { qos: 1 });
  assert.equal(granted[0].qos, 1, "the superuser's subscription is granted");
  await root.publishAsync("locked/door", "opened by root", { qos: 1 });
  await msgs.waitFor((m) => m.topic === "locked/door", "the superuser's own publish");
  await root.publishAsync("$SYS/root-may", "sys", { qos: 1 });
  assert.equal(rec.count("subAcl", (s) => s?.username === "root"), 0, "subscribe ACL skipped for the superuser");
  assert.equal(rec.count("pubAcl", (s) => s?.username === "root"), 0, "publish ACL skipped for the superuser");

  // An ordinary user is still subject to both ACLs.
  const user = await connectClient(t, port, { username: "user", password: "x" });
  await assert.rejects(user.subscribeAsync("locked/#"));
  await rec.waitFor("subAcl", (s) => s?.username === "user");
});
