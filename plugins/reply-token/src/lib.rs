//! Signed reply tokens, carried in plus-addresses (`replies+TOKEN@domain`).
//!
//! A token is `ID.EXPIRY.MAC`: the feedback item id, the expiry in Unix
//! seconds, and the first 96 bits of an HMAC-SHA256, in lowercase hex, over
//! the id, the address the notification was sent to and the expiry. So a
//! token cannot be forged or altered without a key, stops working when it
//! expires, and (with the sender check) only matches replies from the tester
//! it was minted for.
//!
//! Several keys can be configured so keys can rotate: [`mint`] uses one, and
//! verification accepts any. The id and the address enter the MAC in ASCII
//! lowercase, because mail systems may change the case of a local part.
//!
//! The feedback mapper (`feedback-core`) verifies tokens; the host's
//! `popline token` command mints and checks them. [`parse_rfc3339`] and
//! [`format_rfc3339`] are the timestamp helpers both need (expiry is judged
//! against the message's receive time, the plugin has no clock).
//!
//! ```
//! use popline_reply_token::{self as token, TokenKeys};
//!
//! let keys = TokenKeys::parse("0123456789abcdef0123456789abcdef")?;
//! let minted = token::mint("FB-1042", "dana@example.org", 1_800_000_000, keys.primary())?;
//! let verified = token::verify(&minted, "Dana@Example.org", 1_772_533_062, &keys)?;
//! assert_eq!(verified.id, "FB-1042");
//! assert!(token::verify(&minted, "eve@example.org", 1_772_533_062, &keys).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

mod time;

pub use time::{format_rfc3339, parse_rfc3339};

/// MAC bytes kept in a token: 96 bits rule out online guessing, and a token
/// for a typical id still fits the 64-character limit of a local part.
const MAC_BYTES: usize = 12;
/// Longest feedback id a token carries, to keep addresses within limits.
pub const MAX_ID_LEN: usize = 32;
/// Shortest accepted key, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// Separates this MAC's input from any other use of the same key.
const DOMAIN: &[u8] = b"popline reply token v1";

/// The configured signing keys, in order; the first one mints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenKeys {
    keys: Vec<Vec<u8>>,
}

impl fmt::Debug for TokenKeys {
    /// Keys are secrets: only their number is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKeys({} key(s))", self.keys.len())
    }
}

impl TokenKeys {
    /// Parses keys separated by commas or whitespace. Each key is used as its
    /// bytes and must be at least [`MIN_KEY_LEN`] bytes long (e.g. the output
    /// of `openssl rand -hex 32`). At least one key is required.
    pub fn parse(value: &str) -> Result<Self, String> {
        let keys: Vec<Vec<u8>> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        if keys.is_empty() {
            return Err("expected at least one key".into());
        }
        if let Some(pos) = keys.iter().position(|k| k.len() < MIN_KEY_LEN) {
            return Err(format!(
                "key {} is shorter than {MIN_KEY_LEN} bytes",
                pos + 1
            ));
        }
        Ok(Self { keys })
    }

    /// Whether no key is configured (tokens are then not verified).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key new tokens are minted with (the first), empty if there is none.
    pub fn primary(&self) -> &[u8] {
        self.keys.first().map_or(&[], Vec::as_slice)
    }
}

/// Why a token could not be minted or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not of the form `ID.EXPIRY.MAC`; says what is wrong.
    Malformed(String),
    /// The id is empty, too long, or has characters other than ASCII letters,
    /// digits, `-` and `_`.
    InvalidId(String),
    /// The recipient is not an address.
    InvalidRecipient(String),
    /// No key to mint or verify with.
    NoKey,
    /// No key gives this MAC for this recipient: forged, altered, or minted
    /// for another address.
    BadSignature,
    /// Genuine, but expired at this Unix time.
    Expired(i64),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not a signed token ({why})"),
            Self::InvalidId(id) => write!(
                f,
                "invalid feedback id `{id}`: use 1 to {MAX_ID_LEN} ASCII letters, digits, `-` or `_`"
            ),
            Self::InvalidRecipient(r) => write!(f, "invalid recipient address `{r}`"),
            Self::NoKey => write!(f, "no signing key configured"),
            Self::BadSignature => write!(
                f,
                "signature does not verify (forged, altered, or minted for another address)"
            ),
            Self::Expired(at) => write!(f, "expired at {}", format_rfc3339(*at)),
        }
    }
}

impl std::error::Error for TokenError {}

/// The parts of a well-formed token. Parsing checks the shape only;
/// [`SignedToken::signed_for`] checks the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedToken<'a> {
    /// The feedback item id.
    pub id: &'a str,
    /// Unix time from which the token no longer matches.
    pub expires_at: i64,
    mac: &'a str,
}

