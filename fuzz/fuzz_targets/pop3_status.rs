//! pop3-proto's parsers over arbitrary server output: status lines, CAPA,
//! LIST, UIDL and their join, and the mechanism choice. None may panic; the
//! join must name each message once, in order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{Capabilities, CredentialKind, Status, choose_mechanism, join_listings};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(Status::Err(e)) = Status::parse(&text) {
        let _ = (e.kind(), e.login_kind(), e.to_error().to_string());
    }
    let _ = Status::parse_ok(&text);

    let caps = Capabilities::parse(data);
    let _ = (
        caps.lines(),
        caps.pipelining(),
        caps.uidl(),
        caps.sasl_mechanisms(),
    );
    for tls in [false, true] {
        for credential in [CredentialKind::Password, CredentialKind::BearerToken] {
            let _ = choose_mechanism(&caps, tls, credential, &[]);
            let _ = choose_mechanism(&caps, tls, credential, &["XOAUTH2".into(), "USER".into()]);
        }
    }

    // The first byte splits the rest into a LIST and a UIDL body.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (list, uidl) = rest.split_at(usize::from(split).min(rest.len()));
    let mut warnings = Vec::new();
    let _ = pop3_proto::parse_list(list, &mut warnings);
    let _ = pop3_proto::parse_uidl(uidl, &mut warnings);
    if let Ok(listings) = join_listings(list, uidl) {
        let numbers: Vec<u32> = listings.entries.iter().map(|e| e.number).collect();
        assert!(numbers.iter().all(|&n| n >= 1), "{numbers:?}");
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        assert!(listings.entries.iter().all(|e| !e.uid.is_empty()));
    }
});
