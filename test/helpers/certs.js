"use strict";
// Throw-away certificates for the TLS and WSS listeners: a self-signed server
// certificate, and for mTLS a small PKI (a CA, a server and a client
// certificate it signed, and a self-signed "rogue" client certificate).

const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function hasOpenssl() {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a self-signed certificate for 127.0.0.1/localhost and its key into a
 * temporary directory removed after the test. Uses the openssl CLI, else the
 * `selfsigned` npm package; returns null when neither is available.
 * @returns {{cert: string, key: string, dir: string} | null} file paths
 */
function makeSelfSignedCert(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-js-cert-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  if (hasOpenssl()) {
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2",
        "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    return { cert, key, dir };
  }
  let selfsigned;
  try {
    selfsigned = require("selfsigned");
  } catch {
    return null;
  }
  const pems = selfsigned.generate([{ name: "commonName", value: "localhost" }], {
    days: 2,
    keySize: 2048,
    extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }] }],
  });
  fs.writeFileSync(cert, pems.cert);
  fs.writeFileSync(key, pems.private);
  return { cert, key, dir };
}

/** Runs the openssl CLI in `dir`; throws with its stderr on failure. */
function openssl(dir, args) {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** An EC P-256 key and a self-signed certificate with extensions `ext`. */
function selfSigned(dir, name, subj, ext) {
  openssl(dir, [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", subj,
    ...ext.flatMap((e) => ["-addext", e]),
  ]);
}

/** An EC P-256 key and a certificate for `subj` signed by the CA `ca`. */
function signedBy(dir, ca, name, subj, ext) {
  openssl(dir, [
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj,
  ]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join("\n") + "\n");
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`,
    "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`,
  ]);
}

const CLIENT_EXT = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"];

/**
 * Writes a PKI for mutual TLS into a temporary directory removed after the
 * test, with the openssl CLI (null when it is missing):
 * - `ca`: a CA certificate (the listener's `tlsClientCa`);
 * - `server`: a certificate for 127.0.0.1/localhost signed by the CA;
 * - `client`: a client certificate signed by the CA, subject `clientSubject`;
 * - `rogue`: a self-signed client certificate with the same subject.
 * Each entry has `cert` and `key` file paths (`ca` only `cert`); `pem(entry)`
 * reads the PEM text the `mqtt` client's `cert`/`key`/`ca` options take.
 * @returns {null | {dir: string, ca: {cert: string}, server: {cert: string, key: string},
 *   client: {cert: string, key: string}, rogue: {cert: string, key: string}}}
 */
function makeClientPki(t, { clientSubject = "/CN=dev-1/O=Acme Devices" } = {}) {
  if (!hasOpenssl()) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmqtt-js-pki-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  selfSigned(dir, "ca", "/CN=rmqtt-js test CA", [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  signedBy(dir, "ca", "server", "/CN=localhost", [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  signedBy(dir, "ca", "client", clientSubject, CLIENT_EXT);
  selfSigned(dir, "rogue", clientSubject, CLIENT_EXT);
  const pair = (name) => ({ cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) });
  return { dir, ca: { cert: path.join(dir, "ca.pem") }, server: pair("server"), client: pair("client"), rogue: pair("rogue") };
}

/** The mqtt client's TLS options presenting `pair` (a `makeClientPki` entry). */
function clientTlsOptions(pki, pair) {
  const opts = { ca: fs.readFileSync(pki.ca.cert), rejectUnauthorized: true, servername: "localhost" };
  if (pair) Object.assign(opts, { cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key) });
  return opts;
}

module.exports = { makeSelfSignedCert, makeClientPki, clientTlsOptions };
