//! Test certificates: a throwaway CA and a server certificate it signs.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A test CA and a server certificate signed by it, written as PEM files.
///
/// The server certificate names `IP:127.0.0.1`, `IP:127.0.0.2` and
/// `DNS:localhost`, so clients can verify it on every listener
/// [`Dovecot`](crate::Dovecot) opens. Keys are ECDSA P-256 (made with `ring`).
#[derive(Clone, Debug)]
pub struct Tls {
    /// The CA certificate clients should trust (`ca.pem`).
    pub ca_pem: PathBuf,
    /// The server certificate (`server.crt`, PEM, leaf only).
    pub server_cert: PathBuf,
    /// The server's private key (`server.key`, PKCS#8 PEM).
    pub server_key: PathBuf,
}

impl Tls {
    /// Generates a fresh CA and server certificate into `dir` (created if missing)
    /// as `ca.pem`, `server.crt` and `server.key`.
    pub fn generate(dir: &Path) -> Result<Tls> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (ca_params, ca_key) = ca_params("popline test CA")?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "popline test server");
        params.subject_alt_names = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            SanType::DnsName("localhost".try_into()?),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = params.signed_by(&server_key, &issuer)?;

        let tls = Tls {
            ca_pem: dir.join("ca.pem"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        write(&tls.ca_pem, &ca_cert.pem())?;
        write(&tls.server_cert, &server_cert.pem())?;
        write(&tls.server_key, &server_key.serialize_pem())?;
        // Only Dovecot's master (root) reads the key.
        fs::set_permissions(&tls.server_key, fs::Permissions::from_mode(0o600))?;
        Ok(tls)
    }

    /// Writes the certificate of a second CA, unrelated to any other, to
    /// `dir/rogue-ca.pem` and returns its path. A client that trusts only this
    /// CA must refuse every server certificate made by [`Tls::generate`].
    pub fn rogue_ca(dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (params, key) = ca_params("popline rogue CA")?;
        let path = dir.join("rogue-ca.pem");
        write(&path, &params.self_signed(&key)?.pem())?;
        Ok(path)
    }
}

fn ca_params(name: &str) -> Result<(CertificateParams, KeyPair)> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok((params, KeyPair::generate()?))
}

fn write(path: &Path, pem: &str) -> Result<()> {
    fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}
