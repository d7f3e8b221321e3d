//! POP3 command lines parsed into commands, sans I/O.

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// USER name.
    User(String),
    /// PASS string (the rest of the line; passwords may hold spaces).
    Pass(String),
    /// AUTH [mechanism [initial-response]].
    Auth(Option<String>, Option<String>),
    /// APOP name digest (not offered: it needs clear-text passwords).
    Apop,
    /// STLS.
    Stls,
    /// CAPA.
    Capa,
    /// UTF8 (RFC 6856): the client will send UTF-8 names and passwords,
    /// which nmail accepts anyway; it changes nothing but is answered.
    Utf8,
    /// QUIT.
    Quit,
    /// STAT.
    Stat,
    /// LIST [msg].
    List(Option<u64>),
    /// UIDL [msg].
    Uidl(Option<u64>),
    /// RETR msg.
    Retr(u64),
    /// TOP msg n.
    Top(u64, u64),
    /// DELE msg.
    Dele(u64),
    /// NOOP.
    Noop,
    /// RSET.
    Rset,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Unknown keyword.
    Unknown,
    /// Wrong arguments; the text says which.
    Syntax(&'static str),
}

/// A message number or line count: digits only, as RFC 1939 §3 says (no
/// sign, no spaces). Values past u64 saturate, so `TOP 1 999...9` asks for
/// every line and `RETR 999...9` names no message.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add((b - b'0') as u64)
    }))
}

/// Parses one command line (without CRLF).
pub fn parse(line: &[u8]) -> Result<Command, Error> {
    // RFC 6856 §2: names and passwords are UTF-8; other octets would be
    // read as U+FFFD, and two different passwords would then be one.
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(Error::Syntax("command line is not valid UTF-8"));
    };
    let line = line.trim_end_matches(['\r', '\n']);
    let (kw, rest) = match line.split_once(' ') {
        Some((k, r)) => (k, r),
        None => (line, ""),
    };
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    let one_msg = |args: &[&str]| match args {
        [n] => number(n).ok_or(Error::Syntax("message number required")),
        _ => Err(Error::Syntax("one message number required")),
    };
    let opt_msg = |args: &[&str]| match args {
        [] => Ok(None),
        [n] => number(n)
            .map(Some)
            .ok_or(Error::Syntax("bad message number")),
        _ => Err(Error::Syntax("too many arguments")),
    };
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(Error::Syntax("no arguments allowed"))
        }
    };
    match kw.to_ascii_uppercase().as_str() {
        "USER" if !rest.trim().is_empty() => Ok(Command::User(rest.trim().to_string())),
        "USER" => Err(Error::Syntax("USER needs a name")),
        "PASS" => Ok(Command::Pass(rest.to_string())),
        "AUTH" => Ok(Command::Auth(
            args.first().map(|m| m.to_ascii_uppercase()),
            args.get(1).map(|s| s.to_string()),
        )),
        "APOP" => Ok(Command::Apop),
        "STLS" => none(Command::Stls),
        "CAPA" => none(Command::Capa),
        "UTF8" => none(Command::Utf8),
        "QUIT" => none(Command::Quit),
        "STAT" => none(Command::Stat),
        "NOOP" => none(Command::Noop),
        "RSET" => none(Command::Rset),
        "LIST" => opt_msg(&args).map(Command::List),
        "UIDL" => opt_msg(&args).map(Command::Uidl),
        "RETR" => one_msg(&args).map(Command::Retr),
        "DELE" => one_msg(&args).map(Command::Dele),
        "TOP" => match args[..] {
            [m, n] => match (number(m), number(n)) {
                (Some(m), Some(n)) => Ok(Command::Top(m, n)),
                _ => Err(Error::Syntax("TOP needs a message number and a line count")),
            },
            _ => Err(Error::Syntax("TOP needs a message number and a line count")),
        },
        _ => Err(Error::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_utf8() {
        assert_eq!(
            parse("USER 김철수@example.com".as_bytes()),
            Ok(Command::User("김철수@example.com".into()))
        );
        assert_eq!(
            parse("PASS 비밀 번호".as_bytes()),
            Ok(Command::Pass("비밀 번호".into()))
        );
        assert_eq!(parse(b"UTF8"), Ok(Command::Utf8));
        // Raw CP949 or Latin-1 octets are refused, not read as U+FFFD.
        for bad in [
            &b"PASS pw\xff"[..],
            b"PASS pw\xb1",
            b"USER \xb1\xe8@example.com",
        ] {
            assert!(matches!(parse(bad), Err(Error::Syntax(_))), "{bad:?}");
        }
    }

    #[test]
    fn c20_arguments() {
        assert_eq!(parse(b"TOP 1 0"), Ok(Command::Top(1, 0)));
        assert_eq!(parse(b"top 1 2"), Ok(Command::Top(1, 2)));
        for bad in [
            "TOP 1",
            "TOP",
            "TOP 1 -1",
            "TOP x 0",
            "TOP 1 2 3",
            "RETR",
            "RETR +1",
            "DELE 1 2",
            "LIST a",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(Error::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(
            parse(b"TOP 1 99999999999999999999999"),
            Ok(Command::Top(1, u64::MAX))
        );
        assert_eq!(
            parse(b"PASS two words "),
            Ok(Command::Pass("two words ".into()))
        );
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"UIDL 3"), Ok(Command::Uidl(Some(3))));
        assert_eq!(parse(b"XYZZY"), Err(Error::Unknown));
        assert_eq!(parse(b"AUTH"), Ok(Command::Auth(None, None)));
        assert_eq!(
            parse(b"AUTH plain dGVzdA=="),
            Ok(Command::Auth(Some("PLAIN".into()), Some("dGVzdA==".into())))
        );
    }
}
