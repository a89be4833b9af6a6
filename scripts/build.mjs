#!/usr/bin/env node
// Builds what `require("rmqtt-js")` loads: the native addon (cargo, release
// profile), the TypeScript API (tsc -p lib), then the guest policy examples
// when guest-examples/ exists. Root `npm install` runs this.
//
//   node scripts/build.mjs

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "lib", "dist");
const require = createRequire(import.meta.url);

function step(title) {
  console.log(`\n[rmqtt-js build] ${title}`);
}

function fail(message) {
  console.error(`\n[rmqtt-js build] ERROR: ${message}\n`);
  process.exit(1);
}

/** Runs a command with its output shown; exits on failure. */
function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.error) fail(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status ?? r.signal}); see the output above`);
}

function checkToolchain() {
  const r = spawnSync("cargo", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    fail(
      [
        "cargo (the Rust toolchain) was not found, and rmqtt-js builds its native addon from source.",
        "Fix: install Rust from https://rustup.rs (`curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh`),",
        "open a new shell (so that ~/.cargo/bin is on PATH), then run `npm install` again.",
      ].join("\n  "),
    );
  }
  console.log(`  ${r.stdout.trim()}`);
}

function targetDir() {
  const r = spawnSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) fail(`cargo metadata failed:\n${r.stderr}`);
  return JSON.parse(r.stdout).target_directory;
}

function addonFileName() {
  switch (process.platform) {
    case "darwin":
      return "librmqtt_js_addon.dylib";
    case "win32":
      return "rmqtt_js_addon.dll";
    default:
      return "librmqtt_js_addon.so";
  }
}

function patchCrates() {
  step("patched crates: node scripts/patch-crates.mjs (patches/ applied to crates.io sources)");
  run(process.execPath, [join(root, "scripts", "patch-crates.mjs")], "patching crates");
}

function buildAddon() {
  step("native addon: cargo build --release -p rmqtt-js-addon");
  run("cargo", ["build", "--release", "-p", "rmqtt-js-addon"], "cargo build");
  const built = join(targetDir(), "release", addonFileName());
  if (!existsSync(built)) fail(`cargo did not produce ${built}`);
  mkdirSync(dist, { recursive: true });
  // Copy then rename: a process that has the old binary loaded keeps a valid mapping.
  const out = join(dist, "rmqtt_js.node");
  copyFileSync(built, `${out}.tmp`);
  renameSync(`${out}.tmp`, out);
  console.log(`  ${built} -> ${out}`);
}

function buildTypeScript() {
  step("TypeScript API: tsc -p lib");
  let tsc;
  try {
    tsc = require.resolve("typescript/bin/tsc");
  } catch {
    if (existsSync(join(dist, "index.js"))) {
      console.log("  typescript is not installed; keeping the prebuilt lib/dist");
      return;
    }
    fail("typescript is not installed and lib/dist is missing: run `npm install` in the repository");
  }
  run(process.execPath, [tsc, "-p", join(root, "lib")], "tsc");
}

function buildGuests() {
  const script = join(root, "scripts", "build-guests.mjs");
  if (!existsSync(join(root, "guest-examples")) || !existsSync(script)) return;
  step("guest policy examples: node scripts/build-guests.mjs");
  run(process.execPath, [script], "building the guest examples");
}

step("toolchain");
checkToolchain();
patchCrates();
buildAddon();
buildTypeScript();
buildGuests();
console.log("\n[rmqtt-js build] done");
