// A user table with per-user topic rules, in TypeScript (world `acl-policy`
// of rmqtt:hooks@0.2.0), everything read from the context's data
// (`server.data` or `tenant.data`, set from Node). Built with QuickJS and
// with StarlingMonkey.
//
// * authenticate: data `user:<name>` holds the user's password hash as a PHC
//   string (`$argon2id$v=19$...`, bcrypt `$2b$...` or `$pbkdf2-sha256$...`),
//   checked by the host's `crypto.verifyPassword`. No key (or no username) →
//   deny `unknown user`; wrong password → deny `bad credentials`. No
//   superusers.
// * authorize-subscribe / authorize-publish: data `acl:<name>` holds JSON
//   `{"pub": ["prefix/", ...], "sub": ["prefix/", ...]}` (either list may be
//   left out: nothing of that kind is allowed). Allow iff a prefix of the
//   list matches the start of the topic filter (`sub`) / topic (`pub`), else
//   deny `not authorized`; no key → deny `not authorized`.
// * A key that is not what it should be (not UTF-8, not JSON, not that
//   shape) answers `err("ts-user-table: acl:<name> ...")`: the broker denies
//   the call, logs the message and counts an error, and keeps the instance.
//   Every hook runs inside `guarded`, which turns ANY exception into such an
//   err (see ../ts-lib/errors.ts: a thrown string is the one form both JS
//   engines map to `err`; a thrown Error traps under StarlingMonkey).

import { get } from 'rmqtt:hooks/data@0.2.0';
import { verifyPassword } from 'rmqtt:hooks/crypto@0.2.0';
import type {
  AuthDecision,
  ConnectRequest,
  Message,
  PublishDecision,
  Session,
  SubscribeDecision,
  Subscription,
} from 'rmqtt:hooks/types@0.2.0';
import type * as World from 'rmqtt:hooks/acl-policy@0.2.0';
import { guarded } from '../ts-lib/errors.ts';
import { utf8Decode } from '../ts-lib/text.ts';

const NAME = 'ts-user-table';
const NO_PASSWORD = new Uint8Array(0);

interface Rules {
  pub: string[];
  sub: string[];
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** The data value of `key` as text; `null` when unset; throws when not UTF-8. */
function text(key: string): string | null {
  const raw = get(key);
  if (raw == null) return null;
  const s = utf8Decode(raw);
  if (s == null) throw `${key} is not UTF-8`;
  return s;
}

/** The rules of `username`, `null` without any. Throws on a malformed value. */
function rules(username: string): Rules | null {
  const key = `acl:${username}`;
  const s = text(key);
  if (s == null) return null;
  // JSON.parse throws a SyntaxError on malformed JSON: `guarded` makes it an err.
  const v = JSON.parse(s) as { pub?: unknown; sub?: unknown } | null;
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw `${key} must be a JSON object`;
  const pub = v.pub ?? [];
  const sub = v.sub ?? [];
  if (!isStrings(pub) || !isStrings(sub)) throw `${key}: "pub" and "sub" must be arrays of strings`;
  return { pub, sub };
}

function permits(username: string | null | undefined, kind: keyof Rules, topic: string): boolean {
  if (username == null) return false;
  const r = rules(username);
  return r != null && r[kind].some((p) => p !== '' && topic.startsWith(p));
}

export const authenticate: typeof World.authenticate = {
  authenticate(req: ConnectRequest): AuthDecision {
    return guarded(NAME, () => {
      const hash = req.username == null ? null : text(`user:${req.username}`);
      if (hash == null) return { allow: false, superuser: false, reason: 'unknown user' };
      if (!verifyPassword(req.password ?? NO_PASSWORD, hash)) {
        return { allow: false, superuser: false, reason: 'bad credentials' };
      }
      return { allow: true, superuser: false };
    });
  },
};

export const authorizeSubscribe: typeof World.authorizeSubscribe = {
  authorizeSubscribe(session: Session, sub: Subscription): SubscribeDecision {
    return guarded(NAME, () =>
      permits(session.username, 'sub', sub.topicFilter) ? { allow: true } : { allow: false, reason: 'not authorized' },
    );
  },
};

export const authorizePublish: typeof World.authorizePublish = {
  authorizePublish(session: Session, msg: Message): PublishDecision {
    return guarded(NAME, () =>
      permits(session.username, 'pub', msg.topic) ? { allow: true } : { allow: false, reason: 'not authorized' },
    );
  },
};
