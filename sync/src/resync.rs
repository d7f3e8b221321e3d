//! Comparing the index with the files, and mending the index.
//!
//! The same engine serves three callers: readers that open a folder (names
//! only, a readdir), the `nmail-resync` tool (every folder, with a stat per
//! file), and its `--check` mode, which reports and writes nothing. It never
//! changes or deletes a mail file: the files are the truth, and only the
//! index is mended.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::address::{Address, DomainName};
use crate::index::{IndexError, MessageRecord, UserRecord};
use crate::maildir::{Entry, Maildir, NameGenerator, Subdir, split_name};
use crate::message::{Meta, ParseStatus, WireSizer, parse_meta};
use crate::store::{Folder, Store, StoreError, domain_record, uidl_for, user_record};

/// How closely a folder is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// File names only: finds added, removed and renamed files.
    Names,
    /// Also the size and mtime of every file: finds files changed in place.
    #[default]
    Full,
}

/// One way in which the index disagrees with the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A message file the index does not list.
    FileWithoutRow {
        /// Folder path (relative to the data folder).
        folder: String,
        /// The file, `new/NAME` or `cur/NAME`.
        file: String,
    },
    /// An index row whose file is gone.
    RowWithoutFile {
        /// Folder path.
        folder: String,
        /// The row's key.
        uniq: String,
    },
    /// The file was renamed (flags changed, or moved from new/ to cur/).
    Renamed {
        /// Folder path.
        folder: String,
        /// The name the index has.
        from: String,
        /// The name on disk.
        to: String,
    },
    /// The file's size or mtime is not what the index recorded.
    Changed {
        /// Folder path.
        folder: String,
        /// The file.
        file: String,
    },
    /// Several files carry the same key; the index lists only the first.
    DuplicateKey {
        /// Folder path.
        folder: String,
        /// The files, the indexed one first.
        files: Vec<String>,
    },
    /// A file name that is not UTF-8 and cannot be indexed.
    BadName {
        /// Its path.
        path: PathBuf,
    },
    /// A domain or account file the index lacks.
    AccountWithoutRow {
        /// The domain or address.
        name: String,
    },
    /// A domain or account row whose file is gone.
    RowWithoutAccount {
        /// The domain or address.
        name: String,
    },
    /// An account file that differs from its row (a password changed by hand).
    AccountChanged {
        /// The address.
        name: String,
    },
    /// A folder row whose folder is gone.
    FolderWithoutFiles {
        /// Folder path.
        folder: String,
    },
    /// A file the parser could not read: indexed as unparsable (still listed
    /// and delivered byte for byte), never deleted.
    Unparsable {
        /// Folder path.
        folder: String,
        /// The file.
        file: String,
    },
    /// A file left in tmp/ for more than 36 hours (an interrupted delivery).
    StaleTmp {
        /// Folder path.
        folder: String,
        /// The file in tmp/.
        file: String,
    },
}

impl Difference {
    /// True when the index disagrees with the files (what `--check` fails
    /// on); false for findings about the files themselves that leave the
    /// index right (unparsable files, stale tmp/ files, names that cannot
    /// be indexed).
    pub fn is_divergence(&self) -> bool {
        !matches!(
            self,
            Difference::Unparsable { .. }
                | Difference::StaleTmp { .. }
                | Difference::BadName { .. }
        )
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Difference::*;
        match self {
            FileWithoutRow { folder, file } => write!(f, "not indexed: {folder}/{file}"),
            RowWithoutFile { folder, uniq } => write!(f, "file gone: {folder} {uniq}"),
            Renamed { folder, from, to } => write!(f, "renamed: {folder}/{from} -> {to}"),
            Changed { folder, file } => write!(f, "changed: {folder}/{file}"),
            DuplicateKey { folder, files } => {
                write!(f, "duplicate key: {folder}: {}", files.join(", "))
            }
            BadName { path } => write!(f, "not a message file, skipped: {}", path.display()),
            AccountWithoutRow { name } => write!(f, "not indexed: account/domain {name}"),
            RowWithoutAccount { name } => write!(f, "file gone: account/domain {name}"),
            AccountChanged { name } => write!(f, "changed: account {name}"),
            FolderWithoutFiles { folder } => write!(f, "folder gone: {folder}"),
            Unparsable { folder, file } => {
                write!(f, "unparsable (indexed as such): {folder}/{file}")
            }
            StaleTmp { folder, file } => {
                write!(f, "stale file in tmp/ (over 36 h): {folder}/tmp/{file}")
            }
        }
    }
}

