// JWT authentication with a topic ACL, in TypeScript (world `acl-policy` of
// rmqtt:hooks@0.2.0). Built with QuickJS and with StarlingMonkey.
//
// * authenticate: the password is a JWT. The key (HMAC secret, PEM public
//   key or JWKS) is the config's `jwtKey` (`WasmPolicy.load(path, { config:
//   '{"jwtKey": "..."}' })`), else the context's data `jwt-key`; the host's
//   `crypto.verifyJwt` checks the signature and `exp`/`nbf`. Allow iff the
//   token is valid AND its `sub` claim equals the username; superuser iff the
//   claim `role` is `"admin"`. Deny reasons: `username required`, `password
//   must be a UTF-8 JWT`, the host's error text for a refused token,
//   `username does not match the token's sub`. `err` (logged and counted by
//   the broker, a deny for the client): config not JSON, no key at all.
// * authorize-subscribe / authorize-publish: allow iff the filter / topic
//   starts with one of the prefixes in data `acl:<username>`, a JSON array of
//   strings (`["sensors/", "alice/"]`); no key → nothing is allowed (deny
//   `not authorized`); anonymous → deny. A key that is not a JSON array of
//   strings → `err`.
//
// Why the ACL is in data, not in a token claim: the ACL hooks get the
// session (client id, username, address, tenant), not the CONNECT's password,
// so the token is gone by then; and globals cannot carry it from the
// CONNECT, because instances are pooled (a later call may run in another
// instance) and discarded after a trap. Only `superuser` is kept by the
// broker for the session. So the app that issues tokens also writes the
// prefixes into `server.data` / `tenant.data` under `acl:<sub>`.
//
// Absent WIT options are `null` under QuickJS and `undefined` under
// StarlingMonkey (the types say `?:` / `| undefined`): test with `== null`.

import { config, log } from 'rmqtt:hooks/host@0.2.0';
import { get } from 'rmqtt:hooks/data@0.2.0';
import { verifyJwt } from 'rmqtt:hooks/crypto@0.2.0';
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
import { errorText, guarded } from '../ts-lib/errors.ts';
import { utf8Decode } from '../ts-lib/text.ts';

const NAME = 'ts-jwt-auth';

/** The verification key: config `jwtKey`, else data `jwt-key`. Throws (err) when there is none. */
function jwtKey(): string {
  const text = config();
  if (text != null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw 'config is not JSON';
    }
    const key = (parsed as { jwtKey?: unknown } | null)?.jwtKey;
    if (typeof key === 'string') return key;
  }
  const stored = get('jwt-key');
  const key = stored == null ? null : utf8Decode(stored);
  if (key == null) throw 'no jwt key (config jwtKey or data jwt-key)';
  return key;
}

/** The topic prefixes of `username`, from data `acl:<username>` (a JSON array of strings). */
function prefixes(username: string): string[] {
  const key = `acl:${username}`;
  const raw = get(key);
  if (raw == null) return [];
  const text = utf8Decode(raw);
  let list: unknown;
  try {
    list = text == null ? null : JSON.parse(text);
  } catch (e) {
    throw `${key} is not JSON (${errorText(e)})`;
  }
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) {
    throw `${key} must be a JSON array of strings`;
  }
  return list as string[];
}

function permits(username: string | null | undefined, topic: string): boolean {
  return username != null && prefixes(username).some((p) => p !== '' && topic.startsWith(p));
}

function deny(reason: string): AuthDecision {
  log('info', `${NAME}: deny (${reason})`);
  return { allow: false, superuser: false, reason };
}

export const authenticate: typeof World.authenticate = {
  authenticate(req: ConnectRequest): AuthDecision {
    return guarded(NAME, () => {
      if (req.username == null || req.username === '') return deny('username required');
      const token = req.password == null ? null : utf8Decode(req.password);
      if (token == null || token === '') return deny('password must be a UTF-8 JWT');
      const key = jwtKey();
      let claims: { sub?: unknown; role?: unknown };
      try {
        claims = JSON.parse(verifyJwt(token, key));
      } catch (e) {
        return deny(errorText(e));
      }
      if (claims.sub !== req.username) return deny("username does not match the token's sub");
      const superuser = claims.role === 'admin';
      log('info', `${NAME}: allow ${req.username}${superuser ? ' (superuser)' : ''}`);
      return { allow: true, superuser };
    });
  },
};

export const authorizeSubscribe: typeof World.authorizeSubscribe = {
  authorizeSubscribe(session: Session, sub: Subscription): SubscribeDecision {
    return guarded(NAME, () =>
      permits(session.username, sub.topicFilter) ? { allow: true } : { allow: false, reason: 'not authorized' },
    );
  },
};

export const authorizePublish: typeof World.authorizePublish = {
  authorizePublish(session: Session, msg: Message): PublishDecision {
    return guarded(NAME, () =>
      permits(session.username, msg.topic) ? { allow: true } : { allow: false, reason: 'not authorized' },
    );
  },
};
