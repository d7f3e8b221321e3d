//! Reading the human-readable part of a bounce.
//!
//! Many MTAs send no RFC 3464 report at all (qmail, Exim, old Sendmail,
//! Exchange 2003, Gmail, Yahoo, Korean webmail services), and those that do
//! often keep the most telling text (the remote server's reply, the SMTP
//! command it answered) in the notice. The scanners here are general: they
//! find the copy of the original and cut it off, find the failed addresses,
//! and cut the notice into one block of text per address.

use crate::codes::find_codes;
use crate::parse::{
    Command, MAX_DIAGNOSTIC, MAX_RECIPIENTS, Original, Parsed, Raw, Shape, Top, apply_codes,
    read_header_text,
};
use crate::pattern::fold;

/// Lines (folded) that introduce the copy of the original message.
const ORIGINAL_MARKERS: &[&str] = &[
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "----- original message -----",
    "-----original message-----",
    "------ original message ------",
    "--- original message ---",
    "original message header",
    "the original message headers",
    "message headers follow",
    "----- message header follows",
    "the following is a copy of the message",
    "below is a copy of the message",
    "below is a copy of the original message",
    "----- the header of the original message",
    "unsent message below",
    "undelivered message follows",
    "--- undeliverable message",
    "------ this is a copy of your message",
    "content-type: message/rfc822",
    "your message reads",
    "header of the original message",
    "original text follows",
    "-- begin original",
    "원본 메시지",
    "원본 메일",
    "원문 메일",
];

/// First header names that start a pasted header block.
const HEADER_STARTS: &[&str] = &[
    "return-path:",
    "received:",
    "dkim-signature:",
    "message-id:",
    "x-original-to:",
    "delivered-to:",
    "arc-seal:",
    "x-received:",
    "x-google-smtp-source:",
];

fn is_header_line(l: &str) -> bool {
    let Some((n, _)) = l.split_once(':') else {
        return false;
    };
    !n.is_empty() && n.len() < 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Largest human-readable notice read, in bytes. Real notices are a few
/// kilobytes; the bound keeps the work per message flat.
pub const MAX_NOTICE: usize = 256 * 1024;

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// The notice up to the copy of the original message.
pub fn cut_original(text: &str) -> &str {
    let mut off = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    let mut seen_text = false;
    while let Some(line) = lines.next() {
        let l = line.trim();
        let low = l.to_ascii_lowercase();
        if !low.is_empty() {
            let f = fold(&low);
            if ORIGINAL_MARKERS.iter().any(|m| f.contains(m)) && off > 0 {
                return &text[..off];
            }
            if seen_text && HEADER_STARTS.iter().any(|h| low.starts_with(h)) {
                let next = lines.peek().map(|n| n.trim_end()).unwrap_or("");
                if next.starts_with([' ', '\t']) || is_header_line(next) {
                    return &text[..off];
                }
            }
            seen_text = true;
        }
        off += line.len();
    }
    text
}

/// The text after the cut, where a copy of the original may start.
fn after_cut<'a>(text: &'a str, pre: &str) -> &'a str {
    &text[pre.len().min(text.len())..]
}

/// True when a text part carries RFC 3464 fields pasted inline.
pub fn has_inline_dsn(text: &str) -> bool {
    let low = text.to_ascii_lowercase();
    (low.contains("\nfinal-recipient:") || low.starts_with("final-recipient:"))
        && low.contains("\nstatus:")
}

