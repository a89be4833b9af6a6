"use strict";
// MQTT 5 properties in the JS hooks: the publish ACL's `packet.properties`
// (user properties in order with repeats, content type, response topic,
// correlation data, payload format indicator, message expiry), a decision's
// `userProperties` rewrite (pairs or the mqtt client's object form; `[]`
// removes them; over the caps or malformed: ignored with a WARN) as MQTT 5
// and MQTT 3.1.1 subscribers receive it, the CONNECT's user properties in
// `onClientAuthenticate` and the tenant resolver, properties in the message
// notifications, and `protocolVersion` beside `protoVer` in ConnectInfo.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { startServer, MqttServer, shutDown } = require("./helpers/server");
const { connectClient } = require("./helpers/client");
const { collectMessages } = require("./helpers/messages");
const { captureLogs } = require("./helpers/logs");
const { Recorder } = require("./helpers/recorder");
const { listener } = require("./helpers/tenants");

/** Every property an MQTT 5 PUBLISH can carry to a hook, as mqtt.js sends them. */
const SENT = {
  userProperties: { region: ["eu", "us"], tier: "gold" },
  contentType: "application/json",
  responseTopic: "reply/42",
  correlationData: Buffer.from([0x00, 0xff, 0x10]),
  payloadFormatIndicator: true,
  messageExpiryInterval: 3600,
};

/** What a hook sees of `SENT`. */
const SEEN = {
  userProperties: [
    ["region", "eu"],
    ["region", "us"],
    ["tier", "gold"],
  ],
  contentType: "application/json",
  responseTopic: "reply/42",
  correlationData: Buffer.from([0x00, 0xff, 0x10]),
  payloadFormatIndicator: 1,
  messageExpiryInterval: 3600,
};

/** A subscriber on `filter` (MQTT `protocolVersion`), collecting what it receives. */
async function subscriber(t, port, filter, protocolVersion = 5) {
  const sub = await connectClient(t, port, { protocolVersion });
  const msgs = collectMessages(sub);
  await sub.subscribeAsync(filter, { qos: 1 });
  return msgs;
}

/** The user properties of a received packet, as mqtt.js shows them (undefined: none). */
const userPropsOf = (m) => m.packet.properties?.userProperties;

test("the publish ACL sees every MQTT 5 property of a publish; an MQTT 3.1.1 publish has none", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: rec.hook("acl", { allow: true }) },
  });
  const v5 = await connectClient(t, port, { protocolVersion: 5 });
  await v5.publishAsync("props/all", "{}", { qos: 1, properties: SENT });
  const [, packet] = await rec.waitFor("acl", (_s, p) => p.topic === "props/all");
  assert.deepEqual(packet.properties, SEEN);
  assert.ok(Buffer.isBuffer(packet.properties.correlationData), "correlationData is a Buffer");

  const bare = await connectClient(t, port, { protocolVersion: 5 });
  await bare.publishAsync("props/bare", "x", { qos: 1 });
  const [, barePacket] = await rec.waitFor("acl", (_s, p) => p.topic === "props/bare");
  assert.deepEqual(barePacket.properties, { userProperties: [] }, "an MQTT 5 publish without properties");

  const v4 = await connectClient(t, port, { protocolVersion: 4 });
  await v4.publishAsync("props/v4", "x", { qos: 1 });
  const [, v4Packet] = await rec.waitFor("acl", (_s, p) => p.topic === "props/v4");
  assert.deepEqual(v4Packet.properties, { userProperties: [] });
});

