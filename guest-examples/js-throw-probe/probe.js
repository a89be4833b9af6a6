// Probe (world `auth-policy` of rmqtt:hooks@0.2.0): what a throw in a JS
// export returning `result<auth-decision, string>` becomes, and what an `err`
// from a host import (`crypto.verify-jwt`) looks like inside the guest.
// Built with both engines; guest-examples/check.mjs and the host tests call it.
//
// authenticate, by username:
//   string  -> throw "thrown string"
//   error   -> throw new Error("thrown Error")
//   payload -> throw { payload: "thrown payload" }
//   number  -> throw 42
//   jwt     -> calls verifyJwt(password, "probe-key") and, when it throws,
//              denies with reason "<typeof> <constructor> payload=<e.payload> message=<e.message> string=<String(e)>"
//   other   -> allow
import { verifyJwt } from 'rmqtt:hooks/crypto@0.2.0';

function text(bytes) {
  let s = '';
  if (bytes != null) for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function describe(e) {
  const ctor = e != null && e.constructor ? e.constructor.name : '-';
  const payload = e != null && typeof e === 'object' && 'payload' in e ? JSON.stringify(e.payload) : '-';
  const message = e != null && typeof e === 'object' && 'message' in e ? JSON.stringify(e.message) : '-';
  return `${typeof e} ${ctor} payload=${payload} message=${message} string=${JSON.stringify(String(e))}`;
}

export const authenticate = {
  authenticate(req) {
    switch (req.username) {
      case 'string':
        throw 'thrown string';
      case 'error':
        throw new Error('thrown Error');
      case 'payload':
        throw { payload: 'thrown payload' };
      case 'number':
        throw 42;
      case 'jwt':
        try {
          const claims = verifyJwt(text(req.password), 'probe-key');
          return { allow: true, superuser: false, reason: `claims ${claims}` };
        } catch (e) {
          return { allow: false, superuser: false, reason: describe(e) };
        }
      default:
        return { allow: true, superuser: false };
    }
  },
};
