/**
 * `PolicyData`: the key-value data of one broker context (`server.data`,
 * `tenant.data`). Wasm policies read it with `rmqtt:hooks/data.get`; JS hooks
 * read the same object. Node writes it; every update is visible to the next
 * decision, and a decision reads one consistent version (never a half-done
 * `replace`). Calls are synchronous and short: the broker keeps a persistent
 * map and swaps versions under a lock held for nanoseconds.
 */

import { types } from "node:util";

import { RmqttError, toRmqttError } from "./errors";
import { native, type DataHandle } from "./native";

/** A value: bytes, or a string stored as UTF-8. */
export type PolicyDataValue = string | Buffer | Uint8Array;

/** What `PolicyData.replace` takes: `[key, value]` pairs (an array, a `Map`, …) or an object. */
export type PolicyDataEntries =
  | Iterable<readonly [string, PolicyDataValue]>
  | Readonly<Record<string, PolicyDataValue>>;

/** Longest key, in UTF-8 bytes. */
export const MAX_DATA_KEY_BYTES = 1024;

/** The default cap of a context's data (keys plus values): 64 MiB. */
export const DEFAULT_MAX_DATA_BYTES = 64 * 1024 * 1024;

/** What a `PolicyData` needs from its owner. Not API. */
export interface DataLink {
  /** Gets the native handle (called once, on first use). */
  open(): DataHandle;
  /** How the object is written in messages, e.g. `server.data`. */
  readonly name: string;
  /** How to raise the cap, for `ERR_DATA_TOO_LARGE` messages. */
  readonly raise: string;
  assertOpen(): void;
}

/** Lets only servers and tenants construct instances. */
const TOKEN = Symbol("PolicyData");

/** The native handle of each `PolicyData` used so far. */
const handles = new WeakMap<PolicyData, DataHandle>();

/** Makes the `PolicyData` of `link` (for `MqttServer` and `Tenant`). Not API. */
export function newPolicyData(link: DataLink): PolicyData {
  return new PolicyData(TOKEN, link);
}

/** Data of no context, for a direct policy call (`policy.authenticate(req, { data })`). Not API. */
export function detachedPolicyData(): PolicyData {
  return new PolicyData(TOKEN, {
    open: () => native.dataNew(),
    name: "the call's data",
    raise: "give the call fewer or smaller entries",
    assertOpen: () => {},
  });
}

/** The native handle of `data` (opened if need be). Not API. */
export function policyDataHandle(data: PolicyData): DataHandle {
  return handleOf(data);
}

/** Set by `PolicyData`'s static block (which may read its private handle). */
let handleOf: (data: PolicyData) => DataHandle;

/** Empties `data` whatever its owner's state (for `close`). Not API. */
export function releasePolicyData(data: PolicyData): void {
  const handle = handles.get(data);
  if (handle !== undefined) {
    native.dataClear(handle);
  }
}

/**
 * The key-value data of one broker context. Get it from `server.data` (the
 * default context) or `tenant.data`; each tenant has its own, and the data
 * is kept across `stop()`/`start()`.
 *
 * Keys are strings of 1 to 1024 UTF-8 bytes; values are bytes (a string is
 * stored as UTF-8). The data is capped (keys plus values, default 64 MiB,
 * see `maxBytes`). A refused update throws and changes nothing.
 */
export class PolicyData {
  readonly #link: DataLink;

