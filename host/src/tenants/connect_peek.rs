//! Reads the first packet of a connection (the CONNECT) off the wire, keeping
//! its bytes, so a tenant can be chosen before the connection is handed to the
//! tenant's broker context. Understands MQTT 3.1, 3.1.1 and 5.0.
//!
//! Of an MQTT 5 CONNECT's properties only the user properties are read (for
//! the tenant resolver); properties this reader does not understand leave
//! them empty instead of refusing the CONNECT (the broker judges it later).

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest CONNECT the gateway buffers.
pub const MAX_CONNECT_LEN: usize = 64 * 1024;

/// The fields of a CONNECT that tenant resolution may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedConnect {
    pub protocol_version: u8,
    pub clean_start: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// The CONNECT's user properties (MQTT 5; empty before), in order.
    pub user_properties: Vec<(String, String)>,
    /// The whole packet as received, to be replayed to the broker.
    pub raw: Vec<u8>,
}

/// Why the first packet could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PeekError {
    #[error("connection closed before CONNECT: {0}")]
    Io(#[from] std::io::Error),
    #[error("first packet is not a CONNECT (type {0})")]
    NotConnect(u8),
    #[error("CONNECT is malformed: {0}")]
    Malformed(&'static str),
    #[error("CONNECT is larger than {MAX_CONNECT_LEN} bytes")]
    TooLarge,
}

/// Reads one CONNECT packet from `io`.
pub async fn read_connect<R: AsyncRead + Unpin>(io: &mut R) -> Result<PeekedConnect, PeekError> {
    let first = io.read_u8().await?;
    if first >> 4 != 1 {
        return Err(PeekError::NotConnect(first >> 4));
    }
    let mut raw = vec![first];
    let mut remaining: usize = 0;
    for shift in 0..4 {
        let b = io.read_u8().await?;
        raw.push(b);
        remaining |= usize::from(b & 0x7f) << (7 * shift);
        if b & 0x80 == 0 {
            break;
        }
        if shift == 3 {
            return Err(PeekError::Malformed("remaining length"));
        }
    }
    if remaining > MAX_CONNECT_LEN {
        return Err(PeekError::TooLarge);
    }
    let header_len = raw.len();
    raw.resize(header_len + remaining, 0);
    io.read_exact(&mut raw[header_len..]).await?;
    let mut p = parse_body(&raw[header_len..])?;
    p.raw = raw;
    Ok(p)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PeekError> {
        if self.0.len() < n {
            return Err(PeekError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, PeekError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PeekError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn binary(&mut self) -> Result<&'a [u8], PeekError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn string(&mut self) -> Result<String, PeekError> {
        String::from_utf8(self.binary()?.to_vec())
            .map_err(|_| PeekError::Malformed("string is not UTF-8"))
    }
    fn varint(&mut self) -> Result<usize, PeekError> {
        let mut v = 0usize;
        for shift in 0..4 {
            let b = self.u8()?;
            v |= usize::from(b & 0x7f) << (7 * shift);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(PeekError::Malformed("variable byte integer"))
    }
    fn skip_properties(&mut self) -> Result<(), PeekError> {
        self.properties().map(|_| ())
    }
    /// The bytes of a property list (after its length).
    fn properties(&mut self) -> Result<&'a [u8], PeekError> {
        let n = self.varint()?;
        self.take(n)
    }
}

/// The user properties among a CONNECT's properties; `None` when the list
/// holds something this reader does not understand.
fn connect_user_properties(props: &[u8]) -> Option<Vec<(String, String)>> {
    let mut c = Cursor(props);
    let mut out = Vec::new();
    while !c.0.is_empty() {
        match c.u8().ok()? {
            // Request problem / response information.
            0x17 | 0x19 => c.take(1).ok()?,
            // Receive maximum, topic alias maximum.
            0x21 | 0x22 => c.take(2).ok()?,
            // Session expiry interval, maximum packet size.
            0x11 | 0x27 => c.take(4).ok()?,
            // Authentication method, authentication data.
            0x15 | 0x16 => c.binary().ok()?,
            0x26 => {
                let name = c.string().ok()?;
                let value = c.string().ok()?;
                out.push((name, value));
                continue;
            }
            _ => return None,
        };
    }
    Some(out)
}

fn parse_body(body: &[u8]) -> Result<PeekedConnect, PeekError> {
    let mut c = Cursor(body);
    let protocol = c.binary()?;
    if protocol != b"MQTT" && protocol != b"MQIsdp" {
        return Err(PeekError::Malformed("protocol name"));
    }
    let protocol_version = c.u8()?;
    let flags = c.u8()?;
    let keep_alive = c.u16()?;
    let v5 = protocol_version == 5;
    let user_properties = if v5 {
        connect_user_properties(c.properties()?).unwrap_or_default()
    } else {
        Vec::new()
    };
    let client_id = c.string()?;
    if flags & 0x04 != 0 {
        if v5 {
            c.skip_properties()?;
        }
        c.binary()?; // will topic
        c.binary()?; // will payload
    }
    let username = if flags & 0x80 != 0 {
        Some(c.string()?)
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        Some(c.binary()?.to_vec())
    } else {
        None
    };
    Ok(PeekedConnect {
        protocol_version,
        clean_start: flags & 0x02 != 0,
        keep_alive,
        client_id,
        username,
        password,
        user_properties,
        raw: Vec::new(),
    })
}

/// A CONNACK refusing the connection as "not authorized", with `reason` as
/// the MQTT 5 reason string.
pub fn refusal(protocol_version: u8, reason: &str) -> Vec<u8> {
    if protocol_version == 5 {
        let reason = &reason.as_bytes()[..reason.len().min(1024)];
        let props_len = 3 + reason.len();
        let mut props = vec![0x1f];
        props.extend_from_slice(&(reason.len() as u16).to_be_bytes());
        props.extend_from_slice(reason);
        let mut body = vec![0x00, 0x87];
        push_varint(&mut body, props_len);
        body.extend_from_slice(&props);
        let mut out = vec![0x20];
        push_varint(&mut out, body.len());
        out.extend_from_slice(&body);
        out
    } else {
        vec![0x20, 0x02, 0x00, 0x05]
    }
}

/// Appends `v` as an MQTT variable byte integer.
pub(super) fn push_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_v311(client: &str, user: Option<&str>, pass: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4];
        let flags =
            0x02 | if user.is_some() { 0x80 } else { 0 } | if pass.is_some() { 0x40 } else { 0 };
        body.push(flags);
        body.extend_from_slice(&30u16.to_be_bytes());
        for s in [Some(client.as_bytes()), user.map(str::as_bytes), pass]
            .into_iter()
            .flatten()
        {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s);
        }
        let mut out = vec![0x10];
        push_varint(&mut out, body.len());
        out.extend(body);
        out
    }

    #[tokio::test]
    async fn a_connect_is_parsed_and_kept_whole() {
        let bytes = connect_v311("c1", Some("ann@acme"), Some(b"pw"));
        let p = read_connect(&mut bytes.as_slice()).await.expect("parses");
        assert_eq!(p.client_id, "c1");
        assert_eq!(p.username.as_deref(), Some("ann@acme"));
        assert_eq!(p.password.as_deref(), Some(&b"pw"[..]));
        assert_eq!(p.protocol_version, 4);
        assert_eq!(p.keep_alive, 30);
        assert!(p.clean_start);
        assert_eq!(p.raw, bytes);
    }

    /// An MQTT 5 CONNECT with `props` as its properties.
    fn connect_v5(props: &[u8]) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02];
        body.extend_from_slice(&30u16.to_be_bytes());
        push_varint(&mut body, props.len());
        body.extend_from_slice(props);
        body.extend_from_slice(&[0, 2, b'c', b'5']);
        let mut out = vec![0x10];
        push_varint(&mut out, body.len());
        out.extend(body);
        out
    }

    fn user_property(name: &str, value: &str) -> Vec<u8> {
        let mut out = vec![0x26];
        for s in [name, value] {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    #[tokio::test]
    async fn an_mqtt5_connect_yields_its_user_properties_in_order() {
        let mut props = vec![0x11, 0, 0, 0, 60, 0x21, 0, 10];
        props.extend(user_property("region", "eu"));
        props.extend([0x15, 0, 3, b'j', b'w', b't']);
        props.extend(user_property("region", "us"));
        props.extend([0x17, 1]);
        let bytes = connect_v5(&props);
        let p = read_connect(&mut bytes.as_slice()).await.expect("parses");
        assert_eq!(p.client_id, "c5");
        assert_eq!(p.protocol_version, 5);
        assert_eq!(
            p.user_properties,
            vec![
                ("region".to_string(), "eu".to_string()),
                ("region".to_string(), "us".to_string())
            ]
        );
        let v311 = connect_v311("c1", None, None);
        let p = read_connect(&mut v311.as_slice()).await.expect("parses");
        assert!(p.user_properties.is_empty());
    }

    #[tokio::test]
    async fn properties_it_does_not_understand_leave_user_properties_empty() {
        let mut props = user_property("k", "v");
        props.extend([0x7f, 0]);
        let bytes = connect_v5(&props);
        let p = read_connect(&mut bytes.as_slice())
            .await
            .expect("still parses");
        assert_eq!(p.client_id, "c5");
        assert!(p.user_properties.is_empty());
    }

    #[tokio::test]
    async fn garbage_is_refused_with_a_reason() {
        let err = read_connect(&mut &b"\x30\x00"[..])
            .await
            .expect_err("publish first");
        assert!(matches!(err, PeekError::NotConnect(3)));
        let err = read_connect(&mut &b"\x10\x03\x00\x01"[..])
            .await
            .expect_err("truncated");
        assert!(matches!(err, PeekError::Io(_)));
        let err = read_connect(&mut &b"\x10\xff\xff\xff\x7f"[..])
            .await
            .expect_err("huge");
        assert!(matches!(err, PeekError::TooLarge));
    }

    #[test]
    fn refusals_are_valid_connacks() {
        assert_eq!(refusal(4, "x"), vec![0x20, 2, 0, 5]);
        let v5 = refusal(5, "unknown tenant");
        assert_eq!(v5[0], 0x20);
        assert_eq!(usize::from(v5[1]), v5.len() - 2);
        assert_eq!(v5[3], 0x87);
    }
}
