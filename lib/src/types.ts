/**
 * The data types of the public API: the seed API's shapes, plus the
 * additions of rmqtt-js (listener info, log entries, server options).
 */

/** MQTT quality of service. */
export enum QoS {
  AtMostOnce = 0,
  AtLeastOnce = 1,
  ExactlyOnce = 2,
}

/** Who a client session is. */
export interface SessionInfo {
  /** The broker node id. */
  node: number;
  remoteAddr: string | null;
  clientId: string;
  username: string | null;
  /** The tenant the client was resolved to, when tenants are configured. */
  tenant?: string;
}

/** Where a message came from. */
export interface MessageFrom {
  type: "client" | "system" | "bridge" | "admin" | "lastwill" | "custom";
  node: number;
  remoteAddr: string | null;
  clientId: string;
  username: string | null;
}

/**
 * MQTT 5 user properties: `[name, value]` pairs in the order they were
 * sent; a name may repeat. (The `mqtt` client shows them as an object
 * `{ name: value | value[] }`, which loses the order between names.)
 */
export type UserProperties = Array<[name: string, value: string]>;

/**
 * The MQTT 5 properties of an application message. A message published
 * with MQTT 3.x has none: `userProperties` is `[]` and the other fields are
 * absent (unless a publish ACL gave it user properties).
 */
export interface MessageProperties {
  userProperties: UserProperties;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /**
   * `1`: the publisher declared the payload UTF-8 text. Absent otherwise:
   * the broker keeps only this flag, so an indicator of 0 ("unspecified
   * bytes") and no indicator (which MQTT 5 defines as 0) both show as absent.
   */
  payloadFormatIndicator?: 1;
  /**
   * Seconds, as the publisher set it, in every hook (a subscriber receives
   * what is left of it when the message goes out).
   */
  messageExpiryInterval?: number;
}

/** A message as the notification hooks see it. */
export interface MessageInfo {
  dup: boolean;
  qos: QoS;
  retain: boolean;
  topic: string;
  payload: Buffer;
  /** Milliseconds since the Unix epoch. */
  createTime: number;
  /** Its MQTT 5 properties (empty for an MQTT 3.x message). */
  properties: MessageProperties;
}

export interface SubscriptionInfo {
  topicFilter: string;
  qos: QoS;
}

export interface UnsubscriptionInfo {
  topicFilter: string;
}

/** A client publish, as the publish ACL sees it. */
export interface MqttMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Its MQTT 5 properties (empty for an MQTT 3.x publish). */
  properties: MessageProperties;
}

export interface SubscribeOptions {
  qos?: QoS;
}

/** Options of `server.publish` (an unknown key: `ERR_INVALID_OPTIONS`). */
export interface PublishOptions {
  /** 0, 1 or 2; default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /**
   * Publish to one tenant's clients (its own topic tree, retained store and
   * hooks) instead of the default, tenant-less ones. Unknown tenant:
   * `ERR_TENANT_UNKNOWN`; an id that breaks the tenant id rule: `ERR_INVALID_TENANT`.
   */
  tenant?: string;
}

/** One CONNECT, as `onClientAuthenticate` sees it. */
export interface AuthenticationRequest {
  clientId: string;
  username: string | null;
  /** The password as UTF-8 text. */
  password: string | null;
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5. */
  protocolVersion: number;
  remoteAddr: string;
  keepAlive: number;
  /** Clean session (3.x) or clean start (5.0). */
  cleanSession: boolean;
  /** The CONNECT's MQTT 5 properties (`userProperties: []` for MQTT 3.x). */
  properties: ConnectProperties;
  tenant?: string;
  /**
   * The client certificate verified at the TLS handshake, on a `tls`/`wss`
   * listener with `tlsClientCa`; absent when the client presented none.
   */
  clientCert?: ClientCertificate;
}

/** The MQTT 5 properties of a CONNECT that hooks see. */
export interface ConnectProperties {
  userProperties: UserProperties;
}

/** A client certificate that chained to the listener's `tlsClientCa`. */
export interface ClientCertificate {
  /** The subject's common name (CN), or `null` when it has none. */
  commonName: string | null;
  /** The subject distinguished name, e.g. `"CN=dev1, O=Acme"`. */
  subject: string;
  /**
   * SHA-256 of the certificate's DER as lowercase hex without colons
   * (`openssl x509 -fingerprint -sha256`, lowercased, colons removed).
   */
  fingerprintSha256: string;
}

