"use strict";
// Persistence across kill -9: a QoS 1/2 message whose publisher saw it
// acknowledged reaches the persistent subscriber, even though the broker
// process (test/fixtures/persistent-broker.js) is SIGKILLed mid-load, over and
// over, and restarted on the same persistence dir. The subscriber's session
// (MQTT 3.1.1 clean=false, or MQTT 5 session expiry) carries its subscription
// across the restarts; it subscribes once, and sits some trials out offline.
// QoS 1 may duplicate; QoS 2 may not, whether the publisher's session is
// clean or persistent (resending after each restart, with DUP as MQTT says,
// or without it as mqtt.js does).
//
// The crash points come from a seeded PRNG; the seed is printed. Reproduce a
// run's crash points (the timing is the machine's) with
//   PERSISTENCE_CRASH_SEED=<seed> node --test test/persistence-crash.test.js

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { performance } = require("node:perf_hooks");
const { setTimeout: delay } = require("node:timers/promises");
const mqtt = require("mqtt");

const { spawnNode } = require("./helpers/child");
const { createClient, connackOf } = require("./helpers/client");
const { withTimeout } = require("./helpers/wait");

const FIXTURE = path.join(__dirname, "fixtures", "persistent-broker.js");
const SEED = process.env.PERSISTENCE_CRASH_SEED
  ? Number(process.env.PERSISTENCE_CRASH_SEED) >>> 0
  : Math.floor(Math.random() * 2 ** 32);
const TOPIC = "load/seq";
const FILTER = "load/#";
/**
 * Publishes outstanding (sent, not yet acked) per publisher connection. For
 * QoS 2 at most the listener's maxInflight (default 16): a client with more
 * incoming QoS 2 messages awaiting PUBREL is disconnected.
 */
const WINDOW = { 1: 50, 2: 16 };
/** Load before each kill: uniform in [LOAD_MS.min, LOAD_MS.max). */
const LOAD_MS = { min: 50, max: 400 };
/** Share of trials the subscriber spends online (the first always is: it subscribes). */
const ONLINE_SHARE = 0.7;
/** Bound on the final drain, up to the marker published after it. */
const DRAIN_MS = 45_000;
/** Margin after the marker for anything acked still missing. */
const SETTLE_MS = 3_000;
/** Payload of the marker published after the drain (sequence numbers start at 1). */
const SENTINEL = 0;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const isSuccess = (packet) => !(packet.reasonCode >= 0x80);
const seqOf = (packet) => Number(packet.payload.toString());

/** The fixture broker on `dir`, once it printed READY <port>. */
async function startBroker(t, dir) {
  const proc = spawnNode(t, [FIXTURE, dir]);
  const line = await proc.waitForOutput(/READY \d+/);
  return { proc, port: Number(line.slice("READY ".length)) };
}

/** kill -9, then waits for the exit; the broker must not have died by itself. */
async function killBroker(broker) {
  broker.proc.child.kill("SIGKILL");
  const { code, signal } = await broker.proc.exit();
  assert.equal(signal, "SIGKILL", `the broker exited by itself (code ${code}) before the kill; output:\n${broker.proc.output()}`);
}

/**
 * mqtt.js's message store, except that a PUBLISH it resends carries DUP, as
 * MQTT requires (mqtt.js resends them as stored, DUP clear). The first send
 * is not affected: mqtt.js stores a copy.
 */
class DupOnResendStore extends mqtt.Store {
  put(packet, cb) {
    if (packet.cmd === "publish") packet.dup = true;
    return super.put(packet, cb);
  }
}

/** Per seq, the QoS 2 packets one client sent and received for it, with trial and time. */
class WireTrace {
  constructor(label) {
    this.label = label;
    this.bySeq = new Map();
  }

  note(seq, trial, what) {
    if (seq === undefined) return;
    const entry = { trial, what, at: performance.now() };
    const list = this.bySeq.get(seq);
    if (list) list.push(entry);
    else this.bySeq.set(seq, [entry]);
  }

  of(seq) {
    return this.bySeq.get(seq) ?? [];
  }

  /** One line: `label: t1 >PUBLISH id 7 3.2 ms before kill, ...`. */
  describe(seq, trials) {
    const entries = this.of(seq).map((w) => {
      const kill = trials[w.trial - 1]?.killAt;
      const rel = kill === undefined ? " (drain)" : ` ${(kill - w.at).toFixed(1)} ms before kill`;
      return `t${w.trial} ${w.what}${rel}`;
    });
    return `${this.label}: ${entries.join(", ") || "-"}`;
  }
}

