//! The command line and server life cycle: init, accounts, settings,
//! restarts, nmail-resync's reports.

mod common;

use std::process::Command;

use common::{Pop3, Server, nmail_bin, smtp_send};

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn init_is_idempotent_and_generates_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let run = || {
        Command::new(nmail_bin())
            .args(["init", "--domain", "example.com"])
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", text(&first));
    let out = text(&first);
    let pw = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .unwrap()
        .trim()
        .to_string();
    assert!(pw.len() >= 16);
    let toml = std::fs::read_to_string(data.join("nmail.toml")).unwrap();
    let user = std::fs::read(data.join("domains/example.com/users/postmaster/user.toml")).unwrap();
    let second = run();
    assert!(second.status.success());
    assert!(
        text(&second).contains("nothing changed"),
        "{}",
        text(&second)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("nmail.toml")).unwrap(),
        toml
    );
    assert_eq!(
        std::fs::read(data.join("domains/example.com/users/postmaster/user.toml")).unwrap(),
        user
    );
    // The printed password works.
    let mut s = Server::start_in(dir_into(dir, "d"), &[]);
    let mut p = Pop3::login(s.pop3, "postmaster@example.com", &pw);
    p.cmd("QUIT");
    s.stop();
}

/// Servers keep their folder at `dir/data`; move `dir/name` there.
fn dir_into(dir: tempfile::TempDir, name: &str) -> tempfile::TempDir {
    std::fs::rename(dir.path().join(name), dir.path().join("data")).unwrap();
    dir
}

