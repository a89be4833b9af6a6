/**
 * `WasmPolicy`: a hook policy compiled to a WebAssembly component
 * (`rmqtt:hooks@0.2.0`, or the older 0.1.0) and run in a sandbox by the broker's own threads, off
 * the Node event loop. Bind it to hooks with `server.setHooks`, next to JS
 * callbacks.
 */

import { RmqttError, toRmqttError } from "./errors";
import type { HookName } from "./hooks";
import { native, type PolicyHandle } from "./native";
import { checkKeys } from "./strict";

/** Options of `WasmPolicy.load`. Absent fields keep the defaults; an unknown key is `ERR_POLICY_OPTIONS`. */
export interface WasmPolicyOptions {
  /** Names the policy in logs and errors. Default: the file name without extension, or `"policy"` for bytes. */
  name?: string;
  /** Deadline of one call in milliseconds; past it the guest is interrupted and the decision is a deny. Default 50. */
  timeoutMs?: number;
  /** Cap on each linear memory of an instance, in bytes (64 KiB .. the engine's cap). Default 64 MiB. */
  maxMemoryBytes?: number;
  /** Cap on live instances, i.e. calls of this policy running at once. Default 16. */
  maxInstances?: number;
  /**
   * What the policy reads with `host.config()` (`rmqtt:hooks@0.2.0`): a string, or a
   * JSON-serializable object (given to the policy as its JSON text). At most 1 MiB.
   * Typical content: a JWT key, a user table's location, feature switches. Default: none.
   */
  config?: string | Record<string, unknown>;
}

/** Where the compiled code of a loaded policy came from. */
export type PolicyCacheSource = "compiled" | "disk" | "memory";

/** How a policy was loaded. */
export interface PolicyLoadInfo {
  /** BLAKE3 hash of the component bytes, hex. */
  readonly digest: string;
  /** Compiled now, or found in the on-disk or in-process cache. */
  readonly cacheSource: PolicyCacheSource;
  /** Wall time of the load in milliseconds (read, compile or cache hit, first instance). */
  readonly loadMs: number;
}

/** What `policyLoad` resolves with. */
interface NativeLoaded {
  handle: PolicyHandle;
  name: string;
  hooks: string[];
  digest: string;
  cacheSource: PolicyCacheSource;
  loadMs: number;
  timeoutMs: number;
}

/** Every key of `WasmPolicyOptions`; the `Record` type keeps the list complete. */
const OPTION_KEYS = Object.keys({
  name: true,
  timeoutMs: true,
  maxMemoryBytes: true,
  maxInstances: true,
  config: true,
} satisfies Record<keyof WasmPolicyOptions, true>);

/** Lets only `WasmPolicy.load` construct instances. */
const TOKEN = Symbol("WasmPolicy");

/** Each policy's native handle; `null` once closed. */
const handles = new WeakMap<WasmPolicy, PolicyHandle | null>();

/**
 * A loaded policy. Load with `WasmPolicy.load`; bind with `server.setHooks`
 * (to the hooks in `hooks` only); release with `close`.
 */
export class WasmPolicy {
  /** The policy's name (logs, errors). */
  readonly name: string;
  /**
   * The hooks this policy can answer, from its exports: `authenticate` →
   * `onClientAuthenticate`, `authorize-subscribe` → `onClientSubscribeAuthorize`,
   * `authorize-publish` → `onClientPublishAuthorize`, `events` → the 14
   * notification hooks.
   */
  readonly hooks: readonly HookName[];
  /** How it was loaded. */
  readonly loadInfo: PolicyLoadInfo;
  /** The per-call deadline in milliseconds. */
  readonly timeoutMs: number;

  /** Use `WasmPolicy.load`. */
  private constructor(token: symbol, loaded: NativeLoaded) {
    if (token !== TOKEN) {
      throw new RmqttError("ERR_INVALID_OPTIONS", "use `await WasmPolicy.load(...)` to create a WasmPolicy");
    }
    handles.set(this, loaded.handle);
    this.name = loaded.name;
    this.hooks = Object.freeze(loaded.hooks as HookName[]);
    this.loadInfo = Object.freeze({
      digest: loaded.digest,
      cacheSource: loaded.cacheSource,
      loadMs: loaded.loadMs,
    });
    this.timeoutMs = loaded.timeoutMs;
    Object.freeze(this);
  }

