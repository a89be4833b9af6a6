// Errors in policies for rmqtt:hooks@0.2.0, the same under QuickJS and
// StarlingMonkey (measured with ../js-throw-probe, jco 1.35 /
// componentize-js 0.23 / componentize-qjs 0.4):
//
// * An export returning `result<T, string>` returns T for `ok`; to answer
//   `err(msg)`, THROW A STRING (`throw "msg"`) — or an object whose own
//   `payload` property is the string. A thrown `Error` object is `err(message)`
//   under QuickJS but a TRAP under StarlingMonkey (the instance is discarded);
//   a thrown number traps under both. So catch and rethrow as a string.
// * An import returning `result<T, string>` (`crypto.verifyJwt`) returns T or
//   throws an Error (QuickJS: `Error`, StarlingMonkey: `ComponentError`) whose
//   `payload` is the WIT error string.

/** The text of a caught exception: the WIT `payload` of a host `err`, else its message. */
export function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e != null && typeof e === 'object') {
    const o = e as { payload?: unknown; message?: unknown };
    if (typeof o.payload === 'string') return o.payload;
    if (typeof o.message === 'string') return o.message;
  }
  return String(e);
}

/**
 * Runs a hook's body; any exception becomes the hook's `err` (as a thrown
 * string, the one form both engines map to `err`), prefixed with `context`.
 */
export function guarded<T>(context: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    throw `${context}: ${errorText(e)}`;
  }
}
