"use strict";
// MQTT clients for tests: connect over any listener kind, await the CONNACK,
// and end the client when the test ends.

const mqtt = require("mqtt");
const { withTimeout, WAIT_MS } = require("./wait");

const SCHEMES = { tcp: "mqtt", tls: "mqtts", ws: "ws", wss: "wss" };

/** The URL of a loopback listener; ws and wss use the path /mqtt. */
function brokerUrl(port, protocol = "tcp") {
  const scheme = SCHEMES[protocol];
  if (!scheme) throw new Error(`unknown listener protocol ${protocol}`);
  const path = protocol === "ws" || protocol === "wss" ? "/mqtt" : "";
  return `${scheme}://127.0.0.1:${port}${path}`;
}

let seq = 0;
/** A client id unique within this process. */
function uniqueClientId(prefix = "c") {
  seq += 1;
  return `${prefix}-${process.pid}-${seq}`;
}

/** Creates a client without waiting; `protocol` picks the transport. */
function createClient(port, opts = {}) {
  const { protocol = "tcp", ...options } = opts;
  const client = mqtt.connect(brokerUrl(port, protocol), {
    clientId: uniqueClientId(),
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    keepalive: 30,
    rejectUnauthorized: false,
    ...options,
  });
  client.errors = [];
  // Without a listener an 'error' event would crash the test process.
  client.on("error", (err) => client.errors.push(err));
  return client;
}

/** Settles on the first CONNACK: resolves on success, rejects with the refusal. */
function connackOf(client) {
  return new Promise((resolve, reject) => {
    const onConnect = (connack) => { cleanup(); resolve(connack); };
    const onError = (err) => { cleanup(); reject(err); };
    const onClose = () => { cleanup(); reject(new Error("connection closed before a CONNACK")); };
    const cleanup = () => {
      client.off("connect", onConnect);
      client.off("error", onError);
      client.off("close", onClose);
    };
    client.on("connect", onConnect);
    client.on("error", onError);
    client.on("close", onClose);
  });
}

/**
 * Connects and resolves with the client once the broker accepted it.
 * @param {import("node:test").TestContext} t
 * @param {number} port
 * @param {object} [opts] - mqtt.js options plus `protocol` ("tcp" | "tls" | "ws" | "wss")
 * @returns {Promise<import("mqtt").MqttClient>}
 */
async function connectClient(t, port, opts = {}) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  await withTimeout(connackOf(client), `CONNACK for ${client.options.clientId}`);
  return client;
}

/**
 * Connects a client the broker must refuse; resolves with the refusal error
 * (its `code` is the CONNACK return/reason code).
 */
async function connectRefused(t, port, opts = {}) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  try {
    await withTimeout(connackOf(client), `refusal of ${client.options.clientId}`);
  } catch (err) {
    return err;
  }
  throw new Error(`client ${client.options.clientId} was accepted, expected a refusal`);
}

/** Resolves when `client`'s connection closes. */
function closed(client, what = "the client connection to close") {
  if (client.disconnected || (!client.connected && client.stream?.destroyed)) {
    return Promise.resolve();
  }
  return withTimeout(new Promise((resolve) => client.once("close", resolve)), what);
}

/** Resolves with the next packet of type `cmd` the client receives. */
function nextPacket(client, cmd, predicate = () => true) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (packet) => {
      if (packet.cmd === cmd && predicate(packet)) resolve(packet);
    };
    client.on("packetreceive", listener);
  });
  return withTimeout(p, `a ${cmd} packet`).finally(() => client.off("packetreceive", listener));
}

module.exports = {
  brokerUrl,
  uniqueClientId,
  createClient,
  connackOf,
  connectClient,
  connectRefused,
  closed,
  nextPacket,
};
