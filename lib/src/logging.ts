/**
 * Log records from the broker (rmqtt, the hook router, wasm policies) reach
 * Node through one process-wide native sink. rmqtt logs are not tied to a
 * server, so each record goes to the logger of every live server (each
 * distinct logger once), or to the default logger when none is live.
 *
 * The registry of live servers also keeps a started server reachable, so it
 * is not garbage-collected while it runs (like a listening `net.Server`).
 */

import { native } from "./native";
import type { LogEntry, LogLevel, Logger } from "./types";

/** WARN to console.warn and ERROR to console.error; lower levels are dropped. */
export const defaultLogger: Logger = (entry) => {
  if (entry.level === "error") {
    console.error(`[rmqtt-js] ERROR ${entry.target}: ${entry.message}`);
  } else if (entry.level === "warn") {
    console.warn(`[rmqtt-js] WARN ${entry.target}: ${entry.message}`);
  }
};

const live = new Map<object, Logger>();

/** `owner` is live from now on: it receives log records and stays reachable. */
export function attachLogger(owner: object, logger: Logger): void {
  live.set(owner, logger);
}

/** `owner` no longer receives log records. */
export function detachLogger(owner: object): void {
  live.delete(owner);
}

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(["error", "warn", "info", "debug"]);

function dispatch(level: string, target: string, message: string): void {
  const entry: LogEntry = {
    level: LEVELS.has(level) ? (level as LogLevel) : "info",
    target,
    message,
  };
  const loggers = new Set(live.values());
  if (loggers.size === 0) {
    loggers.add(defaultLogger);
  }
  for (const logger of loggers) {
    try {
      logger({ ...entry });
    } catch {
      // A failing logger must not break the broker, and has nowhere to report.
    }
  }
}

native.setLogSink(dispatch);
