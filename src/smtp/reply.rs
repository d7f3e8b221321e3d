//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463,
//! RFC 2034).

use std::fmt::Write as _;

/// One reply: a three-digit code, an enhanced status code and text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, e.g. 250.
    pub code: u16,
    /// The enhanced status code, e.g. `2.1.0`; empty for replies that RFC
    /// 2034 §3 exempts (220 greeting, 221 on some paths, 250 to EHLO, 354).
    pub status: &'static str,
    /// The text; several lines make a multi-line reply.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Self {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// True for 4xx and 5xx replies.
    pub fn is_failure(&self) -> bool {
        self.code >= 400
    }

    /// Appends `(session ID)` to the last line, so a user who quotes a
    /// failure leads the postmaster to the log lines.
    pub fn with_session(mut self, session: &str) -> Self {
        if let Some(l) = self.lines.last_mut() {
            let _ = write!(l, " (session {session})");
        }
        self
    }

    /// The reply as sent: `250-...` continuation lines, then `250 ...`.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = String::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 == n { ' ' } else { '-' };
            let _ = write!(out, "{}{sep}", self.code);
            if !self.status.is_empty() {
                let _ = write!(out, "{} ", self.status);
            }
            // Never let text (which may quote client input) break a line.
            out.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// Named replies, so the code and its meaning stay together.
pub mod codes {
    use super::Reply;

    /// 221 2.0.0: closing.
    pub fn r221_bye(host: &str) -> Reply {
        Reply::new(221, "2.0.0", format!("{host} closing connection"))
    }
    /// 250 2.0.0: generic OK.
    pub fn r250_ok() -> Reply {
        Reply::new(250, "2.0.0", "Ok")
    }
    /// 250 2.1.0: sender accepted.
    pub fn r250_sender_ok() -> Reply {
        Reply::new(250, "2.1.0", "Sender ok")
    }
    /// 250 2.1.5: recipient accepted.
    pub fn r250_recipient_ok() -> Reply {
        Reply::new(250, "2.1.5", "Recipient ok")
    }
    /// 252 2.5.2: RFC 5321 §3.5.3, VRFY answered without confirming, so
    /// the command cannot be used to harvest addresses.
    pub fn r252_cannot_vrfy() -> Reply {
        Reply::new(
            252,
            "2.5.2",
            "Cannot VRFY user, but will accept message and attempt delivery",
        )
    }
    /// 354: start mail input.
    pub fn r354_start() -> Reply {
        Reply::new(354, "", "End data with <CR><LF>.<CR><LF>")
    }
    /// 421 4.4.2: idle too long.
    pub fn r421_timeout(host: &str) -> Reply {
        Reply::new(421, "4.4.2", format!("{host} timeout, closing connection"))
    }
    /// 421 4.7.0: too many errors.
    pub fn r421_too_many_errors(host: &str) -> Reply {
        Reply::new(
            421,
            "4.7.0",
            format!("{host} too many errors, closing connection"),
        )
    }
    /// 421 4.3.2: too many connections.
    pub fn r421_busy(host: &str) -> Reply {
        Reply::new(421, "4.3.2", format!("{host} too busy, try again later"))
    }
    /// 451 4.3.0: local error.
    pub fn r451_local_error() -> Reply {
        Reply::new(451, "4.3.0", "Local error in processing, try again later")
    }
    /// 452 4.3.1: RFC 3463 "mail system full".
    pub fn r452_storage_full() -> Reply {
        Reply::new(452, "4.3.1", "Insufficient system storage, try again later")
    }
    /// 452 4.5.3: RFC 5321 §4.5.3.1.10, too many recipients.
    pub fn r452_too_many_recipients() -> Reply {
        Reply::new(452, "4.5.3", "Too many recipients")
    }
    /// 500 5.5.2: unknown command.
    pub fn r500_unknown() -> Reply {
        Reply::new(500, "5.5.2", "Command unrecognized")
    }
    /// 500 5.5.6: RFC 5321 §4.5.3.1.4, command line too long.
    pub fn r500_line_too_long() -> Reply {
        Reply::new(500, "5.5.6", "Line too long")
    }
    /// 502 5.5.1: recognised but not implemented.
    pub fn r502_not_implemented() -> Reply {
        Reply::new(502, "5.5.1", "Command not implemented")
    }
    /// 503 5.5.1: bad sequence.
    pub fn r503_sequence(text: &str) -> Reply {
        Reply::new(503, "5.5.1", text)
    }
    /// 550 5.1.1: unknown local mailbox.
    pub fn r550_unknown_user(rcpt: &str) -> Reply {
        Reply::new(
            550,
            "5.1.1",
            format!("<{rcpt}>: Recipient address rejected: user unknown"),
        )
    }
    /// 550 5.7.1: relaying refused (no open relay).
    pub fn r550_relay_denied(rcpt: &str) -> Reply {
        Reply::new(550, "5.7.1", format!("<{rcpt}>: Relay access denied"))
    }
    /// 550 5.5.2: RFC 5321 §2.3.8, bare CR or LF refused by configuration.
    pub fn r550_bare_lf() -> Reply {
        Reply::new(
            550,
            "5.5.2",
            "Message refused: bare CR or LF in data (RFC 5321 2.3.8)",
        )
    }
    /// 552 5.3.4: RFC 1870, message too big.
    pub fn r552_too_big(limit: u64) -> Reply {
        Reply::new(
            552,
            "5.3.4",
            format!("Message size exceeds fixed limit of {limit} octets"),
        )
    }
    /// 554 5.5.1: RFC 2920 §3.1, DATA with no valid recipient.
    pub fn r554_no_recipients() -> Reply {
        Reply::new(554, "5.5.1", "No valid recipients")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let r = Reply {
            code: 250,
            status: "",
            lines: vec![
                "mx.example.com".into(),
                "PIPELINING".into(),
                "SIZE 10".into(),
            ],
        };
        assert_eq!(
            r.to_wire(),
            b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
        let r = Reply::new(550, "5.1.1", "no\r\nMAIL FROM").with_session("ab12");
        assert_eq!(r.to_wire(), b"550 5.1.1 no??MAIL FROM (session ab12)\r\n");
    }
}
