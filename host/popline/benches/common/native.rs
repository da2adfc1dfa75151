//! The host's record types to the SDK's (the same WIT records, generated
//! twice: by wasmtime for the host, by wit-bindgen for guests).
//! Shared by the benchmarks that compare the WASM mapper with `feedback-core`
//! called natively.

use popline_plugin as sdk;
use popline_plugin_runtime::mapper::wit;

fn address(a: &wit::Address) -> sdk::Address {
    sdk::Address {
        name: a.name.clone(),
        address: a.address.clone(),
    }
}

fn addresses(list: &[wit::Address]) -> Vec<sdk::Address> {
    list.iter().map(address).collect()
}

pub fn email(e: &wit::Email) -> sdk::Email {
    sdk::Email {
        from: addresses(&e.from),
        to: addresses(&e.to),
        cc: addresses(&e.cc),
        reply_to: addresses(&e.reply_to),
        delivered_to: addresses(&e.delivered_to),
        subject: e.subject.clone(),
        message_id: e.message_id.clone(),
        in_reply_to: e.in_reply_to.clone(),
        references: e.references.clone(),
        date: e.date.clone(),
        headers: e
            .headers
            .iter()
            .map(|h| sdk::Header {
                name: h.name.clone(),
                value: h.value.clone(),
            })
            .collect(),
        text_body: e.text_body.clone(),
        html_body: e.html_body.clone(),
        attachments: e
            .attachments
            .iter()
            .map(|a| sdk::Attachment {
                index: a.index,
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
                content_id: a.content_id.clone(),
                inline: a.inline,
            })
            .collect(),
        size: e.size,
        warnings: e.warnings.clone(),
    }
}

pub fn context(c: &wit::Context) -> sdk::Context {
    sdk::Context {
        pipeline: c.pipeline.clone(),
        mailbox: c.mailbox.clone(),
        uid: c.uid.clone(),
        received_at: c.received_at.clone(),
    }
}
