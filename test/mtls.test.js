"use strict";
// Mutual TLS on tls and wss listeners: `tlsClientCa` verifies client
// certificates at the TLS handshake, `requireClientCert` refuses clients
// without one, the verified certificate reaches onClientAuthenticate as
// `clientCert`, and `certIdentityAsUsername` fills in a missing username.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { X509Certificate } = require("node:crypto");

const { startServer, MqttServer, shutDown } = require("./helpers/server");
const { connectClient, createClient, connackOf } = require("./helpers/client");
const { makeClientPki, clientTlsOptions } = require("./helpers/certs");
const { Recorder } = require("./helpers/recorder");
const { withTimeout } = require("./helpers/wait");

/** The alerts node's TLS client reports (TLS 1.3: certificate_required; unknown_ca). */
const NO_CERT = /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE$/;
const UNKNOWN_CA = /^ERR_SSL_TLSV1_ALERT_UNKNOWN_CA$|^ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE$/;

/** A tls or wss listener on port 0 with the PKI's server certificate. */
function mtlsListener(pki, protocol, extra = {}) {
  return {
    name: protocol,
    address: "127.0.0.1",
    port: 0,
    protocol,
    tlsCert: pki.server.cert,
    tlsKey: pki.server.key,
    tlsClientCa: pki.ca.cert,
    ...extra,
  };
}

/** Starts a broker with one mTLS listener and a recording auth hook that allows all. */
async function startMtls(t, pki, protocol, extra) {
  const rec = new Recorder();
  const { server, port } = await startServer(t, {
    listeners: [mtlsListener(pki, protocol, extra)],
    hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) },
  });
  return { server, port, rec };
}

/** What `req.clientCert` must be for the certificate file `certFile`. */
function expectedClientCert(certFile) {
  const x509 = new X509Certificate(fs.readFileSync(certFile));
  return {
    commonName: "dev-1",
    subject: "CN=dev-1, O=Acme Devices",
    // node prints "AB:CD:…"; the broker's form is lowercase hex, no colons.
    fingerprintSha256: x509.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}

/**
 * Connects a client the TLS layer must refuse: it never gets a CONNACK, and
 * it sees the server's TLS alert, an error whose code matches `expected`.
 * Resolves with that error.
 */
async function refusedAtTls(t, port, opts, expected) {
  const client = createClient(port, opts);
  t.after(() => client.end(true));
  let connack = false;
  client.on("connect", () => {
    connack = true;
  });
  const closed = new Promise((resolve) => client.once("close", resolve));
  await assert.rejects(withTimeout(connackOf(client), "the TLS refusal"));
  await withTimeout(closed, "the refused connection to close");
  assert.equal(connack, false, "no CONNACK after a TLS refusal");
  const tlsError = client.errors.find((e) => expected.test(String(e.code)));
  assert.ok(tlsError, `a TLS error ${expected}, got: ${client.errors.map((e) => `${e.code}: ${e.message}`).join("; ") || "none"}`);
  return tlsError;
}

for (const protocol of ["tls", "wss"]) {
  for (const protocolVersion of [4, 5]) {
    const v = protocolVersion === 5 ? "MQTT 5" : "MQTT 3.1.1";

    test(`${protocol}, ${v}: requireClientCert refuses a client without a certificate at the TLS layer`, async (t) => {
      const pki = makeClientPki(t);
      if (!pki) return t.skip("no openssl");
      const { port, rec } = await startMtls(t, pki, protocol, { requireClientCert: true });
      await refusedAtTls(t, port, { protocol, protocolVersion, ...clientTlsOptions(pki) }, NO_CERT);
      assert.equal(rec.count("auth"), 0, "the auth hook never ran");
      // The listener still serves a client with a good certificate.
      await connectClient(t, port, { protocol, protocolVersion, ...clientTlsOptions(pki, pki.client) });
    });

    test(`${protocol}, ${v}: a certificate not signed by tlsClientCa is refused at the TLS layer`, async (t) => {
      const pki = makeClientPki(t);
      if (!pki) return t.skip("no openssl");
      // Refused even where a client without a certificate would be let in.
      for (const requireClientCert of [true, false]) {
        const { port, rec } = await startMtls(t, pki, protocol, { requireClientCert });
        await refusedAtTls(t, port, { protocol, protocolVersion, ...clientTlsOptions(pki, pki.rogue) }, UNKNOWN_CA);
        assert.equal(rec.count("auth"), 0, `the auth hook never ran (requireClientCert: ${requireClientCert})`);
      }
    });

    test(`${protocol}, ${v}: a verified certificate reaches onClientAuthenticate as clientCert`, async (t) => {
      const pki = makeClientPki(t);
      if (!pki) return t.skip("no openssl");
      const { port, rec } = await startMtls(t, pki, protocol, { requireClientCert: true });
      const c = await connectClient(t, port, {
        protocol,
        protocolVersion,
        username: "alice",
        ...clientTlsOptions(pki, pki.client),
      });
      const [req] = await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
      assert.deepEqual(req.clientCert, expectedClientCert(pki.client.cert));
      assert.equal(req.username, "alice", "the username is the client's own without certIdentityAsUsername");
    });

    test(`${protocol}, ${v}: with an optional client certificate, a client without one connects and has no clientCert`, async (t) => {
      const pki = makeClientPki(t);
      if (!pki) return t.skip("no openssl");
      const { port, rec } = await startMtls(t, pki, protocol, { requireClientCert: false, certIdentityAsUsername: true });
      const anon = await connectClient(t, port, { protocol, protocolVersion, ...clientTlsOptions(pki) });
      const [req] = await rec.waitFor("auth", (a) => a.clientId === anon.options.clientId);
      assert.equal("clientCert" in req, false, "no clientCert without a certificate");
      assert.equal(req.username, null);
      // The same listener verifies a certificate that is presented.
      const dev = await connectClient(t, port, { protocol, protocolVersion, ...clientTlsOptions(pki, pki.client) });
      const [devReq] = await rec.waitFor("auth", (a) => a.clientId === dev.options.clientId);
      assert.deepEqual(devReq.clientCert, expectedClientCert(pki.client.cert));
    });

    test(`${protocol}, ${v}: certIdentityAsUsername puts the common name in a missing username, keeps a given one`, async (t) => {
      const pki = makeClientPki(t);
      if (!pki) return t.skip("no openssl");
      const { server, port, rec } = await startMtls(t, pki, protocol, {
        requireClientCert: true,
        certIdentityAsUsername: true,
      });
      const sessions = new Recorder();
      server.setHooks({
        onClientAuthenticate: rec.hook("auth", { allow: true }),
        onClientSubscribeAuthorize: sessions.hook("sub", { allow: true, qos: 0 }),
      });
      const tls = clientTlsOptions(pki, pki.client);
      const noName = await connectClient(t, port, { protocol, protocolVersion, ...tls });
      const [req] = await rec.waitFor("auth", (a) => a.clientId === noName.options.clientId);
      assert.equal(req.username, "dev-1");
      // The session carries that username too (later hooks see it).
      await noName.subscribeAsync("t/1");
      const [session] = await sessions.waitFor("sub", (s) => s.clientId === noName.options.clientId);
      assert.equal(session.username, "dev-1");

      const named = await connectClient(t, port, { protocol, protocolVersion, username: "alice", ...tls });
      const [namedReq] = await rec.waitFor("auth", (a) => a.clientId === named.options.clientId);
      assert.equal(namedReq.username, "alice");
      assert.equal(namedReq.clientCert.commonName, "dev-1");
    });
  }
}

/** A server with tenant `acme` behind one tls gateway listener with mTLS. */
async function startGateway(t, pki, extra) {
  const rec = new Recorder();
  const server = new MqttServer();
  t.after(() => shutDown(server));
  await server.addTenant("acme", { hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) } });
  await server.start({ listeners: [mtlsListener(pki, "tls", { name: "gw", ...extra })], tenancy: {} });
  return { port: server.listeners[0].port, rec };
}

