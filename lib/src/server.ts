/**
 * `MqttServer`: the public class. It validates arguments, keeps the state the
 * API promises (hooks across restarts, bound listeners, closed), and
 * delegates everything else to the native layer.
 */

import { basicConfig, configToJson, multiProtocolConfig } from "./config";
import { newPolicyData, releasePolicyData, type PolicyData } from "./data";
import { RmqttError, toRmqttError } from "./errors";
import { mergeHooks, toNativeHooks, type Hooks, type SetHooksOptions } from "./hooks";
import { attachLogger, defaultLogger, detachLogger } from "./logging";
import { native, type ServerHandle } from "./native";
import type { WasmPolicy } from "./policy";
import { toServerStats, type ServerStats } from "./stats";
import { checkKeys } from "./strict";
import {
  checkTenantId,
  TenantRegistry,
  type Tenant,
  type TenantOptions,
  type TenantResolver,
  type TenantStats,
} from "./tenants";
import type {
  ListenerInfo,
  Logger,
  MqttServerOptions,
  MultiProtocolOptions,
  PublishOptions,
  ServerConfig,
} from "./types";

/** Every key of `MqttServerOptions`; the `Record` type keeps the list complete. */
const SERVER_OPTION_KEYS = Object.keys({ logger: true } satisfies Record<keyof MqttServerOptions, true>);
/** Every key of `PublishOptions`. */
const PUBLISH_OPTION_KEYS = Object.keys({
  qos: true,
  retain: true,
  tenant: true,
} satisfies Record<keyof PublishOptions, true>);

export class MqttServer {
  readonly #handle: ServerHandle;
  readonly #logger: Logger;
  /** The hooks bound by `setHooks` so far, bound again on every `start`. */
  #hooks: Readonly<Hooks> = {};
  #listeners: ListenerInfo[] = [];
  #closed = false;
  /** start/stop/close run one after another, in call order. */
  #lifecycle: Promise<unknown> = Promise.resolve();
  readonly #tenants: TenantRegistry;
  readonly #data: PolicyData;