/// What one run found and did.
#[derive(Debug, Default)]
pub struct Report {
    /// Every difference found, in the order found.
    pub differences: Vec<Difference>,
    /// Message files looked at.
    pub files_seen: u64,
    /// Rows added.
    pub added: u64,
    /// Rows removed.
    pub removed: u64,
    /// Rows updated (renamed or changed files, account changes).
    pub changed: u64,
    /// Files skipped (bad names, duplicate keys).
    pub skipped: u64,
    /// Stale tmp/ files removed (with `clean_tmp`).
    pub removed_tmp: u64,
    /// Files that could not be read (they are indexed as unreadable).
    pub errors: Vec<String>,
    /// Folders or accounts whose comparison could not be completed; the
    /// index may still differ there.
    pub failed: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report {
    fn merge(&mut self, other: Report) {
        self.differences.extend(other.differences);
        self.files_seen += other.files_seen;
        self.added += other.added;
        self.removed += other.removed;
        self.changed += other.changed;
        self.skipped += other.skipped;
        self.removed_tmp += other.removed_tmp;
        self.errors.extend(other.errors);
        self.failed.extend(other.failed);
    }
}

/// Receives the progress of a run (the resync tool draws a bar with it).
pub trait Progress: Send + Sync {
    /// True when [`Progress::total`] is wanted: counting the files first
    /// costs a listing of every folder, skipped when nobody looks.
    fn wants_total(&self) -> bool {
        false
    }
    /// How many message files the run will look at, counted first.
    fn total(&self, _files: u64) {}
    /// `files` more have been compared.
    fn advance(&self, _files: u64) {}
}

struct NoProgress;
impl Progress for NoProgress {}

/// Which part of the data folder a run covers, and whether it writes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report only; change nothing.
    pub dry_run: bool,
    /// Only this domain.
    pub domain: Option<DomainName>,
    /// Only this account.
    pub user: Option<Address>,
    /// How closely folders are compared.
    pub depth: Depth,
    /// Remove files left in tmp/ for more than 36 hours.
    pub clean_tmp: bool,
}

/// Builds the index row of a message file by reading it.
pub fn record_for(
    md: &Maildir,
    entry: &Entry,
    internal_date: Option<i64>,
) -> (MessageRecord, Option<io::Error>) {
    let path = md.file_path(entry.subdir, &entry.name);
    let sep = md.separator();
    let uniq = entry.key(sep).to_string();
    let mut row = MessageRecord {
        uidl: uidl_for(&uniq),
        uid: 0,
        uniq,
        subdir: entry.subdir,
        file_name: entry.name.clone(),
        flags: entry.flags(sep).as_str().to_string(),
        size: 0,
        wire_size: 0,
        mtime: 0,
        internal_date: internal_date.unwrap_or(0),
        meta: Meta::unreadable(),
    };
    let result = (|| -> io::Result<()> {
        let (mut f, md) = crate::maildir::open_message_file(&path)?;
        row.size = md.len();
        row.mtime = md.mtime();
        if internal_date.is_none() {
            row.internal_date = md.mtime();
        }
        // One buffer per thread, reused file after file: a rebuild reads
        // every message, and an allocation each was a fair share of it.
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.clear();
            // Exactly the size fstat gave (maildir files do not change
            // once named): std's read_to_end would fstat and seek again
            // and read once more to see the end, two thirds more system
            // calls per message in a rebuild.
            buf.reserve(row.size as usize);
            (&mut f).take(row.size).read_to_end(&mut buf)?;
            let mut s = WireSizer::default();
            s.push(&buf);
            row.wire_size = s.finish();
            row.meta = parse_meta(&buf);
            // Do not keep a huge buffer alive after a huge message.
            if buf.capacity() > 4 << 20 {
                *buf = Vec::new();
            }
            Ok(())
        })
    })();
    match result {
        Ok(()) => (row, None),
        Err(e) => {
            row.wire_size = row.size;
            (row, Some(e))
        }
    }
}

