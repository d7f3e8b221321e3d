//! `nmail-uidlist`: the IMAP UIDs and UIDVALIDITY of a maildir folder, kept
//! in a file inside the folder so that they survive a deleted index, a
//! backup restore and a move to another machine (RFC 3501 §2.3.1.1: a UID
//! must not change while UIDVALIDITY stays the same).
//!
//! ```text
//! nmail-uidlist 1 V1764761234 N4
//! 1 1764761234.M12P345Q0R0a1b2c3d.mx.example.com,S=1024
//! 2 1764761240.M99P345Q1R4e5f6a7b.mx.example.com,S=2048
//! 3 1717290000.M15P100Q15.보고서 사본
//! ```
//!
//! The first line holds the format version, UIDVALIDITY and a next-UID hint;
//! each further line is a UID, one space, and a message key (the file name
//! up to the info separator). New UIDs are appended and fsynced before any
//! reader is given them; a torn last line (a crash during the append) is
//! ignored, since nobody saw it. The next UID is always more than every UID
//! in the file, so a UID is never given twice. The file is rewritten
//! (atomically) only to drop the lines of removed messages.
//!
//! Writers take `nmail-uidlist.lock` (created with O_EXCL, which works on
//! NFS as well) so that several processes, or servers sharing the data
//! folder, never append conflicting UIDs.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::fsutil::write_file_atomic;

/// The list's file name inside a maildir folder.
pub const FILE: &str = "nmail-uidlist";
const LOCK: &str = "nmail-uidlist.lock";
const VERSION: &str = "1";

/// A lock older than this is taken to be left by a crashed process.
const STALE_LOCK: Duration = Duration::from_secs(30);

/// The parsed list of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidList {
    /// UIDVALIDITY.
    pub validity: u32,
    /// The next UID to give.
    pub next: u32,
    /// Key to UID.
    pub uids: HashMap<String, u32>,
    /// Lines in the file (live and removed), to decide on compaction.
    lines: usize,
}

impl UidList {
    fn fresh() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        UidList {
            validity: (now as u32).max(1),
            next: 1,
            uids: HashMap::new(),
            lines: 0,
        }
    }

    /// Parses the file's text. `None` when the header is not ours (then a
    /// fresh list, with a new UIDVALIDITY, replaces it).
    pub fn parse(text: &str) -> Option<UidList> {
        let mut lines = text.split_inclusive('\n');
        let head = lines.next()?;
        let mut words = head.trim_end().split(' ');
        if words.next()? != "nmail-uidlist" || words.next()? != VERSION {
            return None;
        }
        let mut list = UidList {
            validity: 0,
            next: 1,
            uids: HashMap::new(),
            lines: 0,
        };
        for w in words {
            if let Some(v) = w.strip_prefix('V') {
                list.validity = v.parse().ok()?;
            } else if let Some(n) = w.strip_prefix('N') {
                list.next = n.parse().ok()?;
            }
        }
        if list.validity == 0 {
            return None;
        }
        for line in lines {
            // A line without its LF is a torn append: nobody was given it.
            let Some(line) = line.strip_suffix('\n') else {
                break;
            };
            let Some((uid, key)) = line.split_once(' ') else {
                continue;
            };
            let Ok(uid) = uid.parse::<u32>() else {
                continue;
            };
            if uid == 0 || key.is_empty() {
                continue;
            }
            list.lines += 1;
            list.next = list.next.max(uid.saturating_add(1));
            list.uids.insert(key.to_string(), uid);
        }
        Some(list)
    }

    fn header(&self) -> String {
        format!(
            "nmail-uidlist {VERSION} V{} N{}\n",
            self.validity, self.next
        )
    }

    fn render(&self) -> String {
        let mut by_uid: Vec<(&u32, &String)> = self.uids.iter().map(|(k, u)| (u, k)).collect();
        by_uid.sort();
        let mut out = self.header();
        for (u, k) in by_uid {
            out.push_str(&format!("{u} {k}\n"));
        }
        out
    }
}

/// Holds the folder's list lock; released on drop.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn lock(dir: &Path) -> io::Result<Lock> {
    let path = dir.join(LOCK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{} {}", host(), std::process::id());
                return Ok(Lock(path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let old = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default() > STALE_LOCK)
                    .unwrap_or(false);
                let stale = old || holder_is_dead(&path);
                if stale {
                    let _ = fs::remove_file(&path);
                    continue;
                }
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{} is held", path.display()),
                    ));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// True when the lock names a process of this host that no longer runs
/// (killed while holding it): no need to wait for the lock to age.
fn holder_is_dead(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    let mut w = text.split_whitespace();
    match (w.next(), w.next().and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) if h == host() => !Path::new(&format!("/proc/{pid}")).exists(),
        _ => false,
    }
}

