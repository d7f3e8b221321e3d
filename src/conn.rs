//! A client connection with explicit buffers, shared by the SMTP and POP3
//! sessions.
//!
//! Owning the read buffer ourselves (rather than a `BufReader`) matters for
//! two protocol rules: replies are flushed whenever the client's input is
//! drained, which is how RFC 2920 §3.1 wants pipelined replies sent; and at
//! STARTTLS/STLS the bytes the client sent after the command are visible, so
//! they can be thrown away instead of being run as if they had come over TLS
//! (CVE-2011-0411).

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What reading a line gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its LF (a CR before it is kept).
    Complete(Vec<u8>),
    /// A line longer than the limit; all of it, up to its LF, was thrown
    /// away, so no part of it can be taken for a command.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// A connection to one client.
pub struct Conn<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
}

/// The error a read or write gives when the client was idle too long.
pub fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        Conn {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            wbuf: Vec::with_capacity(4096),
        }
    }

    /// Unwraps the stream, returning also the bytes read but not consumed.
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.rbuf)
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf
    }

    /// Drops `n` buffered bytes.
    pub fn consume(&mut self, n: usize) {
        self.rbuf.advance(n);
    }

    /// Drops everything buffered.
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.rbuf.len();
        self.rbuf.clear();
        n
    }

    /// Queues bytes to send; they go out at the next flush.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Sends everything queued.
    pub async fn flush(&mut self, timeout: Duration) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let w = async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(timeout, w)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timeout"))??;
        self.wbuf.clear();
        Ok(())
    }

    /// Reads more from the client, first sending whatever is queued (the
    /// client may be waiting for those replies). Returns 0 at end of stream.
    pub async fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        self.flush(timeout).await?;
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        tokio::time::timeout(timeout, self.stream.read_buf(&mut self.rbuf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timeout"))?
    }

    /// Reads one line of at most `max` octets (LF included). The whole line
    /// must arrive within `timeout`: a client trickling a byte at a time
    /// cannot hold a session open forever (slowloris).
    pub async fn read_line(&mut self, max: usize, timeout: Duration) -> io::Result<Line> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let mut scanned = 0;
        loop {
            if let Some(pos) = self.rbuf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + pos;
                if end < max {
                    let line = self.rbuf.split_to(end + 1);
                    return Ok(Line::Complete(line[..end].to_vec()));
                }
                self.rbuf.advance(end + 1);
                return Ok(Line::TooLong);
            }
            if self.rbuf.len() >= max {
                return self.skip_line(left()).await;
            }
            scanned = self.rbuf.len();
            if self.fill(left()).await? == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    /// Throws away input up to and including the next LF.
    async fn skip_line(&mut self, timeout: Duration) -> io::Result<Line> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pos) = self.rbuf.iter().position(|&b| b == b'\n') {
                self.rbuf.advance(pos + 1);
                return Ok(Line::TooLong);
            }
            self.rbuf.clear();
            if self
                .fill(deadline.saturating_duration_since(tokio::time::Instant::now()))
                .await?
                == 0
            {
                return Ok(Line::Eof);
            }
        }
    }

    /// Sends everything queued and shuts the write side down.
    pub async fn close(&mut self, timeout: Duration) {
        let _ = self.flush(timeout).await;
        let _ = tokio::time::timeout(timeout, self.stream.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_dropped_whole() {
        let (client, server) = tokio::io::duplex(64);
        let mut conn = Conn::new(server);
        let writer = tokio::spawn(async move {
            let mut c = client;
            let long = format!(
                "NOOP {}RCPT TO:<v@example.net>\r\nQUIT\r\n",
                "X".repeat(5000)
            );
            c.write_all(long.as_bytes()).await.unwrap();
            c
        });
        let t = Duration::from_secs(5);
        assert_eq!(conn.read_line(4096, t).await.unwrap(), Line::TooLong);
        assert_eq!(
            conn.read_line(4096, t).await.unwrap(),
            Line::Complete(b"QUIT\r".to_vec())
        );
        drop(writer.await.unwrap());
        assert_eq!(conn.read_line(4096, t).await.unwrap(), Line::Eof);
    }
}
