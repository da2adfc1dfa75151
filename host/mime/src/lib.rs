//! Raw RFC 5322 bytes → the structured `email` a mapper receives.
//!
//! Parsing happens natively in the host (mail-parser); only the structured
//! result crosses into the sandbox. Attachment bytes stay here and are read
//! by the guest on demand.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use encoding_rs::{Encoding, WINDOWS_1252};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Address, GetHeader, HeaderName, HeaderValue, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use popline_core::digest::sha256_hex;
use popline_core::spool::{SpoolPolicy, Spooled};
use popline_plugin_runtime::mapper::wit;

mod qp;

/// A parsed message: the mapper input plus what the host keeps for itself.
#[derive(Debug, Clone)]
pub struct ParsedEmail {
    pub email: wit::Email,
    /// Decoded attachment bytes, by `attachment.index` (large ones spooled
    /// to disk, see [`parse_spooled`]).
    pub attachments: Arc<Vec<Spooled>>,
    /// Lowercase hex SHA-256 of the raw message.
    pub sha256: String,
    /// Lowercase hex SHA-256 of the decoded content: bodies and
    /// attachments, not the header (see `content_sha256`).
    pub body_sha256: String,
}

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no parseable RFC 5322 header section")]
    Unparseable,
    /// A large attachment could not be written to the spool folder (a
    /// problem of the host's disk, not of the message).
    #[error("spooling an attachment to disk: {0}")]
    Spool(String),
}

/// Parse raw message bytes. Never panics on malformed input; bodies that
/// cannot be decoded are carried with U+FFFD and a warning.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, MimeError> {
    parse_spooled(raw, &SpoolPolicy::memory_only())
}

/// [`parse`], keeping decoded attachments larger than `spool.above` in spool
/// files rather than memory (so a batch of messages with big attachments
/// does not hold them all on the heap until it is committed).
pub fn parse_spooled(raw: &[u8], spool: &SpoolPolicy) -> Result<ParsedEmail, MimeError> {
    let _t = popline_core::timing::span(popline_core::timing::Stage::MimeParse);
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(MimeError::Empty);
    }
    // Old Mac mail ends lines with CR alone; mail-parser then finds no
    // header. Parsed with CRLF instead; the digest and size stay the raw's.
    let original = raw;
    let crlf;
    let raw = match cr_only_lines(raw) {
        true => {
            crlf = cr_to_crlf(raw);
            &crlf[..]
        }
        false => raw,
    };
    let mut msg = PARSER.parse(raw).ok_or(MimeError::Unparseable)?;
    if needs_decoding_parser(raw, &msg) {
        msg = DECODING_PARSER.parse(raw).ok_or(MimeError::Unparseable)?;
    }
    if msg.headers().is_empty() {
        return Err(MimeError::Unparseable);
    }
    let mut warnings = Vec::new();

    // Bodies are decoded here rather than by mail-parser, so a missing or
    // wrong charset declaration can be caught from the bytes.
    let mut decode = |part: &MessagePart<'_>, what: &str| -> Option<String> {
        let (text, warning) = decode_text_part(raw, part)?;
        warnings.extend(warning.map(|w| format!("{what} body: {w}")));
        Some(text)
    };
    let text_body = join(
        msg.text_bodies()
            .filter(|p| !p.is_text_html())
            .filter_map(|p| decode(p, "text")),
    );
    let html_body = join(
        msg.html_bodies()
            .filter(|p| p.is_text_html())
            .filter_map(|p| decode(p, "HTML")),
    );

    let mut attachments = Vec::new();
    let mut infos = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let contents = attachment_bytes(raw, part);
        let sha256 = sha256_hex(&contents);
        let bytes = Spooled::spool(contents, spool).map_err(|e| MimeError::Spool(e.to_string()))?;
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
            sha256,
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
        size: original.len() as u64,
        warnings,
    };
    Ok(ParsedEmail {
        body_sha256: content_sha256(&email),
        email,
        attachments: Arc::new(attachments),
        sha256: sha256_hex(original),
    })
}

