"use strict";
// Captures what the broker sends to the `logger` option of MqttServer.

const { Recorder } = require("./recorder");

/** True for a WARN record (the level's spelling case is not part of the contract). */
function isWarn(record) {
  return String(record?.level).toUpperCase() === "WARN";
}

/**
 * @returns {{logger: (record: {level: string, target: string, message: string}) => void,
 *            records: object[], waitForWarn: (re?: RegExp) => Promise<object>}}
 */
function captureLogs() {
  const rec = new Recorder();
  return {
    logger: (record) => {
      rec.push("log", [record]);
    },
    get records() {
      return rec.argsOf("log").map(([r]) => r);
    },
    /** Resolves with the first WARN whose message matches `re`. */
    async waitForWarn(re = /./) {
      const [record] = await rec.waitFor("log", (r) => isWarn(r) && re.test(String(r.message)));
      return record;
    },
  };
}

module.exports = { captureLogs, isWarn };
