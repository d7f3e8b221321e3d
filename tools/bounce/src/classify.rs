//! Choosing one [`Reason`] per recipient from the extracted facts.
//!
//! The order, and why:
//! 1. Success (`Action: delivered`, class 2) is never a failure, and a
//!    reason the report states in its own terms (SES "Suppressed") stands.
//! 2. A few enhanced codes are precise enough that no wording changes them
//!    ([`rules::STRONG_STATUS`]).
//! 3. Services with one refusal only ([`rules::DOMAIN_RULES`]), when no
//!    SMTP reply is quoted; provider refusal codes (`AUP#...`,
//!    [`rules::AUP_CODES`]); phrases that prove a missing mailbox whatever
//!    the command ([`rules::DEFINITE_USER_UNKNOWN`]).
//! 4. A refusal at the greeting or EHLO is about the sending host.
//! 5. The diagnostic's wording ([`rules::TEXT_RULES`]): servers often send
//!    a generic code (`5.0.0`, `5.7.1`, `5.2.1`) with a precise phrase. A
//!    generic "user unknown" yields to the notice's own summary (full,
//!    disabled); the SMTP command then refines it (see [`refine`]).
//! 6. An `x-unix` diagnostic is a local delivery program.
//! 7. A delayed recipient with no telling text is waiting out its retry
//!    period (RFC 3464 §2.3.3 `delayed`).
//! 8. A refusal at MAIL FROM is about the sender.
//! 9. The meaning of the enhanced code (RFC 3463 via
//!    [`rules::WEAK_STATUS`]).
//! 10. A temporary (4xx) refusal reported as final has outlasted the retry
//!     period.
//! 11. The wording of the whole notice and its subject, for MTAs that keep
//!     the reason away from the address.

use crate::Reason;
use crate::codes::StatusCode;
use crate::parse::{Action, Command, Raw};
use crate::pattern::{fold, matches};
use crate::rules::{
    AUP_CODES, AUP_RANGES, Code, DEFINITE_USER_UNKNOWN, DOMAIN_RULES, STRONG_STATUS, TEXT_RULES,
    WEAK_STATUS,
};

fn code_matches(c: &Code, s: StatusCode) -> bool {
    c.0.is_none_or(|k| k == s.class) && c.1 == s.subject && c.2 == s.detail
}

fn by_status(table: &[(Code, Reason)], s: Option<StatusCode>) -> Option<Reason> {
    let s = s?;
    table
        .iter()
        .find(|(c, _)| code_matches(c, s))
        .map(|(_, r)| *r)
}

/// The first reason whose phrases match the folded text.
pub fn by_text(folded: &str) -> Option<Reason> {
    if folded.is_empty() {
        return None;
    }
    crate::pattern::TableMatcher::get()
        .first(folded)
        .map(|i| TEXT_RULES[i].reason)
}

