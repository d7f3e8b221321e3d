//! Messages as POP3 sends them (RFC 1939 §3): canonical CRLF line ends,
//! a dot added before every line that starts with one, and the terminating
//! `.` line.

use nmail_sync::message::CrlfNormalizer;

/// Turns a message file, chunk by chunk, into a multi-line response body.
#[derive(Debug)]
pub struct Stuffer {
    crlf: CrlfNormalizer,
    line_start: bool,
    empty: bool,
    scratch: Vec<u8>,
}

impl Default for Stuffer {
    fn default() -> Self {
        Stuffer {
            crlf: CrlfNormalizer::default(),
            line_start: true,
            empty: true,
            scratch: Vec::new(),
        }
    }
}

impl Stuffer {
    /// Appends the wire form of `chunk` to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.scratch.clear();
        self.crlf.push(chunk, &mut self.scratch);
        self.stuff(out);
    }

    fn stuff(&mut self, out: &mut Vec<u8>) {
        let mut rest = &self.scratch[..];
        if !rest.is_empty() {
            self.empty = false;
        }
        while !rest.is_empty() {
            if self.line_start && rest[0] == b'.' {
                out.push(b'.');
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    out.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    self.line_start = true;
                }
                None => {
                    out.extend_from_slice(rest);
                    self.line_start = false;
                    rest = &[];
                }
            }
        }
    }

    /// Ends the response: a CRLF if the message did not end with one (it
    /// is counted in the size the index reports), then `.`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.scratch.clear();
        self.crlf.finish(&mut self.scratch);
        self.stuff(out);
        if !self.empty && !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// The TOP response body (RFC 1939 §7): the header section, the empty line
/// that ends it, and `lines` lines of the body, stuffed and terminated.
/// A message without an empty line is all header.
pub fn top(raw: &[u8], lines: u64) -> Vec<u8> {
    let mut canon = Vec::with_capacity(raw.len() + 64);
    let mut n = CrlfNormalizer::default();
    n.push(raw, &mut canon);
    n.finish(&mut canon);
    let mut end = 0;
    let mut in_body = false;
    let mut body_lines = 0u64;
    let mut pos = 0;
    while pos < canon.len() {
        let next = canon[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(canon.len(), |i| pos + i + 1);
        if in_body {
            if body_lines == lines {
                break;
            }
            body_lines += 1;
        } else if &canon[pos..next] == b"\r\n" {
            in_body = true;
        }
        end = next;
        pos = next;
    }
    let mut out = Vec::with_capacity(end + 8);
    let mut s = Stuffer::default();
    s.push(&canon[..end], &mut out);
    s.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(raw: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = Stuffer::default();
        let mut out = Vec::new();
        for c in raw.chunks(chunk) {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn stuffing() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".a\r\n..\r\n.\r\n", b"..a\r\n...\r\n..\r\n.\r\n"),
            (b"a\n.b", b"a\r\n..b\r\n.\r\n"),
            (b"\r\n", b"\r\n.\r\n"),
            (b"x.\r\n", b"x.\r\n.\r\n"),
        ];
        for (raw, want) in table {
            for chunk in [1, 2, 100] {
                assert_eq!(stuffed(raw, chunk), *want, "{raw:?}");
            }
        }
    }

    #[test]
    fn top_lines() {
        let m = b"From: a\r\nSubject: s\r\n folded\r\n\r\nb1\r\n.b2\r\nb3\r\n";
        assert_eq!(top(m, 0), b"From: a\r\nSubject: s\r\n folded\r\n\r\n.\r\n");
        assert_eq!(
            top(m, 2),
            b"From: a\r\nSubject: s\r\n folded\r\n\r\nb1\r\n..b2\r\n.\r\n"
        );
        assert_eq!(top(m, u64::MAX), stuffed(m, 100));
        assert_eq!(
            top(b"Subject: only\r\nFrom: a\r\n", 0),
            b"Subject: only\r\nFrom: a\r\n.\r\n"
        );
        assert_eq!(top(b"", 5), b".\r\n");
    }
}
