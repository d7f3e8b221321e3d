//! SMTP reply codes (RFC 5321 §4.2) and enhanced status codes (RFC 3463)
//! found in free text.
//!
//! Bounce texts quote codes in many shapes: `550 5.1.1 <a@b>: ...`,
//! `550-5.7.1 ...`, `#550 5.2.2`, qmail's `(#4.4.1)`. The scanners here find
//! them by token boundaries only, so IP addresses (`192.0.2.250`), dates and
//! ports are not mistaken for codes.

use std::fmt;

/// An enhanced mail system status code, RFC 3463 §2:
/// `class "." subject "." detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent).
    pub class: u8,
    /// The subject digit group, 0-999.
    pub subject: u16,
    /// The detail digit group, 0-999.
    pub detail: u16,
}

impl StatusCode {
    /// Parses a code such as `5.1.1`; surrounding text is not allowed.
    pub fn parse(s: &str) -> Option<StatusCode> {
        let mut it = s.split('.');
        let class = it.next()?;
        let subject = it.next()?;
        let detail = it.next()?;
        if it.next().is_some() || class.len() != 1 {
            return None;
        }
        // RFC 3463 §2: subject and detail are 1 to 3 digits.
        let digits = |d: &str| (1..=3).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(subject) || !digits(detail) {
            return None;
        }
        let class = class.parse::<u8>().ok()?;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(StatusCode {
            class,
            subject: subject.parse().ok()?,
            detail: detail.parse().ok()?,
        })
    }

    /// True for `X.0.0`, which says only "success" or "failure".
    pub fn is_generic(self) -> bool {
        self.subject == 0 && self.detail == 0
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl serde::Serialize for StatusCode {
    /// As the dotted string, e.g. `"5.1.1"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A three-digit SMTP reply code, RFC 5321 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ReplyCode(pub u16);

impl ReplyCode {
    /// The first digit: 2, 3, 4 or 5.
    pub fn class(self) -> u8 {
        (self.0 / 100) as u8
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Codes found in a piece of diagnostic text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoundCodes {
    /// The first plausible reply code.
    pub reply: Option<ReplyCode>,
    /// The most telling enhanced code: one right after a reply code wins
    /// over one standing alone, and a specific one over `X.0.0`.
    pub status: Option<StatusCode>,
}

fn is_tok_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'/' || b == b'@' || b == b'='
}

/// Byte ranges of `d.d{1,3}.d{1,3}` tokens with a valid class.
fn status_tokens(t: &[u8]) -> impl Iterator<Item = (usize, usize, StatusCode)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < t.len() {
            let start = i;
            let ok_before = start == 0 || !is_tok_char(t[start - 1]) || t[start - 1] == b'#';
            let mut j = start;
            while j < t.len() && (t[j].is_ascii_digit() || t[j] == b'.') {
                j += 1;
            }
            if j == start {
                i += 1;
                continue;
            }
            i = j;
            // A trailing dot ends a sentence ("... 5.1.1.") and is not part of
            // the code.
            let mut end = j;
            while end > start && t[end - 1] == b'.' {
                end -= 1;
            }
            let ok_after = j >= t.len() || !(t[j].is_ascii_alphanumeric() || t[j] == b'@');
            if !ok_before || !ok_after {
                continue;
            }
            let s = std::str::from_utf8(&t[start..end]).unwrap_or("");
            if let Some(c) = StatusCode::parse(s) {
                return Some((start, end, c));
            }
        }
        None
    })
}

/// Position and value of three-digit reply codes standing as words.
fn reply_tokens(t: &[u8]) -> impl Iterator<Item = (usize, ReplyCode)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i + 3 <= t.len() {
            let s = i;
            i += 1;
            let w = &t[s..s + 3];
            if !w.iter().all(u8::is_ascii_digit) || !matches!(w[0], b'2' | b'4' | b'5') {
                continue;
            }
            if w[1] > b'5' {
                continue;
            }
            // RFC 5321 §4.2.3 defines few success replies; any other 2xx
            // number is a size, a count or a port, not a reply.
            if w[0] == b'2'
                && !matches!(
                    w,
                    b"211" | b"214" | b"220" | b"221" | b"250" | b"251" | b"252"
                )
            {
                continue;
            }
            let before_ok = s == 0
                || !(is_tok_char(t[s - 1])
                    || t[s - 1] == b':' && s >= 2 && t[s - 2].is_ascii_digit());
            let after = t.get(s + 3).copied();
            let after_ok = match after {
                None => true,
                Some(
                    b' ' | b'-' | b'\t' | b'\r' | b'\n' | b',' | b';' | b')' | b'\'' | b'"' | b']',
                ) => true,
                Some(b':') => true,
                Some(b'.') => !t.get(s + 4).is_some_and(u8::is_ascii_digit),
                _ => false,
            };
            if before_ok && after_ok {
                i = s + 3;
                let n =
                    (w[0] - b'0') as u16 * 100 + (w[1] - b'0') as u16 * 10 + (w[2] - b'0') as u16;
                return Some((s, ReplyCode(n)));
            }
        }
        None
    })
}

