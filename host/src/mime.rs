//! Raw RFC 5322 bytes → the structured `email` a mapper receives.
//!
//! Parsing happens natively in the host (mail-parser); only the structured
//! result crosses into the sandbox. Attachment bytes stay here and are read
//! by the guest on demand.

use std::sync::Arc;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use crate::plugin::mapper::wit;

/// A parsed message: the mapper input plus what the host keeps for itself.
#[derive(Debug, Clone)]
pub struct ParsedEmail {
    pub email: wit::Email,
    /// Decoded attachment bytes, by `attachment.index`.
    pub attachments: Arc<Vec<Vec<u8>>>,
    /// Lowercase hex SHA-256 of the raw message.
    pub sha256: String,
}

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no parseable RFC 5322 header section")]
    Unparseable,
}

/// Parse raw message bytes. Never panics on malformed input; bodies that
/// cannot be decoded are carried with U+FFFD and a warning.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, MimeError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(MimeError::Empty);
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MimeError::Unparseable)?;
    if msg.headers().is_empty() {
        return Err(MimeError::Unparseable);
    }
    let mut warnings = Vec::new();

    let text_body = join(
        msg.text_bodies()
            .filter(|p| !p.is_text_html())
            .filter_map(|p| p.text_contents()),
    );
    let html_body = join(
        msg.html_bodies()
            .filter(|p| p.is_text_html())
            .filter_map(|p| p.text_contents()),
    );
    for (what, body) in [("text", &text_body), ("HTML", &html_body)] {
        if body.as_deref().is_some_and(|b| b.contains('\u{FFFD}')) {
            warnings.push(format!(
                "{what} body has bytes that could not be decoded in its charset (replaced by U+FFFD)"
            ));
        }
    }

    let mut attachments = Vec::new();
    let mut infos = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let bytes = part.contents().to_vec();
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let content_id = part.content_id().map(strip_angles);
        let inline =
            part.content_disposition().is_some_and(|d| d.is_inline()) || content_id.is_some();
        infos.push(wit::Attachment {
            index: i as u32,
            file_name: part.attachment_name().map(str::to_string),
            content_type,
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            content_id,
            inline,
        });
        attachments.push(bytes);
    }

    let headers: Vec<wit::Header> = msg
        .headers_raw()
        .map(|(name, value)| wit::Header {
            name: name.to_string(),
            value: unfold(value),
        })
        .collect();
    let delivered_to = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Delivered-To"))
        .map(|h| wit::Address {
            name: None,
            address: strip_angles(h.value.trim()),
        })
        .collect();

    let email = wit::Email {
        from: addresses(msg.from()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        reply_to: addresses(msg.reply_to()),
        delivered_to,
        subject: msg.subject().map(str::to_string),
        message_id: msg.message_id().map(strip_angles),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        date: msg.date().map(|d| d.to_rfc3339()),
        headers,
        text_body,
        html_body,
        attachments: infos,
        size: raw.len() as u64,
        warnings,
    };
    Ok(ParsedEmail {
        email,
        attachments: Arc::new(attachments),
        sha256: sha256_hex(raw),
    })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let parts: Vec<&str> = parts.collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn addresses(a: Option<&Address<'_>>) -> Vec<wit::Address> {
    a.map(|a| {
        a.iter()
            .filter_map(|addr| {
                Some(wit::Address {
                    name: addr.name().map(str::to_string),
                    address: addr.address()?.to_string(),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![strip_angles(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| strip_angles(t)).collect(),
        _ => Vec::new(),
    }
}

fn strip_angles(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Unfold a raw header value (RFC 5322 §2.2.3) and trim it.
fn unfold(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, line) in v.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 && !line.is_empty() {
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &[u8] = b"From: Ana Silva <ana@example.org>\r\n\
To: replies+FB-1@beta.example.com\r\n\
Delivered-To: <replies+FB-1@beta.example.com>\r\n\
Subject: =?UTF-8?Q?Re:_Caf=C3=A9_mode?=\r\n\
Message-ID: <r1@example.org>\r\n\
In-Reply-To: <feedback-1@notify.example.com>\r\n\
References: <a@x> <feedback-1@notify.example.com>\r\n\
X-Long: one\r\n two\r\n\
Date: Tue, 3 Mar 2026 10:02:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Works for me.\r\n\
--b\r\n\
Content-Type: image/png; name=shot.png\r\n\
Content-Disposition: attachment; filename=shot.png\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b--\r\n";

    #[test]
    fn parses_a_reply() {
        let p = parse(REPLY).unwrap();
        let e = &p.email;
        assert_eq!(e.from[0].address, "ana@example.org");
        assert_eq!(e.from[0].name.as_deref(), Some("Ana Silva"));
        assert_eq!(e.subject.as_deref(), Some("Re: Café mode"));
        assert_eq!(e.message_id.as_deref(), Some("r1@example.org"));
        assert_eq!(e.in_reply_to, vec!["feedback-1@notify.example.com"]);
        assert_eq!(e.references.len(), 2);
        assert_eq!(e.delivered_to[0].address, "replies+FB-1@beta.example.com");
        assert_eq!(e.text_body.as_deref().map(str::trim), Some("Works for me."));
        assert!(e.html_body.is_none());
        assert_eq!(e.attachments.len(), 1);
        assert_eq!(e.attachments[0].file_name.as_deref(), Some("shot.png"));
        assert_eq!(e.attachments[0].content_type, "image/png");
        assert_eq!(p.attachments[0], b"\x89PNG\r\n\x1a\n");
        assert_eq!(e.attachments[0].sha256, sha256_hex(b"\x89PNG\r\n\x1a\n"));
        let long = e.headers.iter().find(|h| h.name == "X-Long").unwrap();
        assert_eq!(long.value, "one two");
        assert_eq!(e.date.as_deref(), Some("2026-03-03T10:02:00+01:00"));
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn rejects_empty_and_garbage_without_panicking() {
        assert!(matches!(parse(b""), Err(MimeError::Empty)));
        assert!(matches!(parse(b" \r\n"), Err(MimeError::Empty)));
        // Arbitrary bytes either parse into something or give an error.
        let _ = parse(&[0xff, 0x00, b':', b'\n', 0x80]);
    }
}
