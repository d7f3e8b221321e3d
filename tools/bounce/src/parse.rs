//! From message bytes to raw per-recipient records.
//!
//! This module owns the structure of a returned message: which MIME part
//! holds the machine-readable report (RFC 3464 `message/delivery-status`,
//! RFC 6533 `message/global-delivery-status`, RFC 5965
//! `message/feedback-report`), which holds the human-readable notice, and
//! which holds the returned original. It extracts facts (addresses, codes,
//! texts) and leaves the choice of a [`crate::Reason`] to `classify`.

use std::borrow::Cow;

use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};

use crate::codes::{FoundCodes, ReplyCode, StatusCode, find_codes};
use crate::scan;

/// Upper bound on bytes analysed; a bounce's notice and report sit near the
/// top, and a bound keeps the cost per message flat for huge attachments.
pub const MAX_INPUT: usize = 4 << 20;
/// Upper bound on recipients reported per message (a DSN may list many).
pub const MAX_RECIPIENTS: usize = 1000;
/// Upper bound on the diagnostic text kept per recipient, in bytes.
pub const MAX_DIAGNOSTIC: usize = 2000;

/// The DSN action of RFC 3464 §2.3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The message could not be delivered.
    Failed,
    /// Delivery is still being tried.
    Delayed,
    /// Delivered to the recipient.
    Delivered,
    /// Relayed to a system that sends no DSN.
    Relayed,
    /// Delivered and forwarded to several further addresses.
    Expanded,
}

impl Action {
    /// The RFC 3464 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        let w = s
            .split(|c: char| !c.is_ascii_alphabetic())
            .find(|w| !w.is_empty())?;
        Some(match w.to_ascii_lowercase().as_str() {
            "failed" | "failure" => Action::Failed,
            "delayed" | "delay" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

/// The SMTP command a remote server was answering when it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The greeting or the EHLO/HELO exchange.
    Connect,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA, BDAT or the end of the message data.
    Data,
}

/// Facts about one recipient, before classification.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub address: String,
    pub original_recipient: Option<String>,
    pub action: Option<Action>,
    pub status: Option<StatusCode>,
    pub reply: Option<ReplyCode>,
    pub remote_host: Option<String>,
    pub diagnostic: String,
    /// Diagnostic-Code type (`smtp`, `x-unix`, ...), lower case.
    pub diag_type: Option<String>,
    pub command: Option<Command>,
    pub feedback_type: Option<String>,
    /// A reason the report states in its own structured terms (an SES
    /// "Suppressed" bounce), which no wording overrides.
    pub reason_hint: Option<crate::Reason>,
    /// What the notice's opening summary (before any address) says about
    /// the mailbox, when it says it is full or disabled.
    pub summary_reason: Option<crate::Reason>,
    /// The comment after the code in a DSN Status field.
    pub status_comment: String,
    /// The wider notice text around the recipient, used when the
    /// diagnostic alone names no reason.
    pub context: String,
}

/// What kind of report the message is, as far as its structure tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Dsn,
    Feedback,
    Text,
    AutoReply,
    Other,
}

/// Headers of the returned original message, when the bounce carries them.
#[derive(Debug, Clone, Default)]
pub struct Original {
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
}

/// All that the parser found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub shape: Option<Shape>,
    pub records: Vec<Raw>,
    pub original: Original,
    pub top_from: Option<String>,
    pub top_to: Option<String>,
    pub subject: String,
    /// The human-readable notice, cut before any copy of the original.
    pub notice: String,
}

/// Header facts of the bounce itself used by detection.
pub struct Top<'a> {
    pub msg: Option<&'a Message<'a>>,
    pub from: Option<String>,
    pub from_name: String,
    pub to: Option<String>,
    pub subject: String,
}