/// Finds the reply code and enhanced status code a diagnostic quotes.
pub fn find_codes(text: &str) -> FoundCodes {
    let t = text.as_bytes();
    let mut out = FoundCodes::default();
    let mut paired: Option<StatusCode> = None;
    for (pos, rc) in reply_tokens(t) {
        if out.reply.is_none() {
            out.reply = Some(rc);
        }
        // "550 5.1.1" or "550-5.1.1": the enhanced code follows at once.
        let rest = &t[pos + 3..];
        let skip = rest
            .iter()
            .take(3)
            .take_while(|b| matches!(b, b' ' | b'-' | b'\'' | b'"'))
            .count();
        if skip > 0
            && let Some((0, _, c)) = status_tokens(&rest[skip..]).next()
            && c.class == rc.class()
            && paired.is_none_or(|p| p.is_generic() && !c.is_generic())
        {
            paired = Some(c);
            if out.reply.is_some_and(|r| r.class() != rc.class()) {
                out.reply = Some(rc);
            }
        }
    }
    let mut alone: Option<StatusCode> = None;
    for (_, _, c) in status_tokens(t) {
        if alone.is_none_or(|a| a.is_generic() && !c.is_generic()) {
            alone = Some(c);
        }
    }
    out.status = match (paired, alone) {
        (Some(p), Some(a)) if p.is_generic() && !a.is_generic() && a.class == p.class => Some(a),
        (Some(p), _) => Some(p),
        (None, a) => a,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("5.1.1", Some("5.1.1")),
            ("4.7.509", Some("4.7.509")),
            ("2.0.0", Some("2.0.0")),
            ("3.1.1", None),
            ("5.1", None),
            ("5.1.1.1", None),
            ("5.1000.1", None),
            ("x.1.1", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                StatusCode::parse(s).map(|c| c.to_string()).as_deref(),
                *want,
                "{s}"
            );
        }
    }

    #[test]
    fn find_table() {
        let cases: &[(&str, Option<u16>, Option<&str>)] = &[
            (
                "550 5.1.1 <a@example.com>... User Unknown",
                Some(550),
                Some("5.1.1"),
            ),
            (
                "host mx [192.0.2.250]: 550-5.7.1 blocked",
                Some(550),
                Some("5.7.1"),
            ),
            (
                "smtp; 550 5.0.0 <a@b>: 5.1.1 unknown",
                Some(550),
                Some("5.1.1"),
            ),
            (
                "Sorry, I couldn't find a mail exchanger. (#5.4.4)",
                None,
                Some("5.4.4"),
            ),
            ("connect to 192.0.2.25:25: timed out", None, None),
            ("Thu, 29 Apr 2014 23:34:45 +0900", None, None),
            (
                "#550 5.2.2 STOREDRV.Deliver: mailbox full",
                Some(550),
                Some("5.2.2"),
            ),
            ("554 Message not allowed", Some(554), None),
            ("Size (in bytes): 222", None, None),
            ("250 2.1.5 Ok", Some(250), Some("2.1.5")),
            ("version 5.4.6.", None, Some("5.4.6")),
        ];
        for (s, rc, st) in cases {
            let f = find_codes(s);
            assert_eq!(f.reply.map(|r| r.0), *rc, "{s}");
            assert_eq!(f.status.map(|c| c.to_string()).as_deref(), *st, "{s}");
        }
    }
}
