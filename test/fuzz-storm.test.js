"use strict";
// A storm of mutated MQTT 3.1.1 and 5 CONNECT/PUBLISH/SUBSCRIBE packets on
// fresh raw TCP connections, many at a time, against a broker whose JS auth
// hook allows everybody. Afterwards the broker must still serve: a fresh
// MQTT 3.1.1 and an MQTT 5 client connect and round-trip a message, and
// `close()` finishes.
//
// Seeded and bounded: every seed replays the same storm (the same bytes; the
// broker's timing still varies). CI runs the fixed `SEEDS`. To hunt with
// more seeds (on a loaded machine too: `stress-ng --cpu 2` beside it):
//
//   FUZZ_SEED=12345 node --test test/fuzz-storm.test.js        # one seed
//   FUZZ_SEEDS=20 node --test test/fuzz-storm.test.js          # 20 random seeds
//   FUZZ_CONNECTIONS=5000 FUZZ_SEEDS=5 node --test test/fuzz-storm.test.js
//
// A failure names its seed; rerun it with FUZZ_SEED=<seed>. FUZZ_WARNS=1 lists
// the most frequent WARNs; FUZZ_HOLD=<ms> keeps a failed run's process alive
// that long, to look at its threads (`gdb -p <pid> -batch -ex "thread apply all bt"`).

