//! The feedback record: the JSON document every sink receives.
//!
//! Versioned by `schema`; `schema/feedback-record.v1.json` in the repository
//! is its JSON Schema. Fields are only ever added within a version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

impl FeedbackRecord {
    /// The record as one line of JSON, as every sink stores it.
    pub fn to_json(&self) -> String {
        let _t = crate::timing::span(crate::timing::Stage::RecordEncode);
        // Only strings, integers and string-keyed maps: cannot fail.
        serde_json::to_string(self).expect("a FeedbackRecord always serializes")
    }
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