impl Top<'_> {
    fn header(&self, name: &'static str) -> Option<&str> {
        self.msg?.header_raw(name).map(str::trim)
    }

    /// True when the headers say "this was written by a mail system".
    pub fn looks_like_daemon(&self) -> bool {
        let rp = self.header("Return-Path").unwrap_or("x");
        rp == "<>" || self.daemon_from()
    }

    /// True when the From field names a mail system rather than a person.
    pub fn daemon_from(&self) -> bool {
        let from = self.from.as_deref().unwrap_or("").to_ascii_lowercase();
        let local = from.split('@').next().unwrap_or("");
        let name = self.from_name.to_ascii_lowercase();
        self.header("From").is_some_and(|f| f.trim() == "<>")
            || matches!(
                local,
                "mailer-daemon"
                    | "postmaster"
                    | "mail-daemon"
                    | "maildaemon"
                    | "mailerdaemon"
                    | "post_master"
                    | "mail.daemon"
            )
            || local.starts_with("mailer-daemon")
            || local.starts_with("postmaster")
            || name.contains("mail delivery")
            || name.contains("mailer-daemon")
            || name.contains("mail deliver system")
            || self.header("X-Failed-Recipients").is_some()
    }
}

fn first_addr(a: Option<&Address<'_>>) -> (Option<String>, String) {
    let Some(a) = a else {
        return (None, String::new());
    };
    let Some(f) = a.first() else {
        return (None, String::new());
    };
    let addr = f
        .address()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    (addr, f.name().unwrap_or("").to_string())
}

fn all_addrs(a: Option<&Address<'_>>, out: &mut Vec<String>) {
    if let Some(a) = a {
        for x in a.iter() {
            if let Some(s) = x.address() {
                out.push(s.trim().to_string());
            }
        }
    }
}

/// Lower-cased `type/subtype` of a part, or "" when it has none.
fn ctype<'x>(p: &impl MimeHeaders<'x>) -> String {
    match p.content_type() {
        Some(ct) => {
            let mut s = ct.ctype().to_ascii_lowercase();
            s.push('/');
            s.push_str(&ct.subtype().unwrap_or("").to_ascii_lowercase());
            s
        }
        None => String::new(),
    }
}

/// The parts of a bounce sorted by role.
#[derive(Default)]
struct Sorted<'a> {
    notice: Vec<Cow<'a, str>>,
    dsn: Vec<Cow<'a, str>>,
    feedback: Vec<Cow<'a, str>>,
    orig_headers: Option<Cow<'a, str>>,
    orig_msg: Option<&'a Message<'a>>,
    report_type: Option<String>,
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn sort_parts<'a>(msg: &'a Message<'a>) -> Sorted<'a> {
    let mut s = Sorted::default();
    if let Some(ct) = msg.root_part().content_type() {
        s.report_type = ct.attribute("report-type").map(|r| r.to_ascii_lowercase());
    }
    let mut html = Vec::new();
    for part in &msg.parts {
        let ct = ctype(part);
        match &part.body {
            PartType::Text(t) => match ct.as_str() {
                "text/rfc822-headers" | "message/rfc822-headers" | "text/rfc822" => {
                    s.orig_headers.get_or_insert(Cow::Borrowed(t.as_ref()));
                }
                "message/delivery-status" | "message/global-delivery-status" => {
                    s.dsn.push(Cow::Borrowed(t.as_ref()))
                }
                "message/feedback-report" => s.feedback.push(Cow::Borrowed(t.as_ref())),
                _ => s.notice.push(Cow::Borrowed(t.as_ref())),
            },
            PartType::Html(h) => html.push(h.as_ref()),
            PartType::Binary(b) | PartType::InlineBinary(b) => match ct.as_str() {
                // RFC 3464 §2 and RFC 6533 §6: the machine-readable report.
                "message/delivery-status" | "message/global-delivery-status" => {
                    s.dsn.push(lossy(b))
                }
                // RFC 5965 §3.1: the ARF report part.
                "message/feedback-report" => s.feedback.push(lossy(b)),
                "message/rfc822-headers" | "message/global-headers" | "text/rfc822-headers" => {
                    s.orig_headers.get_or_insert(lossy(b));
                }
                "message/rfc822" | "message/global" => {
                    s.orig_headers.get_or_insert(lossy(b));
                }
                // A multipart that mail-parser could not split (broken
                // boundary) still holds the notice text.
                _ if ct.starts_with("text/") || ct.is_empty() || ct.starts_with("multipart/") => {
                    s.notice.push(lossy(b))
                }
                _ => {}
            },
            PartType::Message(m) => {
                s.orig_msg.get_or_insert(m);
            }
            PartType::Multipart(_) => {}
        }
    }
    if s.notice.is_empty() {
        s.notice
            .extend(html.into_iter().map(|h| Cow::Owned(scan::strip_html(h))));
    }
    s
}

