//! `nmail backup` and `nmail restore`, driving the real binaries: a server
//! filled from the corpus moves to a new data folder with its UIDLs, sizes,
//! flags, uidlists and bytes; a backup taken while mail arrives, changes
//! flags and is deleted restores to a consistent tree; damaged and hostile
//! archives and occupied targets are refused.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Pop3, Server, USERS, nmail_bin, path_str, python, resync_bin, smtp_send};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed:\n{}", text(&o));
    text(&o)
}

fn backup(data: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(nmail_bin())
        .arg("backup")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn restore(from: &Path, data: &Path, extra: &[&str]) -> Output {
    Command::new(nmail_bin())
        .arg("restore")
        .arg("--from")
        .arg(from)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap()
}

fn resync_check(data: &Path) -> Output {
    Command::new(resync_bin())
        .arg("--check")
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

fn maildir(data: &Path, user: &str) -> PathBuf {
    let (l, d) = user.split_once('@').unwrap();
    data.join("domains")
        .join(d)
        .join("users")
        .join(l)
        .join("Maildir")
}

/// `new/NAME` and `cur/NAME` of a folder's message files, sorted.
fn file_names(md: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(md.join(sub)).unwrap().flatten() {
            let n = e.file_name().into_string().unwrap();
            if !n.starts_with('.') {
                out.insert(format!("{sub}/{n}"));
            }
        }
    }
    out
}

fn key(name: &str) -> &str {
    let n = name.rsplit('/').next().unwrap();
    n.split_once(':').map_or(n, |(k, _)| k)
}

/// What a user sees and what the files say: UIDL, LIST, every message's
/// bytes over POP3, the file names (flags) and the uidlist.
#[derive(Debug, PartialEq, Eq)]
struct View {
    uidl: Vec<(u64, String)>,
    list: Vec<(u64, u64)>,
    bodies: Vec<Vec<u8>>,
    files: BTreeSet<String>,
    uidlist: Vec<u8>,
}

fn view(s: &Server) -> BTreeMap<&'static str, View> {
    let mut out = BTreeMap::new();
    for (user, pass) in USERS {
        let mut p = Pop3::login_when_free(s.pop3, user, pass);
        let uidl = p.uidl();
        let list = p.list();
        let mut bodies = Vec::new();
        for (n, _) in &list {
            let r = p.cmd(&format!("RETR {n}"));
            assert!(r.starts_with("+OK"), "RETR {n}: {r}");
            bodies.push(p.body_raw());
        }
        p.quit();
        let md = maildir(&s.data(), user);
        let uidlist = std::fs::read(md.join("nmail-uidlist")).unwrap();
        out.insert(
            *user,
            View {
                uidl,
                list,
                bodies,
                files: file_names(&md),
                uidlist,
            },
        );
    }
    out
}

/// Compares two views part by part, so a failure says what differs
/// instead of printing megabytes of mail.
fn assert_same(before: &BTreeMap<&str, View>, after: &BTreeMap<&str, View>, what: &str) {
    for (user, b) in before {
        let a = &after[user];
        assert_eq!(
            b.uidl.len(),
            a.uidl.len(),
            "{what}: {user}: number of messages"
        );
        assert!(b.uidl == a.uidl, "{what}: {user}: UIDL differs");
        assert!(b.list == a.list, "{what}: {user}: LIST differs");
        assert!(
            b.files == a.files,
            "{what}: {user}: file names (flags) differ: {:?}",
            b.files
                .symmetric_difference(&a.files)
                .take(5)
                .collect::<Vec<_>>()
        );
        assert!(
            b.uidlist == a.uidlist,
            "{what}: {user}: nmail-uidlist differs"
        );
        if let Some(i) = (0..b.bodies.len()).find(|&i| b.bodies[i] != a.bodies[i]) {
            panic!(
                "{what}: {user}: message {} ({}) differs",
                i + 1,
                b.uidl[i].1
            );
        }
    }
}

