#!/usr/bin/env node
// Builds the guest policies of guest-examples/ into guest-examples/dist/:
//
//   Rust (cargo, wit-bindgen, wasm32-wasip2):
//     rust-acl.wasm, hostile-{loop,membomb,trap,escape,bad-mutation}.wasm, tenant-resolver.wasm,
//     event-echo.wasm
//   JS / TS (through `bin/rmqtt-js.js build-policy`, i.e. jco componentize):
//     js-auth.quickjs.wasm, js-auth.starlingmonkey.wasm,
//     ts-acl.quickjs.wasm, ts-acl.starlingmonkey.wasm
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
const WIT = path.join(ROOT, 'wit', 'rmqtt-hooks-0.1.0');
const CLI = path.join(ROOT, 'bin', 'rmqtt-js.js');
const TARGET = 'wasm32-wasip2';
const CARGO_TARGET_DIR = path.join(GUESTS, 'target');

const RUST_WORKSPACE_FILES = ['Cargo.toml', 'Cargo.lock', '.cargo/config.toml'].map((f) => path.join(GUESTS, f));

// name -> crate folder (relative to guest-examples/)
const RUST = {
  'rust-acl': 'rust-acl',
  'hostile-loop': 'hostile/loop',
  'hostile-membomb': 'hostile/membomb',
  'hostile-trap': 'hostile/trap',
  'hostile-escape': 'hostile/escape',
  'hostile-bad-mutation': 'hostile/bad-mutation',
  'tenant-resolver': 'tenant-resolver',
  'event-echo': 'event-echo',
};

// name -> source, world, engine
const JS = {
  'js-auth.quickjs': { src: 'js-auth/auth.js', world: 'auth-policy', engine: 'quickjs' },
  'js-auth.starlingmonkey': { src: 'js-auth/auth.js', world: 'auth-policy', engine: 'starlingmonkey' },
  'ts-acl.quickjs': { src: 'ts-acl/acl.ts', world: 'policy', engine: 'quickjs' },
  'ts-acl.starlingmonkey': { src: 'ts-acl/acl.ts', world: 'policy', engine: 'starlingmonkey' },
};

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
    (n) => opts.force || !upToDate(path.join(DIST, `${n}.wasm`), [...RUST_WORKSPACE_FILES, path.join(GUESTS, RUST[n]), WIT]),
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
  if (!opts.force && upToDate(out, [path.dirname(src), WIT, CLI])) {
    report(`${name}.wasm`, 'up to date');
    return;
  }
  const t0 = Date.now();
  const args = [CLI, 'build-policy', src, '-o', out, '--engine', spec.engine, '--world', spec.world, '--quiet'];
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
      // Editor / tsc types of ts-acl, through the CLI's policy-types command.
      if (js.some(([n]) => n.startsWith('ts-acl'))) {
        const gen = path.join(GUESTS, 'ts-acl', 'generated');
        if (opts.force || !upToDate(path.join(gen, 'policy.d.ts'), [WIT, CLI])) {
          const r = run(process.execPath, [CLI, 'policy-types', '-o', gen, '--quiet'], { cwd: ROOT });
          if (!r.ok) failures.push(`rmqtt-js policy-types failed:\n${r.out.trim()}`);
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
