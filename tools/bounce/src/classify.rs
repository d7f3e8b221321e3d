//! Choosing one [`Reason`] per recipient from the extracted facts.
//!
//! The order, and why:
//! 1. Success (`Action: delivered`, class 2) is never a failure.
//! 2. A few enhanced codes are precise enough that no wording changes them
//!    ([`rules::STRONG_STATUS`]).
//! 3. The diagnostic's wording ([`rules::TEXT_RULES`]): servers often send
//!    a generic code (`5.0.0`, `5.7.1`, `5.2.1`) with a precise phrase.
//! 4. A delayed recipient with no telling text is waiting out its retry
//!    period (RFC 3464 §2.3.3 `delayed`).
//! 5. The meaning of the enhanced code (RFC 3463 via
//!    [`rules::WEAK_STATUS`]).
//! 6. The SMTP command that failed: a refusal at MAIL FROM is about the
//!    sender, one at the greeting is about the sending host.
//! 7. The wording of the whole notice and its subject, for MTAs that keep
//!    the reason away from the address.

use crate::Reason;
use crate::codes::StatusCode;
use crate::parse::{Action, Command, Raw};
use crate::pattern::{fold, matches};
use crate::rules::{Code, STRONG_STATUS, TEXT_RULES, WEAK_STATUS};

fn code_matches(c: &Code, s: StatusCode) -> bool {
    c.0.is_none_or(|k| k == s.class) && c.1 == s.subject && c.2 == s.detail
}

fn by_status(table: &[(Code, Reason)], s: Option<StatusCode>) -> Option<Reason> {
    let s = s?;
    table.iter().find(|(c, _)| code_matches(c, s)).map(|(_, r)| *r)
}

/// The first reason whose phrases match the folded text.
pub fn by_text(folded: &str) -> Option<Reason> {
    if folded.is_empty() {
        return None;
    }
    TEXT_RULES
        .iter()
        .find(|rule| rule.patterns.iter().any(|p| matches(folded, p)))
        .map(|rule| rule.reason)
}

/// A refusal of a recipient that comes only after the message data was
/// sent is a content filter at work, not a missing mailbox: the address
/// had been accepted at RCPT TO. An explicit X.1.1 code still wins.
fn after_data(reason: Reason, r: &Raw) -> Reason {
    let explicit = r.status.is_some_and(|s| s.subject == 1 && s.detail == 1);
    if reason == Reason::UserUnknown && r.command == Some(Command::Data) && !explicit {
        Reason::Filtered
    } else {
        reason
    }
}

/// The reason for one failed (or delayed, or delivered) recipient.
pub fn classify(r: &Raw, subject: &str) -> Reason {
    let success = matches!(r.action, Some(Action::Delivered | Action::Relayed | Action::Expanded))
        || r.status.is_some_and(|s| s.class == 2)
        || r.status.is_none() && r.reply.is_some_and(|c| c.class() == 2);
    if success {
        return Reason::Delivered;
    }
    if let Some(reason) = by_status(STRONG_STATUS, r.status) {
        return reason;
    }
    let diag = fold(&r.diagnostic);
    if let Some(reason) = by_text(&diag) {
        return after_data(reason, r);
    }
    if r.action == Some(Action::Delayed) {
        return Reason::Expired;
    }
    if let Some(reason) = by_status(WEAK_STATUS, r.status) {
        return reason;
    }
    match r.command {
        Some(Command::Mail) => return Reason::Rejected,
        Some(Command::Connect) => return Reason::Blocked,
        _ => {}
    }
    if r.diag_type.as_deref() == Some("x-unix") {
        return Reason::MailerError;
    }
    let ctx = fold(&r.context);
    if let Some(reason) = by_text(&ctx).or_else(|| by_text(&fold(subject))) {
        return after_data(reason, r);
    }
    Reason::Undefined
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ReplyCode;

    fn raw(status: &str, diag: &str, action: Option<Action>) -> Raw {
        Raw {
            status: StatusCode::parse(status),
            diagnostic: diag.to_string(),
            action,
            reply: crate::codes::find_codes(diag).reply,
            command: crate::scan::command_of(diag),
            ..Raw::default()
        }
    }

    #[test]
    fn table() {
        use Reason::*;
        let f = Some(Action::Failed);
        let cases: &[(&str, &str, Option<Action>, Reason)] = &[
            ("5.1.1", "550 5.1.1 <a@example.net>... User Unknown", f, UserUnknown),
            ("5.0.0", "550 5.1.1 user unknown", f, UserUnknown),
            ("5.2.1", "550 5.2.1 <a@example.net>... User Unknown", f, UserUnknown),
            ("5.2.1", "The email account that you tried to reach is disabled", f, Suspend),
            ("5.2.2", "552 5.2.2 Mailbox full, quota exceeded", f, MailboxFull),
            ("5.2.3", "552 5.2.3 Message size exceeds fixed maximum", f, ExceedLimit),
            ("4.4.7", "451 4.4.7 Connection timed out", Some(Action::Delayed), Expired),
            ("4.4.1", "connect to x[192.0.2.1]:25: No route to host", Some(Action::Delayed), NetworkError),
            ("5.7.1", "554 5.7.1 Client host [192.0.2.25] blocked using a DNS blocklist", f, Blocked),
            ("5.0.0", "550 : User unknown (in reply to end of DATA command)", f, Filtered),
            ("2.0.0", "250 OK", Some(Action::Delivered), Delivered),
            ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", f, AuthFailure),
            ("5.0.0", "550 사서함 용량이 초과되었습니다", f, MailboxFull),
            ("5.0.0", "550 존재하지 않는 사용자입니다", f, UserUnknown),
            ("", "", f, Undefined),
        ];
        for (st, diag, action, want) in cases {
            let got = classify(&raw(st, diag, *action), "");
            assert_eq!(got, *want, "{st} {diag}");
        }
        let mut r = raw("", "", f);
        r.reply = Some(ReplyCode(250));
        assert_eq!(classify(&r, ""), Delivered);
    }
}