fn corpus() -> PathBuf {
    common::shared()
        .map(|s| s.join("corpus").join("mail"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| common::repo().join("tests").join("corpus"))
}

/// Renames message files the way a mail client marks them: `:2,S` (seen)
/// for every `seen`-th and `:2,FS` (flagged) for every `flagged`-th.
fn mark(md: &Path, seen: usize, flagged: usize) {
    let names: Vec<String> = file_names(md)
        .into_iter()
        .filter(|n| n.starts_with("new/"))
        .collect();
    for (i, n) in names.iter().enumerate() {
        let flags = if i % flagged == 0 {
            "FS"
        } else if i % seen == 0 {
            "S"
        } else {
            continue;
        };
        let to = md.join("cur").join(format!("{}:2,{flags}", key(n)));
        std::fs::rename(md.join(n), to).unwrap();
    }
}

/// Deletes every `every`-th message of a maildrop over POP3.
fn pop3_delete(s: &Server, user: &str, pass: &str, every: usize) -> usize {
    let mut p = Pop3::login_when_free(s.pop3, user, pass);
    let list = p.list();
    let mut n = 0;
    for (num, _) in list.iter().step_by(every) {
        assert!(p.cmd(&format!("DELE {num}")).starts_with("+OK"));
        n += 1;
    }
    assert!(p.quit().starts_with("+OK"));
    n
}

#[test]
fn migration_keeps_uidls_flags_uidlists_and_bytes() {
    let corpus = corpus();
    let s = Server::start(&[]);
    let state = s.dir.path().join("state.json");
    let smtp = s.smtp.to_string();
    println!(
        "{}",
        python(
            "corpus_roundtrip.py",
            &[
                "send",
                "--smtp",
                &smtp,
                "--corpus",
                path_str(&corpus),
                "--state",
                path_str(&state)
            ],
        )
    );
    // Reading the maildrops gives every message its UID in nmail-uidlist.
    for (user, pass) in USERS {
        Pop3::login_when_free(s.pop3, user, pass).quit();
    }
    mark(&s.maildir("bob@example.com"), 5, 11);
    mark(&s.maildir("carol@example.com"), 4, 9);
    let gone =
        pop3_delete(&s, USERS[0].0, USERS[0].1, 13) + pop3_delete(&s, USERS[1].0, USERS[1].1, 3);
    let before = view(&s);
    println!(
        "original: bob {} messages, carol {}, {gone} deleted over POP3",
        before["bob@example.com"].uidl.len(),
        before["carol@example.com"].uidl.len()
    );

    let work = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--with-index"][..]] {
        // Taken from the running server.
        let archive = work.path().join(format!("backup{}.tar.gz", extra.len()));
        // A POP3 session open meanwhile: its maildrop lock is in the index
        // copy, and must not lock carol out of the restored server.
        let session =
            (!extra.is_empty()).then(|| Pop3::login_when_free(s.pop3, USERS[1].0, USERS[1].1));
        let t = Instant::now();
        let out = ok(backup(&s.data(), &archive, extra), "nmail backup");
        if let Some(p) = session {
            p.quit();
        }
        println!(
            "{out}backup {extra:?}: {:.2} s, {} octets",
            t.elapsed().as_secs_f64(),
            std::fs::metadata(&archive).unwrap().len()
        );

        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let t = Instant::now();
        let out = ok(restore(&archive, &data, &["--verify"]), "nmail restore");
        println!("{out}restore: {:.2} s", t.elapsed().as_secs_f64());
        assert!(out.contains("index rebuilt"), "{out}");
        if !extra.is_empty() {
            assert!(out.contains("released 1 POP3 locks"), "{out}");
        }
        ok(
            resync_check(&data),
            "nmail-resync --check on the restored folder",
        );

        let mut r = Server::start_in(dir, &[]);
        let after = view(&r);
        assert_same(&before, &after, &format!("restored from backup {extra:?}"));
        r.stop();
        assert!(!r.log().contains("panicked"), "{}", r.log());
    }
    // Backing up changed nothing for the original.
    assert_same(&before, &view(&s), "original after the backups");
}

/// Writes a message into a maildir the way another delivery agent does:
/// into tmp/, then renamed into new/.
fn drop_in(md: &Path, name: &str, bytes: &[u8]) {
    let tmp = md.join("tmp").join(name);
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
}

/// Small deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Deliveries to bob over SMTP until told to stop, with a POP3 login now
/// and then, so that the server gives the new mail UIDs (appending to
/// nmail-uidlist) while backups read it. Returns the number sent.
fn deliver_loop(smtp: SocketAddr, pop3: SocketAddr, stop: Arc<AtomicBool>) -> usize {
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = format!(
            "Subject: live {sent}\r\n\r\nbody {}\r\n",
            "x".repeat(sent * 37 % 4000)
        );
        let r = smtp_send(
            smtp,
            "alice@example.org",
            &["bob@example.com"],
            body.as_bytes(),
        );
        assert!(r.starts_with("250"), "{r}");
        sent += 1;
        if sent % 10 == 0 {
            Pop3::login_when_free(pop3, USERS[0].0, USERS[0].1).quit();
        }
    }
    sent
}

