//! One message to feedback records: raw bytes (or a parsed message) and the
//! pipeline's context in, the mapper plugin run, the host's records out.
//!
//! This is the one mapping path: ingestion, dead-letter retry, `popline map`
//! and `popline replay` all go through [`map_parsed`] or [`map_message`], so
//! a record never depends on which command produced it.

use popline_core::record::{AttachmentRef, Author, FeedbackRecord, Match, SCHEMA, idempotency_key};
use popline_mime::{MimeError, ParsedEmail};
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{MapperPlugin, PluginError};

/// What the mapper made of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Feedback records (possibly none), with their idempotency keys.
    Records(Vec<FeedbackRecord>),
    /// Not feedback, with the mapper's reason.
    Skip(String),
}

/// Why a message could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The bytes are not a message the host can parse.
    #[error("cannot parse the message: {0}")]
    Parse(#[from] MimeError),
    /// The plugin failed, trapped, hit a limit or returned invalid output.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// The pipeline context of a message: `uid` is empty when it did not come
/// from a POP3 server.
pub fn context(pipeline: &str, mailbox: &str, uid: &str, received_at: &str) -> wit::Context {
    wit::Context {
        pipeline: pipeline.to_string(),
        mailbox: mailbox.to_string(),
        uid: uid.to_string(),
        received_at: received_at.to_string(),
    }
}

/// Run `mapper` (with its key/value `config`) on a parsed message in `ctx`.
pub async fn map_parsed(
    mapper: &MapperPlugin,
    parsed: &ParsedEmail,
    ctx: &wit::Context,
    config: &[(String, String)],
) -> Result<Mapped, PluginError> {
    let input = MapperInput {
        email: &parsed.email,
        attachments: parsed.attachments.clone(),
        context: ctx,
        config,
    };
    Ok(match mapper.map(input).await? {
        MapOutcome::Feedback(list) => {
            Mapped::Records(build_records(parsed, ctx, mapper.name(), list))
        }
        MapOutcome::Skip(reason) => Mapped::Skip(reason),
    })
}

/// Parse `raw` (in memory) and map it: the parsed message is returned too,
/// for its digests and attachment bytes.
pub async fn map_message(
    mapper: &MapperPlugin,
    raw: &[u8],
    ctx: &wit::Context,
    config: &[(String, String)],
) -> Result<(ParsedEmail, Mapped), MapError> {
    let parsed = popline_mime::parse(raw)?;
    let mapped = map_parsed(mapper, &parsed, ctx, config).await?;
    Ok((parsed, mapped))
}

/// Build the records for one mapped message (`mapper` names the plugin).
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
