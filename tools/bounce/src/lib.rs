//! Returned-mail (bounce) analysis for nmail.
//!
//! [`analyze`] reads the bytes of one message and says whether it is a
//! bounce and, for each recipient it reports, what failed and why, as one
//! [`Reason`] of a fixed taxonomy. [`explain`] turns a reason into text a
//! user can act on, in Korean or English.
//!
//! Formats read: RFC 3464 `multipart/report` delivery status notifications
//! (and the RFC 6533 internationalised variants), RFC 5965 ARF feedback
//! reports, RFC 3834 auto-replies, and the free-text notices of qmail,
//! Exim, Sendmail, Postfix, Exchange/Office 365, Gmail, Yahoo, Outlook.com,
//! Amazon SES and Korean webmail services.
//!
//! Both entry points are pure functions over their input: no I/O, no
//! global state beyond static tables, bounded work per byte of input, and
//! no panics on malformed input.

mod classify;
mod cli;
pub mod codes;
mod explain;
mod explain_data;
mod parse;
pub mod pattern;
mod reason;
pub mod rules;
mod scan;
mod ses;

pub use cli::{analyze_files_cli, render_json, render_plain};
pub use codes::{ReplyCode, StatusCode};
pub use explain::{Actor, Explanation, Lang, UnknownLang, explain};
pub use parse::Action;
pub use reason::{Reason, UnknownReason};

use parse::Shape;

/// What kind of message [`analyze`] was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An RFC 3464 delivery status notification.
    Dsn,
    /// A failure notice in free text (no machine-readable report).
    Notice,
    /// An RFC 5965 feedback (complaint) report: not a bounce.
    Feedback,
    /// An automatic reply such as an out-of-office notice (RFC 3834): not
    /// a bounce.
    AutoReply,
    /// An ordinary message.
    NotBounce,
}

impl Kind {
    /// A short lower-case name: `dsn`, `notice`, `feedback`, `auto-reply`,
    /// `not-bounce`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dsn => "dsn",
            Kind::Notice => "notice",
            Kind::Feedback => "feedback",
            Kind::AutoReply => "auto-reply",
            Kind::NotBounce => "not-bounce",
        }
    }
}

/// The outcome for one recipient named in a report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipientResult {
    /// The recipient address (RFC 3464 Final-Recipient, or the address the
    /// notice names). Empty when the report names none.
    pub address: String,
    /// RFC 3464 Original-Recipient, when given: the address as the sender
    /// wrote it, before aliasing.
    pub original_recipient: Option<String>,
    /// What happened: failed, delayed, delivered... Free-text notices that
    /// do not say are reported as failed (or delayed, when they warn).
    pub action: Action,
    /// The remote server's SMTP reply code, e.g. 550.
    pub reply_code: Option<ReplyCode>,
    /// The enhanced status code (RFC 3463), e.g. 5.1.1.
    pub status: Option<StatusCode>,
    /// The server that refused (RFC 3464 Remote-MTA or from the text).
    pub remote_host: Option<String>,
    /// The diagnostic text, white space folded, at most 2,000 bytes.
    pub diagnostic: String,
    /// True when the address itself is bad and should not be mailed
    /// again; false for everything that may pass (full mailbox, blocks on
    /// our sending IP, policy, delays).
    pub hard_bounce: bool,
    /// Why, from the shared taxonomy.
    pub reason: Reason,
    /// For feedback reports: the RFC 5965 Feedback-Type (`abuse`, ...).
    pub feedback_type: Option<String>,
}

/// Everything [`analyze`] found in one message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Analysis {
    /// True for delivery failure and delay notices (and success DSNs).
    /// False for ordinary mail, auto-replies and feedback reports.
    pub is_bounce: bool,
    /// What kind of message this is.
    pub kind: Kind,
    /// Message-ID of the returned original, without angle brackets.
    pub original_message_id: Option<String>,
    /// Subject of the returned original.
    pub original_subject: Option<String>,
    /// The address the notice was sent to (its To field): for VERP
    /// senders the token in it identifies the campaign and recipient.
    pub returned_to: Option<String>,
    /// The VERP token of [`Analysis::returned_to`]: the part of the local
    /// part after the first `+` (`bounces+c36-7781@...` gives `c36-7781`).
    pub verp_token: Option<String>,
    /// One entry per recipient the report names. Empty for ordinary mail;
    /// one informational entry (reason `vacation` or `feedback`) for
    /// auto-replies and feedback reports.
    pub recipients: Vec<RecipientResult>,
}

fn verp_token(addr: &str) -> Option<String> {
    let local = addr.split('@').next()?;
    let (_, tok) = local.split_once('+')?;
    Some(tok.to_string()).filter(|t| !t.is_empty())
}

/// Wording by which a free-text notice says the mail system has given up.
const GAVE_UP: &[&str] = &[
    "not going to try again",
    "retry timeout exceeded",
    "giving up",
    "gave up",
    "will not be retried",
    "permanent error",
    "permanent failure",
];

/// Wording by which a free-text notice says the message is still queued.
const STILL_TRYING: &[&str] = &[
    "has not yet been delivered",
    "have not yet been delivered",
    "not been delivered yet",
    "delivery attempts will continue",
    "will continue to try",
    "will keep trying",
    "will retry",
    "will be retried",
    "still trying",
    "no action is required on your part",
    "재시도",
    "아직 전달되지",
];

