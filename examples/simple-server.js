#!/usr/bin/env node
"use strict";
/**
 * rmqtt-js example app: an MQTT broker embedded in a Node program.
 *
 *   npm start                      # TCP on 0.0.0.0:1883
 *   PORT=11883 npm start           # another port
 *
 * Environment:
 *   PORT          TCP port (default 1883; 0 lets the OS pick)
 *   HOST          bind address (default 0.0.0.0)
 *   HEARTBEAT_MS  heartbeat period in milliseconds (default 10000)
 *
 * What it shows:
 *   - authentication in JavaScript: any username, password "demo"
 *   - a per-user subscribe ACL: `<username>/…` and `server/public/…` only,
 *     granted QoS capped at 1
 *   - real-time logs of publishes, subscriptions and unsubscriptions
 *   - server-side publishing: a retained status and a periodic heartbeat on
 *     `server/public/heartbeat`
 *   - graceful shutdown on SIGINT / SIGTERM
 */

const { MqttServer, QoS } = require("..");

const PORT = process.env.PORT === undefined || process.env.PORT === "" ? 1883 : Number(process.env.PORT);
const HOST = process.env.HOST || "0.0.0.0";
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS || 10_000);
const DEMO_PASSWORD = "demo";

const time = () => new Date().toISOString().slice(11, 23);
const log = (...args) => console.log(time(), ...args);
const preview = (buf) => {
  const s = buf.toString("utf8");
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

// WARN and ERROR records from the broker (e.g. a hook that threw or timed out).
const server = new MqttServer({
  logger: ({ level, target, message }) => console.error(time(), `[${level}] ${target}: ${message}`),
});

server.setHooks({
  // Demo authentication: any username, password "demo". Replace with a real
  // credential check (database, JWT validation, ...) in your application.
  onClientAuthenticate: ({ clientId, username, password, remoteAddr }) => {
    const allow = Boolean(username) && password === DEMO_PASSWORD;
    log(`AUTH ${allow ? "allow" : "deny "} client=${clientId} user=${username ?? "(none)"} from=${remoteAddr}`);
    return allow ? { allow: true, superuser: false } : { allow: false, reason: "bad credentials" };
  },

  // Subscribe ACL: a user may subscribe to its own tree and to server/public/;
  // the granted QoS is capped at 1.
  onClientSubscribeAuthorize: (session, sub) => {
    const user = session?.username ?? "";
    const allowed =
      (user !== "" && sub.topicFilter.startsWith(`${user}/`)) || sub.topicFilter.startsWith("server/public/");
    if (!allowed) {
      log(`SUB  deny  user=${user} filter=${sub.topicFilter}`);
      return { allow: false, reason: "not authorized for this topic filter" };
    }
    const qos = Math.min(sub.qos, QoS.AtLeastOnce);
    log(`SUB  allow user=${user} filter=${sub.topicFilter} qos=${sub.qos}->${qos}`);
    return { allow: true, qos };
  },

  onMessagePublish: (_session, from, msg) => {
    const who = from.type === "client" ? `${from.clientId}${from.username ? ` (${from.username})` : ""}` : from.type;
    log(`PUB  ${msg.topic} qos=${msg.qos}${msg.retain ? " retained" : ""} from=${who}: ${preview(msg.payload)}`);
  },
  onClientSubscribe: (session, sub) => log(`SUBSCRIBED   ${session.clientId} ${sub.topicFilter} qos=${sub.qos}`),
  onClientUnsubscribe: (session, unsub) => log(`UNSUBSCRIBED ${session.clientId} ${unsub.topicFilter}`),
  onClientConnected: (session) => log(`CONNECTED    ${session.clientId} user=${session.username} from=${session.remoteAddr}`),
  onClientDisconnected: (session, info) =>
    log(`DISCONNECTED ${session.clientId}${info?.reason ? ` (${info.reason})` : ""}`),
  onMessageDropped: (_session, _from, msg, info) => log(`DROPPED ${msg.topic}: ${info?.reason ?? "no reason given"}`),
});

let heartbeat = null;
let shuttingDown = false;

async function shutdown(signal) {
  if (shuttingDown) {
    console.error(`${signal} again: exiting now`);
    process.exit(1);
  }
  shuttingDown = true;
  log(`${signal} received, shutting down...`);
  clearInterval(heartbeat);
  try {
    await server.stop();
    await server.close();
    log("broker stopped, bye");
    process.exitCode = 0;
  } catch (err) {
    console.error("error during shutdown:", err);
    process.exitCode = 1;
  }
  // Everything is closed, so the process ends by itself; this only guards
  // against a handle someone else left open.
  setTimeout(() => process.exit(), 5000).unref();
}

process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

async function main() {
  await server.start({
    listeners: [{ name: "tcp", address: HOST, port: PORT, protocol: "tcp", allowAnonymous: false }],
  });
  if (shuttingDown) return;

  await server.publish("server/public/status", JSON.stringify({ status: "online", since: Date.now() }), {
    qos: QoS.AtLeastOnce,
    retain: true,
  });
  if (shuttingDown) return;

  let beat = 0;
  heartbeat = setInterval(() => {
    beat += 1;
    const payload = JSON.stringify({ beat, at: new Date().toISOString() });
    server.publish("server/public/heartbeat", payload, { qos: QoS.AtMostOnce }).catch((err) => {
      if (!shuttingDown) console.error("heartbeat failed:", err.code ?? err);
    });
  }, HEARTBEAT_MS);

  const [{ address, port }] = server.listeners;
  log(`MQTT broker listening on mqtt://${address}:${port}`);
  log(`try:  mosquitto_sub -h localhost -p ${port} -u alice -P demo -t 'server/public/#' -v`);
  log(`      mosquitto_pub -h localhost -p ${port} -u alice -P demo -t alice/hello -m hi`);
}

main().catch((err) => {
  if (shuttingDown) return; // a signal arrived while starting; shutdown() handles the exit
  console.error(`could not start the broker: ${err.code ?? ""} ${err.message}`);
  process.exit(1);
});
