//! Bytes that may live in memory or on disk: raw messages and decoded
//! attachments.
//!
//! A multi-line response is collected in memory up to a threshold
//! (`spool_above_kib`); past it, everything goes to an unnamed temporary file
//! in the spool folder, which is then memory-mapped. Decoded attachments over
//! the threshold are spooled the same way once the message is parsed. The
//! kernel pages a mapped file in and out as needed, so a large message costs
//! page cache, not heap, and what a batch holds in memory is bounded by
//! configuration (batch size × threshold) rather than by what is in the
//! mailbox; parsing one message still decodes it in memory once (bounded by
//! `max_message_mib`).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// Where and above which size message bodies are spooled to disk.
#[derive(Debug, Clone)]
pub struct SpoolPolicy {
    /// Bodies larger than this many bytes go to disk.
    pub above: u64,
    /// The folder for the (unnamed, deleted-on-close) spool files.
    pub dir: PathBuf,
}

impl SpoolPolicy {
    /// Keep everything in memory (tools and tests that read small messages).
    pub fn memory_only() -> SpoolPolicy {
        SpoolPolicy {
            above: u64::MAX,
            dir: std::env::temp_dir(),
        }
    }
}

/// Bytes held in memory or in a memory-mapped spool file. Dereferences to
/// the bytes either way.
pub enum Spooled {
    /// Small enough to keep in memory.
    Memory(Vec<u8>),
    /// Spooled to an unnamed temporary file, mapped read-only.
    Disk(memmap2::Mmap),
}

impl Spooled {
    /// Whether the bytes live in a spool file.
    pub fn is_spooled(&self) -> bool {
        matches!(self, Spooled::Disk(_))
    }
}

impl Deref for Spooled {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Spooled::Memory(v) => v,
            Spooled::Disk(m) => m,
        }
    }
}

impl Spooled {
    /// `bytes` kept in memory if at most `policy.above` long (moved, not
    /// copied, when they are owned already), else copied into a spool file.
    pub fn spool(bytes: Cow<'_, [u8]>, policy: &SpoolPolicy) -> io::Result<Spooled> {
        if bytes.len() as u64 <= policy.above {
            return Ok(Spooled::Memory(bytes.into_owned()));
        }
        let mut s = Spooler::new(policy);
        s.push(&bytes)?;
        s.finish()
    }
}

impl From<Vec<u8>> for Spooled {
    fn from(v: Vec<u8>) -> Self {
        Spooled::Memory(v)
    }
}

impl std::fmt::Debug for Spooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, len) = match self {
            Spooled::Memory(v) => ("Memory", v.len()),
            Spooled::Disk(m) => ("Disk", m.len()),
        };
        write!(f, "Spooled::{kind}({len} bytes)")
    }
}

/// The first allocation of a body in memory: a typical reply fits.
const FIRST_CAPACITY: usize = 64 * 1024;

/// A growing body: memory first, a spool file once it passes the threshold.
pub struct Spooler<'p> {
    policy: &'p SpoolPolicy,
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    len: u64,
    last: Option<u8>,
}

impl<'p> Spooler<'p> {
    pub fn new(policy: &'p SpoolPolicy) -> Spooler<'p> {
        Spooler {
            policy,
            mem: Vec::new(),
            file: None,
            len: 0,
            last: None,
        }
    }

    /// Bytes collected so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was collected yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last byte collected.
    pub fn last(&self) -> Option<u8> {
        self.last
    }

    /// Append bytes, moving to disk when the threshold is passed.
    pub fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let new_len = self.len + bytes.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(bytes)?,
            None if new_len > self.policy.above => {
                let mut f = BufWriter::with_capacity(256 * 1024, create_spool(&self.policy.dir)?);
                f.write_all(&self.mem)?;
                f.write_all(bytes)?;
                self.mem = Vec::new();
                self.file = Some(f);
            }
            None => {
                if self.mem.capacity() == 0 {
                    // Most messages fit: no copies while the Vec doubles.
                    let first = (FIRST_CAPACITY as u64).min(self.policy.above) as usize;
                    self.mem.reserve(first.max(bytes.len()));
                }
                self.mem.extend_from_slice(bytes)
            }
        }
        self.len = new_len;
        self.last = bytes.last().copied();
        Ok(())
    }

    /// The collected bytes.
    pub fn finish(self) -> io::Result<Spooled> {
        match self.file {
            None => {
                let mut mem = self.mem;
                mem.shrink_to_fit();
                Ok(Spooled::Memory(mem))
            }
            Some(f) => {
                let file = f.into_inner().map_err(|e| e.into_error())?;
                // SAFETY: the file is unnamed (unlinked at creation) and only
                // this process holds it, so nobody can change it under the map.
                let map = unsafe { memmap2::Mmap::map(&file)? };
                Ok(Spooled::Disk(map))
            }
        }
    }
}

/// An unnamed temporary file in `dir` (created if missing), private to the
/// user; it disappears when closed, also after a crash.
fn create_spool(dir: &Path) -> io::Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("creating the spool folder {}: {e}", dir.display()),
        )
    })?;
    tempfile::tempfile_in(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("creating a spool file in {}: {e}", dir.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_in_memory_up_to_the_threshold_then_moves_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SpoolPolicy {
            above: 10,
            dir: dir.path().join("spool"),
        };
        let mut s = Spooler::new(&policy);
        s.push(b"0123456789").unwrap();
        let small = Spooler::new(&policy);
        assert!(!small.finish().unwrap().is_spooled());
        assert_eq!(s.len(), 10);
        s.push(b"abc").unwrap();
        s.push(b"").unwrap();
        s.push(b"def").unwrap();
        assert_eq!(s.last(), Some(b'f'));
        let raw = s.finish().unwrap();
        assert!(raw.is_spooled(), "{raw:?}");
        assert_eq!(&raw[..], b"0123456789abcdef");
        // The spool file is unnamed: nothing is left in the folder.
        assert_eq!(
            std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
            0
        );

        let mut s = Spooler::new(&policy);
        s.push(b"0123456789").unwrap();
        let raw = s.finish().unwrap();
        assert!(!raw.is_spooled());
        assert_eq!(&raw[..], b"0123456789");
    }

    #[test]
    fn spool_copies_only_what_is_over_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SpoolPolicy {
            above: 4,
            dir: dir.path().to_path_buf(),
        };
        let small = Spooled::spool(Cow::Borrowed(b"abcd"), &policy).unwrap();
        assert!(!small.is_spooled());
        let big = Spooled::spool(Cow::Borrowed(b"abcde"), &policy).unwrap();
        assert!(big.is_spooled());
        assert_eq!(&big[..], b"abcde");
    }

    /// A decoded attachment (owned) is kept as it is: a 1 MiB attachment is
    /// not copied into a second buffer.
    #[test]
    fn owned_bytes_kept_in_memory_are_moved_not_copied() {
        let owned = vec![7u8; 1 << 20];
        let at = owned.as_ptr();
        let kept = Spooled::spool(Cow::Owned(owned), &SpoolPolicy::memory_only()).unwrap();
        match kept {
            Spooled::Memory(v) => assert_eq!(v.as_ptr(), at),
            Spooled::Disk(_) => panic!("spooled to disk"),
        }
    }

    #[test]
    fn a_spool_folder_that_cannot_be_created_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let policy = SpoolPolicy {
            above: 0,
            dir: blocker.join("spool"),
        };
        let mut s = Spooler::new(&policy);
        let err = s.push(b"x").unwrap_err().to_string();
        assert!(
            err.contains("spool folder") && err.contains("file/spool"),
            "{err}"
        );
    }
}