fn default_action(shape: Shape, r: &parse::Raw, reason: Reason, notice: &str) -> Action {
    if let Some(a) = r.action {
        return a;
    }
    // A free-text notice that does not say: what its own wording says (a
    // warning about a message still queued is a delay, whatever the
    // reason), else a failure, unless the reason is the queue's time
    // running out on a temporary error.
    if shape == Shape::Text && reason != Reason::Delivered {
        let text = notice.to_lowercase();
        if GAVE_UP.iter().any(|p| text.contains(p)) {
            return Action::Failed;
        }
        if STILL_TRYING.iter().any(|p| text.contains(p)) {
            return Action::Delayed;
        }
    }
    match (shape, reason) {
        (_, Reason::Delivered) => Action::Delivered,
        (Shape::Text, Reason::Expired) if r.status.is_none_or(|s| s.class == 4) => Action::Delayed,
        _ => Action::Failed,
    }
}

/// Most messages read from one mbox stream by [`analyze`].
const MAX_MBOX_MESSAGES: usize = 100;

/// Splits an mbox stream (RFC 4155: each message opens with a line
/// `From <sender> <date>`) into its messages. Anything else is one message.
fn mbox_split(b: &[u8]) -> Vec<&[u8]> {
    if !b.starts_with(b"From ") {
        return vec![b];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(p) = b[i..].windows(6).position(|w| w == b"\nFrom ") {
        let cut = i + p + 1;
        i = cut;
        if !is_mbox_from_line(&b[cut..]) {
            continue;
        }
        out.push(&b[start..cut]);
        start = cut;
        if out.len() + 1 >= MAX_MBOX_MESSAGES {
            break;
        }
    }
    out.push(&b[start..]);
    out
}

/// `From sender Thu Jul  2 12:05:05 2020`: a sender token, then a date
/// with a clock time, unlike a body line that merely starts with "From ".
fn is_mbox_from_line(b: &[u8]) -> bool {
    let line = b.split(|&c| c == b'\n').next().unwrap_or(b"");
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace().skip(1);
    let sender = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    !sender.is_empty()
        && rest.len() >= 4
        && rest
            .iter()
            .any(|w| w.len() == 8 && w.matches(':').count() == 2)
}

/// Analyses one message given as raw bytes (RFC 5322, any line endings).
///
/// Never panics and never fails: input that is not a mail message at all
/// comes back as [`Kind::NotBounce`] with no recipients. Work is linear in
/// the input, which is read up to its first 4 MiB per message.
///
/// Given an mbox stream of several messages (as some tools save returned
/// mail), the result describes the first message and lists the recipients
/// of all the bounces in it.
///
/// ```
/// use nmail_bounce::{Reason, analyze};
///
/// let notice = b"From: MAILER-DAEMON@mx.example.com\r\n\
/// To: sender@example.com\r\n\
/// Subject: failure notice\r\n\r\n\
/// Hi. This is the qmail-send program at mx.example.com.\r\n\r\n\
/// <nobody@example.net>:\r\n\
/// 192.0.2.1 does not like recipient.\r\n\
/// Remote host said: 550 5.1.1 <nobody@example.net>... User unknown\r\n";
/// let a = analyze(notice);
/// assert!(a.is_bounce);
/// let r = &a.recipients[0];
/// assert_eq!(r.address, "nobody@example.net");
/// assert_eq!(r.reason, Reason::UserUnknown);
/// assert_eq!(r.status.map(|s| s.to_string()).as_deref(), Some("5.1.1"));
/// assert!(r.hard_bounce);
///
/// let ordinary = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n";
/// assert!(analyze(ordinary).recipients.is_empty());
/// ```
pub fn analyze(message: &[u8]) -> Analysis {
    let parts = mbox_split(message);
    let mut first = analyze_one(parts[0]);
    for p in &parts[1..] {
        let more = analyze_one(p);
        if more.is_bounce || first.kind == Kind::NotBounce {
            if first.kind == Kind::NotBounce {
                first.kind = more.kind;
                first.is_bounce = more.is_bounce;
            }
            first.recipients.extend(more.recipients);
        }
    }
    first
}

fn analyze_one(message: &[u8]) -> Analysis {
    let p = parse::parse(message);
    let kind = match p.shape {
        Some(Shape::Dsn) => Kind::Dsn,
        Some(Shape::Text) => Kind::Notice,
        Some(Shape::Feedback) => Kind::Feedback,
        Some(Shape::AutoReply) => Kind::AutoReply,
        Some(Shape::Other) | None => Kind::NotBounce,
    };
    let mut recipients = Vec::with_capacity(p.records.len());
    if kind != Kind::NotBounce {
        for r in &p.records {
            recipients.push(result_for(
                kind,
                p.shape.unwrap_or(Shape::Other),
                r,
                &p.subject,
                &p.notice,
            ));
        }
    }
    let returned_to = p.top_to.clone();
    Analysis {
        is_bounce: matches!(kind, Kind::Dsn | Kind::Notice),
        kind,
        original_message_id: p.original.message_id.clone(),
        original_subject: p.original.subject.clone(),
        verp_token: returned_to.as_deref().and_then(verp_token),
        returned_to,
        recipients,
    }
}

fn result_for(
    kind: Kind,
    shape: Shape,
    r: &parse::Raw,
    subject: &str,
    notice: &str,
) -> RecipientResult {
    let reason = match kind {
        Kind::Feedback => Reason::Feedback,
        Kind::AutoReply => Reason::Vacation,
        _ => classify::classify(r, subject),
    };
    let action = match kind {
        Kind::Feedback | Kind::AutoReply => Action::Delivered,
        _ => default_action(shape, r, reason, notice),
    };
    let class = r.status.map(|s| s.class).or(r.reply.map(|c| c.class()));
    RecipientResult {
        address: r.address.clone(),
        original_recipient: r.original_recipient.clone(),
        action,
        reply_code: r.reply,
        status: r.status,
        remote_host: r.remote_host.clone(),
        diagnostic: r.diagnostic.clone(),
        hard_bounce: action == Action::Failed && reason.is_hard(class),
        reason,
        feedback_type: r.feedback_type.clone(),
    }
}
