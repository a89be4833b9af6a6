/**
 * ESM entry point: the same objects as the CommonJS entry (one native addon
 * and one set of classes per process, whichever way the package is loaded).
 */

import { MqttServer } from "./index.js";

export { hashPassword, QoS, RmqttError, Tenant, WasmPolicy } from "./index.js";
export { MqttServer };
/** The seed API's default export: `import MqttServer from "rmqtt-js"`. */
export default MqttServer;
export type * from "./index.js";