/// Flag changes (renames) and deletions in bob's INBOX until told to stop,
/// recording each deleted key before the unlink. Returns the renames done.
fn flag_loop(md: PathBuf, stop: Arc<AtomicBool>, deleted: Arc<Mutex<HashSet<String>>>) -> usize {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut renames = 0;
    let flag_sets = ["S", "FS", "RS", "", "DFRS"];
    for round in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let names: Vec<String> = file_names(&md).into_iter().collect();
        for _ in 0..40 {
            let n = &names[rng.below(names.len())];
            let to = format!("cur/{}:2,{}", key(n), flag_sets[rng.below(flag_sets.len())]);
            if std::fs::rename(md.join(n), md.join(&to)).is_ok() {
                renames += 1;
            }
        }
        for _ in 0..3 {
            let n = &names[rng.below(names.len())];
            deleted.lock().unwrap().insert(key(n).to_string());
            // It may have been renamed just now: remove whatever name it has.
            for m in file_names(&md).iter().filter(|m| key(m) == key(n)) {
                let _ = std::fs::remove_file(md.join(m));
            }
        }
        // A delivery in progress, which no backup may keep.
        std::fs::write(md.join("tmp").join(format!("inprogress.{round}")), b"half").unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    renames
}

#[test]
fn backup_while_mail_arrives_changes_flags_and_is_deleted() {
    let s = Server::start(&[]);
    let md = s.maildir("bob@example.com");
    std::fs::create_dir_all(md.join("tmp")).unwrap();
    std::fs::create_dir_all(md.join("new")).unwrap();
    std::fs::create_dir_all(md.join("cur")).unwrap();
    let mut content: HashMap<String, Vec<u8>> = HashMap::new();
    for i in 0..3000 {
        let bytes = format!("Subject: old {i}\r\n\r\n{}\r\n", "y".repeat(i % 3000)).into_bytes();
        let name = format!("1700000000.M{i}P1Q{i}.other.example,S={}", bytes.len());
        drop_in(&md, &name, &bytes);
        content.insert(name, bytes);
    }
    std::fs::write(s.data().join("spool/tmp/0123ABCD"), b"half a message").unwrap();
    // Index them and give them UIDs.
    Pop3::login_when_free(s.pop3, USERS[0].0, USERS[0].1).quit();
    let before: HashSet<String> = file_names(&md).iter().map(|n| key(n).to_string()).collect();
    assert_eq!(before.len(), 3000);

    let stop = Arc::new(AtomicBool::new(false));
    let deleted = Arc::new(Mutex::new(HashSet::new()));
    let deliverer = {
        let (smtp, pop3, stop) = (s.smtp, s.pop3, stop.clone());
        std::thread::spawn(move || deliver_loop(smtp, pop3, stop))
    };
    let flagger = {
        let (md, stop, deleted) = (md.clone(), stop.clone(), deleted.clone());
        std::thread::spawn(move || flag_loop(md, stop, deleted))
    };
    std::thread::sleep(Duration::from_millis(300));
    let work = tempfile::tempdir().unwrap();
    let archives: Vec<PathBuf> = (0..3)
        .map(|i| {
            let a = work.path().join(format!("live{i}.tar.gz"));
            let extra: &[&str] = if i == 1 { &["--with-index"] } else { &[] };
            println!("{}", ok(backup(&s.data(), &a, extra), "nmail backup"));
            a
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let sent = deliverer.join().unwrap();
    let renames = flagger.join().unwrap();
    let deleted = deleted.lock().unwrap().clone();
    println!(
        "during the backups: {sent} delivered, {renames} renamed, {} deleted",
        deleted.len()
    );
    assert!(renames > 100, "the churn must overlap the backups");
    let final_list = std::fs::read_to_string(md.join("nmail-uidlist")).unwrap();
    let final_uids: HashMap<&str, &str> = final_list
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (u, k) = l.split_once(' ')?;
            Some((k, u))
        })
        .collect();

    for a in &archives {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = ok(restore(a, &data, &["--verify"]), "nmail restore");
        assert!(out.contains("index rebuilt"), "{out}");
        let rmd = maildir(&data, "bob@example.com");
        let names = file_names(&rmd);
        let mut keys = HashSet::new();
        for n in &names {
            assert!(keys.insert(key(n).to_string()), "{a:?}: {} twice", key(n));
            let bytes = std::fs::read(rmd.join(n)).unwrap();
            match content.get(key(n)) {
                Some(c) => assert!(&bytes == c, "{n}: content differs"),
                None => {
                    let size: usize = key(n).rsplit_once(",S=").unwrap().1.parse().unwrap();
                    assert_eq!(bytes.len(), size, "{n}: torn file");
                }
            }
        }
        let missing: Vec<_> = before
            .iter()
            .filter(|k| !deleted.contains(*k) && !keys.contains(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "{a:?}: {} messages lost, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        assert_eq!(
            std::fs::read_dir(rmd.join("tmp")).unwrap().count(),
            0,
            "tmp/ not empty"
        );
        assert_eq!(
            std::fs::read_dir(data.join("spool/tmp")).unwrap().count(),
            0
        );
        assert!(!rmd.join("nmail-uidlist.lock").exists());
        // UIDs are never given again nor changed: every key the archived list
        // knew has the UID the original gives it now. (Messages that had no
        // UID yet when their folder was archived get one from the restore's
        // rebuild; the original may number them differently later, which is
        // right: the two servers have parted.)
        let archived = std::process::Command::new("tar")
            .args(["-xzOf"])
            .arg(a)
            .arg("data/domains/example.com/users/bob/Maildir/nmail-uidlist")
            .output()
            .unwrap();
        assert!(archived.status.success(), "the archive holds bob's uidlist");
        let list = String::from_utf8(archived.stdout).unwrap();
        assert_eq!(
            list.lines().next().unwrap().split(' ').nth(2),
            final_list.lines().next().unwrap().split(' ').nth(2),
            "UIDVALIDITY"
        );
        for l in list.lines().skip(1) {
            let (u, k) = l.split_once(' ').unwrap();
            if let Some(&fu) = final_uids.get(k) {
                assert_eq!(u, fu, "UID of {k}");
            }
        }
        ok(
            resync_check(&data),
            "nmail-resync --check after the restore",
        );
        println!(
            "{}: {} messages, all {} old ones not deleted are there",
            a.display(),
            names.len(),
            before.len() - before.iter().filter(|k| deleted.contains(*k)).count()
        );
    }
}

/// Decompresses a whole .tar.gz.
fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8], path: &Path) {
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

/// A tar header with a name written raw, as a hostile archive would have it
/// (the tar crate itself refuses to write `..`).
fn raw_entry(name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn restore_refuses_occupied_targets_and_bad_archives() {
    let mut s = Server::start(&[]);
    for i in 0..3 {
        let r = smtp_send(
            s.smtp,
            "a@example.org",
            &["bob@example.com"],
            format!("Subject: {i}\r\n\r\nhello {i}\r\n").as_bytes(),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let good = w.join("good.tar.gz");
    ok(backup(&s.data(), &good, &[]), "nmail backup");
    // Never overwrites, never writes into the data folder.
    assert!(!backup(&s.data(), &good, &[]).status.success());
    assert!(
        !backup(&s.data(), &s.data().join("b.tar.gz"), &[])
            .status
            .success()
    );
    s.stop();

    // A target that holds anything is refused and left alone.
    let busy = w.join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep"), b"mine").unwrap();
    let o = restore(&good, &busy, &[]);
    assert!(
        !o.status.success() && text(&o).contains("not empty"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    assert_eq!(std::fs::read(busy.join("keep")).unwrap(), b"mine");

    let tar = gunzip(&good);
    let refused = |archive: &Path, expect: &str| {
        let target = w.join("target");
        let o = restore(archive, &target, &["--verify"]);
        let t = text(&o);
        assert!(!o.status.success(), "{archive:?} was restored:\n{t}");
        assert!(
            t.contains(expect),
            "{archive:?}: expected {expect:?} in:\n{t}"
        );
        assert!(
            !target.exists(),
            "{archive:?}: a failed restore left {target:?}"
        );
        assert!(
            !w.join("evil").exists(),
            "{archive:?}: wrote outside the target"
        );
    };

    // A changed octet of the compressed file.
    let mut bytes = std::fs::read(&good).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    let flipped = w.join("flipped.tar.gz");
    std::fs::write(&flipped, &bytes).unwrap();
    refused(&flipped, "nothing restored");

    // A changed octet inside a message, in an archive that is otherwise sound.
    let mut ar = tar::Archive::new(&tar[..]);
    let (pos, name) = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path_bytes().windows(5).any(|w| w == b"/new/"))
        .map(|e| {
            (
                e.raw_file_position() as usize,
                e.path().unwrap().display().to_string(),
            )
        })
        .unwrap();
    let mut changed = tar.clone();
    changed[pos + 10] ^= 0x01;
    let tampered = w.join("tampered.tar.gz");
    gzip(&changed, &tampered);
    refused(&tampered, "SHA-256");
    println!("tampered entry: {name}");

    // Hostile entries right after the real manifest.
    let manifest_len = {
        let mut ar = tar::Archive::new(&tar[..]);
        let first = ar.entries().unwrap().next().unwrap().unwrap();
        (first.raw_file_position() + first.size()).div_ceil(512) as usize * 512
    };
    let hostile: [(&str, Vec<u8>, &str); 5] = [
        (
            "dotdot",
            raw_entry(b"data/../evil", tar::EntryType::Regular, b"", b"x"),
            "unsafe path",
        ),
        (
            "dotdot-start",
            raw_entry(b"../evil", tar::EntryType::Regular, b"", b"x"),
            "unsafe path",
        ),
        (
            "absolute",
            raw_entry(
                w.join("evil").to_str().unwrap().as_bytes(),
                tar::EntryType::Regular,
                b"",
                b"x",
            ),
            "unsafe path",
        ),
        (
            "symlink",
            raw_entry(b"data/tls", tar::EntryType::Symlink, b"/etc", b""),
            "symbolic link",
        ),
        (
            "hardlink",
            raw_entry(b"data/x", tar::EntryType::Link, b"../../evil", b""),
            "hard link",
        ),
    ];
    for (label, entry, expect) in hostile {
        let mut t = tar[..manifest_len].to_vec();
        t.extend_from_slice(&entry);
        t.extend_from_slice(&tar[manifest_len..]);
        let a = w.join(format!("{label}.tar.gz"));
        gzip(&t, &a);
        refused(&a, expect);
    }

    // A file the manifest does not list, and a cut-short archive.
    let mut t = tar[..tar.len() - 1024].to_vec();
    t.extend_from_slice(&raw_entry(
        b"data/extra",
        tar::EntryType::Regular,
        b"",
        b"x",
    ));
    t.extend_from_slice(&[0; 1024]);
    let a = w.join("extra.tar.gz");
    gzip(&t, &a);
    refused(&a, "not in the manifest");
    let a = w.join("short.tar.gz");
    gzip(&tar[..manifest_len + 512], &a);
    refused(&a, "cut short");

    // A manifest from a newer nmail.
    let json = String::from_utf8(tar[512..manifest_len].to_vec()).unwrap();
    let json = json
        .trim_end_matches('\0')
        .replace("\"version\": 1,", "\"version\": 99,");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(json.len() as u64);
    h.set_mode(0o600);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, "nmail-backup.json", json.as_bytes())
        .unwrap();
    let mut t = b.into_inner().unwrap();
    t.truncate(t.len() - 1024);
    t.extend_from_slice(&tar[manifest_len..]);
    let a = w.join("newer.tar.gz");
    gzip(&t, &a);
    refused(&a, "newer nmail");

    // And the sound archive still restores.
    ok(
        restore(&good, &w.join("fine"), &["--verify"]),
        "nmail restore of the sound archive",
    );
}

#[test]
fn index_elsewhere_is_neither_copied_nor_touched() {
    let s = Server::start(&[]);
    let w = tempfile::tempdir().unwrap();
    let a = w.path().join("b.tar.gz");
    let mysql = "mysql://nmail:s3cret@db.example/nmail";
    let o = Command::new(nmail_bin())
        .args(["backup", "--with-index", "--out"])
        .arg(&a)
        .arg("--data")
        .arg(s.data())
        .env("NMAIL_INDEX_URL", mysql)
        .output()
        .unwrap();
    let t = ok(o, "nmail backup with a MySQL index url");
    assert!(t.contains("not included") && t.contains("mysqldump"), "{t}");
    assert!(!t.contains("s3cret"), "the password was printed: {t}");
    let data = w.path().join("data");
    let o = Command::new(nmail_bin())
        .args(["restore", "--from"])
        .arg(&a)
        .arg("--data")
        .arg(&data)
        .env("NMAIL_INDEX_URL", "sqlite:///nonexistent/live-index.sqlite")
        .output()
        .unwrap();
    let t = ok(o, "nmail restore with an index elsewhere");
    assert!(
        t.contains("index NOT rebuilt") && t.contains("nmail-resync --data"),
        "{t}"
    );
    assert!(!data.join("index.sqlite").exists());
}
