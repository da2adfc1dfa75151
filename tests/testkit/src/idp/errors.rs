//! Errors in Microsoft's shape: one table of the AADSTS codes the stand-in
//! answers with or tests inject (OAuth `error` and description), the JSON
//! body, and the description's trace, correlation id and timestamp.

use std::time::{Duration, UNIX_EPOCH};

use hyper::StatusCode;
use hyper::header::RETRY_AFTER;
use serde::Serialize;

use super::http::{Cx, Reply, json_reply};
use super::state::{REFRESH_MAX_INACTIVE, Shared, unix_now};
use super::{Fault, OUTLOOK, TENANT};

/// `code OAuth-error "description"`: the AADSTS codes the stand-in answers
/// with or tests inject. `{name}` in a description is filled in by
/// [`aadsts`]; `{tenant}`, `{docs}` and `{outlook}` always.
macro_rules! errors {
    ($($code:literal $error:ident $text:literal)*) => {
        const ERRORS: &[(u32, &str, &str)] = &[$(($code, stringify!($error), $text)),*];
    };
}

errors! {
    900144 invalid_request "The request body must contain the following parameter: '{param}'."
    900561 invalid_request "The endpoint only accepts POST requests. Received a {method} request."
    90002 invalid_request "Tenant '{tenant}' not found. Check to make sure you have the correct \
        tenant ID and are signing into the correct cloud. Check with your subscription \
        administrator, this may happen if there are no active subscriptions for the tenant."
    50194 invalid_request "Application '{client_id}'({display_name}) is not configured as a \
        multi-tenant application. Usage of the /common endpoint is not supported for such \
        applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the \
        application to be multi-tenant."
    9002332 invalid_request "Application '{client_id}'({display_name}) is configured for use by \
        Azure Active Directory users only. Please do not use the /consumers endpoint to serve \
        this request."
    70003 unsupported_grant_type "The app requested an unsupported grant type '{grant_type}'."
    90055 temporarily_unavailable "There are too many incoming requests. Retry later."
    90033 temporarily_unavailable "A transient error has occurred. Please try again."
    700016 unauthorized_client "Application with identifier '{client_id}' was not found in the \
        directory '{tenant}'. This can happen if the application has not been installed by the \
        administrator of the tenant or consented to by any user in the tenant. You may have sent \
        your authentication request to the wrong tenant."
    7000218 invalid_client "The request body must contain the following parameter: \
        'client_assertion' or 'client_secret'."
    700025 invalid_client "Client is public so neither 'client_assertion' nor 'client_secret' \
        should be presented."
    7000215 invalid_client "Invalid client secret provided. Ensure the secret being sent in the \
        request is the client secret value, not the client secret ID, for a secret added to app \
        '{client_id}'."
    7000222 invalid_client "The provided client secret keys for app '{client_id}' are expired. \
        Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, \
        or consider using certificate credentials for added security: https://aka.ms/certCreds."
    50027 invalid_client "JWT token is invalid or malformed. {why}"
    700027 invalid_client "Client assertion failed signature validation."
    700023 invalid_client "Client assertion audience claim does not match Realm issuer. {docs}"
    700021 invalid_client "Client assertion application identifier doesn't match 'client_id' \
        parameter. {docs}"
    700024 invalid_client "Client assertion is not within its valid time range. Current time: \
        {now}, assertion valid from {nbf}, expiry time of assertion {exp}. {docs}"
    700054 unsupported_response_type "response_type '{response_type}' is not enabled for the \
        application. The stand-in supports only 'code'."
    9002325 invalid_request "Proof Key for Code Exchange is required for cross-origin \
        authorization code redemption."
    501491 invalid_request "Invalid size of Code_Challenge parameter or code_challenge_method is \
        not S256 (the stand-in accepts only S256)."
    50034 invalid_request "The user account {upn} does not exist in the {tenant} directory. To \
        sign into this application, the account must be added to the directory."
    50058 login_required "A silent sign-in request was sent but no user is signed in."
    65001 invalid_grant "The user or administrator has not consented to use the application with \
        ID '{client_id}' named '{display_name}'. Send an interactive authorization request for \
        this user and resource."
    28000 invalid_scope "Provided value for the input parameter scope is not valid because it \
        contains more than one resource. Scope {scope} is not valid."
    1002012 invalid_scope "The provided value for scope {scope} is not valid. Client credential \
        flows must have a scope value with /.default suffixed to the resource identifier \
        (application ID URI)."
    500011 invalid_resource "The resource principal named {resource} was not found in the tenant \
        named {tenant}. This can happen if the application has not been installed by the \
        administrator of the tenant or consented to by any user in the tenant. You might have \
        sent your authentication request to the wrong tenant. (The stand-in serves only {scope}.)"
    50076 interaction_required "Due to a configuration change made by your administrator, or \
        because you moved to a new location, you must use multi-factor authentication to access \
        '{outlook}'."
    50079 interaction_required "Due to a configuration change made by your administrator, or \
        because you moved to a new location, you must enroll in multi-factor authentication to \
        access '{outlook}'."
    9002313 invalid_grant "Invalid request. Request is malformed or invalid."
    70000 invalid_grant "Provided grant is invalid or malformed. {why}"
    54005 invalid_grant "OAuth2 Authorization code was already redeemed, please retry with a new \
        valid code or use an existing refresh token."
    501481 invalid_grant "The Code_Verifier does not match the code_challenge supplied in the \
        authorization request."
    700082 invalid_grant "The refresh token has expired due to inactivity. The token was issued \
        on {issued} and was inactive for 90.00:00:00."
    50173 invalid_grant "The provided grant has expired due to it being revoked, a fresh auth \
        token is needed. The user might have changed or reset their password. The grant was \
        issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for \
        this user is '{valid_from}'."
    70016 authorization_pending "OAuth 2.0 device flow error. Authorization is pending. Continue \
        polling."
    65004 access_denied "User declined to consent to access the app."
    70018 bad_verification_code "The device_code sent to the token endpoint wasn't recognized."
    70019 expired_token "Verification code expired."
}

