/**
 * The one module that loads the native addon (`rmqtt_js.node`, built from
 * `node-addon/` and copied next to this file by `scripts/build.mjs`).
 *
 * The bridging layer is not API: everything else imports the typed wrapper
 * below. At load, the binary's exports are checked against this interface,
 * so a stale binary fails loudly instead of misbehaving.
 */

import * as path from "node:path";

import type { NativeHooks } from "./hooks";

/** An opaque native server handle (a `JsBox` of the Rust `Server`). */
export interface ServerHandle {
  readonly __brand: "rmqtt-js.Server";
}

/** An opaque native policy handle (a `JsBox` of the Rust `PolicyHandle`). */
export interface PolicyHandle {
  readonly __brand: "rmqtt-js.Policy";
}

/** An opaque native handle on one context's data (a `JsBox` of the Rust `DataHandle`). */
export interface DataHandle {
  readonly __brand: "rmqtt-js.Data";
}

/** What `dataInfo` returns: size and bytes of one version, and the cap. */
export interface NativeDataInfo {
  size: number;
  bytes: number;
  maxBytes: number;
}

/** One hook × backend row of `serverStats`. */
export interface NativeStatsRow {
  hook: string;
  backend: string;
  calls: number;
  allows: number;
  denies: number;
  timeouts: number;
  traps: number;
  errors: number;
  dropped: number;
  p50Micros: number | null;
  p99Micros: number | null;
}

/** One tenant's counters, as `serverTenantStats` returns them. */
export interface NativeTenantStats {
  id: string;
  connections: number;
  messagesIn: number;
  messagesOut: number;
  hooks: NativeStatsRow[];
}

/** A tenant resolver as the native layer calls it. */
export type NativeTenantResolver = (request: unknown) => unknown;

export interface NativeListener {
  name: string;
  protocol: "tcp" | "tls" | "ws" | "wss";
  address: string;
  port: number;
}

export type NativeLogSink = (level: string, target: string, message: string) => void;

