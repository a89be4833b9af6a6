"use strict";
// Load-shaped checks: many clients and messages through JS hooks, in order,
// with nothing lost; large payloads; sessions that outlive a connection.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, createClient, connackOf, closed } = require("./helpers/client");
const { withTimeout } = require("./helpers/wait");
const { collectMessages, nextMessage } = require("./helpers/messages");
const { Recorder } = require("./helpers/recorder");

test("1000 QoS 1 messages from 10 publishers pass an async publish ACL, in order per publisher", async (t) => {
  let calls = 0;
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: async () => ({ allow: true }),
      onClientPublishAuthorize: async (s, p) => {
        calls += 1;
        // Answers come back out of order across publishers.
        if (calls % 3 === 0) await new Promise((r) => setImmediate(r));
        return { allow: true };
      },
      onMessagePublish: () => {},
      onMessageDelivered: () => {},
    },
  });
  const sub = await connectClient(t, port, { protocolVersion: 5 });
  const msgs = collectMessages(sub);
  await sub.subscribeAsync("load/#", { qos: 1 });
  const PUBLISHERS = 10;
  const PER = 100;
  const pubs = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, i) => connectClient(t, port, { clientId: `load-pub-${i}` })),
  );
  await Promise.all(
    pubs.map(async (c, i) => {
      for (let n = 0; n < PER; n++) await c.publishAsync(`load/${i}`, String(n), { qos: 1 });
    }),
  );
  await msgs.waitFor(() => msgs.length >= PUBLISHERS * PER, `${PUBLISHERS * PER} messages`);
  for (let i = 0; i < PUBLISHERS; i++) {
    const seq = msgs.onTopic(`load/${i}`).map((m) => Number(m.payload.toString()));
    assert.deepEqual(seq, Array.from({ length: PER }, (_, n) => n), `publisher ${i} in order, none lost`);
  }
  assert.equal(calls, PUBLISHERS * PER);
});

test("50 clients connecting at once all get their auth decision", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: async (a) => {
        rec.push("auth", [a]);
        await new Promise((r) => setImmediate(r));
        return { allow: a.username?.startsWith("ok-") ?? false };
      },
    },
  });
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) => connectClient(t, port, { username: `ok-${i}`, password: "x" })),
  );
  assert.equal(clients.filter((c) => c.connected).length, 50);
  assert.equal(rec.count("auth"), 50);
});

test("a 512 KiB payload passes the publish ACL and arrives intact", async (t) => {
  const seen = [];
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (s, p) => {
        seen.push(p.payload.length);
        return { allow: true };
      },
    },
  });
  const sub = await connectClient(t, port);
  const pub = await connectClient(t, port);
  await sub.subscribeAsync("big/t", { qos: 1 });
  const payload = Buffer.alloc(512 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  const got = nextMessage(sub, "big/t");
  await pub.publishAsync("big/t", payload, { qos: 1 });
  assert.ok((await got).payload.equals(payload));
  assert.deepEqual(seen, [payload.length]);
});

test("a persistent session receives the QoS 1 messages published while it was offline", async (t) => {
  const { server, port } = await startServer(t);
  const opts = { clientId: "persistent-1", clean: false, protocolVersion: 4 };
  const first = await connectClient(t, port, opts);
  await first.subscribeAsync("offline/t", { qos: 1 });
  await first.endAsync();
  await server.publish("offline/t", "while away", { qos: 1 });
  // Listen before the CONNACK: the queued message may follow it in the same read.
  const again = createClient(port, opts);
  t.after(() => again.end(true));
  const got = nextMessage(again, "offline/t", "the message queued while offline");
  await withTimeout(connackOf(again), "the reconnection");
  const m = await got;
  assert.equal(m.payload.toString(), "while away");
});

test("a second connection with the same client id takes the session over", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, { hooks: { onClientDisconnected: rec.hook("disc") } });
  const a = await connectClient(t, port, { clientId: "same-id" });
  const aClosed = closed(a, "the first connection to be kicked");
  const b = await connectClient(t, port, { clientId: "same-id" });
  await aClosed;
  assert.equal(b.connected, true);
  await rec.waitFor("disc", (s) => s.clientId === "same-id");
});

test("onClientDisconnected fires when a client drops without DISCONNECT", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientDisconnected: rec.hook("disc"), onSessionTerminated: rec.hook("term") },
  });
  const c = await connectClient(t, port, { clientId: "dropper", username: "dee" });
  c.stream.destroy();
  const [session, info] = await rec.waitFor("disc", (s) => s.clientId === "dropper");
  assert.equal(session.username, "dee");
  if (info?.reason !== undefined) assert.equal(typeof info.reason, "string");
  await rec.waitFor("term", (s) => s.clientId === "dropper");
});

test("a notification hook whose promise never settles does not stall later notifications", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onMessagePublish: () => new Promise(() => {}),
      onClientConnected: rec.hook("connected"),
    },
  });
  const pub = await connectClient(t, port);
  for (let i = 0; i < 5; i++) await pub.publishAsync("stall/t", String(i), { qos: 1 });
  const later = await connectClient(t, port, { clientId: "after-stall" });
  await rec.waitFor("connected", (s) => s.clientId === later.options.clientId);
});
