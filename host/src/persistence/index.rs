//! Where each live record of the log is: the retained messages, and per
//! persistent session its meta, subscriptions and messages. Built by replaying
//! the log at open and kept current by every append; compaction copies exactly
//! the records it points at. Records that a later one replaced or removed are
//! garbage, counted so that compaction knows when it pays.

use std::collections::BTreeMap;

/// The index's maps: ahash, not SipHash (the index is hit several times per
/// publish). Its keys are seeded at random per process, so client ids and
/// topics that clients choose still do not collide at will.
pub type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
pub type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;

use super::record::Record;

/// A record's frame in the log: offset and length (framing included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub offset: u64,
    pub len: u32,
}

/// One stored message of a session.
#[derive(Debug, Clone)]
pub struct MsgEntry {
    pub put: Loc,
    pub key: u64,
    /// The packet id it went out with (0: not sent since it was stored).
    pub packet_id: u16,
    pub sent: Option<Loc>,
    /// PUBREC came: resend the PUBREL, not the message.
    pub released: Option<Loc>,
}

impl MsgEntry {
    fn bytes(&self) -> u64 {
        self.put.len as u64
            + self.sent.map_or(0, |l| l.len as u64)
            + self.released.map_or(0, |l| l.len as u64)
    }
}

#[derive(Debug, Default)]
pub struct SessionEntry {
    pub meta: Option<Loc>,
    pub subs: HashMap<String, Loc>,
    pub msgs: BTreeMap<u64, MsgEntry>,
    by_key: HashMap<u64, Vec<u64>>,
    /// QoS 2 PUBLISHes received from this session, by packet id.
    pub in_qos2: HashMap<u16, InQos2>,
}

/// A QoS 2 PUBLISH received from a session and not released yet.
#[derive(Debug, Clone)]
pub struct InQos2 {
    pub digest: u32,
    /// Forwarded to every recipient (else a crash cut it short).
    pub committed: bool,
    pub loc: Loc,
    /// Sessions that have a copy (while not committed).
    pub recipients: HashSet<String>,
}

impl SessionEntry {
    /// The stored message a delivered or acknowledged copy stands for: the
    /// oldest with its key, preferring the one sent with `packet_id`.
    pub fn find(&self, key: u64, packet_id: Option<u16>) -> Option<u64> {
        let seqs = self.by_key.get(&key)?;
        if let Some(pid) = packet_id.filter(|p| *p != 0) {
            if let Some(s) = seqs
                .iter()
                .find(|s| self.msgs.get(s).is_some_and(|m| m.packet_id == pid))
            {
                return Some(*s);
            }
        }
        seqs.first().copied()
    }

    /// The oldest stored message with `key` that has not been sent yet.
    pub fn find_unsent(&self, key: u64) -> Option<u64> {
        let seqs = self.by_key.get(&key)?;
        seqs.iter()
            .find(|s| self.msgs.get(s).is_some_and(|m| m.packet_id == 0))
            .or(seqs.first())
            .copied()
    }

    fn live_bytes(&self) -> u64 {
        let meta = self.meta.map_or(0, |l| l.len as u64);
        let subs: u64 = self.subs.values().map(|l| l.len as u64).sum();
        let msgs: u64 = self.msgs.values().map(MsgEntry::bytes).sum();
        let in_qos2: u64 = self.in_qos2.values().map(|e| e.loc.len as u64).sum();
        meta + subs + msgs + in_qos2
    }
}

#[derive(Debug, Default)]
pub struct Index {
    pub retained: HashMap<String, Loc>,
    pub sessions: HashMap<String, SessionEntry>,
    /// Bytes of the records the index points at.
    pub live: u64,
    /// The highest message sequence number seen.
    pub max_seq: u64,
    /// The latest `Clock` record's time.
    pub last_clock: i64,
    /// Not stored: the QoS 2 packet id each publisher is forwarding now (a
    /// connection handles its PUBLISHes one at a time).
    pub forwarding: HashMap<String, u16>,
}

