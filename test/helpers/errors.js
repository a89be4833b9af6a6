"use strict";
// Asserting on the coded errors of the API.

const assert = require("node:assert/strict");

const { RmqttError } = require("../..");

/**
 * Asserts that `promise` rejects with an RmqttError (an Error with a message)
 * carrying `code`; resolves with that error.
 */
async function rejectsWithCode(promise, code) {
  let error;
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof RmqttError, `expected an RmqttError, got ${err?.constructor?.name}: ${err}`);
    assert.ok(err instanceof Error);
    assert.equal(err.code, code, `code of "${err.message}"`);
    assert.equal(typeof err.message, "string");
    assert.ok(err.message.length > 0);
    error = err;
    return true;
  });
  return error;
}

module.exports = { rejectsWithCode };