test("a decision's userProperties replace the message's; [] removes them; the other properties stay", async (t) => {
  const answers = {
    "rw/pairs": { allow: true, userProperties: [["k", "1"], ["k", "2"], ["j", "3"]] },
    "rw/object": { allow: true, userProperties: { a: "1", b: ["2", "3"] } },
    "rw/none": { allow: true, userProperties: [] },
    "rw/keep": { allow: true },
  };
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: (_s, p) => answers[p.topic] },
  });
  const msgs = await subscriber(t, port, "rw/#");
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  for (const topic of Object.keys(answers)) {
    await pub.publishAsync(topic, "x", { qos: 1, properties: SENT });
  }
  const on = (topic) => msgs.waitFor((m) => m.topic === topic, `the message on ${topic}`);

  const pairs = await on("rw/pairs");
  assert.deepEqual({ ...userPropsOf(pairs) }, { k: ["1", "2"], j: "3" });
  assert.equal(pairs.packet.properties.contentType, "application/json");
  assert.equal(pairs.packet.properties.responseTopic, "reply/42");
  assert.deepEqual(pairs.packet.properties.correlationData, SENT.correlationData);
  assert.equal(pairs.packet.properties.payloadFormatIndicator, true);

  const object = await on("rw/object");
  assert.deepEqual({ ...userPropsOf(object) }, { a: "1", b: ["2", "3"] });

  const none = await on("rw/none");
  assert.equal(userPropsOf(none), undefined, "no user properties left");
  assert.equal(none.packet.properties.contentType, "application/json", "only the user properties went");

  const keep = await on("rw/keep");
  assert.deepEqual({ ...userPropsOf(keep) }, SENT.userProperties, "no rewrite: the publisher's own");
});

test("an MQTT 3.1.1 subscriber still gets a message whose user properties were rewritten", async (t) => {
  const { port } = await startServer(t, {
    hooks: { onClientPublishAuthorize: () => ({ allow: true, userProperties: [["added", "yes"]] }) },
  });
  const v4 = await subscriber(t, port, "mixed/#", 4);
  const v5 = await subscriber(t, port, "mixed/#", 5);
  const pub5 = await connectClient(t, port, { protocolVersion: 5 });
  const pub4 = await connectClient(t, port, { protocolVersion: 4 });
  await pub5.publishAsync("mixed/from5", "five", { qos: 1, properties: SENT });
  await pub4.publishAsync("mixed/from4", "four", { qos: 1 });
  for (const topic of ["mixed/from5", "mixed/from4"]) {
    const old = await v4.waitFor((m) => m.topic === topic, `${topic} at the 3.1.1 subscriber`);
    assert.equal(old.packet.properties, undefined, "3.1.1 has no properties");
    const got = await v5.waitFor((m) => m.topic === topic, `${topic} at the MQTT 5 subscriber`);
    assert.deepEqual({ ...userPropsOf(got) }, { added: "yes" }, `${topic}: the rewritten ones`);
  }
  assert.equal((await v4.waitFor((m) => m.topic === "mixed/from4")).payload.toString(), "four");
});

test("a userProperties rewrite over the caps, with a NUL or of another shape is ignored with a WARN", async (t) => {
  const logs = captureLogs();
  const many = Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]);
  const answers = {
    "cap/count": { allow: true, userProperties: many },
    "cap/bytes": { allow: true, userProperties: [["big", "x".repeat(16 * 1024)]] },
    "cap/nul": { allow: true, userProperties: [["a\u0000b", "v"]] },
    "cap/shape": { allow: true, userProperties: [["only-a-name"]] },
    "cap/number": { allow: true, userProperties: { n: 1 } },
  };
  const { port } = await startServer(t, {
    logger: logs.logger,
    hooks: { onClientPublishAuthorize: (_s, p) => answers[p.topic] },
  });
  const msgs = await subscriber(t, port, "cap/#");
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  for (const topic of Object.keys(answers)) {
    await pub.publishAsync(topic, "x", { qos: 1, properties: { userProperties: { orig: "1" } } });
  }
  for (const topic of Object.keys(answers)) {
    const m = await msgs.waitFor((x) => x.topic === topic, `the message on ${topic}`);
    assert.deepEqual({ ...userPropsOf(m) }, { orig: "1" }, `${topic}: the publisher's own properties`);
  }
  await logs.waitForWarn(/ignored user properties rewrite: 65 user properties, more than 64/);
  await logs.waitForWarn(/ignored user properties rewrite: \d+ bytes of user properties, more than 16384/);
  await logs.waitForWarn(/ignored user properties rewrite: .*NUL/);
  await logs.waitForWarn(/returned a `userProperties` that is not/);
});

