//! The `sqlite` sink: records in a `feedback` table, one transaction per batch.
//!
//! The table is part of the schema in [`popline_state`], so the file may be
//! the state database itself.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Blobs, SinkError, blocking};
use popline_core::record::FeedbackRecord;

/// Inserts records into the `feedback` table of a SQLite database.
pub struct SqliteSink {
    name: String,
    path: PathBuf,
    // Owned by the blocking task while it writes; never contended.
    conn: Arc<Mutex<Connection>>,
    /// Whether attachment bytes go into the `attachments` table.
    store_attachments: bool,
}

impl SqliteSink {
    /// Open (creating and migrating it if needed) the database at `path`.
    pub(super) async fn open(
        name: &str,
        path: PathBuf,
        store_attachments: bool,
    ) -> anyhow::Result<SqliteSink> {
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || popline_state::open_database(&p))
            .await
            .context("opening the database was interrupted")?
            .with_context(|| format!("sink {name:?}"))?;
        Ok(SqliteSink {
            name: name.to_string(),
            path,
            conn: Arc::new(Mutex::new(conn)),
            store_attachments,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Insert every record whose id is new, and the attachments they
    /// reference, in one transaction.
    pub(super) async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        if self.store_attachments {
            for r in records {
                blobs.of(&self.name, r)?;
            }
        }
        let total = records.len();
        let records = records.to_vec();
        let blobs = self.store_attachments.then(|| blobs.clone());
        let conn = self.conn.clone();
        let (sink, path) = (self.name.clone(), self.path.clone());
        let inserted = blocking(&self.name, move || {
            // An unwinding transaction rolls back, so a poisoned connection
            // is still consistent.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            insert(&mut conn, &records, blobs.as_ref()).map_err(|error| SinkError::Sqlite {
                sink,
                op: "storing records in",
                path,
                error: Box::new(error),
            })
        })
        .await?;
        tracing::debug!(sink = %self.name, inserted, skipped = total - inserted, "sqlite batch stored");
        Ok(())
    }
}

fn insert(
    conn: &mut Connection,
    records: &[FeedbackRecord],
    blobs: Option<&Blobs>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut inserted = 0;
    if let Some(blobs) = blobs {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO attachments (sha256, content_type, size, data)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for a in records.iter().flat_map(|r| &r.attachments) {
            // Present: checked by the caller.
            if let Some(bytes) = blobs.get(&a.sha256) {
                stmt.execute(params![a.sha256, a.content_type, bytes.len() as i64, bytes])?;
            }
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO feedback (id, pipeline, mailbox, uid, target, kind,
                 author_address, author_name, subject, body_text, received_at,
                 match_method, match_value, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for r in records {
            inserted += stmt.execute(params![
                r.id,
                r.pipeline,
                r.mailbox,
                r.uid,
                r.target,
                r.kind,
                r.author.address,
                r.author.name,
                r.subject,
                r.body_text,
                r.received_at,
                r.match_.as_ref().map(|m| &m.method),
                r.match_.as_ref().map(|m| &m.value),
                r.to_json(),
            ])?;
        }
    }
    tx.commit()?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::Sink;
    use crate::SinkConfig;
    use crate::SqliteConfig;
    use crate::tests::{blobs, sample};
    use popline_state::{Committed, Disposition, SqliteState};

    async fn open(dir: &Path, path: &str) -> Sink {
        let cfg = SinkConfig::Sqlite(SqliteConfig {
            path: path.into(),
            store_attachments: true,
        });
        Sink::open("db", &cfg, dir).await.unwrap()
    }

    fn stored(path: &Path) -> Vec<FeedbackRecord> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT record FROM feedback ORDER BY rowid")
            .unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|json| serde_json::from_str(&json.unwrap()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn inserts_or_ignores_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/feedback.db");
        let mut sink = open(dir.path(), "data/feedback.db").await;
        assert_eq!(sink.name(), "db");
        sink.write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap();
        sink.write_batch(&[sample(1), sample(2), sample(2)], &blobs())
            .await
            .unwrap();
        drop(sink);
        let mut sink = open(dir.path(), "data/feedback.db").await;
        sink.write_batch(&[sample(0), sample(3)], &blobs())
            .await
            .unwrap();
        assert_eq!(
            stored(&path),
            vec![sample(0), sample(1), sample(2), sample(3)]
        );

        // The columns mirror the record.
        let conn = Connection::open(&path).unwrap();
        // The attachment is stored once, and joins to its records.
        let (count, data): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT count(*), a.data FROM feedback f, json_each(f.record, '$.attachments') j
                 JOIN attachments a ON a.sha256 = j.value ->> 'sha256' WHERE f.id = ?1",
                [&sample(1).id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (count, data.as_slice()),
            (1, crate::tests::SAMPLE_ATTACHMENT)
        );
        let n: i64 = conn
            .query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let row: (
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        ) = conn
            .query_row(
                "SELECT kind, target, author_address, author_name, match_method
                 FROM feedback WHERE id = ?1",
                [&sample(2).id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "reply".into(),
                Some("FB-42".into()),
                "ada@example.com".into(),
                Some("Ada Tester".into()),
                Some("subject".into())
            )
        );
    }

    #[tokio::test]
    async fn shares_a_file_with_the_state_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("popline.db");
        let mut store = SqliteState::open(&path).unwrap();
        let mut sink = open(dir.path(), "popline.db").await;
        sink.write_batch(&[sample(0)], &blobs()).await.unwrap();
        store
            .record_batch(
                "beta",
                &[Committed {
                    uid: "u1".into(),
                    message_id: None,
                    sha256: "ab".repeat(32),
                    body_sha256: None,
                    size: 10,
                    outcome: Disposition::Feedback { records: 1 },
                }],
            )
            .unwrap();
        assert_eq!(stored(&path), vec![sample(0)]);
        assert!(store.seen("beta").unwrap().contains_key("u1"));
    }

    #[tokio::test]
    async fn a_failed_batch_stores_nothing_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.db");
        let mut sink = open(dir.path(), "feedback.db").await;
        // Make the second insert fail: a trigger that rejects one id.
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TRIGGER no BEFORE INSERT ON feedback WHEN new.id = '{}'
                 BEGIN SELECT RAISE(ABORT, 'rejected by test'); END;",
                sample(1).id
            ))
            .unwrap();
        let err = sink
            .write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sink \"db\": storing records in "), "{err}");
        assert!(
            err.contains("feedback.db") && err.contains("rejected by test"),
            "{err}"
        );
        assert!(stored(&path).is_empty());
    }
}
