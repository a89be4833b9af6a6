/**
 * The one error class of the API. Every failure of a public method is an
 * `RmqttError` with a stable `code`; the message is for humans.
 */

/** The codes in use. Codes are stable; messages may change. */
export type RmqttErrorCode =
  | "ERR_NOT_RUNNING"
  | "ERR_ALREADY_RUNNING"
  | "ERR_CLOSED"
  | "ERR_INVALID_CONFIG"
  | "ERR_CONFIG_NO_LISTENERS"
  | "ERR_CONFIG_PORT"
  | "ERR_CONFIG_DUPLICATE_PORT"
  | "ERR_CONFIG_TLS_MISSING"
  | "ERR_CONFIG_TLS_FILE"
  | "ERR_CONFIG_ADDRESS"
  | "ERR_CONFIG_HOOK_TIMEOUT"
  | "ERR_CONFIG_TENANT_LISTENER"
  | "ERR_CONFIG_LIMIT"
  | "ERR_CONFIG_CLIENT_CERT"
  | "ERR_BIND"
  | "ERR_INVALID_QOS"
  | "ERR_INVALID_TOPIC"
  | "ERR_INVALID_PAYLOAD"
  | "ERR_INVALID_HOOK"
  | "ERR_INVALID_OPTIONS"
  | "ERR_POLICY_IO"
  | "ERR_POLICY_INVALID"
  | "ERR_POLICY_WIT_VERSION"
  | "ERR_POLICY_NO_EXPORTS"
  | "ERR_POLICY_UNSATISFIED_IMPORT"
  | "ERR_POLICY_COMPILE"
  | "ERR_POLICY_INSTANTIATE"
  | "ERR_POLICY_OPTIONS"
  | "ERR_POLICY_INIT"
  | "ERR_POLICY_ERROR"
  | "ERR_POLICY_TRAP"
  | "ERR_POLICY_TIMEOUT"
  | "ERR_POLICY_OVERLOADED"
  | "ERR_POLICY_CLOSED"
  | "ERR_POLICY_MISSING_EXPORT"
  | "ERR_TENANT_EXISTS"
  | "ERR_TENANT_UNKNOWN"
  | "ERR_INVALID_TENANT"
  | "ERR_DATA_TOO_LARGE"
  | "ERR_DATA_KEY"
  | "ERR_DATA_VALUE"
  | "ERR_INTERNAL";

export class RmqttError extends Error {
  /** A stable machine-readable code, e.g. `ERR_NOT_RUNNING`. */
  readonly code: RmqttErrorCode;

  constructor(code: RmqttErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RmqttError";
    this.code = code;
  }
}

/** An error from the native layer (an `Error` with a `code`) as an `RmqttError`. */
export function toRmqttError(e: unknown): RmqttError {
  if (e instanceof RmqttError) {
    return e;
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_")) {
      return new RmqttError(code as RmqttErrorCode, e.message);
    }
    return new RmqttError("ERR_INTERNAL", e.message, { cause: e });
  }
  return new RmqttError("ERR_INTERNAL", String(e));
}
