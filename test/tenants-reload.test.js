"use strict";
// Hot reload of one tenant's policy under steady QoS 1 traffic: every
// message arrives exactly once, nobody is disconnected, and decisions switch
// to the new policy (JS → JS with tenant.setHooks, wasm → wasm with
// tenant.reload). A reload that fails keeps the policy in force.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");

const { collectMessages } = require("./helpers/messages");
const { guest, loadGuest } = require("./helpers/policies");
const { startTenants, watchDisconnects } = require("./helpers/tenants");
const { withTimeout } = require("./helpers/wait");

/**
 * Messages sent per run; how many may await their PUBACK; how many may be
 * sent but not yet received. The last bound keeps the subscriber's queue
 * below rmqtt's per-session limit (1000 by default): past it rmqtt drops
 * QoS 1 messages for a slow subscriber, hooks or not.
 */
const MESSAGES = 2000;
const WINDOW = 64;
const AHEAD = 256;
/**
 * The policy is swapped when the publisher reaches these sequence numbers
 * (or a little later: see `trafficWithSwaps`).
 */
const SWAP_AT = [300, 700, 1100, 1500];
/** Bound on one swap (a reload compiles a component: slow on a loaded machine). */
const SWAP_WAIT_MS = 30_000;

/**
 * Publishes `MESSAGES` QoS 1 messages, the sequence number in a user
 * property, awaiting `atSeq(seq)` before each; `progress.sent` counts the
 * messages handed to the client so far.
 */
