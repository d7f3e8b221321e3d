//! Regressions from a hostile newcomer's pass over the running server and
//! the tools: relative data paths, first-run logging, permissions, links in
//! maildirs, slow and greedy clients, permanent queue failures, operator
//! mistakes with data folders and account files.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Pop3, Server, nmail_bin, resync_bin, smtp_send};

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `nmail serve --data REL` started in `cwd`, with the listen lines read;
/// returns the child, the SMTP address and a handle on stderr.
fn serve_relative(
    cwd: &std::path::Path,
    rel: &str,
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let mut c = Command::new(nmail_bin())
        .args(["serve", "--data", rel, "--domain", "example.com"])
        .current_dir(cwd)
        .env("NMAIL_SMTP_LISTEN", "127.0.0.1:0")
        .env("NMAIL_POP3_LISTEN", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(c.stdout.take().unwrap());
    let mut smtp = String::new();
    for line in out.lines().map_while(Result::ok) {
        if let Some(a) = line.strip_prefix("nmail: smtp listening on ") {
            smtp = a.trim().to_string();
            break;
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let err = c.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    (c, smtp, rx)
}

#[test]
fn first_run_with_a_relative_folder_logs_and_watches() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, smtp, log) = serve_relative(dir.path(), "./data", &[]);
    assert!(!smtp.is_empty(), "server did not start");
    // The session lines are there on the very first run.
    let addr: std::net::SocketAddr = smtp.parse().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut b = [0u8; 256];
    let _ = s.read(&mut b);
    s.write_all(b"QUIT\r\n").unwrap();
    let _ = s.read(&mut b);
    // An account file edited by hand reaches the index (the watcher saw
    // absolute paths while the folder was given as a relative one).
    let pm = dir
        .path()
        .join("data/domains/example.com/users/postmaster/user.toml");
    let t = std::fs::read_to_string(&pm).unwrap();
    std::fs::write(&pm, format!("{t}disabled = true\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen_session = false;
    let mut seen_rescan = false;
    let mut lines = Vec::new();
    while Instant::now() < deadline && !(seen_session && seen_rescan) {
        if let Ok(l) = log.recv_timeout(Duration::from_millis(200)) {
            seen_session |= l.contains("session open");
            seen_rescan |= l.contains("watcher rescan mended the index");
            lines.push(l);
        }
    }
    println!("{}", lines.join("\n"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen_session, "no session line on the first run");
    assert!(
        seen_rescan,
        "the watcher ignored an edit under a relative --data"
    );
}

#[test]
fn secrets_are_not_world_readable() {
    let s = Server::start(&[]);
    for f in [
        "index.sqlite",
        "nmail.toml",
        "tls/key.pem",
        "domains/example.com/users/bob/user.toml",
    ] {
        let mode = std::fs::metadata(s.data().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} has mode {mode:o}");
    }
    let mode = std::fs::metadata(s.data()).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the data folder has mode {mode:o}");
}

#[test]
fn links_in_a_maildir_are_not_messages() {
    let s = Server::start(&[]);
    let md = s.maildir("bob@example.com");
    std::os::unix::fs::symlink("/etc/passwd", md.join("new/1717290000.M1P1Q1.link")).unwrap();
    std::fs::write(
        md.join("new/1717290001.M2P1Q2.real"),
        "Subject: real\r\n\r\nx\r\n",
    )
    .unwrap();
    let mut p = Pop3::login(s.pop3, "bob@example.com", "Correct-Horse-7");
    assert_eq!(p.list().len(), 1, "only the real file is listed");
    assert!(p.cmd("RETR 1").starts_with("+OK"));
    let body = String::from_utf8(p.body_raw()).unwrap();
    assert!(
        body.contains("Subject: real") && !body.contains("root:"),
        "{body}"
    );
    p.quit();
    let check = s.resync(&["--check"]);
    assert!(
        text(&check).contains("not a message file, skipped"),
        "{}",
        text(&check)
    );
}

#[test]
fn slow_and_greedy_clients_are_cut_off() {
    let s = Server::start(&[
        ("NMAIL_SMTP_TIMEOUT_SECS", "2"),
        ("NMAIL_SMTP_MAX_CONNECTIONS_PER_IP", "2"),
    ]);
    // A command trickled a byte at a time must still arrive within the
    // timeout as a whole.
    let mut c = TcpStream::connect(s.smtp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    let t = Instant::now();
    let mut reply = String::new();
    for b in b"NOOP and some more bytes that never end"
        .iter()
        .cycle()
        .take(40)
    {
        if c.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if t.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let _ = r.read_line(&mut reply);
    assert!(
        reply.starts_with("421"),
        "a trickled command line got {reply:?} after {:?}",
        t.elapsed()
    );
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    // At most two sessions from one address.
    let keep: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(s.smtp).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(s.smtp).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut l = String::new();
    BufReader::new(&mut third).read_line(&mut l).unwrap();
    assert!(l.starts_with("421 4.7.0"), "{l}");
    drop(keep);
}

#[test]
fn message_text_trickled_line_by_line_is_cut_off() {
    // Each line comes well within the pause allowed, but the text as a
    // whole falls behind the deadline (2 s plus 1 s per KiB): 421 4.4.2,
    // and nothing of it is delivered.
    let s = Server::start(&[("NMAIL_SMTP_DATA_TIMEOUT_SECS", "2")]);
    let mut c = TcpStream::connect(s.smtp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    for cmd in [
        "EHLO slow.example.org",
        "MAIL FROM:<alice@example.org>",
        "RCPT TO:<bob@example.com>",
        "DATA",
    ] {
        c.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    }
    assert!(line.starts_with("354"), "{line}");
    let t = Instant::now();
    c.write_all(b"Subject: slow\r\n\r\n").unwrap();
    let mut n = 0;
    while t.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(500));
        n += 1;
        if c.write_all(format!("line {n}\r\n").as_bytes()).is_err() {
            break;
        }
    }
    line.clear();
    let _ = r.read_line(&mut line);
    assert!(
        line.starts_with("421 4.4.2"),
        "{line:?} after {:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "not cut off: {:?}",
        t.elapsed()
    );
    assert!(s.messages("bob@example.com").is_empty());
    // A normal message still goes through under the same setting.
    let text = format!("Subject: quick\r\n\r\n{}\r\n", "x".repeat(100_000));
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.org",
            &["bob@example.com"],
            text.as_bytes()
        )
        .starts_with("250")
    );
}

#[test]
fn a_permanent_failure_in_the_queue_is_returned_at_once() {
    let s = Server::start(&[("NMAIL_QUEUE_RETRY_SECS", "1")]);
    assert!(
        s.nmail(&["user", "quota", "bob@example.com", "1K"])
            .status
            .success()
    );
    let big = format!("Subject: too big for bob\r\n\r\n{}\r\n", "q".repeat(4000));
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.com",
            &["bob@example.com", "carol@example.com"],
            big.as_bytes()
        )
        .starts_with("250")
    );
    // bob's account goes away while his copy waits.
    assert!(
        s.nmail(&["user", "remove", "bob@example.com"])
            .status
            .success()
    );
    // alice is local here (example.com), so her DSN is delivered to her...
    // she has no account either, so look in the queue for the DSN.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = text(&s.nmail(&["queue", "list"]));
        if list.contains("alice@example.com") && list.contains("from <>") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no DSN after a permanent failure:\n{list}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(s.log().contains("given up; returning to sender"));
}

#[test]
fn data_folder_mistakes_are_refused_or_harmless() {
    let dir = tempfile::tempdir().unwrap();
    // init into a folder holding someone's files: refused.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("thesis.tex"), "important").unwrap();
    let out = Command::new(nmail_bin())
        .args(["init", "--domain", "example.com", "--data"])
        .arg(&busy)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not empty and is not an nmail data folder"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    // A data folder that lost its nmail.toml gets it back, and no new domain.
    let mut s = Server::start(&[]);
    s.stop();
    std::fs::remove_file(s.data().join("nmail.toml")).unwrap();
    let out = Command::new(nmail_bin())
        .args(["init", "--domain", "other.example", "--data"])
        .arg(s.data())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept as they were"), "{}", text(&out));
    assert!(!s.data().join("domains/other.example").exists());
    assert!(s.data().join("nmail.toml").exists());
}

#[test]
fn a_broken_account_file_keeps_the_account() {
    let mut s = Server::start(&[]);
    assert!(
        smtp_send(
            s.smtp,
            "a@example.org",
            &["bob@example.com"],
            b"Subject: x\r\n\r\ny\r\n"
        )
        .starts_with("250")
    );
    s.stop();
    let f = s.data().join("domains/example.com/users/bob/user.toml");
    std::fs::write(&f, "address = \"bob@exa").unwrap();
    let r = s.resync(&[]);
    assert_eq!(
        r.status.code(),
        Some(2),
        "an unreadable account file makes the run incomplete: {}",
        text(&r)
    );
    assert!(!text(&r).contains("folder gone"), "{}", text(&r));
    s.restart();
    // Mail for bob is still accepted and his mail still listed.
    assert!(
        smtp_send(
            s.smtp,
            "a@example.org",
            &["bob@example.com"],
            b"Subject: x2\r\n\r\ny\r\n"
        )
        .starts_with("250")
    );
    let list = s.nmail(&["user", "list"]);
    assert!(
        String::from_utf8_lossy(&list.stderr).contains("user.toml"),
        "{}",
        text(&list)
    );
}

#[test]
fn odd_folders_are_reported_once_and_check_writes_nothing() {
    let mut s = Server::start(&[]);
    s.stop();
    std::fs::create_dir_all(s.data().join("domains/Example.COM/users")).unwrap();
    std::fs::create_dir_all(s.data().join("domains/example.com/users/dave/Maildir/new")).unwrap();
    for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(s.data().join(f));
    }
    let out = Command::new(resync_bin())
        .args(["--check", "--data"])
        .arg(s.data())
        .output()
        .unwrap();
    let t = text(&out);
    assert!(t.contains("not a domain name as nmail writes it"), "{t}");
    assert!(t.contains("no user.toml"), "{t}");
    // Odd folders are errors an operator's check must hear of.
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(
        t.matches("not indexed: domains/example.com/users/bob/Maildir")
            .count(),
        0,
        "{t}"
    );
    assert!(
        !s.data().join("index.sqlite").exists(),
        "--check created an index"
    );
}

