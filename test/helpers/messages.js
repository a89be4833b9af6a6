"use strict";
// Waiting for and collecting the messages a client receives.

const { withTimeout } = require("./wait");

/**
 * Resolves with the next message on `topic` (any topic if omitted):
 * `{ topic, payload: Buffer, packet }`.
 */
function nextMessage(client, topic, what) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (t, payload, packet) => {
      if (topic === undefined || t === topic) resolve({ topic: t, payload, packet });
    };
    client.on("message", listener);
  });
  return withTimeout(p, what ?? `a message on ${topic ?? "any topic"}`).finally(() =>
    client.off("message", listener),
  );
}

/**
 * Collects every message `client` receives from now on into an array of
 * `{ topic, payload, packet }`; `.waitFor(predicate)` awaits one that matches.
 */
function collectMessages(client) {
  const messages = [];
  const waiters = [];
  client.on("message", (topic, payload, packet) => {
    const m = { topic, payload, packet };
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.predicate(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  messages.waitFor = (predicate, what = "a matching message") => {
    const seen = messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { predicate, resolve };
      waiters.push(waiter);
    });
    return withTimeout(p, what).finally(() => {
      const i = waiters.indexOf(waiter);
      if (i >= 0) waiters.splice(i, 1);
    });
  };
  messages.onTopic = (topic) => messages.filter((m) => m.topic === topic);
  return messages;
}

module.exports = { nextMessage, collectMessages };
