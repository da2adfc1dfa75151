//! Bounded line reading and the multi-line (dot-terminated) reader, natively
//! in the host. Generic over `AsyncBufRead` so they run on a socket, a TLS
//! stream or a byte slice in tests and fuzzing.

use popline_core::timing::{self, Stage};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Why a read failed.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// End of stream before the line or response ended.
    Closed,
    /// No bytes arrived for the idle timeout.
    Timeout,
    /// A line longer than the bound (bytes).
    LineTooLong(u32),
    /// A multi-line response larger than the bound (bytes).
    TooLarge(u64),
    /// Bytes kept arriving, but slower than the minimum rate: `bytes` in
    /// `secs` seconds (a trickling server would otherwise hold the
    /// session for hours without ever tripping the idle timeout).
    TooSlow {
        bytes: u64,
        secs: u64,
    },
    Io(String),
}

/// How long a read may take: `idle` bounds silence; past the first `idle`,
/// the average rate must stay at or above `min_rate` bytes per second (0:
/// no rate check).
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub idle: Duration,
    pub min_rate: u64,
}

impl From<Duration> for Pace {
    fn from(idle: Duration) -> Pace {
        Pace { idle, min_rate: 0 }
    }
}

/// Tracks one read against its [`Pace`].
struct Clock {
    pace: Pace,
    start: Instant,
    bytes: u64,
}

impl Clock {
    fn new(pace: impl Into<Pace>) -> Clock {
        Clock {
            pace: pace.into(),
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// The next bytes, within the idle timeout and the minimum rate.
    async fn fill<'r, R: AsyncBufRead + Unpin>(
        &mut self,
        r: &'r mut R,
    ) -> Result<&'r [u8], WireError> {
        let elapsed = self.start.elapsed();
        if self.pace.min_rate > 0
            && elapsed > self.pace.idle
            && (self.bytes as f64) < self.pace.min_rate as f64 * elapsed.as_secs_f64()
        {
            return Err(WireError::TooSlow {
                bytes: self.bytes,
                secs: elapsed.as_secs(),
            });
        }
        let buf = fill(r, self.pace.idle).await?;
        self.bytes += buf.len() as u64;
        Ok(buf)
    }
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e.to_string())
    }
}