export interface AuthenticationResult {
  allow: boolean;
  superuser?: boolean;
  reason?: string;
}

export interface SubscribeAuthorizeResult {
  allow: boolean;
  /** Granted QoS (0, 1 or 2; capped at the requested one). Invalid values are ignored with a WARN. */
  qos?: number;
  reason?: string;
}

export interface PublishAuthorizeResult {
  allow: boolean;
  /** Rewrites the topic (no wildcards; invalid values are ignored with a WARN). */
  topic?: string;
  /** Rewrites the payload (a string is sent as UTF-8). */
  payload?: Buffer | Uint8Array | string;
  /** Rewrites the QoS (0, 1 or 2; invalid values are ignored with a WARN). */
  qos?: number;
  reason?: string;
  /**
   * Replaces the message's user properties; `[]` removes them. Also takes
   * the `mqtt` client's object form `{ name: value | value[] }` (in key
   * order). At most 64 properties and 16 KiB of names and values, no NUL
   * character; otherwise the rewrite of the user properties is ignored with
   * a WARN (and so is a value of another shape). Set whatever protocol the
   * publisher spoke: MQTT 5 subscribers receive them, MQTT 3.x subscribers
   * get the message without them.
   */
  userProperties?: UserProperties | Record<string, string | string[]>;
}

/** A CONNECT, as the connection notifications see it. */
export interface ConnectInfo {
  node: number;
  remoteAddr: string | null;
  clientId: string;
  username: string | null;
  keepAlive: number;
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5, as in `AuthenticationRequest`. */
  protocolVersion: number;
  /** @deprecated The seed API's name of `protocolVersion` (same value). */
  protoVer: number;
  /** MQTT 3.1 / 3.1.1. */
  cleanSession?: boolean;
  /** MQTT 5.0. */
  cleanStart?: boolean;
  tenant?: string;
}

/**
 * The CONNACK reason of `onClientConnack`: `"Success"`, or why the client
 * was refused. The names are MQTT's own (3.x return codes for a 3.x client,
 * 5.0 reason codes for an MQTT 5 one), spelled as rmqtt does, except
 * `"Success"` for both versions' acceptance and `"BadUsernameOrPassword"`
 * for both versions' bad credentials. A refusal by `onClientAuthenticate`
 * is `"BadUsernameOrPassword"` (answered `allow: false`) or
 * `"NotAuthorized"` (threw, timed out, or no hook and no anonymous access).
 */
export type ConnackReason =
  | "Success"
  | "BadUsernameOrPassword"
  | "NotAuthorized"
  // MQTT 3.x return codes.
  | "UnacceptableProtocolVersion"
  | "IdentifierRejected"
  | "ServiceUnavailable"
  | "Reserved"
  // MQTT 5 reason codes.
  | "UnspecifiedError"
  | "MalformedPacket"
  | "ProtocolError"
  | "ImplementationSpecificError"
  | "UnsupportedProtocolVersion"
  | "ClientIdentifierNotValid"
  | "ServerUnavailable"
  | "ServerBusy"
  | "Banned"
  | "BadAuthenticationMethod"
  | "TopicNameInvalid"
  | "PacketTooLarge"
  | "QuotaExceeded"
  | "PayloadFormatInvalid"
  | "RetainNotSupported"
  | "QosNotSupported"
  | "UseAnotherServer"
  | "ServerMoved"
  | "ConnectionRateExceeded";

export interface ConnackInfo extends ConnectInfo {
  connAck: ConnackReason;
}

/** Options of `MqttServer.createMultiProtocolConfig` (an unknown key: `ERR_INVALID_CONFIG`). */
export interface MultiProtocolOptions {
  tcpPort?: number;
  tlsPort?: number;
  wsPort?: number;
  wssPort?: number;
  address?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowAnonymous?: boolean;
}

/**
 * One listener. An unknown key is refused by `start` with
 * `ERR_INVALID_CONFIG`, naming the listener and the nearest known key
 * (`unknown listener key "allowAnonymus" (did you mean "allowAnonymous"?)`).
 */
