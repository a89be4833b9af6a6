/**
 * Tenants: many customers on one broker, each with its own sessions, topic
 * tree, retained messages, hooks (JS callbacks or sandboxed `WasmPolicy`s)
 * and counters. `MqttServer` owns one `TenantRegistry`; users see `Tenant`
 * handles from `server.addTenant` / `server.tenant`.
 */

import { checkMaxBytes, newPolicyData, releasePolicyData, type PolicyData } from "./data";
import { RmqttError, toRmqttError } from "./errors";
import { mergeHooks, toNativeHooks, type HookName, type Hooks, type SetHooksOptions } from "./hooks";
import {
  native,
  type NativeTenantResolver,
  type NativeTenantStats,
  type PolicyHandle,
  type ServerHandle,
} from "./native";
import { policyHandle, WasmPolicy, type WasmPolicyOptions } from "./policy";
import { toServerStats, type ServerStats } from "./stats";
import { checkKeys } from "./strict";
import type { AuthenticationRequest } from "./types";

/** Options of `server.addTenant` (an unknown key: `ERR_INVALID_OPTIONS`). */
export interface TenantOptions {
  /** The tenant's hooks, as for `server.setHooks` (JS functions or `WasmPolicy`s). Default: none. */
  hooks?: Hooks;
  /**
   * The cap on `tenant.data` (keys plus values), in bytes. Default 64 MiB.
   * Can be changed later with `tenant.data.maxBytes`.
   */
  maxDataBytes?: number;
}

/** Every key of `TenantOptions`; the `Record` type keeps the list complete. */
const TENANT_OPTION_KEYS = Object.keys({
  hooks: true,
  maxDataBytes: true,
} satisfies Record<keyof TenantOptions, true>);

/**
 * The rule every tenant id follows, wherever it is written (`addTenant`, a
 * listener's `tenant`, `tenancy.fallbackTenant`, `user@tenant`, a resolver's
 * answer): no MQTT wildcard or separator, no `@`, no `$`, no control
 * character, no path component. The host checks the same rule.
 */
export const TENANT_ID_RULE =
  'a tenant id is 1 to 64 characters from A-Z, a-z, 0-9, "_", "." and "-", and not "." or ".."';

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `id` follows `TENANT_ID_RULE`. */
export function isValidTenantId(id: unknown): id is string {
  return typeof id === "string" && TENANT_ID.test(id) && id !== "." && id !== "..";
}

/**
 * Throws unless `id` follows `TENANT_ID_RULE`; `what` names the argument,
 * e.g. `"addTenant(id)"`.
 * @throws RmqttError `ERR_INVALID_TENANT`
 */
export function checkTenantId(id: unknown, what: string): asserts id is string {
  if (isValidTenantId(id)) {
    return;
  }
  const shown =
    typeof id !== "string"
      ? `not a string (${id === null ? "null" : typeof id})`
      : [...id].length > 64
        ? `${JSON.stringify([...id].slice(0, 64).join(""))}… (${[...id].length} characters)`
        : JSON.stringify(id);
  throw new RmqttError("ERR_INVALID_TENANT", `${what}: invalid tenant id ${shown}: ${TENANT_ID_RULE}`);
}

/**
 * Picks the tenant of a connecting client on listeners without a `tenant`
 * (see `ServerConfig.tenancy`): a tenant id, or `null`/`undefined` to let the
 * next rule (`user@tenant`, then the fallback) decide. May return a Promise;
 * a throw, a rejection, another answer, an id that breaks `TENANT_ID_RULE`
 * (with a WARN) or a timeout (`hookTimeoutMs`) refuses the client. `setTenantResolver` also takes a `WasmPolicy` that
 * exports `rmqtt:hooks/tenant-resolver`.
 */
export type TenantResolver = (
  request: AuthenticationRequest,
) => string | null | undefined | Promise<string | null | undefined>;

/**
 * A tenant's activity since it was declared (kept across restarts): its
 * traffic, plus its hooks' counters in the shape of `server.stats()`
 * (calls, allows, denies, timeouts, traps, errors, p50/p99 per hook × backend).
 */