impl<'a> SignedToken<'a> {
    /// Splits `token` into id, expiry and MAC.
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        let mut parts = token.rsplitn(3, '.');
        let (Some(mac), Some(expiry), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed("expected ID.EXPIRY.MAC".into()));
        };
        check_id(id)?;
        if expiry.is_empty() || expiry.len() > 12 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::Malformed("expiry is not a Unix time".into()));
        }
        if mac.len() != MAC_BYTES * 2 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed(format!(
                "MAC is not {} hex digits",
                MAC_BYTES * 2
            )));
        }
        Ok(Self {
            id,
            expires_at: expiry.parse().expect("at most 12 digits fit in i64"),
            mac,
        })
    }

    /// Whether one of `keys` gives this token's MAC for `recipient`. The
    /// comparison is constant-time.
    pub fn signed_for(&self, recipient: &str, keys: &TokenKeys) -> bool {
        let Some(expected) = decode_hex(self.mac) else {
            return false;
        };
        keys.keys.iter().any(|key| {
            mac(key, self.id, recipient, self.expires_at)
                .verify_truncated_left(&expected)
                .is_ok()
        })
    }

    /// Whether the token has expired at Unix time `now`.
    pub fn expired_at(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

/// A token for feedback item `id`, sent to `recipient`, valid until Unix
/// time `expires_at`, signed with `key`.
pub fn mint(id: &str, recipient: &str, expires_at: i64, key: &[u8]) -> Result<String, TokenError> {
    check_id(id)?;
    check_recipient(recipient)?;
    if key.is_empty() {
        return Err(TokenError::NoKey);
    }
    if !(0..=999_999_999_999).contains(&expires_at) {
        return Err(TokenError::Malformed(
            "expiry is out of range for a token".into(),
        ));
    }
    let tag = mac(key, id, recipient, expires_at).finalize().into_bytes();
    Ok(format!(
        "{id}.{expires_at}.{}",
        encode_hex(&tag[..MAC_BYTES])
    ))
}

/// Checks `token` for `recipient` at Unix time `now`: shape, then signature,
/// then expiry.
pub fn verify<'a>(
    token: &'a str,
    recipient: &str,
    now: i64,
    keys: &TokenKeys,
) -> Result<SignedToken<'a>, TokenError> {
    if keys.is_empty() {
        return Err(TokenError::NoKey);
    }
    check_recipient(recipient)?;
    let parsed = SignedToken::parse(token)?;
    if !parsed.signed_for(recipient, keys) {
        return Err(TokenError::BadSignature);
    }
    if parsed.expired_at(now) {
        return Err(TokenError::Expired(parsed.expires_at));
    }
    Ok(parsed)
}

fn check_id(id: &str) -> Result<(), TokenError> {
    let valid = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid
        .then_some(())
        .ok_or_else(|| TokenError::InvalidId(id.to_owned()))
}

fn check_recipient(recipient: &str) -> Result<(), TokenError> {
    let r = recipient.trim();
    let valid = r
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !r.chars().any(|c| c.is_whitespace() || c.is_control());
    valid
        .then_some(())
        .ok_or_else(|| TokenError::InvalidRecipient(recipient.to_owned()))
}

