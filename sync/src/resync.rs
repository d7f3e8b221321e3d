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
use std::time::{Duration, Instant};

use crate::address::{Address, DomainName};
use crate::index::{MessageRecord, UserRecord};
use crate::maildir::{Entry, Flags, Maildir, Subdir};
use crate::message::{Meta, WireSizer, parse_meta};
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
            BadName { path } => write!(f, "name not UTF-8, skipped: {}", path.display()),
            AccountWithoutRow { name } => write!(f, "not indexed: account/domain {name}"),
            RowWithoutAccount { name } => write!(f, "file gone: account/domain {name}"),
            AccountChanged { name } => write!(f, "changed: account {name}"),
            FolderWithoutFiles { folder } => write!(f, "folder gone: {folder}"),
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
    /// Files or folders that could not be read.
    pub errors: Vec<String>,
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
        self.errors.extend(other.errors);
    }
}

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
        let mut f = fs::File::open(&path)?;
        let md = f.metadata()?;
        row.size = md.len();
        row.mtime = md.mtime();
        if internal_date.is_none() {
            row.internal_date = md.mtime();
        }
        let mut buf = Vec::with_capacity(md.len().min(16 << 20) as usize);
        f.read_to_end(&mut buf)?;
        let mut s = WireSizer::default();
        s.push(&buf);
        row.wire_size = s.finish();
        row.meta = parse_meta(&buf);
        Ok(())
    })();
    match result {
        Ok(()) => (row, None),
        Err(e) => {
            row.wire_size = row.size;
            (row, Some(e))
        }
    }
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
    let rows = store.index().messages(folder.id).await?;
    let md = folder.maildir.clone();
    let label = store
        .data()
        .relative(md.path())
        .to_string_lossy()
        .into_owned();
    let plan = tokio::task::spawn_blocking(move || plan_folder(&md, &label, rows, depth, dry_run))
        .await
        .map_err(|e| StoreError::io("sync folder")(io::Error::other(e)))??;
    if !dry_run {
        if !plan.remove.is_empty() {
            store
                .index()
                .delete_messages(folder.id, plan.remove)
                .await?;
        }
        // Chunks keep one commit from holding the writer for long while a
        // big folder is indexed, so deliveries keep flowing.
        let mut put = plan.put;
        while !put.is_empty() {
            let rest = put.split_off(put.len().min(2000));
            store.index().put_messages(folder.id, put).await?;
            put = rest;
        }
        if depth == Depth::Full {
            let rows = store.index().messages(folder.id).await?;
            store.sync_uids(folder, rows).await?;
        }
    }
    Ok(plan.report)
}

struct Plan {
    report: Report,
    put: Vec<MessageRecord>,
    remove: Vec<String>,
}

fn plan_folder(
    md: &Maildir,
    label: &str,
    rows: Vec<MessageRecord>,
    depth: Depth,
    dry_run: bool,
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

    // Group by key; cur/ before new/ and then by name, so the choice among
    // duplicates is the same on every run.
    let mut by_key: HashMap<String, Vec<Entry>> = HashMap::new();
    for e in entries {
        by_key.entry(e.key(sep).to_string()).or_default().push(e);
    }
    let mut rows: HashMap<String, MessageRecord> =
        rows.into_iter().map(|r| (r.uniq.clone(), r)).collect();
    let mut put = Vec::new();
    let mut keys: Vec<_> = by_key.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, mut files) in keys {
        files.sort_by_key(|e| (e.subdir == Subdir::New, e.name.clone()));
        if files.len() > 1 {
            report.skipped += files.len() as u64 - 1;
            report.differences.push(Difference::DuplicateKey {
                folder: label.to_string(),
                files: files.iter().map(file_label).collect(),
            });
        }
        let entry = &files[0];
        match rows.remove(&key) {
            None => {
                report.differences.push(Difference::FileWithoutRow {
                    folder: label.to_string(),
                    file: file_label(entry),
                });
                report.added += 1;
                if !dry_run {
                    let (row, err) = record_for(md, entry, None);
                    if let Some(e) = err {
                        report
                            .errors
                            .push(format!("{label}/{}: {e}", file_label(entry)));
                    }
                    put.push(row);
                }
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
                    if !dry_run {
                        let (new, err) = record_for(md, entry, Some(row.internal_date));
                        if let Some(e) = err {
                            report
                                .errors
                                .push(format!("{label}/{}: {e}", file_label(entry)));
                        }
                        put.push(new);
                    }
                } else if renamed {
                    report.differences.push(Difference::Renamed {
                        folder: label.to_string(),
                        from: format!("{}/{}", row.subdir.as_str(), row.file_name),
                        to: file_label(entry),
                    });
                    report.changed += 1;
                    let mut new = row;
                    new.subdir = entry.subdir;
                    new.file_name = entry.name.clone();
                    new.flags = Flags::from_info(crate::maildir::split_name(&entry.name, sep).1)
                        .as_str()
                        .to_string();
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
    if dry_run {
        put.clear();
        remove.clear();
    }
    Ok(Plan {
        report,
        put,
        remove,
    })
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

/// Compares the whole data folder (or the part `opts` names) with the index
/// and, unless `opts.dry_run`, mends the index: accounts and domains first,
/// then every folder of every account.
pub async fn resync(store: &Store, opts: &Options) -> Result<Report, StoreError> {
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
    let mut unreadable: Vec<String> = bad.iter().map(|(n, _)| n.clone()).collect();
    report.errors.extend(
        bad.into_iter()
            .map(|(_, e)| format!("{e} (index left as it was)")),
    );
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
        unreadable.extend(bad.iter().map(|(a, _)| a.clone()));
        report.errors.extend(
            bad.into_iter()
                .map(|(_, e)| format!("{e} (index left as it was)")),
        );
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
                        tokio::task::spawn_blocking(move || {
                            plan_folder(&md, &rel, Vec::new(), Depth::Names, true)
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
            match sync_folder(store, &folder, opts.depth, opts.dry_run).await {
                Ok(r) => report.merge(r),
                Err(e) => report.errors.push(e.to_string()),
            }
        }
    }
    for f in &folder_rows {
        if in_scope_user(&f.address) && !seen_paths.contains(&f.path) {
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
