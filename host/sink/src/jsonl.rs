//! The `jsonl` sink: one JSON record per line, appended and fsynced per batch.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;

use super::{Blobs, SinkError, blocking};
use popline_core::record::FeedbackRecord;

/// Appends records to a JSON Lines file.
pub struct JsonlSink {
    name: String,
    // The file work runs in `spawn_blocking`, which needs owned ('static)
    // state; the mutex is never contended (one writer per sink).
    file: Arc<Mutex<JsonlFile>>,
}

impl JsonlSink {
    /// Open (creating it and its folders if missing) the file at `path` and
    /// load the ids it holds, cutting off an incomplete last line.
    pub(super) async fn open(
        name: &str,
        path: PathBuf,
        attachments_dir: Option<PathBuf>,
    ) -> Result<JsonlSink, SinkError> {
        let sink = name.to_string();
        let file = blocking(name, move || JsonlFile::open(sink, path, attachments_dir)).await?;
        Ok(JsonlSink {
            name: name.to_string(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Append the records whose ids the file does not hold yet, after
    /// storing their attachments; one fsync for the lines.
    pub(super) async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        let mut lines = Vec::with_capacity(records.len());
        for r in records {
            let shas = r.attachments.iter().map(|a| a.sha256.clone()).collect();
            lines.push(Line {
                id: r.id.clone(),
                json: r.to_json(),
                attachments: shas,
            });
        }
        let file = self.file.clone();
        let blobs = blobs.clone();
        let written = blocking(&self.name, move || {
            // A panic mid-append poisons the lock; `append` re-checks the
            // file against what it believes, so the state is still usable.
            file.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(lines, &blobs)
        })
        .await?;
        tracing::debug!(sink = %self.name, written, skipped = records.len() - written, "jsonl batch stored");
        Ok(())
    }
}

/// One record to append.
struct Line {
    id: String,
    json: String,
    /// SHA-256 of each attachment it references.
    attachments: Vec<String>,
}

/// Only the `id` of a stored line matters when loading.
#[derive(Deserialize)]
struct StoredId {
    id: String,
}

/// Reads and writes of the file go through a buffer this large: records run
/// to megabytes, and std's 8 KiB made loading about a sixth slower.
const BUFFER: usize = 256 * 1024;

struct JsonlFile {
    sink: String,
    path: PathBuf,
    file: File,
    /// Bytes of whole lines: where the next append lands.
    len: u64,
    /// Ids of the records in the file.
    ids: Ids,
    /// Where attachment bytes go, when they are stored.
    attachments_dir: Option<PathBuf>,
}

impl JsonlFile {
    fn open(
        sink: String,
        path: PathBuf,
        attachments_dir: Option<PathBuf>,
    ) -> Result<JsonlFile, SinkError> {
        let fail = |op, path: &Path| io_error(&sink, op, path);
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(fail("creating the folder", &parent))?;
        if let Some(dir) = &attachments_dir {
            std::fs::create_dir_all(dir).map_err(fail("creating the attachment folder", dir))?;
        }
        let existed = path.try_exists().map_err(fail("checking for", &path))?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(fail("opening", &path))?;
        if !file.metadata().map_err(fail("checking", &path))?.is_file() {
            return Err(fail("opening", &path)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        if !existed {
            // The new file's directory entry must be durable too, or a power
            // loss could lose the whole file after a batch was acknowledged.
            File::open(&parent)
                .and_then(|d| d.sync_all())
                .map_err(fail("flushing the folder", &parent))?;
        }
        let mut f = JsonlFile {
            sink,
            path,
            file,
            len: 0,
            ids: Ids::default(),
            attachments_dir,
        };
        f.load()?;
        Ok(f)
    }

    fn io_err(&self, op: &'static str) -> impl FnOnce(io::Error) -> SinkError + use<> {
        io_error(&self.sink, op, &self.path)
    }

    /// Read every whole line's id. A trailing incomplete line (an append cut
    /// short by a crash or a full disk; it was never acknowledged) is
    /// truncated, so the next append starts on a line boundary.
    fn load(&mut self) -> Result<(), SinkError> {
        self.ids.clear();
        (&self.file)
            .seek(SeekFrom::Start(0))
            .map_err(self.io_err("reading"))?;
        let mut reader = BufReader::with_capacity(BUFFER, &self.file);
        let mut line = Vec::new();
        let (mut whole, mut total, mut number) = (0u64, 0u64, 0u64);
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(self.io_err("reading"))?;
            total += n as u64;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            whole = total;
            number += 1;
            if line.trim_ascii().is_empty() {
                continue;
            }
            let stored: StoredId =
                serde_json::from_slice(&line).map_err(|error| SinkError::Corrupt {
                    sink: self.sink.clone(),
                    path: self.path.clone(),
                    line: number,
                    error,
                })?;
            self.ids.insert(&stored.id);
        }
        if total > whole {
            tracing::warn!(
                sink = %self.sink,
                path = %self.path.display(),
                bytes = total - whole,
                "removing an incomplete last line (a write cut short by a crash or a full disk; \
                 its batch was never acknowledged and will be replayed)"
            );
            self.file
                .set_len(whole)
                .map_err(self.io_err("truncating the incomplete last line of"))?;
            self.file
                .sync_data()
                .map_err(self.io_err("flushing to disk"))?;
        }
        self.len = whole;
        Ok(())
    }

    /// Append `(id, json)` lines whose id is new, then fsync once. Returns
    /// how many were written.
    fn append(&mut self, lines: Vec<Line>, blobs: &Blobs) -> Result<usize, SinkError> {
        let actual = self.file.metadata().map_err(self.io_err("checking"))?.len();
        if actual != self.len {
            // Another writer, or a failed append that could not be cut
            // back: re-read rather than trust the ids in memory.
            tracing::warn!(
                sink = %self.sink,
                path = %self.path.display(),
                expected = self.len,
                actual,
                "the file changed size outside this sink; re-reading it"
            );
            self.load()?;
        }
        // Ids join `self.ids` only once their lines are on disk.
        let mut fresh = Ids::default();
        let new_lines: Vec<Line> = lines
            .into_iter()
            .filter(|l| !self.ids.contains(&l.id) && fresh.insert(&l.id))
            .collect();
        if new_lines.is_empty() {
            return Ok(0);
        }
        // The bytes first: a record on disk never points at a missing file,
        // and bytes missing from `blobs` fail the batch before any line.
        if let Some(dir) = &self.attachments_dir {
            store_blobs(&self.sink, dir, &new_lines, blobs)?;
        }
        let result = write_lines(&self.file, &new_lines)
            .map_err(self.io_err("appending to"))
            .and_then(|bytes| {
                self.file
                    .sync_data()
                    .map(|()| bytes)
                    .map_err(self.io_err("flushing to disk"))
            });
        match result {
            Ok(bytes) => self.len += bytes,
            Err(e) => {
                // Cut a partial append back to the last whole line. Should
                // that fail too, the size check above re-reads the file next
                // time.
                if let Err(t) = self.file.set_len(self.len) {
                    tracing::warn!(sink = %self.sink, path = %self.path.display(),
                        "could not remove a partial append: {t}");
                }
                return Err(e);
            }
        }
        self.ids.extend(fresh);
        Ok(new_lines.len())
    }
}

/// A set of record ids, compact for the ids this host writes.
///
/// The set holds every id in the file, so it grows with the file: an id of
/// 32 lowercase hex digits (every `idempotency_key`) is kept as its 128-bit
/// value, about a quarter of the memory of the string; any other id (a line
/// another tool wrote) as the string. Lowercase only, so that no two
/// different strings share a number.
#[derive(Default)]
struct Ids {
    keys: HashSet<u128>,
    other: HashSet<String>,
}

impl Ids {
    fn key(id: &str) -> Option<u128> {
        let hex = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if hex {
            u128::from_str_radix(id, 16).ok()
        } else {
            None
        }
    }

    fn contains(&self, id: &str) -> bool {
        match Ids::key(id) {
            Some(k) => self.keys.contains(&k),
            None => self.other.contains(id),
        }
    }

    /// Adds `id`; false if it was there already.
    fn insert(&mut self, id: &str) -> bool {
        match Ids::key(id) {
            Some(k) => self.keys.insert(k),
            // Looked up first, so a repeat allocates nothing.
            None => !self.other.contains(id) && self.other.insert(id.to_string()),
        }
    }

    fn extend(&mut self, more: Ids) {
        self.keys.extend(more.keys);
        self.other.extend(more.other);
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.other.clear();
    }
}

/// Write `lines`, one JSON object and a newline each, through a small
/// buffer (a batch's records are not copied whole into a second string);
/// returns the bytes written.
fn write_lines(file: &File, lines: &[Line]) -> io::Result<u64> {
    let mut out = io::BufWriter::with_capacity(BUFFER, file);
    let mut bytes = 0;
    for line in lines {
        out.write_all(line.json.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += line.json.len() as u64 + 1;
    }
    out.flush()?;
    Ok(bytes)
}

/// Write each blob the `lines` reference to `dir/<sha256>` (temporary name,
/// fsync, rename) unless a file of that name and size is there already,
/// then fsync the folder.
fn store_blobs(sink: &str, dir: &Path, lines: &[Line], blobs: &Blobs) -> Result<(), SinkError> {
    let mut wrote = false;
    let shas = lines
        .iter()
        .flat_map(|l| l.attachments.iter().map(move |sha| (&l.id, sha)));
    for (id, sha) in shas {
        let bytes = blobs.get(sha).ok_or_else(|| SinkError::MissingAttachment {
            sink: sink.to_string(),
            id: id.clone(),
            sha256: sha.clone(),
        })?;
        let path = dir.join(sha);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == bytes.len() as u64 => continue,
            _ => {}
        }
        let tmp = dir.join(format!(".{sha}.tmp"));
        let mut f = File::create(&tmp).map_err(io_error(sink, "creating", &tmp))?;
        f.write_all(bytes)
            .map_err(io_error(sink, "writing", &tmp))?;
        f.sync_all()
            .map_err(io_error(sink, "flushing to disk", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_error(sink, "renaming into place", &path))?;
        wrote = true;
    }
    if wrote {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(sink, "flushing the folder", dir))?;
    }
    Ok(())
}

/// What turns an I/O failure of `op` on `path` into the sink's error.
fn io_error(
    sink: &str,
    op: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> SinkError + use<> {
    let (sink, path) = (sink.to_string(), path.to_path_buf());
    move |error| SinkError::Io {
        sink,
        op,
        path,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JsonlConfig;
    use crate::Sink;
    use crate::SinkConfig;
    use crate::tests::{blobs, sample};

    async fn open(dir: &Path, path: &str) -> anyhow::Result<Sink> {
        let cfg = SinkConfig::Jsonl(JsonlConfig {
            path: path.into(),
            store_attachments: true,
            attachments_dir: None,
        });
        Sink::open("feedback", &cfg, dir).await
    }

    /// Append `bytes` as another writer (or a write cut short) would.
    fn append_raw(path: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    fn read_back(path: &Path) -> Vec<FeedbackRecord> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn writes_records_that_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open(dir.path(), "out/feedback.jsonl").await.unwrap();
        assert_eq!(sink.name(), "feedback");
        let batch = [sample(0), sample(1)];
        sink.write_batch(&batch, &blobs()).await.unwrap();
        sink.write_batch(&[], &blobs()).await.unwrap();
        sink.write_batch(&[sample(2)], &blobs()).await.unwrap();
        let path = dir.path().join("out/feedback.jsonl");
        assert_eq!(read_back(&path), vec![sample(0), sample(1), sample(2)]);
        // One object per line: embedded newlines are escaped.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn the_next_append_lands_where_the_file_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let mut file = JsonlFile::open("feedback".into(), path.clone(), None).unwrap();
        // Lines larger than the write buffer, and smaller ones between.
        let line = |i: usize| Line {
            id: format!("r{i}"),
            json: format!(r#"{{"id":"r{i}","pad":"{}"}}"#, "x".repeat(i * 200_000)),
            attachments: Vec::new(),
        };
        let batches = [
            vec![line(0), line(2)],
            vec![line(2), line(1), line(1)],
            vec![],
        ];
        for (batch, new) in batches.into_iter().zip([2, 1, 0]) {
            assert_eq!(file.append(batch, &crate::Blobs::default()).unwrap(), new);
            assert_eq!(file.len, std::fs::metadata(&path).unwrap().len());
        }
        let ids: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<StoredId>(l).unwrap().id)
            .collect();
        assert_eq!(ids, ["r0", "r2", "r1"]);
    }

    #[tokio::test]
    async fn attachments_are_stored_beside_the_file_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open(dir.path(), "out/feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap();
        let sha = &sample(0).attachments[0].sha256;
        let stored = dir.path().join("out/feedback.attachments").join(sha);
        assert_eq!(
            std::fs::read(&stored).unwrap(),
            crate::tests::SAMPLE_ATTACHMENT
        );
        // One file per content, no temporary leftovers.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("out/feedback.attachments"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // Bytes missing for a new record: nothing is written.
        let err = sink
            .write_batch(&[sample(2)], &crate::Blobs::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("bytes are missing"), "{err}");
        assert_eq!(read_back(&dir.path().join("out/feedback.jsonl")).len(), 2);

        // Off: no folder at all.
        let cfg = SinkConfig::Jsonl(JsonlConfig {
            path: "plain.jsonl".into(),
            store_attachments: false,
            attachments_dir: None,
        });
        let mut sink = Sink::open("plain", &cfg, dir.path()).await.unwrap();
        sink.write_batch(&[sample(0)], &crate::Blobs::default())
            .await
            .unwrap();
        assert!(!dir.path().join("plain.attachments").exists());
    }

    #[tokio::test]
    async fn skips_ids_it_already_holds_across_reopen_and_within_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap();
        // Replay of the same batch plus one new record, twice in the batch.
        sink.write_batch(&[sample(0), sample(1), sample(2), sample(2)], &blobs())
            .await
            .unwrap();
        drop(sink);
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(1), sample(2), sample(3)], &blobs())
            .await
            .unwrap();
        let ids: Vec<u32> = read_back(&path).iter().map(|r| r.index).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
    }

    #[test]
    fn ids_keep_hex_keys_as_numbers_and_any_other_id_as_it_is() {
        let hex = "0123456789abcdef0123456789abcdef";
        // (id, kept as a number)
        let cases = [
            (hex, true),
            ("0123456789ABCDEF0123456789ABCDEF", false),
            (&hex[1..], false),
            ("0123456789abcdef0123456789abcdef0", false),
            ("0123456789abcdef0123456789abcdeg", false),
            ("+123456789abcdef0123456789abcdef", false),
            ("ticket-7", false),
            ("", false),
        ];
        let mut ids = Ids::default();
        for (id, numeric) in cases {
            assert_eq!(Ids::key(id).is_some(), numeric, "{id:?}");
            assert!(!ids.contains(id), "{id:?}");
            assert!(ids.insert(id), "{id:?}");
            assert!(!ids.insert(id), "{id:?}");
            assert!(ids.contains(id), "{id:?}");
        }
        assert_eq!((ids.keys.len(), ids.other.len()), (1, 7));
        // The number is the id's value: nothing else maps onto it.
        assert_eq!(Ids::key(hex), Some(0x0123456789abcdef0123456789abcdef));
    }

    #[tokio::test]
    async fn ids_another_tool_wrote_are_recognised_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let mut theirs = sample(5);
        theirs.id = "ticket-7".into();
        std::fs::write(&path, format!("{}\n", theirs.to_json())).unwrap();
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[theirs.clone(), sample(0)], &blobs())
            .await
            .unwrap();
        drop(sink);
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(0), theirs.clone()], &blobs())
            .await
            .unwrap();
        assert_eq!(read_back(&path), vec![theirs, sample(0)]);
    }

    #[tokio::test]
    async fn truncates_a_torn_last_line_and_appends_on_a_line_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(0)], &blobs()).await.unwrap();
        drop(sink);
        // A crash in the middle of appending sample(1).
        let torn = sample(1).to_json();
        append_raw(&path, &torn.as_bytes()[..torn.len() / 2]);

        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        // The torn record was never acknowledged: the replay writes it whole.
        sink.write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap();
        assert_eq!(read_back(&path), vec![sample(0), sample(1)]);
    }

    /// Lines longer than the read buffer (replies with big bodies) load
    /// whole: their ids are known after a reopen, and a torn line that long
    /// is cut back to the last whole one.
    #[tokio::test]
    async fn lines_longer_than_the_read_buffer_load_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let long = |i, len| FeedbackRecord {
            body_text: "x".repeat(len),
            ..sample(i)
        };
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[long(0, BUFFER + 1), long(1, 3 * BUFFER)], &blobs())
            .await
            .unwrap();
        drop(sink);
        // A crash in the middle of appending a third, spanning two buffers.
        let torn = long(2, 2 * BUFFER).to_json();
        append_raw(&path, &torn.as_bytes()[..torn.len() * 3 / 4]);

        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[long(1, 3 * BUFFER), long(2, 2 * BUFFER)], &blobs())
            .await
            .unwrap();
        assert_eq!(
            read_back(&path),
            vec![
                long(0, BUFFER + 1),
                long(1, 3 * BUFFER),
                long(2, 2 * BUFFER)
            ]
        );
    }

    #[tokio::test]
    async fn rereads_the_file_when_it_changed_underneath() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        let mut sink = open(dir.path(), "feedback.jsonl").await.unwrap();
        sink.write_batch(&[sample(0)], &blobs()).await.unwrap();
        // Another writer appends sample(1), and leaves a torn line.
        append_raw(
            &path,
            format!("{}\n{{\"id\":", sample(1).to_json()).as_bytes(),
        );
        sink.write_batch(&[sample(1), sample(2)], &blobs())
            .await
            .unwrap();
        let ids: Vec<u32> = read_back(&path).iter().map(|r| r.index).collect();
        assert_eq!(ids, [0, 1, 2]);
    }

    #[tokio::test]
    async fn a_damaged_whole_line_is_refused_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.jsonl");
        std::fs::write(&path, format!("{}\n\nnot json\n", sample(0).to_json())).unwrap();
        let err = format!(
            "{:#}",
            open(dir.path(), "feedback.jsonl").await.err().unwrap()
        );
        assert!(err.contains("line 3 of"), "{err}");
        assert!(err.contains("feedback.jsonl"), "{err}");
        assert!(err.contains("fix or remove that line"), "{err}");
    }

    #[tokio::test]
    async fn an_unwritable_location_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where a folder is needed fails even for root.
        std::fs::write(dir.path().join("file.txt"), "").unwrap();
        let err = format!(
            "{:#}",
            open(dir.path(), "file.txt/feedback.jsonl")
                .await
                .err()
                .unwrap()
        );
        assert!(
            err.starts_with("sink \"feedback\": creating the folder "),
            "{err}"
        );
        assert!(err.contains("file.txt"), "{err}");
        assert!(err.contains("fix the sink's `path`"), "{err}");

        // A read-only folder; root ignores permissions, so only where they hold.
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let enforced = File::create(ro.join("probe")).is_err();
        if enforced {
            let err = format!(
                "{:#}",
                open(dir.path(), "ro/feedback.jsonl").await.err().unwrap()
            );
            assert!(err.contains("opening"), "{err}");
            assert!(err.contains("ro/feedback.jsonl"), "{err}");
            assert!(err.contains("write access"), "{err}");
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[tokio::test]
    async fn refuses_something_that_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("feedback.jsonl")).unwrap();
        let err = format!(
            "{:#}",
            open(dir.path(), "feedback.jsonl").await.err().unwrap()
        );
        assert!(err.contains("feedback.jsonl"), "{err}");
    }
}
