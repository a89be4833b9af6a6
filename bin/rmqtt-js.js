#!/usr/bin/env node
'use strict';
// rmqtt-js: the policy author's CLI.
//
//   rmqtt-js build-policy <src.js|src.ts> -o <out.wasm> [--engine quickjs|starlingmonkey]
//                         [--world <world>] [--debug] [--no-check] [--quiet]
//   rmqtt-js policy-types -o <dir> [--world <world>]
//
// A policy is compiled into a WebAssembly component with `jco componentize`
// against the package's own WIT (wit/rmqtt-hooks-0.2.0 by default; `--wit 0.1.0`
// for the older contract, or `--wit <dir>` for a folder of your own). jco
// (@bytecodealliance/jco 1.35 with @bytecodealliance/componentize-js 0.23)
// is looked up in the current project first, then next to this package.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');

const PKG_ROOT = path.resolve(__dirname, '..');
const WIT_VERSIONS = ['0.2.0', '0.1.0'];
const WIT_DIR = witDirOf(WIT_VERSIONS[0]);

/** The package's own WIT folder of `version`. */
function witDirOf(version) {
  return path.join(PKG_ROOT, 'wit', `rmqtt-hooks-${version}`);
}

/** `--wit`: a contract version the package ships (`0.1.0`) or a WIT folder. */
function resolveWit(value) {
  if (!value) return WIT_DIR;
  if (/^\d+\.\d+\.\d+$/.test(value)) {
    if (!WIT_VERSIONS.includes(value)) fail(`--wit ${value}: this package ships rmqtt:hooks ${WIT_VERSIONS.join(' and ')}`);
    return witDirOf(value);
  }
  return path.resolve(value);
}
const DEFAULT_WORLD = 'policy';
const DEFAULT_ENGINE = 'quickjs';
const SOURCE_EXTS = ['.js', '.mjs', '.ts', '.mts'];

// The flags every engine needs (see guest-examples/README.md for why).
const ENGINES = {
  // QuickJS: ~1.6 MB, ~1 s to build, 7-12 µs per call. Synchronous exports
  // (wasmtime 48 rejects component-model async) and, unless --debug, no WASI
  // import at all: the component imports only rmqtt:hooks/host.
  quickjs: (debug) => [
    '--backend', 'quickjs',
    '--backend-qjs-disable-async',
    ...(debug ? [] : ['--backend-qjs-stub-wasi']),
  ],
  // StarlingMonkey (SpiderMonkey): ~12 MB, ~8 s to build, 23-37 µs per call.
  // `--disable all` drops wasi:http & co, which the broker does not provide.
  starlingmonkey: (debug) => (debug ? ['--disable', 'http', 'fetch-event'] : ['--disable', 'all']),
};
const ENGINE_ALIASES = { qjs: 'quickjs', sm: 'starlingmonkey', spidermonkey: 'starlingmonkey' };

const USAGE = `Usage:
  rmqtt-js build-policy <src.js|src.ts> -o <out.wasm> [options]
      Compile a JavaScript or TypeScript hook policy into a WebAssembly component.
      --engine <quickjs|starlingmonkey>  JS engine inside the component (default: ${DEFAULT_ENGINE})
      --world <world>                    WIT world to build (default: ${DEFAULT_WORLD}); one of:
                                         ${listWorlds().join(', ')}
      --debug                            keep WASI stdio: uncaught exceptions and console output
                                         reach the broker log (bigger WASI surface)
      --no-check                         do not type-check a .ts source
      --wit <version|dir>                contract to build against: ${WIT_VERSIONS.join(' or ')} (default: ${WIT_VERSIONS[0]}),
                                         or a WIT folder of your own (its deps/ may hold rmqtt:hooks)
      -q, --quiet                        print nothing on success
  rmqtt-js policy-types -o <dir> [--world <world>] [--wit <version|dir>]
      Write the TypeScript declarations of the policy contract (jco guest-types).
  rmqtt-js help`;

class CliError extends Error {}

function fail(msg) {
  throw new CliError(msg);
}

