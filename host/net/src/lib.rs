//! TCP and TLS for POP3, owned by the host.
//!
//! Certificates are always verified: against the bundled Mozilla roots plus,
//! optionally, an extra CA file per mailbox. There is no option to turn
//! verification off.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

/// A connection to a server, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<BufReader<TcpStream>>>),
}

/// How much TLS data one read from the socket may take. rustls asks for one
/// record at a time (about 4 KiB from Dovecot); a buffer below it turns a
/// large RETR from one syscall per record into one per 64 KiB.
const TLS_READ_BUFFER: usize = 64 * 1024;

/// TLS settings for one server: verified roots and the name to check.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl TlsClient {
    /// Roots: webpki's Mozilla set plus every certificate in `ca_file`.
    pub fn new(host: &str, ca_file: Option<&Path>) -> anyhow::Result<TlsClient> {
        let config = rustls_config(ca_file)?;
        let server_name = ServerName::try_from(host.to_string())
            .with_context(|| format!("{host:?} is not a valid TLS server name"))?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Run the TLS handshake over an established TCP stream.
    pub async fn handshake(&self, tcp: TcpStream) -> io::Result<Stream> {
        let tls = self
            .connector
            .connect(
                self.server_name.clone(),
                BufReader::with_capacity(TLS_READ_BUFFER, tcp),
            )
            .await?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// A verifying rustls client configuration (ring provider): webpki's Mozilla
/// roots plus every PEM certificate in `ca_file`. Shared by POP3, the http
/// sink and OAuth, so every TLS connection popline makes is verified alike.
pub fn rustls_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading CA file {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing PEM certificates in {}", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!(
                "CA file {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("adding a CA from {}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An HTTP client that verifies TLS like the rest of popline and never
/// follows redirects (a redirect would carry secrets elsewhere).
pub fn http_client(timeout: Duration, ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_preconfigured_tls(rustls_config(ca_file)?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .context("building the HTTP client")
}

/// Why a URL may not carry secrets or records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsecureUrl {
    /// Plain `http://` to a host that is not loopback.
    PlainHttp,
    /// Neither `https` nor `http`.
    Scheme(String),
}

/// The rule for every URL popline sends secrets or records to: `https`, or
/// plain `http` to a loopback host (a local test server).
pub fn check_url_security(url: &reqwest::Url) -> Result<(), InsecureUrl> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if url_is_loopback(url) => Ok(()),
        "http" => Err(InsecureUrl::PlainHttp),
        other => Err(InsecureUrl::Scheme(other.to_string())),
    }
}

/// Whether `url`'s host is `localhost` or a loopback address.
pub fn url_is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(is_loopback),
        None => false,
    }
}

/// The longest `Retry-After` popline honours.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// `Retry-After` in seconds, capped at [`RETRY_AFTER_CAP`] (the HTTP-date
/// form is ignored: callers fall back to their backoff). Used by the http
/// sink and the OAuth token client.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP))
}

/// Open a TCP connection with a timeout.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection to {host}:{port} within {timeout:?}"),
            )
        })??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

impl Stream {
    /// Whether the stream is protected by TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Whether the peer is a loopback address (where plaintext may be allowed).
    pub fn peer_is_loopback(&self) -> bool {
        let tcp = match self {
            Stream::Plain(t) => t,
            Stream::Tls(t) => t.get_ref().0.get_ref(),
        };
        tcp.peer_addr()
            .map(|a| is_loopback(a.ip()))
            .unwrap_or(false)
    }

    /// The plain TCP stream, for an STLS upgrade.
    pub fn into_plain(self) -> Option<TcpStream> {
        match self {
            Stream::Plain(t) => Some(t),
            Stream::Tls(_) => None,
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Describe a TLS failure so an operator can act on it.
pub fn explain_tls_error(e: &io::Error, host: &str) -> String {
    let inner = e.to_string();
    if inner.contains("UnknownIssuer") || inner.contains("invalid peer certificate") {
        format!(
            "TLS certificate of {host} is not trusted ({inner}); if the server uses a private or self-signed CA, set `ca_file` for this mailbox"
        )
    } else if inner.contains("NotValidForName") {
        format!(
            "TLS certificate is not valid for the name {host} ({inner}); connect using a name the certificate lists"
        )
    } else {
        format!("TLS handshake with {host} failed: {inner}")
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_over_https_or_to_loopback_only() {
        let check = |u: &str| check_url_security(&reqwest::Url::parse(u).unwrap());
        for ok in [
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://127.0.0.1/",
            "http://127.8.9.1/",
            "http://[::1]/",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check("http://idp.example.com/token"),
            Err(InsecureUrl::PlainHttp)
        );
        assert_eq!(
            check("http://localhost.example.com/"),
            Err(InsecureUrl::PlainHttp)
        );
        assert_eq!(check("http://10.0.0.1/"), Err(InsecureUrl::PlainHttp));
        assert_eq!(
            check("ftp://localhost/"),
            Err(InsecureUrl::Scheme("ftp".into()))
        );
    }
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(RETRY_AFTER_CAP));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