export interface TenantStats extends ServerStats {
  readonly id: string;
  /** Clients connected now. */
  readonly connections: number;
  /** Messages the tenant's clients published that passed the publish ACL (server publishes are not counted). */
  readonly messagesIn: number;
  /** Messages delivered to the tenant's clients. */
  readonly messagesOut: number;
}

/** What a `Tenant` needs from its server. */
interface TenantLink {
  readonly handle: ServerHandle;
  assertOpen(): void;
}

/** Lets only the registry construct tenants. */
const TOKEN = Symbol("Tenant");

/** Each tenant's hooks in force, kept out of the public surface. */
const tenantHooks = new WeakMap<Tenant, Readonly<Hooks>>();

/** One declared tenant. Get it from `server.addTenant` or `server.tenant(id)`. */
export class Tenant {
  /** The tenant id (what `user@<id>`, a listener's `tenant` and the resolver name). */
  readonly id: string;
  readonly #link: TenantLink;
  readonly #data: PolicyData;

  /** Use `server.addTenant`. */
  constructor(token: symbol, link: TenantLink, id: string, hooks: Readonly<Hooks>) {
    if (token !== TOKEN) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "use `await server.addTenant(id, options)` to create a Tenant");
    }
    this.id = id;
    this.#link = link;
    tenantHooks.set(this, hooks);
    this.#data = newPolicyData({
      open: () => native.serverTenantData(link.handle, id),
      name: `tenant(${JSON.stringify(id)}).data`,
      raise: "raise the cap with `tenant.data.maxBytes = <bytes>` (or `maxDataBytes` in `addTenant` options)",
      assertOpen: () => link.assertOpen(),
    });
  }

  /**
   * The tenant's key-value data: what its `WasmPolicy`s read with
   * `rmqtt:hooks/data.get` and what its JS hooks may read. Separate from
   * `server.data` and from every other tenant's. An update is visible to the
   * next decision. Always the same object; kept across `stop()`/`start()`.
   */
  get data(): PolicyData {
    return this.#data;
  }

  /**
   * Binds the tenant's hooks named in `hooks`, as `server.setHooks` does for
   * the default broker: to a JS callback or a `WasmPolicy`, or with `null`
   * back to the default; hooks not named keep their binding unless
   * `{ replace: true }`. A hot swap, also while running: decisions in flight
   * finish on the old hooks, the next ones use the new; no client is
   * disconnected. A call that throws changes nothing.
   * @throws RmqttError `ERR_INVALID_HOOK`, `ERR_INVALID_OPTIONS`, `ERR_POLICY_CLOSED`,
   *   `ERR_POLICY_MISSING_EXPORT`, `ERR_CLOSED`
   */
  setHooks(hooks: Hooks, options?: SetHooksOptions): void {
    this.#link.assertOpen();
    const next = mergeHooks(hooksOf(this), hooks, options);
    try {
      native.serverTenantSetHooks(this.#link.handle, this.id, toNativeHooks(next));
    } catch (e) {
      throw toRmqttError(e);
    }
    tenantHooks.set(this, next);
  }

  /**
   * Loads a policy and binds it to every hook it exports, in one swap (other
   * hooks keep their binding). If the load fails, or a hook the tenant had
   * bound to a `WasmPolicy` is not exported by the new one, this rejects and
   * the tenant keeps its hooks. The earlier policy is not closed (it may
   * serve other tenants): close it when no longer needed.
   * @returns the new policy
   * @throws RmqttError `ERR_POLICY_*` (load errors, `ERR_POLICY_MISSING_EXPORT`), `ERR_CLOSED`
   */
  async reload(source: string | Uint8Array, options?: WasmPolicyOptions): Promise<WasmPolicy> {
    this.#link.assertOpen();
    const policy = await WasmPolicy.load(source, options);
    for (const [hook, value] of Object.entries(hooksOf(this))) {
      if (value instanceof WasmPolicy && !policy.serves(hook as HookName)) {
        policy.close();
        throw new RmqttError(
          "ERR_POLICY_MISSING_EXPORT",
          `tenant \`${this.id}\`: the new policy \`${policy.name}\` does not serve \`${hook}\`, ` +
            "which the current policy answers; the tenant keeps its hooks",
        );
      }
    }
    try {
      this.setHooks(Object.fromEntries(policy.hooks.map((hook) => [hook, policy])));
    } catch (e) {
      policy.close();
      throw e;
    }
    return policy;
  }

  /**
   * The tenant's counters.
   * @throws RmqttError `ERR_CLOSED`
   */
  stats(): TenantStats {
    this.#link.assertOpen();
    return toTenantStats(native.serverTenantStats(this.#link.handle, this.id));
  }
}

function hooksOf(tenant: Tenant): Readonly<Hooks> {
  return tenantHooks.get(tenant) ?? {};
}

/** The tenants of one server, and its tenant resolver. Not API. */
export class TenantRegistry {
  readonly #link: TenantLink;
  readonly #tenants = new Map<string, Tenant>();
  #resolver: TenantResolver | WasmPolicy | null = null;

  constructor(link: TenantLink) {
    this.#link = link;
  }

  async add(id: unknown, options: TenantOptions = {}): Promise<Tenant> {
    this.#link.assertOpen();
    checkTenantId(id, "addTenant(id)");
    if (typeof options !== "object" || options === null) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "addTenant(id, options): options must be an object");
    }
    checkKeys(options, TENANT_OPTION_KEYS, "ERR_INVALID_OPTIONS", "addTenant(id, options)");
    const { maxDataBytes } = options;
    if (maxDataBytes !== undefined) {
      checkMaxBytes(maxDataBytes, "addTenant(id, { maxDataBytes })");
    }
    const hooks = mergeHooks({}, options.hooks ?? {});
    try {
      await native.serverAddTenant(this.#link.handle, id, toNativeHooks(hooks));
    } catch (e) {
      throw toRmqttError(e);
    }
    const tenant = new Tenant(TOKEN, this.#link, id, hooks);
    if (maxDataBytes !== undefined) {
      // The data is empty yet: this cannot be refused.
      tenant.data.maxBytes = maxDataBytes;
    }
    this.#tenants.set(id, tenant);
    return tenant;
  }

  get(id: string): Tenant {
    this.#link.assertOpen();
    const tenant = this.#tenants.get(id);
    if (tenant === undefined) {
      throw new RmqttError("ERR_TENANT_UNKNOWN", `unknown tenant \`${String(id)}\``);
    }
    return tenant;
  }

  list(): Tenant[] {
    return [...this.#tenants.values()];
  }

  stats(): TenantStats[] {
    this.#link.assertOpen();
    return native.serverTenantStats(this.#link.handle).map(toTenantStats);
  }

  setResolver(resolver: TenantResolver | WasmPolicy | null): void {
    this.#link.assertOpen();
    if (resolver !== null && typeof resolver !== "function" && !(resolver instanceof WasmPolicy)) {
      throw new RmqttError(
        "ERR_INVALID_OPTIONS",
        "setTenantResolver(resolver): resolver must be a function, a WasmPolicy or null",
      );
    }
    try {
      native.serverSetTenantResolver(this.#link.handle, toNativeResolver(resolver));
    } catch (e) {
      throw toRmqttError(e);
    }
    this.#resolver = resolver;
  }

  /** Binds every tenant's hooks and the resolver again (`stop` released them). */
  rebind(): void {
    for (const tenant of this.#tenants.values()) {
      native.serverTenantSetHooks(this.#link.handle, tenant.id, toNativeHooks(hooksOf(tenant)));
    }
    native.serverSetTenantResolver(this.#link.handle, toNativeResolver(this.#resolver));
  }

  /** Forgets everything and empties every tenant's data (after `close`). */
  clear(): void {
    for (const tenant of this.#tenants.values()) {
      releasePolicyData(tenant.data);
    }
    this.#tenants.clear();
    this.#resolver = null;
  }
}

function toNativeResolver(resolver: TenantResolver | WasmPolicy | null): NativeTenantResolver | PolicyHandle | null {
  if (resolver instanceof WasmPolicy) {
    return policyHandle(resolver, "tenant resolver");
  }
  return resolver as NativeTenantResolver | null;
}

function toTenantStats(s: NativeTenantStats): TenantStats {
  return Object.freeze({
    id: s.id,
    connections: s.connections,
    messagesIn: s.messagesIn,
    messagesOut: s.messagesOut,
    ...toServerStats(s.hooks),
  });
}
