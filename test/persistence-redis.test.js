"use strict";
// persistence.redis against a real redis-server (the Debian package; the test
// installs it with apt-get when it can, and skips with a message when not):
// state survives restarts, tenants keep their own keys, one server per key
// prefix, an unreachable Redis or a bad config fails the start cleanly, a
// Redis restart mid-run heals by itself without losing an acknowledged
// message, and a kill -9 of the owning process is followed by an immediate
// restart (the dead server's lock is taken over).

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const { RmqttError } = require("..");
const { tcpListener } = require("./helpers/server");
const { connectClient, uniqueClientId } = require("./helpers/client");
const { freePort, isPortFree } = require("./helpers/ports");
const { withTimeout } = require("./helpers/wait");
const { spawnNode } = require("./helpers/child");
const { ensureTool } = require("./helpers/tools");
const {
  afterServers,
  startBroker,
  newServer,
  tempDir,
  persistentSession,
  publishMarker,
  connectCollecting,
} = require("./helpers/persistence");

const REDIS = ensureTool("redis-server", "redis-server");
const SKIP = REDIS ? false : "redis-server is not installed and could not be (apt-get install redis-server)";
const FIXTURE = path.join(__dirname, "fixtures", "persistent-broker.js");

/**
 * A redis-server on a free loopback port with an append-only file synced on
 * every write (so that its own restart keeps what it acknowledged), stopped
 * when the test ends. `restart()` kills it and starts it again on the same
 * port and data.
 */
