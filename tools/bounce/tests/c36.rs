//! Case c36 (shared/cases/EXPECTED.md): a Postfix DSN with five
//! recipients, each a different kind of outcome. Every point of the
//! expectation is asserted here; the message is copied into tests/cases/.

use nmail_bounce::{Action, Kind, Reason, RecipientResult, analyze};

const C36: &[u8] = include_bytes!("cases/c36-dsn-classification.eml");

fn rcpt<'a>(all: &'a [RecipientResult], addr: &str) -> &'a RecipientResult {
    all.iter()
        .find(|r| r.address == addr)
        .unwrap_or_else(|| panic!("{addr} missing"))
}

#[test]
fn c36_is_a_dsn_matched_to_its_campaign() {
    let a = analyze(C36);
    assert!(a.is_bounce);
    assert_eq!(a.kind, Kind::Dsn);
    assert_eq!(a.recipients.len(), 5);
    // Matched to the campaign through the original Message-ID and the
    // VERP token of the address the DSN was sent to.
    assert_eq!(
        a.original_message_id.as_deref(),
        Some("c36.orig.7781@example.com")
    );
    assert_eq!(a.original_subject.as_deref(), Some("c36 June newsletter"));
    assert_eq!(
        a.returned_to.as_deref(),
        Some("bounces+c36-7781@example.com")
    );
    assert_eq!(a.verp_token.as_deref(), Some("c36-7781"));
}

#[test]
fn c36_ghost_is_a_hard_user_unknown_under_both_addresses() {
    let a = analyze(C36);
    let g = rcpt(&a.recipients, "ghost@example.net");
    // The diagnostic's 5.1.1 beats the generic Status: 5.0.0.
    assert_eq!(g.reason, Reason::UserUnknown);
    assert_eq!(g.status.map(|s| s.to_string()).as_deref(), Some("5.1.1"));
    assert_eq!(g.reply_code.map(|c| c.0), Some(550));
    assert!(g.hard_bounce);
    assert_eq!(g.action, Action::Failed);
    assert_eq!(g.remote_host.as_deref(), Some("mx2.example.net"));
    // Reported under the original recipient too.
    assert_eq!(
        g.original_recipient.as_deref(),
        Some("ghost.alias@example.net")
    );
}

#[test]
fn c36_full_mailbox_is_soft() {
    let a = analyze(C36);
    let f = rcpt(&a.recipients, "full@example.net");
    assert_eq!(f.reason, Reason::MailboxFull);
    assert!(!f.hard_bounce, "5.2.2 is worth retrying");
}

#[test]
fn c36_delayed_is_not_a_failure() {
    let a = analyze(C36);
    let s = rcpt(&a.recipients, "slow@example.net");
    assert_eq!(s.action, Action::Delayed);
    assert!(!s.hard_bounce);
    assert!(s.reason.is_failure() && s.reason == Reason::Expired);
}

#[test]
fn c36_blocklist_is_about_our_ip_not_the_address() {
    let a = analyze(C36);
    let b = rcpt(&a.recipients, "blocked@example.net");
    assert_eq!(b.reason, Reason::Blocked);
    assert!(
        !b.hard_bounce,
        "do not suppress an address for our IP's listing"
    );
}

#[test]
fn c36_moved_is_hard() {
    let a = analyze(C36);
    let m = rcpt(&a.recipients, "moved@example.net");
    assert_eq!(m.status.map(|s| s.to_string()).as_deref(), Some("5.1.10"));
    assert!(m.hard_bounce);
    assert_eq!(m.reason, Reason::UserUnknown);
}
