"use strict";
// server.data / tenant.data: the key-value data policies read. The API
// (set/get/getString/has/delete/replace/clear, size, bytes, maxBytes), every
// error code and that a refused update changes nothing; data kept across
// stop/start and emptied by close; tenant data separate from server data
// and from other tenants; a JS auth hook reading a user table from the data
// admits a user at once after `set` and refuses it after `delete`, on the
// default context and on a tenant, with real MQTT clients.

const { test } = require("node:test");
const assert = require("node:assert/strict");

const { RmqttError } = require("..");
const { MqttServer, shutDown, tcpListener } = require("./helpers/server");
const { connectClient, connectRefused } = require("./helpers/client");
const { listener } = require("./helpers/tenants");

const MIB = 1024 * 1024;

/** A fresh server, closed after the test. */
function newServer(t) {
  const server = new MqttServer();
  t.after(() => shutDown(server));
  return server;
}

/** Asserts that `fn()` throws an RmqttError with `code` (and a message matching each of `patterns`). */
function throwsCode(fn, code, ...patterns) {
  let error;
  assert.throws(fn, (err) => {
    assert.ok(err instanceof RmqttError, `expected an RmqttError, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    for (const p of patterns) assert.match(err.message, p);
    error = err;
    return true;
  });
  return error;
}

/** Every key and value of `data` among `keys`, with size and bytes: what a refused update must not change. */
function contents(data, keys) {
  return {
    size: data.size,
    bytes: data.bytes,
    maxBytes: data.maxBytes,
    values: keys.map((k) => [k, data.getString(k)]),
  };
}

/** An auth hook that admits `user:<name>` → password entries of `data()`. */
function userTable(data) {
  return ({ username, password }) => ({
    allow: username !== null && password !== null && data().getString(`user:${username}`) === password,
    reason: "user table",
  });
}

test("set, get, getString, has, delete, clear, size and bytes", (t) => {
  const { data } = newServer(t);
  assert.equal(data.size, 0);
  assert.equal(data.bytes, 0);
  assert.equal(data.maxBytes, 64 * MIB, "default cap: 64 MiB");

  data.set("user:alice", "s3cret");
  data.set("blob", Buffer.from([0, 1, 2, 255]));
  data.set("u8", new Uint8Array([7, 8]));
  data.set("jürgen", "€");
  assert.deepEqual(data.get("blob"), Buffer.from([0, 1, 2, 255]));
  assert.ok(Buffer.isBuffer(data.get("u8")), "get returns a Buffer");
  assert.deepEqual([...data.get("u8")], [7, 8]);
  assert.equal(data.getString("user:alice"), "s3cret");
  assert.equal(data.getString("jürgen"), "€", "strings are stored as UTF-8");
  assert.deepEqual(data.get("user:alice"), Buffer.from("s3cret", "utf8"));
  assert.equal(data.get("nobody"), undefined);
  assert.equal(data.getString("nobody"), undefined);
  assert.equal(data.has("blob"), true);
  assert.equal(data.has("nobody"), false);
  assert.equal(data.size, 4);
  // bytes: UTF-8 keys plus values ("jürgen" is 7 bytes, "€" 3).
  assert.equal(data.bytes, 10 + 6 + 4 + 4 + 2 + 2 + 7 + 3);

  data.set("user:alice", "x");
  assert.equal(data.getString("user:alice"), "x", "set overwrites");
  assert.equal(data.bytes, 10 + 1 + 4 + 4 + 2 + 2 + 7 + 3);

  assert.equal(data.delete("blob"), true);
  assert.equal(data.delete("blob"), false, "deleting a missing key says so");
  assert.equal(data.has("blob"), false);
  assert.equal(data.size, 3);

  data.clear();
  assert.equal(data.size, 0);
  assert.equal(data.bytes, 0);
  assert.equal(data.get("user:alice"), undefined);
});

test("values are copied in and out", (t) => {
  const { data } = newServer(t);
  const input = Buffer.from("abc");
  data.set("k", input);
  input[0] = 0x7a;
  assert.equal(data.getString("k"), "abc", "changing the Buffer given to set does not change the data");
  const out = data.get("k");
  out[0] = 0x7a;
  assert.equal(data.getString("k"), "abc", "changing a Buffer from get does not change the data");
  const base = Buffer.from("0123456789");
  const view = new Uint8Array(base.buffer, base.byteOffset, base.length).subarray(2, 5);
  data.set("view", view);
  assert.equal(data.getString("view"), "234", "a Uint8Array view stores only its bytes");
});

test("server.data is always the same object", (t) => {
  const server = newServer(t);
  assert.equal(server.data, server.data);
  server.data.set("a", "1");
  assert.equal(server.data.getString("a"), "1");
});

test("replace swaps the whole set: from an array, a Map or an object; a repeated key keeps its last value", (t) => {
  const { data } = newServer(t);
  data.set("old", "gone");
  data.replace([
    ["a", "1"],
    ["b", Buffer.from("22")],
    ["a", "last"],
  ]);
  assert.equal(data.has("old"), false, "keys not in the new set are gone");
  assert.equal(data.getString("a"), "last");
  assert.equal(data.getString("b"), "22");
  assert.equal(data.size, 2);
  assert.equal(data.bytes, 1 + 4 + 1 + 2);

  data.replace(new Map([["m", new Uint8Array([1])]]));
  assert.deepEqual([data.size, data.has("a"), [...data.get("m")]], [1, false, [1]]);

  data.replace({ "user:bob": "pw", "user:eve": "pw2" });
  assert.deepEqual([data.size, data.getString("user:bob"), data.getString("user:eve")], [2, "pw", "pw2"]);

  data.replace(
    (function* () {
      yield ["g", "generated"];
    })(),
  );
  assert.deepEqual([data.size, data.getString("g")], [1, "generated"]);

  data.replace([]);
  assert.deepEqual([data.size, data.bytes], [0, 0]);
});

test("replace keeps every key and value exact: multi-byte text, empty values, Uint8Array views", (t) => {
  const { data } = newServer(t);
  const base = Buffer.from("..view..");
  const entries = [
    ["ключ-🔑", "значение ✓"],
    ["e", ""],
    ["eb", Buffer.alloc(0)],
    ["v", new Uint8Array(base.buffer, base.byteOffset + 2, 4)],
    ["bin", Buffer.from([0, 255, 0])],
    ["日本", "語"],
  ];
  data.replace(entries);
  assert.deepEqual(
    entries.map(([k]) => data.get(k)),
    [
      Buffer.from("значение ✓"),
      Buffer.alloc(0),
      Buffer.alloc(0),
      Buffer.from("view"),
      Buffer.from([0, 255, 0]),
      Buffer.from("語"),
    ],
  );
  const expected = entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.from(v).length, 0);
  assert.equal(data.bytes, expected);
  assert.equal(data.size, entries.length);
});

test("ERR_DATA_KEY: an empty key, a key over 1024 UTF-8 bytes, a lone surrogate, a key that is not a string", (t) => {
  const { data } = newServer(t);
  data.set("keep", "me");
  const before = contents(data, ["keep"]);

  throwsCode(() => data.set("", "v"), "ERR_DATA_KEY", /server\.data\.set/, /empty/, /1024/);
  // 342 "€" are 342 characters but 1026 UTF-8 bytes.
  throwsCode(() => data.set("€".repeat(342), "v"), "ERR_DATA_KEY", /1026 UTF-8 bytes/, /1 to 1024 bytes/);
  throwsCode(() => data.set("k".repeat(1025), "v"), "ERR_DATA_KEY", /1025/);
  throwsCode(() => data.set("bad\uD800", "v"), "ERR_DATA_KEY", /surrogate/);
  for (const key of [7, null, undefined, Symbol("k"), {}]) {
    throwsCode(() => data.set(key, "v"), "ERR_DATA_KEY", /must be a string/);
    throwsCode(() => data.get(key), "ERR_DATA_KEY", /server\.data\.get/);
    throwsCode(() => data.getString(key), "ERR_DATA_KEY");
    throwsCode(() => data.has(key), "ERR_DATA_KEY");
    throwsCode(() => data.delete(key), "ERR_DATA_KEY");
  }
  throwsCode(() => data.replace([["ok", "1"], ["", "2"]]), "ERR_DATA_KEY", /entry 1/);
  throwsCode(() => data.replace([["ok", "1"], [42, "2"]]), "ERR_DATA_KEY", /entry 1/);
  throwsCode(() => data.replace([["ok", "1"], ["k".repeat(1025), "2"]]), "ERR_DATA_KEY", /entry 1/, /1025/);
  throwsCode(() => data.replace([["ok", "1"], ["€".repeat(342), "2"]]), "ERR_DATA_KEY", /1026 UTF-8 bytes/);
  throwsCode(() => data.replace([["ok", "1"], ["lone\uDC00", "2"]]), "ERR_DATA_KEY", /replace/, /surrogate/);
  assert.deepEqual(contents(data, ["keep", "ok"]), { ...before, values: [["keep", "me"], ["ok", undefined]] });

  // A key that cannot be stored is simply absent for reads.
  assert.equal(data.get(""), undefined);
  assert.equal(data.has("k".repeat(2000)), false);
  assert.equal(data.delete(""), false);
  // The longest key is accepted.
  data.set("k".repeat(1024), "v");
  assert.equal(data.getString("k".repeat(1024)), "v");
});

test("ERR_DATA_VALUE: a value that is not a string, Buffer or Uint8Array; malformed replace entries", (t) => {
  const { data } = newServer(t);
  data.set("keep", "me");
  const before = contents(data, ["keep", "k"]);
  for (const value of [42, null, undefined, { a: 1 }, [1, 2], new Int8Array(2), new ArrayBuffer(2), true]) {
    throwsCode(() => data.set("k", value), "ERR_DATA_VALUE", /string, a Buffer or a Uint8Array/);
  }
  for (const entries of [null, undefined, 42, "ab"]) {
    throwsCode(() => data.replace(entries), "ERR_DATA_VALUE", /entries must be/);
  }
  throwsCode(() => data.replace([["a", "1"], ["b"]]), "ERR_DATA_VALUE", /entry 1 is not a \[key, value\] pair/);
  throwsCode(() => data.replace([["a", "1"], "ab"]), "ERR_DATA_VALUE", /entry 1/);
  throwsCode(() => data.replace([["a", "1"], ["b", "2", "3"]]), "ERR_DATA_VALUE", /entry 1/);
  throwsCode(() => data.replace([["a", "1"], ["b", 2]]), "ERR_DATA_VALUE", /entry 1/);
  throwsCode(() => data.replace({ a: "1", b: { json: true } }), "ERR_DATA_VALUE", /entry "b"/, /JSON\.stringify/);
  throwsCode(() => data.replace(Buffer.from("ab")), "ERR_DATA_VALUE", /entry 0/);
  assert.deepEqual(contents(data, ["keep", "k"]), before, "nothing changed");
  assert.equal(data.has("a"), false, "no entry of a refused replace was stored");
});

test("ERR_DATA_TOO_LARGE: set and replace past maxBytes are refused and change nothing", (t) => {
  const { data } = newServer(t);
  data.maxBytes = 20;
  assert.equal(data.maxBytes, 20);
  data.set("a", "123456789"); // 10 bytes
  const before = contents(data, ["a", "b", "x", "y"]);

  // 10 + "b" + 10 bytes = 21 > 20.
  const err = throwsCode(
    () => data.set("b", "0123456789"),
    "ERR_DATA_TOO_LARGE",
    /would hold 21 bytes/,
    /cap of 20 bytes/,
    /server\.data\.maxBytes = /,
  );
  assert.match(err.message, /Nothing was changed/);
  assert.deepEqual(contents(data, ["a", "b", "x", "y"]), before);

  // Overwriting counts the new size, not the sum.
  data.set("a", "0123456789012345678"); // 1 + 19 = 20: exactly the cap
  assert.equal(data.bytes, 20);
  data.set("a", "123456789");

  throwsCode(
    () => data.replace([["x", "1"], ["y", "0123456789012345678901"]]),
    "ERR_DATA_TOO_LARGE",
    /server\.data\.replace/,
    /would hold 25 bytes/,
    /cap of 20/,
  );
  assert.deepEqual(contents(data, ["a", "b", "x", "y"]), before, "a refused replace keeps the old set whole");

  data.maxBytes = 100;
  data.set("b", "0123456789");
  assert.equal(data.bytes, 21, "after raising the cap the same update passes");
});

test("maxBytes below the bytes held is refused and keeps the cap; a bad cap is ERR_INVALID_OPTIONS", (t) => {
  const { data } = newServer(t);
  data.set("key", "value"); // 8 bytes
  throwsCode(
    () => {
      data.maxBytes = 7;
    },
    "ERR_DATA_TOO_LARGE",
    /holds 8 bytes/,
    /at least 8/,
    /cap stays 67108864/,
  );
  assert.equal(data.maxBytes, 64 * MIB);
  assert.equal(data.getString("key"), "value");
  data.maxBytes = 8;
  assert.equal(data.maxBytes, 8, "a cap equal to the bytes held is accepted");
  for (const bad of [-1, 1.5, NaN, Infinity, "10", null, 2 ** 60]) {
    throwsCode(
      () => {
        data.maxBytes = bad;
      },
      "ERR_INVALID_OPTIONS",
      /maxBytes/,
    );
  }
  assert.equal(data.maxBytes, 8);
  data.clear();
  data.maxBytes = 0;
  throwsCode(() => data.set("k", ""), "ERR_DATA_TOO_LARGE", /cap of 0/);
});

test("the data is kept across stop() and start(), and close() empties it", async (t) => {
  const server = newServer(t);
  server.data.set("before-start", "1");
  await server.start({ listeners: [tcpListener()] });
  assert.equal(server.data.getString("before-start"), "1");
  server.data.set("while-running", "2");
  server.data.maxBytes = 1000;
  await server.stop();
  assert.equal(server.data.getString("while-running"), "2");
  server.data.set("while-stopped", "3");
  await server.start({ listeners: [tcpListener()] });
  assert.deepEqual(
    ["before-start", "while-running", "while-stopped"].map((k) => server.data.getString(k)),
    ["1", "2", "3"],
  );
  assert.equal(server.data.maxBytes, 1000, "the cap is kept too");

  const acme = await server.addTenant("acme");
  acme.data.set("t", "x");
  await server.close();
  assert.equal(server.data.size, 0, "close empties server.data");
  assert.equal(acme.data.size, 0, "close empties tenant.data");
  throwsCode(() => server.data.set("k", "v"), "ERR_CLOSED");
  throwsCode(() => acme.data.replace([]), "ERR_CLOSED");
  throwsCode(() => server.data.clear(), "ERR_CLOSED");
  throwsCode(() => server.data.delete("k"), "ERR_CLOSED");
});

test("tenant data is separate from server data and from other tenants'; maxDataBytes caps one tenant", async (t) => {
  const server = newServer(t);
  const acme = await server.addTenant("acme", { maxDataBytes: 100 });
  const globex = await server.addTenant("globex");
  assert.equal(acme.data, server.tenant("acme").data, "tenant.data is always the same object");
  server.data.set("k", "server");
  acme.data.set("k", "acme");
  globex.data.set("k", "globex");
  assert.deepEqual(
    [server.data, acme.data, globex.data].map((d) => d.getString("k")),
    ["server", "acme", "globex"],
  );
  acme.data.replace({ only: "acme" });
  assert.equal(globex.data.getString("k"), "globex", "a tenant's replace leaves other contexts alone");
  assert.equal(server.data.getString("k"), "server");
  globex.data.clear();
  assert.equal(acme.data.getString("only"), "acme");

  assert.equal(acme.data.maxBytes, 100);
  assert.equal(globex.data.maxBytes, 64 * MIB);
  assert.equal(server.data.maxBytes, 64 * MIB);
  throwsCode(
    () => acme.data.set("big", "x".repeat(200)),
    "ERR_DATA_TOO_LARGE",
    /tenant\("acme"\)\.data\.set/,
    /cap of 100 bytes/,
    /maxDataBytes/,
  );
  globex.data.set("big", "x".repeat(200));

  for (const bad of [-5, "1", 0.5]) {
    await assert.rejects(server.addTenant("initech", { maxDataBytes: bad }), { code: "ERR_INVALID_OPTIONS" });
  }
  assert.deepEqual(
    server.tenants.map((x) => x.id),
    ["acme", "globex"],
    "a refused maxDataBytes declares no tenant",
  );
  await assert.rejects(server.addTenant("initech", { maxDataByte: 5 }), /did you mean "maxDataBytes"/);
});

test("a JS auth hook reading server.data admits a user at once after set and refuses it after delete", async (t) => {
  const server = newServer(t);
  server.setHooks({ onClientAuthenticate: userTable(() => server.data) });
  await server.start({ listeners: [tcpListener()] });
  const port = server.listeners[0].port;

  await connectRefused(t, port, { username: "alice", password: "pw-a" });
  server.data.set("user:alice", "pw-a");
  const alice = await connectClient(t, port, { username: "alice", password: "pw-a" });
  assert.equal(alice.connected, true);
  await connectRefused(t, port, { username: "alice", password: "wrong" });

  assert.equal(server.data.delete("user:alice"), true);
  await connectRefused(t, port, { username: "alice", password: "pw-a" });

  // A whole new user table at once.
  server.data.replace({ "user:bob": "pw-b", "user:carol": "pw-c" });
  await connectClient(t, port, { username: "bob", password: "pw-b" });
  await connectClient(t, port, { username: "carol", password: "pw-c", protocolVersion: 5 });
  await connectRefused(t, port, { username: "alice", password: "pw-a" });
  assert.equal(server.running, true, "no restart was needed");
});

test("a tenant's JS auth hook reads tenant.data: the user table of one tenant does not admit to another", async (t) => {
  const server = newServer(t);
  await server.addTenant("acme", { hooks: { onClientAuthenticate: userTable(() => server.tenant("acme").data) } });
  await server.addTenant("globex", {
    hooks: { onClientAuthenticate: userTable(() => server.tenant("globex").data) },
  });
  server.setHooks({ onClientAuthenticate: userTable(() => server.data) });
  await server.start({
    listeners: [listener("acme", { tenant: "acme" }), listener("globex", { tenant: "globex" }), listener("default")],
  });
  const portOf = (name) => server.listeners.find((l) => l.name === name).port;
  const acme = server.tenant("acme");

  await connectRefused(t, portOf("acme"), { username: "dave", password: "pw-d" });
  acme.data.set("user:dave", "pw-d");
  await connectClient(t, portOf("acme"), { username: "dave", password: "pw-d" });
  await connectRefused(t, portOf("globex"), { username: "dave", password: "pw-d" });
  await connectRefused(t, portOf("default"), { username: "dave", password: "pw-d" });

  server.data.set("user:dave", "pw-default");
  await connectClient(t, portOf("default"), { username: "dave", password: "pw-default" });
  await connectRefused(t, portOf("acme"), { username: "dave", password: "pw-default" });

  assert.equal(acme.data.delete("user:dave"), true);
  await connectRefused(t, portOf("acme"), { username: "dave", password: "pw-d" });
  await connectClient(t, portOf("default"), { username: "dave", password: "pw-default" });
});

test("replace of 10,000 entries", (t) => {
  const { data } = newServer(t);
  const entries = [];
  for (let i = 0; i < 10_000; i++) {
    entries.push([`user:${i}`, `$argon2id$v=19$m=19456,t=2,p=1$${"s".repeat(22)}$${String(i).padStart(43, "h")}`]);
  }
  const times = [];
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    data.replace(entries);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const record = Object.fromEntries(entries);
  const start = process.hrtime.bigint();
  data.replace(record);
  const fromObject = Number(process.hrtime.bigint() - start) / 1e6;
  t.diagnostic(
    `replace(10,000 entries): ${times.map((ms) => ms.toFixed(2)).join(", ")} ms (array); ` +
      `${fromObject.toFixed(2)} ms (object); ${data.bytes} bytes`,
  );
  assert.equal(data.size, 10_000);
  assert.equal(data.getString("user:9999"), entries[9999][1]);
});
