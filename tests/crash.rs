//! Crash safety: `kill -9` in the middle of deliveries and of a resync, and
//! a full disk. No message answered 250 may be lost, no torn message may be
//! listed, and the index must come back consistent with the files.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Pop3, Server};

const BOB: &str = "bob@example.com";

/// Sends messages on one connection until it breaks; records the tag of
/// every message answered 250.
fn sender(
    addr: SocketAddr,
    worker: usize,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    round: usize,
) {
    let Ok(s) = TcpStream::connect(addr) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(match s.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut w = s;
    let mut reply = || -> Option<String> {
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).ok()? == 0 {
                return None;
            }
            if l.as_bytes().get(3) != Some(&b'-') {
                return Some(l);
            }
        }
    };
    reply();
    if w.write_all(b"EHLO crash.example.org\r\n").is_err() || reply().is_none() {
        return;
    }
    let body = "x".repeat(3000);
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let tag = format!("r{round}w{worker}n{n}");
        let data = format!("MAIL FROM:<a@example.org>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n");
        if w.write_all(data.as_bytes()).is_err() {
            return;
        }
        for _ in 0..3 {
            if reply().is_none() {
                return;
            }
        }
        let msg = format!("Subject: {tag}\r\n\r\n{body}\r\nEND {tag}\r\n.\r\n");
        if w.write_all(msg.as_bytes()).is_err() {
            return;
        }
        match reply() {
            Some(l) if l.starts_with("250") => acked.lock().unwrap().push(tag),
            _ => return,
        }
    }
}

#[test]
fn kill_9_during_deliveries_loses_nothing_acknowledged() {
    let mut s = Server::start(&[]);
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..6 {
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let (a, st, addr) = (acked.clone(), stop.clone(), s.smtp);
                std::thread::spawn(move || sender(addr, w, a, st, round))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 70 * round as u64));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        s.restart();

        // Every message answered 250 is a whole file in bob's maildir.
        let files = s.messages(BOB);
        let bodies: Vec<String> = files
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect();
        for (_, b) in &files {
            let text = String::from_utf8_lossy(b);
            let tag = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("?")
                .to_string();
            assert!(
                text.ends_with(&format!("END {tag}\r\n")),
                "torn message in new/: {tag}"
            );
        }
        let acked_now = acked.lock().unwrap().clone();
        for tag in &acked_now {
            assert!(
                bodies
                    .iter()
                    .any(|b| b.contains(&format!("Subject: {tag}\r\n"))),
                "round {round}: acknowledged {tag} lost"
            );
        }
        // And the index (mended at start) agrees with the files.
        let check = s.resync(&["--check"]);
        assert!(
            check.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let mut p = Pop3::login(s.pop3, BOB, "Correct-Horse-7");
        assert_eq!(
            p.list().len(),
            files.len(),
            "round {round}: POP3 lists every file"
        );
        p.cmd("QUIT");
        // Nothing half-written is left in tmp/ to be mistaken for mail later
        // (what a kill leaves there is never listed; count it only).
        let tmp = std::fs::read_dir(s.maildir(BOB).join("tmp"))
            .unwrap()
            .count();
        println!(
            "round {round}: {} acknowledged, {} files, {tmp} in tmp/",
            acked_now.len(),
            files.len()
        );
    }
    assert!(acked.lock().unwrap().len() > 20, "the load never got going");
}

