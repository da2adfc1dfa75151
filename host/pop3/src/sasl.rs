//! SASL initial responses, built by the host so the secret never leaves it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{Credential, Mechanism, Secret};

/// The SASL mechanism name and base64 initial response.
pub(super) fn initial_response(
    mechanism: Mechanism,
    user: &str,
    credential: &Credential,
    host: &str,
    port: u16,
) -> (&'static str, Secret) {
    let secret = match credential {
        Credential::Password(s) | Credential::Bearer(s) => s.expose(),
    };
    let (name, raw) = match mechanism {
        // RFC 4616: authzid NUL authcid NUL passwd (empty authzid).
        Mechanism::Plain | Mechanism::UserPass => ("PLAIN", format!("\0{user}\0{secret}")),
        Mechanism::Xoauth2 => (
            "XOAUTH2",
            format!("user={user}\x01auth=Bearer {secret}\x01\x01"),
        ),
        // RFC 7628 §3.1: GS2 header, then key/value pairs.
        Mechanism::OauthBearer => (
            "OAUTHBEARER",
            format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01",
                gs2_escape(user)
            ),
        ),
    };
    (name, Secret::new(B64.encode(raw)))
}

/// RFC 5801: `,` → `=2C`, `=` → `=3D` in the authzid.
fn gs2_escape(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Decode a `+ <base64>` error challenge; `None` if it is not base64 text.
pub(super) fn decode_challenge(b64: &str) -> Option<String> {
    if b64.is_empty() {
        return None;
    }
    let bytes = B64.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_is_the_documented_format() {
        let cred = Credential::Bearer(Secret::new("tok"));
        let (name, r) = initial_response(Mechanism::Xoauth2, "a@b.example", &cred, "h", 995);
        assert_eq!(name, "XOAUTH2");
        let raw = B64.decode(r.expose()).unwrap();
        assert_eq!(raw, b"user=a@b.example\x01auth=Bearer tok\x01\x01");
    }

    #[test]
    fn oauthbearer_and_plain() {
        let cred = Credential::Bearer(Secret::new("tok"));
        let (_, r) = initial_response(Mechanism::OauthBearer, "a,=b", &cred, "pop.example", 995);
        assert_eq!(
            B64.decode(r.expose()).unwrap(),
            b"n,a=a=2C=3Db,\x01host=pop.example\x01port=995\x01auth=Bearer tok\x01\x01"
        );
        let cred = Credential::Password(Secret::new("pw"));
        let (name, r) = initial_response(Mechanism::Plain, "u", &cred, "h", 1);
        assert_eq!(name, "PLAIN");
        assert_eq!(B64.decode(r.expose()).unwrap(), b"\0u\0pw");
    }

    #[test]
    fn challenge_decoding() {
        assert_eq!(
            decode_challenge("eyJzdGF0dXMiOiI0MDEifQ==").as_deref(),
            Some(r#"{"status":"401"}"#)
        );
        assert_eq!(decode_challenge(""), None);
        assert_eq!(decode_challenge("!!"), None);
    }
}