fn report_label(store: &Store, folder: &Folder) -> String {
    store
        .data()
        .relative(folder.maildir.path())
        .to_string_lossy()
        .into_owned()
}

fn file_label(e: &Entry) -> String {
    format!("{}/{}", e.subdir.as_str(), e.name)
}

/// Compares one folder with its index rows and, unless `dry_run`, mends
/// the rows.
pub async fn sync_folder(
    store: &Store,
    folder: &Folder,
    depth: Depth,
    dry_run: bool,
) -> Result<Report, StoreError> {
    sync_folder_with(store, folder, depth, dry_run, false, None).await
}

async fn sync_folder_with(
    store: &Store,
    folder: &Folder,
    depth: Depth,
    dry_run: bool,
    clean_tmp: bool,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Report, StoreError> {
    let started = Instant::now();
    let rows = store.index().messages(folder.id).await?;
    let md = folder.maildir.clone();
    let label = store
        .data()
        .relative(md.path())
        .to_string_lossy()
        .into_owned();
    // Only the resync tool (a full pass) renames duplicate keys; readers
    // opening a folder never touch its files.
    let names = (depth == Depth::Full).then(|| store.names());
    let plan_progress = progress.clone();
    let plan = tokio::task::spawn_blocking(move || {
        let opts = FolderOptions {
            dry_run,
            clean_tmp,
            names: names.as_deref(),
            progress: plan_progress.as_deref(),
        };
        plan_folder(&md, &label, rows, depth, &opts)
    })
    .await
    .map_err(|e| StoreError::io("sync folder")(io::Error::other(e)))??;
    let planned = started.elapsed();
    if !dry_run {
        if !plan.remove.is_empty() {
            store
                .index()
                .delete_messages(folder.id, plan.remove)
                .await?;
        }
        // A full pass also gives every message its UID from the folder's
        // nmail-uidlist, in the same writes (readers do this lazily).
        let sep = folder.maildir.separator();
        let mut put = plan.put;
        let mut to_parse = plan.to_parse;
        let mut uid_fixes = Vec::new();
        let list = if depth == Depth::Full {
            let dir = folder.maildir.path().to_path_buf();
            let mut keys: Vec<String> = put
                .iter()
                .map(|r| r.uniq.clone())
                .chain(plan.kept.iter().map(|k| k.0.clone()))
                .chain(to_parse.iter().map(|(e, _)| e.key(sep).to_string()))
                .collect();
            // New UIDs go out in arrival order (see maildir::arrival_of).
            keys.sort_by_cached_key(|k| crate::maildir::arrival_of(k)); // stable: ties keep key order
            let list = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                crate::uidlist::assign(&dir, &refs, &refs)
            })
            .await
            .map_err(|e| StoreError::io("uidlist")(io::Error::other(e)))?
            .map_err(StoreError::io(format!(
                "{}/{}",
                folder.maildir.path().display(),
                crate::uidlist::FILE
            )))?;
            for r in &mut put {
                r.uid = list.uids.get(&r.uniq).copied().unwrap_or(0);
            }
            for (k, uid) in &plan.kept {
                if let Some(&u) = list.uids.get(k)
                    && u != *uid
                {
                    uid_fixes.push((k.clone(), u));
                }
            }
            Some(Arc::new(list))
        } else {
            None
        };
        if !put.is_empty() {
            store.index().put_messages(folder.id, put).await?;
        }
        // Parse and write in a pipeline: while one chunk is committed the
        // next is parsed, so a full rebuild costs about the larger of the
        // two, not their sum. Chunks also keep one commit from holding the
        // writer for long, so deliveries keep flowing.
        let mut report = plan.report;
        let mut pending: Option<tokio::task::JoinHandle<Result<(), IndexError>>> = None;
        while !to_parse.is_empty() {
            let rest = to_parse.split_off(to_parse.len().min(4000));
            let chunk = std::mem::replace(&mut to_parse, rest);
            let md = folder.maildir.clone();
            let prog = progress.clone();
            let uids = list.clone();
            let parsed = tokio::task::spawn_blocking(move || {
                let mut rows = parse_all(&md, chunk, prog.as_deref());
                if let Some(l) = &uids {
                    for (r, _) in &mut rows {
                        r.uid = l.uids.get(&r.uniq).copied().unwrap_or(0);
                    }
                }
                rows
            });
            if let Some(p) = pending.take() {
                p.await
                    .map_err(|e| StoreError::io("index write")(io::Error::other(e)))??;
            }
            let parsed = parsed
                .await
                .map_err(|e| StoreError::io("parse")(io::Error::other(e)))?;
            let mut rows = Vec::with_capacity(parsed.len());
            for (row, err) in parsed {
                let file = format!("{}/{}", row.subdir.as_str(), row.file_name);
                if let Some(e) = err {
                    report
                        .errors
                        .push(format!("{}/{file}: {e}", report_label(store, folder)));
                }
                if row.meta.status != ParseStatus::Ok {
                    report.differences.push(Difference::Unparsable {
                        folder: report_label(store, folder),
                        file,
                    });
                }
                rows.push(row);
            }
            let index = store.index().clone();
            let id = folder.id;
            pending = Some(tokio::spawn(
                async move { index.put_messages(id, rows).await },
            ));
        }
        if let Some(p) = pending.take() {
            p.await
                .map_err(|e| StoreError::io("index write")(io::Error::other(e)))??;
        }
        let written = started.elapsed();
        if let Some(list) = list {
            store
                .index()
                .set_uids(folder.id, list.validity, list.next, uid_fixes)
                .await?;
        }
        tracing::debug!(folder = %folder.maildir.path().display(), plan_ms = planned.as_millis() as u64,
            write_ms = (written - planned).as_millis() as u64, uid_ms = (started.elapsed() - written).as_millis() as u64,
            "folder synced");
        return Ok(report);
    }
    Ok(plan.report)
}

