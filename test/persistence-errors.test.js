"use strict";
// persistence at start with bad input: a dir that is a file or cannot be
// created, a dir locked by another running server, a damaged store or a file
// that is no store, a torn tail (cut and started), and bad `persistence`
// config values. A rejected start leaves nothing running (no bound port, lock
// released) and the same server then starts with a good config.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const { tcpListener } = require("./helpers/server");
const { connectClient, uniqueClientId } = require("./helpers/client");
const { freePort, isPortFree } = require("./helpers/ports");
const { captureLogs } = require("./helpers/logs");
const { rejectsWithCode } = require("./helpers/errors");
const { tempDir, newServer, storeLog, connectCollecting } = require("./helpers/persistence");

/** A server whose log records are captured (start failures log an ERROR). */
function quietServer(t) {
  const logs = captureLogs();
  const server = newServer(t, { logger: logs.logger });
  server.logs = logs;
  return server;
}

/**
 * Starting `server` with `persistence` on a fixed free port fails with `code`:
 * not running, no listeners, the port not bound. Returns the error.
 */
async function assertStartFails(server, persistence, code) {
  const port = await freePort();
  const err = await rejectsWithCode(
    server.start({ listeners: [tcpListener({ port })], persistence }),
    code,
  );
  assert.equal(server.running, false, "not running after a failed start");
  assert.deepEqual(server.listeners, []);
  assert.ok(await isPortFree(port), `port ${port} is not left bound`);
  return err;
}

/** The same server starts with a good persistence dir and accepts a client. */
async function assertStartsAfterwards(t, server) {
  await server.start({ listeners: [tcpListener()], persistence: { dir: tempDir(t) } });
  assert.equal(server.running, true, "a good config starts after the failure");
  await connectClient(t, server.listeners[0].port);
}

/** Runs a server on `dir` that leaves retained messages `topics` (value = topic) in the store, then stops. */
async function writeState(t, dir, topics) {
  const server = quietServer(t);
  await server.start({ listeners: [tcpListener()], persistence: { dir } });
  const pub = await connectClient(t, server.listeners[0].port);
  for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1, retain: true });
  await pub.endAsync();
  await server.stop();
}

/** Resolves with the retained messages under `prefix/#` on a running server, once all of `expected` are in. */
async function retainedUnder(t, server, prefix, expected) {
  const { client, messages } = await connectCollecting(t, server.listeners[0].port, {});
  await client.subscribeAsync(`${prefix}/#`, { qos: 1 });
  for (const topic of expected) {
    await messages.waitFor((m) => m.topic === topic, `retained ${topic}`);
  }
  return messages.map((m) => m.topic);
}