#[test]
fn an_internationalised_domain_takes_mail_under_its_a_labels() {
    let s = Server::start(&[]);
    let add = s.nmail(&["domain", "add", "회사.한국"]);
    assert!(add.status.success(), "{}", text(&add));
    assert!(
        text(&add).contains("xn--vf4b131b.xn--3e0b707e (회사.한국)"),
        "{}",
        text(&add)
    );
    let pw = s.data().join("pw");
    std::fs::write(&pw, "Idn-Pass-42\n").unwrap();
    let user = s.nmail(&[
        "user",
        "add",
        "kim@회사.한국",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(user.status.success(), "{}", text(&user));
    assert!(
        s.data()
            .join("domains/xn--vf4b131b.xn--3e0b707e/users/kim")
            .is_dir()
    );
    // The wire carries A-labels (no SMTPUTF8); case does not matter.
    let r = smtp_send(
        s.smtp,
        "alice@example.org",
        &["kim@XN--VF4B131B.xn--3e0b707e"],
        b"Subject: idn\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    let mut p = Pop3::login(s.pop3, "kim@xn--vf4b131b.xn--3e0b707e", "Idn-Pass-42");
    assert_eq!(p.list().len(), 1);
    p.quit();
}

#[test]
fn accounts_from_the_command_line() {
    let s = Server::start(&[]);
    let add = Command::new(nmail_bin())
        .args(["user", "add", "dave@example.com", "--data"])
        .arg(s.data())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"Stdin-Pass-9\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(add.status.success(), "{}", text(&add));
    // The running server sees the new account at once (through the index).
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.org",
            &["dave@example.com"],
            b"Subject: hi\r\n\r\nx\r\n"
        )
        .starts_with("250")
    );
    Pop3::login(s.pop3, "dave@example.com", "Stdin-Pass-9").quit();
    let list = text(&s.nmail(&["user", "list"]));
    assert!(
        list.contains("dave@example.com") && list.contains("bob@example.com"),
        "{list}"
    );
    let dup = s.nmail(&[
        "user",
        "add",
        "dave@example.com",
        "--password-file",
        "/dev/null",
    ]);
    assert!(!dup.status.success());
    let bad = s.nmail(&[
        "user",
        "add",
        "Bad Name@example.com",
        "--password-file",
        "/dev/null",
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("not a valid"), "{}", text(&bad));
    // passwd, then remove: the mail is kept under removed/.
    let pw = s.dir.path().join("newpw");
    std::fs::write(&pw, "Other-Pass-3\n").unwrap();
    assert!(
        s.nmail(&[
            "user",
            "passwd",
            "dave@example.com",
            "--password-file",
            pw.to_str().unwrap()
        ])
        .status
        .success()
    );
    Pop3::login(s.pop3, "dave@example.com", "Other-Pass-3").quit();
    let rm = s.nmail(&["user", "remove", "dave@example.com"]);
    assert!(rm.status.success(), "{}", text(&rm));
    let removed: Vec<_> = std::fs::read_dir(s.data().join("removed/example.com"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(removed.len(), 1);
    let refused = "S: 220\nC: EHLO c.example.org\nS: 250\nC: MAIL FROM:<a@example.org>\nS: 250\nC: RCPT TO:<dave@example.com>\nS: 550\n";
    common::dialogue::run(
        &common::dialogue::parse(refused),
        s.smtp,
        common::dialogue::Proto::Smtp,
    )
    .unwrap();
    // Domains.
    assert!(s.nmail(&["domain", "add", "example.org"]).status.success());
    assert!(text(&s.nmail(&["domain", "list"])).contains("example.org"));
    let busy = s.nmail(&["domain", "remove", "example.com"]);
    assert!(
        !busy.status.success() && text(&busy).contains("still has"),
        "{}",
        text(&busy)
    );
    assert!(
        s.nmail(&["domain", "remove", "example.org"])
            .status
            .success()
    );
}

#[test]
fn bad_settings_are_refused_clearly() {
    let s = Server::start(&[]);
    let out = Command::new(nmail_bin())
        .args(["serve", "--data"])
        .arg(s.data())
        .env("NMAIL_SMTP_LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("NMAIL_SMTP_LISTN"), "{}", text(&out));
}

#[test]
fn a_killed_servers_pop3_lock_does_not_outlive_it() {
    let mut s = Server::start(&[]);
    let _held = Pop3::login(s.pop3, "bob@example.com", "Correct-Horse-7");
    s.kill();
    s.restart();
    let mut p = Pop3::login(s.pop3, "bob@example.com", "Correct-Horse-7");
    p.cmd("QUIT");
}

#[test]
fn resync_check_reports_each_difference() {
    let mut s = Server::start(&[]);
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.org",
            &["bob@example.com"],
            b"Subject: a\r\n\r\nx\r\n"
        )
        .starts_with("250")
    );
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.org",
            &["bob@example.com"],
            b"Subject: b\r\n\r\ny\r\n"
        )
        .starts_with("250")
    );
    s.stop();
    let clean = s.resync(&["--check"]);
    assert!(clean.status.success(), "{}", text(&clean));
    // Behind the index's back: one file removed, one renamed with a flag,
    // one added, and an account file added.
    let files = s.messages("bob@example.com");
    std::fs::remove_file(&files[0].0).unwrap();
    let name = files[1]
        .0
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::rename(
        &files[1].0,
        s.maildir("bob@example.com")
            .join("cur")
            .join(format!("{name}:2,S")),
    )
    .unwrap();
    std::fs::write(
        s.maildir("carol@example.com")
            .join("new/1717290000.M1P1Q1.other"),
        "Subject: dropped\r\n\r\n",
    )
    .unwrap();
    let check = s.resync(&["--check"]);
    let out = text(&check);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(out.contains("file gone:"), "{out}");
    assert!(out.contains("renamed:"), "{out}");
    assert!(
        out.contains("not indexed:") && out.contains("1717290000.M1P1Q1.other"),
        "{out}"
    );
    // --check changed nothing; the default run mends; then all agrees.
    assert_eq!(s.resync(&["--check"]).status.code(), Some(1));
    let mend = s.resync(&[]);
    assert!(mend.status.success(), "{}", text(&mend));
    let after = s.resync(&["--check"]);
    assert!(after.status.success(), "{}", text(&after));
    // The files were never touched.
    assert_eq!(s.messages("bob@example.com").len(), 1);
    assert!(
        s.maildir("bob@example.com")
            .join("cur")
            .join(format!("{name}:2,S"))
            .exists()
    );
}

#[test]
fn bounce_analyze_from_the_command_line() {
    let case = common::repo().join("tools/bounce/tests/cases/c36-dsn-classification.eml");
    let out = Command::new(nmail_bin())
        .args(["bounce", "analyze", "--json"])
        .arg(&case)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let rcpts = v["recipients"].as_array().unwrap();
    let ghost = rcpts
        .iter()
        .find(|r| r["address"] == "ghost@example.net")
        .unwrap();
    assert_eq!(ghost["reason"], "userunknown");
    assert_eq!(ghost["status"], "5.1.1");
    assert_eq!(ghost["hardbounce"], true);
    for key in [
        "address",
        "reason",
        "status",
        "reply_code",
        "action",
        "hardbounce",
        "remote_host",
        "diagnostic",
    ] {
        assert!(ghost.get(key).is_some(), "{key} missing");
    }
    // Plain text, in English; an ordinary message is not a bounce.
    let plain = Command::new(nmail_bin())
        .args(["bounce", "analyze", "--lang", "en"])
        .arg(&case)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains("The recipient address does not exist")
    );
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.eml");
    std::fs::write(
        &note,
        "From: a@example.org\r\nTo: b@example.com\r\nSubject: lunch\r\n\r\nnoon?\r\n",
    )
    .unwrap();
    let out = Command::new(nmail_bin())
        .args(["bounce", "analyze", "--json"])
        .arg(&note)
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["recipients"].as_array().unwrap().len(), 0);
    // A file that cannot be read: exit 1.
    let bad = Command::new(nmail_bin())
        .args(["bounce", "analyze", "/nonexistent.eml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}
