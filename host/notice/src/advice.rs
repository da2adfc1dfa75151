//! What the operator should do about a submission error: Exchange Online's
//! enhanced status codes and the identity platform's consent errors
//! (docs/troubleshooting.md and docs/microsoft-365.md have the same table).

/// Advice for the server's answer `text` (its code and words), given
/// whether the login used OAuth, the login name and the `from` address.
pub fn for_smtp(text: &str, oauth: bool, login: &str, from: &str) -> Option<String> {
    if text.contains("5.7.139") {
        return Some(format!(
            "SMTP AUTH is disabled for the tenant or the mailbox {login}: in Exchange Online \
             PowerShell run `Set-CASMailbox -Identity {login} -SmtpClientAuthenticationDisabled \
             $false` (and check `Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled`; \
             security defaults also turn it off); see docs/microsoft-365.md, SMTP submission"
        ));
    }
    if text.contains("5.7.60") {
        return Some(format!(
            "SendAsDenied: {login} may not send as {from}: set [notices.NAME] from to {login}'s own \
             address, or grant it Send As: `Add-RecipientPermission -Identity {from} -Trustee \
             {login} -AccessRights SendAs`"
        ));
    }
    if text.contains("5.7.57") {
        return Some(
            "the server wants a login before accepting mail: set password or oauth in [notices.NAME]"
                .into(),
        );
    }
    let auth_failed = text.contains("(535)") || text.contains("5.7.3") || text.contains("5.7.8");
    auth_failed.then(|| login_refused(oauth, login))
}

/// Advice when the server refused the login itself.
pub fn login_refused(oauth: bool, login: &str) -> String {
    if oauth {
        return format!(
            "the server refused the access token for {login}: the app registration needs the \
             delegated permission SMTP.Send (Office 365 Exchange Online) with consent, or for \
             client credentials the application permission SMTP.SendAsApp with admin consent and \
             the app's service principal given access to the mailbox in Exchange \
             (`New-ServicePrincipal`, `Add-MailboxPermission`); consent revoked since the last \
             login has the same effect"
        );
    }
    format!(
        "wrong user ({login}) or password; Microsoft 365 refuses passwords for SMTP AUTH in \
         most tenants: use an [notices.NAME.oauth] table"
    )
}

/// Advice for an identity-platform error met while getting an SMTP token.
pub fn for_token(text: &str) -> Option<String> {
    let consent = ["AADSTS65001", "AADSTS65004", "consent"];
    let scope = [
        "AADSTS70011",
        "AADSTS500011",
        "invalid_scope",
        "invalid_resource",
    ];
    if consent.iter().any(|c| text.contains(c)) {
        return Some(
            "for notices the app needs SMTP.Send (delegated) or SMTP.SendAsApp (client \
             credentials) under Office 365 Exchange Online in API permissions, with admin \
             consent; without admin consent, a sign-in made before the notice server shared it \
             did not consent to SMTP.Send: run `popline auth login` for it again, which asks for \
             POP and SMTP at once"
                .into(),
        );
    }
    if scope.iter().any(|c| text.contains(c)) {
        return Some(
            "leave oauth.scopes out of [notices.NAME.oauth]: popline asks for \
             https://outlook.office.com/SMTP.Send (delegated) or \
             https://outlook.office365.com/.default (client credentials)"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_has_its_fix() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            (
                "permanent error (535): 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
                true,
                Some("-SmtpClientAuthenticationDisabled $false"),
            ),
            (
                "permanent error (550): 5.7.60 SMTP; Client does not have permissions to send as this sender",
                true,
                Some("Add-RecipientPermission"),
            ),
            (
                "permanent error (535): 5.7.8 Error: authentication failed",
                true,
                Some("SMTP.SendAsApp"),
            ),
            (
                "permanent error (535): 5.7.3 Authentication unsuccessful",
                false,
                Some("oauth"),
            ),
            (
                "permanent error (530): 5.7.57 Client not authenticated",
                false,
                Some("password or oauth"),
            ),
            ("permanent error (550): 5.1.1 no such user", true, None),
        ];
        for (text, oauth, want) in cases {
            let got = for_smtp(text, *oauth, "beta@contoso.example", "beta@contoso.example");
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g.contains(w), "{text}: {g}"),
                (g, w) => panic!("{text}: {g:?}, wanted {w:?}"),
            }
        }
        assert!(
            for_token("consent is missing (invalid_grant: AADSTS65001: ...)")
                .unwrap()
                .contains("SMTP.Send")
        );
        assert!(
            for_token("AADSTS70011: invalid scope")
                .unwrap()
                .contains("oauth.scopes")
        );
        assert_eq!(for_token("token endpoint unavailable: timeout"), None);
    }
}