function listWorlds(witDir = WIT_DIR) {
  const worlds = [];
  let files = [];
  try {
    files = fs.readdirSync(witDir).filter((f) => f.endsWith('.wit'));
  } catch {
    return worlds;
  }
  for (const f of files) {
    const text = fs.readFileSync(path.join(witDir, f), 'utf8');
    for (const m of text.matchAll(/^\s*world\s+([a-z][a-z0-9-]*)\s*\{/gm)) worlds.push(m[1]);
  }
  return worlds;
}

/** The directory of an installed package, searched upward from each base. */
function findPackage(name, bases) {
  for (const base of bases) {
    let dir = path.resolve(base);
    for (;;) {
      const pj = path.join(dir, 'node_modules', ...name.split('/'), 'package.json');
      if (fs.existsSync(pj)) return path.dirname(pj);
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return null;
}

function pkgVersion(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

/** Locates jco and checks the versions known to work with the broker. */
function locateJco() {
  const jcoDir = findPackage('@bytecodealliance/jco', [process.cwd(), PKG_ROOT]);
  if (!jcoDir) {
    fail(
      'jco is not installed. build-policy needs it in your project:\n' +
        '  npm install -D @bytecodealliance/jco@1.35.0 @bytecodealliance/componentize-js@0.23.0\n' +
        'and, in package.json, "overrides": { "@bytecodealliance/componentize-js": "0.23.0",\n' +
        '  "@bytecodealliance/preview2-shim": "0.25.0" }',
    );
  }
  const warnings = [];
  const jcoVersion = pkgVersion(jcoDir);
  if (!jcoVersion.startsWith('1.35.')) {
    warnings.push(`jco ${jcoVersion} found; rmqtt-js is tested with 1.35.0`);
  }
  // jco uses the componentize-js it resolves from its own folder.
  const cjsDir = findPackage('@bytecodealliance/componentize-js', [jcoDir]);
  if (cjsDir && pkgVersion(cjsDir).startsWith('0.22.')) {
    warnings.push(
      `jco uses @bytecodealliance/componentize-js ${pkgVersion(cjsDir)} (${cjsDir}): StarlingMonkey ` +
        'policies built with it are ~15x slower per call; pin 0.23.0 with package.json "overrides"',
    );
  }
  const shimDir = findPackage('@bytecodealliance/preview2-shim', [jcoDir]);
  if (shimDir && !pkgVersion(shimDir).startsWith('0.25.')) {
    warnings.push(
      `jco uses @bytecodealliance/preview2-shim ${pkgVersion(shimDir)}; with 0.26 jco cannot read ` +
        'WIT folders ("failed to get path metadata"): pin 0.25.0 with package.json "overrides"',
    );
  }
  const bin = path.join(jcoDir, JSON.parse(fs.readFileSync(path.join(jcoDir, 'package.json'), 'utf8')).bin.jco);
  return { bin, dir: jcoDir, version: jcoVersion, warnings };
}

/** Runs jco; on failure shows its whole output. */
function runJco(jco, args, what) {
  const r = spawnSync(process.execPath, [jco.bin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = `${r.stdout || ''}${r.stderr || ''}`.trim();
  if (r.error) fail(`${what}: cannot run jco (${jco.bin}): ${r.error.message}`);
  if (r.status !== 0) {
    fail(`${what} failed (jco exit ${r.status ?? r.signal}):\n  node ${jco.bin} ${args.join(' ')}\n${out}`);
  }
  return out;
}

function parseArgs(argv, spec) {
  const opts = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      opts._.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      opts._.push(a);
      continue;
    }
    let [key, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const name = spec.alias[key] || key;
    if (spec.flags.includes(name)) {
      if (inline !== undefined) fail(`option ${key} takes no value`);
      opts[name] = true;
    } else if (spec.values.includes(name)) {
      const v = inline !== undefined ? inline : argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('-'))) fail(`option ${key} needs a value`);
      opts[name] = v;
    } else {
      fail(`unknown option ${key}`);
    }
  }
  return opts;
}

function checkWorld(world, witDir) {
  const worlds = listWorlds(witDir);
  if (!worlds.includes(world)) fail(`unknown world "${world}"; ${witDir} has: ${worlds.join(', ')}`);
}

function checkWitDir(witDir) {
  if (!fs.existsSync(witDir) || !fs.statSync(witDir).isDirectory()) fail(`WIT folder not found: ${witDir}`);
}

/** Writes the guest type declarations for `world` into `outDir`. */
function generateTypes(jco, witDir, world, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  runJco(jco, ['guest-types', witDir, '--world-name', world, '--quiet', '-o', outDir], 'jco guest-types');
  return path.join(outDir, `${world}.d.ts`);
}

/**
 * Type-checks a TypeScript policy against the generated declarations, and
 * checks that its exports match the world even where the source has no type
 * annotations (through a generated module that assigns them to the world).
 */
function typeCheck(src, typesFile, world, witDir, log) {
  const tsDir = findPackage('typescript', [path.dirname(src), process.cwd(), PKG_ROOT]);
  if (!tsDir) {
    log('note: typescript is not installed, skipping the type check (jco strips the types)');
    return;
  }
  const ts = require(tsDir);
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
  };
  const pkg = /^\s*package\s+([^;]+);/m.exec(fs.readFileSync(path.join(witDir, fs.readdirSync(witDir).find((f) => f.endsWith('.wit'))), 'utf8'));
  const [ns, ver] = pkg ? pkg[1].trim().split('@') : ['rmqtt:hooks', '0.2.0'];
  const keys = worldExports(world, witDir).map((q) => camel(q.replace(/^.*\//, '').replace(/@.*$/, '')));
  const checkFile = path.join(path.dirname(typesFile), '__rmqtt_js_contract.ts');
  fs.writeFileSync(
    checkFile,
    `import type * as World from '${ns}/${world}${ver ? `@${ver}` : ''}';\n` +
      `import * as Policy from ${JSON.stringify(src)};\n` +
      `export const contract: { ${keys.map((k) => `${k}: typeof World.${k}`).join('; ')} } = Policy;\n`,
  );
  const program = ts.createProgram([src, typesFile, checkFile], options);
  const diags = ts.getPreEmitDiagnostics(program);
  if (diags.length > 0) {
    const host = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => process.cwd(),
      getNewLine: () => '\n',
    };
    fail(`type errors in ${src} (use --no-check to build anyway):\n${ts.formatDiagnostics(diags, host).trimEnd()}`);
  }
}

/** `jco wit` of a component: its imports and exports. */
function inspect(jco, wasm) {
  const out = runJco(jco, ['wit', wasm], 'jco wit');
  const imports = [...out.matchAll(/^\s*import ([^:;\s]+:[^;\s]+);/gm)].map((m) => m[1]);
  const exports = [...out.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1].replace(/:\s*func.*/, ''));
  return { imports, exports };
}

/** Every WIT package under `witDir` (its `deps/` included): `{ ns, ver, text, root }`. */
function witPackages(witDir) {
  const out = [];
  const walk = (dir, root) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) {
        walk(p, false);
      } else if (name.endsWith('.wit')) {
        const text = fs.readFileSync(p, 'utf8');
        const pkg = /^\s*package\s+([^;]+);/m.exec(text);
        if (pkg) {
          const [ns, ver] = pkg[1].trim().split('@');
          out.push({ ns, ver, text, root });
        }
      }
    }
  };
  walk(witDir, true);
  return out;
}

