//! SMTP command lines (RFC 5321 §4.1) parsed into commands, sans I/O.
//!
//! The grammar is RFC 5321 §4.1.2 with the leniencies real clients need:
//! a space after `FROM:`/`TO:` and paths without angle brackets are
//! accepted (as Postfix does without `strict_rfc821_envelopes`), and
//! UTF-8 is accepted in addresses so that the session can refuse it with
//! the RFC 6531 reply instead of a syntax error.

use super::reply::Reply;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// EHLO domain.
    Ehlo(String),
    /// HELO domain.
    Helo(String),
    /// MAIL FROM:<reverse-path> [parameters].
    Mail {
        /// The reverse-path.
        from: ReversePath,
        /// ESMTP parameters.
        params: Vec<Param>,
    },
    /// RCPT TO:<forward-path> [parameters].
    Rcpt {
        /// The forward-path.
        to: ForwardPath,
        /// ESMTP parameters.
        params: Vec<Param>,
    },
    /// DATA.
    Data,
    /// RSET.
    Rset,
    /// NOOP [string].
    Noop,
    /// QUIT.
    Quit,
    /// VRFY string.
    Vrfy,
    /// EXPN string.
    Expn,
    /// HELP [string].
    Help,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH mechanism [initial-response] (RFC 4954).
    Auth,
    /// BDAT (RFC 3030).
    Bdat,
}

/// A mailbox of an envelope path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The local-part as sent, quotes and escapes included.
    pub local: String,
    /// The domain or address literal as sent.
    pub domain: String,
}

impl Mailbox {
    /// `local@domain`.
    pub fn to_addr(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// True when any octet is outside ASCII (needs SMTPUTF8, RFC 6531).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.is_ascii()
    }
}

/// The reverse-path of MAIL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`: the null sender of bounces (RFC 5321 §4.5.5).
    Null,
    /// A mailbox.
    Mailbox(Mailbox),
}

/// The forward-path of RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain, which RFC 5321 §4.5.1 requires
    /// every server to accept.
    Postmaster,
    /// A mailbox.
    Mailbox(Mailbox),
}

/// One ESMTP parameter, keyword upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, e.g. `SIZE`.
    pub keyword: String,
    /// The value after `=`, if any.
    pub value: Option<String>,
}

fn syntax(status: &'static str, text: &str) -> Reply {
    Reply::new(501, status, text)
}

/// Parses one command line (without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command, Reply> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(Reply::new(500, "5.5.2", "Command line is not valid UTF-8"));
    };
    if line.contains('\0') {
        return Err(super::reply::codes::r500_unknown());
    }
    let line = line.trim_end_matches([' ', '\t', '\r']);
    let (verb, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i + 1..].trim_start()),
        None => (line, ""),
    };
    let need_none = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(syntax("5.5.4", "Syntax error: no parameters allowed"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" | "HELO" => {
            let host = rest.split_whitespace().next().unwrap_or("");
            if host.is_empty() || host.len() > 255 {
                return Err(syntax("5.5.4", "Syntax: EHLO domain"));
            }
            Ok(if verb.eq_ignore_ascii_case("EHLO") {
                Command::Ehlo(host.to_string())
            } else {
                Command::Helo(host.to_string())
            })
        }
        "MAIL" => {
            let arg = strip_keyword(rest, "FROM:")
                .ok_or_else(|| syntax("5.5.4", "Syntax: MAIL FROM:<address> [parameters]"))?;
            let (path, params) = split_path(arg)?;
            let from = if path.is_empty() {
                ReversePath::Null
            } else {
                ReversePath::Mailbox(
                    parse_mailbox(path)
                        .map_err(|t| syntax("5.1.7", &format!("Bad sender address syntax: {t}")))?,
                )
            };
            Ok(Command::Mail {
                from,
                params: parse_params(params)?,
            })
        }
        "RCPT" => {
            let arg = strip_keyword(rest, "TO:")
                .ok_or_else(|| syntax("5.5.4", "Syntax: RCPT TO:<address> [parameters]"))?;
            let (path, params) = split_path(arg)?;
            let to =
                if path.eq_ignore_ascii_case("postmaster") {
                    ForwardPath::Postmaster
                } else {
                    ForwardPath::Mailbox(parse_mailbox(path).map_err(|t| {
                        syntax("5.1.3", &format!("Bad recipient address syntax: {t}"))
                    })?)
                };
            Ok(Command::Rcpt {
                to,
                params: parse_params(params)?,
            })
        }
        "DATA" => need_none(Command::Data),
        "RSET" => need_none(Command::Rset),
        "QUIT" => need_none(Command::Quit),
        "STARTTLS" => need_none(Command::StartTls),
        // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if !rest.is_empty() => Ok(Command::Vrfy),
        "EXPN" if !rest.is_empty() => Ok(Command::Expn),
        "VRFY" | "EXPN" => Err(syntax("5.5.4", "Syntax: VRFY/EXPN string")),
        "AUTH" => Ok(Command::Auth),
        "BDAT" => Ok(Command::Bdat),
        _ => Err(super::reply::codes::r500_unknown()),
    }
}

