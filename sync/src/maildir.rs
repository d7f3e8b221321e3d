//! Maildir folders: unique names, the info part with its flags, and the
//! tmp → new delivery that makes a message durable.
//!
//! Follows <https://cr.yp.to/proto/maildir.html> and the Maildir++ and
//! Dovecot conventions that clients rely on:
//! - a file name is `<unique name>[<sep>2,<flags>]`; the unique name (the
//!   *key*) is everything before the first info separator and never changes
//!   for the life of the message, so POP3 UIDLs are derived from it;
//! - flags are ASCII letters after `2,`, written in ASCII order without
//!   repeats; upper-case letters are the standard flags (`D F P R S T`) and
//!   lower-case ones are keywords, both kept even when nmail does not know
//!   them;
//! - names beginning with `.` and everything in `tmp/` are never messages.
//!
//! We keep this layer ourselves rather than use the `maildir` crate because
//! that crate never fsyncs the folder after the rename into `new/`, so a crash
//! right after it answers could lose a message we already acknowledged, and
//! because it refuses `cur/` files without an info part.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fsutil::{create_dir_all_durable, fsync_dir};

/// The info separator of the maildir spec. File systems that forbid `:`
/// (FAT, NTFS shares) use `;` or `!` instead, chosen in `nmail.toml`.
pub const DEFAULT_INFO_SEPARATOR: char = ':';

/// When a unique name says its message arrived, for ordering: the leading
/// seconds and, in the `M<microseconds>` part most delivery agents write
/// (`1717290000.M392162P100.host`), the microseconds, as numbers (as text
/// `M392162` sorts before `M55955`). Names of another shape sort by what
/// they have, after the standard ones of the same second.
pub fn arrival_of(key: &str) -> (u64, u64) {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(key);
    let secs = key[..n].parse().unwrap_or(u64::MAX);
    let micros = key[n..]
        .strip_prefix(".M")
        .and_then(|r| r[..digits(r)].parse().ok())
        .unwrap_or(u64::MAX);
    (secs, micros)
}

/// Splits a file name into its key (unique name) and info part, at the
/// first info separator.
pub fn split_name(name: &str, sep: char) -> (&str, Option<&str>) {
    match name.split_once(sep) {
        Some((key, info)) => (key, Some(info)),
        None => (name, None),
    }
}

/// The flags of a message: ASCII letters, sorted, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags(String);

impl Flags {
    /// No flags: a new, unread message.
    pub fn empty() -> Self {
        Flags(String::new())
    }

    /// Reads the flags of an info part.
    ///
    /// Damaged names written by buggy tools (`:2,:2,S`, `:::2:2::2,S`, seen
    /// in the wild from mu and others) are read by taking the letters after
    /// the last `2,`. An info of another version (`1,...`) carries no flags.
    pub fn from_info(info: Option<&str>) -> Self {
        let Some(info) = info else {
            return Flags::empty();
        };
        match info.rfind("2,") {
            Some(i) => Flags::from_letters(&info[i + 2..]),
            None => Flags::empty(),
        }
    }

    /// Builds a flag set from letters in any order; other characters are
    /// dropped.
    pub fn from_letters(s: &str) -> Self {
        let mut v: Vec<u8> = s.bytes().filter(u8::is_ascii_alphabetic).collect();
        v.sort_unstable();
        v.dedup();
        Flags(String::from_utf8(v).unwrap_or_default())
    }

    /// The flags as maildir writes them, e.g. `RS`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the flag letter is set.
    pub fn contains(&self, flag: char) -> bool {
        self.0.contains(flag)
    }

    /// This set with `flag` added.
    pub fn with(&self, flag: char) -> Self {
        Flags::from_letters(&format!("{}{flag}", self.0))
    }

    /// This set with `flag` removed.
    pub fn without(&self, flag: char) -> Self {
        Flags(self.0.chars().filter(|&c| c != flag).collect())
    }
}

/// The two folders of a maildir that hold messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subdir {
    /// `new/`: delivered, not yet seen by any client.
    New,
    /// `cur/`: seen by a client; the name carries an info part.
    Cur,
}

impl Subdir {
    /// `"new"` or `"cur"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        }
    }

    /// Parses `"new"` or `"cur"`.
    pub fn parse(s: &str) -> Option<Subdir> {
        match s {
            "new" => Some(Subdir::New),
            "cur" => Some(Subdir::Cur),
            _ => None,
        }
    }
}