/**
 * The interfaces a world exports, fully qualified (`ns:pkg/iface@ver`),
 * following `include`s into other packages (a world of your own that
 * includes `rmqtt:hooks/auth-policy@0.2.0` and adds `export lifecycle`).
 */
function worldExports(world, witDir, pkgs = witPackages(witDir), seen = new Set()) {
  // `world` is a name in the root package, or `ns:pkg/name@ver`.
  const q = /^([^/]+)\/([^@]+)(?:@(.+))?$/.exec(world);
  const candidates = q
    ? pkgs.filter((p) => p.ns === q[1] && (q[3] === undefined || p.ver === q[3]))
    : pkgs.filter((p) => p.root);
  const name = q ? q[2] : world;
  for (const p of candidates) {
    const m = new RegExp(`^\\s*world\\s+${name}\\s*\\{([^}]*)\\}`, 'm').exec(p.text);
    if (!m) continue;
    const key = `${p.ns}/${name}@${p.ver}`;
    if (seen.has(key)) return [];
    seen.add(key);
    const qualify = (iface) => (iface.includes(':') ? iface : `${p.ns}/${iface}${p.ver ? `@${p.ver}` : ''}`);
    const out = [];
    for (const e of m[1].matchAll(/^\s*(export|include)\s+([^;:\s]+(?::[^;\s]+)?)\s*;/gm)) {
      if (e[1] === 'export') out.push(qualify(e[2]));
      else out.push(...worldExports(e[2].includes(':') ? e[2] : qualify(e[2]), witDir, pkgs, seen));
    }
    return out;
  }
  return [];
}

