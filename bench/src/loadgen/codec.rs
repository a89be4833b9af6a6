//! MQTT 3.1.1 packets, encoded and decoded by hand: only what the load
//! generator and the trivial forwarder need, with no allocation per message
//! beyond the shared buffers.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;

/// Bytes of the payload the generator fills in: sequence number and send time.
pub const STAMP_LEN: usize = 16;

/// One packet cut out of a read buffer.
#[derive(Debug)]
pub struct Packet {
    /// Packet type (the high nibble of the first byte).
    pub kind: u8,
    /// The low nibble of the first byte (QoS and retain for a PUBLISH).
    pub flags: u8,
    /// Everything after the fixed header.
    pub body: Bytes,
}

impl Packet {
    /// For a PUBLISH: its QoS.
    pub fn qos(&self) -> u8 {
        (self.flags >> 1) & 0b11
    }

    /// For a PUBLISH: (packet id if QoS > 0, payload).
    pub fn publish_parts(&self) -> Option<(Option<u16>, &[u8])> {
        let b = &self.body[..];
        let topic_len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        let mut at = 2 + topic_len;
        let pid = if self.qos() > 0 {
            let id = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
            at += 2;
            Some(id)
        } else {
            None
        };
        Some((pid, b.get(at..)?))
    }

    /// For a PUBLISH: whether the retain flag is set.
    pub fn retain(&self) -> bool {
        self.flags & 1 == 1
    }

    /// For a PUBLISH: its topic.
    pub fn publish_topic(&self) -> Option<&[u8]> {
        let b = &self.body[..];
        let topic_len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        b.get(2..2 + topic_len)
    }

    /// For a PUBACK, SUBACK or CONNACK: the first two body bytes as a u16
    /// (packet id; for a CONNACK, flags and return code).
    pub fn head_u16(&self) -> Option<u16> {
        (self.body.len() >= 2).then(|| u16::from_be_bytes([self.body[0], self.body[1]]))
    }
}

/// Splits the next complete packet off `buf`; `Ok(None)` when more bytes are needed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Packet>, String> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0usize;
    let mut shift = 0;
    let mut header = 1;
    loop {
        let Some(&byte) = buf.get(header) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7f) << shift;
        header += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err("malformed remaining length".into());
        }
    }
    if buf.len() < header + len {
        return Ok(None);
    }
    buf.advance(header);
    let body = buf.split_to(len).freeze();
    Ok(Some(Packet {
        kind: first >> 4,
        flags: first & 0x0f,
        body,
    }))
}

fn put_len(out: &mut BytesMut, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if len == 0 {
            return;
        }
    }
}

fn put_str(out: &mut BytesMut, s: &[u8]) {
    out.put_u16(s.len() as u16);
    out.put_slice(s);
}

/// A CONNECT with optional username and password; `clean` false asks for a
/// persistent session (MQTT 3.1.1 clean session 0).
pub fn connect(
    out: &mut BytesMut,
    client_id: &str,
    user: Option<(&str, &str)>,
    keep_alive: u16,
    clean: bool,
) {
    let mut flags = if clean { 0x02 } else { 0x00 };
    let mut len = 10 + 2 + client_id.len();
    if let Some((u, p)) = user {
        flags |= 0xc0;
        len += 2 + u.len() + 2 + p.len();
    }
    out.put_u8(CONNECT << 4);
    put_len(out, len);
    put_str(out, b"MQTT");
    out.put_u8(4);
    out.put_u8(flags);
    out.put_u16(keep_alive);
    put_str(out, client_id.as_bytes());
    if let Some((u, p)) = user {
        put_str(out, u.as_bytes());
        put_str(out, p.as_bytes());
    }
}

pub fn connack(out: &mut BytesMut, return_code: u8) {
    out.put_slice(&[CONNACK << 4, 2, 0, return_code]);
}

pub fn subscribe(out: &mut BytesMut, packet_id: u16, filter: &str, qos: u8) {
    out.put_u8((SUBSCRIBE << 4) | 0b0010);
    put_len(out, 2 + 2 + filter.len() + 1);
    out.put_u16(packet_id);
    put_str(out, filter.as_bytes());
    out.put_u8(qos);
}

pub fn suback(out: &mut BytesMut, packet_id: u16, granted: u8) {
    out.put_slice(&[SUBACK << 4, 3]);
    out.put_u16(packet_id);
    out.put_u8(granted);
}

