use std::fmt;

use crate::capa::Capabilities;
use crate::error::{Error, ErrorKind};

/// A login method the host can perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `USER` / `PASS` (RFC 1939).
    UserPass,
    /// SASL `PLAIN` (RFC 4616).
    Plain,
    /// SASL `XOAUTH2` (Google / Microsoft bearer tokens).
    XOAuth2,
    /// SASL `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
}

/// The kind of credential the host holds (never the credential itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A password, for `USER`/`PASS` or `PLAIN`.
    Password,
    /// An OAuth 2 access token, for `XOAUTH2` or `OAUTHBEARER`.
    BearerToken,
}

impl Mechanism {
    /// The operator-facing name: `USER`, `PLAIN`, `XOAUTH2`, `OAUTHBEARER`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::UserPass => "USER",
            Mechanism::Plain => "PLAIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Parse an operator-facing name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Mechanism::UserPass,
            Mechanism::Plain,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The credential kind this mechanism transmits.
    pub fn credential(self) -> CredentialKind {
        match self {
            Mechanism::UserPass | Mechanism::Plain => CredentialKind::Password,
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => CredentialKind::BearerToken,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::Password => "a password",
            CredentialKind::BearerToken => "a bearer token",
        })
    }
}

/// How sure we are that the server accepts a mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Availability {
    /// Advertised in CAPA.
    Offered,
    /// Not advertised, but the server gave no reason to think it is missing.
    Plausible,
    /// The server's CAPA rules it out.
    Unavailable,
}

/// Choose how to log in.
///
/// `preference` is the operator's list of allowed mechanism names in order
/// (empty: choose from what the server offers). Among the allowed mechanisms
/// that fit `credential`, an advertised one wins; failing that, one the server
/// may accept without advertising it:
///
/// * bearer token: `XOAUTH2`, then `OAUTHBEARER`; when CAPA lists no SASL at
///   all, `XOAUTH2` is tried anyway (some servers omit it);
/// * password: `PLAIN` if advertised, else `USER`/`PASS` (the RFC 1939
///   baseline), unless the connection is not TLS and the server's CAPA lists
///   neither, which means it hides its logins until TLS.
///
/// When nothing fits, the error ([`ErrorKind::Unsupported`]) says what the
/// server offers and what the credential needs.
pub fn choose_mechanism(
    caps: &Capabilities,
    tls: bool,
    credential: CredentialKind,
    preference: &[String],
) -> Result<Mechanism, Error> {
    let allowed: Vec<Mechanism> = if preference.is_empty() {
        match credential {
            CredentialKind::Password => vec![Mechanism::Plain, Mechanism::UserPass],
            CredentialKind::BearerToken => vec![Mechanism::XOAuth2, Mechanism::OAuthBearer],
        }
    } else {
        preference
            .iter()
            .map(|name| {
                Mechanism::from_name(name).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "unknown login mechanism {name:?} in the allowed list; \
                             this plugin knows USER, PLAIN, XOAUTH2 and OAUTHBEARER"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };

    let fitting: Vec<Mechanism> = allowed
        .iter()
        .copied()
        .filter(|m| m.credential() == credential)
        .collect();
    if fitting.is_empty() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "none of the allowed mechanisms [{}] can use {credential}",
                names(&allowed)
            ),
        ));
    }

    // `min_by_key` keeps the first of equals, so preference order breaks ties.
    let (best, availability) = fitting
        .iter()
        .map(|&m| (m, availability(caps, tls, m)))
        .min_by_key(|&(_, availability)| availability)
        .expect("fitting is not empty");
    if availability != Availability::Unavailable {
        return Ok(best);
    }

    let mut message = format!(
        "server offers {} but the credential is {credential}; {} is needed",
        describe_offer(caps),
        fitting
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    if !tls {
        message.push_str(" (the connection is not TLS; servers often offer logins only after TLS)");
    }
    Err(Error::new(ErrorKind::Unsupported, message))
}

fn availability(caps: &Capabilities, tls: bool, mechanism: Mechanism) -> Availability {
    match mechanism {
        Mechanism::UserPass if caps.user() => Availability::Offered,
        // Servers such as Dovecot drop USER from CAPA until TLS is up.
        Mechanism::UserPass if caps.announced() && !tls => Availability::Unavailable,
        Mechanism::UserPass => Availability::Plausible,
        sasl if caps.offers_sasl(sasl.name()) => Availability::Offered,
        // A server that lists SASL mechanisms lists all of them.
        _ if caps.sasl() => Availability::Unavailable,
        // Bearer SASL is worth a try against servers that omit SASL from CAPA;
        // PLAIN is not, since USER/PASS is the baseline for passwords.
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => Availability::Plausible,
        Mechanism::Plain => Availability::Unavailable,
    }
}

/// "SASL [PLAIN XOAUTH2] and USER", "no SASL mechanisms", ...
fn describe_offer(caps: &Capabilities) -> String {
    let sasl = caps.sasl_mechanisms();
    let mut offer = if sasl.is_empty() {
        "no SASL mechanisms".to_owned()
    } else {
        format!("SASL [{}]", sasl.join(" "))
    };
    if caps.user() {
        offer.push_str(" and USER");
    }
    offer
}

