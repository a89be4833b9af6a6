"use strict";
// MQTT packets built by hand, for what a real client library refuses to send
// (U+0000 in strings, topic alias 0, more QoS 1 PUBLISHes than Receive
// Maximum allows, ...), and a raw TCP client that reads the broker's answers
// packet by packet.

const net = require("node:net");
const { withTimeout } = require("./wait");

/** Packet types (upper nibble of the first byte). */
const TYPE = {
  CONNECT: 1, CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBREL: 6, PUBCOMP: 7,
  SUBSCRIBE: 8, SUBACK: 9, UNSUBSCRIBE: 10, UNSUBACK: 11, PINGREQ: 12, PINGRESP: 13,
  DISCONNECT: 14, AUTH: 15,
};

/** MQTT 5 property identifiers used here. */
const PROP = {
  SESSION_EXPIRY: 0x11,
  RECEIVE_MAXIMUM: 0x21,
  TOPIC_ALIAS_MAXIMUM: 0x22,
  TOPIC_ALIAS: 0x23,
  USER_PROPERTY: 0x26,
  MAXIMUM_PACKET_SIZE: 0x27,
  REASON_STRING: 0x1f,
};

const { varint, u16, str } = require("./mqtt-packets");

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * MQTT 5 properties: `[[id, value], ...]`; values are numbers (sized by id),
 * strings, or `[key, value]` pairs for user properties.
 */
function properties(props = []) {
  const parts = props.map(([id, value]) => {
    let v;
    if (id === PROP.USER_PROPERTY) v = Buffer.concat([str(value[0]), str(value[1])]);
    else if (typeof value === "string" || Buffer.isBuffer(value)) v = str(value);
    else if (id === PROP.SESSION_EXPIRY || id === PROP.MAXIMUM_PACKET_SIZE) v = u32(value);
    else if (id === PROP.RECEIVE_MAXIMUM || id === PROP.TOPIC_ALIAS_MAXIMUM || id === PROP.TOPIC_ALIAS) {
      v = u16(value);
    } else throw new Error(`raw-mqtt: property 0x${id.toString(16)} not supported here`);
    return Buffer.concat([Buffer.from([id]), v]);
  });
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

function packet(firstByte, body) {
  return Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);
}

/**
 * A CONNECT. `version` 4 (3.1.1) or 5; strings may be Buffers (exact bytes).
 * @param {{version?: number, clientId?: string|Buffer, username?: string|Buffer,
 *   password?: string|Buffer, will?: {topic: string|Buffer, payload?: string|Buffer},
 *   clean?: boolean, keepAlive?: number, props?: Array}} opts
 */
function connect({ version = 5, clientId = "", username, password, will, clean = true, keepAlive = 30, props = [] } = {}) {
  let flags = clean ? 0x02 : 0;
  if (will) flags |= 0x04;
  if (username !== undefined) flags |= 0x80;
  if (password !== undefined) flags |= 0x40;
  const parts = [str("MQTT"), Buffer.from([version, flags]), u16(keepAlive)];
  if (version === 5) parts.push(properties(props));
  parts.push(str(clientId));
  if (will) {
    if (version === 5) parts.push(properties([]));
    parts.push(str(will.topic), str(will.payload ?? ""));
  }
  if (username !== undefined) parts.push(str(username));
  if (password !== undefined) parts.push(str(password));
  return packet(TYPE.CONNECT << 4, Buffer.concat(parts));
}

/** A PUBLISH; `props` only for version 5. */
function publish({ version = 5, topic, payload = "", qos = 0, packetId = 1, props = [] }) {
  const parts = [str(topic)];
  if (qos > 0) parts.push(u16(packetId));
  if (version === 5) parts.push(properties(props));
  parts.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
  return packet((TYPE.PUBLISH << 4) | (qos << 1), Buffer.concat(parts));
}

/** A SUBSCRIBE of one filter. */
function subscribe({ version = 5, filter, qos = 0, packetId = 1 }) {
  const parts = [u16(packetId)];
  if (version === 5) parts.push(properties([]));
  parts.push(str(filter), Buffer.from([qos]));
  return packet((TYPE.SUBSCRIBE << 4) | 0x02, Buffer.concat(parts));
}

/** Decodes MQTT 5 properties at `buf[offset..]`; returns `{ props: Map, end }`. */
function readProperties(buf, offset) {
  let len = 0;
  let mul = 1;
  let i = offset;
  for (;;) {
    const b = buf[i++];
    len += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) break;
  }
  const end = i + len;
  const props = new Map();
  while (i < end) {
    const id = buf[i++];
    if ([0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a].includes(id)) {
      props.set(id, buf[i]);
      i += 1;
    } else if ([0x13, 0x21, 0x22, 0x23].includes(id)) {
      props.set(id, buf.readUInt16BE(i));
      i += 2;
    } else if ([0x02, 0x11, 0x18, 0x27].includes(id)) {
      props.set(id, buf.readUInt32BE(i));
      i += 4;
    } else if (id === 0x26) {
      const kl = buf.readUInt16BE(i);
      const k = buf.subarray(i + 2, i + 2 + kl).toString();
      i += 2 + kl;
      const vl = buf.readUInt16BE(i);
      const v = buf.subarray(i + 2, i + 2 + vl).toString();
      i += 2 + vl;
      props.set(`user:${k}`, v);
    } else if (id === 0x0b) {
      // subscription identifier: a variable byte integer
      let v = 0;
      let m = 1;
      for (;;) {
        const b = buf[i++];
        v += (b & 0x7f) * m;
        m *= 128;
        if (!(b & 0x80)) break;
      }
      props.set(id, v);
    } else {
      // strings and binary data: 0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1a, 0x1c, 0x1f
      const l = buf.readUInt16BE(i);
      props.set(id, buf.subarray(i + 2, i + 2 + l).toString());
      i += 2 + l;
    }
  }
  return { props, end };
}