/// Read one line of at most `max` bytes (excluding the line end) and return
/// it without CR/LF. Invalid UTF-8 is replaced, never an error.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: u32,
    pace: impl Into<Pace>,
) -> Result<String, WireError> {
    let mut clock = Clock::new(pace);
    let mut line = Vec::new();
    loop {
        let buf = clock.fill(r).await?;
        if buf.is_empty() {
            return Err(WireError::Closed);
        }
        let (take, done) = match memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        // +2 leaves room for the CRLF itself.
        if line.len() + take > max as usize + 2 {
            return Err(WireError::LineTooLong(max));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            trim_eol(&mut line);
            if line.len() > max as usize {
                return Err(WireError::LineTooLong(max));
            }
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

/// Read a multi-line response body up to the terminating `.` line, undoing
/// dot-stuffing. Lines keep their CRLF (a bare LF becomes CRLF); the
/// terminator is not included.
///
/// `idle` bounds silence, not the whole transfer: a 30 MB message over a slow
/// link is fine as long as bytes keep arriving.
pub async fn read_multiline<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: u64,
    pace: impl Into<Pace>,
    out: &mut impl Collect,
) -> Result<(), WireError> {
    let mut clock = Clock::new(pace);
    // Where we are in the current line; kept across buffer refills.
    #[derive(Clone, Copy)]
    enum At {
        LineStart,
        AfterDot,
        AfterDotCr,
        InLine,
    }
    let mut at = At::LineStart;
    loop {
        let buf = clock.fill(r).await?;
        if buf.is_empty() {
            return Err(WireError::Closed);
        }
        let _t = timing::span(Stage::WireParse);
        let mut i = 0;
        while i < buf.len() {
            match at {
                At::LineStart => {
                    if buf[i] == b'.' {
                        at = At::AfterDot;
                        i += 1;
                    } else {
                        at = At::InLine;
                    }
                }
                At::AfterDot => match buf[i] {
                    b'\n' => {
                        r.consume(i + 1);
                        return Ok(());
                    }
                    b'\r' => {
                        at = At::AfterDotCr;
                        i += 1;
                    }
                    _ => at = At::InLine,
                },
                At::AfterDotCr => {
                    if buf[i] == b'\n' {
                        r.consume(i + 1);
                        return Ok(());
                    }
                    // "." CR <something>: a stuffed line that starts with CR.
                    push(out, b"\r", max)?;
                    at = At::InLine;
                }
                At::InLine => {
                    // Lines pass through as one run up to the first that
                    // needs a look: one ending in a bare LF, or followed by
                    // a dot (stuffed, or the terminator) or by the end of
                    // what arrived.
                    let rest = &buf[i..];
                    let has_cr = |n: usize| match n {
                        0 => out.last_byte() == Some(b'\r'),
                        _ => rest[n - 1] == b'\r',
                    };
                    let stop = memchr::memchr_iter(b'\n', rest)
                        .find(|&n| !has_cr(n) || rest.get(n + 1).is_none_or(|&next| next == b'.'));
                    match stop {
                        Some(n) => {
                            if has_cr(n) {
                                push(out, &rest[..=n], max)?;
                            } else {
                                // A bare LF: stored as CRLF.
                                push(out, &rest[..n], max)?;
                                push(out, b"\r\n", max)?;
                            }
                            i += n + 1;
                            at = At::LineStart;
                        }
                        None => {
                            // The last line goes on in the next read, and
                            // does not start with a dot.
                            push(out, rest, max)?;
                            i = buf.len();
                        }
                    }
                }
            }
        }
        r.consume(i);
    }
}

async fn fill<R: AsyncBufRead + Unpin>(r: &mut R, idle: Duration) -> Result<&[u8], WireError> {
    match timing::measure(Stage::TlsRead, tokio::time::timeout(idle, r.fill_buf())).await {
        Ok(res) => Ok(res?),
        Err(_) => Err(WireError::Timeout),
    }
}

fn push(out: &mut impl Collect, bytes: &[u8], max: u64) -> Result<(), WireError> {
    let room = max.saturating_sub(out.collected());
    if bytes.len() as u64 > room {
        // What fits is kept: the header section of a message too large to
        // take still names who sent it.
        let _ = out.append(&bytes[..room as usize]);
        return Err(WireError::TooLarge(max));
    }
    out.append(bytes)
        .map_err(|e| WireError::Io(format!("storing the response: {e}")))
}

/// Where a multi-line body goes: memory, or a [`popline_core::spool::Spooler`] that
/// moves to disk past a threshold.
pub trait Collect {
    /// Bytes collected so far.
    fn collected(&self) -> u64;
    /// The last byte collected.
    fn last_byte(&self) -> Option<u8>;
    /// Append bytes.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl Collect for Vec<u8> {
    fn collected(&self) -> u64 {
        self.len() as u64
    }
    fn last_byte(&self) -> Option<u8> {
        self.last().copied()
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl Collect for popline_core::spool::Spooler<'_> {
    fn collected(&self) -> u64 {
        self.len()
    }
    fn last_byte(&self) -> Option<u8> {
        self.last()
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.push(bytes)
    }
}

fn trim_eol(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    const T: Duration = Duration::from_secs(5);

    async fn multi(input: &[u8], cap: usize) -> (Result<(), WireError>, Vec<u8>, Vec<u8>) {
        let mut r = BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        let res = read_multiline(&mut r, 1 << 20, T, &mut out).await;
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut r, &mut rest)
            .await
            .unwrap();
        (res, out, rest)
    }

    #[tokio::test]
    async fn unstuffs_and_stops_at_terminator_for_every_buffer_size() {
        let input = b"Subject: x\r\n\r\n..leading dot\r\n.\r\n+OK next\r\n";
        for cap in 1..input.len() + 2 {
            let (res, out, rest) = multi(input, cap).await;
            assert_eq!(res, Ok(()), "cap {cap}");
            assert_eq!(out, b"Subject: x\r\n\r\n.leading dot\r\n", "cap {cap}");
            assert_eq!(rest, b"+OK next\r\n", "cap {cap}");
        }
    }

    /// RFC 1939 read line by line: the body up to the terminator with one
    /// leading dot removed from each line and bare LFs made CRLF, and what
    /// follows the terminator; `None` if there is none.
    fn unstuffed(input: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut body = Vec::new();
        let mut at = 0;
        while let Some(n) = input[at..].iter().position(|&b| b == b'\n') {
            let line = &input[at..at + n + 1];
            at += n + 1;
            if line == b".\r\n" || line == b".\n" {
                return Some((body, input[at..].to_vec()));
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            match line.strip_suffix(b"\r\n") {
                Some(text) => body.extend_from_slice(text),
                None => body.extend_from_slice(&line[..line.len() - 1]),
            }
            body.extend_from_slice(b"\r\n");
        }
        None
    }

    /// Random bodies of dots, CRs, bare LFs and text, read through buffers
    /// of many sizes, come out as the line-by-line reading says.
    #[tokio::test]
    async fn any_body_reads_as_line_by_line_unstuffing_says() {
        const PIECES: [&[u8]; 9] = [
            b"a", b"text ", b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.", b"\r\n.\r",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..400 {
            let mut input = Vec::new();
            for _ in 0..next(40) {
                input.extend_from_slice(PIECES[next(PIECES.len())]);
            }
            input.extend_from_slice(b"\r\n.\r\n+OK next\r\n");
            let (body, rest) = unstuffed(&input).unwrap();
            for cap in [1, 2, 3, 5, 8, 13, 64, 4096] {
                let (res, out, left) = multi(&input, cap).await;
                let shown = String::from_utf8_lossy(&input);
                assert_eq!(res, Ok(()), "case {case} cap {cap}: {shown:?}");
                assert_eq!(out, body, "case {case} cap {cap}: {shown:?}");
                assert_eq!(left, rest, "case {case} cap {cap}: {shown:?}");
            }
        }
    }

    #[tokio::test]
    async fn bare_lf_is_normalised_and_terminates() {
        let (res, out, rest) = multi(b"a\nb\r\n.\nX", 3).await;
        assert_eq!(res, Ok(()));
        assert_eq!(out, b"a\r\nb\r\n");
        assert_eq!(rest, b"X");
    }

    #[tokio::test]
    async fn a_trickle_below_the_minimum_rate_is_cut_off() {
        let (mut tx, rx) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for _ in 0..1000 {
                if tx.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut r = BufReader::new(rx);
        let pace = Pace {
            idle: Duration::from_millis(200),
            min_rate: 1000,
        };
        let mut out = Vec::new();
        let err = read_multiline(&mut r, 1 << 20, pace, &mut out)
            .await
            .unwrap_err();
        assert!(
            matches!(err, WireError::TooSlow { bytes, .. } if bytes > 0 && bytes < 50),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn closed_and_too_large_are_errors() {
        let (res, _, _) = multi(b"a\r\nb\r\n", 4).await;
        assert_eq!(res, Err(WireError::Closed));
        let mut r = BufReader::new(&b"0123456789\r\n.\r\n"[..]);
        let mut out = Vec::new();
        assert_eq!(
            read_multiline(&mut r, 5, T, &mut out).await,
            Err(WireError::TooLarge(5))
        );
        // What fit is kept (the header section of a message too large).
        assert_eq!(out, b"01234");
    }

    #[tokio::test]
    async fn line_bound() {
        let mut r = BufReader::with_capacity(2, &b"+OK hi\r\n+OK toolong\r\n"[..]);
        assert_eq!(read_line(&mut r, 6, T).await.unwrap(), "+OK hi");
        assert_eq!(
            read_line(&mut r, 6, T).await,
            Err(WireError::LineTooLong(6))
        );
        let mut r = BufReader::new(&b"+OK"[..]);
        assert_eq!(read_line(&mut r, 100, T).await, Err(WireError::Closed));
    }
}
