//! `nmail backup` and `nmail restore`: the data folder into one archive file
//! while the server runs, and back into a new data folder.
//!
//! # The archive
//!
//! A gzip-compressed tar file, which GNU tar also reads (`tar -xzpf FILE`):
//!
//! ```text
//! nmail-backup.json     the manifest; always the first entry
//! data/...              the data folder's files and folders, by their
//!                       paths inside it (data/nmail.toml, data/domains/...)
//! data/index.sqlite     only with --with-index: an SQLite online-backup copy
//! ```
//!
//! The manifest (JSON) holds the format version, when and on which host the
//! backup was taken, counts, and every entry with its kind, mode, mtime, size
//! and SHA-256. Its hashes are known only once every file has been read, so
//! the files are first written as a gzip member into a temporary file beside
//! the archive, and the archive is then the manifest's own gzip member
//! followed by that one. gzip (RFC 1952 §2.2) defines a file of several
//! members as their concatenation, so tar sees one stream.
//!
//! Left out, because they are not state: `spool/tmp/` (transactions in
//! progress), the `tmp/` folder of every maildir (deliveries in progress),
//! `nmail-uidlist.lock`, the dot-named temporaries of atomic writes, and the
//! index unless asked for (it is derived, and rebuilt by the restore).
//!
//! # Why a backup of a live data folder is consistent
//!
//! Each kind of file changes in a way that lets a reader take one whole
//! version of it (see maildata-layout.md):
//!
//! - A message file is written once in `tmp/`, renamed into `new/`, and from
//!   then on only renamed (into `cur/`, or to other flags after `:2,`) or
//!   unlinked, never rewritten. Once opened, its descriptor reads the whole
//!   message, whatever happens to the name. A name that vanished between
//!   listing the folder and opening it was renamed or deleted: the folder is
//!   listed again and the message taken under the name its key (the part
//!   before the info separator, which never changes) has now; a key that is
//!   gone was deleted and is left out. A key is archived once, and new/ is
//!   listed before cur/ because messages only move that way. readdir(3) may
//!   miss an entry renamed while it runs, and the repeated listing catches
//!   those too.
//! - Account, domain and settings files are replaced by rename: opening one
//!   gives the old version or the new one.
//! - `nmail-uidlist` is appended in place, so it is read under its lock, and
//!   after the folder's messages: every archived message that had been given
//!   a UID has it in the copy, and UIDs given later are above the copy's next
//!   UID, so the restored folder never gives a UID twice.
//! - The index is never copied as a file (a live SQLite file and its WAL can
//!   be caught mid-checkpoint); `--with-index` takes it through SQLite's
//!   online backup API in one step, which reads one transaction's snapshot.
//!
//! The archive is thus each folder as it was when it was read: every message
//! that existed when the backup started and was not deleted before its
//! folder was read is in it exactly once; mail delivered meanwhile may or may
//! not be. The restore's resync then makes the index agree with those files.

/// Report lines go to standard output; a closed pipe (`nmail backup | head`)
/// must not abort a backup or restore half way, as std's println! would.
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use nmail_sync::resync::{self, Depth};
use nmail_sync::{DataDir, fsutil, uidlist};

use crate::config::{self, Config};
use crate::server;

/// Name of the manifest, the archive's first entry.
pub const MANIFEST: &str = "nmail-backup.json";
/// The folder inside the archive that holds the data folder.
const DATA: &str = "data";
/// The manifest's `format` value.
const FORMAT: &str = "nmail-backup";
/// The manifest version this nmail writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// How often a maildir folder is listed at most: the first listing, then
/// again for messages renamed between a listing and their open (or missed by
/// readdir during a rename), and mail that arrived meanwhile.
const LIST_ROUNDS: usize = 8;

/// A manifest larger than this is not one nmail wrote.
const MAX_MANIFEST: u64 = 1 << 30;

/// `nmail backup` options.
#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// The archive to write (gzip-compressed tar, mode 0600). It must not
    /// exist, and must be outside the data folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Include a copy of the SQLite index, taken with SQLite's online backup
    /// (without it the restore rebuilds the index from the files).
    #[arg(long)]
    pub with_index: bool,
}

/// `nmail restore` options; the new data folder is `--data`.
#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The archive written by `nmail backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Also read every restored file back and check it against the
    /// manifest, and check the rebuilt index against the files.
    #[arg(long)]
    pub verify: bool,
}

/// The archive's table of contents.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `nmail-backup`.
    pub format: String,
    /// Layout version ([`VERSION`]).
    pub version: u32,
    /// When the backup started (RFC 3339, UTC).
    pub created: String,
    /// The machine's host name.
    pub host: String,
    /// `server.hostname` of the data folder.
    pub server_hostname: String,
    /// The nmail that wrote it.
    pub nmail_version: String,
    /// The data folder it was taken from.
    pub source: String,
    /// Whether the index is included, and if not why.
    pub index: String,
    /// What is in it.
    pub counts: Counts,
    /// Every folder and file, in archive order.
    pub entries: Vec<Item>,
}

/// Totals of a backup.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Counts {
    /// `domain.toml` files under `domains/`.
    pub domains: u64,
    /// `user.toml` files under `domains/`.
    pub accounts: u64,
    /// Maildir folders (INBOXes and Maildir++ subfolders, also in `removed/`).
    pub folders: u64,
    /// Message files in their `new/` and `cur/`.
    pub messages: u64,
    /// Files of any kind.
    pub files: u64,
    /// Folders.
    pub dirs: u64,
    /// Octets in the files.
    pub bytes: u64,
}

impl Counts {
    /// One line for the operator: messages, folders, accounts, domains,
    /// files and their size.
    fn summary(&self) -> String {
        format!(
            "{} messages in {} folders, {} accounts, {} domains; {} files, {}",
            self.messages,
            self.folders,
            self.accounts,
            self.domains,
            self.files,
            size(self.bytes)
        )
    }
}

