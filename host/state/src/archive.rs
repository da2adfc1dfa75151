//! The raw archive: with `archive_days` on a mailbox, the raw `.eml` of every
//! message it fetches is kept for that many days in the state folder's
//! `archive/NAME/`, named by its SHA-256, so a candidate mapper can be tried
//! on real traffic (`popline replay --archive NAME`).
//!
//! Files are written to a temporary name and renamed into place, so a reader
//! never sees a partial message. They are not fsynced: the archive is a
//! debugging aid, not part of the delivery guarantee, and a reader checks
//! every file against the digest in its name ([`read_verified`]). Each poll
//! prunes files older than the retention, by modification time.
//!
//! Ingestion hands messages to a writer thread through a bounded queue
//! ([`Archive::keep`]) instead of waiting for each file: creating files while
//! the state database and sinks fsync is slow on journalling filesystems, and
//! the poll need not wait for it. Dropping the last handle of an archive
//! waits for the queue to drain.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use popline_core::spool::Spooled;

/// One mailbox's archive folder and how long it keeps messages.
#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
    keep: Duration,
    writer: Arc<Writer>,
}

/// Messages queued for the writer thread (started on first use).
const QUEUE: usize = 64;

/// A message waiting to be archived, and whose it is (for the log).
struct Job {
    mailbox: String,
    uid: String,
    /// Shared with the pipeline, not copied: a spooled message stays a
    /// mapped file.
    raw: Arc<Spooled>,
}

/// The writer thread and its queue; dropping it drains the queue.
#[derive(Debug, Default)]
struct Writer {
    tx: Mutex<Option<tokio::sync::mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Writer {
    /// The queue into the writer thread for `dir`, starting it if needed.
    fn sender(&self, dir: &Path) -> std::io::Result<tokio::sync::mpsc::Sender<Job>> {
        let mut tx = self.tx.lock().unwrap();
        if let Some(tx) = &*tx {
            return Ok(tx.clone());
        }
        let (send, mut recv) = tokio::sync::mpsc::channel::<Job>(QUEUE);
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("popline-archive".into())
            .spawn(move || {
                while let Some(job) = recv.blocking_recv() {
                    if let Err(e) = store_in(&dir, &job.raw) {
                        tracing::warn!(mailbox = %job.mailbox, uid = %job.uid,
                            "raw archive: {e:#}; the message was processed anyway");
                    }
                }
            })?;
        *self.thread.lock().unwrap() = Some(thread);
        *tx = Some(send.clone());
        Ok(send)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written the rest.
        self.tx.get_mut().unwrap().take();
        if let Some(t) = self.thread.get_mut().unwrap().take() {
            let _ = t.join();
        }
    }
}

/// One archived message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The `.eml` file.
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of its bytes (the file stem).
    pub sha256: String,
    /// When it was archived.
    pub archived: SystemTime,
}

impl Archive {
    /// An archive in `dir` keeping messages for `keep`.
    pub fn new(dir: PathBuf, keep: Duration) -> Archive {
        Archive {
            dir,
            keep,
            writer: Arc::default(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Archive one raw message (blocking). Idempotent: a message already
    /// archived is left as it is. Returns the file.
    pub fn store(&self, raw: &[u8]) -> anyhow::Result<PathBuf> {
        store_in(&self.dir, raw)
    }

    /// Queue one raw message for the writer thread; waits only while the
    /// queue is full. A failure is logged, not returned: the archive never
    /// holds up ingestion.
    pub async fn keep(&self, mailbox: &str, uid: &str, raw: Arc<Spooled>) {
        let job = Job {
            mailbox: mailbox.to_string(),
            uid: uid.to_string(),
            raw,
        };
        let sent = match self.writer.sender(&self.dir) {
            Ok(tx) => tx
                .send(job)
                .await
                .map_err(|_| "the writer stopped".to_string()),
            Err(e) => Err(format!("cannot start the writer thread: {e}")),
        };
        if let Err(e) = sent {
            tracing::warn!(
                mailbox,
                uid,
                "raw archive: {e}; the message is processed anyway"
            );
        }
    }

    /// Delete archived messages older than the retention (and temporary files
    /// left by a crash); returns how many messages were removed.
    pub fn prune_at(&self, now: SystemTime) -> anyhow::Result<usize> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", self.dir.display()));
            }
        };
        let mut removed = 0;
        for entry in rd {
            let entry = entry.with_context(|| format!("reading {}", self.dir.display()))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_tmp = name.starts_with('.') && name.ends_with(".tmp");
            if !(is_tmp || name.ends_with(".eml")) {
                continue;
            }
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let age = now.duration_since(modified).unwrap_or_default();
            let limit = if is_tmp {
                Duration::from_secs(3600)
            } else {
                self.keep
            };
            if age > limit {
                std::fs::remove_file(&path)
                    .with_context(|| format!("pruning {}", path.display()))?;
                removed += usize::from(!is_tmp);
            }
        }
        Ok(removed)
    }