/// Runs mail-parser, shielding callers from its internal assertions.
///
/// mail-parser 0.11.9 has a `debug_assert!` on malformed multipart nesting
/// that the fuzz target reached (`tests/regress/`); in a debug build it
/// panics. The parse is pure, so a panic leaves nothing behind and the
/// input is then read as bare text.
fn parse_mime(raw: &[u8], headers_only: bool) -> Option<Message<'_>> {
    let parser = MessageParser::default();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if headers_only {
            parser.parse_headers(raw)
        } else {
            parser.parse(raw)
        }
    }))
    .ok()
    .flatten()
}

/// Parses `raw` and extracts everything the classifier needs.
pub fn parse(raw: &[u8]) -> Parsed {
    parse_nested(raw, 0)
}

/// How deep a bounce forwarded inside another message is looked for.
const MAX_NESTING: usize = 2;

fn parse_nested(raw: &[u8], depth: usize) -> Parsed {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let Some(msg) = parse_mime(raw, false) else {
        // Not even a header block: treat the bytes as a bare notice.
        let mut out = Parsed::default();
        let top = Top {
            msg: None,
            from: None,
            from_name: String::new(),
            to: None,
            subject: String::new(),
        };
        scan::scan_text(&lossy(raw), &top, &mut out);
        return out;
    };
    read_message(&msg, depth)
}

/// Tries each kind of report in turn, most structured first: ARF, SES
/// events, RFC 3464 reports, a report forwarded inside the message, then
/// free text, and last the auto-reply.
fn read_message(msg: &Message<'_>, depth: usize) -> Parsed {
    let mut out = Parsed::default();
    let (from, from_name) = first_addr(msg.from());
    let top = Top {
        msg: Some(msg),
        from,
        from_name,
        to: first_addr(msg.to()).0,
        subject: msg.subject().unwrap_or("").to_string(),
    };
    out.top_from = top.from.clone();
    out.top_to = top.to.clone();
    out.subject = top.subject.clone();

    let sorted = sort_parts(msg);
    read_original(&sorted, &mut out.original);
    if !sorted.feedback.is_empty() || sorted.report_type.as_deref() == Some("feedback-report") {
        read_feedback(&sorted, &mut out);
        out.shape = Some(Shape::Feedback);
        return out;
    }
    let notice: String = sorted
        .notice
        .iter()
        .map(|c| c.as_ref())
        .collect::<Vec<_>>()
        .join("\n");
    if crate::ses::read(&notice, &mut out) || apple_unsubscribe(&top, &mut out) {
        return out;
    }
    if read_reports(&sorted, &notice, &top, &mut out) {
        return out;
    }
    // A bounce forwarded as an attachment (a postmaster copy, a relay that
    // wraps notices): read the inner report.
    if let Some(inner) = sorted.orig_msg.filter(|_| depth < MAX_NESTING)
        && looks_like_report(inner)
    {
        let p = parse_nested(inner.raw_message(), depth + 1);
        if !p.records.is_empty() && matches!(p.shape, Some(Shape::Dsn | Shape::Text)) {
            return p;
        }
    }
    scan::scan_text(&notice, &top, &mut out);
    if out.shape.is_none() && scan::is_auto_reply(&top) {
        out.shape = Some(Shape::AutoReply);
        let address = top.from.clone().unwrap_or_default();
        out.records.push(Raw {
            address,
            ..Raw::default()
        });
    }
    out
}

/// Apple Mail's one-click unsubscribe: an opt-out complaint sent as a
/// plain auto-reply with `X-Apple-Unsubscribe: true`.
fn apple_unsubscribe(top: &Top<'_>, out: &mut Parsed) -> bool {
    let flagged = top
        .header("X-Apple-Unsubscribe")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if flagged {
        out.shape = Some(Shape::Feedback);
        out.records.push(Raw {
            address: top.from.clone().unwrap_or_default(),
            feedback_type: Some("opt-out".to_string()),
            ..Raw::default()
        });
    }
    flagged
}

