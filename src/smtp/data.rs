//! The DATA phase (RFC 5321 §4.1.1.4, §4.5.2), sans I/O: finds the end of
//! the message, removes dot-stuffing, and turns stray line ends into CRLF.
//!
//! Only `<CRLF>.<CRLF>` ends the data. `<LF>.<LF>`, `<CR>.<CR>`,
//! `<LF>.<CRLF>` and the like are message text, never a boundary: treating
//! them as one is what made the SMTP smuggling attacks of December 2023
//! work (CVE-2023-51764/51765/51766). A line here is what ends in LF (with or
//! without a CR before it): such lines lose one leading dot, which is how
//! clients that end lines with bare LF, such as Python's smtplib, stuff
//! them. A lone "." that is not a real end marker is kept as text. A bare CR
//! does not start a line.
//!
//! RFC 5321 §2.3.8 forbids bare CR and LF in data; the receiver records that
//! it saw one, and writes CRLF in its place, so stored messages always use
//! CRLF. The session decides whether to refuse such a message.

/// Where in a line the receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `crlf` tells whether the line before ended
    /// in CRLF (the data's start counts as such).
    LineStart { crlf: bool },
    /// Saw "." at the start of a line.
    Dot { crlf: bool },
    /// Saw ".<CR>" at the start of a line.
    DotCr { crlf: bool },
    /// Inside a line.
    Mid,
    /// Inside a line, right after a CR.
    MidCr,
    /// The end marker was seen.
    Done,
}

/// Incremental receiver of one message's data.
#[derive(Debug)]
pub struct DataReceiver {
    state: State,
    /// Octets of message text produced so far (counted even when not kept).
    pub size: u64,
    /// True once a bare CR or bare LF was seen.
    pub bare_line_end: bool,
}

impl Default for DataReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl DataReceiver {
    /// A receiver at the start of the data, right after the 354 reply.
    pub fn new() -> Self {
        DataReceiver {
            state: State::LineStart { crlf: true },
            size: 0,
            bare_line_end: false,
        }
    }

