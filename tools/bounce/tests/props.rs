//! Property tests: the analyser takes any bytes without panicking, in time
//! linear in the input, and never calls an ordinary message a bounce.

use std::time::{Duration, Instant};

use nmail_bounce::{Kind, analyze};
use proptest::prelude::*;

/// Pieces of real report syntax, so that random input reaches the
/// report, DSN-field and notice parsers and not only the header parser.
const ATOMS: &[&str] = &[
    "From: MAILER-DAEMON@example.com\n",
    "Return-Path: <>\n",
    "Subject: Undelivered Mail\n",
    "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n",
    "Content-Type: message/delivery-status\n",
    "Content-Type: message/feedback-report\n",
    "Content-Type: message/rfc822\n",
    "--b\n",
    "--b--\n",
    "\n",
    "Final-Recipient: rfc822; a@example.net\n",
    "Original-Recipient: utf-8; \u{AE40}@example.net\n",
    "Action: failed\n",
    "Status: 5.1.1\n",
    "Status: 4.\n",
    "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n",
    "  continued\n",
    ">>> RCPT To:<a@example.net>\n",
    "<<< 550 no\n",
    "<a@example.net>:\n",
    "@@@@\n",
    "X-Failed-Recipients: a@example.net, b@\n",
    "AUP#In-",
    "(#5.4.4)",
    "550-5.7.1 ",
    ": User unknown",
    "{\"notificationType\":\"Bounce\",\"bounce\":{\"bouncedRecipients\":[{}]}}",
    "From x  Thu Jul  2 12:05:05 2020\n",
    "\u{BC18}\u{C1A1}",
    "\r\n",
    "=?utf-8?B?",
    "\u{0}",
];

fn report_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(ATOMS), 0..80).prop_map(|v| v.concat().into_bytes())
}

/// Words a person writes; failure vocabulary included on purpose, since an
/// ordinary message may talk about bounces.
const WORDS: &[&str] = &[
    "hello",
    "meeting",
    "user unknown",
    "mailbox full",
    "delivery failed",
    "report",
    "tomorrow",
    "550",
    "5.1.1",
    "please",
    "\u{D68C}\u{C758}",
    "\u{C790}\u{B8CC}",
    "blocked",
    "spam",
    "thanks",
];

fn ordinary_message() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z]{1,10}",
        "[a-z]{1,10}",
        prop::collection::vec(prop::sample::select(WORDS), 0..12),
        prop::collection::vec(prop::sample::select(WORDS), 0..60),
    )
        .prop_map(|(from, to, subj, body)| {
            format!(
                "From: {from} <{from}@example.com>\nTo: {to}@example.net\nSubject: {}\n\
                 Message-ID: <{from}.{to}@example.com>\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
                subj.join(" "),
                body.join(" ")
            )
            .into_bytes()
        })
}

/// Ordinary mail a postmaster might send: no SMTP codes, no notice
/// wording.
fn postmaster_announcement() -> impl Strategy<Value = Vec<u8>> {
    const CALM: &[&str] = &[
        "maintenance",
        "tonight",
        "server",
        "upgrade",
        "\u{C11C}\u{BC84}",
        "\u{C810}\u{AC80}",
        "password",
        "policy",
        "new",
        "webmail",
        "address",
        "list",
    ];
    (
        prop::sample::select(&["postmaster", "mailer-daemon", "MAILER-DAEMON"][..]),
        prop::collection::vec(prop::sample::select(CALM), 1..6),
        prop::collection::vec(prop::sample::select(CALM), 0..50),
    )
        .prop_map(|(who, subj, body)| {
            format!(
                "From: {who}@example.com\nTo: users@example.com\nSubject: {}\n\n{}\n",
                subj.join(" "),
                body.join(" ")
            )
            .into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_safe(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let a = analyze(&bytes);
        prop_assert!(a.recipients.len() <= 1000);
    }

    #[test]
    fn report_shaped_input_is_safe(bytes in report_like()) {
        let a = analyze(&bytes);
        for r in &a.recipients {
            prop_assert!(r.diagnostic.len() <= 2000);
        }
    }

    #[test]
    fn postmaster_announcements_are_not_bounces(msg in postmaster_announcement()) {
        let a = analyze(&msg);
        prop_assert!(!a.is_bounce, "{}", String::from_utf8_lossy(&msg));
    }

    #[test]
    fn ordinary_mail_is_never_a_bounce(msg in ordinary_message()) {
        let a = analyze(&msg);
        prop_assert!(!a.is_bounce, "{}", String::from_utf8_lossy(&msg));
        prop_assert_eq!(a.kind, Kind::NotBounce);
        prop_assert!(a.recipients.is_empty());
    }
}

/// Inputs the fuzz target found; each must analyse without a panic.
#[test]
fn fuzz_regressions() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regress");
    for e in std::fs::read_dir(dir).expect("tests/regress").flatten() {
        let bytes = std::fs::read(e.path()).expect("read");
        let _ = analyze(&bytes);
    }
}

/// Large and pathological inputs finish quickly: no quadratic blow-up, no
/// unbounded recipient list.
#[test]
fn big_inputs_are_bounded() {
    let cases: Vec<Vec<u8>> = vec![
        b"@".repeat(1 << 20),
        b"a@example.net ".repeat(100_000),
        format!(
            "From: MAILER-DAEMON@example.com\nSubject: failure notice\n\n{}",
            "<x@example.net>:\n550 5.1.1 no\n".repeat(50_000)
        )
        .into_bytes(),
        format!(
            "Content-Type: message/delivery-status\n\n{}",
            "Final-Recipient: rfc822; a@example.net\n\n".repeat(50_000)
        )
        .into_bytes(),
        b"\n\n\n--b\n".repeat(200_000),
        b"From a  Thu Jul  2 12:05:05 2020\n\n".repeat(10_000),
        // A long notice naming nobody, whose returned copy lists many
        // recipients: each must not get its own copy of the notice.
        format!(
            "From: MAILER-DAEMON@example.com\nSubject: failure notice\n\n{}\n\n\
             --- Below this line is a copy of the message.\n\nTo: {}\nSubject: x\n\nbody\n",
            "delivery failed ".repeat(200_000),
            (0..1500)
                .map(|i| format!("r{i}@example.net"))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into_bytes(),
    ];
    for c in cases {
        let t = Instant::now();
        let a = analyze(&c);
        assert!(a.recipients.len() <= 100_000);
        // Generous for unoptimised test builds on a shared 2-core machine.
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{} bytes took {:?}",
            c.len(),
            t.elapsed()
        );
    }
}
