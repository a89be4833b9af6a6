"use strict";
// A publish policy's rewrite is applied only where the publisher could have
// published itself: never into $SYS (a tenant's never; the default broker's
// only from a $SYS publish the policy allowed), never into a subscription
// prefix ($share/, $queue/), never past the listener's maxPacketSize. Such a
// rewrite is ignored with a WARN and the original message goes on. And a
// policy that fails on every message logs a few WARNs with a repeat count,
// not one per message.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, tcpListener } = require("./helpers/server");
const { startTenants, listener } = require("./helpers/tenants");
const { connectClient } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { captureLogs, isWarn } = require("./helpers/logs");
const { withTimeout } = require("./helpers/wait");

const VERSIONS = [4, 5];
const MIB = 1024 * 1024;
/** The repeat report of a rate-limited WARN comes after its 10 s window. */
const REPORT_WAIT_MS = 40_000;

/** A publish policy that rewrites `orig/t` with `rewrite` and allows everything else as sent. */
function rewriting(rewrite) {
  return (session, p) => (p.topic === "orig/t" ? { allow: true, ...rewrite } : { allow: true });
}

/**
 * A subscriber (via `connect`) on `filters` plus an end marker; `settle(pub)`
 * publishes the marker at QoS 2 (the slowest path) and resolves once it
 * arrived, so every earlier message has had its chance to arrive.
 */
async function watch(t, connect, filters, protocolVersion) {
  const sub = await connect(t, { protocolVersion });
  const msgs = collectMessages(sub);
  const granted = await sub.subscribeAsync([...filters, "test-end/marker"], { qos: 2 });
  assert.ok(granted.every((g) => g.qos !== 128), `every subscription granted: ${JSON.stringify(granted)}`);
  let n = 0;
  msgs.settle = async (publisher) => {
    n += 1;
    const id = `end-${n}`;
    await publisher.publishAsync("test-end/marker", id, { qos: 2 });
    await msgs.waitFor((m) => m.topic === "test-end/marker" && m.payload.toString() === id, "the end marker");
  };
  return msgs;
}

/** A default broker with `policy` and captured logs; `connect(t, opts)` reaches it. */
async function defaultBroker(t, policy, listenerOptions = {}) {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    listeners: [tcpListener(listenerOptions)],
    hooks: { onClientPublishAuthorize: policy },
  });
  return { logs, connect: (tc, opts) => connectClient(tc, port, opts) };
}

/** A server whose tenant `acme` (behind a gateway) has `policy`; `connect` reaches acme. */
async function tenantBroker(t, policy, gatewayOptions = {}) {
  const logs = captureLogs();
  const { connect } = await startTenants(
    t,
    "username",
    { acme: { onClientPublishAuthorize: policy } },
    { listeners: [listener("gw", gatewayOptions)] },
    { logger: logs.logger },
  );
  return { logs, connect: (tc, opts) => connect(tc, "acme", opts) };
}

/** Publishes "orig/t" and proves the original, unrewritten, is what arrives. */
async function assertOriginalDelivered(t, broker, { filters, protocolVersion, payload = "original", warn }) {
  const msgs = await watch(t, broker.connect, ["orig/t", ...filters], protocolVersion);
  const pub = await broker.connect(t, { protocolVersion });
  await pub.publishAsync("orig/t", payload, { qos: 1 });
  const m = await msgs.waitFor((x) => x.topic === "orig/t", "the original message");
  assert.equal(m.payload.toString(), payload);
  assert.equal(m.packet.qos, 1);
  await broker.logs.waitForWarn(warn);
  await msgs.settle(pub);
  const others = msgs.filter((x) => x.topic !== "orig/t" && x.topic !== "test-end/marker");
  assert.deepEqual(others.map((x) => x.topic), [], "nothing but the original arrived");
  assert.equal(msgs.filter((x) => x.topic === "orig/t").length, 1);
}