/// RFC 3464 report fields, from their own parts or pasted into the
/// notice, completed from the notice's text. False when there are none.
fn read_reports(sorted: &Sorted<'_>, notice: &str, top: &Top<'_>, out: &mut Parsed) -> bool {
    for d in &sorted.dsn {
        read_dsn(d, &mut out.records);
    }
    // Some MTAs paste the report fields into the text part instead of a
    // message/delivery-status part.
    if out.records.is_empty() && scan::has_inline_dsn(notice) {
        read_dsn(notice, &mut out.records);
    }
    out.records.truncate(MAX_RECIPIENTS);
    if out.records.is_empty() {
        return false;
    }
    out.shape = Some(Shape::Dsn);
    out.notice = scan::clip(scan::cut_original(notice), scan::MAX_NOTICE).to_string();
    scan::enrich_from_notice(out, top);
    true
}

/// A nested message that is itself a delivery report.
fn looks_like_report(m: &Message<'_>) -> bool {
    let report = m
        .root_part()
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    let (from, name) = first_addr(m.from());
    let subject = m.subject().unwrap_or("").to_string();
    let top = Top {
        msg: Some(m),
        from,
        from_name: name,
        to: None,
        subject,
    };
    report || top.daemon_from() && scan::subject_is_bounce(&top.subject)
}

fn read_original(s: &Sorted<'_>, o: &mut Original) {
    if let Some(m) = s.orig_msg {
        o.message_id = m.message_id().map(|s| s.to_string());
        o.subject = m.subject().map(|s| s.to_string());
        o.from = first_addr(m.from()).0;
        all_addrs(m.to(), &mut o.to);
        return;
    }
    if let Some(h) = &s.orig_headers {
        read_header_text(h, o);
    }
}

/// Reads Message-ID, Subject, From and To from a header block given as
/// text (text/rfc822-headers, or a copy pasted into a notice).
pub fn read_header_text(h: &str, o: &mut Original) {
    let end = h.find("\n\n").map_or(h.len(), |i| i + 1);
    let block = &h[..end.min(h.len())];
    let Some(m) = parse_mime(block.as_bytes(), true) else {
        return;
    };
    if o.message_id.is_none() {
        o.message_id = m.message_id().map(|s| s.to_string());
    }
    if o.subject.is_none() {
        o.subject = m.subject().map(|s| s.to_string());
    }
    if o.from.is_none() {
        o.from = first_addr(m.from()).0;
    }
    if o.to.is_empty() {
        all_addrs(m.to(), &mut o.to);
    }
}

/// Splits report text into unfolded `(name, value)` fields, with `None`
/// marking a blank line (a group boundary, RFC 3464 §2.1).
fn fields(text: &str) -> Vec<Option<(String, String)>> {
    let mut out: Vec<Option<(String, String)>> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !matches!(out.last(), Some(None) | None) {
                out.push(None);
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // RFC 5322 §2.2.3 folding, which RFC 3464 fields follow.
            if let Some(Some((_, v))) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            if !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                out.push(Some((n.to_ascii_lowercase(), v.trim().to_string())));
                continue;
            }
        }
        // A stray line: keep it with the previous value (some MTAs wrap
        // long Diagnostic-Code values without the leading blank).
        if let Some(Some((n, v))) = out.last_mut()
            && n == "diagnostic-code"
        {
            v.push(' ');
            v.push_str(line.trim());
        }
    }
    out
}