test("onClientAuthenticate sees the CONNECT's user properties ([] for MQTT 3.1.1)", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) },
  });
  const v5 = await connectClient(t, port, {
    protocolVersion: 5,
    properties: { userProperties: { device: "sensor", tag: ["a", "b"] } },
  });
  const [req5] = await rec.waitFor("auth", (a) => a.clientId === v5.options.clientId);
  assert.deepEqual(req5.properties, {
    userProperties: [
      ["device", "sensor"],
      ["tag", "a"],
      ["tag", "b"],
    ],
  });
  const v4 = await connectClient(t, port, { protocolVersion: 4 });
  const [req4] = await rec.waitFor("auth", (a) => a.clientId === v4.options.clientId);
  assert.deepEqual(req4.properties, { userProperties: [] });
});

test("the tenant resolver sees the CONNECT's user properties", async (t) => {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  const rec = new Recorder();
  await server.addTenant("eu", { hooks: { onClientAuthenticate: rec.hook("eu-auth", { allow: true }) } });
  await server.addTenant("us");
  server.setTenantResolver(
    rec.hook("resolve", (req) => req.properties.userProperties.find(([k]) => k === "region")?.[1] ?? null),
  );
  await server.start({ listeners: [listener("gw")], tenancy: { fallbackTenant: "us" } });
  const eu = await connectClient(t, server.listeners[0].port, {
    protocolVersion: 5,
    properties: { userProperties: { region: "eu" } },
  });
  const [req] = await rec.waitFor("resolve", (r) => r.clientId === eu.options.clientId);
  assert.deepEqual(req.properties, { userProperties: [["region", "eu"]] });
  const [auth] = await rec.waitFor("eu-auth", (a) => a.clientId === eu.options.clientId);
  assert.equal(auth.tenant, "eu", "resolved by the user property");
  assert.deepEqual(auth.properties, { userProperties: [["region", "eu"]] });
});

test("message notifications carry the properties: published (after the rewrite), delivered, acked, dropped", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: {
      onClientPublishAuthorize: (_s, p) =>
        p.topic === "note/denied"
          ? { allow: false, reason: "no" }
          : { allow: true, userProperties: [...p.properties.userProperties, ["seen", "acl"]] },
      onMessagePublish: rec.hook("publish"),
      onMessageDelivered: rec.hook("delivered"),
      onMessageAcked: rec.hook("acked"),
      onMessageDropped: rec.hook("dropped"),
    },
  });
  const msgs = await subscriber(t, port, "note/#");
  const pub = await connectClient(t, port, { protocolVersion: 5 });
  await pub.publishAsync("note/ok", "x", { qos: 1, properties: SENT });
  await msgs.waitFor((m) => m.topic === "note/ok");
  const expected = { ...SEEN, userProperties: [...SEEN.userProperties, ["seen", "acl"]] };
  const onOk = (_s, _f, m) => m.topic === "note/ok";
  for (const hook of ["publish", "delivered", "acked"]) {
    const [, , message] = await rec.waitFor(hook, onOk);
    assert.deepEqual(message.properties, expected, `${hook}: properties`);
  }
  await pub.publishAsync("note/denied", "x", { qos: 1, properties: { userProperties: { mine: "1" } } }).catch(() => {});
  const [, , dropped, info] = await rec.waitFor("dropped", (_s, _f, m) => m.topic === "note/denied");
  assert.deepEqual(dropped.properties, { userProperties: [["mine", "1"]] }, "the broker's deny mark is not shown");
  assert.equal(info.reason, "no");
});

test("ConnectInfo has protocolVersion beside the seed API's protoVer", async (t) => {
  const rec = new Recorder();
  const { port } = await startServer(t, {
    hooks: { onClientConnect: rec.hook("connect"), onClientConnack: rec.hook("connack") },
  });
  for (const protocolVersion of [4, 5]) {
    const c = await connectClient(t, port, { protocolVersion });
    const [info] = await rec.waitFor("connect", (i) => i.clientId === c.options.clientId);
    assert.equal(info.protocolVersion, protocolVersion);
    assert.equal(info.protoVer, protocolVersion);
    const [ack] = await rec.waitFor("connack", (i) => i.clientId === c.options.clientId);
    assert.equal(ack.protocolVersion, protocolVersion);
    assert.equal(ack.connAck, "Success");
  }
});
