//! The store of one broker context: an append-only log (`store.log`) with an
//! in-memory index of its live records.
//!
//! Appends go into a buffer under one lock. A caller that must not answer its
//! client before the record is in the log (a QoS 1/2 message before the
//! publisher's PUBACK) awaits [`Store::durable`], which writes the whole
//! buffer itself with one `write(2)` (group commit: every record appended
//! meanwhile, by any connection, goes in the same write) unless another
//! caller's write already carried its record. Once the write returns, the
//! record survives a crash or `kill -9` of the process. Records nobody awaits
//! (an acknowledgement, a packet id) go with the next such write, or the
//! writer thread writes them once they have waited a [`LINGER`] (it is not
//! woken for them, which spares a context switch per batch). The writer also `fdatasync`s every `sync_interval` (for power
//! loss), writes a `Clock` record every few seconds, and compacts the log
//! when garbage dominates it. A device that is slow to write (Redis) leaves
//! every write to the writer thread. A failed write (a full disk) is retried
//! from the same position by the writer; waiters keep waiting, so nothing is
//! acknowledged that is not stored, and [`Store::healthy`] turns false so
//! that new publishes are refused.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmqtt::types::{From, Publish, SubscriptionOptions};

use super::device::{FileDevice, LogDevice};
use super::frame::{self, End, Reader, FRAME_OVERHEAD, HEADER_LEN, MAGIC};
use super::index::{HashMap, Index, Loc};
use super::record::{message_key, Record, SessionMeta};
use super::PersistenceError;

pub const LOG_FILE: &str = "store.log";
const CLOCK_EVERY: Duration = Duration::from_secs(5);
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long the writer thread lets records that nobody awaits gather before
/// it writes them (when callers awaiting durability write their own).
pub const LINGER: Duration = Duration::from_millis(2);

/// How a store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// `fdatasync` at most this long after a write (power-loss window).
    pub sync_interval: Duration,
    /// Compact once the log is larger than this and than 2× its live records.
    pub compact_min_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            sync_interval: Duration::from_secs(1),
            compact_min_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Figures of a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Size of the log file.
    pub bytes: u64,
    /// Bytes of its live records (the rest goes at the next compaction).
    pub live_bytes: u64,
    pub retained: u64,
    pub sessions: u64,
    pub messages: u64,
    pub compactions: u64,
    pub write_errors: u64,
}

/// What [`Store::msg_put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Stored; durable once this batch is.
    Stored(u64),
    /// The recipient is not a persistent session.
    NotPersistent,
    /// The recipient has this QoS 2 message already (from before a crash).
    HasItAlready,
}

/// A persistent session as it was stored.
#[derive(Debug)]
pub struct RecoveredSession {
    pub client_id: String,
    pub meta: SessionMeta,
    pub subs: Vec<(String, SubscriptionOptions)>,
    /// Oldest first.
    pub msgs: Vec<RecoveredMessage>,
}

/// A stored message of a session.
#[derive(Debug)]
pub struct RecoveredMessage {
    pub from: From,
    pub publish: Publish,
    /// The packet id it was last sent with (0: not sent).
    pub packet_id: u16,
    /// PUBREC came (QoS 2): the PUBREL is owed, not the message.
    pub released: bool,
}

/// What a store held when it was opened.
#[derive(Debug, Default)]
pub struct Recovered {
    pub retained: Vec<(String, From, Publish, Option<i64>)>,
    pub sessions: Vec<RecoveredSession>,
    /// The last time the previous run was known alive (Unix ms; 0: never).
    pub last_alive: i64,
    /// Bytes of a torn write cut from the end of the log (a crash mid-write).
    pub torn_bytes: u64,
}

struct Inner {
    buf: Vec<u8>,
    /// The batch that `buf` will be written as.
    batch: u64,
    /// The log's length once `buf` is written.
    len: u64,
    index: Index,
    closing: bool,
    /// Written since the last `fdatasync`.
    unsynced: bool,
    /// The writer thread sleeps on `wake` (so an append must wake it).
    writer_waiting: bool,
    stats: StoreStats,
}

