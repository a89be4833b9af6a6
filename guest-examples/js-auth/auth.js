// Authentication-only policy in plain JavaScript (world `auth-policy`).
//
// Allow iff the password (bytes) decodes to "demo"; user "admin" is a
// superuser. Every decision is logged through the host import.
// Built twice: with QuickJS (default) and with StarlingMonkey.
//
// An absent WIT `option` arrives as `undefined` with StarlingMonkey but as
// `null` with QuickJS: always test it with `== null`.
import { log } from 'rmqtt:hooks/host@0.1.0';

// UTF-8 decoding without relying on TextDecoder (QuickJS builds have none).
function utf8(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i++];
    let cp;
    if (b < 0x80) cp = b;
    else if (b >= 0xc0 && b < 0xe0) cp = ((b & 0x1f) << 6) | (bytes[i++] & 0x3f);
    else if (b >= 0xe0 && b < 0xf0) cp = ((b & 0x0f) << 12) | ((bytes[i++] & 0x3f) << 6) | (bytes[i++] & 0x3f);
    else cp = ((b & 0x07) << 18) | ((bytes[i++] & 0x3f) << 12) | ((bytes[i++] & 0x3f) << 6) | (bytes[i++] & 0x3f);
    s += String.fromCodePoint(cp);
  }
  return s;
}

export const authenticate = {
  authenticate(req) {
    const password = req.password == null ? null : utf8(req.password);
    if (password !== 'demo') {
      log('info', `js-auth: deny ${req.clientId} (user ${req.username ?? '-'})`);
      return { allow: false, superuser: false, reason: 'bad credentials' };
    }
    const superuser = req.username === 'admin';
    log('info', `js-auth: allow ${req.clientId} (user ${req.username ?? '-'}${superuser ? ', superuser' : ''})`);
    return { allow: true, superuser };
  },
};