/// Reads a folder's list without locking; `None` when it has none.
pub fn read(dir: &Path) -> io::Result<Option<UidList>> {
    match fs::read_to_string(dir.join(FILE)) {
        Ok(t) => Ok(UidList::parse(&t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a folder's list file byte for byte while holding its lock, so that
/// no append or rewrite is half done: one whole version of the file, as a
/// backup must copy it. Returns the bytes with the file's metadata (taken
/// from the open file, so they describe the same version); `None` when the
/// folder has no list.
pub fn read_whole_locked(dir: &Path) -> io::Result<Option<(Vec<u8>, fs::Metadata)>> {
    use std::io::Read;
    let _guard = lock(dir)?;
    let mut f = match fs::File::open(dir.join(FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes)?;
    Ok(Some((bytes, meta)))
}

/// Gives every key in `keys` a UID: the one the list has, or a new one
/// appended to it (durably) when it has none. `live` is every key present
/// in the folder, used to drop dead lines when they pile up. Returns the
/// list as it now is.
pub fn assign(dir: &Path, keys: &[&str], live: &[&str]) -> io::Result<UidList> {
    let _guard = lock(dir)?;
    let path = dir.join(FILE);
    let existing = read(dir)?;
    let fresh = existing.is_none();
    let mut list = existing.unwrap_or_else(UidList::fresh);
    let mut added = String::new();
    for &k in keys {
        if k.contains(['\n', '\r']) || list.uids.contains_key(k) {
            continue;
        }
        let uid = list.next;
        list.next = list.next.saturating_add(1);
        list.uids.insert(k.to_string(), uid);
        list.lines += 1;
        added.push_str(&format!("{uid} {k}\n"));
    }
    let dead = list.lines.saturating_sub(live.len());
    if fresh || (dead > 1000 && dead * 2 > list.lines) {
        let live: std::collections::HashSet<&str> = live.iter().chain(keys).copied().collect();
        list.uids.retain(|k, _| live.contains(k.as_str()));
        list.lines = list.uids.len();
        write_file_atomic(&path, list.render().as_bytes(), 0o600)?;
    } else if !added.is_empty() {
        let mut f = OpenOptions::new().append(true).open(&path)?;
        f.write_all(added.as_bytes())?;
        f.sync_data()?;
    }
    Ok(list)
}

/// True for the names this module keeps in a maildir folder.
pub fn is_own_file(name: &str) -> bool {
    name == FILE || name == LOCK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigns_keeps_and_never_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let l = assign(d, &["a", "b"], &["a", "b"]).unwrap();
        assert_eq!((l.uids["a"], l.uids["b"], l.next), (1, 2, 3));
        let v = l.validity;
        // Same keys again: same UIDs; a new key gets the next one.
        let l = assign(d, &["b", "c", "a"], &["a", "b", "c"]).unwrap();
        assert_eq!(
            (l.uids["a"], l.uids["b"], l.uids["c"], l.validity),
            (1, 2, 3, v)
        );
        // "a" removed, "d" new: 4, never 1.
        let l = assign(d, &["d"], &["b", "c", "d"]).unwrap();
        assert_eq!(l.uids["d"], 4);
        // Re-read from disk gives the same.
        let r = read(d).unwrap().unwrap();
        assert_eq!(r.uids["d"], 4);
        assert_eq!(r.next, 5);
        assert!(!d.join(LOCK).exists());
    }

    #[test]
    fn whole_read_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_whole_locked(dir.path()).unwrap().is_none());
        assign(dir.path(), &["a", "b"], &["a", "b"]).unwrap();
        let (bytes, meta) = read_whole_locked(dir.path()).unwrap().unwrap();
        assert_eq!(bytes, fs::read(dir.path().join(FILE)).unwrap());
        assert_eq!(meta.len(), bytes.len() as u64);
        assert!(!dir.path().join(LOCK).exists());
    }

    #[test]
    fn torn_append_and_foreign_file() {
        let t = "nmail-uidlist 1 V77 N3\n1 a\n2 b\n3 c";
        let l = UidList::parse(t).unwrap();
        assert_eq!(l.uids.len(), 2);
        assert_eq!(l.next, 3);
        assert!(UidList::parse("3 V1 N1\n").is_none());
        assert!(UidList::parse("").is_none());
        let l = UidList::parse("nmail-uidlist 1 V9 N1\n5 key with space\n").unwrap();
        assert_eq!(l.uids["key with space"], 5);
        assert_eq!(l.next, 6);
    }

    #[test]
    fn compaction_drops_dead_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        assign(dir.path(), &refs, &refs).unwrap();
        let live = &refs[2900..];
        let l = assign(dir.path(), &["new"], live).unwrap();
        let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            text.lines().count(),
            1 + live.len() + 1,
            "rewritten with live keys only"
        );
        assert_eq!(l.uids["new"], 3001);
        assert_eq!(read(dir.path()).unwrap().unwrap().next, 3002);
    }
}
