//! The configuration parser (`popline_config::Config::parse`) over
//! arbitrary text: never a panic, and an error always names the file.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match popline_config::Config::parse(text, Path::new("fuzz.toml"), Path::new("/etc/popline")) {
        Ok(cfg) => assert!(!cfg.mailboxes.is_empty()),
        Err(e) => assert!(e.to_string().starts_with("fuzz.toml")),
    }
});