/// A parser of only the header fields read here, and the MIME ones the
/// bodies need: the others (`Received:` chains, list headers...) go to the
/// mapper raw (`headers_raw`), so parsing them was wasted work.
///
/// `Content-Transfer-Encoding` is ignored too, so mail-parser leaves every
/// body as it lies: popline decodes the parts it uses itself
/// ([`transfer_decoded`]), and mail-parser's own decoding of them (base64,
/// quoted-printable) was done twice: a fifth of the parse of an Outlook
/// reply.
static PARSER: LazyLock<MessageParser> =
    LazyLock::new(|| header_parser().ignore_header(HeaderName::ContentTransferEncoding));

/// [`PARSER`] with mail-parser decoding bodies, for the rare message that
/// needs it (see [`needs_decoding_parser`]).
static DECODING_PARSER: LazyLock<MessageParser> = LazyLock::new(header_parser);

/// Whether `msg`, parsed without transfer decoding, has a part mail-parser
/// could only have delimited by decoding it: a forwarded message sent in
/// base64 or quoted-printable (which RFC 2046 forbids and some clients do),
/// or any part it found broken.
fn needs_decoding_parser(raw: &[u8], msg: &mail_parser::Message<'_>) -> bool {
    msg.parts.iter().any(|p| {
        p.is_encoding_problem
            || matches!(p.body, PartType::Message(_))
                && transfer_encoding(raw, p) != mail_parser::Encoding::None
    })
}

fn header_parser() -> MessageParser {
    MessageParser::new()
        .with_mime_headers()
        .header_date(HeaderName::Date)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_address(HeaderName::ReplyTo)
        .header_id(HeaderName::MessageId)
        .header_id(HeaderName::InReplyTo)
        .header_id(HeaderName::References)
        .default_header_ignore()
}

/// Whether `raw` ends its lines with CR alone: CRs and not a single LF.
fn cr_only_lines(raw: &[u8]) -> bool {
    !raw.contains(&b'\n') && raw.contains(&b'\r')
}

fn cr_to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for &b in raw {
        out.push(b);
        if b == b'\r' {
            out.push(b'\n');
        }
    }
    out
}

