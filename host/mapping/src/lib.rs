//! One message to feedback records: the contract's email and context in,
//! the mapper plugin run, the host's records out.

use popline_core::record::{AttachmentRef, Author, FeedbackRecord, Match, SCHEMA, idempotency_key};
use popline_mime::ParsedEmail;
use popline_plugin_runtime::mapper::wit;

/// Build the records for one mapped message.
pub fn build_records(
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

