"use strict";
// persistence.redis against a real redis-server (the Debian package; the test
// installs it with apt-get when it can, and skips with a message when not):
// state survives restarts, tenants keep their own keys, one server per key
// prefix, an unreachable Redis or a bad config fails the start cleanly, a
// Redis restart mid-run heals by itself without losing an acknowledged
// message, and a kill -9 of the owning process is followed by an immediate
// restart (the dead server's lock is taken over). Faults of the link: a
// write whose reply is lost is not written twice when retried, and a Redis
// that lost its data mid-run is not written to (the next start works).

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const { spawn } = require("node:child_process");

const { tcpListener } = require("./helpers/server");
const { connectClient, uniqueClientId } = require("./helpers/client");
const { freePort, isPortFree } = require("./helpers/ports");
const { withTimeout } = require("./helpers/wait");
const { spawnNode } = require("./helpers/child");
const { ensureTool } = require("./helpers/tools");
const { rejectsWithCode } = require("./helpers/errors");
const {
  afterServers,
  startBroker,
  newServer,
  tempDir,
  persistentSession,
  retainedOn,
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


/** Parses one RESP reply at `buf[at..]`: `[value, next]`, or null when incomplete. */
function parseReply(buf, at = 0) {
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const line = buf.toString("latin1", at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at])) {
    case "+": return [line, next];
    case "-": return [new Error(line), next];
    case ":": return [Number(line), next];
    case "$": {
      const n = Number(line);
      if (n < 0) return [null, next];
      return buf.length >= next + n + 2 ? [buf.subarray(next, next + n), next + n + 2] : null;
    }
    case "*": {
      const n = Number(line);
      const items = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return null;
        items.push(r[0]);
        pos = r[1];
      }
      return [n < 0 ? null : items, pos];
    }
    default: throw new Error(`not a RESP reply: ${line}`);
  }
}

/** Sends one command to Redis on `port` (a connection of its own); resolves with its reply. */
function redisCommand(port, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    sock.on("error", reject);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseReply(buf);
      if (!r) return;
      sock.destroy();
      if (r[0] instanceof Error) reject(r[0]);
      else resolve(r[0]);
    });
    const parts = [`*${args.length}\r\n`];
    for (const a of args) parts.push(`$${Buffer.byteLength(String(a))}\r\n${a}\r\n`);
    sock.end(parts.join(""));
  }), `redis ${args[0]}`);
}

/**
 * A TCP proxy to Redis on `redisPort`, closed when the test ends.
 * `swallowReplies()`: the connections open now keep forwarding commands to
 * Redis (which runs them) but their replies are dropped, as when a link
 * breaks between Redis's answer and the client; new connections work.
 */