  /** Use `server.data` or `tenant.data`. */
  constructor(token: symbol, link: DataLink) {
    if (token !== TOKEN) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "use `server.data` or `tenant.data` to reach a PolicyData");
    }
    this.#link = link;
  }

  /**
   * The value of `key` (a copy), or `undefined`.
   * @throws RmqttError `ERR_DATA_KEY` (`key` is not a string)
   */
  get(key: string): Buffer | undefined {
    return this.#readable(key, "get") ? native.dataGet(this.#handle, key) : undefined;
  }

  /**
   * The value of `key` decoded as UTF-8, or `undefined`.
   * @throws RmqttError `ERR_DATA_KEY` (`key` is not a string)
   */
  getString(key: string): string | undefined {
    return this.get(key)?.toString("utf8");
  }

  /**
   * Whether `key` is set.
   * @throws RmqttError `ERR_DATA_KEY` (`key` is not a string)
   */
  has(key: string): boolean {
    return this.#readable(key, "has") && native.dataHas(this.#handle, key);
  }

  /**
   * Sets `key` to `value` (a string is stored as UTF-8; bytes are copied).
   * Visible to the next decision.
   * @throws RmqttError `ERR_DATA_KEY`, `ERR_DATA_VALUE`, `ERR_DATA_TOO_LARGE`, `ERR_CLOSED`
   */
  set(key: string, value: PolicyDataValue): void {
    this.#link.assertOpen();
    const what = `${this.#link.name}.set(key, value)`;
    checkKey(key, what);
    const bytes = toBytes(value, what);
    this.#write(what, () => native.dataSet(this.#handle, key, bytes));
  }

  /**
   * Removes `key`.
   * @returns whether it was set
   * @throws RmqttError `ERR_DATA_KEY` (`key` is not a string), `ERR_CLOSED`
   */
  delete(key: string): boolean {
    this.#link.assertOpen();
    return this.#readable(key, "delete") && native.dataDelete(this.#handle, key);
  }

  /**
   * Replaces the whole data with `entries`, at once: a decision sees the old
   * set or the new one, never a mix. A key given twice keeps its last value.
   * Every entry is checked first; if one is refused (or the new set would
   * exceed `maxBytes`), this throws and the data is unchanged.
   * @throws RmqttError `ERR_DATA_KEY`, `ERR_DATA_VALUE`, `ERR_DATA_TOO_LARGE`, `ERR_CLOSED`
   */
  replace(entries: PolicyDataEntries): void {
    this.#link.assertOpen();
    const what = `${this.#link.name}.replace(entries)`;
    // Checked first, cheaply (no per-entry native call: 10,000 entries must
    // not stall the event loop), then packed into two strings and one
    // buffer, which cross in one native call; the host checks the cap and,
    // in the same call, the keys' UTF-8 form.
    const { pairs, label } = entryList(entries, what);
    const keys = new Array<string>(pairs.length);
    const texts: string[] = [];
    const blobs: Uint8Array[] = [];
    const lengths = new Float64Array(pairs.length * 3);
    for (let i = 0; i < pairs.length; i++) {
      const entry = pairs[i];
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new RmqttError("ERR_DATA_VALUE", `${what}: entry ${label(i)} is not a [key, value] pair`);
      }
      const key: unknown = entry[0];
      // A UTF-16 unit is at most 3 UTF-8 bytes: short keys need no measuring.
      if (typeof key !== "string" || key.length === 0 || key.length * 3 > MAX_DATA_KEY_BYTES) {
        const problem = keyProblem(key);
        if (problem !== undefined) {
          throw new RmqttError("ERR_DATA_KEY", `${what}: entry ${label(i)}: ${problem}`);
        }
      }
      const value: unknown = entry[1];
      keys[i] = key as string;
      lengths[3 * i] = (key as string).length;
      if (typeof value === "string") {
        texts.push(value);
        lengths[3 * i + 1] = value.length;
        lengths[3 * i + 2] = 1;
      } else if (types.isUint8Array(value)) {
        blobs.push(value);
        lengths[3 * i + 1] = value.byteLength;
      } else {
        throw valueError(value, `${what}: entry ${label(i)}`);
      }
    }
    this.#write(what, () =>
      native.dataReplace(this.#handle, keys.join(""), texts.join(""), Buffer.concat(blobs), lengths),
    );
  }

  /**
   * Removes every key.
   * @throws RmqttError `ERR_CLOSED`
   */
  clear(): void {
    this.#link.assertOpen();
    native.dataClear(this.#handle);
  }

  /** Number of keys. */
  get size(): number {
    return native.dataInfo(this.#handle).size;
  }

  /** Bytes held: every key's UTF-8 length plus its value's length. */
  get bytes(): number {
    return native.dataInfo(this.#handle).bytes;
  }

  /**
   * The cap on `bytes` (default 64 MiB): an update past it is refused with
   * `ERR_DATA_TOO_LARGE`. Setting it below the bytes held now throws
   * `ERR_DATA_TOO_LARGE` and keeps the cap.
   * @throws RmqttError `ERR_INVALID_OPTIONS` (not a non-negative integer), `ERR_DATA_TOO_LARGE`, `ERR_CLOSED`
   */
  get maxBytes(): number {
    return native.dataInfo(this.#handle).maxBytes;
  }

  set maxBytes(max: number) {
    this.#link.assertOpen();
    const what = `${this.#link.name}.maxBytes = ${String(max)}`;
    checkMaxBytes(max, what);
    try {
      native.dataSetMaxBytes(this.#handle, max);
    } catch (e) {
      const { code, wouldBe } = e as { code?: string; wouldBe?: number };
      if (code !== "ERR_DATA_TOO_LARGE") {
        throw toRmqttError(e);
      }
      throw new RmqttError(
        "ERR_DATA_TOO_LARGE",
        `${what}: the data holds ${wouldBe} bytes already; delete keys first or choose a cap of at least ` +
          `${wouldBe}. The cap stays ${this.maxBytes}.`,
      );
    }
  }

  static {
    handleOf = (data) => data.#handle;
  }

  get #handle(): DataHandle {
    let handle = handles.get(this);
    if (handle === undefined) {
      handle = this.#link.open();
      handles.set(this, handle);
    }
    return handle;
  }

  /** Whether `key` can name a stored value; throws if it is not a string. */
  #readable(key: unknown, method: string): key is string {
    if (typeof key !== "string") {
      throw new RmqttError("ERR_DATA_KEY", `${this.#link.name}.${method}(key): ${keyProblem(key)}`);
    }
    return keyProblem(key) === undefined;
  }

  /** Runs a native update, rewording its refusal. */
  #write(what: string, update: () => void): void {
    try {
      update();
    } catch (e) {
      const { code, limit, wouldBe, message } = e as { code?: string; limit?: number; wouldBe?: number; message?: string };
      if (code === "ERR_DATA_TOO_LARGE") {
        throw new RmqttError(
          "ERR_DATA_TOO_LARGE",
          `${what}: the data would hold ${wouldBe} bytes (keys + values), over its cap of ${limit} bytes; ` +
            `${this.#link.raise}, or delete keys. Nothing was changed.`,
        );
      }
      if (code === "ERR_DATA_KEY") {
        throw new RmqttError("ERR_DATA_KEY", `${what}: ${message ?? "invalid key"}`);
      }
      throw toRmqttError(e);
    }
  }
}

/**
 * Throws `ERR_INVALID_OPTIONS` unless `max` is a non-negative safe integer
 * (for `maxBytes` and `TenantOptions.maxDataBytes`).
 */
export function checkMaxBytes(max: unknown, what: string): asserts max is number {
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 0) {
    throw new RmqttError(
      "ERR_INVALID_OPTIONS",
      `${what}: the data cap must be a whole number of bytes, 0 or more (default ${DEFAULT_MAX_DATA_BYTES})`,
    );
  }
}