const CERT_DOCS: &str = "Review the documentation at \
     https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

#[derive(Debug)]
pub(super) struct OAuthError {
    pub error: String,
    pub code: u32,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &str, code: u32, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error: error.into(),
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// AADSTS900144: a required parameter is missing.
    pub fn missing(param: &str) -> OAuthError {
        aadsts(900144, &[("param", param)])
    }

    /// Microsoft answers invalid_client with 401, everything else with 400.
    pub fn status(&self) -> StatusCode {
        match self.code {
            90055 => StatusCode::TOO_MANY_REQUESTS,
            90033 => StatusCode::SERVICE_UNAVAILABLE,
            _ if self.error == "invalid_client" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A [`Fault`] as an error, with Microsoft's text for known codes
    /// (placeholders filled with made-up dates around now).
    pub fn from_fault(fault: &Fault, client_id: &str, display_name: &str) -> OAuthError {
        let (code, error) = match fault {
            Fault::TooManyRequests { retry_after } => {
                let retry_after = Some(*retry_after);
                return OAuthError {
                    retry_after,
                    ..aadsts(90055, &[])
                };
            }
            Fault::Unavailable => return aadsts(90033, &[]),
            Fault::Aadsts { code, error } => (*code, error),
        };
        let now = unix_now();
        let ago = |secs: u64| iso(now.saturating_sub(secs));
        let args = [
            ("client_id", client_id),
            ("display_name", display_name),
            ("now", &ago(0)),
            ("issued", &ago(REFRESH_MAX_INACTIVE.as_secs())),
            ("valid_from", &ago(0)),
            ("nbf", &ago(1200)),
            ("exp", &ago(600)),
        ];
        let description = match lookup(code) {
            Some((_, text)) => fill(text, &args),
            None => "Injected fault.".into(),
        };
        OAuthError::new(error, code, description)
    }
}

/// The OAuth `error` and description text of `code` in [`ERRORS`].
fn lookup(code: u32) -> Option<(&'static str, &'static str)> {
    let (_, error, text) = ERRORS.iter().find(|(c, ..)| *c == code)?;
    Some((error, text))
}

/// Microsoft's error for `code` (from [`ERRORS`]), its description's
/// `{name}`s filled from `args`.
pub(super) fn aadsts(code: u32, args: &[(&str, &str)]) -> OAuthError {
    let (error, text) = lookup(code).unwrap_or_else(|| panic!("AADSTS{code} is not in the table"));
    OAuthError::new(error, code, fill(text, args))
}

/// `Err(aadsts(code, args))`.
pub(super) fn fail<T>(code: u32, args: &[(&str, &str)]) -> Result<T, OAuthError> {
    Err(aadsts(code, args))
}

/// The OAuth `error` Microsoft sends with `code` (`invalid_request` for
/// codes the stand-in does not know).
pub(super) fn oauth_error(code: u32) -> &'static str {
    lookup(code).map_or("invalid_request", |(error, _)| error)
}

/// `text` with `{name}` replaced from `args` and the fixed names; a name
/// left unknown is dropped.
fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let fixed = [
        ("tenant", TENANT),
        ("docs", CERT_DOCS),
        ("outlook", OUTLOOK),
    ];
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('{') {
        let (name, after) = after.split_once('}').unwrap_or((after, ""));
        out.push_str(before);
        let value = args.iter().chain(&fixed).find(|(n, _)| *n == name);
        out.push_str(value.map_or("", |(_, v)| v));
        rest = after;
    }
    out.push_str(rest);
    out.trim_end().to_owned()
}