    /// [`Self::prune_at`] now, off the async runtime; failures are logged.
    pub async fn prune(&self, mailbox: &str) {
        let archive = self.clone();
        match tokio::task::spawn_blocking(move || archive.prune_at(SystemTime::now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(mailbox, removed = n, "raw archive pruned"),
            Ok(Err(e)) => tracing::warn!(mailbox, "raw archive: {e:#}"),
            Err(e) => tracing::warn!(mailbox, "raw archive: {e}"),
        }
    }
}

/// Archive `raw` in `dir` by its digest (blocking); idempotent.
fn store_in(dir: &Path, raw: &[u8]) -> anyhow::Result<PathBuf> {
    let sha = popline_core::digest::sha256_hex(raw);
    let path = dir.join(format!("{sha}.eml"));
    if path.exists() {
        return Ok(path);
    }
    create_private_dir(dir)
        .with_context(|| format!("creating archive folder {}", dir.display()))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{sha}.{}-{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = private_file(&tmp)?;
        f.write_all(raw)?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("archiving to {}", path.display()));
    }
    Ok(path)
}

/// Every archived message in `dir`, oldest first (then by digest).
pub fn list(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let Some(sha) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".eml"))
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            continue;
        };
        let archived = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        out.push(Entry {
            sha256: sha.to_string(),
            path,
            archived,
        });
    }
    out.sort_by(|a, b| (a.archived, &a.sha256).cmp(&(b.archived, &b.sha256)));
    Ok(out)
}

/// The bytes of an archived message, checked against the digest in its name.
pub fn read_verified(entry: &Entry) -> anyhow::Result<Vec<u8>> {
    let raw =
        std::fs::read(&entry.path).with_context(|| format!("reading {}", entry.path.display()))?;
    let actual = popline_core::digest::sha256_hex(&raw);
    if actual != entry.sha256 {
        anyhow::bail!(
            "{} is damaged: its SHA-256 is {actual}, not the one in its name (a crash while archiving?); delete it",
            entry.path.display()
        );
    }
    Ok(raw)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Duration {
        Duration::from_secs(86_400)
    }

    #[test]
    fn stores_by_digest_once_and_reads_back_verified() {
        let d = tempfile::tempdir().unwrap();
        let a = Archive::new(d.path().join("archive/beta"), day());
        let p1 = a.store(b"Subject: one\r\n\r\nbody\r\n").unwrap();
        let p2 = a.store(b"Subject: one\r\n\r\nbody\r\n").unwrap();
        assert_eq!(p1, p2);
        a.store(b"Subject: two\r\n\r\nbody\r\n").unwrap();
        let all = list(a.dir()).unwrap();
        assert_eq!(all.len(), 2);
        let sha = popline_core::digest::sha256_hex(b"Subject: one\r\n\r\nbody\r\n");
        let one = all.iter().find(|e| e.sha256 == sha).unwrap();
        assert_eq!(one.path, p1);
        assert_eq!(
            read_verified(one).unwrap(),
            b"Subject: one\r\n\r\nbody\r\n".to_vec()
        );
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(a.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".eml")), "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p1).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "archived mail must be private: {mode:o}");
        }
        // A damaged file is refused with what to do.
        std::fs::write(&p1, b"torn").unwrap();
        let err = format!("{:#}", read_verified(one).unwrap_err());
        assert!(
            err.contains("is damaged") && err.contains("delete it"),
            "{err}"
        );
    }

    #[test]
    fn queued_messages_are_all_written_when_the_archive_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let a = Archive::new(d.path().join("beta"), day());
        let copy = a.clone();
        rt.block_on(async {
            // More than the queue holds, so sending also waits on the writer.
            for i in 0..(QUEUE + 10) {
                let raw = Spooled::Memory(format!("message {i}").into_bytes());
                a.keep("beta", &format!("uid-{i}"), Arc::new(raw)).await;
            }
        });
        drop(a);
        // Another handle still shares the writer: nothing is lost either way.
        drop(copy);
        assert_eq!(list(&d.path().join("beta")).unwrap().len(), QUEUE + 10);
    }

    #[test]
    fn prunes_what_is_older_than_the_retention() {
        let d = tempfile::tempdir().unwrap();
        let a = Archive::new(d.path().to_path_buf(), 2 * day());
        a.store(b"old").unwrap();
        std::fs::write(d.path().join("notes.txt"), "kept").unwrap();
        let now = SystemTime::now();
        assert_eq!(a.prune_at(now + day()).unwrap(), 0);
        assert_eq!(list(d.path()).unwrap().len(), 1);
        assert_eq!(a.prune_at(now + 3 * day()).unwrap(), 1);
        assert!(list(d.path()).unwrap().is_empty());
        assert!(d.path().join("notes.txt").exists());
        // A missing folder is an empty archive.
        let none = Archive::new(d.path().join("missing"), day());
        assert_eq!(none.prune_at(now).unwrap(), 0);
    }
}
