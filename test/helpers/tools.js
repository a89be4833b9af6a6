"use strict";
// System tools a test needs (redis-server, ...): found on PATH, or installed
// once from the Debian package with apt-get when this machine allows it (root
// or passwordless sudo). Nothing is downloaded from anywhere else.

const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const INSTALL_TIMEOUT_MS = 5 * 60 * 1000;

/** The absolute path of `binary` on PATH (or in /usr/sbin, /usr/bin), or null. */
function which(binary) {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/bin"];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, binary);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The command prefix that runs apt-get as root here, or null. */
function asRoot() {
  if (!which("apt-get")) return null;
  if (process.getuid?.() === 0) return [];
  if (which("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0) return ["sudo", "-n"];
  return null;
}

/**
 * `binary`'s path; when it is missing, tries `apt-get install <debianPackage>`
 * (one line on stderr says so). Null when it is still missing.
 */
function ensureTool(binary, debianPackage) {
  const found = which(binary);
  if (found) return found;
  const root = asRoot();
  if (!root) return null;
  process.stderr.write(`# ${binary} is missing: apt-get install ${debianPackage}\n`);
  const run = (args) => {
    const [cmd, ...rest] = [...root, ...args];
    execFileSync(cmd, rest, {
      stdio: "ignore",
      timeout: INSTALL_TIMEOUT_MS,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  };
  try {
    try {
      run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", debianPackage]);
    } catch {
      run(["apt-get", "update", "-qq"]);
      run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", debianPackage]);
    }
  } catch (e) {
    process.stderr.write(`# apt-get install ${debianPackage} failed: ${e.message.split("\n")[0]}\n`);
    return null;
  }
  return which(binary);
}

module.exports = { ensureTool, which };
