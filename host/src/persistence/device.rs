//! Where a store's log lives. The store's logic (framing, index, group
//! commit, compaction) is the same for every device; a device only reads the
//! whole log back, appends, syncs, cuts, and swaps in a compacted log.
//! [`FileDevice`] is the embedded default (`<dir>/store.log`); a Redis list is
//! the other (see `redis_device`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One store's log.
pub trait LogDevice: Send + 'static {
    /// The whole log (empty when new).
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Appends one batch of framed records, whole or not at all.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Cuts the log to `len` bytes (a torn tail, a partial append).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes what is appended survive a power loss.
    fn sync(&mut self) -> io::Result<()>;
    /// A handle that syncs the log without the device (so that appends go on
    /// while an `fdatasync` takes its time); `None`: call [`LogDevice::sync`].
    fn sync_handle(&mut self) -> io::Result<Option<File>> {
        Ok(None)
    }
    /// Replaces the whole log with `content`, atomically.
    fn replace(&mut self, content: &[u8]) -> io::Result<()>;
    /// What to call it in messages.
    fn describe(&self) -> String;
    /// Whether an append is quick enough (a `write(2)` into the page cache)
    /// for a caller awaiting durability to do it itself on its own thread,
    /// instead of handing it to the writer thread. A network device says no.
    fn inline_writes(&self) -> bool {
        true
    }
}

/// `store.log` in a directory.
pub struct FileDevice {
    path: PathBuf,
    /// The open log and its length.
    file: Option<(File, u64)>,
}

impl FileDevice {
    pub fn new(path: &Path) -> FileDevice {
        FileDevice {
            path: path.to_path_buf(),
            file: None,
        }
    }

    fn file(&mut self) -> io::Result<&mut (File, u64)> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let len = f.metadata()?.len();
            self.file = Some((f, len));
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

impl LogDevice for FileDevice {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        match std::fs::read(&self.path) {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let (f, len) = self.file()?;
        if let Err(e) = f.write_all(bytes) {
            // Undo a partial write, so that the next append follows a whole
            // record; if even that fails, the length is read again next time.
            if f.set_len(*len).is_err() {
                self.file = None;
            }
            return Err(e);
        }
        *len += bytes.len() as u64;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let (f, l) = self.file()?;
        f.set_len(len)?;
        *l = len;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file()?.0.sync_data()
    }

    fn sync_handle(&mut self) -> io::Result<Option<File>> {
        self.file()?.0.try_clone().map(Some)
    }

    fn replace(&mut self, content: &[u8]) -> io::Result<()> {
        let tmp = self.path.with_extension("log.compacting");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(content)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = None;
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