async function pump(pub, topic, atSeq, got, progress) {
  const inFlight = new Set();
  for (let seq = 0; seq < MESSAGES; seq++) {
    await atSeq(seq);
    if (seq - got.length >= AHEAD) {
      await got.waitFor(() => seq - got.length < AHEAD, `the subscriber to reach ${seq - AHEAD}`);
    }
    const p = pub
      .publishAsync(topic, `m-${seq}`, { qos: 1, properties: { userProperties: { seq: String(seq) } } })
      .finally(() => inFlight.delete(p));
    progress.sent = seq + 1;
    inFlight.add(p);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** The sequence number a received message carries. */
const seqOf = (m) => Number(m.packet.properties?.userProperties?.seq);

/**
 * Runs the traffic with `swap(k)` called at each `SWAP_AT` mark (k = 1..),
 * and resolves with one `{ seq, version }` per received message, `version`
 * being what `versionOf(message)` reads from the decision applied to it.
 *
 * Traffic goes on while a swap runs. Before the traffic passes the next mark,
 * the previous swap must have taken effect: its promise settled and a
 * message published after that has reached the subscriber (so it was decided
 * by that policy). A mark whose previous policy decided nothing yet is passed
 * one message later. However slow the machine, two swaps never land with no
 * decision between them.
 */
async function trafficWithSwaps({ t, connect, tenant, subTopic, pubTopic, swap, versionOf, creds = {} }) {
  const sub = await connect(t, tenant, { clientId: "reload-sub", protocolVersion: 5, ...creds.sub });
  const pub = await connect(t, tenant, { clientId: "reload-pub", protocolVersion: 5, ...creds.pub });
  const disconnects = watchDisconnects([sub, pub]);
  await sub.subscribeAsync(subTopic, { qos: 1 });
  const got = collectMessages(sub);
  const progress = { sent: 0 };
  // The policy in force (swap `swapped`, 0: the first one) decides every message from `inForceFrom` on.
  let running = Promise.resolve();
  let inForceFrom = 0;
  let swapped = 0;
  const startSwap = () => {
    const k = (swapped += 1);
    running = Promise.resolve(swap(k)).then(() => {
      inForceFrom = progress.sent;
    });
    running.catch(() => undefined); // awaited at the next mark; no unhandled rejection meanwhile
  };
  await pump(pub, pubTopic, async (seq) => {
    if (swapped >= SWAP_AT.length || seq < SWAP_AT[swapped]) return;
    await withTimeout(running, `swap ${swapped} to take effect`, SWAP_WAIT_MS);
    if (inForceFrom >= seq) return; // nothing published under it yet: this message first
    await got.waitFor((m) => seqOf(m) >= inForceFrom, `a message decided by swap ${swapped}`);
    startSwap();
  }, got, progress);
  await got.waitFor(() => got.length >= MESSAGES, () => `${MESSAGES} messages (got ${got.length}: ${JSON.stringify(summary(got, versionOf))})`);
  await withTimeout(running, "the last swap", SWAP_WAIT_MS);
  // One more message after every swap settled: it must see the last policy.
  await pub.publishAsync(pubTopic, "last", { qos: 1, properties: { userProperties: { seq: String(MESSAGES) } } });
  await got.waitFor(() => got.length >= MESSAGES + 1, "the last message");

  assert.equal(swapped, SWAP_AT.length, "every swap ran");
  assert.equal(disconnects.count, 0, `no disconnects: ${disconnects.events.join(", ")}`);
  assert.ok(sub.connected && pub.connected);
  return got.map((m) => ({ seq: seqOf(m), version: versionOf(m) }));
}

/** How many messages each policy version decided, for failure messages. */
function summary(got, versionOf) {
  const counts = {};
  for (const m of got) counts[versionOf(m)] = (counts[versionOf(m)] ?? 0) + 1;
  return counts;
}

/** Zero lost, zero duplicated; versions never go back; each version decided something; the last one decides last. */
function checkReceived(received, versions) {
  const seqs = received.map((r) => r.seq);
  assert.equal(new Set(seqs).size, seqs.length, "no message arrived twice");
  assert.deepEqual(
    [...seqs].sort((a, b) => a - b),
    Array.from({ length: MESSAGES + 1 }, (_, i) => i),
    "every message arrived",
  );
  const bySeq = [...received].sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < bySeq.length; i++) {
    const [before, after] = [versions.indexOf(bySeq[i - 1].version), versions.indexOf(bySeq[i].version)];
    assert.ok(after >= before, `seq ${bySeq[i].seq}: ${bySeq[i].version} after ${bySeq[i - 1].version}`);
  }
  const seen = new Set(received.map((r) => r.version));
  for (const v of versions) assert.ok(seen.has(v), `policy ${v} decided some messages`);
  assert.equal(bySeq.at(-1).version, versions.at(-1), "the last policy decides after the last swap");
  const counts = Object.fromEntries(versions.map((v) => [v, received.filter((r) => r.version === v).length]));
  return counts;
}

test(`JS → JS: ${SWAP_AT.length} swaps of the publish ACL under ${MESSAGES} QoS 1 messages lose nothing`, async (t) => {
  const rewrite = (k) => ({
    onClientPublishAuthorize: (s, m) => ({ allow: true, payload: `v${k}:${m.payload}` }),
  });
  const { server, connect } = await startTenants(t, "listener", { acme: rewrite(0), globex: undefined });
  const received = await trafficWithSwaps({
    t,
    connect,
    tenant: "acme",
    subTopic: "load/#",
    pubTopic: "load/seq",
    swap: (k) => server.tenant("acme").setHooks(rewrite(k)),
    versionOf: (m) => m.payload.toString().split(":")[0],
  });
  const versions = ["v0", "v1", "v2", "v3", "v4"];
  const counts = checkReceived(received, versions);
  t.diagnostic(`messages ${received.length}, swaps ${SWAP_AT.length}, lost 0, per version ${JSON.stringify(counts)}`);
  const acl = server.tenant("acme").stats().hooks.find((h) => h.hook === "onClientPublishAuthorize");
  assert.equal(acl.calls, MESSAGES + 1);
  assert.equal(acl.denies + acl.timeouts + acl.errors, 0);
});

test(`wasm → wasm: ${SWAP_AT.length} tenant.reload()s under ${MESSAGES} QoS 1 messages lose nothing`, async (t) => {
  // rust-acl turns `<prefix>/upper` into `<prefix>/out` with the payload upper-cased;
  // hostile-bad-mutation keeps the topic (its rewrite is invalid) and sets the payload "mutated".
  const files = ["rust-acl.wasm", "hostile-bad-mutation.wasm"];
  const first = await loadGuest(t, files[0]);
  const hooks = {
    onClientAuthenticate: first,
    onClientSubscribeAuthorize: first,
    onClientPublishAuthorize: first,
  };
  // hostile-bad-mutation's invalid topic rewrite is ignored with a WARN per message.
  const quiet = { logger: () => undefined };
  const { server, connect } = await startTenants(t, "listener", { acme: hooks, globex: undefined }, {}, quiet);
  const tenant = server.tenant("acme");
  const received = await trafficWithSwaps({
    t,
    connect,
    tenant: "acme",
    subTopic: "server/public/#",
    pubTopic: "server/public/load/upper",
    creds: { sub: { username: "sub", password: "demo" }, pub: { username: "pub", password: "demo" } },
    swap: async (k) => {
      const policy = await tenant.reload(guest(files[k % 2]));
      t.after(() => policy.close());
    },
    versionOf: (m) => (m.topic.endsWith("/out") ? "rust-acl" : m.payload.toString()),
  });
  const versions = ["rust-acl", "mutated"];
  // Versions alternate, so check the order per swap rather than by name.
  const seqs = received.map((r) => r.seq);
  assert.equal(new Set(seqs).size, MESSAGES + 1, "every message arrived exactly once");
  const bySeq = [...received].sort((a, b) => a.seq - b.seq);
  let changes = 0;
  for (let i = 1; i < bySeq.length; i++) {
    assert.ok(versions.includes(bySeq[i].version), `seq ${bySeq[i].seq}: ${bySeq[i].version}`);
    if (bySeq[i].version !== bySeq[i - 1].version) changes += 1;
  }
  assert.equal(bySeq[0].version, "rust-acl");
  assert.equal(changes, SWAP_AT.length, "decisions switched once per reload, in order");
  assert.equal(bySeq.at(-1).version, versions[SWAP_AT.length % 2], "the last reload decides last");
  t.diagnostic(`messages ${received.length}, reloads ${SWAP_AT.length}, lost 0, decision switches ${changes}`);
});

test("a reload that fails rejects with the load error and keeps the policy in force", async (t) => {
  const rust = await loadGuest(t, "rust-acl.wasm");
  const { server, connect } = await startTenants(t, "listener", {
    acme: { onClientAuthenticate: rust, onClientPublishAuthorize: rust },
  });
  const tenant = server.tenant("acme");
  await assert.rejects(tenant.reload(Buffer.from("not a component")), { code: "ERR_POLICY_INVALID" });
  await assert.rejects(tenant.reload("/nonexistent/policy.wasm"), { code: "ERR_POLICY_IO" });
  // js-auth exports only `authenticate`: it cannot take over the publish ACL.
  await assert.rejects(tenant.reload(guest("js-auth.quickjs.wasm")), { code: "ERR_POLICY_MISSING_EXPORT" });

  // rust-acl still decides: its rewrite applies, its credentials rule holds.
  const c = await connect(t, "acme", { clientId: "after", username: "u", password: "demo" });
  const got = collectMessages(c);
  await c.subscribeAsync("u/#", { qos: 1 });
  await c.publishAsync("u/x/upper", "abc", { qos: 1 });
  const m = await got.waitFor((x) => x.topic === "u/x/out");
  assert.equal(m.payload.toString(), "ABC");
  assert.ok(fs.existsSync(guest("js-auth.quickjs.wasm")));
});
