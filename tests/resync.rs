//! nmail-resync against every kind of divergence between the index and the
//! files: it reports each with --check (exit 1) and --dry-run, mends the
//! index by default, and never changes or deletes a mail file (except
//! giving a duplicate key a fresh name, and removing stale tmp/ files with
//! --clean-tmp).

mod common;

use std::process::Command;

use common::{Server, smtp_send};

const BOB: &str = "bob@example.com";

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// All files under the data folder's mail, with their bytes.
fn snapshot(s: &Server) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in walk(&s.data().join("domains")) {
        // The uidlists are nmail's own side files, not mail.
        if e.is_file()
            && !e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("nmail-uidlist"))
        {
            v.push((
                e.strip_prefix(s.data()).unwrap().display().to_string(),
                std::fs::read(&e).unwrap_or_default(),
            ));
        }
    }
    v.sort();
    v
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn every_divergence_is_reported_then_mended() {
    let mut s = Server::start(&[]);
    for i in 0..4 {
        assert!(
            smtp_send(
                s.smtp,
                "a@example.org",
                &[BOB],
                format!("Subject: m{i}\r\n\r\nbody {i}\r\n").as_bytes()
            )
            .starts_with("250")
        );
    }
    s.stop();
    let md = s.maildir(BOB);
    let files = s.messages(BOB);
    let name = |i: usize| {
        files[i]
            .0
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    // Row without file.
    std::fs::remove_file(&files[0].0).unwrap();
    // Changed flags.
    std::fs::rename(
        &files[1].0,
        md.join("cur").join(format!("{}:2,FS", name(1))),
    )
    .unwrap();
    // Changed size and mtime (edited in place).
    std::fs::write(
        &files[2].0,
        "Subject: m2 edited\r\n\r\nquite a bit longer now\r\n",
    )
    .unwrap();
    // Duplicate key: the same message in new/ and cur/.
    std::fs::copy(&files[3].0, md.join("cur").join(format!("{}:2,S", name(3)))).unwrap();
    // Files without rows: one unparsable (NULs); a symbolic link, which is
    // never a message (it could point at any file the server can read); one
    // in a folder the index has never seen.
    std::fs::write(md.join("new/1717290000.M1P1Q1.nul"), vec![0u8; 4096]).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", md.join("new/1717290000.M2P1Q2.link")).unwrap();
    std::fs::create_dir_all(md.join(".Sent/cur")).unwrap();
    std::fs::create_dir_all(md.join(".Sent/new")).unwrap();
    std::fs::write(
        md.join(".Sent/cur/1717290000.M3P1Q3.sent:2,S"),
        "Subject: sent\r\n\r\n",
    )
    .unwrap();
    // A FIFO is not a message (and must not hang the resync).
    Command::new("mkfifo")
        .arg(md.join("new/1717290000.M4P1Q4.fifo"))
        .status()
        .unwrap();
    // Stale and fresh files in tmp/.
    std::fs::write(md.join("tmp/1717000000.old"), "partial").unwrap();
    Command::new("touch")
        .args(["-d", "40 hours ago"])
        .arg(md.join("tmp/1717000000.old"))
        .status()
        .unwrap();
    std::fs::write(md.join("tmp/1717290000.fresh"), "in progress").unwrap();
    // An account file edited by hand, and a whole account removed by hand.
    let carol = s.data().join("domains/example.com/users/carol");
    std::fs::remove_dir_all(&carol).unwrap();
    let bob_toml = s.data().join("domains/example.com/users/bob/user.toml");
    let t = std::fs::read_to_string(&bob_toml).unwrap();
    std::fs::write(&bob_toml, format!("{t}display_name = \"Bob Kim\"\n")).unwrap();

    let before = snapshot(&s);
    for mode in [&["--check"][..], &["--dry-run"][..]] {
        let r = s.resync(mode);
        let text = out(&r);
        for want in [
            "file gone:",
            "renamed:",
            "changed: domains/example.com",
            "duplicate key:",
            "not indexed:",
            ".Sent",
            "not a message file, skipped:",
            "stale file in tmp/",
            "changed: account bob@example.com",
            "file gone: account/domain carol@example.com",
        ] {
            assert!(text.contains(want), "{mode:?} lacks {want:?}:\n{text}");
        }
        assert!(
            !text.contains("1717290000.fresh"),
            "a fresh tmp/ file is not stale:\n{text}"
        );
        if mode == ["--check"] {
            assert_eq!(r.status.code(), Some(1), "{text}");
        } else {
            assert!(r.status.success(), "{text}");
        }
        assert_eq!(snapshot(&s), before, "{mode:?} changed files");
    }

    // Mend: the index follows; files stay, except the duplicate's new name.
    let r = s.resync(&[]);
    let text = out(&r);
    assert!(r.status.success(), "{text}");
    assert!(text.contains("unparsable (indexed as such)"), "{text}");
    assert!(text.contains("errors 0"), "{text}");
    let after = snapshot(&s);
    assert_eq!(after.len(), before.len(), "no file deleted");
    let contents = |v: &Vec<(String, Vec<u8>)>| {
        let mut c: Vec<Vec<u8>> = v.iter().map(|(_, b)| b.clone()).collect();
        c.sort();
        c
    };
    assert_eq!(
        contents(&after),
        contents(&before),
        "no file's content changed"
    );
    // Only the stale tmp/ file goes, and only when asked.
    assert!(md.join("tmp/1717000000.old").exists());
    let r = s.resync(&["--clean-tmp"]);
    assert!(
        out(&r).contains("removed 1 stale files from tmp/"),
        "{}",
        out(&r)
    );
    assert!(!md.join("tmp/1717000000.old").exists());
    assert!(md.join("tmp/1717290000.fresh").exists());

    // Now everything agrees, and the server lists what the files hold.
    let check = s.resync(&["--check"]);
    assert!(check.status.success(), "{}", out(&check));
    s.restart();
    let mut p = common::Pop3::login(s.pop3, BOB, "Correct-Horse-7");
    // 3 delivered left + the duplicate under its new key + NUL file +
    // nothing for the link = 5 in INBOX.
    assert_eq!(p.list().len(), 5);
    p.cmd("QUIT");
}

#[test]
fn scoped_runs_touch_only_their_part() {
    let mut s = Server::start(&[]);
    assert!(
        smtp_send(
            s.smtp,
            "a@example.org",
            &[BOB, "carol@example.com"],
            b"Subject: both\r\n\r\nx\r\n"
        )
        .starts_with("250")
    );
    s.stop();
    for f in s
        .messages(BOB)
        .into_iter()
        .chain(s.messages("carol@example.com"))
    {
        std::fs::remove_file(f.0).unwrap();
    }
    let r = s.resync(&["--user", "carol@example.com"]);
    assert!(r.status.success(), "{}", out(&r));
    let check = s.resync(&["--check"]);
    let text = out(&check);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text.contains("users/bob/Maildir") && !text.contains("users/carol/Maildir"),
        "{text}"
    );
    let r = s.resync(&["--domain", "example.com"]);
    assert!(r.status.success());
    assert!(s.resync(&["--check"]).status.success());
}

