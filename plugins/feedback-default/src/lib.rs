//! The reference feedback mapper plugin: converts the WIT records to
//! `feedback-core` types, calls [`feedback_core::map_email`] and converts the
//! outcome back. All logic lives in `feedback-core`.

wit_bindgen::generate!({ path: "../../wit", world: "feedback-mapper" });

use exports::popline::plugin::mapper::Guest;
use feedback_core as fc;
use popline::plugin::log::{Level, log};
use popline::plugin::mail as wit;

struct Mapper;

impl Guest for Mapper {
    fn handle(
        message: wit::Email,
        ctx: wit::Context,
        config: Vec<(String, String)>,
    ) -> Result<wit::Outcome, String> {
        let config = fc::Config::from_pairs(config).map_err(|e| e.to_string())?;
        let outcome = fc::map_email(&email(message), &context(ctx), &config)?;
        log(Level::Debug, &summary(&outcome));
        Ok(outcome_to_wit(outcome))
    }
}

export!(Mapper);

/// One line saying how the message was matched, or why it was skipped.
fn summary(outcome: &fc::Outcome) -> String {
    match outcome {
        fc::Outcome::Skip(reason) => format!("skipped: {reason}"),
        fc::Outcome::Feedback(items) => {
            let methods: Vec<&str> = items
                .iter()
                .map(|f| f.matched.as_ref().map_or("none", |m| m.method.as_str()))
                .collect();
            format!(
                "feedback: {} record(s), match: {}",
                items.len(),
                methods.join(", ")
            )
        }
    }
}

fn addresses(list: Vec<wit::Address>) -> Vec<fc::Address> {
    list.into_iter().map(address).collect()
}

fn address(a: wit::Address) -> fc::Address {
    fc::Address {
        name: a.name,
        address: a.address,
    }
}

fn email(e: wit::Email) -> fc::Email {
    fc::Email {
        from: addresses(e.from),
        to: addresses(e.to),
        cc: addresses(e.cc),
        reply_to: addresses(e.reply_to),
        delivered_to: addresses(e.delivered_to),
        subject: e.subject,
        message_id: e.message_id,
        in_reply_to: e.in_reply_to,
        references: e.references,
        headers: e
            .headers
            .into_iter()
            .map(|h| fc::Header {
                name: h.name,
                value: h.value,
            })
            .collect(),
        text_body: e.text_body,
        html_body: e.html_body,
        attachments: e
            .attachments
            .into_iter()
            .map(|a| fc::Attachment {
                index: a.index,
                file_name: a.file_name,
                content_type: a.content_type,
                size: a.size,
                sha256: a.sha256,
                content_id: a.content_id,
                inline: a.inline,
            })
            .collect(),
        warnings: e.warnings,
    }
}

fn context(c: wit::Context) -> fc::Context {
    fc::Context {
        pipeline: c.pipeline,
        mailbox: c.mailbox,
        uid: c.uid,
        received_at: c.received_at,
    }
}

fn outcome_to_wit(outcome: fc::Outcome) -> wit::Outcome {
    match outcome {
        fc::Outcome::Skip(reason) => wit::Outcome::Skip(reason),
        fc::Outcome::Feedback(items) => {
            wit::Outcome::Feedback(items.into_iter().map(feedback_to_wit).collect())
        }
    }
}

fn feedback_to_wit(f: fc::Feedback) -> wit::Feedback {
    wit::Feedback {
        target: f.target,
        kind: match f.kind {
            fc::FeedbackKind::Reply => wit::FeedbackKind::Reply,
            fc::FeedbackKind::New => wit::FeedbackKind::New,
        },
        author: wit::Address {
            name: f.author.name,
            address: f.author.address,
        },
        subject: f.subject,
        body_text: f.body_text,
        body_html: f.body_html,
        elided_text: f.elided_text,
        attachments: f.attachments,
        received_at: f.received_at,
        source_message_id: f.source_message_id,
        match_: f.matched.map(|m| wit::MatchInfo {
            method: m.method.as_str().to_owned(),
            value: m.value,
        }),
        fields: f.fields,
    }
}
