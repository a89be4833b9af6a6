/**
 * `WasmPolicy`: a hook policy compiled to a WebAssembly component
 * (`rmqtt:hooks@0.2.0`, or the older 0.1.0) and run in a sandbox by the broker's own threads, off
 * the Node event loop. Bind it to hooks with `server.setHooks`, next to JS
 * callbacks.
 */

import { detachedPolicyData, policyDataHandle, PolicyData, type PolicyDataEntries } from "./data";
import { RmqttError, toRmqttError } from "./errors";
import type { HookName } from "./hooks";
import { native, type PolicyHandle } from "./native";
import { checkKeys } from "./strict";
import type {
  AuthenticationRequest,
  AuthenticationResult,
  MqttMessage,
  PublishAuthorizeResult,
  SessionInfo,
  SubscribeAuthorizeResult,
  SubscriptionInfo,
  UserProperties,
} from "./types";

/**
 * Options of a direct call (`policy.authenticate(req, options)`, for unit
 * tests of a policy without a broker).
 */
export interface PolicyCallOptions {
  /**
   * What the policy's `data.get` reads: a server's or tenant's `PolicyData`,
   * or entries (`[key, value]` pairs or an object) for this call only.
   * Default: no data (every `get` is `none`).
   */
  data?: PolicyData | PolicyDataEntries;
}

/** A request to run: the fields a test does not give get neutral values. */
export type PolicyAuthenticationInput = Partial<Omit<AuthenticationRequest, "password" | "properties">> & {
  password?: string | Buffer | Uint8Array | null;
  properties?: { userProperties?: UserProperties };
};

/** A message to run: `payload` may be a string (UTF-8). */
export type PolicyMessageInput = Partial<Omit<MqttMessage, "payload" | "properties">> & {
  topic: string;
  payload?: string | Buffer | Uint8Array;
  properties?: Partial<MqttMessage["properties"]>;
};

const bytesOf = (v: string | Buffer | Uint8Array | null | undefined): Uint8Array | undefined =>
  v === null || v === undefined ? undefined : typeof v === "string" ? Buffer.from(v, "utf8") : v;

/** Drops `null`s: the native side reads absent fields as absent. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as T;
}

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

  /**
   * Runs the policy's `authenticate` as the broker would, without a broker
   * (unit tests): the real component, its limits, its `config`, and the
   * `data` given here. Fields left out get neutral values (client id
   * `"test-client"`, MQTT 5, keep-alive 60).
   * @throws RmqttError `ERR_POLICY_ERROR` (the policy answered `err`: its
   *   message), `ERR_POLICY_TRAP`, `ERR_POLICY_TIMEOUT`, `ERR_POLICY_MISSING_EXPORT`,
   *   `ERR_POLICY_CLOSED`
   */
  async authenticate(request: PolicyAuthenticationInput, options: PolicyCallOptions = {}): Promise<AuthenticationResult> {
    const req = defined({
      clientId: request.clientId ?? "test-client",
      username: request.username,
      password: bytesOf(request.password),
      protocolVersion: request.protocolVersion ?? 5,
      remoteAddr: request.remoteAddr,
      keepAlive: request.keepAlive ?? 60,
      cleanStart: request.cleanSession ?? true,
      tenant: request.tenant,
      userProperties: request.properties?.userProperties,
    });
    return (await this.#call("authenticate", req, undefined, options)) as AuthenticationResult;
  }

  /**
   * Runs the policy's `authorize-subscribe` without a broker (see `authenticate`).
   * @throws RmqttError as `authenticate`
   */
  async authorizeSubscribe(
    session: Partial<SessionInfo>,
    subscription: SubscriptionInfo,
    options: PolicyCallOptions = {},
  ): Promise<SubscribeAuthorizeResult> {
    return (await this.#call("authorizeSubscribe", sessionOf(session), { ...subscription }, options)) as SubscribeAuthorizeResult;
  }

  /**
   * Runs the policy's `authorize-publish` without a broker (see `authenticate`).
   * A rewritten payload comes back as a `Buffer`, user properties as pairs.
   * @throws RmqttError as `authenticate`
   */
  async authorizePublish(
    session: Partial<SessionInfo>,
    message: PolicyMessageInput,
    options: PolicyCallOptions = {},
  ): Promise<PublishAuthorizeResult> {
    const msg = defined({
      topic: message.topic,
      payload: bytesOf(message.payload) ?? new Uint8Array(),
      qos: message.qos ?? 0,
      retain: message.retain ?? false,
      properties: message.properties ? defined({ ...message.properties }) : undefined,
    });
    return (await this.#call("authorizePublish", sessionOf(session), msg, options)) as PublishAuthorizeResult;
  }

  async #call(hook: string, a: object, b: object | undefined, options: PolicyCallOptions): Promise<unknown> {
    const handle = policyHandle(this, hook);
    if (typeof options !== "object" || options === null) {
      throw new RmqttError("ERR_INVALID_OPTIONS", `policy.${hook}(..., options): options must be an object`);
    }
    checkKeys(options, ["data"], "ERR_INVALID_OPTIONS", `policy.${hook}(..., options)`);
    let data: PolicyData | undefined;
    if (options.data instanceof PolicyData) {
      data = options.data;
    } else if (options.data !== undefined) {
      data = detachedPolicyData();
      data.replace(options.data);
    }
    try {
      return await native.policyCall(handle, hook, a, b, data === undefined ? undefined : policyDataHandle(data));
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

function sessionOf(s: Partial<SessionInfo>): object {
  return defined({
    node: s.node ?? 1,
    remoteAddr: s.remoteAddr,
    clientId: s.clientId ?? "test-client",
    username: s.username,
    tenant: s.tenant,
  });
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