/// The content digest: SHA-256 over the decoded text and HTML bodies and
/// the attachments' digests. The same mail delivered twice differs in its
/// trace headers (and perhaps its transfer encoding), not here; computed
/// from what parsing already decoded, so it costs no second pass over the
/// raw bytes.
fn content_sha256(email: &wit::Email) -> String {
    let _t = popline_core::timing::span(popline_core::timing::Stage::Digest);
    let mut h = Sha256::new();
    for part in [&email.text_body, &email.html_body] {
        h.update(part.as_deref().unwrap_or_default().as_bytes());
        h.update([0]);
    }
    for a in &email.attachments {
        h.update(a.sha256.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn join(parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// A part's transfer encoding, from its last `Content-Transfer-Encoding`
/// field (which [`PARSER`] leaves unparsed). Anything but base64 and
/// quoted-printable (7bit, 8bit, binary, unknown) is read as it lies.
fn transfer_encoding(raw: &[u8], part: &MessagePart<'_>) -> mail_parser::Encoding {
    let value = part
        .headers
        .header(HeaderName::ContentTransferEncoding)
        .and_then(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(<[u8]>::trim_ascii)
        .unwrap_or_default();
    if value.eq_ignore_ascii_case(b"base64") {
        mail_parser::Encoding::Base64
    } else if value.eq_ignore_ascii_case(b"quoted-printable") {
        mail_parser::Encoding::QuotedPrintable
    } else {
        mail_parser::Encoding::None
    }
}

/// A part's body as it lies in `raw`.
fn body_bytes<'a>(raw: &'a [u8], part: &MessagePart<'_>) -> Option<&'a [u8]> {
    raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
}

/// A part's body with only its transfer encoding undone, read from `raw`.
/// A broken encoding gives `Err` with what could be salvaged: mail-parser's
/// lenient decoding (which keeps a broken escape as it is), else the bytes
/// as they lie.
fn transfer_decoded<'a>(
    raw: &'a [u8],
    part: &'a MessagePart<'_>,
) -> Result<Cow<'a, [u8]>, Cow<'a, [u8]>> {
    let Some(body) = body_bytes(raw, part) else {
        return Err(Cow::Borrowed(part.contents()));
    };
    type Lenient<'a> = fn(&mut MessageStream<'a>, &[u8]) -> (usize, Cow<'a, [u8]>);
    let salvage = |decode: Lenient<'a>| match decode(&mut MessageStream::new(body), b"") {
        (usize::MAX, _) => Cow::Borrowed(body),
        (_, bytes) => bytes,
    };
    match transfer_encoding(raw, part) {
        mail_parser::Encoding::QuotedPrintable => qp::decode(body)
            .map(Cow::Owned)
            .ok_or_else(|| salvage(MessageStream::decode_quoted_printable_mime)),
        mail_parser::Encoding::Base64 => base64_decode(body)
            .map(Cow::Owned)
            .ok_or_else(|| salvage(MessageStream::decode_base64_mime)),
        // 7bit and 8bit bodies are read where they lie.
        mail_parser::Encoding::None => Ok(Cow::Borrowed(body)),
    }
}

/// An attachment's file bytes: its body with the transfer encoding undone
/// and nothing else. Text attachments (a log, a CSV in windows-1252) are not
/// converted from their charset, since they must arrive as they were sent.
/// A broken transfer encoding gives what [`transfer_decoded`] salvaged.
fn attachment_bytes<'a>(raw: &'a [u8], part: &'a MessagePart<'_>) -> Cow<'a, [u8]> {
    // A forwarded message/rfc822 as mail-parser delimited it.
    if matches!(part.body, PartType::Message(_))
        && transfer_encoding(raw, part) == mail_parser::Encoding::None
    {
        return Cow::Borrowed(part.contents());
    }
    transfer_decoded(raw, part).unwrap_or_else(|salvaged| salvaged)
}

/// The text of a text or HTML body part and, if decoding needed a guess or
/// replaced bytes, a warning.
///
/// - The declared charset is used when the bytes fit it. An HTML part
///   without one may declare it in a `<meta>` tag.
/// - No charset, or US-ASCII with 8-bit bytes: UTF-8 if the bytes are valid
///   UTF-8, else windows-1252 (what such mail almost always is).
/// - A single-byte charset (ISO-8859-x, windows-125x, KOI8...) declared for
///   bytes that are valid UTF-8 with non-ASCII characters: UTF-8. Real
///   Latin-1 text is practically never valid UTF-8; mislabelled UTF-8 is
///   common.
/// - A charset nobody knows: as if none was declared.
/// - Bytes invalid in the charset become U+FFFD.
fn decode_text_part(raw: &[u8], part: &MessagePart<'_>) -> Option<(String, Option<String>)> {
    match part.body {
        PartType::Text(_) | PartType::Html(_) => {}
        // An inline part of another type among the bodies: kept when its
        // bytes are UTF-8 text.
        PartType::Binary(_) | PartType::InlineBinary(_) => {
            let bytes = transfer_decoded(raw, part).ok()?;
            return String::from_utf8(bytes.into_owned())
                .ok()
                .map(|t| (t, None));
        }
        _ => return part.text_contents().map(|t| (t.to_string(), None)),
    }
    let (bytes, broken) = match transfer_decoded(raw, part) {
        Ok(bytes) => (bytes, false),
        Err(salvaged) => (salvaged, true),
    };
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| part.is_text_html().then(|| meta_charset(&bytes)).flatten());
    let (text, mut warning) = decode_bytes(&bytes, declared.as_deref());
    if broken {
        warning = Some(match warning {
            Some(w) => format!("broken transfer encoding; {w}"),
            None => "broken transfer encoding".into(),
        });
    }
    let flowed = part.content_type().filter(|ct| {
        ct.subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("plain"))
            && ct
                .attribute("format")
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("flowed"))
    });
    let text = match flowed {
        Some(ct) => {
            let delsp = ct
                .attribute("delsp")
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("yes"));
            unflow(&text, delsp)
        }
        None => text,
    };
    Some((text, warning))
}

