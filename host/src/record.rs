//! The feedback record: the JSON document every sink receives.
//!
//! Versioned by `schema`; `schema/feedback-record.v1.json` in the repository
//! is its JSON Schema. Fields are only ever added within a version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mime::ParsedEmail;
use crate::plugin::mapper::wit;

/// The `schema` value of records this host writes.
pub const SCHEMA: &str = "popline.feedback/1";

/// One feedback record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Idempotency key: stable for the same message, pipeline and record
    /// index, so a replay after a crash is recognised downstream.
    pub id: String,
    /// The pipeline (mailbox name in the configuration).
    pub pipeline: String,
    /// The mailbox address.
    pub mailbox: String,
    /// The server's unique id for the message, when ingested over POP3.
    pub uid: Option<String>,
    /// SHA-256 of the raw message.
    pub message_sha256: String,
    /// Message-ID of the reply.
    pub source_message_id: Option<String>,
    /// Position of this record among those the message produced.
    pub index: u32,
    /// The feedback item, when matched.
    pub target: Option<String>,
    /// `reply` or `new`.
    pub kind: String,
    pub author: Author,
    pub subject: Option<String>,
    /// The clean reply text.
    pub body_text: String,
    pub body_html: Option<String>,
    /// What the mapper trimmed away (quotes, signatures).
    pub elided_text: Option<String>,
    pub attachments: Vec<AttachmentRef>,
    /// RFC 3339.
    pub received_at: String,
    /// How the record was matched to its target.
    #[serde(rename = "match")]
    pub match_: Option<Match>,
    pub fields: BTreeMap<String, String>,
    /// The mapper plugin that produced the record.
    pub mapper: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub name: Option<String>,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub file_name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub method: String,
    pub value: String,
}

/// Build the records for one mapped message.
pub fn build(
    parsed: &ParsedEmail,
    ctx: &wit::Context,
    mapper: &str,
    feedback: Vec<wit::Feedback>,
) -> Vec<FeedbackRecord> {
    feedback
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let index = i as u32;
            FeedbackRecord {
                schema: SCHEMA.to_string(),
                id: idempotency_key(&ctx.pipeline, &parsed.sha256, index),
                pipeline: ctx.pipeline.clone(),
                mailbox: ctx.mailbox.clone(),
                uid: (!ctx.uid.is_empty()).then(|| ctx.uid.clone()),
                message_sha256: parsed.sha256.clone(),
                source_message_id: f
                    .source_message_id
                    .or_else(|| parsed.email.message_id.clone()),
                index,
                target: f.target,
                kind: match f.kind {
                    wit::FeedbackKind::Reply => "reply",
                    wit::FeedbackKind::New => "new",
                }
                .to_string(),
                author: Author {
                    name: f.author.name,
                    address: f.author.address,
                },
                subject: f.subject,
                body_text: f.body_text,
                body_html: f.body_html,
                elided_text: f.elided_text,
                attachments: f
                    .attachments
                    .iter()
                    .filter_map(|&a| parsed.email.attachments.get(a as usize))
                    .map(|a| AttachmentRef {
                        file_name: a.file_name.clone(),
                        content_type: a.content_type.clone(),
                        size: a.size,
                        sha256: a.sha256.clone(),
                        content_id: a.content_id.clone(),
                        inline: a.inline,
                    })
                    .collect(),
                received_at: f.received_at.unwrap_or_else(|| ctx.received_at.clone()),
                match_: f.match_.map(|m| Match {
                    method: m.method,
                    value: m.value,
                }),
                fields: f.fields.into_iter().collect(),
                mapper: mapper.to_string(),
            }
        })
        .collect()
}

/// `sha256("popline/1" 0 pipeline 0 message-sha256 0 index)`, first 32 hex digits.
///
/// Content-derived rather than UIDL-derived, so a server with unstable unique
/// ids still yields the same key for the same message.
pub fn idempotency_key(pipeline: &str, message_sha256: &str, index: u32) -> String {
    let mut h = Sha256::new();
    for part in [
        b"popline/1".as_slice(),
        pipeline.as_bytes(),
        message_sha256.as_bytes(),
    ] {
        h.update(part);
        h.update([0]);
    }
    h.update(index.to_be_bytes());
    hex::encode(&h.finalize()[..16])
}
