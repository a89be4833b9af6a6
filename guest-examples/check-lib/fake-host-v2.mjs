// A fake broker side of rmqtt:hooks@0.2.0 for `jco transpile`d guests
// (check.mjs maps every `rmqtt:hooks/*@0.2.0` import here). State lives in
// globalThis.__guestCheckV2 = { config, data: Map<string, Uint8Array>, logs },
// which check.mjs sets before each call.
//
// crypto, with node:crypto:
// * verifyJwt: HS256/384/512 with the key as an HMAC secret (its UTF-8
//   bytes), then `exp` / `nbf` with 60 s of leeway, like the host; PEM and
//   JWKS keys are not faked. A refusal throws the reason string (jco maps a
//   thrown string to the WIT `err`).
// * verifyPassword: PHC `$pbkdf2-sha256$i=<n>[,l=<len>]$<salt>$<hash>`
//   (unpadded standard base64) really computed; any other PHC string
//   (argon2id, bcrypt) is a stub: true iff `STUB_HASHES[hash]` is the
//   password. Node 20 has no argon2: the broker tests cover the real one.
// * sha256, hmacSha256: real.
import crypto from 'node:crypto';

/** Hash strings the fake accepts without computing them -> their password. */
export const STUB_HASHES = {
  '$argon2id$v=19$m=19456,t=2,p=1$c3R1YnNhbHRzdHVic2FsdA$c3R1Yi1oYXNoLW5vdC1yZWFsbHktY29tcHV0ZWQtMzI': 'pw-bob',
};

const state = () => globalThis.__guestCheckV2;

// host
export function log(level, message) {
  state().logs.push(`${level}: ${message}`);
}
export function nowMillis() {
  return BigInt(Date.now());
}
export function config() {
  return state().config ?? undefined;
}

// data
export function get(key) {
  return state().data.get(key);
}

// crypto
const b64url = (s) => Buffer.from(s, 'base64url');
const HS = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export function verifyJwt(token, keys) {
  const parts = token.split('.');
  if (parts.length !== 3) throw 'malformed token: not three parts';
  let header;
  let claims;
  try {
    header = JSON.parse(b64url(parts[0]).toString('utf8'));
    claims = JSON.parse(b64url(parts[1]).toString('utf8'));
  } catch {
    throw 'malformed token: bad JSON';
  }
  const alg = HS[header.alg];
  if (!alg) throw `unsupported algorithm ${JSON.stringify(String(header.alg))}`;
  const want = crypto.createHmac(alg, Buffer.from(keys, 'utf8')).update(`${parts[0]}.${parts[1]}`).digest();
  const got = b64url(parts[2]);
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) throw 'bad signature';
  const now = Date.now() / 1000;
  if (typeof claims.exp === 'number' && claims.exp + 60 < now) throw 'token expired';
  if (typeof claims.nbf === 'number' && claims.nbf - 60 > now) throw 'token not yet valid (nbf)';
  return b64url(parts[1]).toString('utf8');
}

export function verifyPassword(password, hash) {
  const m = /^\$pbkdf2-sha256\$i=(\d+)(?:,l=(\d+))?\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash.trim());
  if (m) {
    const want = Buffer.from(m[4], 'base64');
    const got = crypto.pbkdf2Sync(password, Buffer.from(m[3], 'base64'), Number(m[1]), want.length, 'sha256');
    return crypto.timingSafeEqual(got, want);
  }
  return STUB_HASHES[hash.trim()] === Buffer.from(password).toString('utf8');
}

export function sha256(data) {
  return new Uint8Array(crypto.createHash('sha256').update(data).digest());
}

export function hmacSha256(key, data) {
  return new Uint8Array(crypto.createHmac('sha256', key).update(data).digest());
}

/** A PHC pbkdf2-sha256 string of `password` (what the fake and the host verify). */
export function pbkdf2Hash(password, iterations = 1000) {
  const salt = crypto.randomBytes(16);
  const hash = crypto.pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const b64 = (b) => b.toString('base64').replace(/=+$/, '');
  return `$pbkdf2-sha256$i=${iterations},l=32$${b64(salt)}$${b64(hash)}`;
}

/** An HS256 JWT of `claims` signed with `key`. */
export function signJwt(claims, key, alg = 'HS256') {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg, typ: 'JWT' })}.${enc(claims)}`;
  return `${head}.${crypto.createHmac(HS[alg], Buffer.from(key, 'utf8')).update(head).digest('base64url')}`;
}