/**
 * The persistent subscriber: one client id, a new connection after every
 * restart, subscribing only the first time. Its QoS 2 receive state (an
 * mqtt.js store) outlives each connection, as a durable client's would.
 */
class DurableSubscriber {
  constructor({ clientId, qos, options }) {
    this.clientId = clientId;
    this.qos = qos;
    this.options = options;
    this.incomingStore = new mqtt.Store({ clean: false });
    /** seq -> the trials in which a copy arrived */
    this.receipts = new Map();
    this.wire = new WireTrace("subscriber");
    this.subscribed = false;
    this.client = null;
    this.trial = 0;
    this.watchers = new Set();
  }

  async connect(port, trial) {
    this.trial = trial;
    const client = createClient(port, {
      clientId: this.clientId,
      clean: false,
      incomingStore: this.incomingStore,
      ...this.options,
    });
    client.on("message", (_topic, payload) => this.record(Number(payload.toString())));
    if (this.qos === 2) this.traceQos2(client, trial);
    this.client = client;
    const connack = await withTimeout(connackOf(client), `CONNACK for ${this.clientId} (trial ${trial})`);
    if (!this.subscribed) {
      const granted = await withTimeout(client.subscribeAsync(FILTER, { qos: this.qos }), `SUBACK for ${FILTER}`);
      assert.equal(granted[0].qos, this.qos, "granted QoS");
      this.subscribed = true;
    } else {
      assert.equal(connack.sessionPresent, true, `trial ${trial}: the restarted broker had no session for ${this.clientId}`);
    }
  }

  traceQos2(client, trial) {
    const idToSeq = new Map();
    // A PUBREL may release a message a previous connection received.
    const seqOfId = (id) => idToSeq.get(id) ?? this.storedSeq(id);
    client.on("packetreceive", (p) => {
      if (p.cmd === "publish" && p.qos === 2) {
        idToSeq.set(p.messageId, seqOf(p));
        this.wire.note(seqOf(p), trial, `<PUBLISH id ${p.messageId}${p.dup ? " dup" : ""}`);
      } else if (p.cmd === "pubrel") {
        this.wire.note(seqOfId(p.messageId), trial, `<PUBREL id ${p.messageId}`);
      }
    });
    client.on("packetsend", (p) => {
      if (p.cmd === "pubrec" || p.cmd === "pubcomp") {
        this.wire.note(seqOfId(p.messageId), trial, `>${p.cmd.toUpperCase()} id ${p.messageId}`);
      }
    });
  }

  /** The seq of a QoS 2 message received and not yet released. */
  storedSeq(messageId) {
    let seq;
    this.incomingStore.get({ messageId }, (err, packet) => {
      if (!err) seq = seqOf(packet);
    });
    return seq;
  }

  record(seq) {
    const trials = this.receipts.get(seq);
    if (trials) trials.push(this.trial);
    else this.receipts.set(seq, [this.trial]);
    for (const w of this.watchers) w(seq);
  }

  /** Resolves once every seq in `seqs` has arrived (rejects after `ms`). */
  waitForAll(seqs, what, ms) {
    const missing = new Set([...seqs].filter((s) => !this.receipts.has(s)));
    if (missing.size === 0) return Promise.resolve();
    let watcher;
    const p = new Promise((resolve) => {
      watcher = (seq) => {
        missing.delete(seq);
        if (missing.size === 0) resolve();
      };
      this.watchers.add(watcher);
    });
    return withTimeout(p, () => `${what} (${missing.size} still missing)`, ms).finally(() => this.watchers.delete(watcher));
  }

  drop() {
    this.client?.end(true);
    this.client = null;
  }
}

/**
 * The publisher: sequence numbers as payloads, at most WINDOW[qos] in flight.
 * Acks are read off the wire (PUBACK, PUBREC, PUBCOMP with a success code),
 * so a persistent publisher's resends after a restart count too.
 */
class LoadPublisher {
  constructor({ clientId, qos, persistent, resendDup = false, options }) {
    this.clientId = clientId;
    this.qos = qos;
    this.persistent = persistent;
    this.options = options;
    this.nextSeq = 1;
    /** seq -> trial it was first published in */
    this.published = new Map();
    /** seq -> { trial, at } of the PUBACK (QoS 1) or PUBCOMP (QoS 2) */
    this.acked = new Map();
    /** seq -> { trial, at } of the PUBREC (QoS 2) */
    this.received = new Map();
    /** PUBLISHes sent again (a persistent publisher's resends after a restart) */
    this.resent = 0;
    this.sentOnce = new Set();
    this.idToSeq = new Map();
    this.wire = new WireTrace("publisher");
    if (persistent) {
      // Survive end(): the next connection resends what these still hold.
      const Store = resendDup ? DupOnResendStore : mqtt.Store;
      this.outgoingStore = new Store({ clean: false });
      this.messageIdProvider = new mqtt.DefaultMessageIdProvider();
    }
    this.client = null;
    this.running = false;
    this.trial = 0;
  }

