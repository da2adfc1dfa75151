//! The identity platform's errors as messages an operator can act on: each
//! AADSTS code with its cause and fix.

use serde::Deserialize;

use super::AuthError;

/// An OAuth error body (RFC 6749 §5.2, plus Microsoft's `error_codes`).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
}

/// The AADSTS number at the start of a Microsoft error description.
fn aadsts(b: &ErrorBody) -> Option<u64> {
    b.error_codes.first().copied().or_else(|| {
        let d = b.error_description.strip_prefix("AADSTS")?;
        d.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    })
}

/// What an AADSTS code means and what fixes it. `{login}` in a fix stands
/// for the login command of the mailbox.
struct Cause {
    code: u64,
    /// Whether a person signing in again is the fix (the mailbox then waits
    /// in "needs login" instead of retrying).
    needs_login: bool,
    what: &'static str,
    fix: &'static str,
}

const LOGIN: &str = "{login}";

/// Microsoft's codes an operator meets, each with its own cause and fix
/// (docs/troubleshooting.md has the same table).
const CAUSES: &[Cause] = &[
    Cause {
        code: 700082,
        needs_login: true,
        what: "the refresh token expired (unused for 90 days)",
        fix: LOGIN,
    },
    Cause {
        code: 50173,
        needs_login: true,
        what: "the grant was revoked (password change or admin revocation)",
        fix: LOGIN,
    },
    Cause {
        code: 65001,
        needs_login: false,
        what: "consent is missing for the requested scopes",
        fix: "grant admin consent in Entra admin center → App registrations → API permissions → Grant admin consent",
    },
    Cause {
        code: 65004,
        needs_login: true,
        what: "the person signing in declined consent to the app's permissions",
        fix: "{login} again and accept the permissions, or have an admin grant consent for the tenant (API permissions → Grant admin consent)",
    },
    Cause {
        code: 7000215,
        needs_login: false,
        what: "the client secret is invalid",
        fix: "copy the secret's Value (not its ID) from Certificates & secrets into the configured secret env/file",
    },
    Cause {
        code: 7000222,
        needs_login: false,
        what: "the client secret has expired",
        fix: "create a new secret under Certificates & secrets and update the configured secret env/file",
    },
    Cause {
        code: 7000218,
        needs_login: false,
        what: "the app expects a client secret or certificate: it is a confidential client (\"Allow public client flows\" is off, or the redirect URI is under the Web platform)",
        fix: "for a person signing in without a secret, turn on App registration → Authentication → Allow public client flows and register the redirect URI under \"Mobile and desktop applications\"; otherwise set client_secret or certificate in the mailbox's [oauth] table",
    },
    Cause {
        code: 700025,
        needs_login: false,
        what: "the app is a public client, which must not send a secret or certificate",
        fix: "remove client_secret/certificate from the mailbox's [oauth] table, or register the redirect URI under the Web platform so the app is a confidential client",
    },
    Cause {
        code: 700016,
        needs_login: false,
        what: "the application was not found in the tenant",
        fix: "check oauth.client_id and oauth.tenant against the app registration's Overview page",
    },
    Cause {
        code: 50194,
        needs_login: false,
        what: "the app is single-tenant, so it cannot sign in through `organizations` or `common`",
        fix: "set oauth.tenant to the Directory (tenant) ID from the app registration's Overview page",
    },
    Cause {
        code: 9002332,
        needs_login: false,
        what: "the app accepts work or school accounts only, not personal Microsoft accounts (`consumers`)",
        fix: "for a Microsoft 365 mailbox set oauth.tenant to your tenant ID; for an Outlook.com mailbox change the app's Supported account types to include personal Microsoft accounts",
    },
    Cause {
        code: 500011,
        needs_login: false,
        what: "the requested resource is not in the tenant: a typo in a scope's host, a national-cloud tenant asked through the global cloud, or no Exchange Online in the tenant",
        fix: "leave oauth.scopes out (popline picks the cloud's POP scopes from oauth.authority), or check its host; national clouds: see docs/microsoft-365.md",
    },
    Cause {
        code: 70011,
        needs_login: false,
        what: "a requested scope is invalid",
        fix: "leave oauth.scopes out, or use `https://outlook.office.com/POP.AccessAsUser.All offline_access` (delegated) / `https://outlook.office365.com/.default` (client credentials; nothing else may be combined with .default)",
    },
    Cause {
        code: 50076,
        needs_login: true,
        what: "multi-factor authentication is required",
        fix: "use flow = \"authorization-code\" or \"device-code\" and {login}",
    },
    Cause {
        code: 50079,
        needs_login: true,
        what: "multi-factor authentication is required",
        fix: "use flow = \"authorization-code\" or \"device-code\" and {login}",
    },
    Cause {
        code: 50158,
        needs_login: true,
        what: "an external security challenge (a Conditional Access control) was not satisfied",
        fix: "{login} and complete the challenge; if it recurs, the Entra admin must adjust the policy for this app",
    },
    Cause {
        code: 53003,
        needs_login: false,
        what: "Conditional Access blocked the sign-in",
        fix: "an Entra admin must check the sign-in log (Entra admin center → Sign-in logs → Conditional Access) and exempt this app, location or service account, or meet the policy",
    },
    Cause {
        code: 700024,
        needs_login: false,
        what: "the client assertion is outside its valid time range",
        fix: "check this machine's clock (NTP); assertions are valid for 5 minutes",
    },
    Cause {
        code: 90002,
        needs_login: false,
        what: "the tenant was not found",
        fix: "check oauth.tenant (GUID or verified domain), and oauth.authority for a national cloud",
    },
];