    /// True once the end marker has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds bytes from the connection. Message text is appended to `out`
    /// (unless `out` is `None`, for data that is over the size limit and
    /// only read to find its end). Returns how many bytes of `input` were
    /// consumed: all of them, or those up to and including the end marker,
    /// after which the rest belongs to the next command.
    pub fn feed(&mut self, input: &[u8], mut out: Option<&mut Vec<u8>>) -> usize {
        let start_len = out.as_ref().map(|o| o.len());
        let mut produced = 0u64;
        let mut emit = |bytes: &[u8], out: &mut Option<&mut Vec<u8>>| {
            produced += bytes.len() as u64;
            if let Some(o) = out.as_mut() {
                o.extend_from_slice(bytes);
            }
        };
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => break,
                State::Mid => {
                    // Fast path: copy up to the next CR or LF at once.
                    let rest = &input[i..];
                    let n = rest
                        .iter()
                        .position(|&c| c == b'\r' || c == b'\n')
                        .unwrap_or(rest.len());
                    emit(&rest[..n], &mut out);
                    i += n;
                    if i < input.len() {
                        self.line_end_byte(input[i], &mut emit, &mut out);
                        i += 1;
                    }
                    continue;
                }
                State::MidCr => match b {
                    b'\n' => {
                        emit(b"\r\n", &mut out);
                        self.state = State::LineStart { crlf: true };
                    }
                    b'\r' => {
                        self.bare_line_end = true;
                        emit(b"\r\n", &mut out);
                    }
                    _ => {
                        self.bare_line_end = true;
                        emit(b"\r\n", &mut out);
                        self.state = State::Mid;
                        continue; // b is ordinary text, not a line start
                    }
                },
                State::LineStart { crlf } => {
                    if b == b'.' {
                        self.state = State::Dot { crlf };
                    } else {
                        self.state = State::Mid;
                        continue;
                    }
                }
                State::Dot { crlf } => match b {
                    b'\r' => self.state = State::DotCr { crlf },
                    b'\n' => {
                        // "." ended by a bare LF: text, not an end marker.
                        self.bare_line_end = true;
                        emit(b".\r\n", &mut out);
                        self.state = State::LineStart { crlf: false };
                    }
                    _ => {
                        // A stuffed line: drop the dot, the rest is text.
                        self.state = State::Mid;
                        continue;
                    }
                },
                State::DotCr { crlf } => match b {
                    b'\n' if crlf => {
                        self.state = State::Done;
                        i += 1;
                        break;
                    }
                    b'\n' => {
                        // "<LF>.<CRLF>": a lone dot after a bare-LF line.
                        emit(b".\r\n", &mut out);
                        self.state = State::LineStart { crlf: true };
                    }
                    _ => {
                        // ".<CR>x": stuffed line holding a bare CR.
                        self.bare_line_end = true;
                        emit(b"\r\n", &mut out);
                        self.state = State::Mid;
                        continue;
                    }
                },
            }
            i += 1;
        }
        self.size += produced;
        debug_assert!(
            start_len.is_none_or(|s| out.is_none_or(|o| o.len() as u64 - s as u64 == produced))
        );
        i
    }

    fn line_end_byte(
        &mut self,
        b: u8,
        emit: &mut impl FnMut(&[u8], &mut Option<&mut Vec<u8>>),
        out: &mut Option<&mut Vec<u8>>,
    ) {
        if b == b'\r' {
            self.state = State::MidCr;
        } else {
            self.bare_line_end = true;
            emit(b"\r\n", out);
            self.state = State::LineStart { crlf: false };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `chunk` bytes; returns the message, the
    /// bytes left after the end marker, and the bare-line-end flag.
    fn run(input: &[u8], chunk: usize) -> (Vec<u8>, Vec<u8>, bool, bool) {
        let mut r = DataReceiver::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() && !r.is_done() {
            let end = (pos + chunk).min(input.len());
            pos += r.feed(&input[pos..end], Some(&mut out));
        }
        assert_eq!(r.size, out.len() as u64);
        (out, input[pos..].to_vec(), r.bare_line_end, r.is_done())
    }

    #[test]
    fn framing_table() {
        // (data as sent, stored message, rest after the end, bare seen, ended)
        let table: &[(&[u8], &[u8], &[u8], bool, bool)] = &[
            (b".\r\n", b"", b"", false, true),
            (b"\r\n.\r\n", b"\r\n", b"", false, true),
            (
                b"a\r\n.\r\nMAIL FROM:<x@y>\r\n",
                b"a\r\n",
                b"MAIL FROM:<x@y>\r\n",
                false,
                true,
            ),
            // c03: the first line is unstuffed too.
            (
                b"..X: 1\r\n\r\n..\r\n...\r\n..a\r\n.. b\r\nplain\r\n....\r\n.\r\n",
                b".X: 1\r\n\r\n.\r\n..\r\n.a\r\n. b\r\nplain\r\n...\r\n",
                b"",
                false,
                true,
            ),
            // c01: <LF>.<LF> is text.
            (
                b"x\n.\nMAIL FROM:<a@b>\n.\r\nclosing\r\n.\r\n",
                b"x\r\n.\r\nMAIL FROM:<a@b>\r\n.\r\nclosing\r\n",
                b"",
                true,
                true,
            ),
            // <CR>.<CR> and <LF>.<CR><LF> are text.
            (
                b"x\r.\rDATA\r\n.\r\n",
                b"x\r\n.\r\nDATA\r\n",
                b"",
                true,
                true,
            ),
            (
                b"x\n.\r\nRCPT\r\n.\r\n",
                b"x\r\n.\r\nRCPT\r\n",
                b"",
                true,
                true,
            ),
            // smtplib stuffs after bare LF; the dot goes.
            (b"a\n..b\r\n.\r\n", b"a\r\n.b\r\n", b"", true, true),
            // a dot after a bare CR was not stuffed by anyone: kept.
            (b"a\r.b\r\n.\r\n", b"a\r\n.b\r\n", b"", true, true),
            (b".\rx\r\n.\r\n", b"\r\nx\r\n", b"", true, true),
            (b"no end yet\r\n", b"no end yet\r\n", b"", false, false),
            (b"a\r\r\n.\r\n", b"a\r\n\r\n", b"", true, true),
        ];
        for (input, stored, rest, bare, done) in table {
            for chunk in [1, 2, 3, 7, 4096] {
                let got = run(input, chunk);
                assert_eq!(
                    (&got.0[..], &got.1[..], got.2, got.3),
                    (*stored, *rest, *bare, *done),
                    "input {:?} chunk {chunk}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn discarding_still_finds_the_end() {
        let mut r = DataReceiver::new();
        let data = b"zzzz\r\nzzzz\r\n.\r\nQUIT\r\n";
        let n = r.feed(data, None);
        assert!(r.is_done());
        assert_eq!(&data[n..], b"QUIT\r\n");
        assert_eq!(r.size, 12);
    }

    proptest::proptest! {
        /// Whatever the bytes, the stored text never contains a bare CR or
        /// LF, chunking never changes the result, and stuffing then
        /// receiving any CRLF text gives it back.
        #[test]
        fn properties(data in proptest::collection::vec(
            proptest::sample::select(vec![b'\r', b'\n', b'.', b'a']), 0..64), chunk in 1usize..9) {
            let mut input = data.clone();
            input.extend_from_slice(b"\r\n.\r\n");
            let a = run(&input, chunk);
            let b = run(&input, 4096);
            proptest::prop_assert_eq!(&a, &b);
            let s = &a.0;
            for (i, &c) in s.iter().enumerate() {
                if c == b'\r' { proptest::prop_assert_eq!(s.get(i + 1), Some(&b'\n')); }
                if c == b'\n' { proptest::prop_assert!(i > 0 && s[i - 1] == b'\r'); }
            }
        }

        #[test]
        fn stuffing_round_trip(lines in proptest::collection::vec("[.a-z ]{0,6}", 0..8)) {
            let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            let mut wire = String::new();
            for l in &lines {
                if l.starts_with('.') { wire.push('.'); }
                wire.push_str(l);
                wire.push_str("\r\n");
            }
            wire.push_str(".\r\n");
            let got = run(wire.as_bytes(), 3);
            proptest::prop_assert_eq!(got.0, text.into_bytes());
            proptest::prop_assert!(got.3);
        }
    }
}