struct Plan {
    report: Report,
    put: Vec<MessageRecord>,
    remove: Vec<String>,
    /// Files to read and parse into rows, with the arrival time to keep.
    to_parse: Vec<(Entry, Option<i64>)>,
    /// Unchanged rows: key and the UID the index has.
    kept: Vec<(String, u32)>,
}

/// What a folder sync may do besides mending rows.
#[derive(Clone, Copy)]
struct FolderOptions<'a> {
    dry_run: bool,
    progress: Option<&'a dyn Progress>,
    /// Remove tmp/ files past the 36-hour rule.
    clean_tmp: bool,
    /// Give duplicate keys fresh names (none: only report them).
    names: Option<&'a NameGenerator>,
}

fn plan_folder(
    md: &Maildir,
    label: &str,
    rows: Vec<MessageRecord>,
    depth: Depth,
    opts: &FolderOptions,
) -> Result<Plan, StoreError> {
    let sep = md.separator();
    let (entries, odd) = md
        .list()
        .map_err(StoreError::io(format!("list {}", md.path().display())))?;
    let mut report = Report {
        files_seen: (entries.len() + odd.len()) as u64,
        ..Report::default()
    };
    for path in odd {
        report.skipped += 1;
        report.differences.push(Difference::BadName { path });
    }
    stale_tmp(md, label, opts, &mut report);

    // Group by key; cur/ before new/ and then by name, so the choice among
    // duplicates is the same on every run.
    let mut by_key: HashMap<String, Vec<Entry>> = HashMap::new();
    for e in entries {
        by_key.entry(e.key(sep).to_string()).or_default().push(e);
    }
    let mut rows: HashMap<String, MessageRecord> =
        rows.into_iter().map(|r| (r.uniq.clone(), r)).collect();
    let mut put = Vec::new();
    // Rows that stay as they are, with their UIDs.
    let mut kept: Vec<(String, u32)> = Vec::new();
    // Files to read and parse, with the arrival time to keep (if known).
    let mut to_parse: Vec<(Entry, Option<i64>)> = Vec::new();
    let mut keys: Vec<_> = by_key.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, mut files) in keys {
        files.sort_by_key(|e| (e.subdir == Subdir::New, e.name.clone()));
        if files.len() > 1 {
            report.differences.push(Difference::DuplicateKey {
                folder: label.to_string(),
                files: files.iter().map(file_label).collect(),
            });
            let first = fs::symlink_metadata(md.file_path(files[0].subdir, &files[0].name))
                .ok()
                .map(|m| (m.dev(), m.ino()));
            for dup in files.drain(1..) {
                // A second name (hard link) of the same file is the same
                // message: it is left alone, not given a key of its own.
                let same_file = first.is_some()
                    && fs::symlink_metadata(md.file_path(dup.subdir, &dup.name))
                        .ok()
                        .map(|m| (m.dev(), m.ino()))
                        == first;
                if same_file {
                    report.skipped += 1;
                    continue;
                }
                match (opts.dry_run, opts.names) {
                    (false, Some(names)) => match rekey(md, &dup, names) {
                        Ok(e) => {
                            report.added += 1;
                            to_parse.push((e, None));
                        }
                        Err(e) => report
                            .errors
                            .push(format!("{label}/{}: rename: {e}", file_label(&dup))),
                    },
                    _ => report.skipped += 1,
                }
            }
        }
        let entry = &files[0];
        match rows.remove(&key) {
            None => {
                report.differences.push(Difference::FileWithoutRow {
                    folder: label.to_string(),
                    file: file_label(entry),
                });
                report.added += 1;
                to_parse.push((entry.clone(), None));
            }
            Some(row) => {
                let renamed = row.file_name != entry.name || row.subdir != entry.subdir;
                let changed = depth == Depth::Full && {
                    let p = md.file_path(entry.subdir, &entry.name);
                    match fs::metadata(&p) {
                        Ok(m) => m.len() != row.size || m.mtime() != row.mtime,
                        Err(_) => false,
                    }
                };
                if changed {
                    report.differences.push(Difference::Changed {
                        folder: label.to_string(),
                        file: file_label(entry),
                    });
                    report.changed += 1;
                    to_parse.push((entry.clone(), Some(row.internal_date)));
                } else if !renamed {
                    kept.push((key.clone(), row.uid));
                } else {
                    report.differences.push(Difference::Renamed {
                        folder: label.to_string(),
                        from: format!("{}/{}", row.subdir.as_str(), row.file_name),
                        to: file_label(entry),
                    });
                    report.changed += 1;
                    let mut new = row;
                    new.subdir = entry.subdir;
                    new.file_name = entry.name.clone();
                    new.flags = entry.flags(sep).as_str().to_string();
                    put.push(new);
                }
            }
        }
    }
    let mut remove: Vec<String> = rows.into_keys().collect();
    remove.sort();
    for uniq in &remove {
        report.differences.push(Difference::RowWithoutFile {
            folder: label.to_string(),
            uniq: uniq.clone(),
        });
    }
    report.removed += remove.len() as u64;
    let unparsed = report.files_seen.saturating_sub(to_parse.len() as u64);
    if let Some(p) = opts.progress {
        p.advance(if opts.dry_run {
            report.files_seen
        } else {
            unparsed
        });
    }
    if opts.dry_run {
        return Ok(Plan {
            report,
            put: Vec::new(),
            remove: Vec::new(),
            kept: Vec::new(),
            to_parse: Vec::new(),
        });
    }
    Ok(Plan {
        report,
        put,
        remove,
        kept,
        to_parse,
    })
}