/// `rfc822; <a@b>` or `utf-8; a@b` (RFC 6533 §3) to the bare address.
fn typed_address(v: &str) -> String {
    let a = match v.split_once(';') {
        Some((_, a)) => a,
        None => v,
    };
    // `Name <a@b>`: the part in angle brackets is the address.
    let a = match (a.find('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j && a[i + 1..j].contains('@') => &a[i + 1..j],
        _ => a,
    };
    let a = a
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let a = a.split_whitespace().next().unwrap_or("");
    a.trim_matches(|c| c == '<' || c == '>' || c == '"' || c == '\'')
        .to_string()
}

/// `dns; mx.example.net` to `mx.example.net`.
fn typed_value(v: &str) -> String {
    match v.split_once(';') {
        Some((_, a)) => a.trim().to_string(),
        None => v.trim().to_string(),
    }
}

fn read_dsn(text: &str, out: &mut Vec<Raw>) {
    let mut cur: Option<Raw> = None;
    let mut pending_orig: Option<String> = None;
    let flush = |cur: &mut Option<Raw>, out: &mut Vec<Raw>| {
        if let Some(mut r) = cur.take() {
            if r.address.is_empty() {
                r.address = r.original_recipient.clone().unwrap_or_default();
            }
            if !r.address.is_empty() && out.len() < MAX_RECIPIENTS {
                out.push(r);
            }
        }
    };
    for f in fields(text) {
        let Some((name, value)) = f else {
            flush(&mut cur, out);
            continue;
        };
        match name.as_str() {
            "final-recipient" | "x-actual-recipient"
                if name == "final-recipient" || cur.is_none() =>
            {
                if cur.as_ref().is_some_and(|c| !c.address.is_empty()) {
                    flush(&mut cur, out);
                }
                let r = cur.get_or_insert_with(Raw::default);
                r.address = typed_address(&value);
                if let Some(o) = pending_orig.take() {
                    r.original_recipient = Some(o);
                }
            }
            "original-recipient" => {
                let a = typed_address(&value);
                match cur.as_mut() {
                    Some(c) if c.original_recipient.is_none() => c.original_recipient = Some(a),
                    // Some gateways (McAfee) send Original-Recipient alone.
                    None => {
                        cur = Some(Raw {
                            original_recipient: Some(a),
                            ..Raw::default()
                        })
                    }
                    _ => pending_orig = Some(a),
                }
            }
            _ => {
                if let Some(c) = cur.as_mut() {
                    set_recipient_field(c, &name, &value);
                }
            }
        }
    }
    flush(&mut cur, out);
    for r in out.iter_mut() {
        fix_address(r);
        let found = find_codes(&r.diagnostic);
        apply_codes(r, found);
    }
}

/// RFC 3464 §2.3 per-recipient fields other than the addresses.
fn set_recipient_field(c: &mut Raw, name: &str, value: &str) {
    match name {
        "action" => c.action = Action::parse(value),
        "status" => {
            let tok = value
                .split(|ch: char| ch.is_whitespace() || ch == '(')
                .next()
                .unwrap_or("");
            c.status = StatusCode::parse(tok.trim_end_matches(['.', ',', ';']));
            // RFC 3464 §2.3.4 allows a comment after the code (PowerMTA:
            // "5.2.1 (mailbox disabled, not accepting messages)"); it is
            // the reporting MTA's reading.
            if let Some((_, c2)) = value.split_once('(') {
                c.status_comment = c2.trim_end_matches(')').trim().to_string();
            }
        }
        "remote-mta" => c.remote_host = Some(typed_value(value)).filter(|s| !s.is_empty()),
        "diagnostic-code" => {
            // RFC 3464 §2.3.6: diagnostic-type ";" *text.
            let (ty, d) = match value.split_once(';') {
                Some((t, d)) if t.len() < 20 && !t.contains(' ') => {
                    (Some(t.trim().to_ascii_lowercase()), d.trim())
                }
                _ => (None, value.trim()),
            };
            c.diag_type = ty;
            c.diagnostic = d.to_string();
        }
        _ => {}
    }
}

/// True for `local@domain.tld`.
pub fn is_mailbox(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((l, d)) => {
            !l.is_empty() && d.contains('.') && !d.ends_with('.') && !a.contains([' ', '|', '/'])
        }
        None => false,
    }
}

/// Final-Recipient values that are not a mailbox: an RFC 5321 §4.1.2
/// source route (`@relay:user@domain`), or a local delivery target such
/// as a pipe or file (Exim, Sendmail aliases). Use the Original-Recipient,
/// or an address inside the value.
fn fix_address(r: &mut Raw) {
    if let Some((_, tail)) = r.address.rsplit_once(':')
        && r.address.starts_with('@')
    {
        r.address = tail.to_string();
    }
    if is_mailbox(&r.address) {
        return;
    }
    if let Some(o) = r.original_recipient.as_deref().filter(|o| is_mailbox(o)) {
        r.address = o.to_string();
    } else if let Some((_, a)) = scan::find_addresses(&r.address).into_iter().next() {
        r.address = a;
    }
}