async function startRedis(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-js-redis-"));
  const port = await freePort();
  const redis = { port, url: `redis://127.0.0.1:${port}`, proc: null };
  const launch = async () => {
    const proc = spawn(REDIS, [
      "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
      "--save", "", "--appendonly", "yes", "--appendfsync", "always",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    await withTimeout(new Promise((resolve, reject) => {
      const onData = (chunk) => {
        out += chunk.toString();
        if (out.includes("Ready to accept connections")) resolve();
      };
      proc.stdout.on("data", onData);
      proc.stderr.on("data", onData);
      proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    }), "redis-server to accept connections");
    redis.proc = proc;
  };
  redis.stop = async () => {
    const proc = redis.proc;
    redis.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  };
  redis.restart = async () => {
    await redis.stop();
    await launch();
  };
  await launch();
  afterServers(t, async () => {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return redis;
}

/** Asserts that `promise` rejects with an RmqttError of `code`; returns the error. */
async function rejectsWith(promise, code) {
  let error;
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof RmqttError, `expected an RmqttError, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    error = err;
    return true;
  });
  return error;
}

const prefix = () => uniqueClientId("rp");

for (const [mode, how] of [["stop", "stop()/start()"], ["close", "close() and a new MqttServer"]]) {
  test(`retained messages, a persistent session and its queued QoS 1 messages survive ${how} in Redis`, { skip: SKIP }, async (t) => {
    const redis = await startRedis(t);
    const broker = await startBroker(t, { persistence: { redis: redis.url, keyPrefix: prefix() } });
    const base = uniqueClientId("red");
    const subOpts = persistentSession(5, `${base}-sub`);
    const sub = await connectCollecting(t, broker.port(), subOpts);
    await sub.client.subscribeAsync(`${base}/q`, { qos: 1 });
    await sub.client.endAsync();
    const pub = await connectClient(t, broker.port(), { protocolVersion: 5 });
    await pub.publishAsync(`${base}/kept`, "retained", { qos: 1, retain: true });
    for (let i = 0; i < 5; i++) await pub.publishAsync(`${base}/q`, `m${i}`, { qos: 1 });
    await pub.endAsync();

    await broker.restart(mode);

    const back = await connectCollecting(t, broker.port(), subOpts);
    assert.equal(back.connack.sessionPresent, true, "the session is back");
    await publishMarker(t, broker.port(), back.messages, `${base}/q`, "marker", 5);
    assert.deepEqual(back.messages.map((m) => m.payload.toString()), ["m0", "m1", "m2", "m3", "m4", "marker"]);
    const reader = await connectCollecting(t, broker.port(), {});
    await reader.client.subscribeAsync(`${base}/kept`, { qos: 1 });
    const kept = await reader.messages.waitFor((m) => m.topic === `${base}/kept`, "the retained message");
    assert.equal(kept.payload.toString(), "retained");
  });
}

test("tenants keep their own Redis keys: no state crosses between them", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const keyPrefix = prefix();
  const broker = await startBroker(t, {
    persistence: { redis: redis.url, keyPrefix },
    tenants: ["acme", "globex"],
    listeners: [tcpListener({ name: "acme", tenant: "acme" }), tcpListener({ name: "globex", tenant: "globex" })],
  });
  const topic = `${uniqueClientId("rt")}/r`;
  const pub = await connectClient(t, broker.port("acme"));
  await pub.publishAsync(topic, "acme only", { qos: 1, retain: true });
  await pub.endAsync();
  await broker.restart("close");

  const acme = await connectCollecting(t, broker.port("acme"), {});
  await acme.client.subscribeAsync(topic, { qos: 1 });
  assert.equal((await acme.messages.waitFor((m) => m.topic === topic, "acme's retained message")).payload.toString(), "acme only");
  const globex = await connectCollecting(t, broker.port("globex"), {});
  await globex.client.subscribeAsync([topic, `${topic}/marker`], { qos: 1 });
  await publishMarker(t, broker.port("globex"), globex.messages, `${topic}/marker`);
  assert.deepEqual(globex.messages.filter((m) => m.topic === topic), [], "globex has no such retained message");
});

test("one server per Redis key prefix: a second gets ERR_PERSISTENCE_LOCKED, another prefix starts", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const keyPrefix = prefix();
  await startBroker(t, { persistence: { redis: redis.url, keyPrefix } });
  const second = newServer(t);
  const port = await freePort();
  const err = await rejectsWith(
    second.start({ listeners: [tcpListener({ port })], persistence: { redis: redis.url, keyPrefix } }),
    "ERR_PERSISTENCE_LOCKED",
  );
  assert.match(err.message, new RegExp(`${keyPrefix}:lock`));
  assert.equal(second.running, false);
  assert.ok(await isPortFree(port), "the port is not left bound");
  await second.start({ listeners: [tcpListener()], persistence: { redis: redis.url, keyPrefix: `${keyPrefix}-other` } });
  await connectClient(t, second.listeners[0].port);
});

test("the lock goes with the server: stop() lets the next server on the prefix start at once", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const keyPrefix = prefix();
  const first = newServer(t);
  await first.start({ listeners: [tcpListener()], persistence: { redis: redis.url, keyPrefix } });
  await first.stop();
  const second = newServer(t);
  await second.start({ listeners: [tcpListener()], persistence: { redis: redis.url, keyPrefix } });
  await connectClient(t, second.listeners[0].port);
});

test("an unreachable Redis fails the start with ERR_PERSISTENCE_REDIS, no password shown, nothing left running", { skip: SKIP }, async (t) => {
  const closed = await freePort();
  const server = newServer(t);
  const port = await freePort();
  const err = await rejectsWith(
    server.start({ listeners: [tcpListener({ port })], persistence: { redis: `redis://:hunter2@127.0.0.1:${closed}` } }),
    "ERR_PERSISTENCE_REDIS",
  );
  assert.doesNotMatch(err.message, /hunter2/);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${closed}`));
  assert.equal(server.running, false);
  assert.deepEqual(server.listeners, []);
  assert.ok(await isPortFree(port), "the port is not left bound");
});

test("persistence takes dir or redis, not both: ERR_CONFIG_PERSISTENCE", async (t) => {
  const server = newServer(t);
  const err = await rejectsWith(
    server.start({ listeners: [tcpListener()], persistence: { dir: tempDir(t), redis: "redis://127.0.0.1:6379" } }),
    "ERR_CONFIG_PERSISTENCE",
  );
  assert.match(err.message, /not both/);
  await rejectsWith(
    server.start({ listeners: [tcpListener()], persistence: { redis: "http://127.0.0.1:6379" } }),
    "ERR_CONFIG_PERSISTENCE",
  );
});

test("a Redis restart mid-run heals by itself: nothing acknowledged is lost", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const broker = await startBroker(t, { persistence: { redis: redis.url, keyPrefix: prefix() } });
  const base = uniqueClientId("heal");
  const subOpts = persistentSession(5, `${base}-sub`);
  const sub = await connectCollecting(t, broker.port(), subOpts);
  await sub.client.subscribeAsync(`${base}/q`, { qos: 1 });
  await sub.client.endAsync();
  const pub = await connectClient(t, broker.port(), { protocolVersion: 5 });
  await pub.publishAsync(`${base}/q`, "before", { qos: 1 });

  await redis.stop();
  // While Redis is down a QoS 1 publish is refused (0x97) or waits for it.
  const during = pub.publishAsync(`${base}/q`, "during", { qos: 1 }).then(
    (packet) => (packet?.reasonCode >= 0x80 ? "refused" : "acked"),
    () => "refused",
  );
  await redis.restart();
  const duringOutcome = await withTimeout(during, "the publish made while Redis was down to be answered", 30_000);
  // Healed: new publishes are acknowledged (retried until the store is healthy).
  let acked = false;
  for (let attempt = 0; attempt < 60 && !acked; attempt++) {
    const packet = await pub.publishAsync(`${base}/q`, "after", { qos: 1 });
    acked = !(packet?.reasonCode >= 0x80);
    if (!acked) await new Promise((r) => setTimeout(r, 500)); // the store retries its write every second
  }
  assert.ok(acked, "a publish after Redis came back was acknowledged");
  await pub.endAsync();

  await broker.restart("close");
  const back = await connectCollecting(t, broker.port(), subOpts);
  await publishMarker(t, broker.port(), back.messages, `${base}/q`, "marker", 5);
  const got = back.messages.map((m) => m.payload.toString());
  const expected = ["before", ...(duringOutcome === "acked" ? ["during"] : []), "after", "marker"];
  for (const e of expected) assert.ok(got.includes(e), `${e} (acknowledged) is there: got ${JSON.stringify(got)}`);
});

test("kill -9 of the process that owns the server, then a restart at once: its lock is taken over, its acknowledged messages are there", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const keyPrefix = prefix();
  const launch = async () => {
    const proc = spawnNode(t, [FIXTURE, redis.url, keyPrefix]);
    const line = await proc.waitForOutput(/READY \d+/);
    return { proc, port: Number(line.slice("READY ".length)) };
  };
  const first = await launch();
  const base = uniqueClientId("kill");
  const subOpts = persistentSession(4, `${base}-sub`);
  const sub = await connectCollecting(t, first.port, subOpts);
  await sub.client.subscribeAsync(`${base}/q`, { qos: 1 });
  await sub.client.endAsync();
  const pub = await connectClient(t, first.port, { reconnectPeriod: 0 });
  for (let i = 0; i < 20; i++) await pub.publishAsync(`${base}/q`, `m${i}`, { qos: 1 });
  pub.end(true);

  first.proc.child.kill("SIGKILL");
  const { signal } = await first.proc.exit();
  assert.equal(signal, "SIGKILL");

  const second = await launch(); // within the dead lock's 30 s: taken over
  const back = await connectCollecting(t, second.port, subOpts);
  assert.equal(back.connack.sessionPresent, true);
  await publishMarker(t, second.port, back.messages, `${base}/q`, "marker");
  const got = back.messages.map((m) => m.payload.toString());
  for (let i = 0; i < 20; i++) assert.ok(got.includes(`m${i}`), `m${i} is there: ${JSON.stringify(got)}`);
  second.proc.child.kill("SIGKILL");
  await second.proc.exit();
});
