//! The on-disk framing of the store's log: a file header, then records of
//! `[len: u32 LE][crc32 of payload: u32 LE][payload]`. Reading stops at the
//! first frame that does not check out; whether that is a torn tail (a crash
//! in the middle of a write, cut off and logged) or damage (refused) is the
//! caller's call from where it happened.

/// Written first in every log file; a file that starts otherwise is not ours.
pub const MAGIC: &[u8; 8] = b"RMQJSL01";
/// Bytes before the first record.
pub const HEADER_LEN: u64 = MAGIC.len() as u64;
/// Framing bytes in front of each payload.
pub const FRAME_OVERHEAD: usize = 8;
/// No record is this large; a length above it is damage, not a record.
pub const MAX_RECORD: usize = 512 * 1024 * 1024;

/// Appends one framed record to `out`.
pub fn push(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One record read back: where it starts (its frame) and its payload.
pub struct Frame<'a> {
    pub offset: u64,
    pub len: u32,
    pub payload: &'a [u8],
}

/// How reading a log ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Every byte belonged to a good record.
    Clean,
    /// A frame at `offset` was short or failed its checksum.
    BadFrameAt(u64),
}

/// Reads the records of a whole log held in memory (header included).
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    end: Option<End>,
}

impl<'a> Reader<'a> {
    /// `None` when the header is missing or wrong.
    pub fn new(data: &'a [u8]) -> Option<Reader<'a>> {
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return None;
        }
        Some(Reader {
            data,
            pos: MAGIC.len(),
            end: None,
        })
    }

    /// How reading ended (after `next` returned `None`).
    pub fn end(&self) -> &End {
        self.end.as_ref().unwrap_or(&End::Clean)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.end.is_some() {
            return None;
        }
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            self.end = Some(End::Clean);
            return None;
        }
        let bad = |r: &mut Self| {
            r.end = Some(End::BadFrameAt(r.pos as u64));
            None
        };
        if rest.len() < FRAME_OVERHEAD {
            return bad(self);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD || rest.len() < FRAME_OVERHEAD + len {
            return bad(self);
        }
        let payload = &rest[FRAME_OVERHEAD..FRAME_OVERHEAD + len];
        if crc32fast::hash(payload) != crc {
            return bad(self);
        }
        let frame = Frame {
            offset: self.pos as u64,
            len: (FRAME_OVERHEAD + len) as u32,
            payload,
        };
        self.pos += FRAME_OVERHEAD + len;
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for p in payloads {
            push(&mut out, p);
        }
        out
    }

    #[test]
    fn reads_back_what_was_written() {
        let data = log_of(&[b"one", b"", b"three"]);
        let mut r = Reader::new(&data).unwrap();
        let got: Vec<&[u8]> = r.by_ref().map(|f| f.payload).collect();
        assert_eq!(got, vec![&b"one"[..], b"", b"three"]);
        assert_eq!(r.end(), &End::Clean);
    }

    #[test]
    fn a_torn_tail_ends_reading_where_it_starts() {
        let mut data = log_of(&[b"one", b"two"]);
        let good = data.len();
        push(&mut data, b"three");
        data.truncate(data.len() - 2);
        let mut r = Reader::new(&data).unwrap();
        assert_eq!(r.by_ref().count(), 2);
        assert_eq!(r.end(), &End::BadFrameAt(good as u64));
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut data = log_of(&[b"one", b"two"]);
        let last = data.len() - 1;
        data[last] ^= 1;
        let mut r = Reader::new(&data).unwrap();
        assert_eq!(r.by_ref().count(), 1);
        assert!(matches!(r.end(), End::BadFrameAt(_)));
    }

    #[test]
    fn a_foreign_file_has_no_reader() {
        assert!(Reader::new(b"SQLite format 3\0").is_none());
        assert!(Reader::new(b"").is_none());
    }
}
