//! A small POP3-over-TLS client for the testkit's own tests (Dovecot and
//! the identity stand-in): enough to check the server, nothing more.
#![allow(dead_code)] // each test file uses a different part

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

/// A TLS connector trusting only the CA in `ca` (PEM).
pub fn connector(ca: &Path) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("reading CA") {
        roots.add(cert.expect("CA PEM")).expect("adding CA");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A POP3 session over any stream.
pub struct Pop3<S> {
    pub io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    /// A session on `io`, without reading anything yet.
    pub fn new(io: S) -> Pop3<S> {
        Pop3 {
            io: BufReader::new(io),
        }
    }

    /// A session on `io` whose `+OK` greeting has been read.
    pub async fn greeting(io: S) -> Pop3<S> {
        let mut pop = Pop3::new(io);
        let line = pop.line().await;
        assert!(line.starts_with("+OK"), "greeting: {line}");
        pop
    }

    /// One line, without CRLF.
    pub async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), self.io.read_until(b'\n', &mut buf))
            .await
            .expect("server answered in time")
            .expect("reading");
        String::from_utf8(buf)
            .expect("UTF-8 status line")
            .trim_end()
            .to_owned()
    }

    /// Whether the server has closed the connection (end of stream, no
    /// more lines).
    pub async fn closed(&mut self) -> bool {
        let mut buf = Vec::new();
        let read = self.io.read_until(b'\n', &mut buf);
        matches!(
            tokio::time::timeout(Duration::from_secs(10), read).await,
            Ok(Ok(0))
        )
    }

    /// Sends `command` and returns the status line (without CRLF).
    pub async fn cmd(&mut self, command: &str) -> String {
        self.io
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .expect("writing");
        self.io.get_mut().flush().await.expect("flushing");
        self.line().await
    }

    /// Sends `command`, expects `+OK` and returns the multi-line body, dot-unstuffed.
    pub async fn multi(&mut self, command: &str) -> Vec<u8> {
        let status = self.cmd(command).await;
        assert!(status.starts_with("+OK"), "{command}: {status}");
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            self.io.read_until(b'\n', &mut line).await.expect("reading");
            assert!(!line.is_empty(), "connection closed in a multi-line answer");
            if line == b".\r\n" {
                return body;
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            body.extend_from_slice(unstuffed);
        }
    }

    /// `USER` / `PASS`, both answered `+OK`.
    pub async fn login(&mut self, user: &str, password: &str) {
        let u = self.cmd(&format!("USER {user}")).await;
        assert!(u.starts_with("+OK"), "USER: {u}");
        let p = self.cmd(&format!("PASS {password}")).await;
        assert!(p.starts_with("+OK"), "PASS: {p}");
    }
}
