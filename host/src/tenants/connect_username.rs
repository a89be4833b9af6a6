//! Gives a peeked CONNECT a username it did not carry: a tls gateway with
//! `certIdentityAsUsername` puts the client certificate's common name there
//! before tenant resolution and before the CONNECT is replayed to the
//! tenant's broker, so both see the same username (as a listener rmqtt binds
//! itself does with the certificate identity).

use super::connect_peek::push_varint;
use super::connect_peek::{PeekError, PeekedConnect};

/// `c` with `username` as its username, when it has none; unchanged otherwise.
pub fn with_username(c: PeekedConnect, username: &str) -> Result<PeekedConnect, PeekError> {
    if c.username.is_some() {
        return Ok(c);
    }
    let (header_len, flags_at, insert_at) = layout(&c.raw)?;
    let name = username.as_bytes();
    let name_len =
        u16::try_from(name.len()).map_err(|_| PeekError::Malformed("username too long"))?;
    let body = &c.raw[header_len..];
    let mut new_body = Vec::with_capacity(body.len() + 2 + name.len());
    new_body.extend_from_slice(&body[..insert_at]);
    new_body.extend_from_slice(&name_len.to_be_bytes());
    new_body.extend_from_slice(name);
    new_body.extend_from_slice(&body[insert_at..]);
    new_body[flags_at] |= 0x80;
    let mut raw = vec![c.raw[0]];
    push_varint(&mut raw, new_body.len());
    raw.extend_from_slice(&new_body);
    Ok(PeekedConnect {
        username: Some(username.to_string()),
        raw,
        ..c
    })
}

/// Offsets in a whole CONNECT packet: the fixed header's length, then (within
/// the body) the connect flags and the place of the username field.
fn layout(raw: &[u8]) -> Result<(usize, usize, usize), PeekError> {
    let mut header_len = 1;
    while raw
        .get(header_len)
        .ok_or(PeekError::Malformed("truncated"))?
        & 0x80
        != 0
    {
        header_len += 1;
    }
    header_len += 1;
    let body = &raw[header_len..];
    let mut at = 0;
    let u16_at = |at: usize| -> Result<usize, PeekError> {
        let b = body
            .get(at..at + 2)
            .ok_or(PeekError::Malformed("truncated"))?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let varint_at = |at: &mut usize| -> Result<usize, PeekError> {
        let mut v = 0usize;
        for shift in 0..4 {
            let b = *body.get(*at).ok_or(PeekError::Malformed("truncated"))?;
            *at += 1;
            v |= usize::from(b & 0x7f) << (7 * shift);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(PeekError::Malformed("variable byte integer"))
    };
    at += 2 + u16_at(at)?; // protocol name
    let version = *body.get(at).ok_or(PeekError::Malformed("truncated"))?;
    let flags_at = at + 1;
    let flags = *body
        .get(flags_at)
        .ok_or(PeekError::Malformed("truncated"))?;
    at += 4; // version, flags, keep alive
    if version == 5 {
        let n = varint_at(&mut at)?;
        at += n;
    }
    at += 2 + u16_at(at)?; // client id
    if flags & 0x04 != 0 {
        if version == 5 {
            let n = varint_at(&mut at)?;
            at += n;
        }
        at += 2 + u16_at(at)?; // will topic
        at += 2 + u16_at(at)?; // will payload
    }
    if at > body.len() {
        return Err(PeekError::Malformed("truncated"));
    }
    Ok((header_len, flags_at, at))
}

#[cfg(test)]
mod tests {
    use super::super::connect_peek::read_connect;
    use super::*;

    /// A CONNECT of `version` (4 or 5) with a will and an optional password.
    fn connect(version: u8, user: Option<&str>, pass: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', version];
        let flags = 0x02
            | 0x04
            | if user.is_some() { 0x80 } else { 0 }
            | if pass.is_some() { 0x40 } else { 0 };
        body.push(flags);
        body.extend_from_slice(&30u16.to_be_bytes());
        if version == 5 {
            body.extend_from_slice(&[5, 0x11, 0, 0, 0, 10]); // session expiry 10
        }
        let field = |body: &mut Vec<u8>, s: &[u8]| {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s);
        };
        field(&mut body, b"c1");
        if version == 5 {
            body.push(0); // will properties
        }
        field(&mut body, b"will/t");
        field(&mut body, &[7u8; 200]); // long enough for a 2-byte remaining length
        if let Some(u) = user {
            field(&mut body, u.as_bytes());
        }
        if let Some(p) = pass {
            field(&mut body, p);
        }
        let mut out = vec![0x10];
        push_varint(&mut out, body.len());
        out.extend(body);
        out
    }

    #[tokio::test]
    async fn a_missing_username_is_inserted_before_the_password() {
        for version in [4, 5] {
            let raw = connect(version, None, Some(b"pw"));
            let peeked = read_connect(&mut raw.as_slice()).await.expect("parses");
            let named = with_username(peeked, "dev-1").expect("rewrites");
            let expected = connect(version, Some("dev-1"), Some(b"pw"));
            assert_eq!(named.raw, expected, "MQTT version {version}");
            let reparsed = read_connect(&mut named.raw.as_slice())
                .await
                .expect("reparses");
            assert_eq!(reparsed.username.as_deref(), Some("dev-1"));
            assert_eq!(reparsed.password.as_deref(), Some(&b"pw"[..]));
            assert_eq!(reparsed.client_id, "c1");
        }
    }

    #[tokio::test]
    async fn a_given_username_is_kept() {
        let raw = connect(4, Some("alice"), None);
        let peeked = read_connect(&mut raw.as_slice()).await.expect("parses");
        let same = with_username(peeked, "dev-1").expect("unchanged");
        assert_eq!(same.raw, raw);
        assert_eq!(same.username.as_deref(), Some("alice"));
    }
}