const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/**
 * Checks that the module exports one object per interface of the world.
 * QuickJS builds do not check it: a missing export becomes a component
 * export that traps on every call. The module is bundled with the rolldown
 * that jco itself uses, so re-exports are followed.
 */
async function checkModuleExports(jcoDir, src, world, witDir, log) {
  let rolldown;
  try {
    const entry = createRequire(path.join(jcoDir, 'package.json')).resolve('rolldown');
    ({ rolldown } = await import(pathToFileURL(entry).href));
  } catch {
    log('note: rolldown (a jco dependency) not found, skipping the export check');
    return;
  }
  let names;
  try {
    const bundle = await rolldown({ input: src, external: [/^rmqtt:/, /^wasi:/], logLevel: 'silent' });
    const { output } = await bundle.generate({ format: 'esm' });
    await bundle.close();
    names = output[0].exports;
  } catch (e) {
    fail(`cannot bundle ${src}:\n${e && e.message ? e.message : e}`);
  }
  const wanted = worldExports(world, witDir).map((q) => camel(q.replace(/^.*\//, '').replace(/@.*$/, '')));
  const missing = wanted.filter((n) => !names.includes(n));
  if (missing.length) {
    fail(
      `${path.basename(src)} does not export ${missing.map((n) => `"${n}"`).join(', ')}, required by world ${world}` +
        ` (it exports: ${names.join(', ') || 'nothing'}).\n` +
        `Export one object per interface, e.g. \`export const ${missing[0]} = { ... }\`, or pick the world ` +
        `that matches the hooks you implement (--world ${listWorlds(witDir).join('|')}).`,
    );
  }
}

/** `rmqtt:hooks/host@0.1.0, wasi:{cli,io}@0.2.12 (12 interfaces)` */
function summarizeImports(imports) {
  const own = imports.filter((i) => !i.startsWith('wasi:') && !/\/types@/.test(i));
  const wasi = imports.filter((i) => i.startsWith('wasi:'));
  const pkgs = [...new Set(wasi.map((i) => i.slice(5, i.indexOf('/'))))];
  const vers = [...new Set(wasi.map((i) => i.slice(i.indexOf('@') + 1)))];
  const parts = [...own];
  if (wasi.length) parts.push(`wasi:{${pkgs.join(',')}}@${vers.join('|')} (${wasi.length} interfaces)`);
  return parts.join(', ') || '(none)';
}

async function buildPolicy(argv) {
  const o = parseArgs(argv, {
    flags: ['--debug', '--no-check', '--quiet', '--help'],
    values: ['--out', '--engine', '--world', '--wit'],
    alias: { '-o': '--out', '-q': '--quiet', '-h': '--help', '-e': '--engine', '-w': '--world', '-n': '--world' },
  });
  if (o['--help']) return void console.log(USAGE);
  if (o._.length !== 1) fail(o._.length === 0 ? 'build-policy: missing the policy source file' : `build-policy: one source file expected, got: ${o._.join(' ')}`);
  if (!o['--out']) fail('build-policy: missing -o <out.wasm>');
  const quiet = !!o['--quiet'];
  const log = (m) => quiet || console.error(m);

  const src = path.resolve(o._[0]);
  if (!fs.existsSync(src)) fail(`policy source not found: ${o._[0]}`);
  if (!fs.statSync(src).isFile()) fail(`policy source is not a file: ${o._[0]}`);
  const ext = path.extname(src).toLowerCase();
  if (!SOURCE_EXTS.includes(ext)) fail(`policy source must be ${SOURCE_EXTS.join(', ')}: ${o._[0]}`);
  const isTs = ext === '.ts' || ext === '.mts';

  const engineArg = (o['--engine'] || DEFAULT_ENGINE).toLowerCase();
  const engine = ENGINE_ALIASES[engineArg] || engineArg;
  if (!ENGINES[engine]) fail(`unknown engine "${o['--engine']}": use quickjs (default) or starlingmonkey`);

  const witDir = resolveWit(o['--wit']);
  checkWitDir(witDir);
  const world = o['--world'] || DEFAULT_WORLD;
  checkWorld(world, witDir);

  const out = path.resolve(o['--out']);
  if (path.extname(out) !== '.wasm') log(`note: output ${o['--out']} does not end in .wasm`);
  fs.mkdirSync(path.dirname(out), { recursive: true });

  const jco = locateJco();
  for (const w of jco.warnings) console.error(`warning: ${w}`);

  const t0 = Date.now();
  await checkModuleExports(jco.dir, src, world, witDir, log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rmqtt-js-policy-'));
  try {
    if (isTs && !o['--no-check']) {
      typeCheck(src, generateTypes(jco, witDir, world, path.join(tmp, 'types')), world, witDir, log);
    }
    // Bundle (rolldown, inside jco) so local imports work with every engine;
    // the WIT imports stay external.
    const bundleConfig = path.join(tmp, 'rolldown.config.mjs');
    fs.writeFileSync(bundleConfig, 'export default { external: [/^rmqtt:/, /^wasi:/] };\n');
    const tmpOut = path.join(tmp, 'policy.wasm');
    const args = [
      'componentize', src,
      '--wit', witDir,
      '--world-name', world,
      ...ENGINES[engine](!!o['--debug']),
      '--bundle', '--bundle-config', bundleConfig,
      '-o', tmpOut,
    ];
    runJco(jco, args, `jco componentize (${engine})`);

    // Check that the component exports what the world promises.
    const { imports, exports } = inspect(jco, tmpOut);
    const missing = worldExports(world, witDir).filter((e) => !exports.includes(e));
    if (missing.length) {
      fail(`the built component lacks exports of world ${world}: ${missing.join(', ')}\n(it exports: ${exports.join(', ')}); ` +
        'a policy module must export one object per WIT interface, e.g. `export const authenticate = { authenticate(req) {...} }`');
    }
    // Rename into place: a reader never sees a half-written file.
    fs.copyFileSync(tmpOut, `${out}.tmp`);
    fs.renameSync(`${out}.tmp`, out);
    const size = fs.statSync(out).size;
    log(
      `built ${path.relative(process.cwd(), out) || out} (${engine}, world ${world}) ` +
        `${(size / 1048576).toFixed(2)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
        `  imports: ${summarizeImports(imports)}`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function policyTypes(argv) {
  const o = parseArgs(argv, {
    flags: ['--quiet', '--help'],
    values: ['--out', '--world', '--wit'],
    alias: { '-o': '--out', '-q': '--quiet', '-h': '--help', '-w': '--world', '-n': '--world' },
  });
  if (o['--help']) return void console.log(USAGE);
  if (o._.length) fail(`policy-types: unexpected argument ${o._[0]}`);
  if (!o['--out']) fail('policy-types: missing -o <dir>');
  const witDir = resolveWit(o['--wit']);
  checkWitDir(witDir);
  const world = o['--world'] || DEFAULT_WORLD;
  checkWorld(world, witDir);
  const jco = locateJco();
  for (const w of jco.warnings) console.error(`warning: ${w}`);
  const file = generateTypes(jco, witDir, world, path.resolve(o['--out']));
  if (!o['--quiet']) {
    console.error(`wrote ${path.relative(process.cwd(), file)} (world ${world}) and its interfaces/*.d.ts`);
  }
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'build-policy':
      return buildPolicy(rest);
    case 'policy-types':
      return policyTypes(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      fail(`unknown command "${cmd}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof CliError) {
    console.error(`rmqtt-js: ${e.message}`);
  } else {
    console.error(e);
  }
  process.exitCode = 1;
});