for (const protocolVersion of VERSIONS) {
  const v = `MQTT ${protocolVersion === 4 ? "3.1.1" : "5"}`;

  test(`${v}: a tenant's policy cannot rewrite a publish into $SYS`, async (t) => {
    const broker = await tenantBroker(t, rewriting({ topic: "$SYS/x" }));
    await assertOriginalDelivered(t, broker, {
      filters: ["$SYS/#"],
      protocolVersion,
      warn: /tenant `acme`: onClientPublishAuthorize: ignored topic rewrite `\$SYS\/x`/,
    });
  });

  test(`${v}: the default broker's policy cannot move a publish into $SYS, only within it`, async (t) => {
    const broker = await defaultBroker(t, (session, p) => {
      if (p.topic === "orig/t") return { allow: true, topic: "$SYS/x" };
      if (p.topic === "$SYS/bridge/in") return { allow: true, topic: "$SYS/bridge/out" };
      return { allow: true };
    });
    await assertOriginalDelivered(t, broker, {
      filters: ["$SYS/#"],
      protocolVersion,
      warn: /onClientPublishAuthorize: ignored topic rewrite `\$SYS\/x`/,
    });
    // A $SYS publish the policy explicitly allowed may be rewritten within $SYS.
    const msgs = await watch(t, broker.connect, ["$SYS/bridge/#"], protocolVersion);
    const pub = await broker.connect(t, { protocolVersion });
    await pub.publishAsync("$SYS/bridge/in", "bridged", { qos: 1 });
    const m = await msgs.waitFor((x) => x.topic === "$SYS/bridge/out", "the rewrite within $SYS");
    assert.equal(m.payload.toString(), "bridged");
  });

  for (const target of ["$share/g/x", "$queue/x"]) {
    test(`${v}: a rewrite into ${target} is ignored and the original delivered`, async (t) => {
      const broker = await defaultBroker(t, rewriting({ topic: target }));
      await assertOriginalDelivered(t, broker, {
        filters: ["x", "$share/g/x"],
        protocolVersion,
        warn: /ignored topic rewrite `\$(share|queue)\/.*subscription filters/,
      });
    });
  }

  test(`${v}: a rewrite past the listener's maxPacketSize is ignored and the original delivered`, async (t) => {
    const broker = await defaultBroker(t, rewriting({ payload: Buffer.alloc(2 * MIB, 0x61) }), {
      maxPacketSize: MIB,
    });
    await assertOriginalDelivered(t, broker, {
      filters: [],
      protocolVersion,
      payload: "small",
      warn: /ignored rewrite of a publish to `orig\/t`: the rewritten PUBLISH would be \d+ bytes, above the listener's maxPacketSize \(1048576\)/,
    });
  });

  test(`${v}: a tenant's rewrite is held to its gateway's maxPacketSize, and one that fits applies`, async (t) => {
    const policy = (session, p) => {
      if (p.topic === "orig/t") return { allow: true, payload: Buffer.alloc(2048, 0x61) };
      if (p.topic === "fits/t") return { allow: true, payload: Buffer.alloc(900, 0x62) };
      return { allow: true };
    };
    const broker = await tenantBroker(t, policy, { maxPacketSize: 1024 });
    await assertOriginalDelivered(t, broker, {
      filters: [],
      protocolVersion,
      payload: "small",
      warn: /tenant `acme`: onClientPublishAuthorize: ignored rewrite .*maxPacketSize \(1024\)/,
    });
    const msgs = await watch(t, broker.connect, ["fits/t"], protocolVersion);
    const pub = await broker.connect(t, { protocolVersion });
    await pub.publishAsync("fits/t", "small", { qos: 1 });
    const m = await msgs.waitFor((x) => x.topic === "fits/t");
    assert.equal(m.payload.toString(), "b".repeat(900), "a rewrite within the limit applies");
  });
}

/** `n` for a WARN reported as "(repeated n times …)", 1 for a plain one, 0 for others. */
function occurrences(record, re) {
  if (!isWarn(record) || !re.test(String(record.message))) return 0;
  const repeated = /\(repeated (\d+) times? in the last \d+ s\)$/.exec(record.message);
  return repeated ? Number(repeated[1]) : 1;
}

test("an ACL that throws on 200 messages logs a few WARNs with a repeat count, not 200", async (t) => {
  const failure = /onClientPublishAuthorize \(js\) failed, denying: .*acl is down/;
  const lines = [];
  let reported = 0;
  let allReported;
  const done = new Promise((resolve) => {
    allReported = resolve;
  });
  const { port } = await startServer(t, {
    logger: (record) => {
      const n = occurrences(record, failure);
      if (n === 0) return;
      lines.push(record.message);
      reported += n;
      if (reported >= 200) allReported();
    },
    hooks: {
      onClientPublishAuthorize: () => {
        throw new Error("acl is down");
      },
    },
  });
  const v4 = await connectClient(t, port, { protocolVersion: 4 });
  const v5 = await connectClient(t, port, { protocolVersion: 5 });
  for (let i = 0; i < 100; i += 1) {
    await v4.publishAsync("flood/t", `m${i}`, { qos: 1 });
    await v5.publishAsync("flood/t", `m${i}`, { qos: 1 }).then(
      () => assert.fail("a publish the ACL failed on must be refused"),
      (err) => assert.equal(err.code, 0x87),
    );
  }
  // The repeat report comes when the 10 s window of the first WARN ends.
  await withTimeout(done, () => `WARNs accounting for 200 failures (${reported} so far: ${lines.join(" | ")})`, REPORT_WAIT_MS);
  assert.equal(reported, 200, "no failure counted twice");
  assert.ok(lines.length <= 6, `${lines.length} WARN lines for 200 failures`);
  assert.ok(
    lines.some((m) => /\(repeated \d+ times in the last 10 s\)$/.test(m)),
    `a line carries the repeat count: ${lines.join(" | ")}`,
  );
});