/// Crude tag stripper for notices sent as HTML only.
pub fn strip_html(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for ch in h.chars() {
        match ch {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let t = tag.to_ascii_lowercase();
                if t.starts_with("br")
                    || t.starts_with("/p")
                    || t.starts_with("/div")
                    || t.starts_with("/tr")
                    || t.starts_with("p")
                {
                    out.push('\n');
                }
            }
            _ if in_tag => {
                if tag.len() < 8 {
                    tag.push(ch);
                }
            }
            _ => out.push(ch),
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

fn is_domain_char(b: u8) -> bool {
    // ASCII only: notices glue non-ASCII punctuation (Arabic comma, CJK
    // text) straight onto addresses; U-label domains are rare in reports.
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Every address-looking token with its byte offset.
pub fn find_addresses(text: &str) -> Vec<(usize, String)> {
    let t = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = t[i..].iter().position(|&b| b == b'@') {
        let at = i + p;
        i = at + 1;
        let mut s = at;
        while s > 0 && is_local_char(t[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < t.len() && is_domain_char(t[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(t[e - 1], b'.' | b'-') {
            e -= 1;
        }
        while s < at && matches!(t[s], b'.' | b'\'' | b'=' | b'/') {
            s += 1;
        }
        if s == at || e <= at + 1 {
            continue;
        }
        let Ok(dom) = std::str::from_utf8(&t[at + 1..e]) else {
            continue;
        };
        if !dom.contains('.') || dom.starts_with('.') || dom.contains("..") {
            continue;
        }
        let Ok(a) = std::str::from_utf8(&t[s..e]) else {
            continue;
        };
        out.push((s, a.to_string()));
        i = e;
    }
    out
}

fn is_daemon_local(a: &str) -> bool {
    let l = a.split('@').next().unwrap_or("").to_ascii_lowercase();
    l.starts_with("mailer-daemon") || l == "mail-daemon" || l == "mailerdaemon"
}

/// Words just before an address that say it is not a recipient.
fn preceded_by_sender_word(text: &str, pos: usize) -> bool {
    let start = text[..pos]
        .char_indices()
        .rev()
        .nth(24)
        .map_or(0, |(i, _)| i);
    let before = text[start..pos].to_ascii_lowercase();
    let before = before.trim_end_matches(['<', ' ', '"', '(', '[', ':']);
    [
        "from",
        "from:",
        "mail from",
        "sender",
        "envelope-from",
        "message-id",
        "cid",
        "return-path",
        "reply-to",
        "contact",
        "hello",
        "dear",
        "mailto",
    ]
    .iter()
    .any(|w| before.ends_with(w))
        || before.ends_with("mailto:")
}

/// X-Failed-Recipients (Exim, Gmail): comma-separated addresses.
fn failed_recipients_header(top: &Top<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(x) = top.msg.and_then(|m| m.header_raw("X-Failed-Recipients")) {
        for a in x.split(',') {
            let a = a.trim().trim_matches(['<', '>']);
            if a.contains('@') && out.len() < MAX_RECIPIENTS {
                out.push(a.to_string());
            }
        }
    }
    out
}

/// Addresses in the notice that are plausibly failed recipients. With
/// `strict`, the notice's own To address and the original's From are left
/// out too (they are usually the sender), but a notice may be addressed to
/// the very recipient that failed, so callers retry without them.
fn recipient_candidates(pre: &str, top: &Top<'_>, orig: &Original, strict: bool) -> Vec<String> {
    let (to, orig_from) = if strict {
        (top.to.as_deref(), orig.from.as_deref())
    } else {
        (None, None)
    };
    let excluded: Vec<String> = [top.from.as_deref(), to, orig_from]
        .into_iter()
        .flatten()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut weak: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let found = find_addresses(pre);
    // An address introduced as a sender or a contact anywhere ("please
    // contact <support@...>") is not a recipient anywhere else either.
    let not_rcpt: std::collections::HashSet<String> = found
        .iter()
        .filter(|(pos, _)| preceded_by_sender_word(pre, *pos) && !after_mailto(pre, *pos))
        .map(|(_, a)| a.to_ascii_lowercase())
        .collect();
    for (pos, a) in found {
        let low = a.to_ascii_lowercase();
        if excluded.contains(&low)
            || is_daemon_local(&low)
            || not_rcpt.contains(&low)
            || after_mailto(pre, pos)
            || !seen.insert(low.clone())
        {
            continue;
        }
        // Message-ID-like tokens: long hex runs before the "@".
        let local = low.split('@').next().unwrap_or("");
        if local.len() > 40
            && local.bytes().filter(u8::is_ascii_hexdigit).count() * 10 > local.len() * 8
        {
            continue;
        }
        // "  To: a@b" in a summary of the original's headers names whom
        // the sender wrote to, which is the failed address only when the
        // notice names no other.
        if on_quoted_to_line(pre, pos) {
            weak.push(a);
            continue;
        }
        out.push(a);
        if out.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    if out.is_empty() {
        weak.truncate(MAX_RECIPIENTS);
        return weak;
    }
    out
}

/// `mailto:` links repeat an address already in the text; skip the copy.
fn after_mailto(pre: &str, pos: usize) -> bool {
    pos >= 7 && pre.as_bytes()[pos - 7..pos].eq_ignore_ascii_case(b"mailto:")
}

/// The address at `pos` sits on a line quoting a To or Cc header field.
fn on_quoted_to_line(pre: &str, pos: usize) -> bool {
    let line_start = pre[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = pre[line_start..pos].trim_start().to_ascii_lowercase();
    line.starts_with("to:") || line.starts_with("cc:")
}

/// Splits `pre` into one text block per recipient: from the first line
/// that names it to the line before one that names another recipient.
fn blocks(pre: &str, rcpts: &[String]) -> Vec<String> {
    let lows: Vec<String> = rcpts.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut out = vec![String::new(); rcpts.len()];
    let mut cur: Option<usize> = None;
    let mut started = vec![false; rcpts.len()];
    for line in pre.lines() {
        let low = line.to_ascii_lowercase();
        let named: Vec<usize> = (0..lows.len())
            .filter(|&i| contains_addr(&low, &lows[i]))
            .collect();
        if !named.is_empty() && !cur.is_some_and(|c| named.contains(&c)) {
            cur = named
                .iter()
                .copied()
                .find(|&i| !started[i])
                .or(Some(named[0]));
        }
        if let Some(c) = cur {
            started[c] = true;
            if out[c].len() < MAX_DIAGNOSTIC * 2 {
                out[c].push_str(line);
                out[c].push('\n');
            }
        }
    }
    out
}

/// `hay` names `addr` as a whole address (not as a suffix of another).
fn contains_addr(hay: &str, addr: &str) -> bool {
    // An empty needle matches everywhere and would never advance.
    if addr.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(p) = hay[from..].find(addr) {
        let s = from + p;
        let e = s + addr.len();
        let ok_before = s == 0 || !is_local_char(hay.as_bytes()[s - 1]);
        let ok_after = e >= hay.len()
            || !is_domain_char(hay.as_bytes()[e])
            || hay.as_bytes()[e] == b'.'
                && !hay
                    .as_bytes()
                    .get(e + 1)
                    .is_some_and(u8::is_ascii_alphanumeric);
        if ok_before && ok_after {
            return true;
        }
        from = e;
    }
    false
}

/// Subjects that only mail systems write on returned mail.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "delivery status notification",
    "failure notice",
    "returned mail",
    "mail delivery failed",
    "delivery failure",
    "could not be delivered",
    "delivery notification",
    "non remis",
    "nicht zustellbar",
    "returned to sender",
    "mail system error",
    "delivery failed",
    "delivery problem",
    "failed delivery",
    "mail could not be delivered",
    "message not delivered",
    "non-delivery",
    "nondeliverable",
    "notice of delivery failure",
    "warning: could not send",
    "delayed mail",
    "delivery delayed",
    "delivery has failed",
    "rejected:",
    "message you sent blocked",
    "email bounce",
    "undeliverable",
    "mail failure",
    "returned message",
    "permanent error",
    "transient error",
    "mail returned",
    "returning to sender",
    "mail failed",
    "no se puede entregar",
    "unzustellbar",
    "delivery status",
    "반송",
    "전송 실패",
    "전달 실패",
    "배달 실패",
    "발송 실패",
    "수신 실패",
    "전송되지 않",
    "전달되지 않",
];

/// Text that opens only a failure notice.
const BOUNCE_BODY_MARKERS: &[&str] = &[
    "this is the qmail-send program",
    "this message was created automatically by mail delivery software",
    "the following addresses had permanent fatal errors",
    "i'm sorry to have to inform you that your message could not",
    "delivery to the following recipient failed",
    "delivery to the following recipients failed",
    "your message could not be delivered",
    "could not be delivered to one or more recipients",
    "did not reach the following recipient",
    "this is a permanent error",
    "unable to deliver your message",
    "undeliverable message",
    "the following message to <",
    "an error occurred while trying to deliver the mail",
    "message could not be delivered",
    "delivery has failed to these recipients",
    "mail delivery failed",
    "returned mail",
    "메일이 반송",
    "메일을 보낼 수 없",
    "메일 전송에 실패",
    "전달되지 못",
    "전송되지 못",
];

pub fn subject_is_bounce(s: &str) -> bool {
    let f = fold(s);
    BOUNCE_SUBJECTS.iter().any(|p| f.contains(p))
}

/// RFC 3834 §5: how an automatic responder marks its replies, plus the
/// subjects and headers common out-of-office tools use without it.
pub fn is_auto_reply(top: &Top<'_>) -> bool {
    let Some(m) = top.msg else { return false };
    let h = |n: &'static str| m.header_raw(n).map(|v| v.trim().to_ascii_lowercase());
    if top.daemon_from() || subject_is_bounce(&top.subject) {
        return false;
    }
    let subj = fold(&top.subject);
    let subj_auto = [
        "auto:",
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
        "out of office",
        "out of the office",
        "vacation",
        "absence",
        "abwesenheit",
        "automatische antwort",
        "réponse automatique",
        "自動応答",
        "不在",
        "자동 응답",
        "자동응답",
        "부재",
    ]
    .iter()
    .any(|p| subj.contains(p));
    let auto_sub = h("Auto-Submitted").is_some_and(|v| v.starts_with("auto-replied"));
    auto_sub
        || subj_auto
        || h("X-Autoreply").is_some()
        || h("X-Autorespond").is_some()
        || h("Precedence").is_some_and(|v| v == "auto_reply")
}

/// Which SMTP command a diagnostic says the server was answering.
pub fn command_of(text: &str) -> Option<Command> {
    let f = fold(text);
    const TABLE: &[(&str, Command)] = &[
        ("in reply to end of data command", Command::Data),
        ("in reply to data command", Command::Data),
        ("after end of data", Command::Data),
        ("after data", Command::Data),
        (">>> data", Command::Data),
        ("did not like our final data", Command::Data),
        ("did not like our data", Command::Data),
        ("failed after i sent the message", Command::Data),
        ("in reply to bdat", Command::Data),
        ("in reply to rcpt to command", Command::Rcpt),
        ("after rcpt to", Command::Rcpt),
        (">>> rcpt to", Command::Rcpt),
        ("does not like recipient", Command::Rcpt),
        ("did not like our rcpt to", Command::Rcpt),
        ("smtp:rcpt", Command::Rcpt),
        ("rcpt_to]", Command::Rcpt),
        ("in reply to mail from command", Command::Mail),
        ("after mail from", Command::Mail),
        (">>> mail from", Command::Mail),
        ("sender was rejected", Command::Mail),
        ("did not like our mail from", Command::Mail),
        ("mail_from]", Command::Mail),
        ("after initial connection", Command::Connect),
        ("refused to talk to me", Command::Connect),
        ("my name was rejected", Command::Connect),
        ("in reply to ehlo", Command::Connect),
        ("in reply to helo", Command::Connect),
        ("after ehlo", Command::Connect),
        ("after helo", Command::Connect),
        (">>> ehlo", Command::Connect),
        (">>> helo", Command::Connect),
        ("did not like our greeting", Command::Connect),
    ];
    TABLE
        .iter()
        .filter_map(|(p, c)| f.find(p).map(|i| (i, *c)))
        .min_by_key(|(i, _)| *i)
        .map(|(_, c)| c)
}

/// `host mx.example.net[192.0.2.1] said:` and similar to the host name.
pub fn remote_host_of(text: &str) -> Option<String> {
    let low = text.to_ascii_lowercase();
    for key in [
        "host ",
        "remote server ",
        "server ",
        "connected to ",
        "talking to ",
    ] {
        let mut from = 0;
        while let Some(p) = low[from..].find(key) {
            let s = from + p + key.len();
            from = s;
            let rest = &text[s..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let name = name.trim_end_matches('.');
            if name.contains('.') && name.chars().any(|c| c.is_ascii_alphabetic()) && name.len() > 3
            {
                return Some(name.to_ascii_lowercase());
            }
            if name.contains('.') && name.split('.').count() == 4 {
                return Some(name.to_string());
            }
        }
    }
    None
}

/// Cleans a block for use as the diagnostic text: folds space, drops
/// leading punctuation, caps the length.
fn diag_text(block: &str) -> String {
    let mut d = block.split_whitespace().collect::<Vec<_>>().join(" ");
    if d.len() > MAX_DIAGNOSTIC {
        let mut cut = MAX_DIAGNOSTIC;
        while !d.is_char_boundary(cut) {
            cut -= 1;
        }
        d.truncate(cut);
    }
    d
}

/// Fills what a DSN left out from the notice: the diagnostic text, the
/// SMTP command and the remote host.
pub fn enrich_from_notice(out: &mut Parsed, top: &Top<'_>) {
    // A Final-Recipient that is no mailbox (a pipe, a bare "@host"): name
    // the address the notice or the returned original gives instead.
    if out
        .records
        .iter()
        .any(|r| !crate::parse::is_mailbox(&r.address))
    {
        let fallback = failed_recipients_header(top)
            .into_iter()
            .next()
            .or_else(|| {
                let found = recipient_candidates(&out.notice, top, &out.original, true);
                found.into_iter().next()
            })
            .or_else(|| out.original.to.first().cloned());
        if let Some(a) = fallback {
            let bad = out
                .records
                .iter_mut()
                .filter(|r| !crate::parse::is_mailbox(&r.address));
            for r in bad {
                r.address = a.clone();
            }
        }
    }
    let rcpts: Vec<String> = out.records.iter().map(|r| r.address.clone()).collect();
    let summary = summary_reason(&out.notice, &rcpts);
    for r in out.records.iter_mut() {
        r.summary_reason = summary;
    }
    let bl = blocks(&out.notice, &rcpts);
    let transcript = transcript_command(&out.notice);
    for (r, b) in out.records.iter_mut().zip(bl) {
        // An empty diagnostic, or one that is only an exit status
        // (`X-Unix; 77`), says less than the notice's own lines.
        let thin = !r.diagnostic.chars().any(|c| c.is_alphabetic());
        if thin && !b.is_empty() {
            r.diagnostic = reason_line(&b).unwrap_or_else(|| diag_text(&b));
            // The summary line often drops the code the transcript keeps.
            let f = find_codes(&b);
            apply_codes(r, f);
        }
        r.command = command_of(&r.diagnostic)
            .or_else(|| command_of(&b))
            .or(transcript);
        if r.remote_host.is_none() {
            r.remote_host = remote_host_of(&r.diagnostic).or_else(|| remote_host_of(&b));
        }
        r.diagnostic = diag_text(&r.diagnostic);
        r.context = diag_text(&b);
    }
}

/// The notice's opening lines, before it names any recipient, when they
/// state that the mailbox is full or disabled ("The user(s) account is
/// disabled."): the reporting system's own reading, which a generic "user
/// unknown" in the report does not outweigh.
fn summary_reason(notice: &str, rcpts: &[String]) -> Option<crate::Reason> {
    let lows: Vec<String> = rcpts.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut head = String::new();
    for line in notice.lines() {
        let low = line.to_ascii_lowercase();
        if lows.iter().any(|a| contains_addr(&low, a)) || head.len() > 2000 {
            break;
        }
        head.push_str(line);
        head.push('\n');
    }
    let r = crate::classify::by_text(&crate::classify::match_text(&head))?;
    matches!(r, crate::Reason::MailboxFull | crate::Reason::Suspend).then_some(r)
}

/// Sendmail's summary line under an address: `(reason: 550 ...)`.
fn reason_line(block: &str) -> Option<String> {
    block.lines().find_map(|l| {
        let t = l.trim();
        let low = t.to_ascii_lowercase();
        low.starts_with("(reason:")
            .then(|| t[8..].trim_end_matches(')').trim().to_string())
    })
}

/// Sendmail's "Transcript of session": the command that drew the first
/// failure reply.
fn transcript_command(text: &str) -> Option<Command> {
    let mut last: Option<Command> = None;
    for line in text.lines() {
        let l = line.trim_start().to_ascii_lowercase();
        if l.starts_with(">>>") {
            last = transcript_cmd(&l);
        } else if l.starts_with("<<< 4") || l.starts_with("<<< 5") {
            return last;
        }
    }
    None
}

/// True when a notice without a report is a failure notice at all.
///
/// A mail system's From address alone is not enough (postmasters send
/// ordinary mail too): it must also quote an SMTP failure code. RFC 5321
/// §4.5.5 has notices sent with a null reverse-path; with one, failure
/// wording is evidence enough.
fn is_failure_notice(pre: &str, top: &Top<'_>) -> bool {
    let codes = find_codes(pre);
    let quotes_failure = codes.reply.is_some_and(|c| matches!(c.class(), 4 | 5))
        || codes.status.is_some_and(|s| s.class != 2);
    let null_sender = top
        .msg
        .and_then(|m| m.header_raw("Return-Path"))
        .is_some_and(|v| v.trim() == "<>");
    let says_failure = || crate::classify::by_text(&crate::classify::match_text(pre)).is_some();
    let folded = fold(pre);
    top.daemon_from() && quotes_failure
        || null_sender && (quotes_failure || says_failure())
        || !failed_recipients_header(top).is_empty()
        || subject_is_bounce(&top.subject)
        || BOUNCE_BODY_MARKERS.iter().any(|m| folded.contains(m))
        || is_list_notice(top)
}

/// A reply or forward that a person wrote about a bounce ("Re: Undelivered
/// Mail Returned to Sender", quoting it) is not a notice: mail systems do
/// not answer with a reply prefix, and treating it as one would suppress
/// the address it quotes.
fn is_personal_reply(top: &Top<'_>) -> bool {
    const PREFIXES: &[&str] = &[
        "re:", "re :", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:", "tr:", "rv:", "回复:", "答复:",
        "转发:", "답장:", "회신:", "전달:",
    ];
    let s = top.subject.trim_start().to_lowercase();
    !top.looks_like_daemon() && PREFIXES.iter().any(|p| s.starts_with(p))
}

/// The failed addresses a notice names, and whether they had to be taken
/// from the returned original instead (then the whole notice is their
/// diagnostic).
fn failed_addresses(pre: &str, top: &Top<'_>, orig: &Original) -> (Vec<String>, bool) {
    let mut rcpts = failed_recipients_header(top);
    // Exim and Gmail list the failed addresses in X-Failed-Recipients; trust
    // the header when the notice names them too, else the notice.
    let pre_low = pre.to_ascii_lowercase();
    let header_named = |a: &String| contains_addr(&pre_low, &a.to_ascii_lowercase());
    if rcpts.is_empty() || !rcpts.iter().all(header_named) {
        let mut found = recipient_candidates(pre, top, orig, true);
        if found.is_empty() && rcpts.is_empty() {
            found = recipient_candidates(pre, top, orig, false);
        }
        if !found.is_empty() {
            rcpts = found;
        }
    }
    // A list manager's notice names the list once, then its help
    // addresses: only the first is the one that refused.
    if is_list_notice(top) {
        rcpts.truncate(1);
    }
    rcpts.truncate(MAX_RECIPIENTS);
    if rcpts.is_empty() {
        return (orig.to.iter().take(MAX_RECIPIENTS).cloned().collect(), true);
    }
    (rcpts, false)
}

/// One record from a recipient's block of notice text.
fn record_from_block(pre: &str, addr: String, block: &str, transcript: Option<Command>) -> Raw {
    let block = if block.trim().is_empty() { pre } else { block };
    let mut r = Raw {
        address: addr,
        ..Raw::default()
    };
    r.diagnostic = diag_text(&strip_address_line(block, &r.address));
    r.command = command_of(block).or(transcript);
    if let Some((diag, cmd)) = session_diagnostic(pre, &r.address) {
        r.diagnostic = diag;
        r.command = cmd;
    }
    let f = find_codes(&r.diagnostic);
    apply_codes(&mut r, f);
    r.remote_host = remote_host_of(block);
    r
}

/// Reads a notice without a machine-readable report.
pub fn scan_text(notice: &str, top: &Top<'_>, out: &mut Parsed) {
    let pre = clip(cut_original(notice), MAX_NOTICE);
    if out.original.message_id.is_none() && out.original.to.is_empty() {
        let rest = after_cut(notice, pre);
        if let Some(i) = rest.find('\n') {
            let headers = rest[i + 1..].trim_start_matches(['\n', '\r']);
            read_header_text(headers, &mut out.original);
        }
    }
    if !is_failure_notice(pre, top) || is_auto_reply(top) || is_personal_reply(top) {
        return;
    }

    let (mut rcpts, whole_notice) = failed_addresses(pre, top, &out.original);
    if rcpts.is_empty() {
        if !top.looks_like_daemon() {
            return;
        }
        // A notice that names nobody: one record, address unknown.
        rcpts.push(String::new());
    }
    out.shape = Some(Shape::Text);
    out.notice = pre.to_string();
    let transcript = transcript_command(pre);
    let whole = diag_text(pre);
    // Addresses taken from the original share the whole notice as their
    // text: read it once, not once per address.
    if whole_notice || rcpts[0].is_empty() {
        let mut shared = record_from_block(pre, String::new(), pre, transcript);
        shared.context = whole;
        for a in rcpts {
            out.records.push(Raw {
                address: a,
                ..shared.clone()
            });
        }
        return;
    }
    let bl = blocks(pre, &rcpts);
    let single = rcpts.len() == 1;
    for (a, b) in rcpts.into_iter().zip(bl) {
        let mut r = record_from_block(pre, a, &b, transcript);
        // One address, and the codes stand before it (MailMarshal: "Could
        // not be delivered because of 550 5.1.1 ..., recipients: a@b").
        if single && r.status.is_none() && r.reply.is_none() {
            apply_codes(&mut r, find_codes(pre));
        }
        r.context = whole.clone();
        out.records.push(r);
    }
}

/// Mailing-list managers (fml, Mailman, ezmlm) refusing a post: they
/// send from the list's admin address and mark themselves in headers.
fn is_list_notice(top: &Top<'_>) -> bool {
    let Some(m) = top.msg else { return false };
    let from = top.from.as_deref().unwrap_or("").to_ascii_lowercase();
    let local = from.split('@').next().unwrap_or("");
    let admin = ["-admin", "-owner", "-request", "-bounces"]
        .iter()
        .any(|s| local.ends_with(s));
    m.header_raw("X-MLServer").is_some() && admin
}

/// The SMTP command a transcript line (`>>> RCPT To:<a@b>`) sent.
fn transcript_cmd(line: &str) -> Option<Command> {
    let c = line
        .trim_start()
        .strip_prefix(">>>")?
        .trim_start()
        .to_ascii_lowercase();
    if c.starts_with("data") || c.starts_with("bdat") || c == "." {
        Some(Command::Data)
    } else if c.starts_with("rcpt") {
        Some(Command::Rcpt)
    } else if c.starts_with("mail") {
        Some(Command::Mail)
    } else if c.starts_with("ehlo") || c.starts_with("helo") {
        Some(Command::Connect)
    } else {
        None
    }
}

/// Largest notice whose Sendmail transcript is read per recipient.
const MAX_TRANSCRIPT: usize = 64 * 1024;

/// Old Sendmail transcripts (`While talking to host:` / `>>> CMD` /
/// `<<< reply` / `554 <a@b>... Remote protocol error`): the recipient's
/// own line, or, when that says nothing we know, the remote reply of its
/// session. The session's command counts only for replies that concern
/// this recipient or that stand in for it.
fn session_diagnostic(pre: &str, addr: &str) -> Option<(String, Option<Command>)> {
    // Transcripts are short; the bound keeps the per-recipient rescan from
    // growing with huge notices.
    if addr.is_empty() || pre.len() > MAX_TRANSCRIPT || !pre.contains("\n<<< ") {
        return None;
    }
    let low_addr = addr.to_ascii_lowercase();
    let mut cmd = None;
    let mut replies: Vec<&str> = Vec::new();
    for line in pre.lines() {
        let t = line.trim_start();
        if t.to_ascii_lowercase().contains("while talking to") {
            cmd = None;
            replies.clear();
            continue;
        }
        if t.starts_with(">>>") {
            cmd = transcript_cmd(t);
            replies.clear();
            continue;
        }
        if let Some(r) = t.strip_prefix("<<<") {
            replies.push(r.trim());
            continue;
        }
        let low = t.to_ascii_lowercase();
        let own =
            t.as_bytes().first().is_some_and(u8::is_ascii_digit) && contains_addr(&low, &low_addr);
        if !own {
            continue;
        }
        let own_text = diag_text(inner_reply(t));
        let about_me = replies
            .iter()
            .any(|r| contains_addr(&r.to_ascii_lowercase(), &low_addr));
        if crate::classify::by_text(&crate::classify::match_text(&own_text)).is_some() {
            return Some((own_text, if about_me { cmd } else { None }));
        }
        if replies.is_empty() {
            return None;
        }
        return Some((
            diag_text(&format!("{} {}", own_text, replies.join(" "))),
            cmd,
        ));
    }
    None
}

/// Sendmail writes its own code before the remote server's reply:
/// `554 <a@b>... 550 Host unknown`. The inner reply is the one that
/// tells; the line is returned from it on, or whole.
fn inner_reply(line: &str) -> &str {
    let Some(i) = line.find("... ") else {
        return line;
    };
    let rest = &line[i + 4..];
    let b = rest.as_bytes();
    let code = b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b' ' | b'-');
    if code && matches!(b[0], b'4' | b'5') {
        rest
    } else {
        line
    }
}

/// Drops a first line that holds nothing but the address (Exim, Gmail).
fn strip_address_line(b: &str, addr: &str) -> String {
    let mut lines = b.lines();
    let Some(first) = lines.next() else {
        return String::new();
    };
    let t = first.trim().trim_matches(['<', '>', ':', ' ']);
    if !addr.is_empty() && t.eq_ignore_ascii_case(addr) {
        lines.collect::<Vec<_>>().join("\n")
    } else {
        b.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_table() {
        let cases: &[(&str, &[&str])] = &[
            ("<kijitora@example.jp>: host", &["kijitora@example.jp"]),
            ("RCPT TO:<a.b+c@ex-ample.co.jp>.", &["a.b+c@ex-ample.co.jp"]),
            ("no at sign here", &[]),
            ("user@localhost", &[]),
            (
                "mailto:x@example.net, y@example.org.",
                &["x@example.net", "y@example.org"],
            ),
        ];
        for (t, want) in cases {
            let got: Vec<String> = find_addresses(t).into_iter().map(|(_, a)| a).collect();
            assert_eq!(got, *want, "{t}");
        }
    }

    #[test]
    fn contains_addr_table() {
        let cases = [
            ("<a@example.net>: no", "a@example.net", true),
            ("ba@example.net", "a@example.net", false),
            ("a@example.net.", "a@example.net", true),
            ("a@example.network", "a@example.net", false),
            ("anything", "", false),
        ];
        for (hay, addr, want) in cases {
            assert_eq!(contains_addr(hay, addr), want, "{hay} {addr}");
        }
    }

    #[test]
    fn command_table() {
        let cases = [
            (
                "550 5.1.1 unknown (in reply to RCPT TO command)",
                Some(Command::Rcpt),
            ),
            (
                "SMTP error from remote mail server after end of data:",
                Some(Command::Data),
            ),
            (
                "Connected to 192.0.2.1 but sender was rejected.",
                Some(Command::Mail),
            ),
            ("host x refused to talk to me: 554", Some(Command::Connect)),
            ("550 user unknown", None),
        ];
        for (t, want) in cases {
            assert_eq!(command_of(t), want, "{t}");
        }
    }

    #[test]
    fn cut_table() {
        let t = "Hi.\n<a@example.net>:\nbad\n\n--- Below this line is a copy of the message.\n\nReturn-Path: <x@example.com>\n";
        assert_eq!(cut_original(t), "Hi.\n<a@example.net>:\nbad\n\n");
        let h = "Oops\n\nReceived: from x\n\tby y\nSubject: s\n";
        assert_eq!(cut_original(h), "Oops\n\n");
    }

    #[test]
    fn host_table() {
        let cases = [
            (
                "host mx.example.jp[192.0.2.1] said: 550",
                Some("mx.example.jp"),
            ),
            ("Remote host said: 550", None),
            ("connect to x: timed out", None),
        ];
        for (t, want) in cases {
            assert_eq!(remote_host_of(t).as_deref(), want, "{t}");
        }
    }
}