const { test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");

const { MqttServer, tcpListener, shutDown } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { nextMessage } = require("./helpers/messages");
const { withTimeout } = require("./helpers/wait");
const { captureLogs } = require("./helpers/logs");
const pk = require("./helpers/mqtt-packets");

/**
 * The seeds CI runs (fixed, so the test cannot flake on a seed): the three
 * that wedged rmqtt 0.24 in a hunt of 20 random seeds at 5,000 connections
 * under `stress-ng --cpu 2` (see the `$share` test below for the cause).
 */
const SEEDS = [64268455, 3062654160, 190280492];
/** Connections per storm, and how many are open at once. */
const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS ?? 1500);
const CONCURRENCY = 100;
/** How long one storm connection may live before the test drops it. */
const SOCKET_MS = 1000;
/** Bounds on the whole storm and on `close()` afterwards (failures, never timings). */
const STORM_MS = 60_000;
const CLOSE_MS = 20_000;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from one PRNG: integers, picks, chances, bytes. */
function dice(seed) {
  const next = mulberry32(seed);
  const int = (n) => Math.floor(next() * n);
  return {
    int,
    chance: (p) => next() < p,
    pick: (xs) => xs[int(xs.length)],
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}

const TOPICS = ["fz/a", "fz/b/c", "", "fz/+", "#", "$SYS/x", "fz/\u0000", "a".repeat(300)];
const FILTERS = ["fz/#", "#", "+/+", "$share/g/fz/#", "$SYS/#", "fz/a", "", "fz/#/x", "$queue/fz"];

/** MQTT 5 properties a CONNECT, PUBLISH or SUBSCRIBE may carry, some out of range. */
function someProps(d) {
  const all = [
    [0x11, "u32", d.pick([0, 10, 0xffffffff])], // session expiry interval
    [0x21, "u16", d.pick([0, 1, 10, 65535])], // receive maximum
    [0x22, "u16", d.pick([0, 5, 65535])], // topic alias maximum
    [0x23, "u16", d.pick([0, 1, 3, 65535])], // topic alias (publish)
    [0x27, "u32", d.pick([0, 16, 1 << 20])], // maximum packet size
    [0x26, "pair", ["k", "v".repeat(d.int(40))]], // user property
    [0x0b, "varint", d.pick([0, 1, 268435455])], // subscription identifier
    [0x01, "byte", d.int(3)], // payload format indicator
    [0x03, "str", "text/plain"], // content type
    [0x15, "str", "SCRAM"], // authentication method
  ];
  return Array.from({ length: d.int(4) }, () => d.pick(all));
}

/** A valid packet sequence for one connection: a CONNECT, then maybe more. */
function validSequence(d, n) {
  const version = d.chance(0.5) ? 4 : 5;
  const v5 = version === 5;
  const clientId = d.pick([`fz-${d.int(40)}`, `fz-${n}`, "", "same"]);
  const withUser = d.chance(0.7);
  const seq = [
    {
      kind: "connect",
      bytes: pk.connect({
        version,
        clientId,
        cleanStart: d.chance(0.7),
        keepAlive: d.pick([0, 5, 60]),
        username: withUser ? `u${d.int(10)}` : undefined,
        password: withUser && d.chance(0.8) ? "pw" : undefined,
        will: d.chance(0.2) ? { topic: d.pick(TOPICS), payload: "will", qos: d.int(3), retain: d.chance(0.3) } : undefined,
        props: v5 ? someProps(d) : [],
      }),
    },
  ];
  for (let i = d.int(4); i > 0; i--) {
    if (d.chance(0.5)) {
      const qos = d.int(3);
      seq.push({
        kind: "publish",
        bytes: pk.publish({
          version,
          topic: d.pick(TOPICS),
          payload: d.bytes(d.int(64)),
          qos,
          retain: d.chance(0.2),
          packetId: 1 + d.int(5),
          props: v5 ? someProps(d) : [],
        }),
      });
    } else {
      seq.push({
        kind: "subscribe",
        bytes: pk.subscribe({
          version,
          packetId: 1 + d.int(5),
          filters: Array.from({ length: 1 + d.int(3) }, () => ({ topic: d.pick(FILTERS), options: d.int(64) })),
          props: v5 ? someProps(d) : [],
        }),
      });
    }
  }
  if (d.chance(0.2)) seq.push({ kind: "disconnect", bytes: pk.disconnect({ version }) });
  return { version, seq };
}

/** Mutations of one packet's bytes. */
const MUTATIONS = {
  "bit flips": (d, b) => {
    const out = Buffer.from(b);
    for (let i = 1 + d.int(4); i > 0; i--) out[d.int(out.length)] ^= 1 << d.int(8);
    return [out];
  },
  truncation: (d, b) => [b.subarray(0, d.int(b.length))],
  "length field": (d, b) => {
    const len = d.pick([pk.varint(d.int(0x4000)), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), Buffer.from([0])]);
    const { rest } = headerSplit(b);
    return [Buffer.concat([b.subarray(0, 1), len, rest])];
  },
  repetition: (d, b) => Array.from({ length: 2 + d.int(5) }, () => b),
  "property garbage": (d, b) => {
    // Random bytes spliced into the variable header (where MQTT 5 properties sit), lengths fixed up or not.
    const { rest } = headerSplit(b);
    const at = Math.min(rest.length, 8 + d.int(8));
    const body = Buffer.concat([rest.subarray(0, at), d.bytes(1 + d.int(16)), rest.subarray(at)]);
    return [d.chance(0.5) ? pk.packet(b[0], body) : Buffer.concat([b.subarray(0, 1), pk.varint(rest.length), body])];
  },
  "type byte": (d, b) => [Buffer.concat([Buffer.from([d.int(256)]), b.subarray(1)])],
};

/** A packet's first byte, and what follows its remaining length. */
function headerSplit(b) {
  let i = 1;
  while (i < b.length && i < 5 && b[i] & 0x80) i++;
  return { rest: b.subarray(Math.min(i + 1, b.length)) };
}

/**
 * Case `n` of a storm: what to send on one connection and how to leave.
 * `validConnect`: whether its CONNECT goes out unmutated.
 */
