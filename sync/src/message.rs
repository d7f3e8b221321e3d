//! What the index keeps of a message: its size on the wire and the parsed
//! header fields that listings show.
//!
//! Stored messages use CRLF line ends (RFC 5322 §2.1, and the form SMTP
//! delivers), but files put into a maildir by other tools often use bare LF.
//! Every reader hands messages out in canonical form, so the sizes the index
//! reports are computed over that form, not the file's octets.

use mail_parser::{Address, HeaderName, MessageParser, MimeHeaders};

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
        let Some(&end) = input.last() else { return };
        // Every octet counts once; a bare CR or a bare LF counts once more
        // (it becomes CRLF). Only line-end octets need a look, and memchr
        // finds them at memory speed, so this costs little even for the
        // whole tree in a resync.
        self.size += input.len() as u64;
        let mut prev = self.last;
        let mut prev_pos = usize::MAX;
        for i in memchr::memchr2_iter(b'\r', b'\n', input) {
            let before = if i == 0 {
                self.last
            } else if prev_pos == i - 1 {
                prev
            } else {
                input[i - 1]
            };
            match input[i] {
                b'\n' if before == b'\r' => {}
                b'\n' => self.size += 1,
                // A CR is bare unless an LF follows (maybe in the next chunk).
                _ => {
                    if input.get(i + 1).is_some_and(|&n| n != b'\n') {
                        self.size += 1;
                    }
                }
            }
            prev = input[i];
            prev_pos = i;
        }
        // A CR that ended the previous chunk was left undecided.
        if self.last == b'\r' && input[0] != b'\n' {
            self.size += 1;
        }
        self.last = end;
    }

    /// The canonical size, counting the CRLF that readers add after a last
    /// line that lacks one.
    pub fn finish(&self) -> u64 {
        match self.last {
            _ if self.size == 0 => 0,
            b'\n' => self.size,
            // A final bare CR becomes CRLF.
            b'\r' => self.size + 1,
            _ => self.size + 2,
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

/// The parser the index uses: the header fields it keeps and the MIME
/// fields; others (Received, DKIM-Signature...) are left raw, which is most
/// of the parsing time of a message otherwise.
fn parser() -> &'static MessageParser {
    static P: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        MessageParser::new()
            .with_minimal_headers()
            .header_id(HeaderName::MessageId)
    })
}

fn parse_meta_unguarded(raw: &[u8]) -> Meta {
    let unparsable = || {
        let mut m = Meta::unreadable();
        m.status = ParseStatus::Unparsable;
        m
    };
    // A single-part message needs no body parse: whether it is an
    // attachment shows in its header. Only multiparts are parsed whole.
    // No header field at all (binary junk, NULs, an empty file) is not a
    // message the index can describe.
    // RFC 5322 §3.6.8: a field name is printable ASCII other than ':'.
    let real_field = |h: &mail_parser::Header<'_>| {
        let n = h.name.as_str();
        !n.is_empty() && n.bytes().all(|b| (33..=126).contains(&b) && b != b':')
    };
    let Some(head) = parser()
        .parse_headers(raw)
        .filter(|m| m.headers().iter().any(real_field))
    else {
        return unparsable();
    };
    let root = head.root_part();
    let ctype = root.content_type();
    let multipart = ctype.is_some_and(|c| c.ctype().eq_ignore_ascii_case("multipart"));
    let has_attachment = if multipart {
        match parser().parse(raw) {
            Some(msg) => msg.attachment_count() > 0,
            None => return unparsable(),
        }
    } else {
        let textual = ctype.is_none_or(|c| c.ctype().eq_ignore_ascii_case("text"));
        let disposed = root
            .content_disposition()
            .is_some_and(|d| d.is_attachment());
        !textual || disposed
    };
    // Split encoded-words, Korean charset labels and raw EUC-KR fields are
    // repaired first (crate::charset says why); the fields come from the
    // repaired header.
    let end = root.offset_body as usize;
    match raw
        .get(..end.min(raw.len()))
        .and_then(crate::charset::fix_header)
    {
        Some(mut fixed) => {
            fixed.extend_from_slice(b"\r\n");
            match parser().parse_headers(&fixed[..]) {
                Some(h) => meta_of(&h, has_attachment),
                None => meta_of(&head, has_attachment),
            }
        }
        None => meta_of(&head, has_attachment),
    }
}

fn meta_of(msg: &mail_parser::Message<'_>, has_attachment: bool) -> Meta {
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
        has_attachment,
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
            for chunk in [1, 2, 3] {
                let mut w = WireSizer::default();
                for c in input.chunks(chunk) {
                    w.push(c);
                }
                assert_eq!(w.finish(), expect, "{input:?} in chunks of {chunk}");
            }
        }
    }

    proptest::proptest! {
        /// The sizer agrees with the normalizer on any bytes and chunking.
        #[test]
        fn sizer_matches_normalizer(data in proptest::collection::vec(
            proptest::sample::select(vec![b'\r', b'\n', b'a']), 0..40), chunk in 1usize..6) {
            let canon = normalize_chunked(&data, chunk);
            let want = if canon.is_empty() || canon.ends_with(b"\r\n") { canon.len() } else { canon.len() + 2 } as u64;
            let mut w = WireSizer::default();
            for c in data.chunks(chunk) {
                w.push(c);
            }
            proptest::prop_assert_eq!(w.finish(), want);
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
            assert_eq!(
                parse_meta(raw).status,
                ParseStatus::Unparsable,
                "{:?}",
                &raw[..raw.len().min(8)]
            );
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
