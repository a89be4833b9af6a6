"use strict";
// The published declarations (lib/dist/*.d.ts, *.d.mts) accept a program
// written against the seed API's types and refuse its misuse
// (`@ts-expect-error` lines): tsc on test/types/.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const path = require("node:path");

test("a TypeScript program against the seed API's types compiles, and misuse does not", async () => {
  const tsc = require.resolve("typescript/bin/tsc");
  const project = path.join(__dirname, "types", "tsconfig.json");
  const { code, output } = await new Promise((resolve) => {
    execFile(process.execPath, [tsc, "-p", project], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, output: `${stdout}${stderr}` }),
    );
  });
  assert.equal(code, 0, `tsc reported:\n${output}`);
});
