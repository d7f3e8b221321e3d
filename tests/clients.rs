//! Real clients nobody here wrote, beyond smtplib, poplib and curl: swaks
//! sends over STARTTLS, fetchmail collects with UIDL (keeping the mail on
//! the server, so a second run must fetch nothing).

mod common;

use std::process::Command;

use common::{Pop3, Server};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn need(tool: &str) {
    assert!(
        have(tool),
        "{tool} is not installed (apt-get install {tool}; .ci/run installs it)"
    );
}

#[test]
fn swaks_sends_over_starttls() {
    need("swaks");
    let s = Server::start(&[]);
    let out = Command::new("swaks")
        .args([
            "--server",
            &s.smtp.ip().to_string(),
            "--port",
            &s.smtp.port().to_string(),
        ])
        .args(["--tls"])
        .args(["--from", "alice@example.org", "--to", "bob@example.com"])
        .args([
            "--header",
            "Subject: sent by swaks",
            "--body",
            "hello from swaks",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("<~  250 2.0.0 Ok: queued as"), "{text}");
    let msgs = s.messages("bob@example.com");
    assert_eq!(msgs.len(), 1);
    let raw = String::from_utf8_lossy(&msgs[0].1);
    assert!(
        raw.contains("Subject: sent by swaks") && raw.contains("with ESMTPS id"),
        "{raw}"
    );
    // A relay attempt through swaks is refused.
    let relay = Command::new("swaks")
        .args([
            "--server",
            &s.smtp.ip().to_string(),
            "--port",
            &s.smtp.port().to_string(),
        ])
        .args([
            "--from",
            "bob@example.com",
            "--to",
            "victim@example.net",
            "--quit-after",
            "RCPT",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&relay.stdout).contains("<** 550 5.7.1"),
        "{}",
        String::from_utf8_lossy(&relay.stdout)
    );
}

#[test]
fn fetchmail_collects_each_message_once() {
    need("fetchmail");
    let s = Server::start(&[]);
    for i in 0..3 {
        // Sent dot-stuffed: the message holds ".dotted line".
        let m = format!("Subject: fetch {i}\r\n\r\n..dotted line {i}\r\n");
        assert!(
            common::smtp_send(s.smtp, "a@example.org", &["bob@example.com"], m.as_bytes())
                .starts_with("250")
        );
    }
    let dir = s.dir.path();
    let mbox = dir.join("fetched");
    let rc = dir.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\npoll 127.0.0.1 service {} protocol POP3 uidl\n  user \"bob@example.com\" password \"Correct-Horse-7\"\n  sslproto '' keep mda \"cat >> {}\"\n",
            s.pop3.port(),
            mbox.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let run = || {
        Command::new("fetchmail")
            .args(["-f"])
            .arg(&rc)
            .args(["--idfile"])
            .arg(dir.join("fetchids"))
            .args(["--nodetach", "-v"])
            .env("HOME", dir)
            .output()
            .unwrap()
    };
    let first = run();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(first.status.code(), Some(0), "{log}");
    let got = std::fs::read_to_string(&mbox).unwrap();
    for i in 0..3 {
        assert!(got.contains(&format!("Subject: fetch {i}")), "{got}");
        assert!(
            got.contains(&format!("\n.dotted line {i}")),
            "dot-stuffing undone: {got}"
        );
    }
    // Kept on the server; the second run knows them by UIDL and fetches none.
    let second = run();
    let log2 = format!(
        "{}{}",
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr)
    );
    // fetchmail exits 1 when there was no new mail.
    assert_eq!(second.status.code(), Some(1), "{log2}");
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), got);
    let mut p = Pop3::login(s.pop3, "bob@example.com", "Correct-Horse-7");
    assert_eq!(p.list().len(), 3);
    p.cmd("QUIT");
}