#[test]
fn a_message_rewritten_during_a_pop3_session_is_not_sent_with_a_wrong_count() {
    let s = Server::start(&[]);
    assert!(
        smtp_send(
            s.smtp,
            "alice@example.org",
            &["bob@example.com"],
            b"Subject: one\r\n\r\nbody\r\n"
        )
        .starts_with("250")
    );
    let mut p = Pop3::login(s.pop3, "bob@example.com", "Correct-Horse-7");
    let listed = p.list();
    assert_eq!(listed.len(), 1);
    let file = std::fs::read_dir(s.maildir("bob@example.com").join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut text = std::fs::read(&file).unwrap();
    text.extend_from_slice(b"a line added by another program\r\n");
    std::fs::write(&file, &text).unwrap();
    // RFC 1939: the count after +OK is the octets that follow; a changed
    // file cannot be sent under the count LIST gave.
    let r = p.cmd("RETR 1");
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    p.quit();
    // Once the watcher has read the file again, a new session sees the
    // new size and sends exactly that.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut p, size) = loop {
        let mut p = Pop3::login_when_free(s.pop3, "bob@example.com", "Correct-Horse-7");
        let (_, size) = p.list()[0];
        let r = p.cmd("RETR 1");
        if r.starts_with(&format!("+OK {size} octets")) {
            break (p, size);
        }
        assert!(Instant::now() < deadline, "{r}");
        p.quit();
        std::thread::sleep(Duration::from_millis(200));
    };
    let body = p.body_raw();
    assert_eq!(body.len() as u64, size);
    p.quit();
}

/// Index updates the watcher could not write (the index unwritable for a
/// while) are tried again once it can, not lost with their events.
#[test]
fn the_watcher_retries_index_updates_that_failed() {
    let s = Server::start(&[]);
    // No delivery first: a SQLite that has written through its mapped
    // -shm file dies of SIGBUS when the file turns immutable. A full disk
    // is the real case; for the watcher it fails the same way.
    let files: Vec<PathBuf> = ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]
        .iter()
        .map(|f| s.data().join(f))
        .filter(|p| p.exists())
        .collect();
    let chattr = |flag: &str| {
        let st = Command::new("chattr")
            .arg(flag)
            .args(&files)
            .status()
            .expect("chattr");
        assert!(
            st.success(),
            "chattr {flag} failed: this test needs root and a file system with immutable files"
        );
    };
    chattr("+i");
    let new = s.maildir("bob@example.com").join("new");
    for i in 0..20 {
        std::fs::write(
            new.join(format!("1717400000.M{i}P9.byhand")),
            format!("Subject: hand {i}\r\n\r\nx\r\n"),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1500));
    chattr("-i");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = s.resync(&["--check", "--quiet"]);
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index never caught up:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(s.log().contains("will try again"), "{}", s.log());
}
