"use strict";
// Brokers with a `persistence.dir` for tests: temporary store directories,
// servers cleaned up before their directories are removed, restarts (stop()
// then start(), or close() then a new MqttServer on the same directory), the
// store file paths, and mqtt.js options of persistent sessions.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { MqttServer, tcpListener, shutDown } = require("./server");
const { connectClient, createClient, connackOf } = require("./client");
const { collectMessages } = require("./messages");
const { withTimeout } = require("./wait");

/** Per test: the servers to shut down, then the cleanups to run after them and the directories to remove. */
const registries = new WeakMap();

function registry(t) {
  let r = registries.get(t);
  if (!r) {
    r = { servers: new Set(), dirs: [], afterServers: [] };
    registries.set(t, r);
    // One hook, so servers (and their store writers) end before their
    // directories go, whatever order the test created them in.
    t.after(async () => {
      for (const s of r.servers) await shutDown(s);
      for (const f of r.afterServers) await f();
      for (const d of r.dirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  return r;
}

/** Runs `fn` when the test ends, once its servers are shut down (e.g. a Redis they write to). */
function afterServers(t, fn) {
  registry(t).afterServers.push(fn);
}

/** A new empty directory under os.tmpdir(), removed when the test ends. */
function tempDir(t, prefix = "rmqtt-js-store-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  registry(t).dirs.push(dir);
  return dir;
}

/** A new MqttServer shut down when the test ends (before tempDir removals). */
function newServer(t, options) {
  const server = new MqttServer(options);
  registry(t).servers.add(server);
  return server;
}

/** `<dir>/default/store.log`, or `<dir>/tenants/<tenant>/store.log`. */
function storeLog(dir, tenant) {
  return tenant === undefined
    ? path.join(dir, "default", "store.log")
    : path.join(dir, "tenants", tenant, "store.log");
}

/**
 * A broker on a store directory (or the `persistence` config given, e.g. a
 * Redis one) that can be restarted.
 * `listeners` default to one loopback TCP listener on port 0; `tenants` are
 * ids declared with addTenant (with no hooks) on every server it creates.
 */
class PersistentBroker {
  constructor(t, { dir, persistence, listeners = [tcpListener()], tenants = [], serverOptions } = {}) {
    this.t = t;
    if (!persistence) dir ??= tempDir(t);
    this.dir = dir;
    this.tenants = tenants;
    this.serverOptions = serverOptions;
    this.config = { listeners, persistence: persistence ?? { dir } };
    this.server = null;
  }

  async #create() {
    this.server = newServer(this.t, this.serverOptions);
    for (const id of this.tenants) await this.server.addTenant(id, {});
  }

  /** Starts (creating the server the first time); resolves with `this`. */
  async start() {
    if (!this.server) await this.#create();
    await this.server.start(this.config);
    return this;
  }

  /** The port of listener `name` (default: the first listener). */
  port(name) {
    const ls = this.server.listeners;
    const l = name === undefined ? ls[0] : ls.find((x) => x.name === name);
    if (!l) throw new Error(`no running listener ${name ?? "(first)"}`);
    return l.port;
  }

  /** Stops the server (its clients see the connection end). */
  async stop() {
    await this.server.stop();
  }

  /**
   * Restarts on the same directory. `mode` "stop": stop() then start() of the
   * same object; "close": close() then a new MqttServer. `between` runs while
   * nothing is running.
   */
  async restart(mode = "stop", between = async () => {}) {
    if (mode === "stop") {
      await this.server.stop();
    } else if (mode === "close") {
      await this.server.close();
      this.server = null;
    } else {
      throw new Error(`unknown restart mode ${mode}`);
    }
    await between();
    return this.start();
  }
}

/** Starts a PersistentBroker (see its constructor for `opts`). */
function startBroker(t, opts) {
  return new PersistentBroker(t, opts).start();
}

/**
 * mqtt.js options of a persistent session: MQTT 3.1.1 clean=false, or MQTT 5
 * clean=false with a session expiry interval (seconds).
 */
function persistentSession(version, clientId, { expiry = 300, ...extra } = {}) {
  const opts = { protocolVersion: version, clientId, clean: false, ...extra };
  if (version === 5) opts.properties = { sessionExpiryInterval: expiry, ...(extra.properties ?? {}) };
  return opts;
}

/**
 * Publishes `marker` (QoS 1) on `topic` from a new client and resolves once
 * `messages` (a collectMessages array) holds it: everything the broker routed
 * to that subscriber before the marker has arrived by then.
 */
async function publishMarker(t, port, messages, topic, marker = `marker-${Date.now()}`, version = 4) {
  const pub = await connectClient(t, port, { protocolVersion: version });
  await pub.publishAsync(topic, marker, { qos: 1 });
  await messages.waitFor((m) => m.topic === topic && m.payload.toString() === marker, `the marker on ${topic}`);
  await pub.endAsync();
  return marker;
}

/** Resolves when a client's PUBLISH packets (`packetreceive`) satisfy `check(list)`. */
function countPublishPackets(client) {
  const list = [];
  client.on("packetreceive", (p) => {
    if (p.cmd === "publish") list.push({ topic: p.topic, payload: p.payload.toString(), qos: p.qos, dup: p.dup });
  });
  list.until = (check, what) =>
    withTimeout(
      new Promise((resolve) => {
        if (check(list)) return resolve(list);
        const on = () => {
          if (check(list)) {
            client.off("packetreceive", on);
            resolve(list);
          }
        };
        client.on("packetreceive", on);
      }),
      what,
    );
  return list;
}

/**
 * Connects with `opts` (mqtt.js options) collecting from the first packet on,
 * so messages sent right behind the CONNACK are not missed. Resolves with
 * `{ client, connack, messages, packets }` (see collectMessages and
 * countPublishPackets).
 */
async function connectCollecting(t, port, opts) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  const messages = collectMessages(client);
  const packets = countPublishPackets(client);
  const connack = await withTimeout(connackOf(client), `CONNACK for ${client.options.clientId}`);
  return { client, connack, messages, packets };
}

/** Subscribes a new client to `topic`; resolves with the retained message it gets. */
async function retainedOn(t, port, topic) {
  const { client, messages } = await connectCollecting(t, port, {});
  await client.subscribeAsync(topic, { qos: 1 });
  return messages.waitFor((m) => m.topic === topic, `the retained message on ${topic}`);
}

/** A PUBACK of `packetId` (the same bytes for MQTT 3.1.1 and 5). */
function puback(packetId) {
  return Buffer.from([0x40, 2, (packetId >> 8) & 0xff, packetId & 0xff]);
}

/** A PUBREC of `packetId` (MQTT 3.1.1 and 5). */
function pubrec(packetId) {
  return Buffer.from([0x50, 2, (packetId >> 8) & 0xff, packetId & 0xff]);
}

module.exports = {
  afterServers,
  connectCollecting,
  retainedOn,
  puback,
  pubrec,
  tempDir,
  newServer,
  storeLog,
  PersistentBroker,
  startBroker,
  persistentSession,
  publishMarker,
  countPublishPackets,
};
