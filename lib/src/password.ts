/**
 * Password hashes for user tables that policies check with
 * `rmqtt:hooks/crypto.verify-password` (a `WasmPolicy` reading
 * `server.data`/`tenant.data`).
 */

import { RmqttError, toRmqttError } from "./errors";
import { native } from "./native";

/**
 * Hashes `password` with argon2id (random salt, the `argon2` crate's default
 * cost: 19 MiB, 2 passes) into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`)
 * that `verify-password` accepts. Runs off the event loop; takes tens of
 * milliseconds by design.
 * @throws RmqttError `ERR_INVALID_OPTIONS` (not a string or bytes)
 */
export async function hashPassword(password: string | Uint8Array): Promise<string> {
  if (typeof password !== "string" && !(password instanceof Uint8Array)) {
    throw new RmqttError("ERR_INVALID_OPTIONS", "hashPassword(password): password must be a string or a Uint8Array");
  }
  const bytes = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  try {
    return await native.hashPassword(bytes);
  } catch (e) {
    throw toRmqttError(e);
  }
}