/// Makes unique names of the form
/// `<secs>.M<usec>P<pid>Q<seq>R<random>.<host>,S=<size>`.
///
/// Seconds, microseconds, process id and a per-process sequence number make
/// the name unique on one host (the spec's rule); the random part keeps it
/// unique across hosts that share a data folder under one host name and
/// across a pid reused after a restart within the same microsecond. `,S=` is
/// the Maildir++ size, which quota code reads without a stat.
#[derive(Debug)]
pub struct NameGenerator {
    host: String,
    pid: u32,
    seq: AtomicU64,
}

impl NameGenerator {
    /// A generator for this process on `host`.
    pub fn new(host: &str) -> Self {
        NameGenerator {
            host: sanitize_host(host),
            pid: std::process::id(),
            seq: AtomicU64::new(0),
        }
    }

    /// The next unique name, for a message of `size` octets.
    pub fn next(&self, size: u64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{}R{:08x}.{},S={}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            seq,
            rand::random::<u32>(),
            self.host,
            size
        )
    }
}

/// Escapes the characters a host name may not contribute to a unique name:
/// `/` and `:` as the spec says (`\057`, `\072`), and also `,` `;` `!` (which
/// would confuse the `,S=` field and the alternative info separators) and
/// anything that is not visible ASCII.
fn sanitize_host(host: &str) -> String {
    let mut out = String::new();
    for b in host.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'/' | b':' | b',' | b';' | b'!' | b'\\') {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    if out.is_empty() {
        out.push_str("localhost");
    }
    out
}

/// Where the bytes of a message being delivered come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// The whole content of a file (a spooled message body).
    File(&'a Path),
}

/// A message that was delivered into `new/`.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Its file name in `new/` (also its key: new files carry no info).
    pub name: String,
    /// Its size in octets.
    pub size: u64,
    /// Its modification time, seconds since the epoch.
    pub mtime: i64,
}

/// One message file found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `new/` or `cur/`.
    pub subdir: Subdir,
    /// The whole file name.
    pub name: String,
}

impl Entry {
    /// The key: the name up to the info separator.
    pub fn key(&self, sep: char) -> &str {
        split_name(&self.name, sep).0
    }

    /// The flags in the name's info part.
    pub fn flags(&self, sep: char) -> Flags {
        Flags::from_info(split_name(&self.name, sep).1)
    }
}

/// Opens a message file for reading without following a symbolic link
/// (O_NOFOLLOW), so a link swapped in after the listing is refused too,
/// and returns it with its metadata. Anything but a regular file is an
/// error.
pub fn open_message_file(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    // O_NONBLOCK: a FIFO put where a message should be would otherwise
    // block the open until someone writes to it; it has no effect on the
    // reads of a regular file.
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok((f, m))
}

/// One maildir folder (an INBOX or a Maildir++ subfolder such as `.Sent`).
#[derive(Debug, Clone)]
pub struct Maildir {
    path: PathBuf,
    sep: char,
}