/// What a manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// One entry of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// Path inside the data folder, `/`-separated (shown lossily when the
    /// name is not UTF-8; `path_hex` then has the real bytes).
    pub path: String,
    /// The path's bytes in hex, for names that are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// File or folder.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Size in octets (files).
    #[serde(default)]
    pub size: u64,
    /// SHA-256 of the content, lower-case hex (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Item {
    fn new(rel: &Path, kind: Kind, mode: u32, mtime: i64) -> Item {
        let bytes = rel.as_os_str().as_bytes();
        let (path, path_hex) = match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(hex(bytes)),
            ),
        };
        Item {
            path,
            path_hex,
            kind,
            mode: mode & 0o7777,
            mtime,
            size: 0,
            sha256: None,
        }
    }

    /// The path's real bytes.
    fn path_bytes(&self) -> Result<Vec<u8>> {
        match &self.path_hex {
            Some(h) => unhex(h).ok_or_else(|| anyhow!("manifest: bad path_hex {h:?}")),
            None => Ok(self.path.as_bytes().to_vec()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where the configured index lives, which decides what backup and restore
/// may do with it.
enum IndexPlace {
    /// An SQLite file inside the data folder, by its path relative to it.
    Inside(PathBuf),
    /// Anything else (an SQLite file elsewhere, a MySQL server), described
    /// without the URL, which may hold a password.
    Elsewhere(String),
}

fn index_place(url: &str) -> IndexPlace {
    match url.strip_prefix("sqlite://") {
        Some(rest)
            if !rest.is_empty()
                && Path::new(rest)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))) =>
        {
            IndexPlace::Inside(PathBuf::from(rest))
        }
        Some(rest) => IndexPlace::Elsewhere(format!("the SQLite file {rest}")),
        None => {
            let scheme = url.split_once("://").map_or("unknown", |(s, _)| s);
            IndexPlace::Elsewhere(format!("a {scheme} database"))
        }
    }
}

/// The files SQLite keeps for the database at `db`.
fn sqlite_files(db: &Path) -> Vec<PathBuf> {
    let mut out = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        out.push(PathBuf::from(s));
    }
    out
}

// ---- reading helpers ------------------------------------------------------

/// Passes bytes through while computing their SHA-256.
struct Hashing<R> {
    inner: R,
    ctx: ring::digest::Context,
    n: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            n: 0,
        }
    }

    /// The hex digest and the number of octets read.
    fn finish(self) -> (String, u64) {
        (hex(self.ctx.finish().as_ref()), self.n)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.ctx.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

/// Reads exactly `left` octets: the size already written in the tar header.
/// A file that grows is cut there; one that shrinks is an error, because
/// the header cannot be taken back.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let k = self.inner.read(&mut buf[..max])?;
        if k == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read (rewritten in place)",
            ));
        }
        self.left -= k as u64;
        Ok(k)
    }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// A folder's entry names, sorted so that archives of equal trees are equal
/// and `domains/` comes before `removed/` (an account removed during the
/// backup is then found in one place or the other, not lost between them).
fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// True for the dot-named temporaries of [`fsutil::write_file_atomic`]
/// (`.<name>.tmp-<pid>-<random>`), which are incomplete by definition.
fn is_write_temporary(name: &[u8]) -> bool {
    name.starts_with(b".") && name.windows(5).any(|w| w == b".tmp-")
}

// ---- backup -----------------------------------------------------------------

/// Writes the archive: walks the data folder into the files member.
struct Packer {
    root: PathBuf,
    sep: u8,
    tar: tar::Builder<GzEncoder<BufWriter<File>>>,
    items: Vec<Item>,
    counts: Counts,
    /// Absolute paths never archived (the index files).
    skip: HashSet<PathBuf>,
    /// Folders already walked (device, inode), against symbolic-link loops.
    walked: HashSet<(u64, u64)>,
    /// Things worth telling the operator.
    notes: Vec<String>,
    /// Messages renamed between a listing and their open, found again.
    refound: u64,
}

impl Packer {
    fn archive_path(rel: &Path) -> PathBuf {
        Path::new(DATA).join(rel)
    }

    fn add_dir(&mut self, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        self.tar
            .append_data(&mut h, Self::archive_path(rel), io::empty())
            .with_context(|| format!("writing the archive entry of {}", rel.display()))?;
        self.items
            .push(Item::new(rel, Kind::Dir, meta.mode(), meta.mtime()));
        self.counts.dirs += 1;
        Ok(())
    }

