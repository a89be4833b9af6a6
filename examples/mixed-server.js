#!/usr/bin/env node
"use strict";
/**
 * rmqtt-js example: one broker, hooks chosen per hook — security decisions
 * as sandboxed WebAssembly policies (answered off the Node event loop), live
 * application logic as JS callbacks.
 *
 *   npm start                      # TCP on 0.0.0.0:1883
 *   PORT=11883 npm start           # another port
 *
 * Environment:
 *   PORT          TCP port (default 1883; 0 lets the OS pick)
 *   HOST          bind address (default 0.0.0.0)
 *   HEARTBEAT_MS  heartbeat period in milliseconds (default 10000)
 *
 * Hooks:
 *   onClientAuthenticate        wasm  guest-examples/dist/js-auth.quickjs.wasm
 *                                     (a JS policy compiled to a component: any username,
 *                                     password "demo"; "admin" is a superuser)
 *   onClientSubscribeAuthorize  wasm  guest-examples/dist/rust-acl.wasm
 *   onClientPublishAuthorize    wasm  rust-acl.wasm: `<username>/…` and `server/public/…` only,
 *                                     QoS capped at 1; a topic ending in `/upper` is re-published
 *                                     upper-cased on `…/out`
 *   onMessagePublish, onClientConnected, onClientDisconnected
 *                               JS    logging (the app's live state)
 * Plus a retained status and a heartbeat on `server/public/…`, per-hook stats
 * on shutdown (SIGINT / SIGTERM).
 */

const path = require("node:path");

const { MqttServer, QoS, WasmPolicy } = require("..");

const PORT = process.env.PORT === undefined || process.env.PORT === "" ? 1883 : Number(process.env.PORT);
const HOST = process.env.HOST || "0.0.0.0";
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS || 10_000);
const GUESTS = path.join(__dirname, "..", "guest-examples", "dist");

const time = () => new Date().toISOString().slice(11, 23);
const log = (...args) => console.log(time(), ...args);
const preview = (buf) => {
  const s = buf.toString("utf8");
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

// Every record from the broker: WARN/ERROR, and INFO from the policies
// (js-auth logs each decision through `host.log`).
const server = new MqttServer({
  logger: ({ level, target, message }) => console.error(time(), `[${level}] ${target}: ${message}`),
});

let heartbeat = null;
let shuttingDown = false;
const policies = [];

function printStats() {
  for (const r of server.stats().hooks) {
    log(
      `STATS ${r.hook} (${r.backend}): calls=${r.calls} allows=${r.allows} denies=${r.denies}` +
        ` timeouts=${r.timeouts} traps=${r.traps} errors=${r.errors} p50=${r.p50Micros?.toFixed(1)}µs p99=${r.p99Micros?.toFixed(1)}µs`,
    );
  }
}

async function shutdown(signal) {
  if (shuttingDown) {
    console.error(`${signal} again: exiting now`);
    process.exit(1);
  }
  shuttingDown = true;
  log(`${signal} received, shutting down...`);
  clearInterval(heartbeat);
  try {
    printStats();
    await server.stop();
    await server.close();
    for (const p of policies) p.close();
    log("broker stopped, bye");
    process.exitCode = 0;
  } catch (err) {
    console.error("error during shutdown:", err);
    process.exitCode = 1;
  }
  setTimeout(() => process.exit(), 5000).unref();
}

process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

async function main() {
  // Compiled on a background thread; later runs load from the on-disk cache.
  const auth = await WasmPolicy.load(path.join(GUESTS, "js-auth.quickjs.wasm"), { name: "auth" });
  const acl = await WasmPolicy.load(path.join(GUESTS, "rust-acl.wasm"), { name: "acl", timeoutMs: 20 });
  policies.push(auth, acl);
  for (const p of policies) {
    log(`policy ${p.name}: serves ${p.hooks.slice(0, 3).join(", ")}${p.hooks.length > 3 ? ", …" : ""}` +
      ` (${p.loadInfo.cacheSource}, ${p.loadInfo.loadMs.toFixed(1)} ms)`);
  }
  if (shuttingDown) return;

  server.setHooks({
    onClientAuthenticate: auth,
    onClientSubscribeAuthorize: acl,
    onClientPublishAuthorize: acl,
    onMessagePublish: (_session, from, msg) => {
      const who = from.type === "client" ? `${from.clientId}${from.username ? ` (${from.username})` : ""}` : from.type;
      log(`PUB  ${msg.topic} qos=${msg.qos}${msg.retain ? " retained" : ""} from=${who}: ${preview(msg.payload)}`);
    },
    onClientConnected: (session) => log(`CONNECTED    ${session.clientId} user=${session.username}`),
    onClientDisconnected: (session, info) =>
      log(`DISCONNECTED ${session.clientId}${info?.reason ? ` (${info.reason})` : ""}`),
  });

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
    server
      .publish("server/public/heartbeat", JSON.stringify({ beat, at: new Date().toISOString() }))
      .catch((err) => {
        if (!shuttingDown) console.error("heartbeat failed:", err.code ?? err);
      });
  }, HEARTBEAT_MS);

  const [{ address, port }] = server.listeners;
  log(`MQTT broker (wasm auth + ACL, JS logging) listening on mqtt://${address}:${port}`);
  log(`try:  mosquitto_sub -h localhost -p ${port} -u alice -P demo -t 'alice/#' -t 'server/public/#' -v`);
  log(`      mosquitto_pub -h localhost -p ${port} -u alice -P demo -t alice/news/upper -m hello`);
}

main().catch((err) => {
  if (shuttingDown) return;
  console.error(`could not start the broker: ${err.code ?? ""} ${err.message}`);
  process.exit(1);
});