export interface ListenerConfig {
  name: string;
  /** Default "0.0.0.0". */
  address?: string;
  /** 1–65535, or 0 to let the OS pick (see `server.listeners`). */
  port: number;
  protocol: "tcp" | "tls" | "ws" | "wss";
  /** Required for tls/wss. */
  tlsCert?: string;
  /** Required for tls/wss. */
  tlsKey?: string;
  /** Default true. */
  allowAnonymous?: boolean;
  /**
   * Every client of this listener belongs to this tenant (declared with
   * `server.addTenant`; an undeclared one fails `start` with
   * `ERR_TENANT_UNKNOWN`, an id that breaks the tenant id rule with
   * `ERR_INVALID_TENANT`). `""` is the same as absent.
   */
  tenant?: string;
  /**
   * Messages queued per session beyond the in-flight window, while the
   * client is connected but slow or offline with a persistent session
   * (clean session false). When the queue is full, a new QoS 0 message is
   * dropped and a QoS 1/2 message evicts the oldest queued one (each drop is
   * an `onMessageDropped` event, reason `MessageQueueFull`).
   * Integer 1–1000000; default 1000. Mosquitto: `max_queued_messages`.
   */
  maxQueuedMessages?: number;
  /**
   * QoS 1/2 messages the broker sends to one session before waiting for
   * their acknowledgements (further ones wait in the queue). MQTT 5 clients
   * get at most the smaller of this and their Receive Maximum, and are told
   * this value as the broker's Receive Maximum. It also bounds the incoming
   * QoS 2 messages a client may have awaiting PUBREL: a client exceeding it
   * is disconnected. Integer 1–65535; default 16.
   * Mosquitto: `max_inflight_messages`.
   */
  maxInflight?: number;
  /**
   * The largest packet a client may send, in bytes (its remaining length);
   * a larger one disconnects the client. Advertised to MQTT 5 clients in
   * CONNACK. Integer 128–268435455; default 1048576 (1 MiB).
   */
  maxPacketSize?: number;
  /**
   * How long an MQTT 3.x persistent session (clean session false) is kept
   * after its connection ends; queued messages live as long. MQTT 5 clients
   * set their own. Integer seconds 0–4294967295; default 7200 (2 h).
   */
  sessionExpiryIntervalSecs?: number;
  /**
   * Upper bound of every session's expiry interval, including what MQTT 5
   * clients ask for. Integer seconds 1–4294967295; default: no bound.
   */
  maxSessionExpiryIntervalSecs?: number;
  /**
   * Seconds a new connection has to send a complete CONNECT (after its TLS
   * or WebSocket handshake); a connection that sends none in time is
   * closed. Integer 1–3600; default 10.
   */
  connectTimeoutSecs?: number;
  /**
   * The longest client identifier accepted, in bytes; a longer one is
   * refused with CONNACK 0x85 "Client Identifier not valid" (MQTT 5) or
   * return code 2 (MQTT 3.x). Integer 23–65535; default 256.
   */
  maxClientIdLen?: number;
  /**
   * Topic aliases an MQTT 5 client may use, advertised as Topic Alias
   * Maximum in CONNACK (0: none). Integer 0–65535; default 10.
   */
  maxTopicAliases?: number;
  /**
   * PEM bundle of the CAs that sign client certificates (mTLS; tls and wss
   * listeners only). A client certificate not signed by them is refused at
   * the TLS layer.
   */
  tlsClientCa?: string;
  /**
   * Refuse, at the TLS layer, a client that presents no certificate (needs
   * `tlsClientCa`). Default false.
   */
  requireClientCert?: boolean;
  /**
   * A client that sends no username gets its certificate's common name as
   * its username (needs `tlsClientCa`). Default false.
   */
  certIdentityAsUsername?: boolean;
}

/**
 * How clients of listeners without a `tenant` find theirs at CONNECT, in
 * this order: the resolver (`server.setTenantResolver`), the username form
 * `user<separator>tenant`, the fallback tenant; else the client is refused
 * (CONNACK "not authorized" with a reason). With `tenancy` set, such
 * listeners must be tcp or tls (`ERR_CONFIG_TENANT_LISTENER`).
 */
