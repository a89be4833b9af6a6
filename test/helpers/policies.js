"use strict";
// Wasm guest policies (guest-examples/dist/, built by `npm install`) and
// their JS twins: the same decisions written as hook callbacks, so tests can
// compare the two backends case by case.

const path = require("node:path");

const { WasmPolicy } = require("../..");
const { ROOT } = require("./child");

const DIST = path.join(ROOT, "guest-examples", "dist");

/** The path of a built guest, e.g. `guest("rust-acl.wasm")`. */
function guest(file) {
  return path.join(DIST, file);
}

/** Loads a guest; the policy is closed when the test ends. */
async function loadGuest(t, file, options = {}) {
  const policy = await WasmPolicy.load(guest(file), options);
  t.after(() => policy.close());
  return policy;
}

const PUBLIC_PREFIX = "server/public/";

/** rust-acl's `permitted`: under `<username>/` or `server/public/`. */
function permitted(username, topic) {
  if (topic.startsWith(PUBLIC_PREFIX)) return true;
  return typeof username === "string" && username.length > 0 && topic.startsWith(`${username}/`);
}

/** The JS twin of guest-examples/rust-acl (see guest-examples/README.md). */
const jsAcl = {
  onClientAuthenticate(req) {
    if (req.username !== null && req.password === "demo") {
      return { allow: true, superuser: req.username === "admin" };
    }
    return { allow: false, reason: "bad credentials" };
  },
  onClientSubscribeAuthorize(session, sub) {
    if (permitted(session?.username, sub.topicFilter)) {
      return { allow: true, qos: Math.min(sub.qos, 1) };
    }
    return { allow: false, reason: "not authorized" };
  },
  onClientPublishAuthorize(session, msg) {
    if (msg.topic.startsWith("$SYS")) return { allow: false, reason: "system topic" };
    if (!permitted(session?.username, msg.topic)) return { allow: false, reason: "not authorized" };
    if (msg.topic.endsWith("/upper")) {
      return {
        allow: true,
        topic: `${msg.topic.slice(0, -"/upper".length)}/out`,
        payload: Buffer.from(msg.payload.toString("latin1").replace(/[a-z]/g, (c) => c.toUpperCase()), "latin1"),
        qos: Math.min(msg.qos, 1),
      };
    }
    return { allow: true };
  },
};

/**
 * The JS twin of guest-examples/hostile/bad-mutation, plus a QoS of 7 (which
 * a wasm policy cannot express): every rewrite but the payload is invalid.
 */
const jsBadMutation = {
  onClientAuthenticate: () => ({ allow: true }),
  onClientSubscribeAuthorize: () => ({ allow: true }),
  onClientPublishAuthorize(_session, msg) {
    let topic = "a/+/b";
    if (msg.topic.endsWith("/empty")) topic = "";
    else if (msg.topic.endsWith("/hash")) topic = "a/#";
    return { allow: true, topic, payload: "mutated", qos: 7 };
  },
};

module.exports = { DIST, guest, loadGuest, jsAcl, jsBadMutation };