/// Reads and parses files on every core: a full resync is bound by the
/// parser, not the disk, once the files are in the page cache.
fn parse_all(
    md: &Maildir,
    files: Vec<(Entry, Option<i64>)>,
    progress: Option<&dyn Progress>,
) -> Vec<(MessageRecord, Option<io::Error>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if files.len() < 64 || threads == 1 {
        let out: Vec<_> = files.iter().map(|(e, d)| record_for(md, e, *d)).collect();
        if let Some(p) = progress {
            p.advance(out.len() as u64);
        }
        return out;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<(MessageRecord, Option<io::Error>)>> = Vec::new();
    out.resize_with(files.len(), || None);
    let results = std::sync::Mutex::new(&mut out);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let start = next.fetch_add(256, std::sync::atomic::Ordering::Relaxed);
                    if start >= files.len() {
                        break;
                    }
                    let before = local.len();
                    for (i, (e, d)) in files.iter().enumerate().skip(start).take(256) {
                        local.push((i, record_for(md, e, *d)));
                    }
                    if let Some(p) = progress {
                        p.advance((local.len() - before) as u64);
                    }
                }
                if let Ok(mut r) = results.lock() {
                    for (i, v) in local {
                        r[i] = Some(v);
                    }
                }
            });
        }
    });
    out.into_iter().flatten().collect()
}

