//! The `nats` sink: each record published to a NATS JetStream subject, its
//! idempotency key as `Nats-Msg-Id` so the stream drops a duplicate within
//! its duplicate window, and the batch acknowledged only when the stream
//! acknowledged every record (acks awaited before the state commits, so
//! nothing is deleted from the server until the stream has it).
//!
//! Attachment bytes go to a JetStream object store bucket, named by their
//! SHA-256, when `attachments_bucket` is set; records reference them either
//! way.

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::object_store::ObjectStore;

use super::{Blobs, NatsConfig, SinkError};
use popline_core::record::FeedbackRecord;

/// Publishes records to a JetStream subject.
pub struct NatsSink {
    name: String,
    js: jetstream::Context,
    subject: String,
    /// The stream to create if missing, and the attachment bucket.
    stream: Option<String>,
    bucket: Option<String>,
    ack_timeout: Duration,
    attachments: Option<ObjectStore>,
    /// Whether the stream and bucket are known to exist.
    ready: bool,
}

impl NatsSink {
    /// Set up the connection (TLS required off loopback); the stream and
    /// bucket are made sure of at the first batch.
    pub(super) async fn open(
        name: &str,
        c: &NatsConfig,
        base_dir: &Path,
    ) -> anyhow::Result<NatsSink> {
        let url = reqwest::Url::parse(&c.url)
            .map_err(|e| anyhow::anyhow!("sink {name:?}: url {:?}: {e}", c.url))?;
        let mut opts = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(10))
            .name(format!("popline sink {name}"));
        if !popline_net::url_is_loopback(&url) {
            // Records and credentials never cross the network in clear.
            opts = opts.require_tls(true);
        }
        if let Some(ca) = &c.ca_file {
            opts = opts.add_root_certificates(base_dir.join(ca));
        }
        let secret = |r: &popline_core::SecretRef, what: &str| {
            r.resolve(base_dir)
                .map(|s| s.expose().to_string())
                .map_err(|e| anyhow::anyhow!("sink {name:?}: {what}: {e}"))
        };
        if let Some(t) = &c.token {
            opts = opts.token(secret(t, "token")?);
        }
        if let (Some(user), Some(pw)) = (&c.user, &c.password) {
            opts = opts.user_and_password(user.clone(), secret(pw, "password")?);
        }
        if let Some(creds) = &c.creds_file {
            opts = opts
                .credentials_file(base_dir.join(creds))
                .await
                .map_err(|e| anyhow::anyhow!("sink {name:?}: creds_file: {e}"))?;
        }
        // Connects in the background: a stream server that is down at start
        // fails polls (nothing committed, nothing deleted), not the host.
        let client = opts
            .retry_on_initial_connect()
            .connect(c.url.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("sink {name:?}: connecting to {}: {e}", shown(&url)))?;
        Ok(NatsSink {
            name: name.to_string(),
            js: jetstream::new(client),
            subject: c.subject.clone(),
            stream: c.stream.clone(),
            bucket: c.attachments_bucket.clone(),
            ack_timeout: Duration::from_secs(c.ack_timeout_secs.max(1)),
            attachments: None,
            ready: false,
        })
    }

    /// Make sure the stream and the bucket exist (once, before the first
    /// batch that finds the server up).
    async fn ensure(&mut self) -> Result<(), String> {
        if self.ready {
            return Ok(());
        }
        let wait = |what: String| format!("{what} (is the server up?)");
        if let Some(stream) = &self.stream {
            let config = jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![self.subject.clone()],
                ..Default::default()
            };
            tokio::time::timeout(self.ack_timeout, self.js.get_or_create_stream(config))
                .await
                .map_err(|_| wait(format!("no answer about stream {stream:?}")))?
                .map_err(|e| format!("stream {stream:?}: {e}"))?;
        }
        if let Some(bucket) = &self.bucket {
            let store = match self.js.get_object_store(bucket).await {
                Ok(store) => store,
                Err(_) => self
                    .js
                    .create_object_store(jetstream::object_store::Config {
                        bucket: bucket.clone(),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| wait(format!("bucket {bucket:?}: {e}")))?,
            };
            self.attachments = Some(store);
        }
        self.ready = true;
        Ok(())
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Store the attachments, publish every record, then wait for every
    /// acknowledgement (published first, so the acks overlap).
    pub(super) async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        let sink = self.name.clone();
        let unavailable = move |what: String| SinkError::Unavailable {
            sink: sink.clone(),
            what: format!("NATS: {what}"),
        };
        self.ensure().await.map_err(&unavailable)?;
        if let Some(store) = &self.attachments {
            for r in records {
                for (a, bytes) in r.attachments.iter().zip(blobs.of(&self.name, r)?) {
                    if store.info(&a.sha256).await.is_ok() {
                        continue; // content-addressed: already there
                    }
                    let mut reader = bytes;
                    store
                        .put(a.sha256.as_str(), &mut reader)
                        .await
                        .map_err(|e| {
                            unavailable(format!("storing attachment {}: {e}", a.sha256))
                        })?;
                }
            }
        }
        let mut acks = Vec::with_capacity(records.len());
        for r in records {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", r.id.as_str());
            let ack = self
                .js
                .publish_with_headers(
                    self.subject.clone(),
                    headers,
                    r.to_json().into_bytes().into(),
                )
                .await
                .map_err(|e| unavailable(format!("publishing record {}: {e}", r.id)))?;
            acks.push((r.id.as_str(), ack));
        }
        let mut duplicates = 0;
        for (id, ack) in acks {
            let ack = tokio::time::timeout(self.ack_timeout, ack)
                .await
                .map_err(|_| {
                    unavailable(format!(
                        "no acknowledgement for record {id} within {:?}",
                        self.ack_timeout
                    ))
                })?
                .map_err(|e| unavailable(format!("record {id} not acknowledged: {e}")))?;
            duplicates += usize::from(ack.duplicate);
        }
        tracing::debug!(sink = %self.name, published = records.len(), duplicates, "nats batch acknowledged");
        Ok(())
    }
}

/// The URL without credentials.
fn shown(url: &reqwest::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or("?"),
        url.port().unwrap_or(4222)
    )
}
