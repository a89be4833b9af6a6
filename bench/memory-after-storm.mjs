// Measures the broker process's memory (VmRSS) before, during and after
// storms of hung JS authentications: N raw TCP CONNECTs whose auth hook never
// answers, so every one is denied when `hookTimeoutMs` runs out. The clients
// run in a child process, so their memory is not counted.
//
//   node --expose-gc bench/memory-after-storm.mjs            # 3 rounds of 3,000
//   STORM=2000 ROUNDS=5 SETTLE_MS=12000 node --expose-gc bench/memory-after-storm.mjs
//
// "after" is read once every client was denied, the JS heap collected and
// SETTLE_MS passed (the broker gives memory back 1-2 s after the load falls,
// at most once per 10 s: a SETTLE_MS below ~10 s shows some rounds untrimmed).
// Log lines of the broker's `rmqtt_js::memory` target are printed as they come.

import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { createRequire } from "node:module";

const STORM = Number(process.env.STORM ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const HOOK_TIMEOUT_MS = Number(process.env.HOOK_TIMEOUT_MS ?? 2000);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 11000);

function mqttString(s) {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** An MQTT 3.1.1 CONNECT, clean session, with a username (so the auth hook runs). */
function connectPacket(id) {
  const body = Buffer.concat([mqttString("MQTT"), Buffer.from([4, 0x82, 0, 60]), mqttString(id), mqttString(id)]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** The client side: opens `count` connections, reports once each was refused or closed. */
function runClients(port, count, round) {
  let finished = 0;
  let refused = 0;
  const done = () => {
    finished += 1;
    if (finished === count) process.send({ refused, finished });
  };
  for (let i = 0; i < count; i += 1) {
    const socket = net.connect(port, "127.0.0.1");
    let counted = false;
    const end = () => {
      if (!counted) {
        counted = true;
        done();
      }
    };
    socket.on("error", end);
    socket.on("close", end);
    socket.on("connect", () => socket.write(connectPacket(`hang-${round}-${i}`)));
    socket.once("data", (d) => {
      if (d[0] === 0x20 && d[3] !== 0) refused += 1;
      socket.destroy();
    });
  }
}

function rssMiB() {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m[1]) / 1024;
}

function collect() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  globalThis.gc();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const require = createRequire(import.meta.url);
  const { MqttServer } = require("..");
  const server = new MqttServer({
    logger: (r) => {
      if (r.target.startsWith("rmqtt_js::memory")) console.log(`  [log ${r.level}] ${r.message}`);
    },
  });
  server.setHooks({ onClientAuthenticate: () => new Promise(() => {}) });
  await server.start({
    listeners: [{ name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp" }],
    hookTimeoutMs: HOOK_TIMEOUT_MS,
  });
  const port = server.listeners[0].port;
  collect();
  await sleep(SETTLE_MS);
  const start = rssMiB();
  console.log(`storm ${STORM} hung authentications, hookTimeoutMs ${HOOK_TIMEOUT_MS}, settle ${SETTLE_MS} ms`);
  console.log(`round  before MiB  peak MiB  after MiB  (refused)`);
  console.log(`start  ${start.toFixed(1)}`);
  for (let round = 1; round <= ROUNDS; round += 1) {
    const before = rssMiB();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB());
    }, 100);
    const child = fork(new URL(import.meta.url).pathname, ["--clients", String(port), String(STORM), String(round)]);
    const result = await new Promise((resolve) => child.once("message", resolve));
    child.kill();
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB());
    collect();
    await sleep(SETTLE_MS);
    collect();
    const after = rssMiB();
    console.log(
      `${String(round).padEnd(5)}  ${before.toFixed(1).padStart(10)}  ${peak.toFixed(1).padStart(8)}  ${after.toFixed(1).padStart(9)}  (${result.refused}/${result.finished})`,
    );
  }
  await server.stop();
  collect();
  await sleep(500);
  console.log(`after stop: ${rssMiB().toFixed(1)} MiB`);
  await server.close();
}

if (process.argv[2] === "--clients") {
  runClients(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]);
} else {
  await main();
}
