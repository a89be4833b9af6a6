"use strict";
// The broker gives freed memory back to the OS (Linux with glibc) once a
// storm is over, and says so in an INFO log line of target
// `rmqtt_js::memory`: "returned N MiB to the OS …". How much comes back
// depends on the machine, so this checks that the memory was handed back
// (the log line), not the amount; bench/memory-after-storm.mjs measures the
// amount. (The silent trim of `stop()` is tested in host/tests/all/memory.rs.)

const { test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");

const { startServer } = require("./helpers/server");
const { Recorder } = require("./helpers/recorder");
const { withTimeout } = require("./helpers/wait");
const pk = require("./helpers/mqtt-packets");

/** Trimming exists on Linux with glibc only (musl, macOS and Windows: nothing to test). */
const SUPPORTED = process.platform === "linux" && process.report.getReport().header.glibcVersionRuntime !== undefined;
/** More than the host's `MIN_PEAK` (256) connections and handshakes at once. */
const STORM = 300;
/** Bound of the waits of a storm on a loaded 2-core box (a failure, never a timing). */
const STORM_WAIT_MS = 60_000;

/** A logger recording every record, and a wait for a memory line matching `re`. */
function memoryLogs() {
  const rec = new Recorder();
  return {
    logger: (record) => rec.push("log", [record]),
    async line(re, ms) {
      const [record] = await rec.waitFor("log", (r) => r.target === "rmqtt_js::memory" && re.test(r.message), ms);
      return record;
    },
  };
}

/** `count` raw CONNECTs, MQTT 3.1.1 and 5 in turn; resolves with how many got a refusing CONNACK once every socket was answered or closed. */
function rawStorm(t, port, count) {
  const sockets = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  let settled = 0;
  let refused = 0;
  return new Promise((resolve) => {
    for (let i = 0; i < count; i += 1) {
      const version = i % 2 === 0 ? 4 : 5;
      const socket = net.connect(port, "127.0.0.1");
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        settled += 1;
        if (settled === count) resolve(refused);
      };
      socket.on("error", end);
      socket.on("close", end);
      socket.on("connect", () => socket.write(pk.connect({ version, clientId: `storm-${i}`, username: `storm-${i}` })));
      socket.once("data", (data) => {
        const [connack] = pk.parsePackets(data).packets;
        // CONNACK: session present, then the return (3.1.1) or reason (5) code.
        if (connack?.type === 2 && connack.body[1] !== 0) refused += 1;
        socket.destroy();
      });
      sockets.push(socket);
    }
  });
}

test("after a storm of hung authentications is denied, the broker returns memory to the OS and logs it (MQTT 3.1.1 and 5)", { skip: !SUPPORTED && "needs Linux with glibc" }, async (t) => {
  const logs = memoryLogs();
  let hung = 0;
  let allHung;
  const reached = new Promise((resolve) => {
    allHung = resolve;
  });
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: () => {
        hung += 1;
        if (hung === STORM) allHung();
        return new Promise(() => {});
      },
    },
    hookTimeoutMs: 2000,
    logger: logs.logger,
  });
  const denied = rawStorm(t, port, STORM);
  await withTimeout(reached, () => `${STORM} hung authentications (${hung})`, STORM_WAIT_MS);
  assert.equal(await withTimeout(denied, "every storm client to be denied", STORM_WAIT_MS), STORM);

  const record = await logs.line(/after the load fell/, STORM_WAIT_MS);
  assert.equal(record.level, "info");
  assert.match(record.message, /^returned \d+\.\d MiB to the OS after the load fell from \d+ to \d+ connections and handshakes$/);
  const [, peak] = /from (\d+)/.exec(record.message);
  assert.ok(Number(peak) >= STORM, `the peak (${peak}) counts every hung handshake`);
});
