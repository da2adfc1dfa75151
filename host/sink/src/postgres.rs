//! The `postgres` sink: records in a `feedback` table keyed by their
//! idempotency key (`ON CONFLICT DO NOTHING`), attachment bytes in an
//! `attachments` table keyed by SHA-256, one transaction per batch.
//!
//! The tables belong to the PostgreSQL schema history in
//! [`popline_state::postgres`], so the database may be the fleet's state
//! database. The sink's transaction is its own: the state commit follows it
//! (sinks first, then state, as for every sink), and a replay after a crash
//! between the two inserts nothing twice.

use deadpool_postgres::Pool;

use super::{Blobs, SinkError, record_json};
use popline_core::record::FeedbackRecord;

/// Inserts records into the `feedback` table of a PostgreSQL database.
pub struct PostgresSink {
    name: String,
    pool: Pool,
    store_attachments: bool,
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
        let unavailable = |e: &dyn std::fmt::Display| SinkError::Unavailable {
            sink: self.name.clone(),
            what: format!("PostgreSQL: {e}"),
        };
        let mut client = popline_state::postgres::checkout(&self.pool)
            .await
            .map_err(|e| unavailable(&format!("{e:#}")))?;
        let tx = client.transaction().await.map_err(|e| unavailable(&e))?;
        if self.store_attachments {
            for a in records.iter().flat_map(|r| &r.attachments) {
                let Some(bytes) = blobs.get(&a.sha256) else {
                    continue;
                };
                tx.execute(
                    "INSERT INTO attachments (sha256, content_type, size, data)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&a.sha256, &a.content_type, &(bytes.len() as i64), &bytes],
                )
                .await
                .map_err(|e| unavailable(&e))?;
            }
        }
        let mut inserted = 0;
        for r in records {
            inserted += tx
                .execute(
                    "INSERT INTO feedback (id, pipeline, mailbox, uid, target, kind,
                         author_address, author_name, subject, body_text, received_at,
                         match_method, match_value, record)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &r.id,
                        &r.pipeline,
                        &r.mailbox,
                        &r.uid,
                        &r.target,
                        &r.kind,
                        &r.author.address,
                        &r.author.name,
                        &r.subject,
                        &r.body_text,
                        &r.received_at,
                        &r.match_.as_ref().map(|m| m.method.as_str()),
                        &r.match_.as_ref().map(|m| m.value.as_str()),
                        &record_json(r),
                    ],
                )
                .await
                .map_err(|e| unavailable(&e))?;
        }
        tx.commit().await.map_err(|e| unavailable(&e))?;
        tracing::debug!(sink = %self.name, inserted, skipped = records.len() as u64 - inserted, "postgres batch stored");
        Ok(())
    }
}