for (const protocolVersion of [4, 5]) {
  const v = protocolVersion === 5 ? "MQTT 5" : "MQTT 3.1.1";

  test(`tenant gateway, ${v}: requireClientCert and tlsClientCa are enforced at the TLS layer`, async (t) => {
    const pki = makeClientPki(t);
    if (!pki) return t.skip("no openssl");
    const { port, rec } = await startGateway(t, pki, { requireClientCert: true });
    const user = { protocol: "tls", protocolVersion, username: "ann@acme" };
    await refusedAtTls(t, port, { ...user, ...clientTlsOptions(pki) }, NO_CERT);
    await refusedAtTls(t, port, { ...user, ...clientTlsOptions(pki, pki.rogue) }, UNKNOWN_CA);
    assert.equal(rec.count("auth"), 0, "no refused client reached the tenant");
    const c = await connectClient(t, port, { ...user, ...clientTlsOptions(pki, pki.client) });
    const [req] = await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
    // The loopback hop to the tenant keeps the verified certificate.
    assert.deepEqual(req.clientCert, expectedClientCert(pki.client.cert));
  });

  test(`tenant gateway, ${v}: with an optional client certificate, a client without one reaches its tenant, a rogue one does not`, async (t) => {
    const pki = makeClientPki(t);
    if (!pki) return t.skip("no openssl");
    const { port, rec } = await startGateway(t, pki, { requireClientCert: false });
    const user = { protocol: "tls", protocolVersion, username: "ann@acme" };
    const c = await connectClient(t, port, { ...user, ...clientTlsOptions(pki) });
    const [req] = await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
    assert.equal("clientCert" in req, false, "no clientCert without a certificate");
    // A client with a certificate and an empty client id (the tenant assigns one) still gets it.
    const dev = await connectClient(t, port, { ...user, clientId: "", ...clientTlsOptions(pki, pki.client) });
    const [devReq] = await rec.waitFor("auth", (a) => a.clientId !== c.options.clientId && a.clientCert);
    assert.deepEqual(devReq.clientCert, expectedClientCert(pki.client.cert));
    dev.end(true);
    await refusedAtTls(t, port, { ...user, ...clientTlsOptions(pki, pki.rogue) }, UNKNOWN_CA);
  });
}