/// A PUBLISH whose payload starts with the 16-byte stamp (sequence, send
/// time in ns) and is padded with zeros to `size` bytes.
pub fn publish_stamped(
    out: &mut BytesMut,
    topic: &str,
    qos: u8,
    packet_id: u16,
    seq: u64,
    sent_ns: u64,
    size: usize,
) {
    let size = size.max(STAMP_LEN);
    let id_len = if qos > 0 { 2 } else { 0 };
    out.put_u8((PUBLISH << 4) | (qos << 1));
    put_len(out, 2 + topic.len() + id_len + size);
    put_str(out, topic.as_bytes());
    if qos > 0 {
        out.put_u16(packet_id);
    }
    out.put_u64(seq);
    out.put_u64(sent_ns);
    out.put_bytes(0, size - STAMP_LEN);
}

/// A PUBLISH of `payload` as is, with the retain flag when `retain`.
pub fn publish(
    out: &mut BytesMut,
    topic: &str,
    qos: u8,
    retain: bool,
    packet_id: u16,
    payload: &[u8],
) {
    let id_len = if qos > 0 { 2 } else { 0 };
    out.put_u8((PUBLISH << 4) | (qos << 1) | u8::from(retain));
    put_len(out, 2 + topic.len() + id_len + payload.len());
    put_str(out, topic.as_bytes());
    if qos > 0 {
        out.put_u16(packet_id);
    }
    out.put_slice(payload);
}

pub fn disconnect(out: &mut BytesMut) {
    out.put_slice(&[DISCONNECT << 4, 0]);
}

/// Reads the (sequence, send time) stamp of a payload.
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u64)> {
    let mut p = payload.get(..STAMP_LEN)?;
    Some((p.get_u64(), p.get_u64()))
}

/// A packet from its parts (to forward a decoded packet unchanged).
pub fn raw(out: &mut BytesMut, kind: u8, flags: u8, body: &[u8]) {
    out.put_u8((kind << 4) | flags);
    put_len(out, body.len());
    out.put_slice(body);
}

pub fn puback(out: &mut BytesMut, packet_id: u16) {
    out.put_u8(PUBACK << 4);
    out.put_u8(2);
    out.put_u16(packet_id);
}

pub fn pingresp(out: &mut BytesMut) {
    out.put_slice(&[PINGRESP << 4, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_round_trips_with_its_stamp() {
        let mut buf = BytesMut::new();
        publish_stamped(&mut buf, "bench/t", 1, 7, 42, 99, 64);
        publish_stamped(&mut buf, "bench/t", 0, 0, 43, 100, 64);
        let p = decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.kind, p.qos()), (PUBLISH, 1));
        let (pid, payload) = p.publish_parts().unwrap();
        assert_eq!((pid, payload.len()), (Some(7), 64));
        assert_eq!(p.publish_topic(), Some(&b"bench/t"[..]));
        assert_eq!(read_stamp(payload), Some((42, 99)));
        let p = decode(&mut buf).unwrap().unwrap();
        assert_eq!(p.publish_parts().unwrap().0, None);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_partial_packet_waits_for_more_bytes() {
        let mut whole = BytesMut::new();
        connect(&mut whole, "c", Some(("bench", "demo")), 60, true);
        let mut part = BytesMut::from(&whole[..whole.len() - 1]);
        assert!(decode(&mut part).unwrap().is_none());
        part.extend_from_slice(&whole[whole.len() - 1..]);
        assert_eq!(decode(&mut part).unwrap().unwrap().kind, CONNECT);
    }

    #[test]
    fn a_persistent_connect_clears_the_clean_session_flag() {
        for (clean, flags) in [(true, 0xc2), (false, 0xc0)] {
            let mut buf = BytesMut::new();
            connect(&mut buf, "c", Some(("bench", "demo")), 60, clean);
            let p = decode(&mut buf).unwrap().unwrap();
            // protocol name (6) and level (1), then the connect flags
            assert_eq!(p.body[7], flags);
        }
    }

    #[test]
    fn a_retained_publish_carries_its_payload_unchanged() {
        let mut buf = BytesMut::new();
        publish(&mut buf, "r/1", 1, true, 9, b"hello");
        let p = decode(&mut buf).unwrap().unwrap();
        assert!(p.retain());
        assert_eq!(p.publish_parts().unwrap(), (Some(9), &b"hello"[..]));
    }

    #[test]
    fn long_remaining_lengths_use_several_bytes() {
        let mut buf = BytesMut::new();
        publish_stamped(&mut buf, "t", 0, 0, 1, 2, 300);
        assert_eq!(buf[1] & 0x80, 0x80);
        let p = decode(&mut buf).unwrap().unwrap();
        assert_eq!(p.publish_parts().unwrap().1.len(), 300);
    }
}
