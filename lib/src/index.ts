/**
 * rmqtt-js: an MQTT broker for Node.js, with a Rust core (rmqtt) and hooks
 * answered by JS callbacks. CommonJS entry point; `index.mts` is the ESM one.
 */

import { MqttServer } from "./server";

export { MqttServer };
/** The seed API's default export: `import MqttServer from "rmqtt-js"`. */
export default MqttServer;
export { QoS } from "./types";
export { RmqttError } from "./errors";
export { WasmPolicy } from "./policy";
export { hashPassword } from "./password";
export type { ConnackReason, ConnectProperties, MessageProperties, UserProperties } from "./types";
export type { PolicyData, PolicyDataEntries, PolicyDataValue } from "./data";
export type {
  PolicyAuthenticationInput,
  PolicyCacheSource,
  PolicyCallOptions,
  PolicyLoadInfo,
  PolicyMessageInput,
  WasmPolicyOptions,
} from "./policy";
export type { HookBackendKind, HookStatsEntry, ServerStats } from "./stats";
export { Tenant } from "./tenants";
export type { TenantOptions, TenantResolver, TenantStats } from "./tenants";
export type { RmqttErrorCode } from "./errors";
export type {
  ClientSubscribeHook,
  ClientUnsubscribeHook,
  HookCallbacks,
  HookName,
  Hooks,
  MessageDeliveredHook,
  MessagePublishHook,
  SetHooksOptions,
} from "./hooks";
export type {
  AuthenticationRequest,
  AuthenticationResult,
  ClientCertificate,
  ConnackInfo,
  ConnectInfo,
  ListenerConfig,
  ListenerInfo,
  LogEntry,
  LogLevel,
  Logger,
  MessageFrom,
  MessageInfo,
  MqttMessage,
  MqttServerOptions,
  MultiProtocolOptions,
  PublishAuthorizeResult,
  PublishOptions,
  ServerConfig,
  SessionInfo,
  SubscribeAuthorizeResult,
  SubscribeOptions,
  SubscriptionInfo,
  TenancyConfig,
  PersistenceConfig,
  DirPersistenceConfig,
  RedisPersistenceConfig,
  UnsubscriptionInfo,
} from "./types";
