//! The watcher: changes made to the files by hand, while the server runs,
//! reach the index within a second (we allow a few under a loaded CI
//! machine, and print the time taken).

mod common;

use std::time::{Duration, Instant};

use common::{Server, smtp_send};
use nmail_sync::Index;

struct Probe {
    index: Index,
    rt: tokio::runtime::Runtime,
}

impl Probe {
    fn new(s: &Server) -> Probe {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let index = rt
            .block_on(Index::open("sqlite://index.sqlite", &s.data()))
            .unwrap();
        Probe { index, rt }
    }

    fn folder(&self, addr: &str, name: &str) -> Option<i64> {
        let fs = self.rt.block_on(self.index.folders()).unwrap();
        fs.into_iter()
            .find(|f| f.address == addr && f.name == name)
            .map(|f| f.id)
    }

    /// (file name, flags) of a folder's rows.
    fn rows(&self, addr: &str, name: &str) -> Vec<(String, String)> {
        let Some(id) = self.folder(addr, name) else {
            return Vec::new();
        };
        let mut v: Vec<_> = self
            .rt
            .block_on(self.index.messages(id))
            .unwrap()
            .into_iter()
            .map(|m| (m.file_name, m.flags))
            .collect();
        v.sort();
        v
    }

    fn user(&self, addr: &str) -> Option<nmail_sync::index::UserRecord> {
        self.rt.block_on(self.index.user(addr)).unwrap()
    }

    fn has_domain(&self, d: &str) -> bool {
        self.rt.block_on(self.index.has_domain(d)).unwrap()
    }