struct Shared {
    /// The device, as messages name it.
    name: String,
    inner: Mutex<Inner>,
    /// Taken (before `inner`, never after) by whoever writes to the device.
    device: Mutex<Box<dyn LogDevice>>,
    /// Callers awaiting durability write the buffer themselves.
    inline: bool,
    wake: Condvar,
    written: tokio::sync::watch::Sender<u64>,
    healthy: AtomicBool,
    opts: StoreOptions,
}

/// An open store. Dropping it (or [`Store::close`]) writes what is buffered.
pub struct Store {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn now_millis() -> i64 {
    rmqtt::utils::timestamp_millis()
}

impl Store {
    /// Opens (or creates) the store in `dir`, replays it, and starts its
    /// writer. The caller holds the directory's lock.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<(Store, Recovered), PersistenceError> {
        std::fs::create_dir_all(dir).map_err(|e| PersistenceError::NotWritable {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = dir.join(LOG_FILE);
        let io_err = |e: std::io::Error| PersistenceError::io(&path, &e);
        // The log must take writes before anything is served.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| PersistenceError::NotWritable {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        let mut device = FileDevice::new(&path);
        let data = device.read_all().map_err(io_err)?;
        Store::open_device(Box::new(device), data, opts)
            .map_err(|e| e.into_persistence(path.clone(), io_err))
    }

    /// Replays `data` (the device's whole log), repairs a torn tail, and
    /// starts the writer on `device`.
    pub(crate) fn open_device(
        mut device: Box<dyn LogDevice>,
        mut data: Vec<u8>,
        opts: StoreOptions,
    ) -> Result<(Store, Recovered), DeviceOpenError> {
        let corrupt = |offset: u64, reason: String| DeviceOpenError::Corrupt { offset, reason };
        let name = device.describe();
        if data.len() < MAGIC.len() && MAGIC.starts_with(&data) {
            // New, or a crash right after creating it.
            device.replace(MAGIC).map_err(DeviceOpenError::Io)?;
            data = MAGIC.to_vec();
        }
        let mut index = Index::default();
        let mut torn_bytes = 0;
        {
            let mut reader = Reader::new(&data)
                .ok_or_else(|| corrupt(0, "it is not an rmqtt-js store".into()))?;
            for f in reader.by_ref() {
                let rec = Record::decode(f.payload)
                    .map_err(|e| corrupt(f.offset, format!("undecodable record: {e}")))?;
                let key = match &rec {
                    Record::MsgPut { from, publish, .. } => message_key(from, publish),
                    _ => 0,
                };
                index.apply(
                    &rec,
                    Loc {
                        offset: f.offset,
                        len: f.len,
                    },
                    key,
                );
            }
            if let End::BadFrameAt(offset) = *reader.end() {
                if !is_torn_tail(&data, offset as usize) {
                    return Err(corrupt(offset, "a record fails its checksum".into()));
                }
                torn_bytes = data.len() as u64 - offset;
            }
        }
        if torn_bytes > 0 {
            let keep = data.len() as u64 - torn_bytes;
            log::warn!(
                target: "rmqtt_js::persistence",
                "{name}: cut {torn_bytes} bytes of a write torn by a crash at the end of the log"
            );
            data.truncate(keep as usize);
            device.truncate(keep).map_err(DeviceOpenError::Io)?;
        }
        let recovered = recover(&data, &index, torn_bytes)
            .map_err(|(offset, reason)| corrupt(offset, reason))?;
        let stats = StoreStats {
            bytes: data.len() as u64,
            live_bytes: index.live,
            ..StoreStats::default()
        };
        let (written, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            name: name.clone(),
            inner: Mutex::new(Inner {
                buf: Vec::new(),
                batch: 1,
                len: data.len() as u64,
                index,
                closing: false,
                unsynced: false,
                writer_waiting: false,
                stats,
            }),
            inline: device.inline_writes(),
            device: Mutex::new(device),
            wake: Condvar::new(),
            written,
            healthy: AtomicBool::new(true),
            opts,
        });
        drop(data);
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("rmqtt-js-store".into())
            .spawn(move || writer_loop(s))
            .map_err(DeviceOpenError::Io)?;
        Ok((
            Store {
                shared,
                writer: Mutex::new(Some(writer)),
            },
            recovered,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends under the lock; returns the batch to await for durability.
    fn push(&self, g: &mut Inner, rec: &Record, key: u64) -> u64 {
        let payload = rec.encode();
        let loc = Loc {
            offset: g.len,
            len: (FRAME_OVERHEAD + payload.len()) as u32,
        };
        let was_empty = g.buf.is_empty();
        frame::push(&mut g.buf, &payload);
        g.len += loc.len as u64;
        g.index.apply(rec, loc, key);
        // With inline writes the writer thread is not woken: what nobody
        // awaits rides along with the next write of a caller, or the writer
        // takes it once it has waited a LINGER.
        if was_empty && g.writer_waiting && !self.shared.inline {
            self.shared.wake.notify_one();
        }
        g.batch
    }

    fn append(&self, rec: Record) -> u64 {
        let mut g = self.lock();
        self.push(&mut g, &rec, 0)
    }

    /// Resolves once `batch` is in the log (survives a crash of the process).
    /// On a quick device this writes the buffer here and now, unless a
    /// write that carries `batch` is under way or done.
    pub async fn durable(&self, batch: u64) {
        let shared = &self.shared;
        if *shared.written.borrow() >= batch {
            return;
        }
        if shared.inline && self.healthy() {
            let mut device = shared.device.lock().unwrap_or_else(|p| p.into_inner());
            if *shared.written.borrow() < batch && write_pending(shared, device.as_mut()).is_err() {
                // The writer thread retries it.
                drop(device);
                shared.wake.notify_one();
            }
        }
        if *shared.written.borrow() >= batch {
            return;
        }
        let mut rx = shared.written.subscribe();
        let _ = rx.wait_for(|w| *w >= batch).await;
    }

    /// False while writes fail (a full disk): publishes should be refused.
    pub fn healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Relaxed)
    }

    pub fn is_session(&self, client_id: &str) -> bool {
        self.lock()
            .index
            .sessions
            .get(client_id)
            .is_some_and(|s| s.meta.is_some())
    }

    pub fn retain_set(
        &self,
        topic: &str,
        from: &From,
        publish: &Publish,
        expires_at: Option<i64>,
    ) -> u64 {
        self.append(Record::RetainSet {
            topic: topic.to_string(),
            from: from.clone(),
            publish: publish.clone(),
            expires_at,
        })
    }

    pub fn retain_clear(&self, topic: &str) -> u64 {
        let mut g = self.lock();
        if !g.index.retained.contains_key(topic) {
            return 0;
        }
        self.push(
            &mut g,
            &Record::RetainClear {
                topic: topic.to_string(),
            },
            0,
        )
    }

    pub fn session_put(&self, client_id: &str, meta: SessionMeta) -> u64 {
        self.append(Record::SessionPut {
            client_id: client_id.to_string(),
            meta: Box::new(meta),
        })
    }

    /// Forgets a session with its subscriptions and messages (no-op if unknown).
    pub fn session_drop(&self, client_id: &str) -> u64 {
        let mut g = self.lock();
        if !g.index.sessions.contains_key(client_id) {
            return 0;
        }
        self.push(
            &mut g,
            &Record::SessionDrop {
                client_id: client_id.to_string(),
            },
            0,
        )
    }

    pub fn sub_put(
        &self,
        client_id: &str,
        filter: &str,
        opts: &SubscriptionOptions,
    ) -> Option<u64> {
        let mut g = self.lock();
        g.index.sessions.get(client_id)?.meta?;
        Some(self.push(
            &mut g,
            &Record::SubPut {
                client_id: client_id.to_string(),
                filter: filter.to_string(),
                opts: opts.clone(),
            },
            0,
        ))
    }

    pub fn sub_drop(&self, client_id: &str, filter: &str) -> Option<u64> {
        let mut g = self.lock();
        g.index.sessions.get(client_id)?.subs.get(filter)?;
        Some(self.push(
            &mut g,
            &Record::SubDrop {
                client_id: client_id.to_string(),
                filter: filter.to_string(),
            },
            0,
        ))
    }

    /// Stores a message for `client_id` if that is a persistent session.
    pub fn msg_put(&self, client_id: &str, from: &From, publish: &Publish) -> Put {
        let mut g = self.lock();
        if g.index
            .sessions
            .get(client_id)
            .and_then(|s| s.meta)
            .is_none()
        {
            return Put::NotPersistent;
        }
        let publisher: &str = &from.id.client_id;
        let qos2_origin = g.index.forwarding.get(publisher).copied();
        if let Some(pid) = qos2_origin {
            let has_it = g
                .index
                .sessions
                .get(publisher)
                .and_then(|p| p.in_qos2.get(&pid))
                .is_some_and(|e| e.recipients.contains(client_id));
            if has_it {
                return Put::HasItAlready;
            }
        }
        let seq = g.index.max_seq + 1;
        let rec = Record::MsgPut {
            client_id: client_id.to_string(),
            seq,
            from: from.clone(),
            publish: publish.clone(),
            qos2_origin,
        };
        let key = message_key(from, publish);
        Put::Stored(self.push(&mut g, &rec, key))
    }

    /// Notes the packet id a stored message went out with.
    pub fn msg_sent(&self, client_id: &str, from: &From, publish: &Publish) -> Option<u64> {
        let packet_id = publish.packet_id.map_or(0, |p| p.get());
        let mut g = self.lock();
        let s = g.index.sessions.get(client_id)?;
        let seq = s.find_unsent(message_key(from, publish))?;
        if s.msgs.get(&seq).is_some_and(|m| m.packet_id == packet_id) {
            return None;
        }
        Some(self.push(
            &mut g,
            &Record::MsgSent {
                client_id: client_id.to_string(),
                seq,
                packet_id,
            },
            0,
        ))
    }

    /// Notes that a QoS 2 message sent with its packet id got its PUBREC.
    pub fn msg_received(&self, client_id: &str, from: &From, publish: &Publish) -> Option<u64> {
        self.msg_note(client_id, from, publish, |client_id, seq| {
            Record::MsgReleased { client_id, seq }
        })
    }

    /// Forgets a stored message (acknowledged, dropped or expired).
    pub fn msg_done(&self, client_id: &str, from: &From, publish: &Publish) -> Option<u64> {
        self.msg_note(client_id, from, publish, |client_id, seq| Record::MsgDone {
            client_id,
            seq,
        })
    }

    /// Appends `record(client_id, seq)` for the stored message `publish` is.
    fn msg_note(
        &self,
        client_id: &str,
        from: &From,
        publish: &Publish,
        record: impl FnOnce(String, u64) -> Record,
    ) -> Option<u64> {
        let packet_id = publish.packet_id.map(|p| p.get());
        let mut g = self.lock();
        let seq = g
            .index
            .sessions
            .get(client_id)?
            .find(message_key(from, publish), packet_id)?;
        Some(self.push(&mut g, &record(client_id.to_string(), seq), 0))
    }

    /// A QoS 2 PUBLISH of a persistent session is about to be forwarded.
    pub fn in_qos2_begin(&self, client_id: &str, packet_id: u16, digest: u32) {
        let mut g = self.lock();
        if g.index
            .sessions
            .get(client_id)
            .and_then(|s| s.meta)
            .is_none()
        {
            return;
        }
        g.index.forwarding.insert(client_id.to_string(), packet_id);
        let rec = Record::InQos2 {
            client_id: client_id.to_string(),
            packet_id,
            digest,
            committed: false,
            recipients: Vec::new(),
        };
        self.push(&mut g, &rec, 0);
    }

    /// A PUBLISH of `client_id` that is not a QoS 2 one is about to be forwarded.
    pub fn in_qos2_idle(&self, client_id: &str) {
        let mut g = self.lock();
        if !g.index.forwarding.is_empty() {
            g.index.forwarding.remove(client_id);
        }
    }

    /// It was forwarded: a resend is a duplicate until its PUBREL.
    pub fn in_qos2_commit(&self, client_id: &str, packet_id: u16, digest: u32) -> Option<u64> {
        let mut g = self.lock();
        g.index.forwarding.remove(client_id);
        g.index.sessions.get(client_id)?.in_qos2.get(&packet_id)?;
        let rec = Record::InQos2 {
            client_id: client_id.to_string(),
            packet_id,
            digest,
            committed: true,
            recipients: Vec::new(),
        };
        Some(self.push(&mut g, &rec, 0))
    }

    /// Notes the PUBREL of a QoS 2 packet id of a persistent session.
    pub fn in_qos2_done(&self, client_id: &str, packet_id: u16) -> Option<u64> {
        let mut g = self.lock();
        g.index.sessions.get(client_id)?.in_qos2.get(&packet_id)?;
        Some(self.push(
            &mut g,
            &Record::InQos2Done {
                client_id: client_id.to_string(),
                packet_id,
            },
            0,
        ))
    }

    /// Whether a QoS 2 PUBLISH is a resend of one forwarded to everyone.
    pub fn in_qos2_committed(&self, client_id: &str, packet_id: u16, digest: u32) -> bool {
        self.lock()
            .index
            .sessions
            .get(client_id)
            .and_then(|s| s.in_qos2.get(&packet_id))
            .is_some_and(|e| e.committed && e.digest == digest)
    }

    pub fn stats(&self) -> StoreStats {
        let g = self.lock();
        StoreStats {
            bytes: g.len,
            live_bytes: g.index.live,
            retained: g.index.retained.len() as u64,
            sessions: g
                .index
                .sessions
                .values()
                .filter(|s| s.meta.is_some())
                .count() as u64,
            messages: g.index.messages() as u64,
            ..g.stats
        }
    }

    /// The log, as messages name it (a path, or a Redis key).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Writes and syncs what is buffered, and stops the writer.
    pub fn close(&self) {
        {
            let mut g = self.lock();
            if !g.closing {
                // Sessions online now count their expiry from this moment.
                let clock = Record::Clock {
                    millis: now_millis(),
                };
                self.push(&mut g, &clock, 0);
            }
            g.closing = true;
            self.shared.wake.notify_one();
        }
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// Why a device's log could not be opened.
#[derive(Debug)]
pub(crate) enum DeviceOpenError {
    Corrupt { offset: u64, reason: String },
    Io(std::io::Error),
}

impl DeviceOpenError {
    /// As the start reports it: damage names the log (`name`), an I/O
    /// error is the device's own (`io`).
    pub(crate) fn into_persistence(
        self,
        name: std::path::PathBuf,
        io: impl FnOnce(std::io::Error) -> PersistenceError,
    ) -> PersistenceError {
        match self {
            DeviceOpenError::Corrupt { offset, reason } => PersistenceError::Corrupt {
                path: name,
                offset,
                reason,
            },
            DeviceOpenError::Io(e) => io(e),
        }
    }
}

/// Whether a bad frame at `offset` is the end of a write cut short by a crash
/// (the file ends inside the frame, or only zeros follow) rather than damage.
fn is_torn_tail(data: &[u8], offset: usize) -> bool {
    let rest = &data[offset..];
    if rest.len() < FRAME_OVERHEAD {
        return true;
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let ends_inside = FRAME_OVERHEAD.saturating_add(len) >= rest.len();
    ends_inside && len <= frame::MAX_RECORD || rest.iter().all(|b| *b == 0)
}

/// Decodes the live records into what the broker rebuilds.
fn recover(data: &[u8], index: &Index, torn_bytes: u64) -> Result<Recovered, (u64, String)> {
    let read = |loc: Loc| -> Result<Record, (u64, String)> {
        let start = loc.offset as usize + FRAME_OVERHEAD;
        let end = loc.offset as usize + loc.len as usize;
        Record::decode(&data[start..end]).map_err(|e| (loc.offset, e))
    };
    let mut out = Recovered {
        last_alive: index.last_clock,
        torn_bytes,
        ..Recovered::default()
    };
    for loc in index.retained.values() {
        if let Record::RetainSet {
            topic,
            from,
            publish,
            expires_at,
        } = read(*loc)?
        {
            out.retained.push((topic, from, publish, expires_at));
        }
    }
    for (client_id, s) in &index.sessions {
        let Some(meta_loc) = s.meta else { continue };
        let Record::SessionPut { meta, .. } = read(meta_loc)? else {
            continue;
        };
        let mut subs = Vec::with_capacity(s.subs.len());
        for loc in s.subs.values() {
            if let Record::SubPut { filter, opts, .. } = read(*loc)? {
                subs.push((filter, opts));
            }
        }
        let mut msgs = Vec::with_capacity(s.msgs.len());
        for m in s.msgs.values() {
            if let Record::MsgPut { from, publish, .. } = read(m.put)? {
                msgs.push(RecoveredMessage {
                    from,
                    publish,
                    packet_id: m.packet_id,
                    released: m.released.is_some(),
                });
            }
        }
        out.sessions.push(RecoveredSession {
            client_id: client_id.clone(),
            meta: *meta,
            subs,
            msgs,
        });
    }
    Ok(out)
}

/// Writes the whole buffer as one batch (the caller holds the device).
/// A failed write puts the buffer back in front, to be written again.
fn write_pending(shared: &Shared, device: &mut dyn LogDevice) -> std::io::Result<()> {
    let mut g = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
    if g.buf.is_empty() {
        return Ok(());
    }
    let buf = std::mem::take(&mut g.buf);
    let batch = g.batch;
    g.batch += 1;
    drop(g);
    match device.append(&buf) {
        Ok(()) => {
            shared
                .inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unsynced = true;
            shared.healthy.store(true, Ordering::Relaxed);
            shared.written.send_replace(batch);
            Ok(())
        }
        Err(e) => {
            // The device undid a partial write.
            let mut g = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
            let mut back = buf;
            back.extend_from_slice(&g.buf);
            g.buf = back;
            g.stats.write_errors += 1;
            drop(g);
            if shared.healthy.swap(false, Ordering::Relaxed) {
                log::warn!(target: "rmqtt_js::persistence", "{}: write failed, publishes are refused until it works again: {e}", shared.name);
            }
            Err(e)
        }
    }
}

fn writer_loop(shared: Arc<Shared>) {
    let opts = shared.opts;
    let mut last_sync = Instant::now();
    let mut last_clock = Instant::now() - CLOCK_EVERY;
    let mut retry_at: Option<Instant> = None;
    loop {
        let mut g = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
        // With inline writes: the batch that was pending at the last look.
        let mut pending_seen: Option<u64> = None;
        // Wait for something to do.
        loop {
            let now = Instant::now();
            if now >= last_clock + CLOCK_EVERY && !g.closing {
                last_clock = now;
                let payload = Record::Clock {
                    millis: now_millis(),
                }
                .encode();
                let len = (FRAME_OVERHEAD + payload.len()) as u64;
                frame::push(&mut g.buf, &payload);
                g.len += len;
            }
            let can_write = retry_at.is_none_or(|t| now >= t);
            let pending = !g.buf.is_empty() && can_write;
            // Inline: only what no caller wrote for a LINGER.
            let stale = !shared.inline || pending_seen == Some(g.batch);
            if g.closing || (pending && stale) {
                break;
            }
            pending_seen = pending.then_some(g.batch);
            if g.unsynced && now >= last_sync + opts.sync_interval {
                break;
            }
            let mut until = last_clock + CLOCK_EVERY;
            if g.unsynced {
                until = until.min(last_sync + opts.sync_interval);
            }
            if let Some(t) = retry_at {
                until = until.min(t);
            }
            if pending {
                until = until.min(now + LINGER);
            }
            let wait = until
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            g.writer_waiting = true;
            g = shared
                .wake
                .wait_timeout(g, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
            g.writer_waiting = false;
        }
        let closing = g.closing;
        drop(g);
        let mut device = shared.device.lock().unwrap_or_else(|p| p.into_inner());
        if retry_at.is_none_or(|t| Instant::now() >= t) {
            match write_pending(&shared, device.as_mut()) {
                Ok(()) => {
                    if retry_at.take().is_some() {
                        log::warn!(target: "rmqtt_js::persistence", "{}: writing again", shared.name);
                    }
                }
                Err(_) => retry_at = Some(Instant::now() + RETRY_AFTER),
            }
        }
        let due = {
            let mut g = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
            let due = g.unsynced && (closing || Instant::now() >= last_sync + opts.sync_interval);
            if due {
                g.unsynced = false;
            }
            due
        };
        if due {
            // Appends go on while the data is synced, through a handle of its own.
            let synced = match device.sync_handle() {
                Ok(Some(handle)) => {
                    drop(device);
                    let r = handle.sync_data();
                    device = shared.device.lock().unwrap_or_else(|p| p.into_inner());
                    r
                }
                Ok(None) => device.sync(),
                Err(e) => Err(e),
            };
            if let Err(e) = synced {
                log::warn!(target: "rmqtt_js::persistence", "{}: sync failed: {e}", shared.name);
            }
            last_sync = Instant::now();
        }
        if closing {
            return;
        }
        if retry_at.is_none() {
            if let Err(e) = maybe_compact(&shared, device.as_mut()) {
                log::warn!(target: "rmqtt_js::persistence", "{}: compaction failed (the log stays as it is): {e}", shared.name);
            }
        }
    }
}

/// Rewrites the log with only its live records once garbage dominates it.
/// Appenders wait on the lock meanwhile.
fn maybe_compact(shared: &Shared, device: &mut dyn LogDevice) -> std::io::Result<()> {
    let mut g = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
    let min = shared.opts.compact_min_bytes.max(HEADER_LEN + 1);
    if g.len < min || g.len < 2 * g.index.live + HEADER_LEN {
        return Ok(());
    }
    if !g.buf.is_empty() {
        // Under steady load the buffer is never empty for long: write it
        // now, under the lock, so that the log is whole.
        let buf = std::mem::take(&mut g.buf);
        let batch = g.batch;
        g.batch += 1;
        if let Err(e) = device.append(&buf) {
            let mut back = buf;
            back.extend_from_slice(&g.buf);
            g.buf = back;
            return Err(e);
        }
        shared.written.send_replace(batch);
    }
    let started = Instant::now();
    let old_len = g.len;
    let old = device.read_all()?;
    if old.len() as u64 != old_len {
        return Err(std::io::Error::other(format!(
            "the log is {} bytes where {old_len} were written",
            old.len()
        )));
    }
    let mut locs = g.index.live_locs();
    locs.sort_by_key(|l| l.offset);
    let mut out = Vec::with_capacity(g.index.live as usize + 64);
    out.extend_from_slice(MAGIC);
    let mut moved: HashMap<u64, u64> =
        HashMap::with_capacity_and_hasher(locs.len(), Default::default());
    for loc in &locs {
        moved.insert(loc.offset, out.len() as u64);
        let (a, b) = (loc.offset as usize, loc.offset as usize + loc.len as usize);
        out.extend_from_slice(&old[a..b]);
    }
    drop(old);
    // The QoS 2 receive state, whole (its recipients came from records that
    // may be gone).
    let mut qos2_locs: Vec<(String, u16, Loc)> = Vec::new();
    for (client_id, s) in &g.index.sessions {
        for (packet_id, e) in &s.in_qos2 {
            let rec = Record::InQos2 {
                client_id: client_id.clone(),
                packet_id: *packet_id,
                digest: e.digest,
                committed: e.committed,
                recipients: e.recipients.iter().cloned().collect(),
            }
            .encode();
            let loc = Loc {
                offset: out.len() as u64,
                len: (FRAME_OVERHEAD + rec.len()) as u32,
            };
            frame::push(&mut out, &rec);
            qos2_locs.push((client_id.clone(), *packet_id, loc));
        }
    }
    let clock = Record::Clock {
        millis: now_millis(),
    }
    .encode();
    frame::push(&mut out, &clock);
    device.replace(&out)?;
    // Only now that the new log is in place does the index move to it.
    let idx = &mut g.index;
    idx.relocate(&moved);
    for (client_id, packet_id, loc) in qos2_locs {
        if let Some(e) = idx
            .sessions
            .get_mut(&client_id)
            .and_then(|s| s.in_qos2.get_mut(&packet_id))
        {
            idx.live = idx.live + loc.len as u64 - e.loc.len as u64;
            e.loc = loc;
        }
    }
    g.len = out.len() as u64;
    g.stats.compactions += 1;
    log::info!(
        target: "rmqtt_js::persistence",
        "{}: compacted {old_len} bytes to {} in {:?}",
        shared.name,
        out.len(),
        started.elapsed()
    );
    Ok(())
}