/// Strips `FROM:` / `TO:` (case-insensitive), allowing spaces around the
/// colon as many clients send them.
fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let word = &kw[..kw.len() - 1];
    if s.len() < word.len() || !s[..word.len()].eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = s[word.len()..].trim_start();
    Some(rest.strip_prefix(':')?.trim_start())
}

/// Splits `<path> params` into the path (brackets and source route
/// removed) and the parameter text.
fn split_path(arg: &str) -> Result<(&str, &str), Reply> {
    let bad = || syntax("5.5.4", "Syntax error in path");
    let (path, rest) = if let Some(inner) = arg.strip_prefix('<') {
        let end = closing_bracket(inner).ok_or_else(bad)?;
        (&inner[..end], &inner[end + 1..])
    } else {
        // Lenient: a bare address up to the first space. Only `<>` is the
        // null reverse-path (RFC 5321 §4.1.2); nothing at all is an error.
        let (path, rest) = match arg.find(' ') {
            Some(i) => (&arg[..i], &arg[i..]),
            None => (arg, ""),
        };
        if path.is_empty() {
            return Err(bad());
        }
        (path, rest)
    };
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(bad());
    }
    let path = path.trim();
    // RFC 5321 §4.1.2 A-d-l: a source route `@a,@b:` is accepted and
    // ignored (§C, §3.6.1).
    let path = if path.starts_with('@') {
        match path.split_once(':') {
            Some((_, p)) if !p.is_empty() => p,
            _ => return Err(bad()),
        }
    } else {
        path
    };
    Ok((path, rest.trim()))
}

/// The index of the `>` that closes a path, skipping quoted strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || is_utf8_text(c)
}

/// Parses `local@domain` per RFC 5321 §4.1.2 (Mailbox).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, &'static str> {
    if s.len() > 256 {
        return Err("path too long");
    }
    let at = if s.starts_with('"') {
        let end = closing_quote(s).ok_or("unterminated quoted local-part")?;
        if s.as_bytes().get(end + 1) != Some(&b'@') {
            return Err("missing @ after quoted local-part");
        }
        end + 1
    } else {
        s.rfind('@').ok_or("missing @domain")?
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || local.len() > 64 {
        return Err("bad local-part length");
    }
    if !local.starts_with('"')
        && !local
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
    {
        return Err("bad local-part");
    }
    if local.starts_with('"') && !quoted_ok(local) {
        return Err("bad quoted local-part");
    }
    if !domain_ok(domain) {
        return Err("bad domain");
    }
    Ok(Mailbox {
        local: local.to_string(),
        domain: domain.to_string(),
    })
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// RFC 5321 qtextSMTP / quoted-pairSMTP: printable ASCII and space.
fn quoted_ok(q: &str) -> bool {
    let inner = &q[1..q.len() - 1];
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
            if !(' '..='~').contains(&c) {
                return false;
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == '"'
            || c.is_control()
            || is_format_char(c)
            || (c.is_ascii() && !(' '..='~').contains(&c))
        {
            return false;
        }
    }
    !escaped
}

fn domain_ok(d: &str) -> bool {
    if d.is_empty() || d.len() > 255 {
        return false;
    }
    if let Some(lit) = d.strip_prefix('[') {
        // Never a local domain, but it is copied into Return-Path, so it
        // must be exactly what RFC 5321 §4.1.3 allows.
        return lit.strip_suffix(']').is_some_and(literal_ok);
    }
    d.trim_end_matches('.').split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || is_utf8_text(c))
    })
}

