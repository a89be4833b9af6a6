/**
 * ESM entry point: the same objects as the CommonJS entry (one native addon
 * and one set of classes per process, whichever way the package is loaded).
 */

export { MqttServer, QoS, RmqttError, Tenant, WasmPolicy } from "./index.js";
export type * from "./index.js";
