"use strict";
// Records calls (hook invocations, log records) and lets a test await the
// first call that matches a predicate, whether it already happened or not.

const { withTimeout, WAIT_MS } = require("./wait");

class Recorder {
  constructor() {
    /** @type {{name: string, args: any[], at: number}[]} */
    this.calls = [];
    this.waiters = [];
  }

  /** Records one call and wakes the waiters it satisfies. */
  push(name, args) {
    const call = { name, args, at: Date.now() };
    this.calls.push(call);
    this.waiters = this.waiters.filter((w) => {
      if (w.name !== name || !safeMatch(w.predicate, args)) return true;
      w.resolve(args);
      return false;
    });
    return call;
  }

  /**
   * A function that records its arguments under `name`, then returns what
   * `answer` returns (or `answer` itself when it is not a function).
   */
  hook(name, answer) {
    return (...args) => {
      this.push(name, args);
      return typeof answer === "function" ? answer(...args) : answer;
    };
  }

  /** Arguments of every recorded call named `name` (optionally filtered). */
  argsOf(name, predicate = () => true) {
    return this.calls
      .filter((c) => c.name === name && safeMatch(predicate, c.args))
      .map((c) => c.args);
  }

  count(name, predicate) {
    return this.argsOf(name, predicate).length;
  }

  /** Resolves with the arguments of the first call named `name` matching `predicate`. */
  waitFor(name, predicate = () => true, ms = WAIT_MS) {
    const seen = this.calls.find((c) => c.name === name && safeMatch(predicate, c.args));
    if (seen) return Promise.resolve(seen.args);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { name, predicate, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, `a call of ${name} matching ${predicate}`, ms).finally(() => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }
}

function safeMatch(predicate, args) {
  try {
    return Boolean(predicate(...args));
  } catch {
    return false;
  }
}

module.exports = { Recorder };