    /// Adds `size` octets from `data` as the file `rel`, hashing them on the
    /// way: each file is read once.
    fn add_file(
        &mut self,
        rel: &Path,
        meta: &fs::Metadata,
        size: u64,
        data: impl Read,
    ) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        let mut reader = Hashing::new(Exact {
            inner: data,
            left: size,
        });
        self.tar
            .append_data(&mut h, Self::archive_path(rel), &mut reader)
            .with_context(|| format!("archiving {}", self.root.join(rel).display()))?;
        let (sha, _) = reader.finish();
        let mut item = Item::new(rel, Kind::File, meta.mode(), meta.mtime());
        item.size = size;
        item.sha256 = Some(sha);
        self.items.push(item);
        self.counts.files += 1;
        self.counts.bytes += size;
        self.count_account_file(rel);
        Ok(())
    }

    /// Opens and adds one file; `false` when it no longer exists.
    fn add_path(&mut self, rel: &Path) -> Result<bool> {
        let abs = self.root.join(rel);
        let f = match File::open(&abs) {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("opening {}", abs.display())),
        };
        // The descriptor's metadata: the version being read, even if the
        // name is replaced or renamed meanwhile.
        let meta = f
            .metadata()
            .with_context(|| format!("stat {}", abs.display()))?;
        if !meta.is_file() {
            self.notes
                .push(format!("{}: not a regular file, left out", abs.display()));
            return Ok(false);
        }
        self.add_file(rel, &meta, meta.len(), BufReader::new(f))?;
        Ok(true)
    }

    fn count_account_file(&mut self, rel: &Path) {
        let parts: Vec<&OsStr> = rel.iter().collect();
        match parts.as_slice() {
            [d, _, f] if *d == "domains" && *f == "domain.toml" => self.counts.domains += 1,
            [d, _, u, _, f] if *d == "domains" && *u == "users" && *f == "user.toml" => {
                self.counts.accounts += 1
            }
            _ => {}
        }
    }

    /// Walks the folder `rel` (relative to the data folder) into the archive.
    fn walk(&mut self, rel: &Path) -> Result<()> {
        let abs = self.root.join(rel);
        let names = match sorted_names(&abs) {
            Ok(n) => n,
            // Removed meanwhile (an account moved to removed/): nothing left.
            Err(e) if not_found(&e) => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("listing {}", abs.display())),
        };
        let is_maildir = ["new", "cur"].iter().all(|s| abs.join(s).is_dir());
        if is_maildir {
            self.pack_maildir(rel)?;
        }
        for name in names {
            let n = name.as_bytes();
            let is_list = n == uidlist::FILE.as_bytes();
            if is_maildir && (is_list || matches!(n, b"tmp" | b"new" | b"cur")) {
                continue; // done by pack_maildir
            }
            // Locks and half-written temporaries are not state.
            let is_lock = !is_list && uidlist::is_own_file(&name.to_string_lossy());
            if is_lock || is_write_temporary(n) {
                continue;
            }
            let child = rel.join(&name);
            let child_abs = self.root.join(&child);
            if self.skip.contains(&child_abs) {
                continue;
            }
            match self.metadata(&child, &child_abs)? {
                Some(m) if m.is_dir() => self.walk_dir(&child, &m)?,
                Some(m) if m.is_file() => {
                    self.add_path(&child)?;
                }
                Some(_) => {
                    let note = format!("{}: not a file or folder, left out", child.display());
                    self.notes.push(note);
                }
                None => {}
            }
        }
        Ok(())
    }

    fn walk_dir(&mut self, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        if !self.walked.insert((meta.dev(), meta.ino())) {
            let note = format!(
                "{}: a folder seen before (link loop), left out",
                rel.display()
            );
            self.notes.push(note);
            return Ok(());
        }
        self.add_dir(rel, meta)?;
        // Data of SMTP transactions in progress: nothing there was ever
        // acknowledged, and the server empties it at start.
        if rel == Path::new("spool/tmp") {
            return Ok(());
        }
        self.walk(rel)
    }

    /// The metadata to archive `abs` by, `None` when it is gone. Archives
    /// hold no links (restore refuses them), so a symbolic link is followed
    /// and stored as what it points to: a certificate linked from
    /// /etc/letsencrypt, or a Maildir on another disk.
    fn metadata(&mut self, rel: &Path, abs: &Path) -> Result<Option<fs::Metadata>> {
        let meta = match fs::symlink_metadata(abs) {
            Ok(m) => m,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("stat {}", abs.display())),
        };
        if !meta.file_type().is_symlink() {
            return Ok(Some(meta));
        }
        let to = fs::read_link(abs).unwrap_or_default();
        let note = match fs::metadata(abs) {
            Ok(_) => "stored what it points to",
            Err(_) => "which is broken, left out",
        };
        self.notes.push(format!(
            "{} is a symbolic link to {}: {note}",
            rel.display(),
            to.display()
        ));
        Ok(fs::metadata(abs).ok())
    }

    /// One maildir folder: its tmp/ new/ cur/ folders (tmp/ empty), each
    /// message once by its key, then its `nmail-uidlist` under the lock.
    fn pack_maildir(&mut self, rel: &Path) -> Result<()> {
        let abs = self.root.join(rel);
        self.counts.folders += 1;
        for sub in ["tmp", "new", "cur"] {
            if let Ok(m) = fs::metadata(abs.join(sub))
                && m.is_dir()
            {
                self.add_dir(&rel.join(sub), &m)?;
            }
        }
        let (_, others) = list_folder(&abs)?;
        self.pack_others(rel, others)?;
        let lost = self.pack_messages(rel, &abs)?;
        if lost > 0 {
            self.notes.push(format!(
                "{}: {lost} messages were renamed each time they were looked for, left out",
                rel.display()
            ));
        }
        let list = uidlist::read_whole_locked(&abs)
            .with_context(|| format!("reading {}/{}", abs.display(), uidlist::FILE))?;
        if let Some((bytes, meta)) = list {
            let rel_list = rel.join(uidlist::FILE);
            self.add_file(&rel_list, &meta, bytes.len() as u64, &bytes[..])?;
        }
        Ok(())
    }

    /// Dot files in new/ or cur/ are no messages (maildata-layout.md), and
    /// nmail ignores them; they are kept as they are. Folders there are not
    /// maildir and are left out.
    fn pack_others(&mut self, rel: &Path, others: Vec<(&str, OsString, bool)>) -> Result<()> {
        for (sub, name, is_dir) in others {
            let child = rel.join(sub).join(&name);
            if is_dir {
                let note = format!(
                    "{}: not a regular file (a folder, link or device) inside {sub}/, left out",
                    child.display()
                );
                self.notes.push(note);
            } else if !is_write_temporary(name.as_bytes()) {
                self.add_path(&child)?;
            }
        }
        Ok(())
    }

    /// Every message of the folder once, by key. The folder is listed again
    /// until a listing shows no key that is not yet archived: a message
    /// renamed between a listing and its open, or missed by readdir while it
    /// was renamed, is then found under its new name; a deleted one is not
    /// listed again. Mail delivered meanwhile is taken too, up to
    /// [`LIST_ROUNDS`] listings. Returns how many keys are still there but
    /// could not be opened in the last round.
    fn pack_messages(&mut self, rel: &Path, abs: &Path) -> Result<usize> {
        let mut done = HashSet::new();
        let mut failed = HashSet::new();
        for _ in 0..LIST_ROUNDS {
            let pending = self.pending(abs, &done)?;
            if pending.is_empty() {
                return Ok(0);
            }
            let missed_before = std::mem::take(&mut failed);
            for (key, names) in pending {
                if self.pack_key(rel, names)? {
                    if missed_before.contains(&key) {
                        self.refound += 1;
                    }
                    done.insert(key);
                } else {
                    failed.insert(key);
                }
            }
        }
        let still = self.pending(abs, &done)?;
        Ok(still.keys().filter(|k| failed.contains(*k)).count())
    }

    /// The folder's messages whose keys are not in `done`, by key.
    fn pending(
        &self,
        abs: &Path,
        done: &HashSet<Vec<u8>>,
    ) -> Result<BTreeMap<Vec<u8>, Vec<(&'static str, OsString)>>> {
        let mut pending: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (sub, name) in list_folder(abs)?.0 {
            let key = key_of(name.as_bytes(), self.sep);
            if !done.contains(key) {
                pending.entry(key.to_vec()).or_default().push((sub, name));
            }
        }
        Ok(pending)
    }

    /// Archives the names one listing showed for a key; `false` when none
    /// of them exists any more. Several names for one key in one listing
    /// are a rename seen half-way (at most one still opens) or, rarely, a
    /// real duplicate, kept as it is.
    fn pack_key(&mut self, rel: &Path, names: Vec<(&str, OsString)>) -> Result<bool> {
        let mut stored = false;
        for (sub, name) in names {
            if self.add_path(&rel.join(sub).join(&name))? {
                self.counts.messages += 1;
                stored = true;
            }
        }
        Ok(stored)
    }
}

