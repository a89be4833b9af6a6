"use strict";
// JWT authentication by a 0.2.0 policy (ts-jwt-auth, TypeScript on QuickJS
// and StarlingMonkey) with real MQTT clients: the key from `config` or from
// tenant data, the token's `sub` must be the username, `role: admin` makes a
// superuser, an expired or forged token is refused, and the topic ACL comes
// from tenant data (`acl:<user>`), changed without a reload.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const path = require("node:path");

const { WasmPolicy } = require("..");
const { connectRefused } = require("./helpers/client");
const { startTenants } = require("./helpers/tenants");

const DIST = path.join(__dirname, "..", "guest-examples", "dist");

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** An HS256 JWT signed with `secret`. */
function hs256(secret, claims) {
  const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
  return `${head}.${crypto.createHmac("sha256", secret).update(head).digest("base64url")}`;
}

const now = () => Math.floor(Date.now() / 1000);

for (const engine of ["quickjs", "starlingmonkey"]) {
  test(`ts-jwt-auth (${engine}): key from config, sub must match, admin is superuser, ACL from tenant data`, async (t) => {
    const policy = await WasmPolicy.load(path.join(DIST, `ts-jwt-auth.${engine}.wasm`), {
      timeoutMs: 5000,
      config: { jwtKey: "config-secret" },
    });
    t.after(() => policy.close());
    const hooks = { onClientAuthenticate: policy, onClientSubscribeAuthorize: policy, onClientPublishAuthorize: policy };
    const { server, connect } = await startTenants(t, "listener", { acme: hooks });
    const port = server.listeners[0].port;
    const data = server.tenant("acme").data;
    data.set("acl:alice", JSON.stringify(["acme/alice/"]));

    const token = hs256("config-secret", { sub: "alice", exp: now() + 600 });
    const alice = await connect(t, "acme", { username: "alice", password: token });
    assert.equal((await alice.subscribeAsync("acme/alice/#", { qos: 1 }))[0].qos, 1);
    await assert.rejects(alice.subscribeAsync("acme/bob/#", { qos: 1 }), { name: "ErrorWithSubackPacket" });
    data.set("acl:alice", JSON.stringify(["acme/alice/", "acme/shared/"]));
    assert.equal((await alice.subscribeAsync("acme/shared/x", { qos: 0 }))[0].qos, 0, "an ACL change applies at once");

    await connectRefused(t, port, { username: "bob", password: token }); // sub is alice
    await connectRefused(t, port, { username: "alice", password: hs256("forged", { sub: "alice", exp: now() + 600 }) });
    await connectRefused(t, port, { username: "alice", password: hs256("config-secret", { sub: "alice", exp: now() - 3600 }) });

    const admin = hs256("config-secret", { sub: "root", role: "admin", exp: now() + 600 });
    const root = await connect(t, "acme", { username: "root", password: admin });
    assert.equal((await root.subscribeAsync("anything/#", { qos: 1 }))[0].qos, 1, "a superuser skips the ACL");
  });
}

test("ts-jwt-auth without config reads the key from the tenant's data; each tenant its own", async (t) => {
  const policy = await WasmPolicy.load(path.join(DIST, "ts-jwt-auth.quickjs.wasm"), { timeoutMs: 5000 });
  t.after(() => policy.close());
  const hooks = { onClientAuthenticate: policy };
  const { server, connect } = await startTenants(t, "listener", { acme: hooks, globex: hooks });
  server.tenant("acme").data.set("jwt-key", "acme-secret");
  server.tenant("globex").data.set("jwt-key", "globex-secret");
  const port = (id) => server.listeners.find((l) => l.name === id).port;
  const acmeToken = hs256("acme-secret", { sub: "dev", exp: now() + 600 });
  const client = await connect(t, "acme", { username: "dev", password: acmeToken });
  assert.ok(client.connected);
  await connectRefused(t, port("globex"), { username: "dev", password: acmeToken });
});
