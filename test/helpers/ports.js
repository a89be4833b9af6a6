"use strict";
// Loopback ports: a free one, one held busy, and whether one is free.

const net = require("node:net");

/** Listens on 127.0.0.1:`port` (0 = any); resolves with the server. */
function listen(port = 0) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

function closeServer(srv) {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** A loopback port that was free a moment ago. */
async function freePort() {
  const srv = await listen(0);
  const { port } = srv.address();
  await closeServer(srv);
  return port;
}

/** Holds a loopback port busy until the test ends; resolves with the port. */
async function busyPort(t) {
  const srv = await listen(0);
  t.after(() => closeServer(srv));
  return srv.address().port;
}

/** True if a listener can bind 127.0.0.1:`port` right now. */
async function isPortFree(port) {
  try {
    await closeServer(await listen(port));
    return true;
  } catch {
    return false;
  }
}

module.exports = { freePort, busyPort, isPortFree };