  async connect(port, trial) {
    this.trial = trial;
    if (!this.persistent) this.idToSeq.clear();
    const client = createClient(port, {
      clientId: this.clientId,
      clean: !this.persistent,
      ...(this.persistent ? { outgoingStore: this.outgoingStore, messageIdProvider: this.messageIdProvider } : {}),
      ...this.options,
    });
    client.on("packetsend", (p) => this.onSend(p));
    client.on("packetreceive", (p) => this.onAck(p));
    this.client = client;
    await withTimeout(connackOf(client), `CONNACK for ${this.clientId} (trial ${trial})`);
  }

  onSend(p) {
    if (p.cmd === "pubrel" && this.qos === 2) {
      this.wire.note(this.idToSeq.get(p.messageId), this.trial, `>PUBREL id ${p.messageId}`);
    }
    if (p.cmd !== "publish" || p.qos === 0) return;
    const seq = seqOf(p);
    this.idToSeq.set(p.messageId, seq);
    if (this.sentOnce.has(seq)) this.resent += 1;
    else this.sentOnce.add(seq);
    if (this.qos === 2) this.wire.note(seq, this.trial, `>PUBLISH id ${p.messageId}${p.dup ? " dup" : ""}`);
  }

  onAck(p) {
    if (p.cmd !== "puback" && p.cmd !== "pubrec" && p.cmd !== "pubcomp") return;
    const seq = this.idToSeq.get(p.messageId);
    if (seq === undefined) return;
    if (this.qos === 2) this.wire.note(seq, this.trial, `<${p.cmd.toUpperCase()} id ${p.messageId}`);
    const mark = { trial: this.trial, at: performance.now() };
    if (p.cmd === "pubrec") {
      if (isSuccess(p) && !this.received.has(seq)) this.received.set(seq, mark);
      return;
    }
    if (isSuccess(p) && !this.acked.has(seq)) this.acked.set(seq, mark);
    this.idToSeq.delete(p.messageId);
  }

  /** Publishes new sequence numbers until stop(), WINDOW[qos] at a time. */
  startLoad() {
    const client = this.client;
    const trial = this.trial;
    let outstanding = 0;
    this.running = true;
    const pump = () => {
      while (this.running && this.client === client && outstanding < WINDOW[this.qos]) {
        const seq = this.nextSeq++;
        this.published.set(seq, trial);
        outstanding += 1;
        client.publish(TOPIC, String(seq), { qos: this.qos }, () => {
          outstanding -= 1;
          pump();
        });
      }
    };
    pump();
  }

  stop() {
    this.running = false;
  }

  drop() {
    this.running = false;
    this.client?.end(true);
    this.client = null;
  }
}

/** Where a lost seq came from: its trial, the ack's distance to that trial's kill. */
function describeLoss(seqs, acks, pub, sub, trials) {
  return seqs.slice(0, 30).map((seq) => {
    const ack = acks.get(seq);
    const trial = trials[ack.trial - 1];
    const when = trial ? `${(trial.killAt - ack.at).toFixed(1)} ms before its kill` : "in the drain";
    const head = `seq ${seq}: published in trial ${pub.published.get(seq)}, acked in trial ${ack.trial} ${when}, ` +
      `subscriber ${trial?.online ? "online" : "offline"} then` +
      `${trial ? `, that trial acked seqs ${trial.firstAcked}..${trial.lastAcked}` : ""}`;
    return pub.qos === 2 ? `${head}\n  ${pub.wire.describe(seq, trials)}\n  ${sub.wire.describe(seq, trials)}` : head;
  }).join("\n");
}

/** Duplicated seqs the broker resent as PUBLISH after the subscriber's PUBCOMP in an earlier trial. */
function resentAfterComplete(seqs, sub) {
  return seqs.filter((seq) => {
    const wire = sub.wire.of(seq);
    const done = wire.find((w) => w.what.startsWith(">PUBCOMP"));
    return done && wire.some((w) => w.trial > done.trial && w.what.startsWith("<PUBLISH"));
  });
}

