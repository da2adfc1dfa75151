//! Bounded line reading and the multi-line (dot-terminated) reader, natively
//! in the host. Generic over `AsyncBufRead` so they run on a socket, a TLS
//! stream or a byte slice in tests and fuzzing.

use std::time::Duration;

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
    Io(String),
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
    idle: Duration,
) -> Result<String, WireError> {
    let mut line = Vec::new();
    loop {
        let buf = fill(r, idle).await?;
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
    idle: Duration,
    out: &mut impl Collect,
) -> Result<(), WireError> {
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
        let buf = fill(r, idle).await?;
        if buf.is_empty() {
            return Err(WireError::Closed);
        }
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
                    let rest = &buf[i..];
                    match memchr(b'\n', rest) {
                        Some(n) => {
                            let has_cr = if n > 0 {
                                rest[n - 1] == b'\r'
                            } else {
                                out.last_byte() == Some(b'\r')
                            };
                            push(out, &rest[..n], max)?;
                            push(out, if has_cr { b"\n" } else { b"\r\n" }, max)?;
                            i += n + 1;
                            at = At::LineStart;
                        }
                        None => {
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
    match tokio::time::timeout(idle, r.fill_buf()).await {
        Ok(res) => Ok(res?),
        Err(_) => Err(WireError::Timeout),
    }
}

fn push(out: &mut impl Collect, bytes: &[u8], max: u64) -> Result<(), WireError> {
    if out.collected() + bytes.len() as u64 > max {
        return Err(WireError::TooLarge(max));
    }
    out.append(bytes)
        .map_err(|e| WireError::Io(format!("storing the response: {e}")))
}

/// Where a multi-line body goes: memory, or a [`crate::spool::Spooler`] that
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

impl Collect for crate::spool::Spooler<'_> {
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
    hay.iter().position(|&b| b == needle)
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

    #[tokio::test]
    async fn bare_lf_is_normalised_and_terminates() {
        let (res, out, rest) = multi(b"a\nb\r\n.\nX", 3).await;
        assert_eq!(res, Ok(()));
        assert_eq!(out, b"a\r\nb\r\n");
        assert_eq!(rest, b"X");
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