#[test]
fn kill_9_during_resync_leaves_an_index_a_rerun_mends() {
    let mut s = Server::start(&[]);
    s.stop();
    // 3,000 messages dropped in by hand, no index rows.
    let md = s.maildir(BOB);
    for i in 0..3000 {
        std::fs::write(
            md.join(format!("cur/17172{i:05}.M{i}P1Q1.drop:2,S")),
            format!("Subject: d{i}\r\n\r\nbody {i}\r\n"),
        )
        .unwrap();
    }
    for delay in [30u64, 80, 150, 250] {
        let mut child = std::process::Command::new(common::resync_bin())
            .args(["--quiet", "--data"])
            .arg(s.data())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    let r = s.resync(&["--quiet"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let check = s.resync(&["--check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    s.restart();
    let mut p = Pop3::login(s.pop3, BOB, "Correct-Horse-7");
    assert_eq!(p.list().len(), 3000);
    p.cmd("QUIT");
}

/// Mounts a small tmpfs for the data folder (the tests run as root, as CI
/// does); unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "mounting a tmpfs failed: the disk-full test needs root (or CAP_SYS_ADMIN)"
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_gets_452_and_no_damage() {
    // With no headroom the disk really fills: SQLite and the maildir both
    // hit ENOSPC.
    full_disk("0", false);
}

#[test]
fn the_free_space_floor_refuses_mail_before_the_disk_is_full() {
    // With 1 MiB kept free, SMTP says 452 while there is still room, so the
    // index can write and a POP3 user can log in and delete mail.
    full_disk("1048576", true);
}

fn full_disk(min_free: &str, pop3_must_work: bool) {
    let fs = Tmpfs::new("6m");
    // A data folder on the small file system.
    let tmp = tempfile::tempdir_in(&fs.0).unwrap();
    let seed = Server::start(&[]);
    let mut s = {
        let mut seed = seed;
        seed.stop();
        let data = tmp.path().join("data");
        let cp = std::process::Command::new("cp")
            .arg("-a")
            .arg(seed.data())
            .arg(&data)
            .status()
            .unwrap();
        assert!(cp.success());
        Server::start_in(tmp, &[("NMAIL_SMTP_MIN_FREE_BYTES", min_free)])
    };
    let big = format!("Subject: filler\r\n\r\n{}\r\n", "0123456789".repeat(20_000));
    let mut accepted = 0;
    let mut full = None;
    for _ in 0..200 {
        let r = try_send(s.smtp, big.as_bytes());
        if r.starts_with("250") {
            accepted += 1;
        } else {
            full = Some(r);
            break;
        }
    }
    let full = full.expect("the disk never filled");
    assert!(
        full.starts_with("452 4.3.1"),
        "a full disk must be a temporary failure: {full}"
    );
    assert!(accepted > 3);
    // Nothing half-written is listed, and the session-level state is sane.
    let files = s.messages(BOB);
    assert_eq!(files.len(), accepted, "every 250 is a file, nothing else");
    assert!(files.iter().all(|(_, b)| b.ends_with(b"0123456789\r\n")));
    // POP3 answers with an error or works; it never hangs or crashes.
    let mut p = Pop3::connect(s.pop3);
    p.cmd("USER bob@example.com");
    let r = p.cmd("PASS Correct-Horse-7");
    assert!(
        r.starts_with("+OK") || r.starts_with("-ERR [SYS/TEMP]"),
        "{r}"
    );
    if pop3_must_work {
        assert!(r.starts_with("+OK"), "{r}");
        assert!(p.cmd("DELE 1").starts_with("+OK"));
        assert!(p.cmd("QUIT").starts_with("+OK"));
    }
    drop(p);
    let files = s.messages(BOB);
    // Free space: delete the filler by hand; everything recovers.
    for (path, _) in files.iter().skip(if pop3_must_work { 0 } else { 1 }) {
        std::fs::remove_file(path).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(try_send(s.smtp, b"Subject: after\r\n\r\nroom again\r\n").starts_with("250"));
    s.stop();
    // The index was never damaged: a resync runs cleanly and then agrees.
    let mend = s.resync(&[]);
    assert!(
        mend.status.success(),
        "{}",
        String::from_utf8_lossy(&mend.stderr)
    );
    let check = s.resync(&["--check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(!s.log().contains("panicked"));
    s.restart();
    let mut p = Pop3::login(s.pop3, BOB, "Correct-Horse-7");
    assert_eq!(p.list().len(), if pop3_must_work { 1 } else { 2 });
    p.cmd("QUIT");
    s.stop();
}

/// Sends one message; returns the reply to its end of data (or to the
/// first command that failed).
fn try_send(addr: SocketAddr, data: &[u8]) -> String {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut last = String::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                return last;
            }
            last = l.clone();
            if l.as_bytes().get(3) != Some(&b'-') {
                return l.trim_end().to_string();
            }
        }
    };
    reply();
    for cmd in [
        "EHLO c.example.org\r\n",
        "MAIL FROM:<a@example.org>\r\n",
        &format!("RCPT TO:<{BOB}>\r\n"),
        "DATA\r\n",
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        let r = reply();
        if !(r.starts_with('2') || r.starts_with('3')) {
            return r;
        }
    }
    w.write_all(data).unwrap();
    w.write_all(b".\r\n").unwrap();
    let end = reply();
    let _ = w.write_all(b"QUIT\r\n");
    end
}