/// HMAC over the domain, id, recipient and expiry, newline-separated (none
/// of them can contain a newline, so the encoding is unambiguous).
fn mac(key: &[u8], id: &str, recipient: &str, expires_at: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(DOMAIN);
    for part in [
        id.to_ascii_lowercase().as_bytes(),
        recipient.trim().to_ascii_lowercase().as_bytes(),
        expires_at.to_string().as_bytes(),
    ] {
        mac.update(b"\n");
        mac.update(part);
    }
    mac
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_772_533_062; // 2026-03-03T10:17:42Z
    const LATER: i64 = 1_780_000_000;

    fn keys(list: &str) -> TokenKeys {
        TokenKeys::parse(list).unwrap()
    }

    fn old_and_new() -> TokenKeys {
        keys("new-key-0123456789abcdef, old-key-0123456789abcdef")
    }

    #[test]
    fn known_answer() {
        // Cross-checked with Python: hmac.new(key, b"popline reply token v1\nfb-1042\n
        // dana@example.org\n1780000000", sha256).hexdigest()[:24]
        let token = mint(
            "FB-1042",
            "dana@example.org",
            LATER,
            b"0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(token, "FB-1042.1780000000.e8bbcf5c33402a5eb1041318");
    }

    #[test]
    fn round_trip_and_rotation() {
        let keys = old_and_new();
        let token = mint("FB-7", "dana@example.org", LATER, keys.primary()).unwrap();
        let verified = verify(&token, "dana@example.org", NOW, &keys).unwrap();
        assert_eq!((verified.id, verified.expires_at), ("FB-7", LATER));
        // A token minted with the retiring key still verifies.
        let old = mint(
            "FB-7",
            "dana@example.org",
            LATER,
            b"old-key-0123456789abcdef",
        )
        .unwrap();
        assert!(verify(&old, "dana@example.org", NOW, &keys).is_ok());
        // Once that key is dropped, it does not.
        let rotated = TokenKeys::parse("new-key-0123456789abcdef").unwrap();
        assert_eq!(
            verify(&old, "dana@example.org", NOW, &rotated),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn case_changes_in_transit_still_verify() {
        let keys = old_and_new();
        let token = mint("FB-7", "Dana@Example.org", LATER, keys.primary()).unwrap();
        let folded = token.to_ascii_lowercase();
        assert!(verify(&folded, "dana@example.org", NOW, &keys).is_ok());
        let upper = token.to_ascii_uppercase();
        assert!(verify(&upper, " DANA@EXAMPLE.ORG ", NOW, &keys).is_ok());
    }

    #[test]
    fn forged_altered_other_sender_and_expired_tokens_fail() {
        let keys = old_and_new();
        let token = mint("FB-7", "dana@example.org", LATER, keys.primary()).unwrap();
        let (id_and_expiry, mac) = token.rsplit_once('.').unwrap();
        let check = |t: &str, who: &str, now: i64| verify(t, who, now, &keys).err();

        assert_eq!(
            check(&token, "eve@example.org", NOW),
            Some(TokenError::BadSignature)
        );
        let other_id = token.replacen("FB-7", "FB-8", 1);
        assert_eq!(
            check(&other_id, "dana@example.org", NOW),
            Some(TokenError::BadSignature)
        );
        let extended = format!("FB-7.1790000000.{mac}");
        assert_eq!(
            check(&extended, "dana@example.org", NOW),
            Some(TokenError::BadSignature)
        );
        let flipped = format!(
            "{id_and_expiry}.{}{}",
            if mac.starts_with('0') { '1' } else { '0' },
            &mac[1..]
        );
        assert_eq!(
            check(&flipped, "dana@example.org", NOW),
            Some(TokenError::BadSignature)
        );
        let foreign = mint("FB-7", "dana@example.org", LATER, b"someone-elses-key-123").unwrap();
        assert_eq!(
            check(&foreign, "dana@example.org", NOW),
            Some(TokenError::BadSignature)
        );
        assert_eq!(
            check(&token, "dana@example.org", LATER),
            Some(TokenError::Expired(LATER))
        );
        assert_eq!(
            TokenError::Expired(LATER).to_string(),
            "expired at 2026-05-28T20:26:40Z"
        );
    }

    #[test]
    fn malformed_tokens() {
        let keys = old_and_new();
        for bad in [
            "FB-7",
            "FB-7.1780000000",
            "FB-7.soon.9d0c2b2a3c5b53bb3e8dd23e",
            "FB-7.1780000000.9d0c",
            "FB-7.1780000000.zz0c2b2a3c5b53bb3e8dd23e",
            ".1780000000.9d0c2b2a3c5b53bb3e8dd23e",
            "FB 7.1780000000.9d0c2b2a3c5b53bb3e8dd23e",
            "FB.7.1780000000.9d0c2b2a3c5b53bb3e8dd23e",
        ] {
            let err = verify(bad, "dana@example.org", NOW, &keys).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed(_) | TokenError::InvalidId(_)),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn mint_validates_its_input() {
        let key = b"0123456789abcdef";
        assert!(matches!(
            mint("FB 1", "a@b", LATER, key),
            Err(TokenError::InvalidId(_))
        ));
        assert!(matches!(
            mint(&"x".repeat(MAX_ID_LEN + 1), "a@b", LATER, key),
            Err(TokenError::InvalidId(_))
        ));
        assert!(matches!(
            mint("FB-1", "not an address", LATER, key),
            Err(TokenError::InvalidRecipient(_))
        ));
        assert_eq!(mint("FB-1", "a@b", LATER, b""), Err(TokenError::NoKey));
        assert!(mint("FB-1", "a@b", -1, key).is_err());
        assert_eq!(
            verify("FB-1.1.00", "a@b", NOW, &TokenKeys::default()),
            Err(TokenError::NoKey)
        );
    }

    #[test]
    fn key_parsing() {
        assert_eq!(old_and_new().len(), 2);
        assert_eq!(old_and_new().primary(), b"new-key-0123456789abcdef");
        assert!(TokenKeys::parse("  ,  ").is_err());
        let err = TokenKeys::parse("0123456789abcdef short").unwrap_err();
        assert!(err.contains("key 2"), "{err}");
        assert_eq!(format!("{:?}", old_and_new()), "TokenKeys(2 key(s))");
    }

    #[test]
    fn typical_token_fits_a_local_part() {
        let token = mint("FB-104233", "dana@example.org", LATER, b"0123456789abcdef").unwrap();
        assert!(format!("replies+{token}").len() <= 64);
    }
}