function makeCase(seed, n) {
  const d = dice((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
  const { version, seq } = validSequence(d, n);
  let mutated = null;
  if (d.chance(0.7)) {
    const target = d.int(seq.length);
    const how = d.pick(Object.keys(MUTATIONS));
    mutated = `${how} of ${seq[target].kind} #${target}`;
    seq[target] = { kind: seq[target].kind, parts: MUTATIONS[how](d, seq[target].bytes) };
  }
  const chunks = seq.flatMap((p) => p.parts ?? [p.bytes]);
  return {
    n,
    version,
    mutated,
    validConnect: seq[0].parts === undefined,
    bytes: Buffer.concat(chunks),
    split: d.chance(0.3) ? d.int(Buffer.concat(chunks).length) : -1,
    leave: d.pick(["fin", "reset", "wait", "wait"]),
  };
}

/**
 * Plays one case on a fresh connection. Resolves (never rejects) once the
 * socket is closed, by the broker or by us, with whether a CONNACK came back.
 */
function play(port, c) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = Buffer.alloc(0);
    let connack = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ connack });
    };
    const timer = setTimeout(done, SOCKET_MS);
    socket.on("error", () => {}); // a reset is one way of being closed
    socket.on("close", done);
    socket.on("data", (data) => {
      answer = Buffer.concat([answer, data]);
      if (!connack) connack = pk.parsePackets(answer).packets.some((p) => p.type === 2);
    });
    socket.on("connect", () => {
      if (c.split > 0) {
        socket.write(c.bytes.subarray(0, c.split));
        setImmediate(() => !socket.destroyed && socket.write(c.bytes.subarray(c.split)));
      } else {
        socket.write(c.bytes);
      }
      if (c.leave === "fin") socket.end();
      else if (c.leave === "reset") setImmediate(() => socket.resetAndDestroy());
    });
  });
}

/** Plays `count` cases of `seed`, `CONCURRENCY` at a time; resolves with counts. */
async function storm(port, seed, count) {
  const counts = { connections: 0, validConnects: 0, connacks: 0 };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const c = makeCase(seed, next++);
      counts.connections += 1;
      if (c.validConnect) counts.validConnects += 1;
      if ((await play(port, c)).connack) counts.connacks += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return counts;
}

/** A fresh client of `version` connects, subscribes and gets its own QoS 1 message back. */
async function roundTrip(t, port, version) {
  const c = await connectClient(t, port, { protocolVersion: version, username: "after", password: "pw" });
  await c.subscribeAsync(`after/${version}`, { qos: 1 });
  const got = nextMessage(c, `after/${version}`);
  await c.publishAsync(`after/${version}`, `v${version}`, { qos: 1 });
  assert.equal((await got).payload.toString(), `v${version}`);
  c.end(true);
}

/** The seeds to run: FUZZ_SEED (one), FUZZ_SEEDS=n (n random ones), else `SEEDS`. */
function seeds() {
  if (process.env.FUZZ_SEED) return [Number(process.env.FUZZ_SEED)];
  if (process.env.FUZZ_SEEDS) {
    return Array.from({ length: Number(process.env.FUZZ_SEEDS) }, () => Math.floor(Math.random() * 2 ** 32));
  }
  return SEEDS;
}

/** A test's own bound: a wedged broker fails the test instead of hanging it. */
const TEST_MS = STORM_MS + CLOSE_MS + 60_000;

/**
 * A broker on a loopback port whose JS auth hook allows everybody (and
 * counts its calls); closed when the test ends, under a bound, so that a
 * close that hangs fails the test instead of hanging the run.
 */
async function startStormServer(t, logger) {
  const server = new MqttServer({ logger });
  let closing = null;
  const close = () => (closing ??= shutDown(server));
  t.after(() => withTimeout(close(), "server.close()", CLOSE_MS));
  const counts = { authCalls: 0 };
  server.setHooks({
    onClientAuthenticate: () => {
      counts.authCalls += 1;
      return { allow: true };
    },
  });
  await server.start({ listeners: [tcpListener()] });
  return { server, port: server.listeners[0].port, close, counts };
}

/** After a storm: both protocol versions get in and round-trip, then `close()` finishes. */
async function servesAndCloses(t, port, close, rerun) {
  await roundTrip(t, port, 4);
  await roundTrip(t, port, 5);
  await withTimeout(close(), `server.close() after the storm (${rerun})`, CLOSE_MS);
}