/// Undo RFC 3676 `format=flowed`: join soft-broken lines (those ending in a
/// space) with the next line of the same quote depth, and remove space-
/// stuffing. With `delsp=yes` the soft-break space itself is dropped.
/// Quoted lines come back as `>` × depth, a space, then the text; the
/// signature separator `-- ` is never joined.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The paragraph being joined: its quote depth and text so far.
    let mut open: Option<(usize, String)> = None;
    let emit = |out: &mut String, depth: usize, line: &str| {
        if !out.is_empty() {
            out.push('\n');
        }
        if depth > 0 {
            out.push_str(&">".repeat(depth));
            if !line.is_empty() {
                out.push(' ');
            }
        }
        out.push_str(line);
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    for (i, raw) in lines.into_iter().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if i == last && raw.is_empty() {
            // The text's own final newline.
            break;
        }
        let depth = raw.bytes().take_while(|&b| b == b'>').count();
        let mut line = &raw[depth..];
        // Space-stuffing (and the space after quote marks).
        line = line.strip_prefix(' ').unwrap_or(line);
        let soft = line.ends_with(' ') && line != "-- ";
        if let Some((d, mut para)) = open.take() {
            if d == depth {
                para.push_str(line);
                if soft {
                    if delsp {
                        para.pop();
                    }
                    open = Some((d, para));
                } else {
                    emit(&mut out, d, &para);
                }
                continue;
            }
            // Quote depth changed: the open paragraph ends as it is.
            emit(&mut out, d, para.trim_end_matches(' '));
        }
        if soft {
            let mut para = line.to_string();
            if delsp {
                para.pop();
            }
            open = Some((depth, para));
        } else {
            emit(&mut out, depth, line);
        }
    }
    if let Some((d, para)) = open {
        emit(&mut out, d, para.trim_end_matches(' '));
    }
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn decode_bytes(bytes: &[u8], declared: Option<&str>) -> (String, Option<String>) {
    let known = declared.and_then(|label| Encoding::for_label(label.as_bytes()));
    let ascii_label = declared.is_some_and(|l| {
        ["us-ascii", "ascii", "ansi_x3.4-1968"]
            .iter()
            .any(|a| l.eq_ignore_ascii_case(a))
    });
    let utf8 = std::str::from_utf8(bytes).ok();
    let guess = |why: String| match utf8 {
        Some(text) => (text.trim_start_matches('\u{feff}').to_string(), None),
        None => {
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
            (
                text.into_owned(),
                Some(format!(
                    "{why} and the bytes are not UTF-8; decoded as windows-1252"
                )),
            )
        }
    };
    let encoding = match (declared, known) {
        (None, _) => return guess("no charset declared".into()),
        (Some(_), _) if ascii_label => {
            return guess("declared US-ASCII but has 8-bit bytes".into());
        }
        (Some(label), None) => return guess(format!("unknown charset `{label}`")),
        (Some(_), Some(encoding)) => encoding,
    };
    if encoding.is_single_byte()
        && let Some(text) = utf8.filter(|t| !t.is_ascii())
    {
        let label = declared.unwrap_or_default();
        return (
            text.to_string(),
            Some(format!(
                "declared `{label}` but the bytes are UTF-8; decoded as UTF-8"
            )),
        );
    }
    let (text, _, replaced) = encoding.decode(bytes);
    let warning = replaced.then(|| {
        format!(
            "bytes that are not valid {} were replaced by U+FFFD",
            encoding.name()
        )
    });
    (text.into_owned(), warning)
}

