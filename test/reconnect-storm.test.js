"use strict";
// A reconnect or a takeover with the same client id always succeeds: rapid
// reconnect loops (after closing the socket, after a clean DISCONNECT, and
// while the previous connection is still up) never get a refusing CONNACK,
// and when several connect with one client id at the same moment), with
// MQTT 3.1.1 and MQTT 5, clean and persistent sessions.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { createClient, connackOf, closed } = require("./helpers/client");
const { withTimeout } = require("./helpers/wait");

/** Reconnects per scenario; connects at the same moment of one client id. */
const RECONNECTS = 1000;
const WIDTH = 10;

/**
 * How the previous connection ends before the next one with the same client
 * id connects: "close" destroys its socket, "disconnect" sends a DISCONNECT
 * first, "takeover" leaves it connected (the broker must kick it).
 */
function endPrevious(client, how) {
  if (how === "close") client.end(true);
  else if (how === "disconnect") client.end(false);
}

/**
 * Runs `rounds` connects with one client id, each right after the previous
 * one ended `how`; returns the refusals seen (`{ round, code, message }`).
 */
async function reconnectLoop(t, port, clientId, rounds, how, opts) {
  const refusals = [];
  let previous = null;
  for (let round = 0; round < rounds; round += 1) {
    if (previous) endPrevious(previous, how);
    const client = createClient(port, { clientId, ...opts });
    t.after(() => client.end(true));
    try {
      await withTimeout(connackOf(client), `CONNACK of ${clientId} round ${round}`);
    } catch (err) {
      refusals.push({ round, code: err.code, message: err.message });
      client.end(true);
      continue;
    }
    if (previous && how === "takeover") {
      // The broker closes the connection it took over.
      await closed(previous, `the broker to close the taken-over ${clientId}`);
    }
    previous = client;
  }
  if (previous) previous.end(true);
  return refusals;
}

for (const protocolVersion of [4, 5]) {
  for (const how of ["close", "disconnect", "takeover"]) {
    for (const clean of [true, false]) {
      const label = `MQTT ${protocolVersion === 5 ? "5" : "3.1.1"}, ${clean ? "clean" : "persistent"} session`;
      test(`${RECONNECTS} reconnects right after ${how === "takeover" ? "nothing (takeover)" : `a ${how}`} are all accepted (${label})`, async (t) => {
        const { port } = await startServer(t);
        const opts = { protocolVersion, clean };
        if (protocolVersion === 5 && !clean) opts.properties = { sessionExpiryInterval: 60 };
        // One loop, each connect right after the previous one: the tightest
        // race with the previous connection's clean-up (loops side by side
        // slow each other down and hit it less often).
        const refusals = await reconnectLoop(t, port, `storm-${how}-${clean}-${protocolVersion}`, RECONNECTS, how, opts);
        assert.deepEqual(
          refusals.slice(0, 5),
          [],
          `${refusals.length} of ${RECONNECTS} reconnects refused (first ones shown)`,
        );
      });
    }
  }
}

/**
 * `width` clients connect with the same client id at once, `rounds` times;
 * returns the refusals. Each may be taken over by a later one at once, so a
 * CONNACK that accepts is all that is asked of each.
 */
async function simultaneous(t, port, clientId, rounds, width, opts) {
  const refusals = [];
  for (let round = 0; round < rounds; round += 1) {
    const clients = Array.from({ length: width }, () => createClient(port, { clientId, ...opts }));
    for (const c of clients) t.after(() => c.end(true));
    const acks = await Promise.allSettled(
      clients.map((c) => withTimeout(connackOf(c), `CONNACK of ${clientId} round ${round}`)),
    );
    for (const a of acks) {
      if (a.status === "rejected") refusals.push({ round, code: a.reason.code, message: a.reason.message });
    }
    for (const c of clients) c.end(true);
  }
  return refusals;
}

for (const protocolVersion of [4, 5]) {
  test(`${RECONNECTS} connects of one client id at the same moment are all accepted (MQTT ${protocolVersion === 5 ? "5" : "3.1.1"})`, async (t) => {
    const { port } = await startServer(t);
    const width = WIDTH;
    const refusals = await simultaneous(t, port, `storm-together-${protocolVersion}`, RECONNECTS / width, width, {
      protocolVersion,
    });
    assert.deepEqual(
      refusals.slice(0, 5),
      [],
      `${refusals.length} of ${RECONNECTS} connects refused (first ones shown)`,
    );
  });
}
