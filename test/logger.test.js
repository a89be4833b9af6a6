"use strict";
// The logger option receives { level, target, message } records for the
// broker's WARN and ERROR logs.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { captureLogs, isWarn } = require("./helpers/logs");

test("the logger receives a WARN record with level, target and message", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientAuthenticate: () => { throw new Error("for the logger"); } },
  });
  await connectRefused(t, port, { username: "u", password: "p" });
  const record = await logs.waitForWarn(/onClientAuthenticate/);
  assert.equal(typeof record.level, "string");
  assert.ok(isWarn(record));
  assert.equal(typeof record.target, "string");
  assert.ok(record.target.length > 0);
  assert.equal(typeof record.message, "string");
});

test("the logger receives no INFO or DEBUG chatter from rmqtt during normal traffic", async (t) => {
  const logs = captureLogs();
  const { port } = await startServer(t, { logger: logs.logger });
  const c = await connectClient(t, port);
  await c.subscribeAsync("quiet/t");
  await c.publishAsync("quiet/t", "x", { qos: 1 });
  await c.endAsync();
  for (const r of logs.records) {
    const level = String(r.level).toUpperCase();
    const fromRmqttItself = !String(r.target).startsWith("rmqtt_js");
    if (fromRmqttItself) assert.ok(level === "WARN" || level === "ERROR", `unexpected ${level} from ${r.target}: ${r.message}`);
  }
});

test("a logger that throws does not break the broker", async (t) => {
  const { port } = await startServer(t, {
    logger: () => { throw new Error("logger exploded"); },
    hooks: {
      onClientAuthenticate: (a) => {
        if (a.username === "bad") throw new Error("provoke a WARN");
        return { allow: true };
      },
    },
  });
  await connectRefused(t, port, { username: "bad", password: "x" });
  const ok = await connectClient(t, port, { username: "good", password: "x" });
  await ok.subscribeAsync("still/alive");
});
