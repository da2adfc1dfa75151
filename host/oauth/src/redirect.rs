//! The loopback listener of the authorization code flow: where the
//! browser brings the code back.

use std::time::Duration;

use anyhow::Context;

/// Listen where `redirect_uri` (a loopback `http` URI) points, and the URI
/// to send: with no port given, on a free one (Microsoft matches loopback
/// redirect URIs on any port). `localhost` listens on 127.0.0.1 and, when
/// it can, on [::1] at the same port, since browsers may resolve it to
/// either.
pub async fn listen_for_redirect(
    redirect_uri: &str,
) -> anyhow::Result<(Vec<tokio::net::TcpListener>, reqwest::Url)> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use tokio::net::TcpListener;
    let mut url = reqwest::Url::parse(redirect_uri)
        .with_context(|| format!("oauth.redirect_uri {redirect_uri:?} is not a URL"))?;
    let ips: &[IpAddr] = match url.host() {
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => &[
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => &[IpAddr::V6(Ipv6Addr::LOCALHOST)],
        _ => anyhow::bail!(
            "oauth.redirect_uri must be a loopback http URI such as http://localhost/callback, not {redirect_uri:?}"
        ),
    };
    anyhow::ensure!(
        url.scheme() == "http",
        "oauth.redirect_uri must use http:// (a loopback listener has no certificate), not {redirect_uri:?}"
    );
    let first = TcpListener::bind((ips[0], url.port().unwrap_or(0)))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{} for the redirect",
                ips[0],
                url.port().unwrap_or(0)
            )
        })?;
    let port = first.local_addr()?.port();
    let mut listeners = vec![first];
    for ip in &ips[1..] {
        // Best effort: a host without IPv6 still has 127.0.0.1.
        if let Ok(l) = TcpListener::bind((*ip, port)).await {
            listeners.push(l);
        }
    }
    url.set_port(Some(port))
        .map_err(|()| anyhow::anyhow!("oauth.redirect_uri {redirect_uri:?} cannot take a port"))?;
    Ok((listeners, url))
}

/// Accept one HTTP request on the redirect path, on any of `listeners`;
/// return `(code, state)`.
pub async fn receive_redirect(
    listeners: &[tokio::net::TcpListener],
    path: &str,
) -> anyhow::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut sock, _) = match listeners {
            [only] => only.accept().await?,
            [a, b, ..] => tokio::select! {
                r = a.accept() => r?,
                r = b.accept() => r?,
            },
            [] => anyhow::bail!("no listener for the redirect"),
        };
        let mut buf = vec![0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await??;
        let req = String::from_utf8_lossy(&buf[..n]);
        let target = req.split_whitespace().nth(1).unwrap_or("");
        let url = reqwest::Url::parse(&format!("http://localhost{target}"))?;
        if url.path() != path {
            let _ = sock
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
            continue;
        }
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let (body, result) = match (get("code"), get("state"), get("error")) {
            (Some(code), Some(state), _) => (
                "Signed in. You can close this window and return to popline.",
                Ok((code, state)),
            ),
            (_, _, Some(err)) => (
                "Sign-in failed; see popline's output.",
                Err(anyhow::anyhow!(
                    "sign-in failed: {err}: {}",
                    get("error_description").unwrap_or_default()
                )),
            ),
            _ => (
                "Unexpected request.",
                Err(anyhow::anyhow!("the redirect carried no code")),
            ),
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        return result;
    }
}
