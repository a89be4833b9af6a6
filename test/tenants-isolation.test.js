"use strict";
// Two tenants with the same topic names and client ids never see each
// other's messages (plain, `#`, retained, will, `$share`), whether clients
// reach their tenant by a `user@tenant` username or by a listener bound to
// the tenant; a client id used in both tenants kicks nobody; server publishes
// reach one tenant only.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { collectMessages } = require("./helpers/messages");
const { startTenants, watchDisconnects } = require("./helpers/tenants");

const TENANTS = ["acme", "globex"];

/** The tag of a tenant, carried in every payload its side publishes. */
const tag = (tenant) => tenant.slice(0, 1);

for (const mode of ["username", "listener"]) {
  test(`tenants by ${mode}: no cross-delivery of plain, #, retained, will and $share messages`, async (t) => {
    const { server, connect } = await startTenants(t, mode, { acme: undefined, globex: undefined });
    const side = {};
    for (const tenant of TENANTS) {
      // The same client ids on both sides.
      const plain = await connect(t, tenant, { clientId: "plain-sub", username: "sub" });
      const wild = await connect(t, tenant, { clientId: "wild-sub", username: "sub" });
      const shared = await connect(t, tenant, { clientId: "shared-sub", username: "sub" });
      const pub = await connect(t, tenant, { clientId: "pub", username: "pub" });
      const got = { plain: collectMessages(plain), wild: collectMessages(wild), shared: collectMessages(shared) };
      await plain.subscribeAsync("t/x", { qos: 1 });
      await wild.subscribeAsync("#", { qos: 1 });
      await shared.subscribeAsync("$share/g/t/x", { qos: 1 });
      side[tenant] = { plain, wild, shared, pub, got };
    }
    const disconnects = watchDisconnects(TENANTS.flatMap((tn) => Object.values(side[tn]).slice(0, 4)));

    for (const tenant of TENANTS) {
      const { pub } = side[tenant];
      await pub.publishAsync("t/x", `plain-${tag(tenant)}`, { qos: 1 });
      await pub.publishAsync("r/x", `retained-${tag(tenant)}`, { qos: 1, retain: true });
      await server.publish("t/x", `server-${tag(tenant)}`, { qos: 1, tenant });
    }

    // A will, from a client that vanishes without DISCONNECT, in each tenant.
    for (const tenant of TENANTS) {
      const w = await connect(t, tenant, {
        clientId: "will-client",
        username: "w",
        will: { topic: "t/x", payload: Buffer.from(`will-${tag(tenant)}`), qos: 1 },
      });
      w.stream.destroy();
    }
    for (const tenant of TENANTS) {
      await side[tenant].got.plain.waitFor((m) => m.payload.toString() === `will-${tag(tenant)}`, `${tenant}'s will`);
    }

    // Retained messages: a late subscriber gets its own tenant's only.
    for (const tenant of TENANTS) {
      const late = await connect(t, tenant, { clientId: "late", username: "late" });
      const got = collectMessages(late);
      await late.subscribeAsync("r/#", { qos: 1 });
      const m = await got.waitFor((x) => x.topic === "r/x", `${tenant}'s retained message`);
      assert.equal(m.payload.toString(), `retained-${tag(tenant)}`);
      await server.publish("r/end", "end", { qos: 1, tenant });
      await got.waitFor((x) => x.topic === "r/end", `${tenant}'s marker`);
      assert.deepEqual(
        got.map((x) => x.payload.toString()),
        [`retained-${tag(tenant)}`, "end"],
      );
    }

    // Markers last; then each subscriber holds exactly its tenant's messages.
    for (const tenant of TENANTS) {
      await side[tenant].pub.publishAsync("t/x", `end-${tag(tenant)}`, { qos: 1 });
    }
    for (const tenant of TENANTS) {
      const own = tag(tenant);
      const expected = [`plain-${own}`, `server-${own}`, `will-${own}`, `end-${own}`];
      for (const kind of ["plain", "wild", "shared"]) {
        const got = side[tenant].got[kind];
        await got.waitFor((m) => m.payload.toString() === `end-${own}`, `${tenant} ${kind}: end marker`);
        const onTx = got.filter((m) => m.topic === "t/x").map((m) => m.payload.toString());
        assert.deepEqual(onTx.sort(), [...expected].sort(), `${tenant} ${kind} saw only its tenant's messages`);
      }
      const wildTopics = side[tenant].got.wild.map((m) => `${m.topic}=${m.payload}`);
      assert.ok(wildTopics.includes(`r/x=retained-${own}`), `${tenant} # saw its retained publish`);
      assert.ok(
        wildTopics.every((x) => x.endsWith(`-${own}`) || x.endsWith("=end")),
        `${tenant} # saw nothing of the other tenant: ${wildTopics.join(", ")}`,
      );
    }
    assert.equal(disconnects.count, 0, `no client was kicked: ${disconnects.events.join(", ")}`);
    for (const tenant of TENANTS) {
      for (const c of ["plain", "wild", "shared", "pub"]) {
        assert.equal(side[tenant][c].connected, true, `${tenant} ${c} still connected`);
      }
    }
  });
}

test("a server publish without a tenant reaches no tenant's clients", async (t) => {
  const { server, connect } = await startTenants(t, "listener", { acme: undefined });
  const sub = await connect(t, "acme", { clientId: "s" });
  const got = collectMessages(sub);
  await sub.subscribeAsync("#", { qos: 1 });
  await server.publish("t/x", "global", { qos: 1 });
  await server.publish("t/x", "scoped", { qos: 1, tenant: "acme" });
  await got.waitFor((m) => m.payload.toString() === "scoped");
  assert.deepEqual(got.map((m) => m.payload.toString()), ["scoped"]);
});

test("a server publish to an unknown tenant fails with ERR_TENANT_UNKNOWN", async (t) => {
  const { server } = await startTenants(t, "listener", { acme: undefined });
  await assert.rejects(server.publish("t/x", "x", { tenant: "nope" }), { code: "ERR_TENANT_UNKNOWN" });
  await assert.rejects(server.publish("t/x", "x", { tenant: "" }), { code: "ERR_INVALID_TENANT" });
});

test("tenants cannot publish to $SYS, even as superusers with a policy that allows it", async (t) => {
  const { connect } = await startTenants(t, "username", {
    acme: {
      onClientAuthenticate: () => ({ allow: true, superuser: true }),
      onClientPublishAuthorize: () => ({ allow: true }),
    },
  });
  const sub = await connect(t, "acme", { clientId: "sys-sub", protocolVersion: 5 });
  const got = collectMessages(sub);
  const granted = await sub.subscribeAsync(["$SYS/#", "end"], { qos: 1 });
  assert.deepEqual(granted.map((g) => g.qos), [1, 1], "the $SYS subscription itself is granted");
  const pub = await connect(t, "acme", { clientId: "sys-pub", protocolVersion: 5 });
  // A denied QoS 1 publish is acknowledged with a failure reason (or the
  // client is disconnected): either way, nothing reaches the subscriber.
  await pub.publishAsync("$SYS/brokers/fake", "forged", { qos: 1 }).catch(() => undefined);
  const end = await connect(t, "acme", { clientId: "sys-end" });
  await end.publishAsync("end", "end", { qos: 1 });
  await got.waitFor((m) => m.topic === "end");
  assert.deepEqual(got.filter((m) => m.topic.startsWith("$SYS/brokers/fake")), []);
});