/// Microsoft's error body, fields in Microsoft's order.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: &'a str,
    correlation_id: &'a str,
    error_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    suberror: Option<&'a str>,
}

impl Shared {
    pub fn error_reply(&self, cx: &Cx, e: &OAuthError) -> Reply {
        let body = ErrorBody {
            error: &e.error,
            error_description: describe(cx, e.code, &e.description),
            error_codes: [e.code],
            timestamp: timestamp(unix_now()),
            trace_id: &cx.trace_id,
            correlation_id: &cx.correlation_id,
            error_uri: format!("{}/error?code={}", self.base, e.code),
            suberror: (e.code == 65001).then_some("consent_required"),
        };
        let mut reply = json_reply(e.status(), &body);
        if let Some(secs) = e.retry_after {
            reply.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        reply
    }
}

/// The full description Microsoft sends: text, trace, correlation, time.
pub(super) fn describe(cx: &Cx, code: u32, text: &str) -> String {
    format!(
        "AADSTS{code}: {text}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
        cx.trace_id,
        cx.correlation_id,
        timestamp(unix_now())
    )
}

/// `2016-01-09T02:02:12Z`
fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

/// Microsoft's error `timestamp`: `2016-01-09 02:02:12Z`.
fn timestamp(unix: u64) -> String {
    rfc3339(unix).replacen('T', " ", 1)
}

/// The dates inside descriptions: `2016-01-09T02:02:12.0000000Z`.
pub(super) fn iso(unix: u64) -> String {
    rfc3339(unix).replace('Z', ".0000000Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_microsoft() {
        assert_eq!(timestamp(1_452_304_932), "2016-01-09 02:02:12Z");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00.0000000Z");
    }

    #[test]
    fn descriptions_are_filled_in() {
        let e = aadsts(700016, &[("client_id", "app-1")]);
        assert_eq!(
            (e.error.as_str(), e.status().as_u16()),
            ("unauthorized_client", 400)
        );
        assert!(e.description.starts_with(&format!(
            "Application with identifier 'app-1' was not found in the directory '{TENANT}'."
        )));
        // Unknown names are dropped; a trailing one leaves no blank.
        let e = aadsts(70000, &[]);
        assert_eq!(e.description, "Provided grant is invalid or malformed.");
        assert_eq!(aadsts(7000215, &[]).status().as_u16(), 401);
        let codes: std::collections::HashSet<u32> = ERRORS.iter().map(|(c, ..)| *c).collect();
        assert_eq!(codes.len(), ERRORS.len(), "a code twice in the table");
    }
}
