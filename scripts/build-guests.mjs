#!/usr/bin/env node
// Builds the guest policies of guest-examples/ into guest-examples/dist/:
//
//   Rust (cargo, wit-bindgen, wasm32-wasip2):
//     rust-acl.wasm, hostile-{loop,membomb,trap,escape,bad-mutation}.wasm, tenant-resolver.wasm,
//     event-echo.wasm (rmqtt:hooks@0.1.0); rust-policy-v2.wasm (0.2.0)
//   JS / TS (through `bin/rmqtt-js.js build-policy`, i.e. jco componentize), each as
//   <name>.quickjs.wasm and <name>.starlingmonkey.wasm:
//     js-auth, ts-acl (0.1.0); ts-jwt-auth, ts-user-table, js-throw-probe (0.2.0)
//   TS declarations (`rmqtt-js policy-types`) into <example>/generated/ for editors and tsc.
//
// An output newer than all of its sources is skipped. Options:
//   --force          rebuild everything
//   --only <list>    comma-separated: output names (rust-acl, ts-acl.quickjs, ...),
//                    or the groups `rust`, `js`, `quickjs`, `starlingmonkey`
//   --quiet          print only failures
// Exit status: 0 when every selected output is built or up to date, 1 otherwise.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GUESTS = path.join(ROOT, 'guest-examples');
const DIST = path.join(GUESTS, 'dist');
const WIT_V1 = path.join(ROOT, 'wit', 'rmqtt-hooks-0.1.0');
const WIT_V2 = path.join(ROOT, 'wit', 'rmqtt-hooks-0.2.0');
const CLI = path.join(ROOT, 'bin', 'rmqtt-js.js');
const TARGET = 'wasm32-wasip2';
const CARGO_TARGET_DIR = path.join(GUESTS, 'target');

const RUST_WORKSPACE_FILES = ['Cargo.toml', 'Cargo.lock', '.cargo/config.toml'].map((f) => path.join(GUESTS, f));

// name -> crate folder (relative to guest-examples/), WIT package its bindings read
// (the crate's `generate!` names the path itself; this is for the up-to-date check)
const RUST = {
  'rust-acl': { dir: 'rust-acl', wit: WIT_V1 },
  'hostile-loop': { dir: 'hostile/loop', wit: WIT_V1 },
  'hostile-membomb': { dir: 'hostile/membomb', wit: WIT_V1 },
  'hostile-trap': { dir: 'hostile/trap', wit: WIT_V1 },
  'hostile-escape': { dir: 'hostile/escape', wit: WIT_V1 },
  'hostile-bad-mutation': { dir: 'hostile/bad-mutation', wit: WIT_V1 },
  'tenant-resolver': { dir: 'tenant-resolver', wit: WIT_V1 },
  'event-echo': { dir: 'event-echo', wit: WIT_V1 },
  'rust-policy-v2': { dir: 'rust-policy-v2', wit: WIT_V2 },
};

// JS / TS policies: source, world, WIT package, and extra source folders (local
// imports, bundled in) for the up-to-date check. Each is built with both engines.
const JS_SOURCES = {
  'js-auth': { src: 'js-auth/auth.js', world: 'auth-policy', wit: WIT_V1 },
  'ts-acl': { src: 'ts-acl/acl.ts', world: 'policy', wit: WIT_V1 },
  'ts-jwt-auth': { src: 'ts-jwt-auth/jwt-auth.ts', world: 'acl-policy', wit: WIT_V2, extra: ['ts-lib'] },
  'ts-user-table': { src: 'ts-user-table/user-table.ts', world: 'acl-policy', wit: WIT_V2, extra: ['ts-lib'] },
  'js-throw-probe': { src: 'js-throw-probe/probe.js', world: 'auth-policy', wit: WIT_V2 },
};
const ENGINES = ['quickjs', 'starlingmonkey'];

// output name (`ts-acl.quickjs`) -> { src, world, wit, extra, engine }
const JS = Object.fromEntries(
  Object.entries(JS_SOURCES).flatMap(([name, spec]) => ENGINES.map((engine) => [`${name}.${engine}`, { ...spec, engine }])),
);