/// A message name's key: up to the first info separator.
fn key_of(name: &[u8], sep: u8) -> &[u8] {
    name.iter()
        .position(|&b| b == sep)
        .map_or(name, |i| &name[..i])
}

type Listing = (
    Vec<(&'static str, OsString)>,
    Vec<(&'static str, OsString, bool)>,
);

/// Lists `new/` and then `cur/` (the direction messages move in, so one
/// moved meanwhile is seen at least once): message names, and the rest
/// (dot names and folders).
fn list_folder(dir: &Path) -> Result<Listing> {
    let mut messages = Vec::new();
    let mut others = Vec::new();
    for sub in ["new", "cur"] {
        let rd = match fs::read_dir(dir.join(sub)) {
            Ok(rd) => rd,
            Err(e) if not_found(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}/{sub}", dir.display())),
        };
        for de in rd {
            let de = de.with_context(|| format!("listing {}/{sub}", dir.display()))?;
            let name = de.file_name();
            // Only regular files are messages (as for the index): a link
            // in new/ could point anywhere, /etc/shadow included.
            let is_dir = de.file_type().map(|t| !t.is_file()).unwrap_or(false);
            if is_dir || name.as_bytes().starts_with(b".") {
                others.push((sub, name, is_dir));
            } else {
                messages.push((sub, name));
            }
        }
    }
    Ok((messages, others))
}

/// Copies the SQLite index at `src` into `dst` through SQLite's online
/// backup API, in one step: a consistent snapshot even while the server
/// writes (in WAL mode the server's writes go on meanwhile).
fn snapshot_sqlite(src: &Path, dst: &Path) -> Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    use rusqlite::{Connection, OpenFlags};
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the index {}", src.display()))?;
    from.busy_timeout(Duration::from_secs(30))?;
    let mut to = Connection::open(dst).with_context(|| format!("creating {}", dst.display()))?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                // The server holds a lock this instant: try again shortly.
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                r => bail!("SQLite online backup of {} gave up: {r:?}", src.display()),
            }
        }
    }
    // One self-contained file, without a -wal beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    to.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// The tar header and content of the manifest entry, without the