  /**
   * @throws RmqttError `ERR_INVALID_OPTIONS` (not an object, an unknown key, a `logger` that is not a function)
   */
  constructor(options: MqttServerOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "new MqttServer(options): options must be an object");
    }
    checkKeys(options, SERVER_OPTION_KEYS, "ERR_INVALID_OPTIONS", "new MqttServer(options)");
    if (options.logger !== undefined && typeof options.logger !== "function") {
      throw new RmqttError("ERR_INVALID_OPTIONS", "new MqttServer(options): `logger` must be a function");
    }
    this.#logger = options.logger ?? defaultLogger;
    this.#handle = native.serverNew();
    const handle = this.#handle;
    this.#tenants = new TenantRegistry({ handle, assertOpen: () => this.#assertOpen() });
    this.#data = newPolicyData({
      open: () => native.serverData(handle),
      name: "server.data",
      raise: "raise the cap with `server.data.maxBytes = <bytes>`",
      assertOpen: () => this.#assertOpen(),
    });
  }

  /**
   * The key-value data of the default (tenant-less) context: what its
   * `WasmPolicy`s read with `rmqtt:hooks/data.get` and what JS hooks may
   * read, e.g. a user table (`server.data.set("user:alice", hash)`). An
   * update is visible to the next decision; no reload, no restart. Always
   * the same object; kept across `stop()`/`start()`, emptied by `close()`.
   * Each tenant has its own (`tenant.data`).
   */
  get data(): PolicyData {
    return this.#data;
  }

  /**
   * Binds the hooks named in `hooks`: each to a JS callback or to a
   * `WasmPolicy` that exports it, or, with `null`, back to rmqtt's default.
   * Hooks not named keep their binding (as in the seed API: one call per
   * concern adds up); `{ replace: true }` unbinds them instead. Takes effect
   * at once, also while running: every decision uses the old set or the new
   * one, never a mix, and no client is disconnected. A call that throws
   * changes nothing.
   * @throws RmqttError `ERR_INVALID_HOOK`, `ERR_INVALID_OPTIONS`, `ERR_POLICY_MISSING_EXPORT`
   *   (a policy bound to a hook it does not export), `ERR_POLICY_CLOSED`, `ERR_CLOSED`
   */
  setHooks(hooks: Hooks, options?: SetHooksOptions): void {
    this.#assertOpen();
    const next = mergeHooks(this.#hooks, hooks, options);
    try {
      native.serverSetHooks(this.#handle, toNativeHooks(next));
    } catch (e) {
      throw toRmqttError(e);
    }
    this.#hooks = next;
  }

  /**
   * Starts the broker; resolves when every listener is bound (see
   * `listeners` for the bound ports).
   * An unknown key in the config, a listener or `tenancy` is refused with
   * `ERR_INVALID_CONFIG`, naming the nearest known key; a tenant id that
   * breaks the rule (`TENANT_ID_RULE`) with `ERR_INVALID_TENANT`; a listener
   * `tenant` or `tenancy.fallbackTenant` not declared with `addTenant` with
   * `ERR_TENANT_UNKNOWN`.
   * @throws RmqttError `ERR_ALREADY_RUNNING`, `ERR_INVALID_CONFIG`, `ERR_CONFIG_*`, `ERR_INVALID_TENANT`,
   *   `ERR_TENANT_UNKNOWN`, `ERR_BIND`, `ERR_CLOSED`
   */
  async start(config: ServerConfig): Promise<void> {
    this.#assertOpen();
    const json = configToJson(config);
    await this.#serialize(async () => {
      this.#assertOpen();
      attachLogger(this, this.#logger);
      try {
        native.serverSetHooks(this.#handle, toNativeHooks(this.#hooks));
        this.#tenants.rebind();
        const bound = await native.serverStart(this.#handle, json);
        this.#listeners = bound.map((l) => ({ ...l }));
      } catch (e) {
        if (!native.serverIsRunning(this.#handle)) {
          detachLogger(this);
        }
        const err = toRmqttError(e);
        if (err.code === "ERR_ALREADY_RUNNING") {
          this.#log("warn", "Attempted to start MQTT server, but it is already running.");
        } else {
          this.#log("error", `Failed to start MQTT server: ${err.message} (${err.code})`);
        }
        throw err;
      }
    });
  }

  /**
   * Stops the broker: closes the listeners and disconnects every client.
   * Stopping a stopped server only logs a WARN, as the seed API did.
   */
  async stop(): Promise<void> {
    await this.#serialize(async () => {
      if (!this.running) {
        this.#log("warn", "Attempted to stop MQTT server, but it is not running.");
        return;
      }
      await this.#stopNow();
    });
  }

  /**
   * Stops the server for good and releases its resources (the data of
   * `server.data` and every `tenant.data` included); later calls to
   * `start`, `publish`, `setHooks` and data updates fail with `ERR_CLOSED`.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    await this.#serialize(async () => {
      await this.#stopNow();
      this.#hooks = {};
      releasePolicyData(this.#data);
      this.#tenants.clear();
    });
  }

  /**
   * Per-hook counters split by backend (`"wasm"` / `"js"`): calls, allows,
   * denies, timeouts, traps, errors, p50/p99 latency in microseconds, and
   * dropped notifications. Counted since the server was created (stop and
   * start keep them); works in every state, closed included.
   */
  stats(): ServerStats {
    return toServerStats(native.serverStats(this.#handle));
  }

  /** Whether the broker is running. */
  get running(): boolean {
    return !this.#closed && native.serverIsRunning(this.#handle);
  }

  /** The bound listeners while running (with the real ports), else `[]`. */
  get listeners(): ListenerInfo[] {
    return this.running ? this.#listeners.map((l) => ({ ...l })) : [];
  }

  /**
   * Publishes a message as the broker. Strings are sent as UTF-8. With
   * `options.tenant`, to that tenant's clients only (its topic tree, retained
   * store and hooks); without, to the default (tenant-less) clients.
   * @throws RmqttError `ERR_NOT_RUNNING`, `ERR_INVALID_TOPIC`, `ERR_INVALID_QOS`, `ERR_INVALID_PAYLOAD`,
   *   `ERR_INVALID_OPTIONS` (an unknown option), `ERR_TENANT_UNKNOWN`, `ERR_INVALID_TENANT`, `ERR_CLOSED`
   */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    try {
      await this.#publish(topic, payload, options);
    } catch (e) {
      const err = toRmqttError(e);
      this.#log(
        "error",
        err.code === "ERR_NOT_RUNNING"
          ? "Attempted to publish while server is not running."
          : `Failed to publish message: ${err.message} (${err.code})`,
      );
      throw err;
    }
  }

  async #publish(topic: unknown, payload: unknown, options: PublishOptions): Promise<void> {
    this.#assertOpen();
    if (typeof topic !== "string") {
      throw new RmqttError("ERR_INVALID_TOPIC", "publish(topic, ...): topic must be a string");
    }
    const bytes = toBuffer(payload);
    if (typeof options === "object" && options !== null) {
      checkKeys(options, PUBLISH_OPTION_KEYS, "ERR_INVALID_OPTIONS", "publish(topic, payload, options)");
    }
    const { qos = 0, retain = false, tenant } = options ?? {};
    if (typeof qos !== "number" || !Number.isInteger(qos)) {
      throw new RmqttError("ERR_INVALID_QOS", `invalid QoS ${String(qos)}; use 0, 1 or 2`);
    }
    if (tenant !== undefined) {
      checkTenantId(tenant, "publish(..., { tenant })");
    }
    try {
      await native.serverPublish(this.#handle, topic, bytes, qos, retain === true, tenant ?? null);
    } catch (e) {
      throw toRmqttError(e);
    }
  }

  /**
   * Declares a tenant with its hooks, before `start` or while running (its
   * broker starts at once). See the README section "Tenants". `id` follows
   * `TENANT_ID_RULE` (1 to 64 characters from `A-Z a-z 0-9 _ . -`, not `.`
   * or `..`).
   * @throws RmqttError `ERR_TENANT_EXISTS`, `ERR_INVALID_TENANT`, `ERR_INVALID_OPTIONS` (an unknown option),
   *   `ERR_INVALID_HOOK`, `ERR_POLICY_*`, `ERR_CLOSED`
   */
  async addTenant(id: string, options: TenantOptions = {}): Promise<Tenant> {
    return this.#serialize(() => this.#tenants.add(id, options));
  }

  /**
   * A declared tenant.
   * @throws RmqttError `ERR_TENANT_UNKNOWN`, `ERR_CLOSED`
   */
  tenant(id: string): Tenant {
    return this.#tenants.get(id);
  }

  /** Every declared tenant, in declaration order. */
  get tenants(): Tenant[] {
    return this.#closed ? [] : this.#tenants.list();
  }

  /**
   * Every tenant's counters, by id.
   * @throws RmqttError `ERR_CLOSED`
   */
  tenantStats(): TenantStats[] {
    return this.#tenants.stats();
  }

  /**
   * Sets (or clears, with `null`) what picks a connecting client's tenant on
   * listeners without a `tenant` (needs `tenancy` in the config): a JS
   * function, or a `WasmPolicy` exporting `rmqtt:hooks/tenant-resolver`. It
   * runs before the `user@tenant` rule and the fallback.
   * @throws RmqttError `ERR_INVALID_OPTIONS`, `ERR_POLICY_MISSING_EXPORT`, `ERR_POLICY_CLOSED`, `ERR_CLOSED`
   */
  setTenantResolver(resolver: TenantResolver | WasmPolicy | null): void {
    this.#tenants.setResolver(resolver);
  }

  /** A config with one TCP listener. Port 0 lets the OS pick. */
  static createBasicConfig(port = 1883, address = "0.0.0.0"): ServerConfig {
    return basicConfig(port, address);
  }

  /** TCP and WS listeners, plus TLS and WSS when both `tlsCert` and `tlsKey` are given. */
  static createMultiProtocolConfig(options: MultiProtocolOptions = {}): ServerConfig {
    return multiProtocolConfig(options);
  }

  async #stopNow(): Promise<void> {
    try {
      await native.serverStop(this.#handle);
    } catch (e) {
      throw toRmqttError(e);
    } finally {
      if (!native.serverIsRunning(this.#handle)) {
        this.#listeners = [];
        detachLogger(this);
      }
    }
  }

  #serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#lifecycle.then(op, op);
    this.#lifecycle = run.catch(() => undefined);
    return run;
  }

  /**
   * Tells the logger about a misused call, as the seed API did (a WARN or an
   * ERROR beside the rejection), so its troubleshooting lines still apply.
   */
  #log(level: "warn" | "error", message: string): void {
    try {
      this.#logger({ level, target: "rmqtt_js::server", message });
    } catch {
      // A failing logger must not turn into another error of this call.
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new RmqttError("ERR_CLOSED", "the server was closed; create a new MqttServer");
    }
  }
}

function toBuffer(payload: unknown): Buffer {
  if (typeof payload === "string") {
    return Buffer.from(payload, "utf8");
  }
  if (Buffer.isBuffer(payload)) {
    return payload;
  }
  if (payload instanceof Uint8Array) {
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  throw new RmqttError("ERR_INVALID_PAYLOAD", "publish(topic, payload): payload must be a string or a Buffer");
}