/// Fills the reply code and the enhanced status code from a diagnostic.
///
/// The remote server's own code, quoted in the diagnostic, is preferred to
/// the reporting MTA's `Status:` field when both have the same class: MTAs
/// often put a generic or guessed code there (c36: `Status: 5.0.0` beside
/// `550 5.1.1 ...`; `Status: 5.1.1` beside `552 5.2.2 Over quota`).
pub fn apply_codes(r: &mut Raw, f: FoundCodes) {
    if r.reply.is_none() {
        r.reply = f.reply;
    }
    match (r.status, f.status) {
        (None, s) => r.status = s,
        (Some(have), Some(s))
            if have.class == s.class && (!s.is_generic() || have.is_generic()) =>
        {
            r.status = Some(s)
        }
        _ => {}
    }
}

fn read_feedback(s: &Sorted<'_>, out: &mut Parsed) {
    let mut rcpts = Vec::new();
    let mut ftype = None;
    for text in &s.feedback {
        for (name, value) in fields(text).into_iter().flatten() {
            match name.as_str() {
                // RFC 5965 §3.2: Original-Rcpt-To may appear many times.
                "original-rcpt-to" | "removal-recipient" => rcpts.push(typed_address(&value)),
                "feedback-type" => ftype = Some(value.trim().to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    if rcpts.is_empty() {
        rcpts.extend(out.original.to.iter().cloned());
    }
    if rcpts.is_empty() {
        rcpts.push(String::new());
    }
    let mut seen = Vec::new();
    for a in rcpts {
        let key = a.to_ascii_lowercase();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.records.push(Raw {
            address: a,
            feedback_type: ftype.clone(),
            ..Raw::default()
        });
        if out.records.len() >= MAX_RECIPIENTS {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_address_table() {
        let cases = [
            ("rfc822; a@example.net", "a@example.net"),
            ("RFC822; <a@example.net>", "a@example.net"),
            ("utf-8; 김@example.net", "김@example.net"),
            ("rfc822; Kim <k@example.net>", "k@example.net"),
            ("a@example.net", "a@example.net"),
            ("rfc822;", ""),
        ];
        for (v, want) in cases {
            assert_eq!(typed_address(v), want, "{v}");
        }
    }

    #[test]
    fn mailbox_and_fix_table() {
        let cases = [
            ("@relay.example.org:a@example.net", None, "a@example.net"),
            ("|/usr/bin/prog a@example.net", None, "a@example.net"),
            (
                "@smtp.example.net:a@server",
                Some("a@example.net"),
                "a@example.net",
            ),
            ("b@example.net", Some("c@example.net"), "b@example.net"),
        ];
        for (addr, orig, want) in cases {
            let mut r = Raw {
                address: addr.to_string(),
                original_recipient: orig.map(str::to_string),
                ..Raw::default()
            };
            fix_address(&mut r);
            assert_eq!(r.address, want, "{addr}");
        }
        assert!(is_mailbox("a@example.net"));
        assert!(!is_mailbox("a@server"));
        assert!(!is_mailbox("/var/mail/a"));
    }

    #[test]
    fn dsn_groups_and_folding() {
        // RFC 3464 §2.1: a per-message group, then one group per recipient;
        // continuation lines fold into the previous field.
        let text = "Reporting-MTA: dns; mx.example.com\n\n\
            Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.0.0\n\
            Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>:\n    user unknown\n\n\
            Original-Recipient: rfc822; B@example.net\nFinal-Recipient: rfc822; b@example.net\n\
            Action: delayed\nStatus: 4.4.7 (delivery time expired)\n";
        let mut out = Vec::new();
        read_dsn(text, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].address, "a@example.net");
        assert_eq!(
            out[0].status.map(|s| s.to_string()).as_deref(),
            Some("5.1.1")
        );
        assert_eq!(out[0].diagnostic, "550 5.1.1 <a@example.net>: user unknown");
        assert_eq!(out[0].reply.map(|c| c.0), Some(550));
        assert_eq!(out[1].original_recipient.as_deref(), Some("B@example.net"));
        assert_eq!(out[1].action, Some(Action::Delayed));
        assert_eq!(out[1].status_comment, "delivery time expired");
    }
}