/// end-of-archive blocks (the files member follows it).
fn manifest_entry(json: &[u8], mtime: u64) -> Result<Vec<u8>> {
    let mut h = tar::Header::new_gnu();
    h.set_path(MANIFEST)?;
    h.set_size(json.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(json);
    // Tar content is padded to whole 512-octet blocks.
    out.resize(out.len().div_ceil(512) * 512, 0);
    Ok(out)
}

/// Writes the archive at `part`: the manifest entry as a gzip member of its
/// own, then the files member from `files` as it is. Returns its size.
fn write_archive(manifest: &[u8], files: &Path, part: &Path) -> Result<u64> {
    let mut gz = GzEncoder::new(
        BufWriter::new(create_private(part)?),
        Compression::default(),
    );
    gz.write_all(manifest)?;
    let mut out = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
    io::copy(&mut File::open(files)?, &mut out).context("writing the archive")?;
    out.sync_all()?;
    Ok(out.metadata()?.len())
}

/// Temporary files beside the archive, removed however the backup ends.
struct Temporaries(Vec<PathBuf>);

impl Drop for Temporaries {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

fn create_private(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// What `nmail backup` did.
struct BackupDone {
    counts: Counts,
    index: String,
    notes: Vec<String>,
    archive_size: u64,
    refound: u64,
}

/// `nmail backup --data DIR --out FILE [--with-index]`.
pub async fn backup(data: &Path, args: &BackupArgs) -> Result<()> {
    let started = Instant::now();
    if !server::is_initialised(data) {
        bail!(
            "{} is not a data folder (it has no {})",
            data.display(),
            nmail_sync::layout::CONFIG_FILE
        );
    }
    let cfg = Config::load(data)?;
    let root = data
        .canonicalize()
        .with_context(|| format!("opening {}", data.display()))?;
    let out = absolute_new_file(&args.out)?;
    if out.starts_with(&root) {
        bail!(
            "write the archive outside the data folder, not to {}",
            out.display()
        );
    }
    let job = BackupJob {
        root: root.clone(),
        out: out.clone(),
        sep: cfg.info_separator() as u8,
        with_index: args.with_index,
        place: index_place(&cfg.index.url),
        server_hostname: cfg.server.hostname.clone(),
    };
    let done = tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| anyhow!("backup task: {e}"))??;
    for n in &done.notes {
        println!("note: {n}");
    }
    let c = &done.counts;
    println!(
        "nmail: backup of {} written to {}",
        root.display(),
        out.display()
    );
    println!("  {}", c.summary());
    println!(
        "  archive {}, {:.1} s; index {}",
        size(done.archive_size),
        started.elapsed().as_secs_f64(),
        done.index
    );
    if done.refound > 0 {
        println!(
            "  {} messages were renamed (flags changed) while being read, and taken under their new names",
            done.refound
        );
    }
    Ok(())
}

/// `path` made absolute (its folder resolved), refusing one that exists.
fn absolute_new_file(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--out {} names no file", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = parent
        .canonicalize()
        .with_context(|| format!("folder {}", parent.display()))?;
    let out = dir.join(name);
    if fs::symlink_metadata(&out).is_ok() {
        bail!(
            "{} exists; nmail backup never overwrites a file",
            out.display()
        );
    }
    Ok(out)
}

/// What the walk packed.
struct Packed {
    items: Vec<Item>,
    counts: Counts,
    notes: Vec<String>,
    refound: u64,
    index: String,
}

struct BackupJob {
    root: PathBuf,
    out: PathBuf,
    sep: u8,
    with_index: bool,
    place: IndexPlace,
    server_hostname: String,
}

impl BackupJob {
    fn run(self) -> Result<BackupDone> {
        let created = time::OffsetDateTime::now_utc();
        let name = self
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.out.parent().unwrap_or(Path::new("/")).to_path_buf();
        let pid = std::process::id();
        let files_tmp = dir.join(format!(".{name}.files-{pid}"));
        let index_tmp = dir.join(format!(".{name}.index-{pid}"));
        let part = dir.join(format!(".{name}.part-{pid}"));
        let _cleanup = Temporaries(vec![files_tmp.clone(), index_tmp.clone(), part.clone()]);

        let p = self.pack(&files_tmp, &index_tmp)?;
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created: created
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            host: config::default_hostname(),
            server_hostname: self.server_hostname.clone(),
            nmail_version: env!("CARGO_PKG_VERSION").into(),
            source: self.root.display().to_string(),
            index: p.index.clone(),
            counts: p.counts.clone(),
            entries: p.items,
        };
        let json = serde_json::to_vec_pretty(&manifest)?;
        let mtime = created.unix_timestamp().max(0) as u64;
        let archive_size = write_archive(&manifest_entry(&json, mtime)?, &files_tmp, &part)?;
        if fs::symlink_metadata(&self.out).is_ok() {
            bail!(
                "{} appeared while the backup ran; not overwritten",
                self.out.display()
            );
        }
        fs::rename(&part, &self.out).with_context(|| format!("creating {}", self.out.display()))?;
        fsutil::fsync_dir(&dir)?;
        Ok(BackupDone {
            counts: p.counts,
            index: p.index,
            notes: p.notes,
            archive_size,
            refound: p.refound,
        })
    }

    /// Walks the data folder (and adds the index, if asked) into the files
    /// member at `spool`; returns what it packed and what became of the
    /// index.
    fn pack(&self, spool: &Path, index_tmp: &Path) -> Result<Packed> {
        let gz = GzEncoder::new(
            BufWriter::with_capacity(1 << 20, create_private(spool)?),
            Compression::default(),
        );
        let mut p = Packer {
            root: self.root.clone(),
            sep: self.sep,
            tar: tar::Builder::new(gz),
            items: Vec::new(),
            counts: Counts::default(),
            skip: HashSet::new(),
            walked: HashSet::new(),
            notes: Vec::new(),
            refound: 0,
        };
        // The configured index, and the default one even when another is
        // configured: either is derived, and a raw copy of a live SQLite
        // file can be torn.
        p.skip.extend(sqlite_files(
            &DataDir::new(&self.root).default_sqlite_index(),
        ));
        if let IndexPlace::Inside(rel) = &self.place {
            p.skip.extend(sqlite_files(&self.root.join(rel)));
        }
        let root_meta = fs::metadata(&self.root)?;
        p.walked.insert((root_meta.dev(), root_meta.ino()));
        p.walk(Path::new(""))?;
        let index = self.add_index(&mut p, index_tmp)?;
        let gz = p.tar.into_inner().context("finishing the archive")?;
        let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(Packed {
            items: p.items,
            counts: p.counts,
            notes: p.notes,
            refound: p.refound,
            index,
        })
    }

    /// Adds the index when asked and possible; says what became of it.
    fn add_index(&self, p: &mut Packer, tmp: &Path) -> Result<String> {
        if !self.with_index {
            return Ok("left out (the restore rebuilds it from the files)".into());
        }
        let rel = match &self.place {
            IndexPlace::Inside(rel) => rel,
            IndexPlace::Elsewhere(what) => {
                let how = if what.starts_with("a mysql") {
                    "dump it with mysqldump if you want a copy"
                } else {
                    "copy it with sqlite3's .backup if you want one"
                };
                return Ok(format!(
                    "not included: it is {what}, outside the data folder ({how}; nmail-resync rebuilds it anyway)"
                ));
            }
        };
        let src = self.root.join(rel);
        if !src.exists() {
            return Ok(format!("not included: {} does not exist", src.display()));
        }
        snapshot_sqlite(&src, tmp)?;
        let f = File::open(tmp)?;
        let meta = f.metadata()?;
        p.add_file(rel, &meta, meta.len(), BufReader::new(f))?;
        Ok(format!(
            "included as {} (an SQLite online backup)",
            rel.display()
        ))
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 10 << 20 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.2} MB", bytes as f64 / 1e6)
    }
}

// ---- restore ----------------------------------------------------------------

/// `nmail restore --from FILE --data NEWDIR [--verify]`.
pub async fn restore(data: &Path, args: &RestoreArgs) -> Result<()> {
    let started = Instant::now();
    let data = &std::path::absolute(data).with_context(|| format!("{}", data.display()))?;
    let created_root = prepare_target(data)?;
    let from = args.from.clone();
    let root = data.to_path_buf();
    let unpacked = tokio::task::spawn_blocking(move || unpack(&from, &root))
        .await
        .map_err(|e| anyhow!("restore task: {e}"));
    let manifest = match unpacked.and_then(|r| r) {
        Ok(m) => m,
        Err(e) => {
            clean_target(data, created_root);
            return Err(e.context(format!(
                "nothing restored ({} {})",
                data.display(),
                if created_root {
                    "removed again"
                } else {
                    "left empty"
                }
            )));
        }
    };
    print_restored(&manifest, &args.from, data, started);
    println!("  every file matched its SHA-256 in the manifest");
    if args.verify {
        let root = data.to_path_buf();
        let m = manifest;
        let n = tokio::task::spawn_blocking(move || verify_files(&root, &m))
            .await
            .map_err(|e| anyhow!("verify task: {e}"))??;
        println!("  verified: {n} files read back from disk match the manifest");
    }
    let rebuilt = rebuild_index(data, args.verify).await?;
    if fs::metadata(data).map(|m| m.uid() == 0).unwrap_or(false) {
        println!(
            "  the files belong to root; if the server runs as another user: chown -R USER {}",
            data.display()
        );
    }
    if rebuilt {
        println!("  ready: nmail serve --data {}", data.display());
    }
    Ok(())
}

