//! The `postgres` sink: records in a `feedback` table keyed by their
//! idempotency key (`ON CONFLICT DO NOTHING`), attachment bytes in an
//! `attachments` table keyed by SHA-256, one transaction per batch.
//!
//! The tables belong to the PostgreSQL schema history in
//! [`popline_state::postgres`], so the database may be the fleet's state
//! database. On the state's own database the records join the state's
//! commit transaction ([`PostgresSink::join_state`]), so records and
//! outcomes commit together, fenced by the mailbox's lease. Elsewhere the
//! sink's transaction is its own: the state commit follows it (sinks first,
//! then state, as for every sink), and a replay after a crash between the
//! two inserts nothing twice.

use deadpool_postgres::Pool;

use super::{Blobs, SinkError};
use popline_core::record::FeedbackRecord;
use popline_state::FeedbackRows;

/// Inserts records into the `feedback` table of a PostgreSQL database.
pub struct PostgresSink {
    name: String,
    pool: Pool,
    store_attachments: bool,
    joins_state: bool,
}

impl PostgresSink {
    /// Connect (TLS as for the state) and migrate the schema.
    pub(super) async fn open(
        name: &str,
        url: &str,
        pool_size: usize,
        ca_file: Option<&std::path::Path>,
        store_attachments: bool,
    ) -> anyhow::Result<PostgresSink> {
        let pool = popline_state::postgres::connect_pool(url, pool_size, ca_file)?;
        popline_state::postgres::migrate(&pool, popline_state::postgres::MIGRATIONS).await?;
        Ok(PostgresSink {
            name: name.to_string(),
            pool,
            store_attachments,
            joins_state: false,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this sink's records are stored in the state's commit
    /// transaction (see [`Self::join_state`]).
    pub fn joins_state(&self) -> bool {
        self.joins_state
    }

    /// Store this sink's records in the state's commit transaction instead
    /// of its own: for a sink on the state's own database, so that records
    /// and outcomes commit together under the mailbox's lease.
    pub fn join_state(&mut self) {
        self.joins_state = true;
    }

    /// The rows a batch puts in the database: its records and, with
    /// `store_attachments`, the bytes of every attachment they reference.
    pub fn rows<'a>(
        &self,
        records: &'a [FeedbackRecord],
        blobs: &'a Blobs,
    ) -> Result<FeedbackRows<'a>, SinkError> {
        let mut attachments = Vec::new();
        if self.store_attachments {
            for r in records {
                let bytes = blobs.of(&self.name, r)?;
                for (a, bytes) in r.attachments.iter().zip(bytes) {
                    attachments.push((a.sha256.as_str(), a.content_type.as_str(), bytes));
                }
            }
        }
        Ok(FeedbackRows {
            records,
            attachments,
        })
    }

    /// Insert every record whose id is new, and the attachments they
    /// reference, in one transaction.
    pub(super) async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        let rows = self.rows(records, blobs)?;
        let unavailable = |e: &dyn std::fmt::Display| SinkError::Unavailable {
            sink: self.name.clone(),
            what: format!("PostgreSQL: {e}"),
        };
        let mut client = popline_state::postgres::checkout(&self.pool)
            .await
            .map_err(|e| unavailable(&format!("{e:#}")))?;
        let tx = client.transaction().await.map_err(|e| unavailable(&e))?;
        let inserted = popline_state::postgres::insert_feedback(&tx, &rows)
            .await
            .map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        tracing::debug!(sink = %self.name, inserted, skipped = records.len() as u64 - inserted, "postgres batch stored");
        Ok(())
    }
}