#[test]
fn a_resync_does_not_hold_up_delivery_or_pop3() {
    // No watcher: 20,000 files dropped into carol's maildir stay unindexed
    // until nmail-resync runs, while bob keeps receiving and reading mail.
    let s = Server::start(&[("NMAIL_WATCH_ENABLED", "false")]);
    let md = s.maildir("carol@example.com");
    let body = format!("Subject: bulk\r\n\r\n{}\r\n", "z".repeat(2000));
    for i in 0..20_000 {
        std::fs::write(md.join(format!("cur/17172{i:05}.M{i}P9Q9.bulk:2,S")), &body).unwrap();
    }
    let mut resync = Command::new(common::resync_bin())
        .args(["--quiet", "--data"])
        .arg(s.data())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut worst = std::time::Duration::ZERO;
    let mut n = 0;
    while resync.try_wait().unwrap().is_none() {
        let t = std::time::Instant::now();
        let r = smtp_send(
            s.smtp,
            "a@example.org",
            &[BOB],
            format!("Subject: during {n}\r\n\r\nx\r\n").as_bytes(),
        );
        assert!(r.starts_with("250"), "{r}");
        common::Pop3::login(s.pop3, BOB, "Correct-Horse-7").quit();
        worst = worst.max(t.elapsed());
        n += 1;
    }
    assert!(resync.wait().unwrap().success());
    println!(
        "{n} deliveries and POP3 logins during the resync; slowest {} ms",
        worst.as_millis()
    );
    assert!(
        n >= 3,
        "the resync was too quick to measure anything ({n} rounds)"
    );
    assert!(
        worst < std::time::Duration::from_secs(3),
        "a delivery plus login took {worst:?}"
    );
    assert!(s.resync(&["--check"]).status.success());
}