fn print_restored(m: &Manifest, from: &Path, data: &Path, started: Instant) {
    let c = &m.counts;
    println!(
        "nmail: restored {} into {} in {:.1} s",
        from.display(),
        data.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  backup of {} ({}) taken {}: {}",
        m.source,
        m.host,
        m.created,
        c.summary()
    );
}

/// Refuses a target that exists and is not an empty folder; creates it
/// otherwise. Returns whether it was created.
fn prepare_target(data: &Path) -> Result<bool> {
    match fs::symlink_metadata(data) {
        Ok(m) if m.is_dir() => {
            let mut rd =
                fs::read_dir(data).with_context(|| format!("listing {}", data.display()))?;
            if rd.next().is_some() {
                bail!(
                    "{} exists and is not empty; restore only into a new or empty folder",
                    data.display()
                );
            }
            Ok(false)
        }
        Ok(_) => bail!("{} exists and is not a folder", data.display()),
        Err(e) if not_found(&e) => {
            fsutil::create_dir_all_durable(data)
                .with_context(|| format!("creating {}", data.display()))?;
            Ok(true)
        }
        Err(e) => Err(e).with_context(|| format!("stat {}", data.display())),
    }
}

/// Undoes a failed restore: the target was new or empty when it started.
fn clean_target(data: &Path, created: bool) {
    if created {
        let _ = fs::remove_dir_all(data);
        return;
    }
    if let Ok(rd) = fs::read_dir(data) {
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                _ => {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }
}

/// The part of an archive path inside `data/`, refusing every path that
/// could reach outside the target: absolute ones, and any `..` component
/// (or a leading `.`). `None` for the `data/` folder itself.
fn safe_rel(raw: &[u8]) -> Result<Option<PathBuf>> {
    let shown = String::from_utf8_lossy(raw);
    let path = Path::new(OsStr::from_bytes(raw));
    let mut parts = path.components();
    let ok = !raw.is_empty()
        && !raw.contains(&0)
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        bail!("unsafe path in the archive: {shown:?} (absolute, or with ..); refusing the archive");
    }
    if parts.next() != Some(Component::Normal(OsStr::new(DATA))) {
        bail!("archive entry {shown:?} is outside {DATA}/; not an nmail backup");
    }
    let rest: PathBuf = parts.collect();
    Ok((!rest.as_os_str().is_empty()).then_some(rest))
}

/// Unpacks the archive into the (empty) folder `root`, checking every entry
/// against the manifest as it goes; returns the manifest.
fn unpack(from: &Path, root: &Path) -> Result<Manifest> {
    let f = File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let mut ar = tar::Archive::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, f)));
    let mut entries = ar.entries().context("reading the archive")?;
    let manifest = read_manifest(&mut entries, from)?;
    let mut u = Unpacker::new(root, &manifest)?;
    for entry in &mut entries {
        let mut entry = entry.context("reading the archive (damaged or cut short?)")?;
        u.entry(&mut entry)?;
    }
    u.check_complete()?;
    // Read to the end, so that gzip checks the CRC-32 of every member
    // (RFC 1952 §2.3.1) even where tar stopped at its end-of-archive blocks.
    io::copy(&mut ar.into_inner(), &mut io::sink()).context("reading the archive (damaged?)")?;
    u.finish()?;
    Ok(manifest)
}

/// One restore in progress: what the manifest promises, what has come.
struct Unpacker<'a> {
    root: &'a Path,
    manifest: &'a Manifest,
    /// Path bytes to (manifest index, seen).
    wanted: HashMap<Vec<u8>, (usize, bool)>,
    /// Folders with their mode and mtime, applied at the end.
    dirs: Vec<(PathBuf, u32, i64)>,
    /// Parents already created.
    made: HashSet<PathBuf>,
    syncer: Syncer,
}

impl<'a> Unpacker<'a> {
    fn new(root: &'a Path, manifest: &'a Manifest) -> Result<Self> {
        let mut wanted = HashMap::with_capacity(manifest.entries.len());
        for (i, item) in manifest.entries.iter().enumerate() {
            if wanted.insert(item.path_bytes()?, (i, false)).is_some() {
                bail!("the manifest lists {} twice", item.path);
            }
        }
        Ok(Unpacker {
            root,
            manifest,
            wanted,
            dirs: Vec::new(),
            made: HashSet::new(),
            syncer: Syncer::new(8),
        })
    }

    /// Checks one archive entry against the manifest and writes it.
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let Some(rel) = safe_rel(&raw)? else {
            return Ok(());
        };
        let shown = rel.display().to_string();
        let kind = entry_kind(entry, &shown)?;
        let (i, seen) = self
            .wanted
            .get_mut(rel.as_os_str().as_bytes())
            .ok_or_else(|| {
                anyhow!("archive entry {shown} is not in the manifest: the archive was changed")
            })?;
        if std::mem::replace(seen, true) {
            bail!("archive entry {shown} appears twice");
        }
        let item = &self.manifest.entries[*i];
        let mode = entry.header().mode().context("entry mode")? & 0o7777;
        let mtime = entry.header().mtime().context("entry mtime")? as i64;
        if item.kind != kind || item.mode != mode || item.mtime != mtime {
            bail!("archive entry {shown}: kind, mode or mtime differ from the manifest");
        }
        let path = self.root.join(&rel);
        if kind == Kind::Dir {
            fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
            self.dirs.push((path, mode, mtime));
            return Ok(());
        }
        if let Some(parent) = path.parent()
            && self.made.insert(parent.to_path_buf())
        {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let f = write_entry(entry, &path, item, mode, mtime)
            .with_context(|| format!("restoring {shown}"))?;
        self.syncer.push(f, path)
    }