const topicsOf = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}/r${String(i).padStart(3, "0")}`);

test("persistence.dir that is a regular file: ERR_PERSISTENCE_NOT_A_DIRECTORY", async (t) => {
  const file = path.join(tempDir(t), "not-a-dir");
  fs.writeFileSync(file, "x");
  const server = quietServer(t);
  await assertStartFails(server, { dir: file }, "ERR_PERSISTENCE_NOT_A_DIRECTORY");
  assert.equal(fs.readFileSync(file, "utf8"), "x", "the file is left alone");
  await assertStartsAfterwards(t, server);
});

for (const dir of ["/proc/1/rmqtt-js-store", "/sys/rmqtt-js-store"]) {
  test(`persistence.dir that cannot be created (${dir}): ERR_PERSISTENCE_NOT_WRITABLE`, async (t) => {
    const server = quietServer(t);
    const err = await assertStartFails(server, { dir }, "ERR_PERSISTENCE_NOT_WRITABLE");
    assert.match(err.message, new RegExp(dir.replace(/\//g, "\\/")), "the message names the directory");
    await assertStartsAfterwards(t, server);
  });
}

test("a second server on a directory in use: ERR_PERSISTENCE_LOCKED until the first stops", async (t) => {
  const dir = tempDir(t);
  const first = quietServer(t);
  await first.start({ listeners: [tcpListener()], persistence: { dir } });
  const second = quietServer(t);
  const err = await assertStartFails(second, { dir }, "ERR_PERSISTENCE_LOCKED");
  assert.ok(err.message.includes(dir), `the message names ${dir}: ${err.message}`);
  // The failed attempt did not disturb the first server.
  assert.equal(first.running, true);
  const c = await connectClient(t, first.listeners[0].port);
  await c.publishAsync(`${uniqueClientId("lock")}/x`, "still serving", { qos: 1 });

  await first.stop();
  await second.start({ listeners: [tcpListener()], persistence: { dir } });
  assert.equal(second.running, true, "the directory is free once the first server stopped");
  await connectClient(t, second.listeners[0].port);
});

test("a store damaged in the middle: ERR_PERSISTENCE_CORRUPT naming the file, and nothing left running", async (t) => {
  const dir = tempDir(t);
  const prefix = uniqueClientId("corrupt");
  await writeState(t, dir, topicsOf(prefix, 40));
  const log = storeLog(dir);
  const bytes = fs.readFileSync(log);
  const mid = Math.floor(bytes.length / 2);
  bytes.fill(0xff, mid, mid + 16); // same length, damaged bytes well before the end
  fs.writeFileSync(log, bytes);

  const server = quietServer(t);
  const err = await assertStartFails(server, { dir }, "ERR_PERSISTENCE_CORRUPT");
  assert.ok(err.message.includes(log), `the message names ${log}: ${err.message}`);
  assert.ok(fs.readFileSync(log).equals(bytes), "the damaged store is left as it was");

  // The lock was released: with the damaged store moved away, another
  // server starts on the same directory (empty).
  fs.renameSync(log, `${log}.damaged`);
  const other = quietServer(t);
  await other.start({ listeners: [tcpListener()], persistence: { dir } });
  assert.equal(other.running, true);
  await other.stop();
  await assertStartsAfterwards(t, server);
});

test("a store.log that is not a store at all: ERR_PERSISTENCE_CORRUPT", async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, "default"));
  fs.writeFileSync(storeLog(dir), "hello world");
  const server = quietServer(t);
  const err = await assertStartFails(server, { dir }, "ERR_PERSISTENCE_CORRUPT");
  assert.ok(err.message.includes(storeLog(dir)), `the message names the file: ${err.message}`);
  assert.equal(fs.readFileSync(storeLog(dir), "utf8"), "hello world", "the file is left alone");
  await assertStartsAfterwards(t, server);
});

test("a torn tail (the last bytes cut off) is dropped: start succeeds with the earlier state", async (t) => {
  const dir = tempDir(t);
  const prefix = uniqueClientId("torn");
  const topics = topicsOf(prefix, 10);
  await writeState(t, dir, topics);
  const log = storeLog(dir);
  fs.truncateSync(log, fs.statSync(log).size - 3);

  const server = quietServer(t);
  await server.start({ listeners: [tcpListener()], persistence: { dir } });
  assert.equal(server.running, true);
  await server.logs.waitForWarn(/torn/);
  // The cut record is the last one written, at most; everything before it is there.
  const earlier = topics.slice(0, -1);
  const seen = await retainedUnder(t, server, prefix, earlier);
  for (const topic of earlier) assert.ok(seen.includes(topic), `${topic} survived`);
});

test("persistence: {} (no dir, no redis) is refused with a config error naming both", async (t) => {
  const server = quietServer(t);
  const err = await assertStartFails(server, {}, "ERR_CONFIG_PERSISTENCE");
  assert.match(err.message, /\bdir\b/);
  assert.match(err.message, /\bredis\b/);
  await assertStartsAfterwards(t, server);
});

test("persistence.dir empty: ERR_CONFIG_PERSISTENCE", async (t) => {
  const server = quietServer(t);
  await assertStartFails(server, { dir: "" }, "ERR_CONFIG_PERSISTENCE");
  await assertStartsAfterwards(t, server);
});

for (const ms of [0, -1, 3_600_001]) {
  test(`persistence.syncIntervalMs ${ms}: ERR_CONFIG_PERSISTENCE`, async (t) => {
    const server = quietServer(t);
    const err = await assertStartFails(server, { dir: tempDir(t), syncIntervalMs: ms }, "ERR_CONFIG_PERSISTENCE");
    assert.match(err.message, /syncIntervalMs/);
    await assertStartsAfterwards(t, server);
  });
}

test("an unknown persistence key (dri): ERR_INVALID_CONFIG naming dir", async (t) => {
  const server = quietServer(t);
  const err = await assertStartFails(server, { dri: "/x" }, "ERR_INVALID_CONFIG");
  assert.match(err.message, /"dri"/);
  assert.match(err.message, /"dir"/);
  await assertStartsAfterwards(t, server);
});
