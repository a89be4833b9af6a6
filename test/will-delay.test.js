"use strict";
// Wills when a new connection comes for a client's session (MQTT 5 3.1.2.5,
// 3.1.3.2.2, 3.1.4): the will of the connection it replaces, or one pending
// after a drop, is published unless the new connection resumes the session
// (Clean Start 0) before a will delay has passed. With Clean Start 1 the old
// session ends, so a delayed will goes out at once instead of being lost.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, uniqueClientId } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");

const WILL_DELAY_S = 3600; // far beyond the test: only the takeover may send it

/** Connects a watcher on `topic` and a client with a will on it (delayed by `delayS`, if set). */
async function willClient(t, port, delayS) {
  const topic = `${uniqueClientId("wd")}/status`;
  const watcher = await connectClient(t, port, { protocolVersion: 5 });
  const messages = collectMessages(watcher);
  await watcher.subscribeAsync([topic, `${topic}/marker`], { qos: 1 });
  const clientId = uniqueClientId("willer");
  const willer = await connectClient(t, port, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 7200 },
    will: {
      topic,
      payload: Buffer.from("gone"),
      qos: 1,
      ...(delayS === undefined ? {} : { properties: { willDelayInterval: delayS } }),
    },
  });
  return { topic, clientId, watcher, messages, willer };
}

/** As `willClient`, with the client dropped (no DISCONNECT): its delayed will is pending. */
async function pendingWill(t, port) {
  const w = await willClient(t, port, WILL_DELAY_S);
  w.willer.stream.destroy();
  return w;
}

/** A Clean Start 0 connection for `clientId`'s session (MQTT 5). */
function resumeSession(t, port, clientId) {
  return connectClient(t, port, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 7200 } });
}

/** Publishes a marker through the watcher and waits for it: what the broker did before is in. */
async function roundTrip(watcher, messages, topic) {
  const payload = `marker-${Math.random()}`;
  await watcher.publishAsync(`${topic}/marker`, payload, { qos: 1 });
  await messages.waitFor((m) => m.payload.toString() === payload, "the marker");
}

const willsOn = (messages, topic) => messages.filter((m) => m.topic === topic).map((m) => m.payload.toString());

test("a Clean Start connection ends the session of a client whose delayed will is pending: the will goes out at once (MQTT 5)", async (t) => {
  const { port } = await startServer(t);
  const { topic, clientId, messages } = await pendingWill(t, port);
  await connectClient(t, port, { protocolVersion: 5, clientId, clean: true });
  const will = await messages.waitFor((m) => m.topic === topic, "the will when the session ends");
  assert.equal(will.payload.toString(), "gone");
});

test("a Clean Start 0 connection resumes the session of a client whose delayed will is pending: no will (MQTT 5)", async (t) => {
  const { port } = await startServer(t);
  const { topic, clientId, watcher, messages } = await pendingWill(t, port);
  const back = await resumeSession(t, port, clientId);
  await roundTrip(back, messages, topic);
  await roundTrip(watcher, messages, topic);
  assert.deepEqual(willsOn(messages, topic), []);
});

test("a Clean Start connection that takes over a connected client publishes its delayed will at once (MQTT 5)", async (t) => {
  const { port } = await startServer(t);
  const { topic, clientId, messages } = await willClient(t, port, WILL_DELAY_S);
  await connectClient(t, port, { protocolVersion: 5, clientId, clean: true });
  const will = await messages.waitFor((m) => m.topic === topic, "the will of the taken-over connection");
  assert.equal(will.payload.toString(), "gone");
});

test("a Clean Start 0 connection that takes over a connected client withholds its delayed will (MQTT 5)", async (t) => {
  const { port } = await startServer(t);
  const { topic, clientId, watcher, messages } = await willClient(t, port, WILL_DELAY_S);
  const back = await resumeSession(t, port, clientId);
  await roundTrip(back, messages, topic);
  await roundTrip(watcher, messages, topic);
  assert.deepEqual(willsOn(messages, topic), []);
});

test("a takeover publishes the will (no delay) of the connection it closes, also when it resumes the session (MQTT 5)", async (t) => {
  const { port } = await startServer(t);
  const { topic, clientId, messages } = await willClient(t, port, undefined);
  await resumeSession(t, port, clientId);
  const will = await messages.waitFor((m) => m.topic === topic, "the will of the taken-over connection");
  assert.equal(will.payload.toString(), "gone");
});