    /// Every entry of the manifest must have come.
    fn check_complete(&self) -> Result<()> {
        let missing: Vec<&str> = self
            .wanted
            .values()
            .filter(|(_, seen)| !seen)
            .map(|&(i, _)| self.manifest.entries[i].path.as_str())
            .collect();
        if let Some(first) = missing.first() {
            bail!(
                "the archive lacks {} entries of its manifest (first: {first}); \
                 it was cut short or changed",
                missing.len()
            );
        }
        Ok(())
    }

    /// Makes everything durable, and gives the folders their modes.
    fn finish(self) -> Result<()> {
        self.syncer.finish()?;
        finish_dirs(self.root, self.dirs)
    }
}

/// File or folder; every other kind of entry is refused, links above all:
/// nmail never writes one, and one pointing outside the target would let
/// later entries, or the server, write there.
fn entry_kind<R: Read>(entry: &tar::Entry<'_, R>, shown: &str) -> Result<Kind> {
    match entry.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Ok(Kind::File),
        tar::EntryType::Directory => Ok(Kind::Dir),
        t @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
            let what = if t == tar::EntryType::Symlink {
                "symbolic link"
            } else {
                "hard link"
            };
            let to = entry.link_name_bytes().unwrap_or_default();
            bail!(
                "archive entry {shown} is a {what} to {:?}: nmail backups hold no links, \
                 so the archive is refused",
                String::from_utf8_lossy(&to)
            )
        }
        t => bail!("archive entry {shown} is of tar type {t:?}, not a file or folder"),
    }
}

fn read_manifest<R: Read>(entries: &mut tar::Entries<'_, R>, from: &Path) -> Result<Manifest> {
    let not_ours = || {
        anyhow!(
            "{} is not an nmail backup (it does not begin with {MANIFEST})",
            from.display()
        )
    };
    let mut first = entries.next().ok_or_else(not_ours)?.map_err(|e| {
        anyhow!(
            "{} is not a readable gzip-compressed tar file: {e}",
            from.display()
        )
    })?;
    if first.path_bytes().as_ref() != MANIFEST.as_bytes() || first.size() > MAX_MANIFEST {
        return Err(not_ours());
    }
    let mut json = Vec::with_capacity(first.size() as usize);
    first
        .read_to_end(&mut json)
        .context("reading the manifest")?;
    #[derive(Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head =
        serde_json::from_slice(&json).map_err(|e| anyhow!("the manifest is not valid: {e}"))?;
    if head.format != FORMAT {
        return Err(not_ours());
    }
    if head.version > VERSION {
        bail!(
            "{} was written by a newer nmail (backup format {}); this nmail reads format {VERSION} and older",
            from.display(),
            head.version
        );
    }
    serde_json::from_slice(&json).map_err(|e| anyhow!("the manifest is not valid: {e}"))
}

/// Writes one file from the archive, checking its size and SHA-256 against
/// the manifest, with the archive's mode and mtime; returns it open for the
/// [`Syncer`].
fn write_entry(
    entry: &mut impl Read,
    path: &Path,
    item: &Item,
    mode: u32,
    mtime: i64,
) -> Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut reader = Hashing::new(entry);
    io::copy(&mut reader, &mut f)?;
    let (sha, n) = reader.finish();
    if n != item.size || item.sha256.as_deref() != Some(sha.as_str()) {
        bail!(
            "its content differs from the manifest's SHA-256: the archive is damaged or was changed"
        );
    }
    // Set after writing: creation is subject to the umask, this is not.
    f.set_permissions(Permissions::from_mode(mode))?;
    f.set_times(
        FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs(mtime.max(0) as u64)),
    )?;
    Ok(f)
}

/// fsyncs restored files on a few threads while the unpacking goes on:
/// the file system commits concurrent fsyncs together (one journal commit
/// for many files), where one after the other each waits for its own. The
/// queue is bounded, so only so many files are open at a time.
struct Syncer {
    tx: Option<mpsc::SyncSender<(File, PathBuf)>>,
    workers: Vec<std::thread::JoinHandle<Result<()>>>,
}

impl Syncer {
    fn new(threads: usize) -> Syncer {
        let (tx, rx) = mpsc::sync_channel::<(File, PathBuf)>(256);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || -> Result<()> {
                    loop {
                        let job = rx
                            .lock()
                            .map_err(|_| anyhow!("fsync queue poisoned"))?
                            .recv();
                        let Ok((f, path)) = job else { return Ok(()) };
                        f.sync_all()
                            .with_context(|| format!("fsync {}", path.display()))?;
                    }
                })
            })
            .collect();
        Syncer {
            tx: Some(tx),
            workers,
        }
    }

    fn push(&self, f: File, path: PathBuf) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| anyhow!("fsync queue closed"))?;
        tx.send((f, path))
            .map_err(|_| anyhow!("the fsync threads stopped"))
    }

    /// Waits until every queued file is durable.
    fn finish(mut self) -> Result<()> {
        drop(self.tx.take());
        for w in self.workers.drain(..) {
            w.join()
                .map_err(|_| anyhow!("an fsync thread panicked"))??;
        }
        Ok(())
    }
}

/// Gives the folders their modes and mtimes (last, since writing files into
/// them changes the mtime and a read-only mode would stop the writes), and
/// fsyncs each, so that every restored name is durable.
fn finish_dirs(root: &Path, mut dirs: Vec<(PathBuf, u32, i64)>) -> Result<()> {
    dirs.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
    for (path, mode, mtime) in &dirs {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        f.sync_all()?;
        f.set_times(
            FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs((*mtime).max(0) as u64)),
        )?;
        fs::set_permissions(path, Permissions::from_mode(*mode))?;
    }
    fsutil::fsync_dir(root)?;
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsutil::fsync_dir(parent)?;
    }
    Ok(())
}