// TS examples whose declarations are generated into <folder>/generated/<world>.d.ts
// (their tsconfig.json names that file), regenerated when the WIT or the CLI changes.
const TYPES = Object.entries(JS_SOURCES)
  .filter(([, spec]) => spec.src.endsWith('.ts'))
  .map(([name, spec]) => ({ name, dir: path.join(GUESTS, path.dirname(spec.src), 'generated'), world: spec.world, wit: spec.wit }));

class BuildError extends Error {}

function parseArgs(argv) {
  const o = { force: false, only: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') o.force = true;
    else if (a === '--quiet' || a === '-q') o.quiet = true;
    else if (a === '--only') o.only = (argv[++i] || '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',').filter(Boolean);
    else throw new BuildError(`unknown option ${a} (use --force, --only <names>, --quiet)`);
  }
  return o;
}

function selected(only, name, groups) {
  if (!only) return true;
  return only.includes(name) || only.some((g) => groups.includes(g));
}

/** Newest mtime among files (recursively for folders); ignores target/ and node_modules/. */
function newest(paths) {
  let max = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      const base = path.basename(p);
      if (base === 'target' || base === 'node_modules' || base === 'generated' || base === 'dist') return;
      for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    } else {
      max = Math.max(max, st.mtimeMs);
    }
  };
  paths.forEach(visit);
  return max;
}

function upToDate(out, sources) {
  try {
    return fs.statSync(out).mtimeMs >= newest(sources);
  } catch {
    return false;
  }
}

function fmtSize(bytes) {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ok: !r.error && r.status === 0, status: r.status, error: r.error, out: `${r.stdout || ''}${r.stderr || ''}` };
}

/** Makes sure cargo and the wasm32-wasip2 standard library are there. */
function ensureRustToolchain(log) {
  const cargo = run('cargo', ['--version']);
  if (!cargo.ok) {
    throw new BuildError(
      'cargo not found: the Rust guest policies need Rust (https://rustup.rs) with the wasm32-wasip2 target',
    );
  }
  const rustup = run('rustup', ['target', 'list', '--installed'], { cwd: GUESTS });
  if (rustup.ok) {
    if (rustup.out.split(/\s+/).includes(TARGET)) return;
    log(`rustup target add ${TARGET}`);
    const add = run('rustup', ['target', 'add', TARGET], { cwd: GUESTS });
    if (!add.ok) throw new BuildError(`\`rustup target add ${TARGET}\` failed:\n${add.out.trim()}`);
    return;
  }
  // No rustup (a distribution's Rust): the target library must already be there.
  const sysroot = run('rustc', ['--print', 'sysroot'], { cwd: GUESTS });
  if (sysroot.ok && fs.existsSync(path.join(sysroot.out.trim(), 'lib', 'rustlib', TARGET))) return;
  throw new BuildError(
    `the Rust target ${TARGET} is not installed and rustup is not available to install it ` +
      `(${rustup.error ? rustup.error.message : rustup.out.trim()}); install rustup, then \`rustup target add ${TARGET}\``,
  );
}

