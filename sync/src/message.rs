//! What the index keeps of a message: its size on the wire and the parsed
//! header fields that listings show.
//!
//! Stored messages use CRLF line ends (RFC 5322 §2.1, and the form SMTP
//! delivers), but files put into a maildir by other tools often use bare LF.
//! Every reader hands messages out in canonical form, so the sizes the index
//! reports are computed over that form, not the file's octets.

use mail_parser::{Address, MessageParser};

/// Rewrites bare LF and bare CR as CRLF, across chunk boundaries.
#[derive(Debug, Default)]
pub struct CrlfNormalizer {
    pending_cr: bool,
}

impl CrlfNormalizer {
    /// Appends the canonical form of `input` to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        if self.pending_cr {
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            if let [b'\n', tail @ ..] = rest {
                rest = tail;
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
            out.extend_from_slice(&rest[..i]);
            if rest[i] == b'\n' {
                out.extend_from_slice(b"\r\n");
                rest = &rest[i + 1..];
            } else if i + 1 == rest.len() {
                // A CR at the end of a chunk: the next chunk tells.
                self.pending_cr = true;
                return;
            } else {
                out.extend_from_slice(b"\r\n");
                rest = if rest[i + 1] == b'\n' {
                    &rest[i + 2..]
                } else {
                    &rest[i + 1..]
                };
            }
        }
        out.extend_from_slice(rest);
    }

    /// Flushes a CR held back at the end of the last chunk.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Counts the octets of the canonical form of a message as it is streamed,
/// without building it.
#[derive(Debug, Default)]
pub struct WireSizer {
    size: u64,
    last: u8,
}

impl WireSizer {
    /// Adds a chunk of the file.
    pub fn push(&mut self, input: &[u8]) {
        for &b in input {
            self.size += match (self.last, b) {
                (b'\r', b'\n') => 0, // counted with the CR
                (_, b'\r') | (_, b'\n') => 2,
                _ => 1,
            };
            self.last = b;
        }
    }

    /// The canonical size, counting the CRLF that readers add after a last
    /// line that lacks one.
    pub fn finish(&self) -> u64 {
        if self.size > 0 && self.last != b'\n' && self.last != b'\r' {
            self.size + 2
        } else {
            self.size
        }
    }
}

/// The canonical size of a whole message, see [`WireSizer`].
pub fn wire_size(raw: &[u8]) -> u64 {
    let mut s = WireSizer::default();
    s.push(raw);
    s.finish()
}

/// How far a message file could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseStatus {
    /// Parsed.
    Ok = 0,
    /// Read, but not a message the parser recognises (no header section,
    /// binary junk). It is still listed and delivered byte for byte.
    Unparsable = 1,
    /// The file could not be read (permissions, I/O error).
    Unreadable = 2,
}

impl ParseStatus {
    /// From the number kept in the index.
    pub fn from_i64(v: i64) -> Self {
        match v {
            0 => ParseStatus::Ok,
            1 => ParseStatus::Unparsable,
            _ => ParseStatus::Unreadable,
        }
    }
}

/// Header fields of a message, decoded (RFC 2047 words, charsets) for
/// listings and search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The From field, as `Name <address>` or just the address.
    pub from: Option<String>,
    /// The To field, addresses joined with `, `.
    pub to: Option<String>,
    /// The Subject field.
    pub subject: Option<String>,
    /// The Date field, seconds since the epoch.
    pub date: Option<i64>,
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// True when the message has at least one attachment.
    pub has_attachment: bool,
    /// Whether parsing succeeded.
    pub status: ParseStatus,
}

impl Meta {
    /// The meta of a file that could not be read.
    pub fn unreadable() -> Self {
        Meta {
            from: None,
            to: None,
            subject: None,
            date: None,
            message_id: None,
            has_attachment: false,
            status: ParseStatus::Unreadable,
        }
    }
}

/// The longest header text the index keeps per field; longer values are cut
/// at a character boundary (the file keeps the whole).
const MAX_FIELD: usize = 998;

fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn format_addresses(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

thread_local! {
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the process's panic hook quiet about panics inside the MIME parser,
/// which [`parse_meta`] catches and reports itself; any other panic still
/// reaches the previous hook. Call once at start.
pub fn quiet_parser_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_PARSER.with(|f| f.get()) {
            previous(info);
        }
    }));
}

/// Parses the fields the index keeps. Never fails: a message the parser
/// cannot read comes back as [`ParseStatus::Unparsable`].
///
/// mail-parser 0.11 panics on some real messages (an "Invalid part ID" in
/// nested multiparts, seen in the SpamAssassin corpus), so the parse runs
/// under `catch_unwind`; the message is still stored and listed.
pub fn parse_meta(raw: &[u8]) -> Meta {
    IN_PARSER.with(|f| f.set(true));
    let result = std::panic::catch_unwind(|| parse_meta_unguarded(raw));
    IN_PARSER.with(|f| f.set(false));
    result.unwrap_or_else(|_| {
        tracing::warn!(
            octets = raw.len(),
            "MIME parser failed on a message; indexed as unparsable"
        );
        let mut m = Meta::unreadable();
        m.status = ParseStatus::Unparsable;
        m
    })
}

fn parse_meta_unguarded(raw: &[u8]) -> Meta {
    let Some(msg) = MessageParser::default().parse(raw) else {
        let mut m = Meta::unreadable();
        m.status = ParseStatus::Unparsable;
        return m;
    };
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    Meta {
        from: msg
            .from()
            .map(format_addresses)
            .and_then(nonempty)
            .map(|s| clip(&s)),
        to: msg
            .to()
            .map(format_addresses)
            .and_then(nonempty)
            .map(|s| clip(&s)),
        subject: msg.subject().map(clip),
        date: msg.date().map(|d| d.to_timestamp()),
        message_id: msg.message_id().map(clip),
        has_attachment: msg.attachment_count() > 0,
        status: ParseStatus::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize_chunked(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut n = CrlfNormalizer::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            n.push(c, &mut out);
        }
        n.finish(&mut out);
        out
    }

    #[test]
    fn normalizer_and_sizer_agree() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n"),
            (b"a\r\r\nb", b"a\r\n\r\nb"),
            (b"\n\n", b"\r\n\r\n"),
            (b"", b""),
        ];
        for &(input, want) in cases {
            for chunk in [1, 2, 3, 100] {
                assert_eq!(normalize_chunked(input, chunk), want, "{input:?} / {chunk}");
            }
            let expect = if want.is_empty() || want.ends_with(b"\r\n") {
                want.len() as u64
            } else {
                want.len() as u64 + 2
            };
            assert_eq!(wire_size(input), expect, "{input:?}");
        }
    }

    #[test]
    fn meta_of_korean_message() {
        let raw = "From: =?EUC-KR?B?sei2+LzW?= <kim@example.org>\r\n\
                   To: bob@example.com\r\nSubject: =?UTF-8?B?7ZWc6rWt7Ja0?=\r\n\
                   Message-ID: <a@b>\r\nDate: Thu, 3 Dec 2026 11:00:00 +0000\r\n\r\nbody\r\n";
        let m = parse_meta(raw.as_bytes());
        assert_eq!(m.subject.as_deref(), Some("한국어"));
        assert_eq!(m.message_id.as_deref(), Some("a@b"));
        assert_eq!(m.to.as_deref(), Some("bob@example.com"));
        assert!(m.from.unwrap().ends_with("<kim@example.org>"));
        assert_eq!(m.status, ParseStatus::Ok);
    }

    #[test]
    fn junk_does_not_panic() {
        for raw in [&b""[..], &[0u8; 4096][..], b"\r\n", b"\r\n\r\n\r\n"] {
            let _ = parse_meta(raw);
        }
    }

    /// A real message on which mail-parser 0.11.9 panics.
    #[test]
    fn parser_panic_is_contained() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/corpus/spamassassin/nice/mime9.eml"
        );
        let raw = std::fs::read(path).unwrap();
        quiet_parser_panics();
        assert_eq!(parse_meta(&raw).status, ParseStatus::Unparsable);
        assert_eq!(
            parse_meta(b"Subject: fine\r\n\r\nx\r\n").status,
            ParseStatus::Ok
        );
    }
}
