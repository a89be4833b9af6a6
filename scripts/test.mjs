#!/usr/bin/env node
// `npm test`: the Rust suites (cargo test --release --workspace, the same
// profile as the addon, so nothing is compiled twice) and the Node suites
// (node --test test/). Both always run; prints each runner's summary and
// exits non-zero if either failed.

import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Runs a command, streaming its output, and returns its status and lines. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const lines = [];
    let partial = "";
    const collect = (chunk, out) => {
      out.write(chunk);
      const text = partial + chunk.toString("utf8");
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
    };
    child.stdout.on("data", (c) => collect(c, process.stdout));
    child.stderr.on("data", (c) => collect(c, process.stderr));
    child.on("error", (e) => resolve({ status: 127, lines: [`cannot run ${cmd}: ${e.message}`] }));
    child.on("close", (status, signal) => {
      if (partial) lines.push(partial);
      resolve({ status: status ?? (signal ? 128 : 1), lines });
    });
  });
}

function cargoSummary(lines) {
  const totals = { passed: 0, failed: 0, ignored: 0, suites: 0 };
  for (const line of lines) {
    const m = /^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/.exec(line.trim());
    if (!m) continue;
    totals.suites += 1;
    totals.passed += Number(m[1]);
    totals.failed += Number(m[2]);
    totals.ignored += Number(m[3]);
  }
  return `${totals.passed} passed, ${totals.failed} failed, ${totals.ignored} ignored (${totals.suites} test binaries)`;
}

function nodeSummary(lines) {
  const counts = {};
  for (const line of lines) {
    const m = /^(?:#|ℹ) (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line.trim());
    if (m) counts[m[1]] = Number(m[2]);
  }
  if (counts.tests === undefined) return "no summary (did the runner start?)";
  return ["tests", "pass", "fail", "cancelled", "skipped", "todo"]
    .filter((k) => counts[k] !== undefined)
    .map((k) => `${k} ${counts[k]}`)
    .join(", ");
}

function hasNodeTests(dir) {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { recursive: true }).some((f) => /\.(c|m)?js$/.test(String(f)));
}

console.log("[rmqtt-js test] cargo test --release --workspace");
// The patched crates first (a no-op when they are current): see patches/README.md.
const patched = await run(process.execPath, [join(root, "scripts", "patch-crates.mjs")]);
if (patched.status !== 0) process.exit(patched.status);
const cargo = await run("cargo", ["test", "--release", "--workspace"]);

let node = { status: 0, lines: [] };
let nodeNote = "";
if (!existsSync(join(root, "lib", "dist", "index.js")) || !existsSync(join(root, "lib", "dist", "rmqtt_js.node"))) {
  node = { status: 1, lines: [] };
  nodeNote = "lib/dist is not built: run `npm install` (or `npm run build`) first";
} else if (!hasNodeTests(join(root, "test"))) {
  nodeNote = "no test files in test/";
} else {
  console.log("\n[rmqtt-js test] node --test test/");
  node = await run(process.execPath, ["--test", "test/"]);
}

console.log("\n[rmqtt-js test] summary");
console.log(`  cargo test: ${cargo.status === 0 ? "ok" : "FAILED"} — ${cargoSummary(cargo.lines)}`);
console.log(`  node --test: ${node.status === 0 ? "ok" : "FAILED"} — ${nodeNote || nodeSummary(node.lines)}`);
process.exit(cargo.status === 0 && node.status === 0 ? 0 : 1);
