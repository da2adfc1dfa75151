//! The commit: one batch's results made durable, sinks first, then state.
//! Only after it returns may any of the batch's messages be deleted.

use std::sync::Arc;

use tokio::sync::Mutex as AsyncMutex;

use popline_core::failpoint;
use popline_core::record::FeedbackRecord;
use popline_core::timing::{self, Stage};
use popline_sink::{Blobs, Sink};
use popline_state::{Committed, Joined, NewNotice, StateBackend};

use crate::error::PollError;

/// A sink shared by the pipelines that name it; one batch writes at a time.
pub type SharedSink = Arc<AsyncMutex<Sink>>;

/// Durably store one batch of pipeline `pipeline`: every sink, then the
/// state (one transaction). A crash in between replays the batch, and the
/// sinks drop records whose idempotency key they already hold. A sink on the
/// state's own database writes in the state's transaction instead, so its
/// records and the outcomes commit together (or not at all).
pub async fn commit_batch(
    sinks: &[SharedSink],
    state: &dyn StateBackend,
    pipeline: &str,
    records: &[FeedbackRecord],
    blobs: &Blobs,
    commits: Vec<Committed>,
) -> Result<(), PollError> {
    commit_batch_with_notices(sinks, state, pipeline, records, blobs, commits, Vec::new()).await
}

/// [`commit_batch`], queueing the batch's notices to testers in the same
/// state transaction as the outcomes they are about (and, with PostgreSQL
/// state, as the records of a sink on the state's database).
pub async fn commit_batch_with_notices(
    sinks: &[SharedSink],
    state: &dyn StateBackend,
    pipeline: &str,
    records: &[FeedbackRecord],
    blobs: &Blobs,
    commits: Vec<Committed>,
    notices: Vec<NewNotice>,
) -> Result<(), PollError> {
    let mut joined = None;
    for (i, sink) in sinks.iter().enumerate() {
        if i > 0 {
            failpoint::hit("between-sinks");
        }
        let mut sink = sink.lock().await;
        let name = sink.name().to_string();
        let sink_error = |error| PollError::Sink { sink: name, error };
        if let Some(rows) = sink.joined_rows(records, blobs) {
            joined = Some(rows.map_err(sink_error)?);
            continue;
        }
        timing::measure(Stage::SinkWrite, sink.write_batch(records, blobs))
            .await
            .map_err(sink_error)?;
    }
    failpoint::hit("after-sink");
    let joined = Joined {
        feedback: joined,
        notices,
    };
    timing::measure(
        Stage::StateCommit,
        state.record_batch_joined(pipeline, commits, joined),
    )
    .await
    .map_err(PollError::State)?;
    failpoint::hit("after-state");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use popline_sink::{JsonlConfig, SinkConfig};
    use popline_state::{Disposition, SqliteBackend};

    fn committed(uid: &str) -> Committed {
        Committed {
            uid: uid.into(),
            message_id: None,
            sha256: format!("{uid:0>64}"),
            body_sha256: None,
            size: 10,
            outcome: Disposition::Skipped {
                reason: "test".into(),
            },
        }
    }

    async fn jsonl(dir: &std::path::Path, path: &str) -> SharedSink {
        let cfg = SinkConfig::Jsonl(JsonlConfig {
            path: path.into(),
            store_attachments: true,
            attachments_dir: None,
        });
        Arc::new(AsyncMutex::new(Sink::open("out", &cfg, dir).await.unwrap()))
    }

    #[tokio::test]
    async fn state_is_written_only_after_every_sink() {
        let dir = tempfile::tempdir().unwrap();
        let state = SqliteBackend::open(&dir.path().join("state.db")).unwrap();
        let ok = jsonl(dir.path(), "ok.jsonl").await;
        commit_batch(
            std::slice::from_ref(&ok),
            &state,
            "p",
            &[],
            &Blobs::default(),
            vec![committed("1")],
        )
        .await
        .unwrap();
        assert!(state.seen("p").await.unwrap().contains_key("1"));

        // A record whose attachment bytes are missing fails the sink:
        // nothing of the batch is recorded in state.
        let rec: FeedbackRecord = serde_json::from_str(RECORD).unwrap();
        let err = commit_batch(
            &[ok],
            &state,
            "p",
            &[rec],
            &Blobs::default(),
            vec![committed("2")],
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Sink, "{err}");
        assert!(!state.seen("p").await.unwrap().contains_key("2"));
    }

    const RECORD: &str = r#"{"schema":"popline.feedback/1","id":"k1","pipeline":"p","mailbox":"m","uid":"2",
        "message_sha256":"00","source_message_id":null,"index":0,"target":null,"kind":"new",
        "author":{"name":null,"address":"a@b"},"subject":null,"body_text":"hi","body_html":null,
        "elided_text":null,"attachments":[{"file_name":null,"content_type":"image/png","size":3,
        "sha256":"ff","content_id":null,"inline":false}],"received_at":"2026-01-01T00:00:00Z","match":null,
        "fields":{},"mapper":"m"}"#;
}
