//! The host's dot-unstuffing multi-line reader
//! (`popline_pop3::wire::read_multiline`) over arbitrary bytes, on a byte
//! slice with a small read buffer (so every state straddles refills),
//! checked against a straightforward whole-input reference.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use popline_pop3::wire::{WireError, read_multiline};
use tokio::io::{AsyncReadExt, BufReader};

/// The body bound the reader enforces.
const MAX: u64 = 4096;

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
}

/// What a multi-line response should read as: the unstuffed body (lines
/// keep CRLF; a bare LF becomes CRLF) and the bytes consumed through the
/// terminator, or `None` without a terminator.
fn reference(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let nl = input[pos..].iter().position(|&b| b == b'\n')?;
        let line = &input[pos..pos + nl];
        pos += nl + 1;
        if line == b"." || line == b".\r" {
            return Some((out, pos));
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(if line.ends_with(b"\r") {
            b"\n"
        } else {
            b"\r\n"
        });
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap, input)) = data.split_first() else {
        return;
    };
    let cap = usize::from(cap % 16) + 1;
    RT.with(|rt| {
        rt.block_on(async {
            let mut r = BufReader::with_capacity(cap, input);
            let mut out = Vec::new();
            let res = read_multiline(&mut r, MAX, Duration::from_secs(5), &mut out).await;
            assert!(out.len() as u64 <= MAX);
            match (reference(input), res) {
                (Some((want, used)), res) if want.len() as u64 <= MAX => {
                    assert_eq!(res, Ok(()));
                    assert_eq!(out, want);
                    let mut rest = Vec::new();
                    r.read_to_end(&mut rest).await.unwrap();
                    assert_eq!(rest, &input[used..]);
                }
                (Some(_), res) => assert_eq!(res, Err(WireError::TooLarge(MAX))),
                (None, res) => assert!(
                    matches!(res, Err(WireError::Closed | WireError::TooLarge(_))),
                    "{res:?}"
                ),
            }
        })
    });
});