for (const seed of seeds()) {
  const name = `after a storm of ${CONNECTIONS} mutated connections (seed ${seed}) the broker serves MQTT 3.1.1 and 5 and closes`;
  test(name, { timeout: TEST_MS }, async (t) => {
    const logs = captureLogs();
    const { port, close, counts: hook } = await startStormServer(t, logs.logger);
    const rerun = `rerun: FUZZ_SEED=${seed} node --test test/fuzz-storm.test.js`;
    try {
      const counts = await withTimeout(storm(port, seed, CONNECTIONS), `the storm (${rerun})`, STORM_MS);
      const warns = logs.records.filter((r) => String(r.level).toUpperCase() === "WARN");
      t.diagnostic(
        `seed ${seed}: ${counts.connections} connections, ${counts.validConnects} valid CONNECTs, ` +
          `${hook.authCalls} auth calls, ${counts.connacks} CONNACKs, ${warns.length} WARNs`,
      );
      if (process.env.FUZZ_WARNS) t.diagnostic(JSON.stringify(warnKinds(warns), null, 1));
      await servesAndCloses(t, port, close, rerun);
    } catch (err) {
      await holdForDebugger();
      err.message = `seed ${seed}: ${err.message} (${rerun})`;
      throw err;
    }
  });
}

/** The most frequent WARNs, digits folded, for FUZZ_WARNS=1. */
function warnKinds(warns) {
  const kinds = {};
  for (const w of warns) {
    const k = String(w.message).replace(/\d+/g, "N").slice(0, 90);
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return Object.entries(kinds).sort((a, b) => b[1] - a[1]).slice(0, 12);
}

/** FUZZ_HOLD=<ms>: a failed run keeps its process that long, for `gdb -p <pid>`. */
async function holdForDebugger() {
  if (!process.env.FUZZ_HOLD) return;
  console.error(`fuzz-storm: holding pid ${process.pid} for ${process.env.FUZZ_HOLD} ms`);
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.FUZZ_HOLD)));
}

/**
 * The wedge the storm found (seeds 64268455, 3062654160 and 190280492 at
 * 5,000 connections under load), minimized: persistent sessions subscribed
 * to `$share/g/race` come and go (each connection subscribes and leaves),
 * while others publish to `race`. Each publish asks rmqtt whether every
 * member is online; rmqtt 0.24 held its session-map lock across an `.await`
 * there, so a member leaving or being taken over at that moment blocked
 * both worker threads for good: no CONNACK for anybody, `close()` hung.
 */
const RACE_ROUNDS = 20;
const RACE_MEMBERS = 50;

test(`publishes to $share members whose sessions come and go (${RACE_ROUNDS} x ${RACE_MEMBERS}) never wedge the broker`, { timeout: TEST_MS }, async (t) => {
  const { port, close, counts: hook } = await startStormServer(t, () => undefined);
  const leave = { leave: "fin", split: -1 };
  let connacks = 0;
  for (let round = 0; round < RACE_ROUNDS; round++) {
    const connections = [];
    for (let m = 0; m < RACE_MEMBERS; m++) {
      const member = Buffer.concat([
        pk.connect({ clientId: `member-${m}`, cleanStart: false, username: "u", password: "pw" }),
        pk.subscribe({ filters: [{ topic: "$share/g/race", qos: 0 }] }),
      ]);
      const publisher = Buffer.concat([
        pk.connect({ clientId: `publisher-${round}-${m}`, username: "u", password: "pw" }),
        ...Array.from({ length: 20 }, () => pk.publish({ topic: "race", payload: "x" })),
      ]);
      connections.push(play(port, { ...leave, bytes: member }), play(port, { ...leave, bytes: publisher }));
    }
    connacks += (await Promise.all(connections)).filter((r) => r.connack).length;
  }
  t.diagnostic(`${RACE_ROUNDS * RACE_MEMBERS * 2} connections, ${hook.authCalls} auth calls, ${connacks} CONNACKs`);
  await servesAndCloses(t, port, close, "the $share race");
});