/// Gives a file whose key another file already has a fresh unique name,
/// keeping its info part, so that both messages are listed and nothing is
/// lost (two files with one key arise from copies and restores over a live
/// folder). Only the name changes, never the content.
fn rekey(md: &Maildir, dup: &Entry, names: &NameGenerator) -> io::Result<Entry> {
    let path = md.file_path(dup.subdir, &dup.name);
    let size = fs::metadata(&path)?.len();
    let info = split_name(&dup.name, md.separator()).1;
    let name = match info {
        Some(i) => format!("{}{}{i}", names.next(size), md.separator()),
        None => names.next(size),
    };
    fs::rename(&path, md.file_path(dup.subdir, &name))?;
    crate::fsutil::fsync_dir(&md.path().join(dup.subdir.as_str()))?;
    Ok(Entry {
        subdir: dup.subdir,
        name,
    })
}

/// The maildir spec's rule: a file left in tmp/ for 36 hours is debris of
/// an interrupted delivery. Reported; removed only when asked.
fn stale_tmp(md: &Maildir, label: &str, opts: &FolderOptions, report: &mut Report) {
    let Ok(rd) = fs::read_dir(md.path().join("tmp")) else {
        return;
    };
    let limit = std::time::SystemTime::now() - Duration::from_secs(36 * 3600);
    for e in rd.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if !m.is_file() || m.modified().map_or(true, |t| t > limit) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        report.differences.push(Difference::StaleTmp {
            folder: label.to_string(),
            file: name,
        });
        if opts.clean_tmp && !opts.dry_run {
            match fs::remove_file(e.path()) {
                Ok(()) => report.removed_tmp += 1,
                Err(err) => report.errors.push(format!("{}: {err}", e.path().display())),
            }
        }
    }
}

