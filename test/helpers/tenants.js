"use strict";
// Servers with tenants for tests: two ways a client reaches its tenant
// (a `user@tenant` username on a gateway listener, or a listener bound to
// the tenant), and a flag that counts unexpected disconnects.

const { MqttServer, shutDown } = require("./server");
const { connectClient } = require("./client");
const { WAIT_MS } = require("./wait");

/** A loopback TCP listener on an OS-assigned port. */
function listener(name, extra = {}) {
  return { name, address: "127.0.0.1", port: 0, protocol: "tcp", ...extra };
}

/**
 * Starts a server (`new MqttServer(serverOptions)`) with `tenants` (`{ id: hooks }`) and registers its
 * shutdown. `mode` "username": one gateway listener, tenants by `user@id`;
 * "listener": one listener per tenant.
 * Returns `{ server, connect(t, tenant, opts) }`; `connect` reaches `tenant`
 * the `mode`'s way (a `username` in opts gets `@tenant` appended).
 */
async function startTenants(t, mode, tenants, config = {}, serverOptions = undefined) {
  const server = new MqttServer(serverOptions);
  t.after(() => shutDown(server));
  for (const [id, hooks] of Object.entries(tenants)) {
    await server.addTenant(id, { hooks });
  }
  const ids = Object.keys(tenants);
  if (mode === "username") {
    await server.start({ listeners: [listener("gw")], tenancy: {}, ...config });
  } else {
    await server.start({ listeners: ids.map((id) => listener(id, { tenant: id })), ...config });
  }
  const portOf = (tenant) =>
    mode === "username" ? server.listeners[0].port : server.listeners.find((l) => l.name === tenant).port;
  const connect = (tc, tenant, opts = {}) => {
    const username = mode === "username" ? `${opts.username ?? "user"}@${tenant}` : opts.username;
    return connectClient(tc, portOf(tenant), { ...opts, username });
  };
  return { server, connect, portOf };
}

/** Counts 'close' and 'offline' events of `clients` into the returned object. */
function watchDisconnects(clients) {
  const seen = { count: 0, events: [] };
  for (const c of clients) {
    for (const event of ["close", "offline"]) {
      c.on(event, () => {
        seen.count += 1;
        seen.events.push(`${c.options.clientId}:${event}`);
      });
    }
  }
  return seen;
}

module.exports = { listener, startTenants, watchDisconnects };

/**
 * Resolves once `check()` returns a truthy value (polled on timers, for
 * counters the broker updates on its own threads); fails after `WAIT_MS`.
 */
async function eventually(check, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

module.exports.eventually = eventually;
