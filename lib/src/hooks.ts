/**
 * The 17 hooks: their callback types, what `setHooks` accepts for each (a
 * callback, a `WasmPolicy`, or `null` to unbind), how a `setHooks` call
 * merges into the hooks already bound, and the native form of a hook set.
 */

import { RmqttError } from "./errors";
import { checkKeys, hint } from "./strict";
import type { PolicyHandle } from "./native";
import { policyHandle, WasmPolicy } from "./policy";
import type {
  AuthenticationRequest,
  AuthenticationResult,
  ConnackInfo,
  ConnectInfo,
  MessageFrom,
  MessageInfo,
  MqttMessage,
  PublishAuthorizeResult,
  SessionInfo,
  SubscribeAuthorizeResult,
  SubscriptionInfo,
  UnsubscriptionInfo,
} from "./types";

/**
 * Hook callbacks. Only registered hooks are called. Decisions (the first
 * three) may return a Promise; a throw, a rejection, an invalid answer or a
 * timeout (`hookTimeoutMs`) denies, with a WARN. Notifications are not
 * awaited; a throw or rejection is logged as a WARN.
 */
export interface HookCallbacks {
  /**
   * Decides on a CONNECT. `auth.properties.userProperties` holds the
   * CONNECT's MQTT 5 user properties (`[]` for MQTT 3.x).
   */
  onClientAuthenticate?: (
    auth: AuthenticationRequest,
  ) => AuthenticationResult | Promise<AuthenticationResult>;
  onClientSubscribeAuthorize?: (
    session: SessionInfo | null,
    sub: SubscriptionInfo,
  ) => SubscribeAuthorizeResult | Promise<SubscribeAuthorizeResult>;
  /**
   * Decides on a client's PUBLISH, once per publish. `packet.properties`
   * holds its MQTT 5 properties; the answer may rewrite the topic, payload,
   * QoS and user properties (`userProperties`; `[]` removes them).
   */
  onClientPublishAuthorize?: (
    session: SessionInfo | null,
    packet: MqttMessage,
  ) => PublishAuthorizeResult | Promise<PublishAuthorizeResult>;
  /** A message entered the broker (after the publish ACL, with its rewrite); `msg.properties` carries its MQTT 5 properties. */
  onMessagePublish?: (session: SessionInfo | null, from: MessageFrom, msg: MessageInfo) => void;
  onClientSubscribe?: (session: SessionInfo | null, sub: SubscriptionInfo) => void;
  onClientUnsubscribe?: (session: SessionInfo | null, unsub: UnsubscriptionInfo) => void;
  /** A message went to `session`; `message.properties` carries its MQTT 5 properties. */
  onMessageDelivered?: (session: SessionInfo | null, from: MessageFrom, message: MessageInfo) => void;
  /** `session` acknowledged a QoS 1/2 message; `message.properties` carries its MQTT 5 properties. */
  onMessageAcked?: (session: SessionInfo | null, from: MessageFrom, message: MessageInfo) => void;
  /** A message was dropped (denied, no subscriber, queue full, …); `message.properties` carries its MQTT 5 properties. */
  onMessageDropped?: (
    session: SessionInfo | null,
    from: MessageFrom | null,
    message: MessageInfo,
    info?: { reason?: string },
  ) => void;
  onClientConnect?: (info: ConnectInfo) => void;
  /** A CONNACK was sent; `info.connAck` is its reason (a `ConnackReason`). */
  onClientConnack?: (info: ConnackInfo) => void;
  onClientConnected?: (session: SessionInfo) => void;
  onClientDisconnected?: (session: SessionInfo, info?: { reason?: string }) => void;
  onSessionCreated?: (session: SessionInfo) => void;
  onSessionSubscribed?: (session: SessionInfo, subscription: SubscriptionInfo) => void;
  onSessionUnsubscribed?: (session: SessionInfo, unsubscription: UnsubscriptionInfo) => void;
  onSessionTerminated?: (session: SessionInfo, info?: { reason?: string }) => void;
}

export type HookName = keyof HookCallbacks;

/**
 * What `setHooks` takes: for each hook, a JS callback (called on the Node
 * thread) or a `WasmPolicy` that exports the hook's interface (answered by
 * the broker's threads, off the event loop), mixed freely; `null` unbinds
 * the hook (rmqtt's default applies again), `undefined` leaves it as it is.
 */
export type Hooks = {
  [K in HookName]?: HookCallbacks[K] | WasmPolicy | null | undefined;
};

/** Options of `setHooks` (an unknown key: `ERR_INVALID_OPTIONS`). */
export interface SetHooksOptions {
  /**
   * Replace the whole set: hooks not named in this call are unbound.
   * Default `false`: hooks not named keep their binding, as in the seed API,
   * so one `setHooks` call per concern adds up.
   */
  replace?: boolean;
}