export interface TenancyConfig {
  /**
   * Separator of `user@tenant` usernames (the last occurrence counts).
   * Default `"@"`; `null` turns the username rule off.
   */
  usernameSeparator?: string | null;
  /**
   * The tenant of clients no rule resolves. Default: refuse them. It must
   * be declared with `server.addTenant` before `start` (else
   * `ERR_TENANT_UNKNOWN`) and follow the tenant id rule (else
   * `ERR_INVALID_TENANT`).
   */
  fallbackTenant?: string;
}

/**
 * The server config. An unknown key (here, in a listener or in `tenancy`) is
 * refused by `start` with `ERR_INVALID_CONFIG`, naming the nearest known key.
 */
export interface ServerConfig {
  listeners: ListenerConfig[];
  /** Directory of rmqtt plugin config files (`<plugin>.toml`). */
  pluginsConfigDir?: string;
  /**
   * A key of the original rmqtt-js API, accepted and ignored: rmqtt-js
   * starts the plugins it needs (retainer, shared subscriptions) itself.
   */
  pluginsDefaultStartups?: string[];
  /** How long a decision hook may take before the client is denied (default 5000 ms). */
  hookTimeoutMs?: number;
  /**
   * Resolve each client's tenant at CONNECT on listeners without a `tenant`.
   * Without it, those listeners serve the default (tenant-less) broker.
   */
  tenancy?: TenancyConfig;
  /**
   * Keep retained messages, persistent sessions (MQTT 3 clean session 0,
   * MQTT 5 session expiry) with their subscriptions, and the QoS 1/2
   * messages queued or in flight for them, across `stop()`/`start()`, a new
   * server on the same directory, and a crash or `kill -9` of the process.
   * Absent: all of it lives in memory only and is gone with the server.
   */
  persistence?: PersistenceConfig;
}

/**
 * Where and how the broker keeps its state (see `ServerConfig.persistence`):
 * a directory (`dir`, embedded, the default choice) or a Redis server
 * (`redis`), exactly one of the two (`ERR_CONFIG_PERSISTENCE` otherwise).
 */
export type PersistenceConfig = DirPersistenceConfig | RedisPersistenceConfig;

/** State kept in files under a directory. */
export interface DirPersistenceConfig {
  /**
   * The directory of the stores (created when missing): one per broker
   * context, `default/` and `tenants/<id>/`. One running server per
   * directory (`ERR_PERSISTENCE_LOCKED` otherwise).
   */
  dir: string;
  redis?: never;
  keyPrefix?: never;
  /**
   * How often written state is `fdatasync`ed, bounding what a power loss
   * can take (default 1000 ms). A crash of the process loses nothing
   * acknowledged, whatever this is.
   */
  syncIntervalMs?: number;
}

/** State kept in a Redis server the user runs. */
export interface RedisPersistenceConfig {
  dir?: never;
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `unix:///path/redis.sock`.
   * Each broker context keeps its log in a Redis list
   * `<keyPrefix>:default:log` / `<keyPrefix>:tenants:<id>:log`; how long an
   * acknowledged write survives a crash of Redis itself is Redis's
   * `appendonly` / `appendfsync` setting. Unreachable at start:
   * `ERR_PERSISTENCE_REDIS`.
   */
  redis: string;
  /**
   * The prefix of the keys (default `"rmqtt-js"`). One running server per
   * prefix: `<keyPrefix>:lock` (`ERR_PERSISTENCE_LOCKED` otherwise).
   */
  keyPrefix?: string;
  /** Accepted for symmetry with `dir`; Redis decides when it syncs. */
  syncIntervalMs?: number;
}

/** A bound listener, as `server.listeners` reports it after `start()`. */
export interface ListenerInfo {
  name: string;
  protocol: "tcp" | "tls" | "ws" | "wss";
  address: string;
  /** The port really bound (the OS's choice when the config said 0). */
  port: number;
}

export type LogLevel = "error" | "warn" | "info" | "debug";

/** One log record from the broker. */
export interface LogEntry {
  level: LogLevel;
  /** Where it comes from, e.g. "rmqtt_js::hooks". */
  target: string;
  message: string;
}

export type Logger = (entry: LogEntry) => void;

/** Options of `new MqttServer(options)` (an unknown key: `ERR_INVALID_OPTIONS`). */
export interface MqttServerOptions {
  /**
   * Receives the broker's log records (WARN and ERROR from everywhere, INFO
   * from rmqtt-js itself). Default: WARN to console.warn, ERROR to console.error.
   */
  logger?: Logger;
}
