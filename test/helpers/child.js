"use strict";
// Child Node processes: spawn, read their output, await their exit.

const { spawn } = require("node:child_process");
const path = require("node:path");
const { withTimeout } = require("./wait");

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Spawns `node ...args` in the package root. The child is killed when the test
 * ends if it is still running.
 * @returns {{child, output: () => string, waitForOutput: (re: RegExp, ms?: number) => Promise<string>, exit: (ms?: number) => Promise<{code: number|null, signal: string|null}>}}
 */
function spawnNode(t, args, { env = {}, cwd = ROOT } = {}) {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const watchers = [];
  const onData = (chunk) => {
    out += chunk.toString();
    for (const w of [...watchers]) {
      const m = out.match(w.re);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  exited.then(() => { done = true; });
  t.after(() => {
    if (!done) child.kill("SIGKILL");
  });
  return {
    child,
    output: () => out,
    waitForOutput(re, ms) {
      const m = out.match(re);
      if (m) return Promise.resolve(m[0]);
      const p = new Promise((resolve, reject) => {
        watchers.push({ re, resolve });
        exited.then(({ code, signal }) =>
          reject(new Error(`process exited (code ${code}, signal ${signal}) before printing ${re}; output:\n${out}`)),
        );
      });
      return withTimeout(p, () => `output matching ${re}; output so far:\n${out}`, ms);
    },
    exit(ms) {
      return withTimeout(exited, () => `the process to exit; output so far:\n${out}`, ms);
    },
  };
}

module.exports = { ROOT, spawnNode };