/** The seed API's names for single hook callbacks. */
export type MessagePublishHook = (session: SessionInfo | null, from: MessageFrom, message: MessageInfo) => void;
export type ClientSubscribeHook = (session: SessionInfo, subscribe: SubscriptionInfo) => void;
export type ClientUnsubscribeHook = (session: SessionInfo, unsubscribe: UnsubscriptionInfo) => void;
export type MessageDeliveredHook = (session: SessionInfo, from: MessageFrom, message: MessageInfo) => void;

/** Every hook once; the `Record` type makes the compiler check the list is complete. */
const HOOKS: Record<HookName, true> = {
  onClientAuthenticate: true,
  onClientSubscribeAuthorize: true,
  onClientPublishAuthorize: true,
  onClientConnect: true,
  onClientConnack: true,
  onClientConnected: true,
  onClientDisconnected: true,
  onSessionCreated: true,
  onSessionSubscribed: true,
  onSessionUnsubscribed: true,
  onSessionTerminated: true,
  onClientSubscribe: true,
  onClientUnsubscribe: true,
  onMessagePublish: true,
  onMessageDelivered: true,
  onMessageAcked: true,
  onMessageDropped: true,
};

/** Every hook name, decisions first. */
export const HOOK_NAMES: readonly HookName[] = Object.keys(HOOKS) as HookName[];

const KNOWN: ReadonlySet<string> = new Set(HOOK_NAMES);

/** What the native layer binds a hook to: a JS function, or a policy's native handle. */
export type NativeHookValue = ((...args: never[]) => unknown) | PolicyHandle;

/** The validated, native form of a hooks object. */
export type NativeHooks = Readonly<Record<string, NativeHookValue>>;

/**
 * The hooks bound after `setHooks(hooks, options)` on a server or tenant
 * whose hooks are `current`: each hook named with a function or a
 * `WasmPolicy` is bound to it, each named with `null` is unbound, the others
 * keep their binding (with `options.replace`, they are unbound). Only names
 * and options are checked here; `toNativeHooks` checks the values.
 * @throws RmqttError `ERR_INVALID_HOOK` (not an object, an unknown hook name), `ERR_INVALID_OPTIONS`
 */
export function mergeHooks(current: Readonly<Hooks>, hooks: unknown, options?: unknown): Readonly<Hooks> {
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) {
    throw new RmqttError("ERR_INVALID_HOOK", "setHooks(hooks) needs an object of hook callbacks");
  }
  const next: Record<string, unknown> = replaceRequested(options) ? {} : { ...current };
  for (const [name, value] of Object.entries(hooks)) {
    if (!KNOWN.has(name)) {
      throw new RmqttError("ERR_INVALID_HOOK", `unknown hook "${name}" ${hint(name, HOOK_NAMES, "hooks")}`);
    }
    if (value === null) {
      delete next[name];
    } else if (value !== undefined) {
      next[name] = value;
    }
  }
  return Object.freeze(next as Hooks);
}

/**
 * The native form of a hook set, handed to the native layer in one call (so
 * a swap is atomic). Whether a policy serves its hook is checked natively.
 * @throws RmqttError `ERR_INVALID_HOOK` (a value that is not a function or a
 *   policy), `ERR_POLICY_CLOSED` (a policy closed since it was bound)
 */
export function toNativeHooks(hooks: Readonly<Hooks>): NativeHooks {
  const table: Record<string, NativeHookValue> = {};
  for (const [name, value] of Object.entries(hooks)) {
    if (value !== undefined && value !== null) {
      table[name] = toNativeHookValue(name, value);
    }
  }
  return table;
}

/** Every key of `SetHooksOptions`; the `Record` type keeps the list complete. */
const SET_HOOKS_OPTION_KEYS = Object.keys({ replace: true } satisfies Record<keyof SetHooksOptions, true>);

function replaceRequested(options: unknown): boolean {
  if (options === undefined) {
    return false;
  }
  if (typeof options !== "object" || options === null) {
    throw new RmqttError("ERR_INVALID_OPTIONS", "setHooks(hooks, options): options must be an object");
  }
  checkKeys(options, SET_HOOKS_OPTION_KEYS, "ERR_INVALID_OPTIONS", "setHooks(hooks, options)");
  const { replace } = options as SetHooksOptions;
  if (replace !== undefined && typeof replace !== "boolean") {
    throw new RmqttError("ERR_INVALID_OPTIONS", "setHooks(hooks, { replace }): replace must be a boolean");
  }
  return replace === true;
}

function toNativeHookValue(name: string, value: unknown): NativeHookValue {
  if (typeof value === "function") {
    return value as NativeHookValue;
  }
  if (value instanceof WasmPolicy) {
    return policyHandle(value, name);
  }
  throw new RmqttError(
    "ERR_INVALID_HOOK",
    `hook \`${name}\` must be a function, a WasmPolicy or null, got ${typeof value}`,
  );
}