export interface NativeAddon {
  serverNew(): ServerHandle;
  /** Rejects with an `Error` carrying the host's `code`. */
  serverStart(server: ServerHandle, configJson: string): Promise<NativeListener[]>;
  serverStop(server: ServerHandle): Promise<void>;
  serverPublish(
    server: ServerHandle,
    topic: string,
    payload: Buffer,
    qos: number,
    retain: boolean,
    /** A tenant id: publish to that tenant's clients (`ERR_TENANT_UNKNOWN`). */
    tenant?: string | null,
  ): Promise<void>;
  /** Throws an `Error` with code `ERR_INVALID_HOOK` for an unusable hooks object. */
  serverSetHooks(server: ServerHandle, hooks: NativeHooks): void;
  serverIsRunning(server: ServerHandle): boolean;
  serverStats(server: ServerHandle): NativeStatsRow[];
  /** Rejects with an `Error` carrying a `ERR_POLICY_*` code. */
  policyLoad(source: string | Uint8Array, options: object): Promise<unknown>;
  policyClose(policy: PolicyHandle): void;
  setLogSink(sink: NativeLogSink): void;
  /** Rejects with `ERR_TENANT_EXISTS`, or an `ERR_INVALID_HOOK`-style error. */
  serverAddTenant(server: ServerHandle, id: string, hooks: NativeHooks): Promise<void>;
  /** Throws `ERR_TENANT_UNKNOWN` or `ERR_INVALID_HOOK`. */
  serverTenantSetHooks(server: ServerHandle, id: string, hooks: NativeHooks): void;
  /** One tenant's stats (throws `ERR_TENANT_UNKNOWN`), or every tenant's. */
  serverTenantStats(server: ServerHandle, id: string): NativeTenantStats;
  serverTenantStats(server: ServerHandle): NativeTenantStats[];
  /** Throws `ERR_POLICY_CLOSED` / `ERR_POLICY_MISSING_EXPORT` for a policy that cannot resolve tenants. */
  serverSetTenantResolver(server: ServerHandle, resolver: NativeTenantResolver | PolicyHandle | null): void;
  /** The default context's data (`server.data`). */
  serverData(server: ServerHandle): DataHandle;
  /** A tenant's data (`tenant.data`); throws `ERR_TENANT_UNKNOWN`. */
  serverTenantData(server: ServerHandle, id: string): DataHandle;
  /** A copy of the value, or `undefined`. */
  dataGet(data: DataHandle, key: string): Buffer | undefined;
  dataHas(data: DataHandle, key: string): boolean;
  /** Throws `ERR_DATA_KEY`, or `ERR_DATA_TOO_LARGE` with numeric `limit` and `wouldBe`; nothing changes then. */
  dataSet(data: DataHandle, key: string, value: Uint8Array): void;
  /** Whether the key was set. */
  dataDelete(data: DataHandle, key: string): boolean;
  /**
   * Swaps the whole data at once for packed entries: entry `i` is the key of
   * the next `lengths[3i]` UTF-16 units of `keys`, and the value of the next
   * `lengths[3i+1]` units of `texts` (stored as UTF-8) when `lengths[3i+2]`
   * is 1, else of the next `lengths[3i+1]` bytes of `blobs`. Throws as
   * `dataSet` (`ERR_DATA_KEY` also for a key with a lone surrogate).
   */
  dataReplace(data: DataHandle, keys: string, texts: string, blobs: Uint8Array, lengths: Float64Array): void;
  dataClear(data: DataHandle): void;
  dataInfo(data: DataHandle): NativeDataInfo;
  /** Throws `ERR_DATA_TOO_LARGE` (with `limit` and `wouldBe`) when the data holds more than `max`. */
  dataSetMaxBytes(data: DataHandle, max: number): void;
  /** Data of no context (a direct policy call's). */
  dataNew(): DataHandle;
  /** An argon2id PHC string (on a blocking thread). */
  hashPassword(password: Uint8Array): Promise<string>;
  /** Runs a policy's decision without a broker; rejects with `ERR_POLICY_ERROR`, `ERR_POLICY_TRAP`, … */
  policyCall(policy: PolicyHandle, hook: string, a: object, b: object | undefined, data: DataHandle | undefined): Promise<unknown>;
}

const EXPORTS: Record<keyof NativeAddon, true> = {
  serverNew: true,
  serverStart: true,
  serverStop: true,
  serverPublish: true,
  serverSetHooks: true,
  serverIsRunning: true,
  serverStats: true,
  policyLoad: true,
  policyClose: true,
  setLogSink: true,
  serverAddTenant: true,
  serverTenantSetHooks: true,
  serverTenantStats: true,
  serverSetTenantResolver: true,
  serverData: true,
  serverTenantData: true,
  dataGet: true,
  dataHas: true,
  dataSet: true,
  dataDelete: true,
  dataReplace: true,
  dataClear: true,
  dataInfo: true,
  dataSetMaxBytes: true,
  dataNew: true,
  hashPassword: true,
  policyCall: true,
};

/** Where `scripts/build.mjs` puts the binary. */
export const BINARY_PATH = path.join(__dirname, "rmqtt_js.node");

function load(): NativeAddon {
  let addon: Record<string, unknown>;
  try {
    addon = require(BINARY_PATH) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(
      `rmqtt-js: cannot load the native addon ${BINARY_PATH}. ` +
        `Build it with \`npm run build\` (needs a Rust toolchain: https://rustup.rs).`,
      { cause },
    );
  }
  const missing = Object.keys(EXPORTS).filter((name) => typeof addon[name] !== "function");
  if (missing.length > 0) {
    throw new Error(
      `rmqtt-js: the native addon ${BINARY_PATH} is stale (missing ${missing.join(", ")}). ` +
        "Rebuild it with `npm run build`.",
    );
  }
  return addon as unknown as NativeAddon;
}

export const native: NativeAddon = load();
