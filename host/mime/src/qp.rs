//! Quoted-printable decoding of a body part (RFC 2045 §6.7).
//!
//! The output is byte for byte what mail-parser's `quoted_printable_decode`
//! gives (the test below compares them on random input), including where a
//! broken escape makes it give up. It is ours because that one goes byte by
//! byte, and Outlook sends its text and HTML bodies quoted-printable: here
//! the runs of plain bytes between `=` and line ends are copied whole.

/// Where the decoder is within an `=XY` escape.
#[derive(Clone, Copy)]
enum Escape {
    None,
    /// After `=`.
    Equals,
    /// After `=` and a first hex digit, with its value.
    Digit(u8),
}

/// Decode `bytes`. `None` when an escape is broken (`=` followed by neither
/// two hex digits nor a line end), so the caller can fall back.
pub fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    // Line ends come out as the part writes them, CRLF once a CR was seen.
    let mut line_end: &[u8] = b"\n";
    // Literal spaces and tabs ending `out`: RFC 2045 drops them at a hard
    // line end (they were transport padding).
    let mut blanks = 0;
    let mut escape = Escape::None;
    let mut i = 0;
    while i < bytes.len() {
        if let Escape::None = escape {
            let run_len =
                memchr::memchr3(b'=', b'\n', b'\r', &bytes[i..]).unwrap_or(bytes.len() - i);
            let run = &bytes[i..i + run_len];
            out.extend_from_slice(run);
            let trailing = run
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            blanks = if trailing == run.len() {
                blanks + trailing
            } else {
                trailing
            };
            i += run_len;
            if i == bytes.len() {
                break;
            }
        }
        let b = bytes[i];
        i += 1;
        match (b, escape) {
            (b'\r', _) => line_end = b"\r\n",
            (b'=', Escape::None) => escape = Escape::Equals,
            (b'=', _) => return None,
            // A soft line break: the line goes on.
            (b'\n', Escape::Equals) => {
                escape = Escape::None;
                blanks = 0;
            }
            // A hard one; an escape cut by it stays open (mail-parser's way).
            (b'\n', _) => {
                out.truncate(out.len() - blanks);
                out.extend_from_slice(line_end);
                blanks = 0;
            }
            (_, Escape::Equals) => match hex(b) {
                Some(high) => escape = Escape::Digit(high),
                // Padding between `=` and the line end.
                None if b.is_ascii_whitespace() => {}
                None => return None,
            },
            (_, Escape::Digit(high)) => {
                out.push((high << 4) | hex(b)?);
                blanks = 0;
                escape = Escape::None;
            }
            (_, Escape::None) => unreachable!("plain bytes are copied as runs above"),
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use mail_parser::decoders::quoted_printable::quoted_printable_decode;

    #[test]
    fn decodes_the_shapes_mail_takes() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"", Some(b"")),
            (b"plain text", Some(b"plain text")),
            (b"caf=C3=A9", Some("café".as_bytes())),
            (b"caf=c3=a9", Some("café".as_bytes())),
            (b"soft=\r\nbreak", Some(b"softbreak")),
            (b"soft=\nbreak", Some(b"softbreak")),
            (b"soft=  \r\nbreak", Some(b"softbreak")),
            (b"two\r\nlines\r\n", Some(b"two\r\nlines\r\n")),
            (b"two\nlines", Some(b"two\nlines")),
            (b"padded  \t\r\nline", Some(b"padded\r\nline")),
            (b"kept=20\r\n", Some(b"kept \r\n")),
            (b"a \rb", Some(b"a b")),
            (b"dangling=", Some(b"dangling")),
            (b"dangling=4", Some(b"dangling")),
            (b"=3D=3d", Some(b"==")),
            (b"bad=ZZ", None),
            (b"bad=4Z", None),
            (b"bad==41", None),
        ];
        for &(input, want) in cases {
            let got = decode(input);
            assert_eq!(got.as_deref(), want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    /// Random bytes from an alphabet heavy in what QP treats specially, so
    /// every state meets every kind of byte.
    #[test]
    fn agrees_with_mail_parser_on_random_input() {
        const ALPHABET: &[u8] = b"==\r\n\n \t\x0caAfF09gz.\xc3\xff";
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut some, mut none) = (0, 0);
        for _ in 0..200_000 {
            let len = (next() % 24) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let want = quoted_printable_decode(&input);
            assert_eq!(
                decode(&input),
                want,
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            match want {
                Some(_) => some += 1,
                None => none += 1,
            }
        }
        // Both outcomes were exercised, many times.
        assert!(
            some > 10_000 && none > 10_000,
            "{some} decoded, {none} refused"
        );
    }
}
