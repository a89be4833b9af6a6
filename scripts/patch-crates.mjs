#!/usr/bin/env node
// Lays out the crates.io crates that rmqtt-js patches, with its patches
// applied, under .crates-patched/<crate>-<version>/ (the root Cargo.toml's
// [patch.crates-io] points there). Each folder patches/<crate>-<version>/
// holds NNNN-what.patch files (unified diffs, -p1, each with a header saying
// why and what it measured), applied in name order to the exact sources of
// that version as published on crates.io. Nothing of a third party's source
// is committed: the sources come from cargo's registry cache.
//
// Idempotent and cheap: a stamp of the patches' contents skips a crate whose
// patched copy is current. Build and test scripts run it before cargo.
//
//   node scripts/patch-crates.mjs
//
// Writing a patch: edit the copy in .crates-patched/<crate>-<version>/ (cargo
// builds it at once), then save the change of the named files as a patch
// (a new one, or the same one again after more edits; its header is kept):
//
//   node scripts/patch-crates.mjs --save rmqtt-0.24.0 0002-what.patch src/v5.rs

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const patchesDir = join(root, "patches");
const outDir = join(root, ".crates-patched");
const STAMP = ".rmqtt-js-patches";

function fail(message) {
  console.error(`\n[rmqtt-js patch-crates] ERROR: ${message}\n`);
  process.exit(1);
}

/** `rmqtt-net-0.5.0` → { name: "rmqtt-net", version: "0.5.0" }. */
function parseCrateDir(dir) {
  const m = /^(.+)-(\d+\.\d+\.\d+(?:[-+][\w.]+)?)$/.exec(dir);
  if (!m) fail(`patches/${dir}: name the folder <crate>-<version>, e.g. rmqtt-net-0.5.0`);
  return { name: m[1], version: m[2] };
}

function cargoHome() {
  return process.env.CARGO_HOME || join(homedir(), ".cargo");
}

/** The downloaded `.crate` archive of name@version, if cargo has it. */
function findCrateArchive({ name, version }) {
  const cache = join(cargoHome(), "registry", "cache");
  if (!existsSync(cache)) return null;
  for (const index of readdirSync(cache)) {
    const file = join(cache, index, `${name}-${version}.crate`);
    if (existsSync(file)) return file;
  }
  return null;
}

/** Has cargo download the exact versions (a throwaway project, so this works before the workspace resolves). */
function fetchCrates(crates) {
  const dir = mkdtempSync(join(tmpdir(), "rmqtt-js-fetch-"));
  try {
    const deps = crates.map((c) => `${JSON.stringify(c.name)} = "=${c.version}"`).join("\n");
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src", "lib.rs"), "");
    writeFileSync(
      join(dir, "Cargo.toml"),
      `[package]\nname = "rmqtt-js-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n${deps}\n`,
    );
    const r = spawnSync("cargo", ["fetch", "--quiet"], { cwd: dir, stdio: "inherit" });
    if (r.error) fail(`cannot run cargo: ${r.error.message}`);
    if (r.status !== 0) fail(`cargo fetch of ${crates.map((c) => `${c.name}@${c.version}`).join(", ")} failed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) fail(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed:\n${r.stdout}${r.stderr}`);
}

/** The crates with patches, each with its patch files in order and their stamp. */
function patchedCrates() {
  if (!existsSync(patchesDir)) return [];
  return readdirSync(patchesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const crate = parseCrateDir(d.name);
      const dir = join(patchesDir, d.name);
      const patches = readdirSync(dir)
        .filter((f) => f.endsWith(".patch"))
        .sort()
        .map((f) => join(dir, f));
      const hash = createHash("sha256");
      for (const p of patches) hash.update(p.slice(dir.length)).update(readFileSync(p));
      return { ...crate, folder: d.name, patches, stamp: hash.digest("hex") };
    });
}

/** Unpacks the pristine sources of `c` into `parent` (as parent/<crate>-<version>) and applies `patches`. */
function layOut(c, parent, patches) {
  const archive = findCrateArchive(c);
  if (!archive) fail(`cargo did not download ${c.name}@${c.version}`);
  const target = join(parent, c.folder);
  rmSync(target, { recursive: true, force: true });
  // A .crate is a gzipped tar of one folder named <crate>-<version>.
  run("tar", ["-xzf", archive, "-C", parent], `unpacking ${c.folder}`);
  for (const p of patches) {
    run(
      "patch",
      ["-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-s", "-d", target, "-i", p],
      `applying ${p.slice(root.length + 1)} to ${c.folder}`,
    );
  }
  return target;
}

/** `--save <folder> <name.patch> <file...>`: the edits of those files in .crates-patched as a patch. */
function save([folder, name, ...files]) {
  if (!folder || !name?.endsWith(".patch") || files.length === 0) {
    fail("usage: --save <crate>-<version> NNNN-what.patch <file in the crate>...");
  }
  const c = { ...parseCrateDir(folder), folder };
  const dir = join(patchesDir, folder);
  const file = join(dir, name);
  const before = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".patch") && f < name)
        .sort()
        .map((f) => join(dir, f))
    : [];
  if (!findCrateArchive(c)) fetchCrates([c]);
  const tmp = mkdtempSync(join(tmpdir(), "rmqtt-js-patch-"));
  try {
    const base = layOut(c, tmp, before);
    let diff = "";
    for (const f of files) {
      const r = spawnSync(
        "diff",
        ["-uN", "--label", `a/${f}`, "--label", `b/${f}`, join(base, f), join(outDir, folder, f)],
        { encoding: "utf8" },
      );
      if (r.status === 2) fail(`diff of ${f} failed: ${r.stderr}`);
      diff += r.stdout;
    }
    if (!diff) fail(`no change in ${files.join(", ")} against ${folder} with the patches before ${name}`);
    const old = existsSync(file) ? readFileSync(file, "utf8") : "";
    const cut = old.search(/^--- a\//m);
    const header =
      cut > 0
        ? old.slice(0, cut)
        : `Subject: [PATCH] (one line: what)\n\nWhy: (what fails without it, as measured)\n\nWhat: (the change, and what it measured after)\n\n`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, header + diff);
    // The working copy already holds this change: mark it current, so that
    // the next run does not lay it out anew (which would drop edits of other
    // files not saved yet).
    const current = patchedCrates().find((p) => p.folder === folder);
    if (current && existsSync(join(outDir, folder))) writeFileSync(join(outDir, folder, STAMP), current.stamp);
    console.log(`[rmqtt-js patch-crates] wrote ${file.slice(root.length + 1)}${cut > 0 ? "" : " (write its header)"}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  if (process.argv[2] === "--save") return save(process.argv.slice(3));
  const crates = patchedCrates();
  const stale = crates.filter((c) => {
    const stamp = join(outDir, c.folder, STAMP);
    return !existsSync(stamp) || readFileSync(stamp, "utf8") !== c.stamp;
  });
  if (stale.length === 0) return;
  const missing = stale.filter((c) => !findCrateArchive(c));
  if (missing.length > 0) fetchCrates(missing);
  mkdirSync(outDir, { recursive: true });
  for (const c of stale) {
    const target = layOut(c, outDir, c.patches);
    writeFileSync(join(target, STAMP), c.stamp);
    console.log(`[rmqtt-js patch-crates] ${c.folder}: ${c.patches.length} patch(es) applied`);
  }
}

main();
