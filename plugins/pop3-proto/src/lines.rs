//! Splitting multi-line response bodies.

/// The lines of a multi-line body (dot-unstuffed, no terminating `.`), without
/// their line ends, numbered from 1. CRLF is expected, a bare LF tolerated.
pub(crate) fn body_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    // A trailing line end does not start another line.
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let pieces = if body.is_empty() {
        None
    } else {
        Some(body.split(|&b| b == b'\n'))
    };
    pieces
        .into_iter()
        .flatten()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .enumerate()
        .map(|(i, line)| (i + 1, line))
}

/// Split a line into its first whitespace-separated field and the rest, both
/// trimmed. Empty fields mean the line had nothing there.
pub(crate) fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    let line = line.trim_ascii();
    let end = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    (&line[..end], line[end..].trim_ascii_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(body: &[u8]) -> Vec<(usize, &[u8])> {
        body_lines(body).collect()
    }

    #[test]
    fn splits_crlf_and_bare_lf() {
        assert_eq!(
            collect(b"1 100\r\n2 200\n3 300\r\n"),
            vec![(1, &b"1 100"[..]), (2, b"2 200"), (3, b"3 300")]
        );
    }

    #[test]
    fn empty_body_has_no_lines_and_missing_final_crlf_is_tolerated() {
        assert!(collect(b"").is_empty());
        assert_eq!(collect(b"\r\n"), vec![(1, &b""[..])]);
        assert_eq!(collect(b"a\r\nb"), vec![(1, &b"a"[..]), (2, b"b")]);
    }

    #[test]
    fn split_field_trims_runs_of_whitespace() {
        assert_eq!(split_field(b" 1 \t abc def "), (&b"1"[..], &b"abc def"[..]));
        assert_eq!(split_field(b"7"), (&b"7"[..], &b""[..]));
        assert_eq!(split_field(b"  "), (&b""[..], &b""[..]));
    }
}