    /// Waits until `f` holds; returns how long it took.
    fn wait(&self, what: &str, f: impl Fn(&Probe) -> bool) -> Duration {
        let t = Instant::now();
        while !f(self) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the index did not follow: {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let took = t.elapsed();
        println!("{what}: {} ms", took.as_millis());
        took
    }
}

const BOB: &str = "bob@example.com";

/// A server whose watcher has settled after start-up (one delivery seen in
/// the index), with a probe of its index and bob's maildir.
fn settled_server() -> (Server, Probe, std::path::PathBuf) {
    let s = Server::start(&[]);
    let p = Probe::new(&s);
    let md = s.maildir(BOB);
    let r = smtp_send(
        s.smtp,
        "a@example.org",
        &[BOB],
        b"Subject: first\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    p.wait("delivery", |p| p.rows(BOB, "INBOX").len() == 1);
    (s, p, md)
}

#[test]
fn index_follows_hand_made_changes() {
    let (s, p, md) = settled_server();

    // A message copied into new/ by another program (written in tmp/, then
    // renamed, as delivery agents do) and one written straight into cur/.
    std::fs::write(
        md.join("tmp/1717290000.M1P1Q1.other"),
        "Subject: by hand\r\n\r\nbody\r\n",
    )
    .unwrap();
    std::fs::rename(
        md.join("tmp/1717290000.M1P1Q1.other"),
        md.join("new/1717290000.M1P1Q1.other"),
    )
    .unwrap();
    p.wait("file renamed into new/", |p| {
        p.rows(BOB, "INBOX")
            .iter()
            .any(|r| r.0 == "1717290000.M1P1Q1.other")
    });
    std::fs::write(
        md.join("cur/1717290001.M2P1Q2.other:2,FS"),
        "Subject: flagged\r\n\r\nbody\r\n",
    )
    .unwrap();
    p.wait("file written into cur/", |p| {
        p.rows(BOB, "INBOX")
            .contains(&("1717290001.M2P1Q2.other:2,FS".into(), "FS".into()))
    });

    // A flag change: rename new/ → cur/ with :2,S.
    std::fs::rename(
        md.join("new/1717290000.M1P1Q1.other"),
        md.join("cur/1717290000.M1P1Q1.other:2,S"),
    )
    .unwrap();
    p.wait("flag change", |p| {
        p.rows(BOB, "INBOX")
            .contains(&("1717290000.M1P1Q1.other:2,S".into(), "S".into()))
    });
    assert_eq!(p.rows(BOB, "INBOX").len(), 3);

    // A file removed.
    std::fs::remove_file(md.join("cur/1717290001.M2P1Q2.other:2,FS")).unwrap();
    p.wait("file removed", |p| p.rows(BOB, "INBOX").len() == 2);

    // Changed in place (same name, new content).
    std::fs::write(
        md.join("cur/1717290000.M1P1Q1.other:2,S"),
        "Subject: edited\r\n\r\nlonger body now\r\n",
    )
    .unwrap();
    let rt = &p.rt;
    p.wait("content changed in place", |p| {
        let id = p.folder(BOB, "INBOX").unwrap();
        rt.block_on(p.index.message(id, "1717290000.M1P1Q1.other"))
            .unwrap()
            .is_some_and(|m| m.meta.subject.as_deref() == Some("edited"))
    });

    // A Maildir++ folder created with a message in it, then removed.
    let arch = md.join(".Archive");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(arch.join(sub)).unwrap();
    }
    std::fs::write(
        arch.join("cur/1717290002.M3P1Q3.other:2,S"),
        "Subject: archived\r\n\r\n",
    )
    .unwrap();
    p.wait("folder created", |p| p.rows(BOB, "Archive").len() == 1);
    std::fs::remove_dir_all(&arch).unwrap();
    p.wait("folder removed", |p| p.folder(BOB, "Archive").is_none());

    // A whole mailbox made by hand: account file and Maildir.
    let dave = s.data().join("domains/example.com/users/dave");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dave.join("Maildir").join(sub)).unwrap();
    }
    let bob_file =
        std::fs::read_to_string(s.data().join("domains/example.com/users/bob/user.toml")).unwrap();
    let dave_file = bob_file.replace("bob@example.com", "dave@example.com");
    std::fs::write(
        dave.join("Maildir/new/1717290003.M4P1Q4.other"),
        "Subject: for dave\r\n\r\n",
    )
    .unwrap();
    std::fs::write(dave.join("user.toml.tmp"), &dave_file).unwrap();
    std::fs::rename(dave.join("user.toml.tmp"), dave.join("user.toml")).unwrap();
    p.wait("account created", |p| p.user("dave@example.com").is_some());
    p.wait("its mail indexed", |p| {
        p.rows("dave@example.com", "INBOX").len() == 1
    });

    // The account file edited: disabled.
    std::fs::write(
        dave.join("user.toml"),
        format!("{dave_file}disabled = true\n"),
    )
    .unwrap();
    p.wait("account edited", |p| {
        p.user("dave@example.com").is_some_and(|u| u.disabled)
    });
    // A half-written (unparsable) account file leaves the account as it was.
    std::fs::write(dave.join("user.toml"), "address = \"dave@exa").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        p.user("dave@example.com").is_some(),
        "an unreadable account file must not drop the account"
    );

    // The mailbox removed.
    std::fs::remove_dir_all(&dave).unwrap();
    p.wait("account removed", |p| p.user("dave@example.com").is_none());

    // A domain added by hand.
    let d = s.data().join("domains/example.net");
    std::fs::create_dir_all(d.join("users")).unwrap();
    std::fs::write(
        d.join("domain.toml"),
        "name = \"example.net\"\ncreated = \"2026-12-03T00:00:00Z\"\n",
    )
    .unwrap();
    p.wait("domain added", |p| p.has_domain("example.net"));
    std::fs::remove_dir_all(&d).unwrap();
    p.wait("domain removed", |p| !p.has_domain("example.net"));

    // The index never lost a row the files have; the resync agrees.
    let check = s.resync(&["--check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(!s.log().contains(" ERROR "), "{}", s.log());
}

#[test]
fn periodic_rescan_without_inotify() {
    // With the watcher off, a periodic rescan still brings the index up to
    // date: the NFS set-up, where inotify sees nothing.
    let s = Server::start(&[("NMAIL_WATCH_ENABLED", "false")]);
    let p = Probe::new(&s);
    std::fs::write(
        s.maildir(BOB).join("new/1717290000.M1P1Q1.nfs"),
        "Subject: nfs\r\n\r\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        p.rows(BOB, "INBOX").is_empty(),
        "nothing should index it without the watcher"
    );
    drop(s);
    let s = Server::start(&[
        ("NMAIL_WATCH_ENABLED", "false"),
        ("NMAIL_WATCH_RESCAN_SECS", "1"),
    ]);
    let p = Probe::new(&s);
    std::fs::write(
        s.maildir(BOB).join("new/1717290000.M1P1Q1.nfs"),
        "Subject: nfs\r\n\r\n",
    )
    .unwrap();
    p.wait("periodic rescan", |p| p.rows(BOB, "INBOX").len() == 1);
}

/// What other programs leave in a maildir that is not mail (a FIFO, a
/// directory, a symbolic link) is never indexed and never stops the
/// watcher; and a file rewritten in place in the same burst as an event
/// for its account (as `rsync -a` into a live maildir does) is read again.
#[test]
fn the_watcher_survives_odd_files_and_in_place_rewrites() {
    let (s, p, md) = settled_server();

    let fifo = md.join("new/1717300000.M1P1Q1.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::create_dir(md.join("new/1717300001.M2P1Q2.dir")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", md.join("cur/1717300002.M3P1Q3.lnk:2,S")).unwrap();
    // A real message after them must still be indexed.
    std::fs::write(
        md.join("new/1717300003.M4P1Q4.real"),
        "Subject: real\r\n\r\nbody\r\n",
    )
    .unwrap();
    p.wait("a message after a FIFO, a directory and a link", |p| {
        p.rows(BOB, "INBOX")
            .iter()
            .any(|r| r.0 == "1717300003.M4P1Q4.real")
    });
    std::thread::sleep(Duration::from_millis(700));
    let names: Vec<String> = p.rows(BOB, "INBOX").into_iter().map(|r| r.0).collect();
    assert_eq!(names.len(), 2, "only the two messages: {names:?}");

    // Rewritten in place, with the folder's own time touched in the same
    // burst (an account-level event).
    let f = md.join("new/1717300003.M4P1Q4.real");
    std::fs::write(
        &f,
        "Subject: rewritten by rsync\r\n\r\nlonger body than before\r\n",
    )
    .unwrap();
    let _ = std::process::Command::new("touch").arg(&md).status();
    let _ = std::process::Command::new("touch")
        .arg(md.join("new"))
        .status();
    let want = std::fs::metadata(&f).unwrap().len();
    p.wait("rewrite in place seen", |p| {
        let id = p.folder(BOB, "INBOX").unwrap();
        p.rt.block_on(p.index.messages(id))
            .unwrap()
            .iter()
            .any(|m| m.file_name == "1717300003.M4P1Q4.real" && m.size == want)
    });
    std::fs::remove_file(&fifo).unwrap();
    let out = s.resync(&["--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The server still stops (a FIFO once held its watcher forever).
    drop(s);
}
