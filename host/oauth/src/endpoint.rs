//! Talking to the token and device-code endpoints, and turning the identity
//! platform's errors into messages an operator can act on.

use std::time::Duration;

use serde::Deserialize;

use super::AuthError;

/// A successful token response.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
}

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

/// What the endpoint said, when it was not a token.
pub enum Failure {
    /// An OAuth error response.
    OAuth(ErrorBody),
    /// 429 / 5xx / network: try again later.
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
}

/// POST a form; parse success as `T`, anything else as a [`Failure`].
pub async fn post_form<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<T, Failure> {
    let resp = match http.post(url).form(form).send().await {
        Ok(r) => r,
        Err(e) => {
            return Err(Failure::Transient {
                why: format!("cannot reach {}: {}", shown(url), without_url(&e)),
                retry_after: None,
            });
        }
    };
    let status = resp.status();
    let retry_after = popline_net::retry_after(resp.headers());
    let body = resp.bytes().await.unwrap_or_default();
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| Failure::Transient {
            why: format!(
                "{} answered {status} with an unreadable body: {e}",
                shown(url)
            ),
            retry_after: None,
        });
    }
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(Failure::Transient {
            why: format!("{} answered {status}", shown(url)),
            retry_after,
        });
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) if !b.error.is_empty() => Err(Failure::OAuth(b)),
        _ => Err(Failure::OAuth(ErrorBody {
            error: format!("http_{}", status.as_u16()),
            error_description: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            error_codes: Vec::new(),
        })),
    }
}

fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn without_url(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL; we already say which endpoint.
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "");
    }
    s.replace(" ()", "").trim().to_string()
}

/// The AADSTS number at the start of a Microsoft error description.
fn aadsts(b: &ErrorBody) -> Option<u64> {
    b.error_codes.first().copied().or_else(|| {
        let d = b.error_description.strip_prefix("AADSTS")?;
        d.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    })
}

/// Turn an OAuth error into what the operator must do.
pub fn explain(mailbox: &str, b: &ErrorBody) -> AuthError {
    let code = aadsts(b);
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
    let (needs_login, what, fix): (bool, &str, String) = match code {
        Some(700082) => (true, "the refresh token expired (unused for 90 days)", login),
        Some(50173) => (true, "the grant was revoked (password change or admin revocation)", login),
        Some(65001) => (
            false,
            "consent is missing for the requested scopes",
            "grant admin consent in Entra admin center → App registrations → API permissions → Grant admin consent".into(),
        ),
        Some(7000215) => (
            false,
            "the client secret is invalid",
            "copy the secret's Value (not its ID) from Certificates & secrets into the configured secret env/file".into(),
        ),
        Some(7000222) => (
            false,
            "the client secret has expired",
            "create a new secret under Certificates & secrets and update the configured secret env/file".into(),
        ),
        Some(700016) => (
            false,
            "the application was not found in the tenant",
            "check oauth.client_id and oauth.tenant against the app registration's Overview page".into(),
        ),
        Some(50076) | Some(50079) => (
            true,
            "multi-factor authentication is required",
            format!("use flow = \"authorization-code\" or \"device-code\" and {login}"),
        ),
        Some(700024) => (
            false,
            "the client assertion is outside its valid time range",
            "check this machine's clock (NTP); assertions are valid for 5 minutes".into(),
        ),
        Some(90002) => (false, "the tenant was not found", "check oauth.tenant (GUID or verified domain)".into()),
        _ if b.error == "invalid_grant" || b.error == "interaction_required" => {
            (true, "the stored grant is no longer valid", login)
        }
        _ if b.error == "invalid_client" || b.error == "unauthorized_client" => (
            false,
            "the client credentials were rejected",
            "check oauth.client_id, the secret or certificate, and the app registration".into(),
        ),
        _ => (false, "the identity platform refused the request", "see the error above".into()),
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