/** A lone UTF-16 surrogate: not representable in UTF-8. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `key` cannot be a key, or `undefined` if it can. */
function keyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") {
    return `a key must be a string, got ${key === null ? "null" : typeof key}`;
  }
  if (key.length === 0) {
    return `a key must not be empty (1 to ${MAX_DATA_KEY_BYTES} UTF-8 bytes)`;
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_DATA_KEY_BYTES) {
    return (
      `key ${JSON.stringify(key.slice(0, 64))}… is ${bytes} UTF-8 bytes long; ` +
      `a key is 1 to ${MAX_DATA_KEY_BYTES} bytes (store long names hashed, e.g. their SHA-256)`
    );
  }
  if (LONE_SURROGATE.test(key)) {
    return `key ${JSON.stringify(key)} has a lone UTF-16 surrogate and has no UTF-8 form; use well-formed text`;
  }
  return undefined;
}

/** Throws `ERR_DATA_KEY` unless `key` can be a key. */
function checkKey(key: unknown, what: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new RmqttError("ERR_DATA_KEY", `${what}: ${problem}`);
  }
}

/** The `ERR_DATA_VALUE` of a value that is not a string, a Buffer or a Uint8Array. */
function valueError(value: unknown, what: string): RmqttError {
  const got = value === null ? "null" : typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  return new RmqttError(
    "ERR_DATA_VALUE",
    `${what}: a value must be a string, a Buffer or a Uint8Array, got ${got} (serialize objects first, e.g. JSON.stringify)`,
  );
}

/** `value` as bytes for the native layer; strings as UTF-8. */
function toBytes(value: unknown, what: string): Uint8Array {
  if (typeof value === "string") {
    return Buffer.from(value, "utf8");
  }
  if (types.isUint8Array(value)) {
    return value;
  }
  throw valueError(value, what);
}

/** The entries of `replace` as a list, and how to name entry `i` in a message. */
function entryList(entries: unknown, what: string): { pairs: readonly unknown[]; label: (i: number) => string } {
  if (typeof entries !== "object" || entries === null) {
    throw new RmqttError(
      "ERR_DATA_VALUE",
      `${what}: entries must be an iterable of [key, value] pairs (an array, a Map) or an object, got ` +
        `${entries === null ? "null" : typeof entries}`,
    );
  }
  if (Symbol.iterator in entries) {
    const pairs = Array.isArray(entries) ? entries : Array.from(entries as Iterable<unknown>);
    return { pairs, label: String };
  }
  const pairs = Object.entries(entries);
  return { pairs, label: (i) => JSON.stringify(pairs[i]![0]) };
}
