//! `delay-proxy LISTEN_PORT TARGET_PORT DELAY_MS`: a TCP proxy on 127.0.0.1
//! that delays every chunk by DELAY_MS in each direction (so the round trip
//! grows by 2 × DELAY_MS) without serialising the latency: pipelined data
//! keeps flowing, as on a real long link. For the ingestion benchmark.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: delay-proxy LISTEN_PORT TARGET_PORT DELAY_MS"
    );
    let listen: u16 = args[1].parse()?;
    let target: u16 = args[2].parse()?;
    let delay = Duration::from_millis(args[3].parse()?);
    let listener = TcpListener::bind(("127.0.0.1", listen)).await?;
    println!(
        "delay-proxy 127.0.0.1:{} -> 127.0.0.1:{target}, +{delay:?} each way",
        listener.local_addr()?.port()
    );
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await {
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(pipe(cr, sw, delay), pipe(sr, cw, delay));
            }
        });
    }
}

/// Forward bytes from `r` to `w`, each chunk released `delay` after it arrived.
async fn pipe(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0
                || tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer);
}
