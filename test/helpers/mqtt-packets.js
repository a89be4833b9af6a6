"use strict";
// Raw MQTT 3.1.1 and 5 packets as bytes, for tests that speak to the broker
// on a bare socket (garbage, fuzzing, exact protocol errors). Builders make
// well-formed packets; `parsePackets` splits what the broker answers.

/** MQTT's variable byte integer (remaining length, property lengths). */
function varint(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** A two-byte big-endian integer. */
function u16(n) {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

/** A length-prefixed UTF-8 string (or binary data, given a Buffer). */
function str(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, "utf8");
  return Buffer.concat([u16(b.length), b]);
}

/** A fixed header (`first` byte) and the remaining length in front of `body`. */
function packet(first, body) {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/**
 * MQTT 5 properties: `[[id, kind, value], ...]`, kind one of "byte", "u16",
 * "u32", "varint", "str", "bin", "pair" (value `[k, v]`), or "raw" (a Buffer
 * put as it is, for malformed properties). Returns the length-prefixed block.
 */
function properties(list = []) {
  const parts = list.map(([id, kind, value]) => {
    const head = Buffer.from([id]);
    switch (kind) {
      case "byte":
        return Buffer.concat([head, Buffer.from([value])]);
      case "u16":
        return Buffer.concat([head, u16(value)]);
      case "u32": {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(value);
        return Buffer.concat([head, b]);
      }
      case "varint":
        return Buffer.concat([head, varint(value)]);
      case "str":
      case "bin":
        return Buffer.concat([head, str(value)]);
      case "pair":
        return Buffer.concat([head, str(value[0]), str(value[1])]);
      case "raw":
        return Buffer.concat([head, value]);
      default:
        throw new Error(`unknown property kind ${kind}`);
    }
  });
  const block = Buffer.concat(parts);
  return Buffer.concat([varint(block.length), block]);
}

/**
 * A CONNECT. `version` 4 (MQTT 3.1.1) or 5; `props` MQTT 5 properties (see
 * `properties`); `will` `{ topic, payload, qos, retain, props }`.
 */
function connect({
  version = 4,
  clientId = "",
  cleanStart = true,
  keepAlive = 30,
  username,
  password,
  will,
  props = [],
} = {}) {
  let flags = cleanStart ? 0x02 : 0;
  if (will) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0);
  if (password !== undefined) flags |= 0x40;
  if (username !== undefined) flags |= 0x80;
  const parts = [str("MQTT"), Buffer.from([version, flags]), u16(keepAlive)];
  if (version === 5) parts.push(properties(props));
  parts.push(str(clientId));
  if (will) {
    if (version === 5) parts.push(properties(will.props ?? []));
    parts.push(str(will.topic), str(Buffer.from(will.payload ?? "")));
  }
  if (username !== undefined) parts.push(str(username));
  if (password !== undefined) parts.push(str(Buffer.from(password)));
  return packet(0x10, Buffer.concat(parts));
}

/** A PUBLISH; `packetId` is needed for QoS 1 and 2. */
function publish({ version = 4, topic, payload = "", qos = 0, retain = false, dup = false, packetId = 1, props = [] }) {
  const first = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  const parts = [str(topic)];
  if (qos > 0) parts.push(u16(packetId));
  if (version === 5) parts.push(properties(props));
  parts.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
  return packet(first, Buffer.concat(parts));
}

/** A SUBSCRIBE of `filters`: `[{ topic, qos, options }]` (`options`: the whole MQTT 5 options byte). */
function subscribe({ version = 4, packetId = 1, filters, props = [] }) {
  const parts = [u16(packetId)];
  if (version === 5) parts.push(properties(props));
  for (const f of filters) parts.push(str(f.topic), Buffer.from([f.options ?? f.qos ?? 0]));
  return packet(0x82, Buffer.concat(parts));
}

/** A DISCONNECT (MQTT 5: with a reason code). */
function disconnect({ version = 4, reason = 0 } = {}) {
  return version === 5 ? packet(0xe0, Buffer.from([reason, 0])) : Buffer.from([0xe0, 0]);
}

/**
 * Splits `bytes` into complete packets `{ type, flags, body }` (type: the
 * high nibble, 2 = CONNACK); returns them and the unparsed rest.
 */
function parsePackets(bytes) {
  const packets = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    let len = 0;
    let mul = 1;
    let i = at + 1;
    let done = false;
    for (; i < bytes.length && i < at + 5; i++) {
      len += (bytes[i] & 0x7f) * mul;
      mul *= 128;
      if ((bytes[i] & 0x80) === 0) {
        done = true;
        i += 1;
        break;
      }
    }
    if (!done || bytes.length - i < len) break;
    packets.push({ type: bytes[at] >> 4, flags: bytes[at] & 0x0f, body: bytes.subarray(i, i + len) });
    at = i + len;
  }
  return { packets, rest: bytes.subarray(at) };
}

module.exports = { varint, u16, str, packet, properties, connect, publish, subscribe, disconnect, parsePackets };
