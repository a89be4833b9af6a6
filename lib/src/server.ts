/**
 * `MqttServer`: the public class. It validates arguments, keeps the state the
 * API promises (hooks across restarts, bound listeners, closed), and
 * delegates everything else to the native layer.
 */

import { basicConfig, configToJson, multiProtocolConfig } from "./config";
import { RmqttError, toRmqttError } from "./errors";
import { toNativeHooks, type Hooks, type NativeHooks } from "./hooks";
import { attachLogger, defaultLogger, detachLogger } from "./logging";
import { native, type ServerHandle } from "./native";
import type { WasmPolicy } from "./policy";
import { toServerStats, type ServerStats } from "./stats";
import { TenantRegistry, type Tenant, type TenantOptions, type TenantResolver, type TenantStats } from "./tenants";
import type {
  ListenerInfo,
  Logger,
  MqttServerOptions,
  MultiProtocolOptions,
  PublishOptions,
  ServerConfig,
} from "./types";

export class MqttServer {
  readonly #handle: ServerHandle;
  readonly #logger: Logger;
  /** The hooks of the last `setHooks`, applied again on every `start`. */
  #hooks: NativeHooks = {};
  #listeners: ListenerInfo[] = [];
  #closed = false;
  /** start/stop/close run one after another, in call order. */
  #lifecycle: Promise<unknown> = Promise.resolve();
  readonly #tenants: TenantRegistry;

  constructor(options: MqttServerOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "new MqttServer(options): options must be an object");
    }
    if (options.logger !== undefined && typeof options.logger !== "function") {
      throw new RmqttError("ERR_INVALID_OPTIONS", "new MqttServer(options): `logger` must be a function");
    }
    this.#logger = options.logger ?? defaultLogger;
    this.#handle = native.serverNew();
    const handle = this.#handle;
    this.#tenants = new TenantRegistry({ handle, assertOpen: () => this.#assertOpen() });
  }

  /**
   * Replaces the whole set of hooks (hooks not in `hooks` fall back to the
   * defaults). Each hook takes a JS callback or a `WasmPolicy` that exports
   * it. Takes effect at once, also while running: every decision uses the
   * old set or the new one, never a mix, and no client is disconnected.
   * @throws RmqttError `ERR_INVALID_HOOK`, `ERR_POLICY_MISSING_EXPORT` (a policy
   *   bound to a hook it does not export), `ERR_POLICY_CLOSED`, `ERR_CLOSED`
   */
  setHooks(hooks: Hooks): void {
    this.#assertOpen();
    const table = toNativeHooks(hooks);
    try {
      native.serverSetHooks(this.#handle, table);
    } catch (e) {
      throw toRmqttError(e);
    }
    this.#hooks = table;
  }

  /**
   * Starts the broker; resolves when every listener is bound (see
   * `listeners` for the bound ports).
   * @throws RmqttError `ERR_ALREADY_RUNNING`, `ERR_INVALID_CONFIG`, `ERR_CONFIG_*`, `ERR_BIND`, `ERR_CLOSED`
   */
  async start(config: ServerConfig): Promise<void> {
    this.#assertOpen();
    const json = configToJson(config);
    await this.#serialize(async () => {
      this.#assertOpen();
      attachLogger(this, this.#logger);
      try {
        native.serverSetHooks(this.#handle, this.#hooks);
        this.#tenants.rebind();
        const bound = await native.serverStart(this.#handle, json);
        this.#listeners = bound.map((l) => ({ ...l }));
      } catch (e) {
        if (!native.serverIsRunning(this.#handle)) {
          detachLogger(this);
        }
        throw toRmqttError(e);
      }
    });
  }

  /** Stops the broker: closes the listeners and disconnects every client. Stopping a stopped server does nothing. */
  async stop(): Promise<void> {
    await this.#serialize(() => this.#stopNow());
  }

  /**
   * Stops the server for good and releases its resources; later calls to
   * `start`, `publish` and `setHooks` fail with `ERR_CLOSED`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    await this.#serialize(async () => {
      await this.#stopNow();
      this.#hooks = {};
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
   *   `ERR_TENANT_UNKNOWN`, `ERR_INVALID_TENANT`, `ERR_CLOSED`
   */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    this.#assertOpen();
    if (typeof topic !== "string") {
      throw new RmqttError("ERR_INVALID_TOPIC", "publish(topic, ...): topic must be a string");
    }
    const bytes = toBuffer(payload);
    const { qos = 0, retain = false, tenant } = options ?? {};
    if (typeof qos !== "number" || !Number.isInteger(qos)) {
      throw new RmqttError("ERR_INVALID_QOS", `invalid QoS ${String(qos)}; use 0, 1 or 2`);
    }
    if (tenant !== undefined && (typeof tenant !== "string" || tenant.length === 0)) {
      throw new RmqttError("ERR_INVALID_TENANT", "publish(..., { tenant }): tenant must be a non-empty string");
    }
    try {
      await native.serverPublish(this.#handle, topic, bytes, qos, retain === true, tenant ?? null);
    } catch (e) {
      throw toRmqttError(e);
    }
  }

  /**
   * Declares a tenant with its hooks, before `start` or while running (its
   * broker starts at once). See the README section "Tenants".
   * @throws RmqttError `ERR_TENANT_EXISTS`, `ERR_INVALID_TENANT`, `ERR_INVALID_HOOK`, `ERR_POLICY_*`, `ERR_CLOSED`
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
