#!/usr/bin/env node
"use strict";
/**
 * rmqtt-js example: one broker, two customers ("tenants"), each with its own
 * policy, topic tree, retained messages and counters.
 *
 *   node examples/tenants-server.js            # TCP on 0.0.0.0:1883
 *   PORT=11883 node examples/tenants-server.js
 *
 * Environment:
 *   PORT         TCP port (default 1883; 0 lets the OS pick)
 *   HOST         bind address (default 0.0.0.0)
 *   ACME_POLICY  wasm policy of tenant "acme" (default guest-examples/dist/rust-acl.wasm;
 *                when the file is missing, acme gets the same rules as JS callbacks)
 *   STATS_MS     period of the per-tenant stats line (default 10000; 0 turns it off)
 *
 * Clients name their tenant in the username, `user@tenant`:
 *   - acme   (sandboxed wasm policy): password "demo"; subscribe/publish under
 *            `<username>/…` or `server/public/…`; `<x>/upper` is rewritten to
 *            `<x>/out` with the payload upper-cased.
 *   - globex (JS callbacks): password "globex"; everything under `globex/…`.
 * A client whose id starts with `acme-` goes to acme whatever its username
 * (the tenant resolver runs first). Anyone else is refused with a reason.
 *
 * SIGHUP reloads acme's policy from ACME_POLICY without disconnecting anyone
 * (a policy that fails to load leaves the old one in force). SIGINT / SIGTERM
 * shut the broker down.
 */

const fs = require("node:fs");
const path = require("node:path");

const { MqttServer, QoS } = require("..");

const PORT = process.env.PORT === undefined || process.env.PORT === "" ? 1883 : Number(process.env.PORT);
const HOST = process.env.HOST || "0.0.0.0";
const ACME_POLICY = process.env.ACME_POLICY || path.join(__dirname, "..", "guest-examples", "dist", "rust-acl.wasm");
const STATS_MS = Number(process.env.STATS_MS ?? 10_000);

const time = () => new Date().toISOString().slice(11, 23);
const log = (...args) => console.log(time(), ...args);

const server = new MqttServer({
  logger: ({ level, target, message }) => console.error(time(), `[${level}] ${target}: ${message}`),
});

/** acme's rules as JS callbacks, used when the wasm file is not built. */
const underOwnTree = (session, topic) =>
  topic.startsWith("server/public/") || topic.startsWith(`${session?.username ?? "\0"}/`);
const acmeJs = {
  onClientAuthenticate: (req) =>
    req.username !== null && req.password === "demo" ? { allow: true } : { allow: false, reason: "bad credentials" },
  onClientSubscribeAuthorize: (s, sub) => ({ allow: underOwnTree(s, sub.topicFilter), qos: Math.min(sub.qos, 1) }),
  onClientPublishAuthorize: (s, msg) => {
    if (!underOwnTree(s, msg.topic)) return { allow: false, reason: "not authorized" };
    if (!msg.topic.endsWith("/upper")) return { allow: true };
    return { allow: true, topic: msg.topic.replace(/\/upper$/, "/out"), payload: msg.payload.toString().toUpperCase() };
  },
};

/** globex: its own password, its own tree. */
const globexJs = {
  onClientAuthenticate: (req) =>
    req.password === "globex" ? { allow: true } : { allow: false, reason: "globex: bad credentials" },
  onClientSubscribeAuthorize: (_s, sub) => ({ allow: sub.topicFilter.startsWith("globex/") }),
  onClientPublishAuthorize: (_s, msg) => ({ allow: msg.topic.startsWith("globex/") }),
  onClientConnected: (s) => log(`globex: CONNECTED ${s.clientId} (${s.username})`),
};

let shuttingDown = false;
let statsTimer = null;

async function acmeHooks() {
  if (!fs.existsSync(ACME_POLICY)) {
    log(`acme: ${ACME_POLICY} not found (npm run build:guests builds it); using JS callbacks`);
    return acmeJs;
  }
  const { WasmPolicy } = require("..");
  const policy = await WasmPolicy.load(ACME_POLICY, { timeoutMs: 20, maxMemoryBytes: 16 << 20, maxInstances: 8 });
  log(`acme: wasm policy ${policy.name} (${policy.loadInfo.cacheSource}, ${policy.loadInfo.loadMs.toFixed(1)} ms)`);
  return {
    onClientAuthenticate: policy,
    onClientSubscribeAuthorize: policy,
    onClientPublishAuthorize: policy,
  };
}

async function reloadAcme() {
  const acme = server.tenant("acme");
  try {
    const policy = await acme.reload(ACME_POLICY, { timeoutMs: 20, maxMemoryBytes: 16 << 20, maxInstances: 8 });
    log(`acme: reloaded ${policy.name} (digest ${policy.loadInfo.digest.slice(0, 12)})`);
  } catch (err) {
    log(`acme: reload failed, the old policy stays: ${err.code} ${err.message}`);
  }
}

function logStats() {
  for (const s of server.tenantStats()) {
    const hooks = s.hooks
      .map((h) => `${h.hook}[${h.backend}] ${h.calls} calls ${h.denies} denies ${h.timeouts + h.traps} failures p99 ${h.p99Micros ?? "-"}µs`)
      .join("; ");
    log(`STATS ${s.id}: ${s.connections} connected, ${s.messagesIn} in, ${s.messagesOut} out${hooks ? `; ${hooks}` : ""}`);
  }
}

/** First signal: close the broker (clients are disconnected) and let the process end. Second: exit now. */
function shutdown(signal) {
  if (shuttingDown) process.exit(1);
  shuttingDown = true;
  log(`${signal}: shutting down`);
  clearInterval(statsTimer);
  server.close().then(
    () => log("broker closed, bye"),
    (err) => {
      console.error("error during shutdown:", err);
      process.exitCode = 1;
    },
  );
}

process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGHUP", () => {
  if (!shuttingDown) reloadAcme();
});

async function main() {
  await server.addTenant("acme", { hooks: await acmeHooks() });
  await server.addTenant("globex", { hooks: globexJs });
  server.setTenantResolver((req) => (req.clientId.startsWith("acme-") ? "acme" : null));
  await server.start({
    listeners: [{ name: "tcp", address: HOST, port: PORT, protocol: "tcp", allowAnonymous: false }],
    tenancy: { usernameSeparator: "@" },
  });
  if (shuttingDown) return;

  // The same topic in each tenant: each tenant's clients see only their own.
  for (const tenant of ["acme", "globex"]) {
    const topic = tenant === "acme" ? "server/public/status" : "globex/status";
    await server.publish(topic, JSON.stringify({ tenant, status: "online" }), { qos: QoS.AtLeastOnce, retain: true, tenant });
  }
  if (STATS_MS > 0) statsTimer = setInterval(logStats, STATS_MS);

  const [{ address, port }] = server.listeners;
  log(`MQTT broker with tenants acme, globex listening on mqtt://${address}:${port}`);
  log(`try:  mosquitto_sub -p ${port} -u alice@acme -P demo -t 'server/public/#' -t 'alice@acme/#' -v`);
  log(`      mosquitto_pub -p ${port} -u alice@acme -P demo -t alice@acme/x/upper -m hello`);
  log(`      mosquitto_sub -p ${port} -u bob@globex -P globex -t 'globex/#' -v`);
  log(`      kill -HUP ${process.pid}   # reload acme's policy`);
}

main().catch((err) => {
  if (shuttingDown) return;
  console.error(`could not start the broker: ${err.code ?? ""} ${err.message}`);
  process.exit(1);
});