/// The Maildir++ folders of an account: INBOX and every `.Name` subfolder
/// that has a `cur/`.
fn account_folders(maildir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = vec![("INBOX".to_string(), maildir.to_path_buf())];
    if let Ok(rd) = fs::read_dir(maildir) {
        let mut subs: Vec<_> = rd
            .filter_map(Result::ok)
            .filter_map(|de| {
                let name = de.file_name().into_string().ok()?;
                let folder = name.strip_prefix('.')?.to_string();
                (!folder.is_empty() && de.path().join("cur").is_dir()).then(|| (folder, de.path()))
            })
            .collect();
        subs.sort();
        out.extend(subs);
    }
    out
}

/// Sorts the domain or account folders that could not be taken: an odd
/// folder is only reported, an unreadable settings file keeps its index
/// rows (dropping them would refuse that domain's or account's mail) and
/// makes the run incomplete.
fn note_bad(
    bad: Vec<(String, crate::account::AccountError)>,
    unreadable: &mut Vec<String>,
    report: &mut Report,
) {
    for (name, e) in bad {
        if matches!(e, crate::account::AccountError::OddFolder { .. }) {
            report.errors.push(e.to_string());
        } else {
            unreadable.push(name);
            report.failed.push(format!("{e} (index left as it was)"));
        }
    }
}

/// Compares the whole data folder (or the part `opts` names) with the index
/// and, unless `opts.dry_run`, mends the index: accounts and domains first,
/// then every folder of every account.
pub async fn resync(store: &Store, opts: &Options) -> Result<Report, StoreError> {
    resync_with(store, opts, Arc::new(NoProgress)).await
}

