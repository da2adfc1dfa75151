//! Dead letters: messages that could not be mapped (parse failure, plugin
//! error, trap, limit, invalid output) are kept raw, with a JSON sidecar that
//! says why, before the server copy may be deleted. Nothing is lost.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Why and where a message was dead-lettered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// `PIPELINE-SHA256PREFIX`; the file stem of the `.eml` and `.json`.
    pub id: String,
    pub pipeline: String,
    pub mailbox: String,
    pub uid: String,
    pub message_id: Option<String>,
    /// SHA-256 of the raw message.
    pub sha256: String,
    /// What went wrong, as the operator should read it.
    pub reason: String,
    /// The mapper plugin (file name) and its SHA-256 (its version).
    pub plugin: String,
    pub plugin_sha256: String,
    /// RFC 3339.
    pub at: String,
}

/// The quarantine folder.
pub struct DeadLetters {
    dir: PathBuf,
}

impl DeadLetters {
    pub fn new(dir: PathBuf) -> DeadLetters {
        DeadLetters { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store raw bytes and sidecar durably (write, fsync, rename, fsync dir).
    /// Idempotent: storing the same id again overwrites it with the same data.
    pub fn store(&self, meta: &DeadLetter, raw: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating dead-letter folder {}", self.dir.display()))?;
        let json = serde_json::to_vec_pretty(meta)?;
        write_durably(&self.dir.join(format!("{}.eml", meta.id)), raw)?;
        write_durably(&self.dir.join(format!("{}.json", meta.id)), &json)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", self.dir.display()))?;
        Ok(())
    }

    /// Every dead letter, oldest first.
    pub fn list(&self) -> anyhow::Result<Vec<DeadLetter>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", self.dir.display()));
            }
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let text =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let meta: DeadLetter = serde_json::from_slice(&text)
                    .with_context(|| format!("parsing {}", path.display()))?;
                out.push(meta);
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One dead letter and its raw bytes.
    pub fn get(&self, id: &str) -> anyhow::Result<(DeadLetter, Vec<u8>)> {
        let json = self.dir.join(format!("{id}.json"));
        let text = std::fs::read(&json).with_context(|| {
            format!(
                "no dead letter {id:?} in {} (see `popline dead-letter list`)",
                self.dir.display()
            )
        })?;
        let meta =
            serde_json::from_slice(&text).with_context(|| format!("parsing {}", json.display()))?;
        let eml = self.dir.join(format!("{id}.eml"));
        let raw = std::fs::read(&eml).with_context(|| format!("reading {}", eml.display()))?;
        Ok((meta, raw))
    }

    /// Remove a dead letter after a successful retry.
    pub fn remove(&self, id: &str) -> anyhow::Result<()> {
        for ext in ["json", "eml"] {
            let p = self.dir.join(format!("{id}.{ext}"));
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
        Ok(())
    }
}

fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_list_get_remove() {
        let dir = tempfile::tempdir().unwrap();
        let dl = DeadLetters::new(dir.path().join("dl"));
        assert!(dl.list().unwrap().is_empty());
        let meta = DeadLetter {
            id: "beta-0123".into(),
            pipeline: "beta".into(),
            mailbox: "b@example.com".into(),
            uid: "u1".into(),
            message_id: None,
            sha256: "ab".into(),
            reason: "plugin x crashed".into(),
            plugin: "x".into(),
            plugin_sha256: "cd".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        dl.store(&meta, b"raw").unwrap();
        dl.store(&meta, b"raw").unwrap();
        assert_eq!(dl.list().unwrap(), vec![meta.clone()]);
        assert_eq!(dl.get("beta-0123").unwrap(), (meta, b"raw".to_vec()));
        dl.remove("beta-0123").unwrap();
        assert!(dl.list().unwrap().is_empty());
        assert!(
            dl.get("beta-0123")
                .unwrap_err()
                .to_string()
                .contains("dead-letter list")
        );
    }
}