test("tenant gateway: certIdentityAsUsername resolves and names a client without a username by its certificate", async (t) => {
  const pki = makeClientPki(t, { clientSubject: "/CN=dev-1@acme/O=Acme Devices" });
  if (!pki) return t.skip("no openssl");
  const { port, rec } = await startGateway(t, pki, { requireClientCert: true, certIdentityAsUsername: true });
  const tls = { protocol: "tls", ...clientTlsOptions(pki, pki.client) };
  for (const protocolVersion of [4, 5]) {
    // No username: the CN `dev-1@acme` picks the tenant and is the username.
    const anon = await connectClient(t, port, { ...tls, protocolVersion });
    const [req] = await rec.waitFor("auth", (a) => a.clientId === anon.options.clientId);
    assert.equal(req.username, "dev-1@acme");
    // A username the client sends is kept.
    const named = await connectClient(t, port, { ...tls, protocolVersion, username: "ann@acme", password: "pw" });
    const [namedReq] = await rec.waitFor("auth", (a) => a.clientId === named.options.clientId);
    assert.equal(namedReq.username, "ann@acme");
    assert.equal(namedReq.password, "pw");
  }
});

test("without tlsClientCa a client certificate is not asked for, and clientCert is absent", async (t) => {
  const pki = makeClientPki(t);
  if (!pki) return t.skip("no openssl");
  const rec = new Recorder();
  const { port } = await startServer(t, {
    listeners: [{ name: "tls", address: "127.0.0.1", port: 0, protocol: "tls", tlsCert: pki.server.cert, tlsKey: pki.server.key }],
    hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) },
  });
  const c = await connectClient(t, port, { protocol: "tls", ...clientTlsOptions(pki, pki.client) });
  const [req] = await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
  assert.equal("clientCert" in req, false);
});

/** Starting `listener` fails with `code`. */
async function assertListenerRefused(t, listener, code) {
  const server = new MqttServer();
  t.after(() => server.close());
  await assert.rejects(server.start({ listeners: [listener] }), (err) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

test("requireClientCert on a tcp listener fails with ERR_CONFIG_CLIENT_CERT", async (t) => {
  await assertListenerRefused(
    t,
    { name: "tcp", address: "127.0.0.1", port: 0, protocol: "tcp", requireClientCert: true },
    "ERR_CONFIG_CLIENT_CERT",
  );
});

test("requireClientCert without tlsClientCa fails with ERR_CONFIG_CLIENT_CERT", async (t) => {
  const pki = makeClientPki(t);
  if (!pki) return t.skip("no openssl");
  const listener = mtlsListener(pki, "tls", { requireClientCert: true });
  delete listener.tlsClientCa;
  await assertListenerRefused(t, listener, "ERR_CONFIG_CLIENT_CERT");
});

test("a missing tlsClientCa file fails with ERR_CONFIG_TLS_FILE", async (t) => {
  const pki = makeClientPki(t);
  if (!pki) return t.skip("no openssl");
  const missing = path.join(pki.dir, "no-such-ca.pem");
  await assertListenerRefused(t, mtlsListener(pki, "wss", { tlsClientCa: missing }), "ERR_CONFIG_TLS_FILE");
});

test("tenant gateway: the tenant resolver sees the verified client certificate and may pick the tenant by it", async (t) => {
  const pki = makeClientPki(t, { clientSubject: "/CN=sensor-7/O=Acme Devices" });
  if (!pki) return t.skip("no openssl");
  const rec = new Recorder();
  const server = new MqttServer();
  t.after(() => shutDown(server));
  await server.addTenant("acme", { hooks: { onClientAuthenticate: rec.hook("auth", { allow: true }) } });
  const seen = [];
  server.setTenantResolver((req) => {
    seen.push(req.clientCert);
    return req.clientCert?.subject.includes("O=Acme Devices") ? "acme" : null;
  });
  await server.start({ listeners: [mtlsListener(pki, "tls", { name: "gw", requireClientCert: true })], tenancy: {} });
  const c = await connectClient(t, server.listeners[0].port, { protocol: "tls", username: "sensor", ...clientTlsOptions(pki, pki.client) });
  await rec.waitFor("auth", (a) => a.clientId === c.options.clientId);
  assert.equal(seen[0]?.commonName, "sensor-7");
  assert.equal(seen[0].subject, "CN=sensor-7, O=Acme Devices");
  assert.equal(seen[0].fingerprintSha256, expectedClientCert(pki.client.cert).fingerprintSha256);
});
