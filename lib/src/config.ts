/**
 * Configuration helpers (`MqttServer.createBasicConfig` and
 * `createMultiProtocolConfig`) and the hand-off of a config to the native layer.
 */

import { RmqttError } from "./errors";
import { checkKeys } from "./strict";
import type { ListenerConfig, MultiProtocolOptions, ServerConfig } from "./types";

/** One TCP listener. Port 0 lets the OS pick (see `server.listeners`). */
export function basicConfig(port = 1883, address = "0.0.0.0"): ServerConfig {
  return {
    listeners: [{ name: "tcp", address, port, protocol: "tcp", allowAnonymous: true }],
  };
}

/** Every key of `MultiProtocolOptions`; the `Record` type keeps the list complete. */
const MULTI_PROTOCOL_KEYS = Object.keys({
  tcpPort: true,
  tlsPort: true,
  wsPort: true,
  wssPort: true,
  address: true,
  tlsCert: true,
  tlsKey: true,
  allowAnonymous: true,
} satisfies Record<keyof MultiProtocolOptions, true>);

/**
 * TCP and WS listeners, plus TLS and WSS when both `tlsCert` and `tlsKey` are given.
 * @throws RmqttError `ERR_INVALID_CONFIG` (an unknown option)
 */
export function multiProtocolConfig(options: MultiProtocolOptions = {}): ServerConfig {
  if (typeof options === "object" && options !== null) {
    checkKeys(options, MULTI_PROTOCOL_KEYS, "ERR_INVALID_CONFIG", "createMultiProtocolConfig(options)");
  }
  const {
    tcpPort = 1883,
    wsPort = 8080,
    tlsPort = 8883,
    wssPort = 8443,
    address = "0.0.0.0",
    tlsCert,
    tlsKey,
    allowAnonymous = true,
  } = options;
  const listeners: ListenerConfig[] = [
    { name: "tcp", address, port: tcpPort, protocol: "tcp", allowAnonymous },
    { name: "ws", address, port: wsPort, protocol: "ws", allowAnonymous },
  ];
  if (tlsCert && tlsKey) {
    listeners.push(
      { name: "tls", address, port: tlsPort, protocol: "tls", tlsCert, tlsKey, allowAnonymous },
      { name: "wss", address, port: wssPort, protocol: "wss", tlsCert, tlsKey, allowAnonymous },
    );
  }
  return { listeners };
}

/**
 * The JSON the host parses. The host validates the content (and names the
 * error: `ERR_CONFIG_PORT`, an unknown key as `ERR_INVALID_CONFIG` with the
 * nearest known one, ...); this only rejects what is not a config object.
 * A key whose value is a function or a symbol (which JSON would drop) is
 * kept, as a string, so that the host refuses it if it is unknown; a key
 * whose value is `undefined` is absent, as everywhere in the API.
 * @throws RmqttError `ERR_INVALID_CONFIG`
 */
export function configToJson(config: unknown): string {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new RmqttError("ERR_INVALID_CONFIG", "start(config) needs a ServerConfig object");
  }
  if (!Array.isArray((config as { listeners?: unknown }).listeners)) {
    throw new RmqttError(
      "ERR_INVALID_CONFIG",
      "invalid configuration: `listeners` must be an array of listener configs",
    );
  }
  for (const listener of (config as { listeners: unknown[] }).listeners) {
    checkPort(listener);
  }
  try {
    return JSON.stringify(config, (_key, value: unknown) =>
      typeof value === "function" || typeof value === "symbol" ? `[${typeof value}]` : value,
    );
  } catch (cause) {
    throw new RmqttError("ERR_INVALID_CONFIG", "the configuration cannot be serialized", { cause });
  }
}

/**
 * JSON cannot carry NaN or Infinity (they become null) and the host reads a
 * port as a number, so a port that is not a finite number is reported here,
 * with the code and wording the host uses for out-of-range ports.
 */
function checkPort(listener: unknown): void {
  if (typeof listener !== "object" || listener === null || !("port" in listener)) {
    return;
  }
  const { port, name } = listener as { port: unknown; name?: unknown };
  if (typeof port === "number" && Number.isFinite(port)) {
    return;
  }
  const shown = typeof port === "string" ? JSON.stringify(port) : String(port);
  throw new RmqttError(
    "ERR_CONFIG_PORT",
    `invalid configuration: listener \`${String(name ?? "?")}\` has port ${shown}; ` +
      "use an integer from 1 to 65535 (0 lets the OS pick)",
  );
}
