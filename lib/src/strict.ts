/**
 * Strict option objects: a key no option takes is refused, naming the
 * nearest known key (`unknown option "replce" (did you mean "replace"?)`),
 * so that a typo cannot silently leave an option at its default. The host
 * applies the same rule to the server config (`host/src/strict.rs`).
 */

import { RmqttError, type RmqttErrorCode } from "./errors";

/**
 * Throws `code` if `options` has an own key not in `known`. `what` names the
 * call, e.g. `"new MqttServer(options)"`.
 * @throws RmqttError
 */
export function checkKeys(options: object, known: readonly string[], code: RmqttErrorCode, what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new RmqttError(code, `${what}: unknown option "${key}" ${hint(key, known, "options")}`);
    }
  }
}

/**
 * `(did you mean "x"?)` when a known key is close to `key`, else
 * `(known <noun>: a, b)` (`noun`: e.g. "options", "hooks").
 */
export function hint(key: string, known: readonly string[], noun: string): string {
  const near = nearest(key, known);
  return near === undefined ? `(known ${noun}: ${known.join(", ")})` : `(did you mean "${near}"?)`;
}

/**
 * The known key nearest to `key` (case-insensitive optimal-string-alignment
 * distance), if within a third of the longer one's length (at least 1); ties
 * go to the earlier key.
 */
export function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    const limit = Math.max(1, Math.floor(Math.max([...key].length, [...candidate].length) / 3));
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Insertions, deletions, substitutions and neighbour transpositions, each 1. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  const w = y.length + 1;
  const d = new Array<number>((x.length + 1) * w).fill(0);
  for (let i = 0; i <= x.length; i++) d[i * w] = i;
  for (let j = 0; j <= y.length; j++) d[j] = j;
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * w + j]! + 1, d[i * w + j - 1]! + 1, d[(i - 1) * w + j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        v = Math.min(v, d[(i - 2) * w + j - 2]! + 1);
      }
      d[i * w + j] = v;
    }
  }
  return d[x.length * w + y.length]!;
}