/// Turn an OAuth error into what the operator must do.
pub fn explain(mailbox: &str, b: &ErrorBody) -> AuthError {
    let first_line = b
        .error_description
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let said = if first_line.is_empty() {
        b.error.clone()
    } else {
        format!("{}: {first_line}", b.error)
    };
    let login = format!("run `popline auth login {mailbox}` (or `--device`)");
    let known = aadsts(b).and_then(|code| CAUSES.iter().find(|c| c.code == code));
    let (needs_login, what, fix): (bool, &str, String) = match known {
        Some(c) => (c.needs_login, c.what, c.fix.replace(LOGIN, &login)),
        None => match b.error.as_str() {
            "bad_verification_code" => (
                true,
                "the device code was not recognised (mistyped, or from another login)",
                format!(
                    "run `popline auth login {mailbox} --device` again and enter the code it shows"
                ),
            ),
            "invalid_grant" | "interaction_required" => {
                (true, "the stored grant is no longer valid", login)
            }
            "invalid_client" | "unauthorized_client" => (
                false,
                "the client credentials were rejected",
                "check oauth.client_id, the secret or certificate, and the app registration".into(),
            ),
            _ => (
                false,
                "the identity platform refused the request",
                "see the error above".into(),
            ),
        },
    };
    let message = format!("{what} ({said}); {fix}");
    if needs_login {
        AuthError::NeedsLogin(message)
    } else {
        AuthError::Refused(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(error: &str, desc: &str, codes: &[u64]) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            error_description: desc.into(),
            error_codes: codes.to_vec(),
        }
    }

    /// Every code in the table, and the error names without one: login
    /// or not, and a word of the fix.
    #[test]
    fn each_code_has_its_own_cause_and_fix() {
        let cases: &[(&str, u64, bool, &str)] = &[
            ("invalid_grant", 700082, true, "90 days"),
            ("invalid_grant", 50173, true, "revoked"),
            ("invalid_grant", 65001, false, "admin consent"),
            ("invalid_grant", 65004, true, "declined"),
            ("invalid_client", 7000215, false, "Value (not its ID)"),
            ("invalid_client", 7000222, false, "new secret"),
            (
                "invalid_client",
                7000218,
                false,
                "Allow public client flows",
            ),
            ("invalid_request", 700025, false, "remove client_secret"),
            ("unauthorized_client", 700016, false, "client_id"),
            ("invalid_request", 50194, false, "Directory (tenant) ID"),
            (
                "invalid_request",
                9002332,
                false,
                "personal Microsoft accounts",
            ),
            ("invalid_resource", 500011, false, "national"),
            ("invalid_scope", 70011, false, "POP.AccessAsUser.All"),
            ("interaction_required", 50076, true, "device-code"),
            ("interaction_required", 50079, true, "device-code"),
            ("interaction_required", 50158, true, "challenge"),
            ("invalid_grant", 53003, false, "Conditional Access"),
            ("invalid_client", 700024, false, "clock"),
            ("invalid_request", 90002, false, "oauth.tenant"),
        ];
        for &(error, code, needs_login, fix) in cases {
            let e = explain(
                "beta",
                &body(error, &format!("AADSTS{code}: text.\r\nTrace ID: x"), &[]),
            );
            assert_eq!(
                matches!(e, AuthError::NeedsLogin(_)),
                needs_login,
                "{code}: {e}"
            );
            assert!(e.to_string().contains(fix), "{code}: {e}");
            assert!(
                e.to_string().contains(&format!("AADSTS{code}")),
                "{code}: {e}"
            );
            assert!(!e.to_string().contains("Trace ID"), "{code}: {e}");
            assert!(!e.to_string().contains("{login}"), "{code}: {e}");
        }
        assert_eq!(CAUSES.len(), cases.len(), "a code without a test row");
        let e = explain("beta", &body("bad_verification_code", "", &[]));
        assert!(
            matches!(&e, AuthError::NeedsLogin(m) if m.contains("--device")),
            "{e}"
        );
        let e = explain(
            "beta",
            &body("invalid_grant", "AADSTS70000: other", &[70000]),
        );
        assert!(
            matches!(&e, AuthError::NeedsLogin(m) if m.contains("popline auth login beta")),
            "{e}"
        );
    }

    #[test]
    fn aadsts_codes_become_actions() {
        let e = explain(
            "beta",
            &body(
                "invalid_grant",
                "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x",
                &[700082],
            ),
        );
        assert!(
            matches!(&e, AuthError::NeedsLogin(m) if m.contains("popline auth login beta") && m.contains("90 days")),
            "{e}"
        );
        assert!(!e.to_string().contains("Trace ID"));
        let e = explain(
            "beta",
            &body(
                "invalid_client",
                "AADSTS7000222: The provided client secret keys are expired.",
                &[],
            ),
        );
        assert!(
            matches!(&e, AuthError::Refused(m) if m.contains("new secret")),
            "{e}"
        );
        let e = explain(
            "beta",
            &body("invalid_grant", "AADSTS65001: consent", &[65001]),
        );
        assert!(e.to_string().contains("admin consent"));
        let e = explain(
            "beta",
            &body("interaction_required", "AADSTS50076: MFA", &[50076]),
        );
        assert!(matches!(e, AuthError::NeedsLogin(_)));
        let e = explain(
            "beta",
            &body(
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.",
                &[700024],
            ),
        );
        assert!(e.to_string().contains("clock"));
        let e = explain(
            "beta",
            &body("unauthorized_client", "AADSTS700016: not found", &[700016]),
        );
        assert!(e.to_string().contains("client_id"));
    }
}
