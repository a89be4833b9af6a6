/**
 * `server.stats()`: per-hook counters of a server, split by backend, shaped
 * from the native rows.
 */

import type { HookName } from "./hooks";
import type { NativeStatsRow } from "./native";

/** Which kind of backend answered a hook. */
export type HookBackendKind = "wasm" | "js";

/** Counters of one hook × backend since the server was created. */
export interface HookStatsEntry {
  readonly hook: HookName;
  readonly backend: HookBackendKind;
  /**
   * Calls made. A decision counts once it finishes; a notification to a JS
   * callback counts when it is queued for the Node thread, one to a policy
   * when the policy returned.
   */
  readonly calls: number;
  /** Decisions that allowed (for decision hooks only). */
  readonly allows: number;
  /** Decisions that denied on the backend's own answer (errors, timeouts and traps are counted apart, and deny too). */
  readonly denies: number;
  /** Calls past their deadline: the server's `hookTimeoutMs`, or a policy's `timeoutMs`. */
  readonly timeouts: number;
  /** Policy calls that trapped (a crash, a memory-cap breach). */
  readonly traps: number;
  /** Other failures: a callback threw or returned an invalid answer, too many calls in flight, ... */
  readonly errors: number;
  /** Median call latency in microseconds (upper bound of a ±19 % bucket), `null` without calls. */
  readonly p50Micros: number | null;
  /** 99th percentile call latency in microseconds (same buckets), `null` without calls. */
  readonly p99Micros: number | null;
}

/** What `server.stats()` returns. */
export interface ServerStats {
  /** One entry per hook × backend that was called, decisions first. */
  readonly hooks: readonly HookStatsEntry[];
  /** Notifications dropped because the notification queue was full, by hook (hooks without drops are absent). */
  readonly droppedNotifications: Readonly<Partial<Record<HookName, number>>>;
}

/** Shapes the native rows (which repeat the per-hook drop count on each backend row). */
export function toServerStats(rows: readonly NativeStatsRow[]): ServerStats {
  const hooks: HookStatsEntry[] = [];
  const dropped: Partial<Record<HookName, number>> = {};
  for (const r of rows) {
    const hook = r.hook as HookName;
    if (r.dropped > 0) {
      dropped[hook] = r.dropped;
    }
    if (r.calls === 0 || (r.backend !== "wasm" && r.backend !== "js")) {
      continue;
    }
    hooks.push(
      Object.freeze({
        hook,
        backend: r.backend,
        calls: r.calls,
        allows: r.allows,
        denies: r.denies,
        timeouts: r.timeouts,
        traps: r.traps,
        errors: r.errors,
        p50Micros: r.p50Micros,
        p99Micros: r.p99Micros,
      }),
    );
  }
  return Object.freeze({ hooks: Object.freeze(hooks), droppedNotifications: Object.freeze(dropped) });
}
