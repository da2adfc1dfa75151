//! Client authentication at `/token`: a client secret (form or HTTP Basic)
//! or a client assertion signed with a registered certificate.

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, signature};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::errors::{OAuthError, fail, iso};
use super::http::{RecordedRequest as Req, credential_eq};
use super::state::{AppRec, ClientAuth, Shared, State, unix_now};
use super::{JWT_BEARER, TENANT};

/// Microsoft accepts client assertions valid for at most about ten minutes.
const MAX_ASSERTION_LIFETIME: i64 = 600;

/// A certificate registered for an app, as assertions are checked against it.
pub(super) struct CertRec {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    /// PKCS#1 `RSAPublicKey`, what ring verifies with.
    public_key: Vec<u8>,
}

impl CertRec {
    pub fn parse(pem: &str) -> Result<CertRec> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| anyhow!("not a PEM certificate: {e:?}"))?;
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|e| anyhow!("malformed certificate DER: {e}"))?;
        let spki = cert.public_key();
        let Ok(PublicKey::RSA(_)) = spki.parsed() else {
            bail!("the certificate's key is not RSA (Microsoft accepts RSA certificates)");
        };
        Ok(CertRec {
            sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
                .as_ref()
                .to_vec(),
            sha256: digest::digest(&digest::SHA256, &der).as_ref().to_vec(),
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }
}

impl Shared {
    /// Client authentication: a secret (form or HTTP Basic) or a certificate
    /// assertion; none only outside client credentials (apps are public
    /// clients).
    pub fn authenticate_client(
        &self,
        st: &mut State,
        tenant: &str,
        req: &Req,
        app: &AppRec,
        credentials_required: bool,
    ) -> Result<ClientAuth, OAuthError> {
        let client_id = &app.app.client_id;
        let form_secret = req.form("client_secret");
        let basic_secret = req
            .basic_auth
            .as_ref()
            .filter(|(id, _)| credential_eq(id, client_id))
            .map(|(_, s)| s.as_str());
        let assertion = req.form("client_assertion");
        if form_secret.or(basic_secret).is_none() && assertion.is_none() {
            if credentials_required {
                return fail(7000218, &[]);
            }
            return Ok(ClientAuth::Public);
        }
        if app.app.secret.is_none() && app.certs.is_empty() {
            return fail(700025, &[]);
        }
        let registered = app.app.secret.as_deref();
        let secret_matches = match (form_secret, basic_secret) {
            (Some(sent), _) => Some(registered == Some(sent)),
            (None, Some(sent)) => Some(registered.is_some_and(|s| credential_eq(sent, s))),
            (None, None) => None,
        };
        match (secret_matches, assertion) {
            (Some(false), _) => fail(7000215, &[("client_id", client_id)]),
            (Some(true), None) => Ok(ClientAuth::Secret),
            (_, assertion) => {
                if req.form("client_assertion_type") != Some(JWT_BEARER) {
                    return malformed(&format!("client_assertion_type must be '{JWT_BEARER}'."));
                }
                // The audience is the token endpoint as the client addressed it.
                let audiences =
                    [tenant, TENANT].map(|t| format!("{}/{t}/oauth2/v2.0/token", self.base));
                let jwt = assertion.unwrap_or_default();
                self.validate_assertion(st, app, jwt, &audiences)?;
                Ok(ClientAuth::Certificate)
            }
        }
    }

    fn validate_assertion(
        &self,
        st: &mut State,
        app: &AppRec,
        jwt: &str,
        audiences: &[String],
    ) -> Result<(), OAuthError> {
        let client_id = &app.app.client_id;
        let [header_b64, claims_b64, sig_b64] = jwt.split('.').collect::<Vec<_>>()[..] else {
            return malformed("Not a JWS compact serialization.");
        };
        let json = |part: &str| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let (Some(header), Some(claims), Ok(sig)) = (
            json(header_b64),
            json(claims_b64),
            URL_SAFE_NO_PAD.decode(sig_b64),
        ) else {
            return malformed("Undecodable header, claims or signature.");
        };
        let alg = match header["alg"].as_str() {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            other => {
                return malformed(&format!(
                    "Unsupported alg {other:?}; RS256 or PS256 expected."
                ));
            }
        };
        let thumbprint = |name: &str| {
            header[name]
                .as_str()
                .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        };
        let (cert, thumb) = match (thumbprint("x5t#S256"), thumbprint("x5t")) {
            (Some(t), _) => (app.certs.iter().find(|c| c.sha256 == t), t),
            (None, Some(t)) => (app.certs.iter().find(|c| c.sha1 == t), t),
            (None, None) => {
                return malformed("The client assertion header has neither 'x5t#S256' nor 'x5t'.");
            }
        };
        let Some(cert) = cert else {
            return Err(OAuthError::new(
                "invalid_client",
                700027,
                format!(
                    "The certificate with identifier used to sign the client assertion is not \
                     registered on application. [Reason - The key was not found., Thumbprint of \
                     key used by client: '{}', Please visit the Azure Portal, Graph Explorer or \
                     directly use MS Graph to see configured keys for app Id '{client_id}'.]",
                    hex::encode_upper(&thumb)
                ),
            ));
        };
        let signing_input = format!("{header_b64}.{claims_b64}");
        signature::UnparsedPublicKey::new(alg, &cert.public_key)
            .verify(signing_input.as_bytes(), &sig)
            .or(fail(700027, &[]))?;
        if !claims["aud"]
            .as_str()
            .is_some_and(|aud| audiences.iter().any(|a| a == aud))
        {
            return fail(700023, &[]);
        }
        if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
            return fail(700021, &[]);
        }
        let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
            return malformed("The 'nbf' and 'exp' claims are required.");
        };
        let now = unix_now() as i64;
        if now < nbf || now >= exp || exp - nbf > MAX_ASSERTION_LIFETIME {
            let at = |t: i64| iso(t.max(0) as u64);
            let (now, nbf, exp) = (at(now), at(nbf), at(exp));
            return fail(700024, &[("now", &now), ("nbf", &nbf), ("exp", &exp)]);
        }
        let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
            return malformed("The 'jti' claim is required.");
        };
        st.jtis.retain(|_, e| *e > now);
        if st.jtis.insert(jti.to_owned(), exp).is_some() {
            // Microsoft's exact code for a replayed assertion is not documented.
            return malformed(&format!("The assertion with jti '{jti}' was already used."));
        }
        Ok(())
    }
}

/// AADSTS50027: an unusable client assertion.
fn malformed<T>(why: &str) -> Result<T, OAuthError> {
    fail(50027, &[("why", why)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rsa_certificates_register() {
        let ecdsa = rcgen::generate_simple_self_signed(["app.example".to_owned()]).unwrap();
        let refused = CertRec::parse(&ecdsa.cert.pem()).err().unwrap();
        assert!(refused.to_string().contains("not RSA"), "{refused}");
        assert!(CertRec::parse("not PEM").is_err());
    }
}