function buildRust(names, opts, report) {
  const stale = names.filter(
    (n) =>
      opts.force || !upToDate(path.join(DIST, `${n}.wasm`), [...RUST_WORKSPACE_FILES, path.join(GUESTS, RUST[n].dir), RUST[n].wit]),
  );
  for (const n of names) if (!stale.includes(n)) report(`${n}.wasm`, 'up to date');
  if (stale.length === 0) return;
  ensureRustToolchain(opts.log);
  const env = { ...process.env };
  // Flags meant for the host build (e.g. target-cpu=native) do not apply to wasm.
  delete env.RUSTFLAGS;
  delete env.CARGO_ENCODED_RUSTFLAGS;
  delete env.CARGO_BUILD_TARGET;
  const args = ['build', '--release', '--locked', '--target', TARGET, '--target-dir', CARGO_TARGET_DIR];
  for (const n of stale) args.push('-p', n);
  opts.log(`cargo ${args.join(' ')}`);
  const t0 = Date.now();
  // cwd inside guest-examples/, so its .cargo/config.toml applies.
  const r = run('cargo', args, { cwd: GUESTS, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const secs = (Date.now() - t0) / 1000;
  if (!r.ok) throw new BuildError(`cargo build of the Rust guests failed (exit ${r.status}):\n${r.out.trim()}`);
  for (const n of stale) {
    const built = path.join(CARGO_TARGET_DIR, TARGET, 'release', `${n.replace(/-/g, '_')}.wasm`);
    if (!fs.existsSync(built)) throw new BuildError(`cargo succeeded but ${built} is missing`);
    const out = path.join(DIST, `${n}.wasm`);
    fs.copyFileSync(built, `${out}.tmp`);
    fs.renameSync(`${out}.tmp`, out);
    report(`${n}.wasm`, `${fmtSize(fs.statSync(out).size).padStart(9)}  built (one cargo run: ${secs.toFixed(1)} s)`);
  }
}

function buildJs(name, spec, opts, report) {
  const src = path.join(GUESTS, spec.src);
  const out = path.join(DIST, `${name}.wasm`);
  const extra = (spec.extra || []).map((d) => path.join(GUESTS, d));
  if (!opts.force && upToDate(out, [path.dirname(src), ...extra, spec.wit, CLI])) {
    report(`${name}.wasm`, 'up to date');
    return;
  }
  const t0 = Date.now();
  const args = [CLI, 'build-policy', src, '-o', out, '--engine', spec.engine, '--world', spec.world, '--wit', spec.wit, '--quiet'];
  const r = run(process.execPath, args, { cwd: ROOT });
  if (!r.ok) {
    throw new BuildError(`building ${name}.wasm failed:\n  node ${path.relative(ROOT, CLI)} ${args.slice(1).join(' ')}\n${r.out.trim()}`);
  }
  const secs = (Date.now() - t0) / 1000;
  report(`${name}.wasm`, `${fmtSize(fs.statSync(out).size).padStart(9)}  built (${spec.engine}: ${secs.toFixed(1)} s)`);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  opts.log = (m) => opts.quiet || console.log(`build-guests: ${m}`);
  const report = (file, what) => opts.quiet || console.log(`  ${file.padEnd(34)} ${what}`);
  fs.mkdirSync(DIST, { recursive: true });

  if (opts.only) {
    const known = [...Object.keys(RUST), ...Object.keys(JS), 'rust', 'js', 'quickjs', 'starlingmonkey'];
    const unknown = opts.only.filter((n) => !known.includes(n));
    if (unknown.length) throw new BuildError(`--only: unknown ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }

  const failures = [];
  const t0 = Date.now();
  const rust = Object.keys(RUST).filter((n) => selected(opts.only, n, ['rust']));
  if (rust.length) {
    try {
      buildRust(rust, opts, report);
    } catch (e) {
      if (!(e instanceof BuildError)) throw e;
      failures.push(e.message);
    }
  }
  const js = Object.entries(JS).filter(([n, s]) => selected(opts.only, n, ['js', s.engine]));
  if (js.length) {
    if (!fs.existsSync(path.join(ROOT, 'node_modules', '@bytecodealliance', 'jco'))) {
      failures.push(
        'node_modules/@bytecodealliance/jco is missing: run `npm install` in the repository first ' +
          '(devDependencies @bytecodealliance/jco 1.35.0 and @bytecodealliance/componentize-js 0.23.0)',
      );
    } else {
      // Editor / tsc types of the TS examples, through the CLI's policy-types command.
      for (const t of TYPES.filter((t) => js.some(([n]) => n.startsWith(`${t.name}.`)))) {
        if (opts.force || !upToDate(path.join(t.dir, `${t.world}.d.ts`), [t.wit, CLI])) {
          const args = [CLI, 'policy-types', '-o', t.dir, '--world', t.world, '--wit', t.wit, '--quiet'];
          const r = run(process.execPath, args, { cwd: ROOT });
          if (!r.ok) failures.push(`rmqtt-js policy-types (${t.name}) failed:\n${r.out.trim()}`);
        }
      }
      for (const [name, spec] of js) {
        try {
          buildJs(name, spec, opts, report);
        } catch (e) {
          if (!(e instanceof BuildError)) throw e;
          failures.push(e.message);
        }
      }
    }
  }
  if (failures.length) {
    console.error(`build-guests: FAILED\n\n${failures.join('\n\n')}`);
    process.exit(1);
  }
  opts.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${path.relative(ROOT, DIST)}/`);
}

try {
  main();
} catch (e) {
  if (e instanceof BuildError) {
    console.error(`build-guests: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