/// [`resync`], telling `progress` how far it is.
pub async fn resync_with(
    store: &Store,
    opts: &Options,
    progress: Arc<dyn Progress>,
) -> Result<Report, StoreError> {
    let start = Instant::now();
    let mut report = Report::default();
    let index = store.index();
    let accounts = store.accounts();
    let in_scope_domain = |d: &str| {
        opts.domain.as_ref().is_none_or(|x| x.as_str() == d)
            && opts.user.as_ref().is_none_or(|u| u.domain().as_str() == d)
    };
    let in_scope_user = |a: &str| {
        in_scope_domain(a.rsplit('@').next().unwrap_or(""))
            && opts.user.as_ref().is_none_or(|u| u.to_string() == a)
    };

    // Domains.
    // A domain or account whose file cannot be read (half edited, damaged)
    // keeps its index rows: dropping them would refuse its mail as unknown.
    let (domain_files, bad) = accounts.domains()?;
    let mut unreadable = Vec::new();
    note_bad(bad, &mut unreadable, &mut report);
    let domain_rows = index.domains().await?;
    let domain_files: Vec<_> = domain_files
        .into_iter()
        .filter(|d| in_scope_domain(&d.name))
        .collect();
    for d in &domain_files {
        let row = domain_rows.iter().find(|r| r.name == d.name);
        if row != Some(&domain_record(d)) {
            report.differences.push(Difference::AccountWithoutRow {
                name: d.name.clone(),
            });
            report.added += 1;
            if !opts.dry_run {
                index.put_domain(domain_record(d)).await?;
            }
        }
    }
    for r in domain_rows.iter().filter(|r| in_scope_domain(&r.name)) {
        if !domain_files.iter().any(|d| d.name == r.name) && !unreadable.contains(&r.name) {
            report.differences.push(Difference::RowWithoutAccount {
                name: r.name.clone(),
            });
            report.removed += 1;
            if !opts.dry_run {
                index.delete_domain(&r.name).await?;
            }
        }
    }

    // Accounts.
    let mut user_files = Vec::new();
    for d in &domain_files {
        let Ok(dn) = DomainName::parse(&d.name) else {
            continue;
        };
        let (users, bad) = accounts.users(&dn)?;
        note_bad(bad, &mut unreadable, &mut report);
        user_files.extend(users.into_iter().filter(|u| in_scope_user(&u.address)));
    }
    let user_rows: HashMap<String, UserRecord> = index
        .users()
        .await?
        .into_iter()
        .filter(|u| in_scope_user(&u.address))
        .map(|u| (u.address.clone(), u))
        .collect();
    for u in &user_files {
        let want = user_record(u);
        match user_rows.get(&u.address) {
            None => {
                report.differences.push(Difference::AccountWithoutRow {
                    name: u.address.clone(),
                });
                report.added += 1;
            }
            Some(r) if *r != want => {
                report.differences.push(Difference::AccountChanged {
                    name: u.address.clone(),
                });
                report.changed += 1;
            }
            Some(_) => continue,
        }
        if !opts.dry_run {
            index.put_user(want).await?;
        }
    }
    for a in user_rows.keys() {
        if !user_files.iter().any(|u| &u.address == a) && !unreadable.contains(a) {
            report
                .differences
                .push(Difference::RowWithoutAccount { name: a.clone() });
            report.removed += 1;
            if !opts.dry_run {
                index.delete_user(a).await?;
            }
        }
    }

    // Count the files first (names only), so progress has a total.
    let folders_in_scope: Vec<_> = user_files
        .iter()
        .filter_map(|u| Address::parse(&u.address).ok())
        .flat_map(|a| account_folders(&store.data().maildir(&a)))
        .collect();
    let counting = progress.wants_total();
    let total = tokio::task::spawn_blocking(move || {
        if !counting {
            return 0;
        }
        folders_in_scope
            .iter()
            .map(|(_, p)| {
                ["new", "cur"]
                    .iter()
                    .map(|s| fs::read_dir(p.join(s)).map_or(0, |rd| rd.count() as u64))
                    .sum::<u64>()
            })
            .sum::<u64>()
    })
    .await
    .unwrap_or(0);
    progress.total(total);

    // Folders of every account in scope.
    let folder_rows = index.folders().await?;
    let mut seen_paths = Vec::new();
    for u in &user_files {
        let Ok(addr) = Address::parse(&u.address) else {
            continue;
        };
        let maildir = store.data().maildir(&addr);
        for (name, path) in account_folders(&maildir) {
            let rel = store.data().relative(&path).to_string_lossy().into_owned();
            seen_paths.push(rel.clone());
            let md = Maildir::new(&path, store.separator());
            let id = match folder_rows.iter().find(|f| f.path == rel) {
                Some(f) => f.id,
                None if opts.dry_run => {
                    // No row yet: every file is missing from the index.
                    let plan = {
                        let md = md.clone();
                        let rel = rel.clone();
                        let prog = progress.clone();
                        tokio::task::spawn_blocking(move || {
                            let opts = FolderOptions {
                                dry_run: true,
                                clean_tmp: false,
                                names: None,
                                progress: Some(&*prog),
                            };
                            plan_folder(&md, &rel, Vec::new(), Depth::Names, &opts)
                        })
                        .await
                        .map_err(|e| StoreError::io("plan")(io::Error::other(e)))??
                    };
                    report.merge(plan.report);
                    continue;
                }
                None => index.folder(&u.address, &name, &rel).await?,
            };
            let folder = Folder { id, maildir: md };
            match sync_folder_with(
                store,
                &folder,
                opts.depth,
                opts.dry_run,
                opts.clean_tmp,
                Some(progress.clone()),
            )
            .await
            {
                Ok(r) => report.merge(r),
                Err(e) => report.failed.push(format!("{rel}: {e}")),
            }
        }
    }
    for f in &folder_rows {
        // The folders of an account whose file cannot be read are not
        // walked, which does not make them gone.
        if in_scope_user(&f.address)
            && !seen_paths.contains(&f.path)
            && !unreadable.contains(&f.address)
        {
            report.differences.push(Difference::FolderWithoutFiles {
                folder: f.path.clone(),
            });
            report.removed += 1;
            if !opts.dry_run {
                index.delete_folder(f.id).await?;
            }
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