async function startProxy(t, redisPort) {
  const links = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, "127.0.0.1");
    const link = { swallow: false, client, upstream };
    links.add(link);
    client.pipe(upstream);
    upstream.on("data", (d) => {
      if (!link.swallow) client.write(d);
    });
    const close = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on("error", close);
      s.on("close", close);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  afterServers(t, async () => {
    for (const l of links) {
      l.client.destroy();
      l.upstream.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    swallowReplies() {
      for (const l of links) l.swallow = true;
    },
  };
}

/** A store's log as Redis holds it (its list's elements, concatenated). */
async function logBytes(port, key) {
  return Buffer.concat(await redisCommand(port, "LRANGE", key, "0", "-1"));
}

function occurrences(haystack, needle) {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) n++;
  return n;
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
    const kept = await retainedOn(t, broker.port(), `${base}/kept`);
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
  const err = await rejectsWithCode(
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
  const err = await rejectsWithCode(
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
  const err = await rejectsWithCode(
    server.start({ listeners: [tcpListener()], persistence: { dir: tempDir(t), redis: "redis://127.0.0.1:6379" } }),
    "ERR_CONFIG_PERSISTENCE",
  );
  assert.match(err.message, /not both/);
  await rejectsWithCode(
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

test("a write whose reply is lost (Redis ran it) is not written twice when the store retries it", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const proxy = await startProxy(t, redis.port);
  const keyPrefix = prefix();
  const broker = await startBroker(t, { persistence: { redis: proxy.url, keyPrefix } });
  const topic = `${uniqueClientId("lost")}/r`;
  const payload = `kept-once-${Date.now()}`;
  const pub = await connectClient(t, broker.port(), { protocolVersion: 5 });
  await pub.publishAsync(`${topic}/warm`, "warm", { qos: 1, retain: true });

  proxy.swallowReplies(); // the store's connection: Redis runs its next write, the answer never comes
  // Acknowledged once the store gives up on the lost answer and writes again
  // on a new connection (a read timeout of 5 s, a retry 1 s later).
  const packet = await withTimeout(pub.publishAsync(topic, payload, { qos: 1, retain: true }), "the PUBACK", 30_000);
  assert.ok(!(packet?.reasonCode >= 0x80), `acknowledged: ${packet?.reasonCode}`);
  await pub.endAsync();

  const log = await logBytes(redis.port, `${keyPrefix}:default:log`);
  assert.equal(occurrences(log, Buffer.from(payload)), 1, "the retained message is in the log once");
  await broker.restart("close");
  const kept = await retainedOn(t, broker.port(), topic);
  assert.equal(kept.payload.toString(), payload);
});

test("Redis losing its data mid-run (FLUSHALL): publishes are refused, not written to a headless log; the next start works", { skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const keyPrefix = prefix();
  const broker = await startBroker(t, { persistence: { redis: redis.url, keyPrefix } });
  const base = uniqueClientId("flush");
  const pub = await connectClient(t, broker.port(), { protocolVersion: 5 });
  await pub.publishAsync(`${base}/before`, "before", { qos: 1, retain: true });

  assert.equal(await redisCommand(redis.port, "FLUSHALL"), "OK");
  // QoS 1 publishes from now on: none is acknowledged as stored; once the
  // store has seen that its log is gone they are refused (0x97). A client's
  // publishes are handled in order, so each probe comes from a new client.
  const outcomes = [];
  const publish = (client, i) => {
    const outcome = { i, state: "pending" };
    outcomes.push(outcome);
    client.publishAsync(`${base}/after`, `after-${i}`, { qos: 1, retain: true }).then(
      (packet) => { outcome.state = packet?.reasonCode >= 0x80 ? "refused" : "acked"; },
      () => { outcome.state = "refused"; },
    );
  };
  publish(pub, 0);
  const deadline = Date.now() + 20_000;
  for (let i = 1; !outcomes.some((o) => o.state === "refused") && Date.now() < deadline; i++) {
    publish(await connectClient(t, broker.port(), { protocolVersion: 5, reconnectPeriod: 0 }), i);
    await new Promise((r) => setTimeout(r, 100)); // bounded poll: the next probe
  }
  const count = (state) => outcomes.filter((o) => o.state === state).length;
  const summary = () => `of ${outcomes.length} publishes: ${count("acked")} acked, ${count("refused")} refused`;
  assert.ok(count("refused") > 0, `a publish was refused (${summary()})`);
  assert.equal(count("acked"), 0, `no publish was acknowledged (${summary()})`);
  pub.end(true);

  await broker.restart("close"); // what Redis holds now is an empty store, not a damaged one
  const pub2 = await connectClient(t, broker.port(), { protocolVersion: 5 });
  const packet = await pub2.publishAsync(`${base}/later`, "later", { qos: 1, retain: true });
  assert.ok(!(packet?.reasonCode >= 0x80), "a publish is acknowledged again");
  await pub2.endAsync();
  await broker.restart("stop");
  const kept = await retainedOn(t, broker.port(), `${base}/later`);
  assert.equal(kept.payload.toString(), "later");
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