/// Reads every restored file back from disk and compares it with the
/// manifest (content, size, mode, mtime). Returns the number of files.
fn verify_files(root: &Path, m: &Manifest) -> Result<u64> {
    let mut n = 0;
    for item in &m.entries {
        let path = root.join(OsStr::from_bytes(&item.path_bytes()?));
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("verify: {} is missing", item.path))?;
        let kind_ok = match item.kind {
            Kind::Dir => meta.is_dir(),
            Kind::File => meta.is_file(),
        };
        if !kind_ok
            || meta.mode() & 0o7777 != item.mode
            || (item.kind == Kind::File && meta.mtime() != item.mtime)
        {
            bail!(
                "verify: {} has another kind, mode or mtime than the manifest",
                item.path
            );
        }
        if item.kind == Kind::File {
            let mut r = Hashing::new(BufReader::new(File::open(&path)?));
            io::copy(&mut r, &mut io::sink())?;
            let (sha, size) = r.finish();
            if size != item.size || item.sha256.as_deref() != Some(sha.as_str()) {
                bail!("verify: {} on disk differs from the manifest", item.path);
            }
            n += 1;
        }
    }
    Ok(n)
}

/// Rebuilds the restored folder's index with the resync engine, when the
/// index is inside the folder. One elsewhere (an absolute SQLite path, a
/// MySQL server) may be the old server's, which must not be touched: then
/// the operator is told what to run, and `false` returned.
async fn rebuild_index(data: &Path, check: bool) -> Result<bool> {
    let cfg = Config::load(data)?;
    if let IndexPlace::Elsewhere(what) = index_place(&cfg.index.url) {
        println!(
            "  index NOT rebuilt: index.url names {what}, outside the restored folder, which may be \
             the old server's. Point index.url (nmail.toml or NMAIL_INDEX_URL) at this folder's \
             own index, e.g. sqlite://index.sqlite, then run: nmail-resync --data {}",
            data.display()
        );
        return Ok(false);
    }
    let dir = DataDir::new(data);
    let store = server::open_store(&dir, &cfg).await?;
    // An index from the archive may hold the POP3 locks of sessions that
    // were open on the old server; here they would only lock users out.
    let locks = store.index().locks().await?;
    for (name, owner, _) in &locks {
        store.index().unlock(name, owner).await?;
    }
    if !locks.is_empty() {
        println!(
            "  released {} POP3 locks of the old server's sessions",
            locks.len()
        );
    }
    let opts = resync::Options {
        depth: Depth::Full,
        ..Default::default()
    };
    let r = resync::resync(&store, &opts)
        .await
        .context("rebuilding the index")?;
    println!(
        "  index rebuilt: files seen {}, added {}, removed {}, changed {}, skipped {}, errors {}, {:.1} s",
        r.files_seen,
        r.added,
        r.removed,
        r.changed,
        r.skipped,
        r.errors.len(),
        r.elapsed.as_secs_f64()
    );
    for e in &r.errors {
        println!("  error: {e}");
    }
    if check {
        let opts = resync::Options {
            dry_run: true,
            ..opts
        };
        let r = resync::resync(&store, &opts).await?;
        if let Some(d) = r.differences.first() {
            bail!(
                "verify: the index still differs from the files after the rebuild ({} differences; first: {d})",
                r.differences.len()
            );
        }
        println!("  verified: the index agrees with the files");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_temporaries() {
        assert_eq!(key_of(b"1.M1P2Q3.h,S=5:2,FS", b':'), b"1.M1P2Q3.h,S=5");
        assert_eq!(key_of(b"1.M1P2Q3.h,S=5", b':'), b"1.M1P2Q3.h,S=5");
        assert_eq!(key_of(b"1.M1.h;2,S", b';'), b"1.M1.h");
        assert!(is_write_temporary(b".user.toml.tmp-12-0a0b0c0d"));
        assert!(!is_write_temporary(b".Sent"));
        assert!(!is_write_temporary(b"user.toml"));
    }

    #[test]
    fn archive_paths_are_checked() {
        assert_eq!(
            safe_rel(b"data/nmail.toml").unwrap(),
            Some(PathBuf::from("nmail.toml"))
        );
        assert_eq!(safe_rel(b"data/").unwrap(), None);
        assert_eq!(safe_rel(b"data/a/b/").unwrap(), Some(PathBuf::from("a/b")));
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"data/../x",
            b"data/a/../../x",
            b"",
            b"data/a\0b",
        ] {
            assert!(safe_rel(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(safe_rel(b"other/x").is_err());
        // Path::components drops inner "." and doubled "/", which is safe.
        assert_eq!(
            safe_rel(b"data/./a//b").unwrap(),
            Some(PathBuf::from("a/b"))
        );
    }

    #[test]
    fn index_places() {
        assert!(
            matches!(index_place("sqlite://index.sqlite"), IndexPlace::Inside(p) if p == Path::new("index.sqlite"))
        );
        assert!(matches!(
            index_place("sqlite:///var/lib/i.sqlite"),
            IndexPlace::Elsewhere(_)
        ));
        assert!(matches!(
            index_place("sqlite://../i.sqlite"),
            IndexPlace::Elsewhere(_)
        ));
        match index_place("mysql://u:secret@db/nmail") {
            IndexPlace::Elsewhere(w) => assert!(!w.contains("secret"), "{w}"),
            IndexPlace::Inside(_) => panic!(),
        }
    }

    #[test]
    fn hex_round_trip() {
        let b = [0u8, 0x7f, 0xff, b'a'];
        assert_eq!(unhex(&hex(&b)).unwrap(), b);
        assert!(unhex("abc").is_none());
    }

    #[test]
    fn manifest_entry_is_whole_blocks() {
        let e = manifest_entry(b"{}", 0).unwrap();
        assert_eq!(e.len(), 1024);
        let mut ar = tar::Archive::new(&e[..]);
        let mut first = ar.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.path_bytes().as_ref(), MANIFEST.as_bytes());
        let mut s = String::new();
        first.read_to_string(&mut s).unwrap();
        assert_eq!(s, "{}");
    }
}
