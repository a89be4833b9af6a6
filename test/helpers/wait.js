"use strict";
// Waiting on events with a safety bound: a wait that runs out fails the test
// with a message naming what it was waiting for. No fixed sleeps anywhere.

/** Generous bound for anything a test waits on. */
const WAIT_MS = 10_000;

/**
 * Resolves or rejects like `promise`, or rejects once `ms` have passed.
 * @template T
 * @param {Promise<T>} promise
 * @param {string | (() => string)} what - named in the timeout error
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
function withTimeout(promise, what, ms = WAIT_MS) {
  let timer;
  const bound = new Promise((_, reject) => {
    timer = setTimeout(
      () => {
        const label = typeof what === "function" ? what() : what;
        reject(new Error(`timed out after ${ms} ms waiting for ${label}`));
      },
      ms,
    );
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the arguments of the next `event` emitted by `emitter`.
 * @param {import("node:events").EventEmitter} emitter
 * @param {string} event
 * @param {string} [what]
 * @param {number} [ms]
 * @returns {Promise<any[]>}
 */
function nextEvent(emitter, event, what = `event "${event}"`, ms = WAIT_MS) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => resolve(args);
    emitter.once(event, listener);
  });
  return withTimeout(p, what, ms).finally(() => emitter.removeListener(event, listener));
}

module.exports = { WAIT_MS, withTimeout, nextEvent };
