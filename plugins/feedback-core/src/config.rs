//! Mapper configuration, parsed from the key/value pairs the host passes.

use std::fmt;

use crate::pattern::{MessageIdPattern, TextPattern};
use crate::token::TokenKeys;

/// Every key [`Config::from_pairs`] accepts.
pub const KEYS: [&str; 8] = [
    "plus-prefix",
    "message-id-pattern",
    "subject-pattern",
    "body-marker-pattern",
    "match-order",
    "unmatched",
    "token-keys",
    "sender-check",
];

/// One way of finding the feedback item an email belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    /// `<prefix>+TOKEN@...` in To, Cc, Delivered-To or `X-Original-To`.
    PlusAddress,
    /// A notification Message-ID in `In-Reply-To`, then `References`.
    InReplyTo,
    /// A token in the subject.
    Subject,
    /// A marker in the body, typically a hidden reference in the
    /// notification that survives in the quoted history.
    BodyMarker,
}

impl Matcher {
    const ALL: [Matcher; 4] = [
        Self::PlusAddress,
        Self::InReplyTo,
        Self::Subject,
        Self::BodyMarker,
    ];

    /// The name used in `match-order`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlusAddress => "plus-address",
            Self::InReplyTo => "in-reply-to",
            Self::Subject => "subject",
            Self::BodyMarker => "body-marker",
        }
    }

    /// What the matcher inspects, for skip reasons.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::InReplyTo => "in-reply-to/references",
            other => other.as_str(),
        }
    }
}

/// What to do with an email no matcher ties to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Skip it with a reason.
    Skip,
    /// Record it as new feedback without a target.
    New,
}

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A key that is not in [`KEYS`].
    UnknownKey(String),
    /// The same key twice.
    DuplicateKey(String),
    /// A value the key does not accept.
    InvalidValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong or what is expected.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey(key) => write!(
                f,
                "unknown config key `{key}`; valid keys: {}",
                KEYS.join(", ")
            ),
            Self::DuplicateKey(key) => write!(f, "config key `{key}` given more than once"),
            Self::InvalidValue { key, value, reason } => {
                write!(
                    f,
                    "invalid value `{value}` for config key `{key}`: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Validated mapper configuration. [`Config::default`] is what an empty
/// configuration gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) plus_prefix: String,
    pub(crate) message_id_pattern: MessageIdPattern,
    pub(crate) subject_pattern: TextPattern,
    pub(crate) body_marker_pattern: TextPattern,
    pub(crate) match_order: Vec<Matcher>,
    pub(crate) unmatched: Unmatched,
    /// Empty: plus-address tokens are taken as they are. Otherwise they must
    /// be signed tokens that verify with one of these keys.
    pub(crate) token_keys: TokenKeys,
    /// Whether a signed token must verify for the `From` address (else any
    /// sender-side address will do).
    pub(crate) sender_check: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            plus_prefix: "replies".into(),
            message_id_pattern: MessageIdPattern::parse("feedback-{id}@*")
                .expect("default pattern is valid"),
            subject_pattern: TextPattern::parse("[FB-{id}]").expect("default pattern is valid"),
            body_marker_pattern: TextPattern::parse("[ref:{id}]")
                .expect("default pattern is valid"),
            match_order: Matcher::ALL.to_vec(),
            unmatched: Unmatched::Skip,
            token_keys: TokenKeys::default(),
            sender_check: true,
        }
    }
}

impl Config {
    /// Parses key/value pairs; keys not given keep their defaults.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            if seen.iter().any(|k| k == key) {
                return Err(ConfigError::DuplicateKey(key.to_owned()));
            }
            let invalid = |reason: String| ConfigError::InvalidValue {
                key: key.to_owned(),
                value: value.to_owned(),
                reason,
            };
            let trimmed = value.trim();
            match key {
                "plus-prefix" => {
                    config.plus_prefix = parse_plus_prefix(trimmed).map_err(invalid)?
                }
                "message-id-pattern" => {
                    config.message_id_pattern =
                        MessageIdPattern::parse(trimmed).map_err(invalid)?;
                }
                "subject-pattern" => {
                    config.subject_pattern = TextPattern::parse(trimmed).map_err(invalid)?;
                }
                "body-marker-pattern" => {
                    config.body_marker_pattern = TextPattern::parse(trimmed).map_err(invalid)?;
                }
                "token-keys" => {
                    // The value is a secret: never echo it in the error.
                    config.token_keys =
                        TokenKeys::parse(value).map_err(|reason| ConfigError::InvalidValue {
                            key: key.to_owned(),
                            value: "(hidden)".to_owned(),
                            reason,
                        })?;
                }
                "sender-check" => {
                    config.sender_check = match trimmed {
                        "on" => true,
                        "off" => false,
                        _ => return Err(invalid("expected `on` or `off`".into())),
                    };
                }
                "match-order" => {
                    config.match_order = parse_match_order(trimmed).map_err(invalid)?
                }
                "unmatched" => {
                    config.unmatched = match trimmed {
                        "skip" => Unmatched::Skip,
                        "new" => Unmatched::New,
                        _ => return Err(invalid("expected `skip` or `new`".into())),
                    };
                }
                _ => return Err(ConfigError::UnknownKey(key.to_owned())),
            }
            seen.push(key.to_owned());
        }
        Ok(config)
    }
}