/** Duplicated seqs the publisher sent in more than one trial (its resends after a restart). */
function resentByPublisher(seqs, pub) {
  return seqs.filter((seq) => new Set(pub.wire.of(seq).filter((w) => w.what.startsWith(">PUBLISH")).map((w) => w.trial)).size > 1);
}

/** Each duplicated seq's QoS 2 packets at both clients; those not resent after a PUBCOMP first. */
function describeDuplicates(seqs, sub, pub, trials) {
  const afterComplete = new Set(resentAfterComplete(seqs, sub));
  const ordered = [...seqs.filter((s) => !afterComplete.has(s)), ...seqs.filter((s) => afterComplete.has(s))];
  return ordered.slice(0, 30).map((seq) =>
    `seq ${seq} (published in trial ${pub.published.get(seq)}, arrived in trials ${sub.receipts.get(seq).join(",")})\n` +
    `  ${pub.wire.describe(seq, trials)}\n  ${sub.wire.describe(seq, trials)}`,
  ).join("\n");
}

/**
 * Runs `count` crash trials and a final drain on one persistence dir, then
 * asserts that nothing acknowledged was lost (and, for QoS 2, nothing doubled).
 */
async function crashTrials(t, { name, salt, trials: count, qos, subscriber, publisher }) {
  const rand = prng(SEED ^ salt);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-crash-"));
  const sub = new DurableSubscriber({ qos, ...subscriber });
  const pub = new LoadPublisher({ qos, ...publisher });
  let broker = null;
  t.after(async () => {
    sub.drop();
    pub.drop();
    if (broker) {
      broker.proc.child.kill("SIGKILL");
      await broker.proc.exit().catch(() => {});
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.diagnostic(`seed ${SEED} (PERSISTENCE_CRASH_SEED=${SEED} repeats the crash points)`);

  const trials = [];
  for (let trial = 1; trial <= count; trial++) {
    broker = await startBroker(t, dir);
    // Mostly online; now and then offline for a whole trial, so that what the
    // publisher gets acked can only reach the subscriber through the store.
    const online = trial === 1 || rand() < ONLINE_SHARE;
    if (online) await sub.connect(broker.port, trial);
    await pub.connect(broker.port, trial);
    pub.startLoad();
    const loadMs = LOAD_MS.min + Math.floor(rand() * (LOAD_MS.max - LOAD_MS.min));
    await delay(loadMs); // the crash point, chosen at random: not a wait for anything
    pub.stop();
    const killAt = performance.now();
    await killBroker(broker);
    broker = null;
    pub.drop();
    sub.drop();
    let firstAcked = Infinity;
    let lastAcked = -Infinity;
    for (const [seq, ack] of pub.acked) {
      if (ack.trial !== trial) continue;
      firstAcked = Math.min(firstAcked, seq);
      lastAcked = Math.max(lastAcked, seq);
    }
    trials.push({ trial, online, loadMs, killAt, firstAcked, lastAcked });
  }

  // Restart once more and let the subscriber drain. A marker published last
  // arrives after whatever the store replays (the session's queue is FIFO):
  // once it is in, what is still missing is gone, and late duplicates are
  // counted. The short wait after it is a margin, not the criterion.
  broker = await startBroker(t, dir);
  await sub.connect(broker.port, count + 1);
  await pub.connect(broker.port, count + 1); // a persistent publisher resends what it holds
  pub.client.publish(TOPIC, String(SENTINEL), { qos });
  await sub.waitForAll([SENTINEL], "the marker after the drain", DRAIN_MS).catch(() => {});
  const expected = new Set([...pub.acked.keys(), ...pub.received.keys()]);
  await sub.waitForAll(expected, "every acknowledged seq at the subscriber", SETTLE_MS).catch(() => {});
  for (const m of [sub.receipts, pub.acked, pub.received]) m.delete(SENTINEL);

  const missing = (acks) => [...acks.keys()].filter((s) => !sub.receipts.has(s)).sort((a, b) => a - b);
  const lost = missing(pub.acked);
  const lostRec = missing(pub.received);
  const doubled = [...sub.receipts].filter(([, r]) => r.length > 1).map(([s]) => s);
  let duplicates = 0;
  for (const r of sub.receipts.values()) duplicates += r.length - 1;
  const unacked = [...sub.receipts.keys()].filter((s) => !pub.acked.has(s)).length;
  const offline = trials.filter((x) => !x.online).map((x) => x.trial);
  t.diagnostic(
    `${name}: trials ${count} (subscriber offline in ${offline.length}), ` +
    `published ${pub.nextSeq - 1}, acked ${pub.acked.size}` +
    `${qos === 2 ? `, PUBREC'd ${pub.received.size}` : ""}, received ${sub.receipts.size} distinct ` +
    `(${unacked} of them never acked), duplicates ${duplicates}, lost ${lost.length}` +
    `${qos === 2 ? `, lost after PUBREC ${lostRec.length}` : ""}` +
    `${pub.persistent ? `, publisher resends ${pub.resent}` : ""}`,
  );
  if (process.env.PERSISTENCE_CRASH_TRIALS) t.diagnostic(JSON.stringify(trials));

  assert.ok(pub.acked.size > 0, "the publisher got acks at all");
  const problems = [];
  if (lost.length > 0) {
    problems.push(`${lost.length} acknowledged (${qos === 2 ? "PUBCOMP" : "PUBACK"}) seqs never reached the persistent subscriber:\n` +
      describeLoss(lost, pub.acked, pub, sub, trials));
  }
  const lostOnlyRec = lostRec.filter((s) => !pub.acked.has(s));
  if (qos === 2 && lostOnlyRec.length > 0) {
    problems.push(`${lostOnlyRec.length} PUBREC'd (never PUBCOMP'd) seqs never reached the persistent subscriber:\n` +
      describeLoss(lostOnlyRec, pub.received, pub, sub, trials));
  }
  if (qos === 2 && doubled.length > 0) {
    problems.push(`QoS 2 delivered ${duplicates} duplicates of ${doubled.length} seqs: ` +
      `${resentAfterComplete(doubled, sub).length} resent by the broker (PUBLISH, DUP) after the subscriber had ` +
      `completed them (PUBCOMP) before the kill, ${resentByPublisher(doubled, pub).length} after the publisher ` +
      `resent them (PUBLISH again after the restart):\n` +
      describeDuplicates(doubled, sub, pub, trials));
  }
  assert.equal(problems.length, 0, `seed ${SEED}, ${name}, subscriber offline in trials [${offline}]:\n${problems.join("\n\n")}`);
}

test("QoS 1 acked before kill -9 reaches an MQTT 3.1.1 persistent subscriber (clean session false)", async (t) => {
  await crashTrials(t, {
    name: "QoS 1, MQTT 3.1.1 subscriber",
    salt: 0x3111,
    trials: 12,
    qos: 1,
    subscriber: { clientId: "durable-sub", options: { protocolVersion: 4 } },
    publisher: { clientId: "durable-pub", persistent: false, options: { protocolVersion: 4 } },
  });
});

test("QoS 1 acked before kill -9 reaches an MQTT 5 persistent subscriber (session expiry 3600)", async (t) => {
  await crashTrials(t, {
    name: "QoS 1, MQTT 5 subscriber",
    salt: 0x5000,
    trials: 12,
    qos: 1,
    subscriber: {
      clientId: "durable-sub",
      options: { protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } },
    },
    publisher: { clientId: "durable-pub", persistent: false, options: { protocolVersion: 5 } },
  });
});

test("QoS 2 acked before kill -9 reaches the persistent subscriber exactly once (clean-session publisher)", async (t) => {
  await crashTrials(t, {
    name: "QoS 2, clean publisher",
    salt: 0x2c1e,
    trials: 8,
    qos: 2,
    subscriber: { clientId: "durable-sub", options: { protocolVersion: 4 } },
    publisher: { clientId: "durable-pub", persistent: false, options: { protocolVersion: 4 } },
  });
});

test("QoS 2 from a persistent publisher that resends with DUP after each restart arrives exactly once", async (t) => {
  await crashTrials(t, {
    name: "QoS 2, persistent publisher resending with DUP",
    salt: 0x2b0b,
    trials: 8,
    qos: 2,
    subscriber: { clientId: "durable-sub", options: { protocolVersion: 4 } },
    publisher: { clientId: "durable-pub", persistent: true, resendDup: true, options: { protocolVersion: 4 } },
  });
});

test("QoS 2 from a persistent mqtt.js publisher (resends without DUP) arrives exactly once", async (t) => {
  await crashTrials(t, {
    name: "QoS 2, persistent mqtt.js publisher resending without DUP",
    salt: 0x2d0d,
    trials: 8,
    qos: 2,
    subscriber: { clientId: "durable-sub", options: { protocolVersion: 4 } },
    publisher: { clientId: "durable-pub", persistent: true, options: { protocolVersion: 4 } },
  });
});
