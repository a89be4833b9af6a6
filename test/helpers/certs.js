"use strict";
// A throw-away self-signed certificate for the TLS and WSS listeners.

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

module.exports = { makeSelfSignedCert };
