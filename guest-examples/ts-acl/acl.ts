// Reference ACL policy in TypeScript (world `policy`): the SAME rules as
// ../rust-acl/src/lib.rs, so the tests can compare the languages.
//
// * authenticate: allow iff a username is present and the password is
//   `demo`; `admin`/`demo` is a superuser; otherwise deny "bad credentials".
// * authorize-subscribe: allow iff the filter starts with `<username>/` or
//   `server/public/`; granted QoS capped at at-least-once; otherwise deny
//   "not authorized".
// * authorize-publish: deny `$SYS...` ("system topic"); deny anything not
//   under `<username>/` or `server/public/` ("not authorized"); a topic
//   ending in `/upper` is allowed with its payload upper-cased (ASCII), the
//   trailing `/upper` replaced by `/out` and QoS capped at at-least-once;
//   anything else is allowed unchanged.
// * events: counts the events and logs every event kind at info level.
//
// The types come from `rmqtt-js policy-types` (`jco guest-types` on the WIT),
// generated into ./generated at build time.
//
// An absent WIT `option` arrives as `undefined` with StarlingMonkey but as
// `null` with QuickJS: always test it with `== null`.

import { log } from 'rmqtt:hooks/host@0.1.0';
import type {
  AuthDecision,
  ConnectRequest,
  Event,
  Message,
  PublishDecision,
  Qos,
  Session,
  SubscribeDecision,
  Subscription,
} from 'rmqtt:hooks/types@0.1.0';
import type * as Policy from 'rmqtt:hooks/policy@0.1.0';

const PUBLIC_PREFIX = 'server/public/';
const DEMO = [0x64, 0x65, 0x6d, 0x6f]; // "demo"

let eventCount = 0;

/** True iff `topic` is under `<username>/` or `server/public/`. */
function permitted(username: string | null | undefined, topic: string): boolean {
  if (topic.startsWith(PUBLIC_PREFIX)) return true;
  return username != null && username !== '' && topic.startsWith(username + '/');
}

/** min(qos, at-least-once) */
function cap(qos: Qos): Qos {
  return qos === 'at-most-once' ? 'at-most-once' : 'at-least-once';
}

function isDemo(password: Uint8Array | null | undefined): boolean {
  if (password == null || password.length !== DEMO.length) return false;
  return DEMO.every((b, i) => password[i] === b);
}

function upperAscii(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length);
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i];
    out[i] = b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
  }
  return out;
}

export const authenticate: typeof Policy.authenticate = {
  authenticate(req: ConnectRequest): AuthDecision {
    if (req.username != null && isDemo(req.password)) {
      return { allow: true, superuser: req.username === 'admin' };
    }
    return { allow: false, superuser: false, reason: 'bad credentials' };
  },
};

export const authorizeSubscribe: typeof Policy.authorizeSubscribe = {
  authorizeSubscribe(session: Session, sub: Subscription): SubscribeDecision {
    if (permitted(session.username, sub.topicFilter)) {
      return { allow: true, qos: cap(sub.qos) };
    }
    return { allow: false, reason: 'not authorized' };
  },
};

export const authorizePublish: typeof Policy.authorizePublish = {
  authorizePublish(session: Session, msg: Message): PublishDecision {
    if (msg.topic.startsWith('$SYS')) return { allow: false, reason: 'system topic' };
    if (!permitted(session.username, msg.topic)) return { allow: false, reason: 'not authorized' };
    if (msg.topic.endsWith('/upper')) {
      return {
        allow: true,
        topic: msg.topic.slice(0, -'/upper'.length) + '/out',
        payload: upperAscii(msg.payload),
        qos: cap(msg.qos),
      };
    }
    return { allow: true };
  },
};

export const events: typeof Policy.events = {
  onEvent(e: Event): void {
    eventCount += 1;
    log('info', `event #${eventCount}: ${e.tag}`);
  },
};