  /**
   * Loads a policy component from a file path or its bytes. Compilation runs
   * on a background thread (a 12 MB StarlingMonkey component takes seconds
   * the first time; later loads of the same bytes hit the cache).
   * @throws RmqttError `ERR_POLICY_IO`, `ERR_POLICY_INVALID`, `ERR_POLICY_WIT_VERSION`,
   *   `ERR_POLICY_NO_EXPORTS`, `ERR_POLICY_UNSATISFIED_IMPORT`, `ERR_POLICY_COMPILE`,
   *   `ERR_POLICY_INSTANTIATE`, `ERR_POLICY_OPTIONS`, `ERR_POLICY_INIT` (the policy's
   *   `lifecycle.init` returned an error: its message is in the error's)
   */
  static async load(source: string | Uint8Array, options: WasmPolicyOptions = {}): Promise<WasmPolicy> {
    if (typeof source !== "string" && !(source instanceof Uint8Array)) {
      throw new RmqttError("ERR_POLICY_OPTIONS", "WasmPolicy.load(source): source must be a file path or a Uint8Array");
    }
    checkOptions(options);
    const config = options.config === undefined || typeof options.config === "string" ? options.config : JSON.stringify(options.config);
    try {
      const loaded = (await native.policyLoad(source, { ...options, config })) as NativeLoaded;
      return new WasmPolicy(TOKEN, loaded);
    } catch (e) {
      throw toRmqttError(e);
    }
  }

  /** Whether this policy can answer `hook`. */
  serves(hook: HookName): boolean {
    return this.hooks.includes(hook);
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return (handles.get(this) ?? null) === null;
  }

  /**
   * Releases this handle: later `setHooks` calls (and `start` of a server
   * whose hooks name it) fail with `ERR_POLICY_CLOSED`. Servers already using
   * the policy keep it until their hooks are replaced or they stop; its
   * memory is freed when the last of them lets go. Idempotent.
   */
  close(): void {
    const handle = handles.get(this);
    if (handle) {
      native.policyClose(handle);
      handles.set(this, null);
    }
  }
}

/**
 * The native handle of `policy`, for binding it to `hook` (not API).
 * @throws RmqttError `ERR_POLICY_CLOSED`
 */
export function policyHandle(policy: WasmPolicy, hook: string): PolicyHandle {
  const handle = handles.get(policy);
  if (!handle) {
    throw new RmqttError(
      "ERR_POLICY_CLOSED",
      `hook \`${hook}\`: the WasmPolicy \`${policy.name}\` was closed; bind another policy, a function, or null`,
    );
  }
  return handle;
}

function checkOptions(options: unknown): void {
  if (typeof options !== "object" || options === null) {
    throw new RmqttError("ERR_POLICY_OPTIONS", "WasmPolicy.load(source, options): options must be an object");
  }
  checkKeys(options, OPTION_KEYS, "ERR_POLICY_OPTIONS", "WasmPolicy.load(source, options)");
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) {
      continue;
    }
    if (key === "config") {
      if (typeof value === "string") {
        continue;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new RmqttError("ERR_POLICY_OPTIONS", "WasmPolicy option `config` must be a string or a plain object (given to the policy as JSON)");
      }
      try {
        JSON.stringify(value);
      } catch (e) {
        throw new RmqttError("ERR_POLICY_OPTIONS", `WasmPolicy option \`config\` cannot be turned into JSON: ${(e as Error).message}`);
      }
      continue;
    }
    if (key === "name") {
      if (typeof value !== "string" || value.length === 0) {
        throw new RmqttError("ERR_POLICY_OPTIONS", "WasmPolicy option `name` must be a non-empty string");
      }
    } else if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new RmqttError("ERR_POLICY_OPTIONS", `WasmPolicy option \`${key}\` must be a positive number`);
    } else if (key !== "timeoutMs" && !Number.isInteger(value)) {
      throw new RmqttError("ERR_POLICY_OPTIONS", `WasmPolicy option \`${key}\` must be an integer`);
    }
  }
}