/// A non-ASCII character that may stand in an SMTPUTF8 address (RFC 6531
/// §3.3 UTF8-non-ascii): anything but controls (C1), spaces (U+2028...)
/// and invisible format characters, which would let an address show as
/// another one in Return-Path and in replies (U+202E turns
/// `gro.elpmaxe@knab` into `bank@example.org`).
fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control() && !c.is_whitespace() && !is_format_char(c)
}

/// Unicode general category Cf (format characters): bidi embeddings,
/// overrides and isolates, zero-width spaces and joiners, the BOM, soft
/// hyphen, tags and the like.
fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891
        | 0x08E2 | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD
        | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0001 | 0xE0020..=0xE007F)
}

/// The inside of an address literal (RFC 5321 §4.1.3): a dotted IPv4
/// address, `IPv6:` and an IPv6 address, or `tag:` and dcontent.
fn literal_ok(lit: &str) -> bool {
    if let Some(v6) = lit
        .strip_prefix("IPv6:")
        .or_else(|| lit.strip_prefix("ipv6:"))
    {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if let Some((tag, content)) = lit.split_once(':') {
        let tag_ok = !tag.is_empty()
            && !tag.ends_with('-')
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        // dcontent: %d33-90 / %d94-126 (printable ASCII but [ \ ]).
        return tag_ok
            && !content.is_empty()
            && content.bytes().all(|b| matches!(b, 33..=90 | 94..=126));
    }
    let parts: Vec<&str> = lit.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters.
fn parse_params(s: &str) -> Result<Vec<Param>, Reply> {
    let mut out = Vec::new();
    for p in s.split(' ').filter(|p| !p.is_empty()) {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        let kw_ok = k.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let v_ok = v.is_none_or(|v| {
            !v.is_empty() && v.bytes().all(|b| (33..=126).contains(&b) && b != b'=')
        });
        if !kw_ok || !v_ok {
            return Err(syntax("5.5.4", "Syntax error in parameters"));
        }
        out.push(Param {
            keyword: k.to_ascii_uppercase(),
            value: v.map(str::to_string),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(l: &str, d: &str) -> Mailbox {
        Mailbox {
            local: l.into(),
            domain: d.into(),
        }
    }

    #[test]
    fn mail_and_rcpt() {
        let ok: &[(&str, Command)] = &[
            (
                "MAIL FROM:<a@b.example>",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "b.example")),
                    params: vec![],
                },
            ),
            (
                "mail from: <a@b.example> SIZE=10 BODY=8BITMIME",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "b.example")),
                    params: vec![
                        Param {
                            keyword: "SIZE".into(),
                            value: Some("10".into()),
                        },
                        Param {
                            keyword: "BODY".into(),
                            value: Some("8BITMIME".into()),
                        },
                    ],
                },
            ),
            (
                "MAIL FROM:<>",
                Command::Mail {
                    from: ReversePath::Null,
                    params: vec![],
                },
            ),
            (
                "MAIL FROM:a@b.example",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "b.example")),
                    params: vec![],
                },
            ),
            (
                "RCPT TO:<@relay.example,@x.example:bob@example.com>",
                Command::Rcpt {
                    to: ForwardPath::Mailbox(mb("bob", "example.com")),
                    params: vec![],
                },
            ),
            (
                "RCPT TO:<Postmaster>",
                Command::Rcpt {
                    to: ForwardPath::Postmaster,
                    params: vec![],
                },
            ),
            (
                "RCPT TO:<\"a b>c\"@example.com>",
                Command::Rcpt {
                    to: ForwardPath::Mailbox(mb("\"a b>c\"", "example.com")),
                    params: vec![],
                },
            ),
            (
                "RCPT TO:<\"relaytest%x.example\"@example.com>",
                Command::Rcpt {
                    to: ForwardPath::Mailbox(mb("\"relaytest%x.example\"", "example.com")),
                    params: vec![],
                },
            ),
            (
                "RCPT TO:<bob@[192.0.2.1]>",
                Command::Rcpt {
                    to: ForwardPath::Mailbox(mb("bob", "[192.0.2.1]")),
                    params: vec![],
                },
            ),
            (
                "MAIL FROM:<a@[IPv6:2001:db8::1]>",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "[IPv6:2001:db8::1]")),
                    params: vec![],
                },
            ),
            (
                "MAIL FROM:<a@[x-tag:some/thing]>",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("a", "[x-tag:some/thing]")),
                    params: vec![],
                },
            ),
            (
                "MAIL FROM:<김철수@예시.kr>",
                Command::Mail {
                    from: ReversePath::Mailbox(mb("김철수", "예시.kr")),
                    params: vec![],
                },
            ),
        ];
        for (line, want) in ok {
            assert_eq!(parse(line.as_bytes()).as_ref(), Ok(want), "{line}");
        }
        let bad: &[(&str, u16, &str)] = &[
            ("MAIL FROM:<not an address>", 501, "5.1.7"),
            ("MAIL FROM:<a@@b>", 501, "5.1.7"),
            ("MAIL FROM:<.a@b>", 501, "5.1.7"),
            ("MAIL FROM:<a..b@c>", 501, "5.1.7"),
            ("MAIL FROM:<a@b", 501, "5.5.4"),
            ("MAIL FROM:<a@b>x", 501, "5.5.4"),
            ("MAIL <a@b>", 501, "5.5.4"),
            ("MAIL FROM:<a@b> SIZE=", 501, "5.5.4"),
            ("RCPT TO:<>", 501, "5.1.3"),
            ("RCPT TO:<bob@example.com@>", 501, "5.1.3"),
            ("RCPT TO:<bob@-x.example>", 501, "5.1.3"),
            ("FOO", 500, "5.5.2"),
            ("DATA x", 501, "5.5.4"),
            ("EHLO", 501, "5.5.4"),
            // Only "<>" is the null reverse-path.
            ("MAIL FROM:", 501, "5.5.4"),
            ("MAIL FROM: ", 501, "5.5.4"),
            ("MAIL FROM:<@x.example:>", 501, "5.5.4"),
            // Address literals are RFC 5321 §4.1.3 exactly: no controls,
            // no header text smuggled into Return-Path.
            ("MAIL FROM:<a@[x\rX-Injected:\tyes]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[1\u{1}\u{7f}2]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[192.0.2.256]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[192.0.2]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[IPv6:not:an:address:at:all]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[x-tag:a\\b]>", 501, "5.1.7"),
            ("MAIL FROM:<a@[]>", 501, "5.1.7"),
            ("MAIL FROM:<\"a\u{85}b\"@example.org>", 501, "5.1.7"),
            ("MAIL FROM:<a\u{2028}b@example.org>", 501, "5.1.7"),
            ("MAIL FROM:<a@exa\u{9c}mple.org>", 501, "5.1.7"),
            ("MAIL FROM:<\u{202e}gro.elpmaxe@knab>", 501, "5.1.7"),
            ("MAIL FROM:<bank@exa\u{200b}mple.org>", 501, "5.1.7"),
            (
                "RCPT TO:<\"\u{2066}bob\u{2069}\"@example.com>",
                501,
                "5.1.3",
            ),
            ("RCPT TO:<\u{feff}김철수@example.com>", 501, "5.1.3"),
        ];
        for (line, code, status) in bad {
            let r = parse(line.as_bytes()).unwrap_err();
            assert_eq!((r.code, r.status), (*code, *status), "{line}");
        }
        assert_eq!(parse(b"NOOP anything at all"), Ok(Command::Noop));
        assert_eq!(
            parse(b"ehlo client.example.org"),
            Ok(Command::Ehlo("client.example.org".into()))
        );
        assert!(parse(&[b'N', b'O', 0xff]).is_err());
    }
}