fn parse_plus_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '+' | '@' | '<' | '>' | ','))
    {
        return Err("must be a plain local part, without `+`, `@`, `,`, brackets or spaces".into());
    }
    Ok(value.to_owned())
}

fn parse_match_order(value: &str) -> Result<Vec<Matcher>, String> {
    let names = || {
        Matcher::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut order = Vec::new();
    for name in value.split(',').map(str::trim) {
        let matcher = Matcher::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| format!("unknown method `{name}`; expected a list of {}", names()))?;
        if order.contains(&matcher) {
            return Err(format!("method `{name}` listed twice"));
        }
        order.push(matcher);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn empty_is_default() {
        let config = parse(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.plus_prefix, "replies");
        assert_eq!(
            config.match_order,
            [
                Matcher::PlusAddress,
                Matcher::InReplyTo,
                Matcher::Subject,
                Matcher::BodyMarker
            ]
        );
        assert_eq!(config.unmatched, Unmatched::Skip);
        assert!(config.token_keys.is_empty());
        assert!(config.sender_check);
    }

    #[test]
    fn all_keys() {
        let config = parse(&[
            ("plus-prefix", "beta"),
            ("message-id-pattern", "fb-{id}@notify.example.com"),
            ("subject-pattern", "#{id}"),
            ("body-marker-pattern", "ref#{id}#"),
            ("match-order", "subject, plus-address, body-marker"),
            ("unmatched", "new"),
            ("token-keys", "0123456789abcdef-new,\n 0123456789abcdef-old"),
            ("sender-check", "off"),
        ])
        .unwrap();
        assert_eq!(config.plus_prefix, "beta");
        assert_eq!(
            config.message_id_pattern,
            MessageIdPattern::parse("fb-{id}@notify.example.com").unwrap()
        );
        assert_eq!(config.subject_pattern, TextPattern::parse("#{id}").unwrap());
        assert_eq!(
            config.body_marker_pattern,
            TextPattern::parse("ref#{id}#").unwrap()
        );
        assert_eq!(
            config.match_order,
            [Matcher::Subject, Matcher::PlusAddress, Matcher::BodyMarker]
        );
        assert_eq!(config.unmatched, Unmatched::New);
        assert_eq!(config.token_keys.len(), 2);
        assert_eq!(config.token_keys.primary(), b"0123456789abcdef-new");
        assert!(!config.sender_check);
    }

    #[test]
    fn unknown_key_names_it_and_lists_valid_ones() {
        let err = parse(&[("plus_prefix", "x")]).unwrap_err();
        assert_eq!(err, ConfigError::UnknownKey("plus_prefix".into()));
        let text = err.to_string();
        assert!(text.contains("`plus_prefix`"), "{text}");
        for key in KEYS {
            assert!(text.contains(key), "{text}");
        }
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let cases = [
            ("unmatched", "drop"),
            ("plus-prefix", ""),
            ("plus-prefix", "replies+"),
            ("match-order", "plus-address,body"),
            ("match-order", "subject,subject"),
            ("match-order", ""),
            ("subject-pattern", "[FB]"),
            ("message-id-pattern", "feedback-{id}@{id}"),
            ("body-marker-pattern", "{id}"),
            ("sender-check", "yes"),
        ];
        for (key, value) in cases {
            let err = parse(&[(key, value)]).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { key: k, value: v, .. } if k == key && v == value),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(&format!("`{key}`")), "{text}");
            assert!(text.contains(&format!("`{value}`")), "{text}");
        }
    }

    #[test]
    fn bad_token_keys_are_not_echoed() {
        let err = parse(&[("token-keys", "too-short-key")]).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("too-short-key"), "{text}");
        assert!(text.contains("`token-keys`"), "{text}");
        assert!(text.contains("shorter than 16 bytes"), "{text}");
    }

    #[test]
    fn duplicate_key() {
        let err = parse(&[("unmatched", "new"), ("unmatched", "skip")]).unwrap_err();
        assert_eq!(err, ConfigError::DuplicateKey("unmatched".into()));
    }
}