fn names(mechanisms: &[Mechanism]) -> String {
    mechanisms
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialKind::{BearerToken, Password};
    use Mechanism::*;

    fn caps(body: &str) -> Capabilities {
        Capabilities::parse(body.as_bytes())
    }

    fn dovecot() -> Capabilities {
        caps(
            "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n",
        )
    }

    fn office365() -> Capabilities {
        caps("TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n")
    }

    fn prefs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn choose(
        caps: &Capabilities,
        tls: bool,
        credential: CredentialKind,
        pref: &[&str],
    ) -> Result<Mechanism, Error> {
        choose_mechanism(caps, tls, credential, &prefs(pref))
    }

    #[test]
    fn names_round_trip() {
        for m in [UserPass, Plain, XOAuth2, OAuthBearer] {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
        assert_eq!(Mechanism::from_name("LOGIN"), None);
        assert_eq!(XOAuth2.to_string(), "XOAUTH2");
    }

    #[test]
    fn bearer_prefers_xoauth2_then_oauthbearer() {
        assert_eq!(choose(&dovecot(), true, BearerToken, &[]), Ok(XOAuth2));
        assert_eq!(choose(&office365(), true, BearerToken, &[]), Ok(XOAuth2));
        let only_oauthbearer = caps("SASL PLAIN OAUTHBEARER\r\n");
        assert_eq!(
            choose(&only_oauthbearer, true, BearerToken, &[]),
            Ok(OAuthBearer)
        );
    }

    #[test]
    fn bearer_tries_xoauth2_when_no_sasl_is_advertised() {
        assert_eq!(
            choose(&caps("TOP\r\nUIDL\r\nUSER\r\n"), true, BearerToken, &[]),
            Ok(XOAuth2)
        );
        assert_eq!(
            choose(&Capabilities::default(), true, BearerToken, &[]),
            Ok(XOAuth2)
        );
    }

    #[test]
    fn bearer_against_password_only_sasl_is_a_clear_error() {
        let e = choose(&caps("SASL PLAIN\r\n"), true, BearerToken, &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(
            e.message,
            "server offers SASL [PLAIN] but the credential is a bearer token; XOAUTH2 or OAUTHBEARER is needed"
        );
        let e = choose(
            &caps("USER\r\nSASL PLAIN LOGIN\r\n"),
            false,
            BearerToken,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "server offers SASL [PLAIN LOGIN] and USER but the credential is a bearer token; \
             XOAUTH2 or OAUTHBEARER is needed \
             (the connection is not TLS; servers often offer logins only after TLS)"
        );
    }

    #[test]
    fn password_prefers_plain_then_user() {
        assert_eq!(choose(&dovecot(), true, Password, &[]), Ok(Plain));
        assert_eq!(
            choose(&caps("USER\r\nSASL XOAUTH2\r\n"), true, Password, &[]),
            Ok(UserPass)
        );
        // No CAPA at all: the RFC 1939 baseline, not an unadvertised PLAIN.
        assert_eq!(
            choose(&Capabilities::default(), true, Password, &[]),
            Ok(UserPass)
        );
        assert_eq!(
            choose(&Capabilities::default(), false, Password, &[]),
            Ok(UserPass)
        );
        // CAPA without USER over TLS: still worth a try.
        assert_eq!(
            choose(&caps("TOP\r\nUIDL\r\n"), true, Password, &[]),
            Ok(UserPass)
        );
    }

    #[test]
    fn password_on_plaintext_connection_hiding_logins_is_an_error() {
        // A server that offers logins only after STLS.
        let before_tls = caps("TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\n");
        let e = choose(&before_tls, false, Password, &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(
            e.message,
            "server offers no SASL mechanisms but the credential is a password; PLAIN or USER is needed \
             (the connection is not TLS; servers often offer logins only after TLS)"
        );
        // The same server over TLS advertises its logins; if it still did not,
        // USER is worth a try.
        assert_eq!(choose(&before_tls, true, Password, &[]), Ok(UserPass));
    }

    #[test]
    fn preference_order_wins_among_offered() {
        assert_eq!(
            choose(&dovecot(), true, BearerToken, &["OAUTHBEARER", "XOAUTH2"]),
            Ok(OAuthBearer)
        );
        assert_eq!(
            choose(&dovecot(), true, Password, &["user", "plain"]),
            Ok(UserPass)
        );
        // Mechanisms for the other credential kind are skipped.
        assert_eq!(
            choose(&dovecot(), true, Password, &["XOAUTH2", "PLAIN"]),
            Ok(Plain)
        );
    }

    #[test]
    fn offered_beats_plausible_even_if_preferred_later() {
        // USER is not advertised, PLAIN is: PLAIN wins despite the order.
        assert_eq!(
            choose(&caps("SASL PLAIN\r\n"), true, Password, &["USER", "PLAIN"]),
            Ok(Plain)
        );
        // OAUTHBEARER preferred but no SASL line: plausible, so tried.
        assert_eq!(
            choose(&caps("UIDL\r\n"), true, BearerToken, &["OAUTHBEARER"]),
            Ok(OAuthBearer)
        );
    }

    #[test]
    fn preference_that_the_server_rules_out_is_an_error() {
        let e = choose(&office365(), true, BearerToken, &["OAUTHBEARER"]).unwrap_err();
        assert_eq!(
            e.message,
            "server offers SASL [PLAIN XOAUTH2] and USER but the credential is a bearer token; OAUTHBEARER is needed"
        );
        let e = choose(&caps("SASL XOAUTH2\r\n"), true, Password, &["PLAIN"]).unwrap_err();
        assert_eq!(
            e.message,
            "server offers SASL [XOAUTH2] but the credential is a password; PLAIN is needed"
        );
    }

    #[test]
    fn preference_without_a_fitting_mechanism_is_an_error() {
        let e = choose(&dovecot(), true, BearerToken, &["PLAIN", "USER"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(
            e.message,
            "none of the allowed mechanisms [PLAIN, USER] can use a bearer token"
        );
    }

    #[test]
    fn unknown_preference_is_an_error() {
        let e = choose(&dovecot(), true, Password, &["PLAIN", "CRAM-MD5"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message
                .starts_with("unknown login mechanism \"CRAM-MD5\""),
            "{}",
            e.message
        );
    }
}
