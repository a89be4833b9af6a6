"use strict";
// Starting a broker for a test: loopback only, OS-assigned port, closed when
// the test ends.

const { MqttServer } = require("../..");

/** A loopback TCP listener on an OS-assigned port. */
function tcpListener(extra = {}) {
  return { name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp", ...extra };
}

/** Stops (if running) and closes `server`, ignoring nothing. */
async function shutDown(server) {
  if (server.running) await server.stop();
  await server.close();
}

/**
 * Starts a broker and registers its shutdown with `t.after`.
 * @param {import("node:test").TestContext} t
 * @param {object} [opts]
 * @param {object} [opts.hooks] - passed to setHooks before start
 * @param {Function} [opts.logger] - the MqttServer logger option
 * @param {object[]} [opts.listeners] - default: one loopback TCP listener, port 0
 * @param {number} [opts.hookTimeoutMs]
 * @returns {Promise<{server: MqttServer, port: number}>} port: the first listener's real port
 */
async function startServer(t, opts = {}) {
  const { hooks, logger, listeners = [tcpListener()], hookTimeoutMs } = opts;
  const server = new MqttServer(logger ? { logger } : undefined);
  t.after(() => shutDown(server));
  if (hooks) server.setHooks(hooks);
  const config = { listeners };
  if (hookTimeoutMs !== undefined) config.hookTimeoutMs = hookTimeoutMs;
  await server.start(config);
  return { server, port: server.listeners[0].port };
}

module.exports = { MqttServer, tcpListener, startServer, shutDown };
