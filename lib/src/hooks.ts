/**
 * The 17 hooks: their callback types, what `setHooks` accepts for each (a
 * callback or a `WasmPolicy`), and the check of a `setHooks` object before it
 * goes to the native layer.
 */

import { RmqttError } from "./errors";
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
  onClientAuthenticate?: (
    auth: AuthenticationRequest,
  ) => AuthenticationResult | Promise<AuthenticationResult>;
  onClientSubscribeAuthorize?: (
    session: SessionInfo | null,
    sub: SubscriptionInfo,
  ) => SubscribeAuthorizeResult | Promise<SubscribeAuthorizeResult>;
  onClientPublishAuthorize?: (
    session: SessionInfo | null,
    packet: MqttMessage,
  ) => PublishAuthorizeResult | Promise<PublishAuthorizeResult>;
  onMessagePublish?: (session: SessionInfo | null, from: MessageFrom, msg: MessageInfo) => void;
  onClientSubscribe?: (session: SessionInfo | null, sub: SubscriptionInfo) => void;
  onClientUnsubscribe?: (session: SessionInfo | null, unsub: UnsubscriptionInfo) => void;
  onMessageDelivered?: (session: SessionInfo | null, from: MessageFrom, message: MessageInfo) => void;
  onMessageAcked?: (session: SessionInfo | null, from: MessageFrom, message: MessageInfo) => void;
  onMessageDropped?: (
    session: SessionInfo | null,
    from: MessageFrom | null,
    message: MessageInfo,
    info?: { reason?: string },
  ) => void;
  onClientConnect?: (info: ConnectInfo) => void;
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
 * the broker's threads, off the event loop), mixed freely.
 */
export type Hooks = {
  [K in HookName]?: HookCallbacks[K] | WasmPolicy;
};

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
 * Checks a `setHooks` argument: a plain object whose keys are hook names and
 * whose values are functions or `WasmPolicy` handles (undefined values are
 * skipped). Whether a policy serves its hook is checked natively.
 * @throws RmqttError `ERR_INVALID_HOOK`, `ERR_POLICY_CLOSED`
 */
export function toNativeHooks(hooks: unknown): NativeHooks {
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) {
    throw new RmqttError("ERR_INVALID_HOOK", "setHooks(hooks) needs an object of hook callbacks");
  }
  const table: Record<string, NativeHookValue> = {};
  for (const [name, value] of Object.entries(hooks)) {
    if (!KNOWN.has(name)) {
      throw new RmqttError(
        "ERR_INVALID_HOOK",
        `unknown hook \`${name}\`; known hooks: ${HOOK_NAMES.join(", ")}`,
      );
    }
    if (value === undefined) {
      continue;
    }
    table[name] = toNativeHookValue(name, value);
  }
  return table;
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
    `hook \`${name}\` must be a function or a WasmPolicy, got ${value === null ? "null" : typeof value}`,
  );
}
