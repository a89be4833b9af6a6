// The package works from ES modules: `import ... from "rmqtt-js"` (the
// package's own name, resolved through its "exports" map).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import MqttServerDefault, { MqttServer, QoS, RmqttError } from "rmqtt-js";

const require = createRequire(import.meta.url);
const { connectClient } = require("./helpers/client.js");
const { nextMessage } = require("./helpers/messages.js");

test("the ESM entry exports MqttServer, QoS and RmqttError", () => {
  assert.equal(typeof MqttServer, "function");
  assert.equal(typeof RmqttError, "function");
  assert.equal(QoS.ExactlyOnce, 2);
  assert.equal(typeof MqttServer.createBasicConfig, "function");
  assert.equal(typeof MqttServer.createMultiProtocolConfig, "function");
  assert.equal(MqttServerDefault, MqttServer, "the default export is MqttServer");
});

test("a server imported as ESM starts, publishes and stops", async (t) => {
  const server = new MqttServer();
  t.after(async () => {
    if (server.running) await server.stop();
    await server.close();
  });
  await server.start(MqttServer.createBasicConfig(0, "127.0.0.1"));
  const sub = await connectClient(t, server.listeners[0].port);
  await sub.subscribeAsync("esm/t");
  const got = nextMessage(sub, "esm/t");
  await server.publish("esm/t", "from esm", { qos: QoS.AtLeastOnce });
  assert.equal((await got).payload.toString(), "from esm");
});

test("ESM errors carry the same codes", async () => {
  const server = new MqttServer();
  await assert.rejects(server.publish("a", "b"), (err) => err instanceof RmqttError && err.code === "ERR_NOT_RUNNING");
  await server.close();
});