impl Maildir {
    /// The folder at `path`, whose names use `sep` as info separator.
    pub fn new(path: impl Into<PathBuf>, sep: char) -> Self {
        Maildir {
            path: path.into(),
            sep,
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The info separator.
    pub fn separator(&self) -> char {
        self.sep
    }

    /// Creates `tmp/`, `new/` and `cur/` if missing, durably.
    pub fn create(&self) -> io::Result<()> {
        for sub in ["tmp", "new", "cur"] {
            create_dir_all_durable(&self.path.join(sub))?;
        }
        Ok(())
    }

    /// The path of a message file.
    pub fn file_path(&self, subdir: Subdir, name: &str) -> PathBuf {
        self.path.join(subdir.as_str()).join(name)
    }

    /// Delivers a message made of `parts` (joined in order): written to
    /// `tmp/`, fsynced, renamed into `new/`, and `new/` fsynced, so that the
    /// message survives a crash from the moment this returns.
    ///
    /// On failure no file is left behind.
    pub fn deliver(&self, names: &NameGenerator, parts: &[Source<'_>]) -> io::Result<Delivered> {
        let mut size = 0u64;
        for p in parts {
            size += match p {
                Source::Bytes(b) => b.len() as u64,
                Source::File(f) => fs::metadata(f)?.len(),
            };
        }
        let name = names.next(size);
        let tmp = self.path.join("tmp").join(&name);
        let new = self.file_path(Subdir::New, &name);
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            for p in parts {
                match p {
                    Source::Bytes(b) => f.write_all(b)?,
                    Source::File(path) => {
                        io::copy(&mut File::open(path)?, &mut f)?;
                    }
                }
            }
            f.sync_data()?;
            let mtime = f.metadata()?.mtime();
            drop(f);
            fs::rename(&tmp, &new)?;
            fsync_dir(&self.path.join("new"))?;
            Ok(mtime)
        })();
        match result {
            Ok(mtime) => Ok(Delivered { name, size, mtime }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Lists the message files of `new/` and `cur/`, without a stat each.
    ///
    /// Dot files are skipped; names that are not UTF-8 or hold control
    /// characters, and entries that are not regular files, are returned in
    /// the second list so callers can report them. A missing subfolder counts as
    /// empty.
    pub fn list(&self) -> io::Result<(Vec<Entry>, Vec<PathBuf>)> {
        let mut entries = Vec::new();
        let mut odd = Vec::new();
        for subdir in [Subdir::New, Subdir::Cur] {
            let dir = self.path.join(subdir.as_str());
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for de in rd {
                let de = de?;
                // Only regular files are messages: not folders, FIFOs (opening
                // one would block), sockets, devices, nor symbolic links, which
                // could make POP3 serve any file the server can read. d_type
                // makes this free on the common file systems.
                match de.file_type() {
                    Ok(t) if t.is_dir() => continue,
                    Ok(t) if !t.is_file() => {
                        odd.push(de.path());
                        continue;
                    }
                    _ => {}
                }
                match de.file_name().into_string() {
                    Ok(name) if name.starts_with('.') => {}
                    // A line end or other control character in a name would
                    // break every line-based format that records keys.
                    Ok(name) if name.chars().any(char::is_control) => odd.push(de.path()),
                    Ok(name) => entries.push(Entry { subdir, name }),
                    Err(_) => odd.push(de.path()),
                }
            }
        }
        Ok((entries, odd))
    }

    /// Gives a message a new set of flags: renames it into `cur/` with a
    /// single `2,` info part, keeping the key. Returns the new name.
    ///
    /// rename(2) is atomic, so at no moment do two names exist for the key.
    pub fn set_flags(&self, entry: &Entry, flags: &Flags) -> io::Result<String> {
        let key = entry.key(self.sep);
        let name = format!("{key}{}2,{}", self.sep, flags.as_str());
        if entry.subdir == Subdir::Cur && entry.name == name {
            return Ok(name);
        }
        fs::rename(
            self.file_path(entry.subdir, &entry.name),
            self.file_path(Subdir::Cur, &name),
        )?;
        fsync_dir(&self.path.join("cur"))?;
        if entry.subdir == Subdir::New {
            fsync_dir(&self.path.join("new"))?;
        }
        Ok(name)
    }

    /// Unlinks a message file. A file already gone counts as removed.
    pub fn remove(&self, entry: &Entry) -> io::Result<()> {
        match fs::remove_file(self.file_path(entry.subdir, &entry.name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Makes the removals of [`Maildir::remove`] durable.
    pub fn sync(&self) -> io::Result<()> {
        fsync_dir(&self.path.join("new"))?;
        fsync_dir(&self.path.join("cur"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_order_reads_numbers() {
        let mut keys = vec![
            "1717290001.M1P1.host",
            "1717290000.M392162P100.host",
            "1717290000.M55955P100.host",
            "1717290000.courier_x.host",
            "1717290000.M55955P99.host",
        ];
        keys.sort_by_key(|k| (arrival_of(k), *k));
        assert_eq!(
            keys,
            [
                "1717290000.M55955P100.host",
                "1717290000.M55955P99.host",
                "1717290000.M392162P100.host",
                "1717290000.courier_x.host",
                "1717290001.M1P1.host",
            ]
        );
        assert_eq!(arrival_of("junk"), (u64::MAX, u64::MAX));
    }

    /// The table of case c21: name → key, flags, and the name after adding R.
    #[test]
    fn c21_names_and_flags() {
        let table = [
            (
                "1717290000.M1P100Q1.mx.example.com:2,S",
                "1717290000.M1P100Q1.mx.example.com",
                "S",
                "RS",
            ),
            (
                "1717290000.M2P100Q2.mx.example.com:2,TS",
                "1717290000.M2P100Q2.mx.example.com",
                "ST",
                "RST",
            ),
            (
                "1717290000.M3P100Q3.mx.example.com:2,:2,S",
                "1717290000.M3P100Q3.mx.example.com",
                "S",
                "RS",
            ),
            (
                "1717290000.M4P100Q4.mx.example.com:::2:2::2,S",
                "1717290000.M4P100Q4.mx.example.com",
                "S",
                "RS",
            ),
            (
                "1717290000.M5P100Q5.mx.example.com:2,",
                "1717290000.M5P100Q5.mx.example.com",
                "",
                "R",
            ),
            (
                "1717290000.M6P100Q6.mx.example.com:2,SS",
                "1717290000.M6P100Q6.mx.example.com",
                "S",
                "RS",
            ),
            (
                "1717290000.M7P100Q7.mx.example.com:2,Sab",
                "1717290000.M7P100Q7.mx.example.com",
                "Sab",
                "RSab",
            ),
            (
                "1717290000.M8P100Q8.mx.example.com:2,SZ",
                "1717290000.M8P100Q8.mx.example.com",
                "SZ",
                "RSZ",
            ),
            (
                "1717290000.M9P100Q9.mx.example.com:1,experimental",
                "1717290000.M9P100Q9.mx.example.com",
                "",
                "R",
            ),
            (
                "1717290000.M10P100Q10.mx.example.com;2,S",
                "1717290000.M10P100Q10.mx.example.com;2,S",
                "",
                "R",
            ),
            (
                "1717290000.M12P100Q12.mx.example.com",
                "1717290000.M12P100Q12.mx.example.com",
                "",
                "R",
            ),
            (
                "1717290000.M14P100Q14.[gmail]*?.example.com:2,S",
                "1717290000.M14P100Q14.[gmail]*?.example.com",
                "S",
                "RS",
            ),
            (
                "1717290000.M15P100Q15.보고서 사본:2,S",
                "1717290000.M15P100Q15.보고서 사본",
                "S",
                "RS",
            ),
        ];
        for (name, key, flags, after) in table {
            let (k, info) = split_name(name, ':');
            assert_eq!(k, key, "{name}");
            let f = Flags::from_info(info);
            assert_eq!(f.as_str(), flags, "{name}");
            assert_eq!(f.with('R').as_str(), after, "{name}");
        }
        // With ';' configured, M10 and the '!' form of M11 parse as intended.
        let (k, info) = split_name("1717290000.M10P100Q10.mx.example.com;2,S", ';');
        assert_eq!(k, "1717290000.M10P100Q10.mx.example.com");
        assert_eq!(Flags::from_info(info).with('R').as_str(), "RS");
        let (_, info) = split_name("1717290000.M11P100Q11.mx.example.com!2,FS", '!');
        assert_eq!(Flags::from_info(info).with('R').as_str(), "FRS");
    }

    #[test]
    fn host_is_sanitized() {
        assert_eq!(sanitize_host("a/b:c"), "a\\057b\\072c");
        let g = NameGenerator::new("mx.example.com");
        let a = g.next(10);
        let b = g.next(10);
        assert_ne!(a, b);
        assert!(a.ends_with(".mx.example.com,S=10"), "{a}");
        assert!(!a.contains(':'));
    }

    #[test]
    fn deliver_list_flag_remove() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path().join("Maildir"), ':');
        md.create().unwrap();
        let g = NameGenerator::new("h");
        let d = md
            .deliver(
                &g,
                &[
                    Source::Bytes(b"Subject: x\r\n\r\n"),
                    Source::Bytes(b"body\r\n"),
                ],
            )
            .unwrap();
        assert_eq!(d.size, 20);
        assert!(d.name.ends_with(",S=20"));
        assert!(
            fs::read_dir(dir.path().join("Maildir/tmp"))
                .unwrap()
                .next()
                .is_none()
        );
        let (list, _) = md.list().unwrap();
        assert_eq!(
            list,
            vec![Entry {
                subdir: Subdir::New,
                name: d.name.clone()
            }]
        );
        let name = md.set_flags(&list[0], &Flags::from_letters("S")).unwrap();
        assert_eq!(name, format!("{}:2,S", d.name));
        let (list, _) = md.list().unwrap();
        assert_eq!(list[0].subdir, Subdir::Cur);
        assert_eq!(list[0].key(':'), d.name);
        md.remove(&list[0]).unwrap();
        md.remove(&list[0]).unwrap();
        assert!(md.list().unwrap().0.is_empty());
    }
}