/// Folds a diagnostic for matching and drops the reply and status codes,
/// which multi-line replies repeat mid-sentence (`550-5.7.1 ... 550 5.7.1`,
/// RFC 5321 §4.2.1) and which would break phrases apart.
pub fn match_text(diag: &str) -> String {
    let f = fold(diag);
    let mut out = String::with_capacity(f.len());
    for w in f.split(' ') {
        let t = w.trim_end_matches([',', ':', ';']);
        let is_reply = t.len() >= 3
            && t.as_bytes()[..3].iter().all(u8::is_ascii_digit)
            && (t.len() == 3
                || t.as_bytes()[3] == b'-'
                    && (t.len() == 4 || StatusCode::parse(&t[4..]).is_some()));
        if is_reply || StatusCode::parse(t.trim_start_matches('#')).is_some() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Replaces the recipient address (and its angle brackets) by `<rcpt>`.
fn with_rcpt_token(folded: &str, addr: &str) -> String {
    let a = addr.to_lowercase();
    if a.is_empty() || !folded.contains(&a) {
        return folded.to_string();
    }
    folded
        .replace(&format!("<{a}>"), "<rcpt>")
        .replace(&a, "<rcpt>")
}

/// RFC 3463 X.1.1, X.1.3 and X.1.10: the server itself says the mailbox
/// address is bad, whatever command drew the refusal.
fn explicit_bad_mailbox(s: Option<StatusCode>) -> bool {
    s.is_some_and(|s| s.subject == 1 && matches!(s.detail, 1 | 3 | 10))
}

/// Adjusts a text-derived reason by the SMTP command that failed.
///
/// A "no such user" answered to MAIL FROM is about the sender. One that
/// came after the message data, or from a server whose command we cannot
/// see, is taken as a content filter (the recipient had been accepted at
/// RCPT TO); only a refusal at RCPT TO, or an explicit X.1.1-type code,
/// proves the mailbox is missing. A temporary "host not found" is a DNS
/// failure, not proof that the domain is gone.
fn refine(reason: Reason, r: &Raw) -> Reason {
    use Reason::*;
    let class = r.status.map(|s| s.class).or(r.reply.map(|c| c.class()));
    let subject = r.status.filter(|s| !s.is_generic()).map(|s| s.subject);
    match (reason, r.command) {
        (UserUnknown | HostUnknown | Filtered | Suspend, Some(Command::Mail)) => Rejected,
        (UserUnknown, Some(Command::Rcpt)) => UserUnknown,
        (UserUnknown, _) if explicit_bad_mailbox(r.status) => UserUnknown,
        (UserUnknown, Some(Command::Data)) => Filtered,
        // A remote SMTP refusal that carried no status code and no
        // command: the shape content filters answer in.
        (UserUnknown, None) if r.status.is_none() && r.reply.is_some() => Filtered,
        // A code about the mailbox's state or the mail system (X.2, X.3)
        // beside "unknown user" wording, with no RCPT TO in sight: the
        // server refused the message, not the address.
        (UserUnknown, None) if matches!(subject, Some(2 | 3)) && r.reply.is_some() => Filtered,
        // A security or policy code (X.7) says why; the wording is a
        // generic prefix ("Unknown address error").
        (UserUnknown, None) if subject == Some(7) => {
            by_status(WEAK_STATUS, r.status).unwrap_or(SecurityError)
        }
        (HostUnknown, _) if class == Some(4) => NetworkError,
        (r, _) => r,
    }
}

/// `AUP#CDRBL`, `AUP#In-1310`: a provider's own refusal code.
fn by_aup(folded: &str) -> Option<Reason> {
    let i = folded.find("aup#")?;
    let code: String = folded[i + 4..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let num = code.rsplit('-').next().and_then(|n| n.parse::<u16>().ok());
    if let Some(n) = num {
        return AUP_RANGES
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&n))
            .map(|(_, _, r)| *r);
    }
    AUP_CODES
        .iter()
        .find(|(p, _)| code.starts_with(p))
        .map(|(_, r)| *r)
}

fn by_domain(addr: &str) -> Option<Reason> {
    let dom = addr.rsplit('@').next()?.to_ascii_lowercase();
    DOMAIN_RULES
        .iter()
        .find(|(d, _)| dom == *d || dom.ends_with(&format!(".{d}")))
        .map(|(_, r)| *r)
}

/// The reason for one failed (or delayed, or delivered) recipient.
pub fn classify(r: &Raw, subject: &str) -> Reason {
    let success = matches!(
        r.action,
        Some(Action::Delivered | Action::Relayed | Action::Expanded)
    ) || r.status.is_some_and(|s| s.class == 2);
    if success {
        return Reason::Delivered;
    }
    if let Some(reason) = r.reason_hint {
        return reason;
    }
    if let Some(reason) = by_status(STRONG_STATUS, r.status) {
        return reason;
    }
    if r.reply.is_none()
        && let Some(reason) = by_domain(&r.address)
    {
        return reason;
    }
    let folded = if r.status_comment.is_empty() {
        match_text(&r.diagnostic)
    } else {
        match_text(&format!("{} ({})", r.diagnostic, r.status_comment))
    };
    // The recipient's own address becomes `<rcpt>`, so rules can say
    // "the address, then Rejected" without naming addresses.
    let folded = with_rcpt_token(&folded, &r.address);
    if let Some(reason) = by_aup(&folded) {
        return reason;
    }
    if DEFINITE_USER_UNKNOWN.iter().any(|p| matches(&folded, p)) {
        return Reason::UserUnknown;
    }
    let text = by_text(&folded);
    // A refusal at the greeting is about the sending host: blocked, unless
    // it names a connection limit or the PTR record itself.
    let names_ptr = text == Some(Reason::RequirePtr) && folded.contains("ptr");
    if r.command == Some(Command::Connect)
        && !matches!(text, Some(Reason::TooManyConn | Reason::Speeding))
        && !names_ptr
    {
        return Reason::Blocked;
    }
    if text == Some(Reason::UserUnknown)
        && let Some(summary) = r.summary_reason
    {
        return summary;
    }
    if let Some(reason) = text {
        return refine(reason, r);
    }
    if r.diag_type.as_deref() == Some("x-unix") {
        return Reason::MailerError;
    }
    if r.action == Some(Action::Delayed) {
        return Reason::Expired;
    }
    if r.command == Some(Command::Mail) {
        return Reason::Rejected;
    }
    if let Some(reason) = by_status(WEAK_STATUS, r.status) {
        return refine(reason, r);
    }
    // A temporary (4xx) refusal in a notice of final failure: the
    // condition outlasted the retry period.
    let class = r.status.map(|s| s.class).or(r.reply.map(|c| c.class()));
    if class == Some(4) && r.action != Some(Action::Delivered) {
        return Reason::Expired;
    }
    let ctx = by_text(&match_text(&r.context)).or_else(|| by_text(&fold(subject)));
    if let Some(reason) = ctx {
        return refine(reason, r);
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
            (
                "5.1.1",
                "550 5.1.1 <a@example.net>... User Unknown",
                f,
                UserUnknown,
            ),
            ("", "550 user unknown", f, Filtered),
            ("5.0.0", "550 : User unknown", f, Filtered),
            ("5.0.0", "550 <a@example.net>: User unknown", f, UserUnknown),
            ("5.1.1", "550 5.1.1 user unknown", f, UserUnknown),
            (
                "5.2.1",
                "550 5.2.1 <a@example.net>... User Unknown (in reply to RCPT TO command)",
                f,
                UserUnknown,
            ),
            (
                "5.2.1",
                "The email account that you tried to reach is disabled",
                f,
                Suspend,
            ),
            (
                "5.2.2",
                "552 5.2.2 Mailbox full, quota exceeded",
                f,
                MailboxFull,
            ),
            (
                "5.2.3",
                "552 5.2.3 Message size exceeds fixed maximum",
                f,
                ExceedLimit,
            ),
            (
                "4.4.7",
                "451 4.4.7 Connection timed out",
                Some(Action::Delayed),
                Expired,
            ),
            (
                "4.4.1",
                "connect to x[192.0.2.1]:25: No route to host",
                Some(Action::Delayed),
                NetworkError,
            ),
            (
                "5.7.1",
                "554 5.7.1 Client host [192.0.2.25] blocked using a DNS blocklist",
                f,
                Blocked,
            ),
            (
                "5.0.0",
                "550 : User unknown (in reply to end of DATA command)",
                f,
                Filtered,
            ),
            (
                "5.1.0",
                "after MAIL FROM: 553 5.1.0 sender.example does not exist",
                f,
                Rejected,
            ),
            (
                "5.7.1",
                "after initial connection: 554 5.7.1 Go away",
                f,
                Blocked,
            ),
            (
                "5.7.1",
                "after initial connection: 554 5.7.1 Missing reverse DNS",
                f,
                Blocked,
            ),
            (
                "5.7.1",
                "after initial connection: 554 5.7.1 no PTR record for you",
                f,
                RequirePtr,
            ),
            ("2.0.0", "250 OK", Some(Action::Delivered), Delivered),
            (
                "5.7.26",
                "550 5.7.26 Unauthenticated email is not accepted",
                f,
                AuthFailure,
            ),
            (
                "5.0.0",
                "550-5.7.1 Messages with multiple 550-5.7.1 addresses in From: header",
                f,
                NotCompliantRfc,
            ),
            ("5.0.0", "550 사서함 용량이 초과되었습니다", f, MailboxFull),
            (
                "5.1.1",
                "550 5.1.1 존재하지 않는 사용자입니다",
                f,
                UserUnknown,
            ),
            (
                "",
                "받는 사람이 장기 미사용으로 휴면 처리된 계정입니다",
                f,
                Suspend,
            ),
            ("", "받는 사람이 보낸 사람을 차단했습니다", f, Filtered),
            (
                "4.2.1",
                "421 4.2.1 The user you are trying to contact is receiving mail too quickly",
                f,
                Speeding,
            ),
            (
                "5.7.1",
                "550 5.7.1 Our system has detected that this message is likely unsolicited mail",
                f,
                SpamDetected,
            ),
            (
                "5.7.708",
                "550 5.7.708 Access denied, traffic not accepted from this IP",
                f,
                Blocked,
            ),
            ("", "스팸으로 분류되어 거부되었습니다", f, SpamDetected),
            ("", "메일 크기가 허용 크기를 초과했습니다", f, MesgTooBig),
            ("4.0.0", "DNS Error: Domain name not found", f, NetworkError),
            ("", "", f, Undefined),
        ];
        for (st, diag, action, want) in cases {
            let got = classify(&raw(st, diag, *action), "");
            assert_eq!(got, *want, "{st} {diag}");
        }
        // A bare 2xx number in a failure notice ("Size: 222") is not a
        // success: only a 2.X.X status or a delivered action is.
        let mut r = raw("", "", f);
        r.reply = Some(ReplyCode(250));
        assert_eq!(classify(&r, ""), Undefined);
    }

    #[test]
    fn match_text_drops_codes() {
        assert_eq!(
            match_text("550-5.7.1 a b 550 5.7.1 c (#5.4.4)"),
            "a b c (#5.4.4)"
        );
        assert_eq!(match_text("rfc 5322 says"), "rfc 5322 says");
    }
}
