"use strict";
// JS hook calls in flight are bounded per hook, and fairly: a flood of hung
// authentications costs its own clients only, a well-behaved client still
// gets its CONNACK as soon as its own hook answers (MQTT 3.1.1 and 5); calls
// past a hook's bound are refused at once instead of queued; a hung publish
// ACL does not block authentication or the subscribe ACL.
//
// The hook timeout is 60 s here, longer than any wait of these tests: a
// client that had to wait for hung calls to time out fails the test.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");

const { startServer } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { withTimeout } = require("./helpers/wait");

/** The JS calls of one decision hook kept in flight per context (host `MAX_DECISIONS_IN_FLIGHT`). */
const DECISIONS_IN_FLIGHT = 4096;
const HUNG_TIMEOUT_MS = 60_000;
/** The bound of the waits that open thousands of connections (a loaded 2-core box). */
const STORM_WAIT_MS = 60_000;

const { str: mqttString, varint: remainingLength } = require("./helpers/mqtt-packets");

function packet(type, body) {
  return Buffer.concat([Buffer.from([type]), remainingLength(body.length), body]);
}

/** An MQTT 3.1.1 CONNECT, clean session, with a username. */
function connectPacket(clientId, username) {
  const flags = 0x80 | 0x02;
  const body = Buffer.concat([mqttString("MQTT"), Buffer.from([4, flags, 0, 60]), mqttString(clientId), mqttString(username)]);
  return packet(0x10, body);
}

/** A QoS 1 PUBLISH with packet id 1. */
function publishPacket(topic, payload) {
  return packet(0x32, Buffer.concat([mqttString(topic), Buffer.from([0, 1]), Buffer.from(payload)]));
}

/**
 * Opens `count` raw TCP connections that each write `bytes(i)` at once and
 * never answer. `refused` counts those that got a CONNACK refusing them.
 * Every socket is destroyed when the test ends.
 */
function rawStorm(t, port, count, bytes) {
  const sockets = [];
  const storm = { sockets, refused: 0, onRefused: () => {} };
  for (let i = 0; i < count; i += 1) {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.on("connect", () => socket.write(bytes(i)));
    socket.once("data", (data) => {
      // CONNACK: 0x20, length 2, session present, return code.
      if (data[0] === 0x20 && data[3] !== 0) {
        storm.refused += 1;
        storm.onRefused();
      }
    });
    sockets.push(socket);
  }
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  return storm;
}

/** A counter whose `reached(n)` resolves once it counted `n`. */
function counter() {
  const waiters = [];
  const c = {
    value: 0,
    add() {
      c.value += 1;
      for (let i = waiters.length - 1; i >= 0; i -= 1) {
        if (c.value >= waiters[i].n) waiters.splice(i, 1)[0].resolve();
      }
    },
    reached(n) {
      if (c.value >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
  return c;
}

/** An auth hook that never answers for usernames starting with `hang-` and allows the rest at once. */
function hangingAuth(hung) {
  return ({ username }) => {
    if (username?.startsWith("hang-")) {
      hung.add();
      return new Promise(() => {});
    }
    return { allow: true };
  };
}

const quiet = () => {};

function hookStats(server, hook) {
  return server.stats().hooks.find((h) => h.hook === hook);
}

test("3,000 hung authentications do not delay a well-behaved client's CONNACK (MQTT 3.1.1 and 5)", async (t) => {
  const HUNG = 3000;
  const hung = counter();
  const { port } = await startServer(t, {
    hooks: { onClientAuthenticate: hangingAuth(hung) },
    hookTimeoutMs: HUNG_TIMEOUT_MS,
    logger: quiet,
  });
  rawStorm(t, port, HUNG, (i) => connectPacket(`hang-${i}`, `hang-${i}`));
  // Each hung CONNECT reaches the hook at once: none waits for a handshake slot.
  await withTimeout(hung.reached(HUNG), () => `${HUNG} hung authentications to reach the hook (${hung.value} did)`, STORM_WAIT_MS);

  for (const protocolVersion of [4, 5]) {
    const client = await connectClient(t, port, { username: "good", protocolVersion });
    assert.equal(client.connected, true, `MQTT ${protocolVersion} client connected`);
  }
});

test("authentications past the hook's bound are refused at once, not queued behind hung ones", async (t) => {
  const EXTRA = 32;
  const hung = counter();
  const { server, port } = await startServer(t, {
    hooks: { onClientAuthenticate: hangingAuth(hung) },
    hookTimeoutMs: HUNG_TIMEOUT_MS,
    logger: quiet,
  });
  const refused = counter();
  const storm = rawStorm(t, port, DECISIONS_IN_FLIGHT + EXTRA, (i) => connectPacket(`hang-${i}`, `hang-${i}`));
  storm.onRefused = () => refused.add();
  await withTimeout(
    Promise.all([hung.reached(DECISIONS_IN_FLIGHT), refused.reached(EXTRA)]),
    () => `${DECISIONS_IN_FLIGHT} hung calls (${hung.value}) and ${EXTRA} refusals (${refused.value})`,
    STORM_WAIT_MS,
  );
  assert.equal(hung.value, DECISIONS_IN_FLIGHT, "the hook is called for no more than its bound at once");
  assert.equal(refused.value, EXTRA);
  const auth = hookStats(server, "onClientAuthenticate");
  assert.equal(auth.errors, EXTRA, "each refusal counts as an error of the hook");
});

test("a storm of hung publish ACL calls blocks neither authentication nor the subscribe ACL", async (t) => {
  const hungPublishes = counter();
  let subscribeCalls = 0;
  const { port } = await startServer(t, {
    hooks: {
      onClientAuthenticate: () => ({ allow: true }),
      onClientSubscribeAuthorize: () => {
        subscribeCalls += 1;
        return { allow: true };
      },
      onClientPublishAuthorize: (_session, msg) => {
        if (msg.topic.startsWith("hang/")) {
          hungPublishes.add();
          return new Promise(() => {});
        }
        return { allow: true };
      },
    },
    hookTimeoutMs: HUNG_TIMEOUT_MS,
    logger: quiet,
  });
  // Fills the publish ACL's bound with calls that never answer.
  rawStorm(t, port, DECISIONS_IN_FLIGHT, (i) =>
    Buffer.concat([connectPacket(`pub-${i}`, `pub-${i}`), publishPacket(`hang/${i}`, "x")]),
  );
  await withTimeout(
    hungPublishes.reached(DECISIONS_IN_FLIGHT),
    () => `${DECISIONS_IN_FLIGHT} hung publish ACL calls (${hungPublishes.value})`,
    STORM_WAIT_MS,
  );

  for (const protocolVersion of [4, 5]) {
    const client = await connectClient(t, port, { username: "good", protocolVersion });
    const [granted] = await client.subscribeAsync(`ok/${protocolVersion}`, { qos: 1 });
    assert.equal(granted.qos, 1, `MQTT ${protocolVersion} subscription granted by the subscribe ACL`);
  }
  assert.equal(subscribeCalls, 2);
});