impl Index {
    /// Takes one record (found at `loc`) into account. `key` is the message
    /// key of a `MsgPut`.
    pub fn apply(&mut self, rec: &Record, loc: Loc, key: u64) {
        let len = loc.len as u64;
        match rec {
            Record::RetainSet { topic, .. } => {
                if let Some(old) = self.retained.insert(topic.clone(), loc) {
                    self.live -= old.len as u64;
                }
                self.live += len;
            }
            Record::RetainClear { topic } => {
                if let Some(old) = self.retained.remove(topic) {
                    self.live -= old.len as u64;
                }
            }
            Record::SessionPut { client_id, .. } => {
                let s = self.sessions.entry(client_id.clone()).or_default();
                if let Some(old) = s.meta.replace(loc) {
                    self.live -= old.len as u64;
                }
                self.live += len;
            }
            Record::SessionDrop { client_id } => {
                if let Some(s) = self.sessions.remove(client_id) {
                    self.live -= s.live_bytes();
                }
            }
            Record::SubPut {
                client_id, filter, ..
            } => {
                // A compacted log keeps records in file order, where a
                // session's latest meta may follow its subscriptions.
                let s = self.sessions.entry(client_id.clone()).or_default();
                if let Some(old) = s.subs.insert(filter.clone(), loc) {
                    self.live -= old.len as u64;
                }
                self.live += len;
            }
            Record::SubDrop { client_id, filter } => {
                if let Some(old) = self
                    .sessions
                    .get_mut(client_id)
                    .and_then(|s| s.subs.remove(filter))
                {
                    self.live -= old.len as u64;
                }
            }
            Record::MsgPut {
                client_id,
                seq,
                from,
                qos2_origin,
                ..
            } => {
                if let Some(e) = qos2_origin.and_then(|pid| {
                    self.sessions
                        .get_mut(&*from.id.client_id)
                        .and_then(|p| p.in_qos2.get_mut(&pid))
                }) {
                    if !e.committed {
                        e.recipients.insert(client_id.clone());
                    }
                }
                self.max_seq = self.max_seq.max(*seq);
                let s = self.sessions.entry(client_id.clone()).or_default();
                s.msgs.insert(
                    *seq,
                    MsgEntry {
                        put: loc,
                        key,
                        packet_id: 0,
                        sent: None,
                        released: None,
                    },
                );
                s.by_key.entry(key).or_default().push(*seq);
                self.live += len;
            }
            Record::MsgSent {
                client_id,
                seq,
                packet_id,
            } => {
                if let Some(m) = self
                    .sessions
                    .get_mut(client_id)
                    .and_then(|s| s.msgs.get_mut(seq))
                {
                    m.packet_id = *packet_id;
                    if let Some(old) = m.sent.replace(loc) {
                        self.live -= old.len as u64;
                    }
                    self.live += len;
                }
            }
            Record::MsgReleased { client_id, seq } => {
                if let Some(m) = self
                    .sessions
                    .get_mut(client_id)
                    .and_then(|s| s.msgs.get_mut(seq))
                {
                    if let Some(old) = m.released.replace(loc) {
                        self.live -= old.len as u64;
                    }
                    self.live += len;
                }
            }
            Record::MsgDone { client_id, seq } => {
                if let Some(s) = self.sessions.get_mut(client_id) {
                    if let Some(m) = s.msgs.remove(seq) {
                        self.live -= m.bytes();
                        if let Some(seqs) = s.by_key.get_mut(&m.key) {
                            seqs.retain(|x| x != seq);
                            if seqs.is_empty() {
                                s.by_key.remove(&m.key);
                            }
                        }
                    }
                }
            }
            Record::InQos2 {
                client_id,
                packet_id,
                digest,
                committed,
                recipients,
            } => {
                let s = self.sessions.entry(client_id.clone()).or_default();
                let e = s.in_qos2.entry(*packet_id).or_insert_with(|| InQos2 {
                    digest: *digest,
                    committed: false,
                    loc,
                    recipients: HashSet::default(),
                });
                if e.digest != *digest {
                    // The id carries another message now.
                    e.digest = *digest;
                    e.committed = false;
                    e.recipients.clear();
                }
                if e.loc != loc {
                    self.live -= e.loc.len as u64;
                    e.loc = loc;
                }
                self.live += len;
                e.committed |= *committed;
                if e.committed {
                    e.recipients.clear();
                } else {
                    e.recipients.extend(recipients.iter().cloned());
                }
            }
            Record::InQos2Done {
                client_id,
                packet_id,
            } => {
                if let Some(old) = self
                    .sessions
                    .get_mut(client_id)
                    .and_then(|s| s.in_qos2.remove(packet_id))
                {
                    self.live -= old.loc.len as u64;
                }
            }
            Record::Clock { millis } => self.last_clock = self.last_clock.max(*millis),
        }
    }

    /// Every live record but the `InQos2`s (compaction writes those anew,
    /// whole, after the rest).
    pub fn live_locs(&self) -> Vec<Loc> {
        let mut out: Vec<Loc> = self.retained.values().copied().collect();
        for s in self.sessions.values() {
            out.extend(s.meta);
            out.extend(s.subs.values().copied());
            for m in s.msgs.values() {
                out.push(m.put);
                out.extend(m.sent);
                out.extend(m.released);
            }
        }
        out
    }

    /// Points every location at where compaction moved its record
    /// (`moved`: old offset → new offset).
    pub fn relocate(&mut self, moved: &HashMap<u64, u64>) {
        let fix = |l: &mut Loc| {
            if let Some(n) = moved.get(&l.offset) {
                l.offset = *n;
            }
        };
        self.retained.values_mut().for_each(fix);
        for s in self.sessions.values_mut() {
            if let Some(l) = s.meta.as_mut() {
                fix(l);
            }
            s.subs.values_mut().for_each(fix);
            for m in s.msgs.values_mut() {
                fix(&mut m.put);
                if let Some(l) = m.sent.as_mut() {
                    fix(l);
                }
                if let Some(l) = m.released.as_mut() {
                    fix(l);
                }
            }
        }
    }

    pub fn messages(&self) -> usize {
        self.sessions.values().map(|s| s.msgs.len()).sum()
    }
}
