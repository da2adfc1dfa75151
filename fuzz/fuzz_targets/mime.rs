//! The host's MIME parsing (`popline_mime::parse`) over arbitrary bytes:
//! never a panic, and the digest is always of the raw bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = popline_mime::parse(data) {
        assert_eq!(parsed.sha256, popline_core::digest::sha256_hex(data));
        assert_eq!(parsed.email.size, data.len() as u64);
        assert_eq!(parsed.email.attachments.len(), parsed.attachments.len());
    }
});
