"use strict";
// The README's TypeScript policy ("Writing a policy") is real: this test
// takes the block from README.md as written, generates the declarations and
// builds it with the package's CLI (`policy-types`, `build-policy`, QuickJS,
// world acl-policy), then runs the component with the README's own unit-test
// calls: a user table in the data, verify-password, the prefix ACL.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { WasmPolicy, hashPassword } = require("..");

const ROOT = path.join(__dirname, "..");
const CLI = path.join(ROOT, "bin", "rmqtt-js.js");

/** The README's ```ts block that starts with `marker`. */
function readmeBlock(marker) {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.startsWith(marker));
  assert.ok(block, `README.md has a ts block starting with ${marker}`);
  return block;
}

function cli(args, cwd) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `rmqtt-js ${args.join(" ")}:\n${r.stdout}${r.stderr}`);
}

test("the README's TypeScript policy builds with the CLI and behaves as described", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "readme-policy-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, "src"));
  fs.writeFileSync(path.join(dir, "src", "policy.ts"), readmeBlock("// src/policy.ts — world `acl-policy`"));
  cli(["policy-types", "-o", "src/generated", "--world", "acl-policy"], dir);
  cli(["build-policy", "src/policy.ts", "-o", "policy.wasm", "--world", "acl-policy", "--quiet"], dir);

  const policy = await WasmPolicy.load(path.join(dir, "policy.wasm"), { timeoutMs: 5000 });
  t.after(() => policy.close());
  const data = { "user:alice": await hashPassword("wonderland"), "acl:alice": "alice/" };
  assert.deepEqual(
    await policy.authenticate({ username: "alice", password: "wonderland" }, { data }),
    { allow: true, superuser: false },
  );
  const wrong = await policy.authenticate({ username: "alice", password: "nope" }, { data });
  assert.deepEqual(wrong, { allow: false, superuser: false, reason: "bad credentials" });
  const stranger = await policy.authenticate({ username: "mallory", password: "x" }, { data });
  assert.equal(stranger.reason, "unknown user");
  assert.equal((await policy.authorizePublish({ username: "alice" }, { topic: "alice/t", payload: "hi" }, { data })).allow, true);
  assert.equal((await policy.authorizePublish({ username: "alice" }, { topic: "bob/x", payload: "hi" }, { data })).allow, false);
  assert.equal((await policy.authorizeSubscribe({ username: "alice" }, { topicFilter: "alice/#", qos: 1 }, { data })).allow, true);
});