/// The charset an HTML document declares in a `<meta>` tag, if any.
fn meta_charset(html: &[u8]) -> Option<String> {
    let head = &html[..html.len().min(4096)];
    let lower = head.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let value: String = head[at..]
        .iter()
        .skip_while(|b| matches!(b, b'"' | b'\'' | b' '))
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
        .map(|&b| b as char)
        .collect();
    (!value.is_empty()).then_some(value)
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

    /// Mail whose lines end with CR alone (old Mac clients) is parsed like
    /// CRLF mail; its digest and size are those of the bytes received.
    #[test]
    fn cr_only_line_ends_are_read_as_line_ends() {
        let crlf = b"From: Dana <dana@example.org>\r\nSubject: Re: FB-1\r\nMessage-ID: <a@b>\r\n\r\nWorks now.\r\n";
        let cr: Vec<u8> = crlf.iter().copied().filter(|&b| b != b'\n').collect();
        let e = parse(&cr).unwrap();
        assert_eq!(e.email.from[0].address, "dana@example.org");
        assert_eq!(e.email.subject.as_deref(), Some("Re: FB-1"));
        assert_eq!(
            e.email.text_body.as_deref().map(str::trim_end),
            Some("Works now.")
        );
        assert_eq!(e.sha256, sha256_hex(&cr));
        assert_eq!(e.email.size, cr.len() as u64);
        // A lone CR inside ordinary CRLF mail changes nothing.
        assert!(!cr_only_lines(b"a\rb\r\nc"));
    }

    use super::*;

    #[test]
    fn the_content_digest_ignores_the_header_and_the_transfer_encoding() {
        let digest = |raw: &[u8]| parse(raw).unwrap().body_sha256;
        let plain = digest(b"From: a@x\r\nContent-Type: text/plain\r\n\r\nsame body\r\n");
        assert_eq!(
            plain,
            digest(
                b"Received: by mx\r\nFrom: a@x\r\nContent-Type: text/plain\r\n\r\nsame body\r\n"
            )
        );
        assert_eq!(
            plain,
            digest(b"From: a@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nc2FtZSBib2R5DQo=\r\n")
        );
        assert_ne!(
            plain,
            digest(b"From: a@x\r\nContent-Type: text/plain\r\n\r\nanother body\r\n")
        );
    }

    #[test]
    fn format_flowed_is_reflowed() {
        let text = "Works now, \r\nthanks for the quick \r\nfix.\r\n\r\n Sent with\r\n>> deep \r\n>> quote\r\n> shallow \r\nnot joined\r\n-- \r\nPriya\r\n";
        assert_eq!(
            unflow(text, false),
            "Works now, thanks for the quick fix.\n\nSent with\n>> deep quote\n> shallow\nnot joined\n-- \nPriya\n"
        );
        // delsp=yes: the break space is not part of the text (CJK, long words).
        assert_eq!(unflow("長い文 \r\n章です\r\n", true), "長い文章です\n");
        // A soft break at the very end still ends the text.
        assert_eq!(unflow("dangling ", false), "dangling");

        let raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nOne long \r\nline.\r\n";
        assert_eq!(
            parse(raw).unwrap().email.text_body.as_deref(),
            Some("One long line.\n")
        );
        // Without format=flowed, trailing spaces are left alone.
        let raw = b"From: a@example.com\r\nContent-Type: text/plain\r\n\r\nOne long \r\nline.\r\n";
        assert!(
            parse(raw)
                .unwrap()
                .email
                .text_body
                .unwrap()
                .contains("long \r\nline"),
        );
    }

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
        assert_eq!(&p.attachments[0][..], b"\x89PNG\r\n\x1a\n");
        assert_eq!(e.attachments[0].sha256, sha256_hex(b"\x89PNG\r\n\x1a\n"));
        let long = e.headers.iter().find(|h| h.name == "X-Long").unwrap();
        assert_eq!(long.value, "one two");
        assert_eq!(e.date.as_deref(), Some("2026-03-03T10:02:00+01:00"));
        assert!(e.warnings.is_empty());
    }

    /// Text attachments arrive as sent: not converted from their charset,
    /// no byte replaced, whatever the transfer encoding.
    #[test]
    fn text_attachments_keep_their_bytes() {
        let raw = b"From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n--b\r\n\
Content-Type: text/plain; charset=iso-8859-1; name=a.txt\r\n\
Content-Disposition: attachment; filename=a.txt\r\n\
Content-Transfer-Encoding: base64\r\n\r\nY2Fm6Q0K\r\n--b\r\n\
Content-Type: text/csv; name=b.csv\r\n\
Content-Disposition: attachment; filename=b.csv\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\nn\xe9e;1\r\n--b\r\n\
Content-Type: text/html; charset=windows-1252; name=c.html\r\n\
Content-Disposition: attachment; filename=c.html\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E9t=E9</p>\r\n--b--\r\n";
        let p = parse(raw).unwrap();
        let e = &p.email;
        assert_eq!(e.text_body.as_deref().map(str::trim), Some("see attached"));
        let expected: [&[u8]; 3] = [b"caf\xe9\r\n", b"n\xe9e;1", b"<p>\xe9t\xe9</p>"];
        assert_eq!(p.attachments.len(), 3);
        for (i, want) in expected.into_iter().enumerate() {
            assert_eq!(&p.attachments[i][..], want, "attachment {i}");
            assert_eq!(e.attachments[i].size, want.len() as u64);
            assert_eq!(e.attachments[i].sha256, sha256_hex(want));
        }
    }

    /// A forwarded message sent in base64 (which RFC 2046 forbids and some
    /// clients do) is delimited and decoded: the attachment is the message.
    #[test]
    fn a_base64_forwarded_message_is_decoded() {
        let inner = b"From: c@example.org\r\nSubject: inner\r\n\r\ninner body\r\n";
        let raw = format!(
            "From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nsee below\r\n--b\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: attachment; filename=fw.eml\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            "RnJvbTogY0BleGFtcGxlLm9yZw0KU3ViamVjdDogaW5uZXINCg0KaW5uZXIgYm9keQ0K"
        );
        let p = parse(raw.as_bytes()).unwrap();
        assert_eq!(
            p.email.text_body.as_deref().map(str::trim),
            Some("see below")
        );
        assert_eq!(p.email.attachments.len(), 1);
        assert_eq!(p.email.attachments[0].content_type, "message/rfc822");
        assert_eq!(&p.attachments[0][..], inner);
        assert!(p.email.warnings.is_empty(), "{:?}", p.email.warnings);
    }

    /// An `=` that starts no escape (HTML attributes written unencoded) is
    /// kept as it is, the rest of the body decoded, and a warning given.
    #[test]
    fn a_broken_quoted_printable_escape_is_kept_and_reported() {
        let p = message(
            "text/plain; charset=utf-8",
            "quoted-printable",
            b"<p class=\"x\">h=C3=B6h=C3=B6</p>\r\n",
        );
        assert_eq!(text(&p), "<p class=\"x\">h\u{f6}h\u{f6}</p>");
        assert_eq!(p.email.warnings, ["text body: broken transfer encoding"]);
    }

    /// A body with both a broken transfer encoding and a charset problem
    /// reports both, in one warning.
    #[test]
    fn a_broken_encoding_and_an_unknown_charset_are_both_reported() {
        let p = message(
            "text/plain; charset=x-made-up",
            "quoted-printable",
            b"<p class=\"x\">caf=E9</p>\r\n",
        );
        assert_eq!(text(&p), "<p class=\"x\">caf\u{e9}</p>");
        assert_eq!(
            p.email.warnings,
            [
                "text body: broken transfer encoding; unknown charset `x-made-up` \
                 and the bytes are not UTF-8; decoded as windows-1252"
            ]
        );
    }

    /// A part of another type among the bodies joins them only if its
    /// decoded bytes are UTF-8 text: an inline image does not.
    #[test]
    fn an_inline_image_among_the_bodies_is_not_text() {
        let raw = b"From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nabove\r\n--b\r\n\
Content-Type: image/png\r\nContent-Disposition: inline\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nbelow\r\n--b--\r\n";
        let p = parse(raw).unwrap();
        let body = p.email.text_body.as_deref().unwrap();
        assert!(body.contains("above") && body.contains("below"), "{body:?}");
        assert!(!body.contains("iVBOR"), "{body:?}");
        assert_eq!(&p.attachments[0][..], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn rejects_empty_and_garbage_without_panicking() {
        assert!(matches!(parse(b""), Err(MimeError::Empty)));
        assert!(matches!(parse(b" \r\n"), Err(MimeError::Empty)));
        // Arbitrary bytes either parse into something or give an error.
        let _ = parse(&[0xff, 0x00, b':', b'\n', 0x80]);
    }

    /// A one-part message with these Content-Type parameters, transfer
    /// encoding and body bytes.
    fn message(content_type: &str, cte: &str, body: &[u8]) -> ParsedEmail {
        let mut raw = format!(
            "From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n\
             Content-Type: {content_type}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        parse(&raw).unwrap()
    }

    fn text(p: &ParsedEmail) -> &str {
        p.email.text_body.as_deref().unwrap().trim_end()
    }

    #[test]
    fn legacy_charsets_decode() {
        let cases: [(&str, &str, &[u8], &str); 8] = [
            (
                "text/plain; charset=ISO-2022-JP",
                "7bit",
                b"\x1b$B%S%k%I\x1b(B412\x1b$B$GD>$j$^$7$?!#\x1b(B\r\n",
                "ビルド412で直りました。",
            ),
            (
                "text/plain; charset=\"Shift_JIS\"",
                "base64",
                b"gqiQophigsmCyILBgsSCqILogtyCt4FCCpbikeiCqonwjIiCtYLcgrWCvYFCCg==\r\n",
                "お世話になっております。\n問題が解決しました。",
            ),
            (
                "text/plain; charset=big5",
                "quoted-printable",
                b"=B6=D7=A5X=A5\\=AF=E0=A5=BF=B1`=A4F=A1C\r\n",
                "匯出功能正常了。",
            ),
            (
                "text/plain; charset=gb2312",
                "base64",
                b"zayyvc7KzOLS0b6tveK+9sHLoaMK\r\n",
                "同步问题已经解决了。",
            ),
            (
                "text/plain; charset=koi8-r",
                "8bit",
                b"\xfc\xcb\xd3\xd0\xcf\xd2\xd4 \xd2\xc1\xc2\xcf\xd4\xc1\xc5\xd4, \xd3\xd0\xc1\xd3\xc9\xc2\xcf!\r\n",
                "Экспорт работает, спасибо!",
            ),
            (
                "text/plain; charset=windows-1252",
                "quoted-printable",
                b"=93Gr=F6=DFe=94 costs 5 =80 =96 fixed.\r\n",
                "\u{201c}Größe\u{201d} costs 5 € \u{2013} fixed.",
            ),
            (
                "text/plain; charset=iso-8859-2",
                "8bit",
                b"Za\xbf\xf3\xb3\xe6 g\xea\xb6l\xb1 ja\xbc\xf1.\r\n",
                "Zażółć gęślą jaźń.",
            ),
            (
                "text/plain; charset=ISO-8859-15",
                "quoted-printable",
                b"5 =A4 pour l'=A6uvre\r\n",
                "5 € pour l'Šuvre",
            ),
        ];
        for (content_type, cte, body, expected) in cases {
            let p = message(content_type, cte, body);
            assert_eq!(text(&p), expected, "{content_type}");
            assert!(
                p.email.warnings.is_empty(),
                "{content_type}: {:?}",
                p.email.warnings
            );
        }
    }

    #[test]
    fn encoded_word_headers_in_legacy_charsets() {
        let raw = b"From: =?ISO-2022-JP?B?GyRCOjRGIxsoQiAbJEI3chsoQg==?= <ken@example.jp>\r\n\
Subject: =?ISO-2022-JP?B?GyRCN29MPiROJUYlOSVIGyhC?=\r\n\
To: =?iso-8859-1?Q?R=E9mi?= <remi@example.fr>, =?gb2312?B?u9i4tDogzayyvc7KzOI=?= <x@example.cn>\r\n\
\r\n\
body\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.email.from[0].name.as_deref(), Some("佐藤 健"));
        assert_eq!(p.email.subject.as_deref(), Some("件名のテスト"));
        assert_eq!(p.email.to[0].name.as_deref(), Some("Rémi"));
        assert_eq!(p.email.to[1].name.as_deref(), Some("回复: 同步问题"));
        let raw = b"From: a@example.org\r\n\
Subject: =?iso-8859-1?Q?R=E9ponse_=E0?= =?utf-8?B?IHZvdHJlIG1lc3NhZ2U=?=\r\n\r\nx\r\n";
        assert_eq!(
            parse(raw).unwrap().email.subject.as_deref(),
            Some("Réponse à votre message")
        );
    }

    #[test]
    fn missing_charset_is_utf8_or_windows_1252() {
        let p = message("text/plain", "8bit", "Café crème\r\n".as_bytes());
        assert_eq!(text(&p), "Café crème");
        assert!(p.email.warnings.is_empty(), "{:?}", p.email.warnings);

        let p = message("text/plain", "8bit", b"Caf\xe9 cr\xe8me \x93ok\x94\r\n");
        assert_eq!(text(&p), "Café crème \u{201c}ok\u{201d}");
        assert_eq!(
            p.email.warnings,
            ["text body: no charset declared and the bytes are not UTF-8; decoded as windows-1252"]
        );

        let p = message("text/plain; charset=us-ascii", "8bit", b"Caf\xe9\r\n");
        assert_eq!(text(&p), "Café");
        assert_eq!(p.email.warnings.len(), 1);

        let p = message(
            "text/plain; charset=x-unknown-42",
            "8bit",
            "Grüße\r\n".as_bytes(),
        );
        assert_eq!(text(&p), "Grüße");
    }

    #[test]
    fn wrong_single_byte_charset_on_utf8_bytes() {
        let p = message(
            "text/plain; charset=iso-8859-1",
            "quoted-printable",
            b"Caf=C3=A9 cr=C3=A8me\r\n",
        );
        assert_eq!(text(&p), "Café crème");
        assert_eq!(
            p.email.warnings,
            ["text body: declared `iso-8859-1` but the bytes are UTF-8; decoded as UTF-8"]
        );
        // Genuine Latin-1 is left alone.
        let p = message("text/plain; charset=iso-8859-1", "8bit", b"Caf\xe9\r\n");
        assert_eq!(text(&p), "Café");
        assert!(p.email.warnings.is_empty());
    }

    #[test]
    fn undecodable_bytes_are_replaced_and_flagged() {
        let p = message("text/plain; charset=utf-8", "8bit", b"ok \xff\xfe done\r\n");
        assert_eq!(text(&p), "ok \u{fffd}\u{fffd} done");
        assert_eq!(
            p.email.warnings,
            ["text body: bytes that are not valid UTF-8 were replaced by U+FFFD"]
        );
        let p = message("text/plain; charset=shift_jis", "8bit", b"\x82\xa0\x82\r\n");
        assert!(text(&p).contains('\u{fffd}'));
        assert_eq!(p.email.warnings.len(), 1);
    }

    #[test]
    fn html_meta_charset_when_the_header_has_none() {
        let p = message(
            "text/html",
            "8bit",
            b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head><body>Caf\xe9</body></html>\r\n",
        );
        assert!(p.email.html_body.as_deref().unwrap().contains("Café"));
        assert!(p.email.warnings.is_empty(), "{:?}", p.email.warnings);
    }

    #[test]
    fn multipart_bodies_decode_each_part_in_its_charset() {
        let raw = b"From: a@example.org\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
\x1b$B%S%k%I\x1b(B412\r\n\
--b\r\nContent-Type: text/html; charset=\"Shift_JIS\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PGRpdj6CqJCimGKCyYLIgsGCxIKoguiC3IK3gUI8L2Rpdj4=\r\n\
--b--\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(
            p.email.text_body.as_deref().map(str::trim_end),
            Some("ビルド412")
        );
        assert_eq!(
            p.email.html_body.as_deref().map(str::trim_end),
            Some("<div>お世話になっております。</div>")
        );
        assert!(p.email.warnings.is_empty(), "{:?}", p.email.warnings);
    }
}