/**
 * A raw TCP connection to the broker that splits what it receives into
 * packets `{ type, flags, body }` and lets a test await them.
 */
class RawClient {
  constructor(t, port) {
    this.socket = net.connect(port, "127.0.0.1");
    t.after(() => this.socket.destroy());
    this.packets = [];
    this.waiters = [];
    this.buffer = Buffer.alloc(0);
    this.socket.on("error", () => {}); // a reset is one way of being closed
    this.closed = new Promise((resolve) => this.socket.once("close", resolve));
    this.socket.on("data", (chunk) => this.#onData(chunk));
    this.connected = withTimeout(
      new Promise((resolve) => this.socket.once("connect", resolve)),
      "a raw TCP connection to the broker",
    );
  }

  #onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (;;) {
        if (i >= this.buffer.length) return;
        const b = this.buffer[i++];
        len += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) break;
      }
      if (this.buffer.length < i + len) return;
      const p = { type: this.buffer[0] >> 4, flags: this.buffer[0] & 0x0f, body: this.buffer.subarray(i, i + len) };
      this.buffer = this.buffer.subarray(i + len);
      this.packets.push(p);
      for (const w of [...this.waiters]) {
        if (w.type === p.type) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(p);
        }
      }
    }
  }

  async send(bytes) {
    await this.connected;
    this.socket.write(bytes);
  }

  /** Resolves with the first received packet of `type` not taken yet. */
  next(type, what = `a packet of type ${type}`) {
    const i = this.packets.findIndex((p) => p.type === type && !p.taken);
    if (i >= 0) {
      this.packets[i].taken = true;
      return Promise.resolve(this.packets[i]);
    }
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = {
        type,
        resolve: (pk) => {
          pk.taken = true;
          resolve(pk);
        },
      };
      this.waiters.push(waiter);
      this.closed.then(() => {
        // Packets that arrived with the close were delivered above already.
        setImmediate(() => reject(new Error(`connection closed before ${what}`)));
      });
    });
    return withTimeout(p, what).finally(() => {
      const j = this.waiters.indexOf(waiter);
      if (j >= 0) this.waiters.splice(j, 1);
    });
  }

  /** The connection's close, with a bound. */
  waitClosed(what = "the broker to close the connection") {
    return withTimeout(this.closed, what);
  }

  /** Received packets of `type`. */
  received(type) {
    return this.packets.filter((p) => p.type === type);
  }
}

/** `{ sessionPresent, code, props }` of a CONNACK of `version`. */
function parseConnack(p, version = 5) {
  const out = { sessionPresent: (p.body[0] & 1) === 1, code: p.body[1] };
  if (version === 5 && p.body.length > 2) out.props = readProperties(p.body, 2).props;
  return out;
}

/** `{ code, props }` of an MQTT 5 DISCONNECT (code 0 when absent). */
function parseDisconnect(p) {
  if (p.body.length === 0) return { code: 0, props: new Map() };
  const out = { code: p.body[0], props: new Map() };
  if (p.body.length > 1) out.props = readProperties(p.body, 1).props;
  return out;
}

/** `{ topic, packetId, props, payload }` of a PUBLISH of `version`. */
function parsePublish(p, version = 5) {
  const tl = p.body.readUInt16BE(0);
  const topic = p.body.subarray(2, 2 + tl).toString();
  let i = 2 + tl;
  const qos = (p.flags >> 1) & 3;
  let packetId;
  if (qos > 0) {
    packetId = p.body.readUInt16BE(i);
    i += 2;
  }
  let props = new Map();
  if (version === 5) {
    const r = readProperties(p.body, i);
    props = r.props;
    i = r.end;
  }
  return { topic, qos, packetId, props, payload: p.body.subarray(i) };
}

/**
 * Opens a raw connection, sends `connectOpts`'s CONNECT and awaits the CONNACK.
 * Resolves with `{ client, connack }`.
 */
async function rawConnect(t, port, connectOpts) {
  const client = new RawClient(t, port);
  await client.send(connect(connectOpts));
  const connack = parseConnack(await client.next(TYPE.CONNACK, "a CONNACK"), connectOpts.version ?? 5);
  return { client, connack };
}

module.exports = {
  TYPE,
  PROP,
  connect,
  publish,
  subscribe,
  RawClient,
  rawConnect,
  parseConnack,
  parseDisconnect,
  parsePublish,
};
