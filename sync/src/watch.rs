//! The watcher: keeps the index current when files change behind the
//! server's back (another delivery agent, a hand copy, a restore, an edited
//! account file).
//!
//! inotify events (through notify, debounced so that a rename's two halves
//! arrive together) are mapped to what they touch:
//! - a message file in `new/` or `cur/`: its key is reconciled, by looking
//!   at the names the events mention and the one the index has, with a stat
//!   each, so that a busy folder is never listed again per event;
//! - `user.toml` or `domain.toml`: that account or domain is mirrored;
//! - an account or Maildir++ folder appearing or vanishing: that account is
//!   resynced by names.
//!
//! `tmp/`, dot files and nmail's own side files are ignored. When the
//! kernel's event queue overflows, or the watcher reports an error, events
//! may have been lost: the watcher falls back to a rescan by names of the
//! part concerned (the whole data folder after an overflow) and logs it.
//! inotify does not see changes made on another machine over NFS, so a
//! periodic rescan (`rescan_every`) covers shared storage.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::address::{Address, DomainName, LocalPart};
use crate::maildir::{Entry, Maildir, Subdir, split_name};
use crate::resync::{self, Depth, record_for};
use crate::store::{Store, StoreError};

/// How long the debouncer waits to pair events (a rename's From and To).
const DEBOUNCE: Duration = Duration::from_millis(150);

/// A part of the data folder to rescan by names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// Every file of the data folder.
    Everything,
    /// One domain and its accounts.
    Domain(DomainName),
    /// One account: its file and all its folders.
    Account(Address),
}

/// The names the events mentioned for one message key of one folder.
#[derive(Debug)]
struct Touched {
    account: Address,
    folder: String,
    /// `(in cur/, file name)`.
    names: BTreeSet<(bool, String)>,
}

/// What a burst of events calls for.
#[derive(Debug, Default)]
struct Batch {
    rescans: BTreeSet<Scope>,
    /// By (maildir folder, key).
    messages: BTreeMap<(PathBuf, String), Touched>,
}

/// A running watcher; dropping it stops it.
pub struct Watcher {
    _debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts following the store's data folder: with inotify when `inotify`,
/// and with a rescan by names every `rescan_every` when given.
pub fn start(
    store: Store,
    inotify: bool,
    rescan_every: Option<Duration>,
) -> Result<Watcher, StoreError> {
    let root = store.data().domains_dir();
    crate::fsutil::create_dir_all_durable(&root)
        .map_err(StoreError::io(root.display().to_string()))?;
    let (tx, rx) = mpsc::unbounded_channel::<DebounceEventResult>();
    let debouncer = if inotify {
        let mut d = new_debouncer(DEBOUNCE, None, move |r: DebounceEventResult| {
            let _ = tx.send(r);
        })
        .map_err(|e| StoreError::io("start watcher")(io::Error::other(e)))?;
        d.watch(&root, RecursiveMode::Recursive).map_err(|e| {
            StoreError::io(format!("watch {}", root.display()))(io::Error::other(e))
        })?;
        info!(root = %root.display(), "watching for changes");
        Some(d)
    } else {
        // Keep the channel open; only the timer drives the loop.
        std::mem::forget(tx);
        None
    };
    let task = tokio::spawn(run(Arc::new(store), rx, rescan_every));
    Ok(Watcher {
        _debouncer: debouncer,
        task,
    })
}

async fn run(
    store: Arc<Store>,
    mut rx: mpsc::UnboundedReceiver<DebounceEventResult>,
    rescan_every: Option<Duration>,
) {
    let mut last_rescan = Instant::now();
    // Parts whose index update failed (the index unwritable for a while:
    // a full disk, a lock, a database restart): rescanned until it works,
    // since the events that named the changes are spent.
    let mut retry: BTreeSet<Scope> = BTreeSet::new();
    let mut failed_at = Instant::now();
    loop {
        let mut tick = rescan_every
            .map(|d| d.saturating_sub(last_rescan.elapsed()))
            .unwrap_or(Duration::from_secs(3600));
        if !retry.is_empty() {
            tick = tick.min(RETRY_AFTER.saturating_sub(failed_at.elapsed()));
        }
        let first = tokio::select! {
            r = rx.recv() => match r { Some(r) => Some(r), None => return },
            _ = tokio::time::sleep(tick) => None,
        };
        let mut work = Batch::default();
        if !retry.is_empty() && failed_at.elapsed() >= RETRY_AFTER {
            work.rescans.append(&mut retry);
        }
        match first {
            None => {
                if rescan_every.is_some_and(|d| last_rescan.elapsed() >= d) {
                    debug!("periodic rescan");
                    work.rescans.insert(Scope::Everything);
                } else if !work.rescans.is_empty() {
                    info!(
                        parts = work.rescans.len(),
                        "watcher retrying index updates that failed"
                    );
                }
            }
            Some(r) => {
                classify_result(&store, r, &mut work);
                // Take whatever else is waiting, so one pass covers a burst.
                while let Ok(r) = rx.try_recv() {
                    classify_result(&store, r, &mut work);
                }
            }
        }
        if work.rescans.contains(&Scope::Everything) {
            last_rescan = Instant::now();
        }
        let failed = apply(&store, work).await;
        if !failed.is_empty() {
            failed_at = Instant::now();
            retry.extend(failed);
        }
    }
}

/// How soon a failed index update is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

fn classify_result(store: &Store, r: DebounceEventResult, work: &mut Batch) {
    match r {
        Ok(events) => {
            for ev in events {
                if ev.need_rescan() {
                    warn!("watcher event queue overflowed; rescanning the data folder by names");
                    work.rescans.insert(Scope::Everything);
                    continue;
                }
                // inotify also reports opens and reads, ours included (the
                // rescans below would feed themselves); only writes matter.
                if let EventKind::Access(a) = ev.kind
                    && a != AccessKind::Close(AccessMode::Write)
                {
                    continue;
                }
                for p in &ev.paths {
                    tracing::trace!(kind = ?ev.kind, path = %p.display(), "event");
                    classify(store, p, work);
                }
            }
        }
        Err(errors) => {
            for e in errors {
                warn!(error = %e, "watcher error; rescanning what it concerns");
                if e.paths.is_empty() {
                    work.rescans.insert(Scope::Everything);
                }
                for p in &e.paths {
                    work.rescans
                        .insert(account_of(store, p).unwrap_or(Scope::Everything));
                }
            }
        }
    }
}

/// The path's parts below `domains/`.
fn parts<'a>(store: &Store, path: &'a Path) -> Option<Vec<&'a str>> {
    let rel = path.strip_prefix(store.data().domains_dir()).ok()?;
    rel.components().map(|c| c.as_os_str().to_str()).collect()
}

fn account_of(store: &Store, path: &Path) -> Option<Scope> {
    let p = parts(store, path)?;
    let domain = DomainName::parse(p.first()?).ok()?;
    match (p.get(1), p.get(2)) {
        (Some(&"users"), Some(local)) => Some(Scope::Account(Address::new(
            LocalPart::parse(local).ok()?,
            domain,
        ))),
        _ => Some(Scope::Domain(domain)),
    }
}

/// Maps one changed path to the work it calls for.
fn classify(store: &Store, path: &Path, work: &mut Batch) {
    let Some(p) = parts(store, path) else { return };
    if p.iter()
        .any(|c| c.starts_with('.') && !is_maildir_folder(c))
    {
        return;
    }
    let Some(Ok(domain)) = p.first().map(|d| DomainName::parse(d)) else {
        return;
    };
    match p.as_slice() {
        [_] | [_, "domain.toml"] | [_, "users"] => {
            work.rescans.insert(Scope::Domain(domain));
        }
        [_, "users", local, rest @ ..] => {
            let Ok(l) = LocalPart::parse(local) else {
                return;
            };
            let account = Address::new(l, domain);
            match rest {
                // Message files: .../Maildir[/.Folder]/(new|cur)/NAME
                ["Maildir", sub @ ("new" | "cur"), name] => {
                    add_message(
                        store,
                        work,
                        account,
                        "INBOX",
                        store.data().maildir_path_of(path, 2),
                        sub,
                        name,
                    );
                }
                ["Maildir", folder, sub @ ("new" | "cur"), name] if is_maildir_folder(folder) => {
                    let f = folder.trim_start_matches('.').to_string();
                    add_message(
                        store,
                        work,
                        account,
                        &f,
                        store.data().maildir_path_of(path, 2),
                        sub,
                        name,
                    );
                }
                // tmp/ holds deliveries in progress; side files are ours.
                ["Maildir", .., "tmp", _] | ["Maildir", .., "tmp"] => {}
                ["Maildir", name] | ["Maildir", _, name] if crate::uidlist::is_own_file(name) => {}
                ["Maildir", "maildirsize"] => {}
                // user.toml, or folders appearing and vanishing.
                _ => {
                    work.rescans.insert(Scope::Account(account));
                }
            }
        }
        _ => {}
    }
}

fn is_maildir_folder(c: &str) -> bool {
    c.len() > 1 && c.starts_with('.') && c != ".." && !c.ends_with(".lock")
}

fn add_message(
    store: &Store,
    work: &mut Batch,
    account: Address,
    folder: &str,
    dir: PathBuf,
    sub: &str,
    name: &str,
) {
    if name.starts_with('.') || name.chars().any(char::is_control) {
        return;
    }
    if store.take_own(&dir.join(sub).join(name)) {
        return;
    }
    let key = split_name(name, store.separator()).0.to_string();
    work.messages
        .entry((dir, key))
        .or_insert_with(|| Touched {
            account,
            folder: folder.to_string(),
            names: BTreeSet::new(),
        })
        .names
        .insert((sub == "cur", name.to_string()));
}

/// Carries out a batch of work: rescans first; then the keys that had
/// events. Returns the parts whose index update failed, to be tried again.
async fn apply(store: &Store, work: Batch) -> BTreeSet<Scope> {
    let started = Instant::now();
    let mut failed = BTreeSet::new();
    for scope in &work.rescans {
        match rescan(store, scope).await {
            Ok(true) => {}
            Ok(false) => {
                failed.insert(scope.clone());
            }
            Err(e) => {
                warn!(error = %e, "watcher rescan failed; will try again");
                failed.insert(scope.clone());
            }
        }
    }
    // The keys that had events are reconciled even where a rescan just
    // ran: a rescan compares names only, and a file rewritten in place
    // (rsync into a live maildir does it) keeps its name.
    let mut by_folder: BTreeMap<
        PathBuf,
        (Address, String, Vec<(String, BTreeSet<(bool, String)>)>),
    > = BTreeMap::new();
    for ((dir, key), t) in work.messages {
        by_folder
            .entry(dir)
            .or_insert_with(|| (t.account, t.folder, Vec::new()))
            .2
            .push((key, t.names));
    }
    let mut n = 0;
    for (dir, (account, folder, keys)) in by_folder {
        n += keys.len();
        if let Err(e) = reconcile(store, &account, &folder, &dir, keys).await {
            warn!(error = %e, folder = %dir.display(), "watcher could not update the index; will try again");
            failed.insert(Scope::Account(account));
        }
    }
    if n > 0 {
        debug!(
            keys = n,
            ms = started.elapsed().as_millis() as u64,
            "index follows file changes"
        );
    }
    failed
}

/// True the first time this process sees a problem: an odd folder stays
/// odd until the operator acts, and every rescan of its account finds it
/// again, which would fill the log with one warning per change.
fn first_report(problem: &str) -> bool {
    static SEEN: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() >= 10_000 {
        seen.clear();
    }
    seen.insert(problem.to_string())
}

/// Rescans a part by names; false when some folder or account could not
/// be compared (the index could not be written), to be tried again.
async fn rescan(store: &Store, w: &Scope) -> Result<bool, StoreError> {
    let mut opts = resync::Options {
        depth: Depth::Names,
        ..Default::default()
    };
    match w {
        Scope::Everything => {}
        Scope::Domain(d) => opts.domain = Some(d.clone()),
        Scope::Account(a) => opts.user = Some(a.clone()),
    }
    let report = resync::resync(store, &opts).await?;
    for e in report.failed.iter().chain(&report.errors) {
        if first_report(e) {
            warn!(scope = ?w, problem = %e, "watcher rescan");
        } else {
            debug!(scope = ?w, problem = %e, "watcher rescan (reported before)");
        }
    }
    if !report.differences.is_empty() {
        info!(scope = ?w, added = report.added, removed = report.removed, changed = report.changed,
              "watcher rescan mended the index");
    }
    if !report.failed.is_empty() {
        warn!(scope = ?w, "watcher rescan incomplete; will try again");
    }
    Ok(report.failed.is_empty())
}

/// Brings the rows of some keys of one folder in line with the files.
async fn reconcile(
    store: &Store,
    account: &Address,
    folder: &str,
    dir: &Path,
    keys: Vec<(String, BTreeSet<(bool, String)>)>,
) -> Result<(), StoreError> {
    if store.index().user(&account.to_string()).await?.is_none() {
        return Ok(());
    }
    let rel = store.data().relative(dir).to_string_lossy().into_owned();
    let id = store
        .index()
        .folder(&account.to_string(), folder, &rel)
        .await?;
    let mut rows = Vec::new();
    for (key, _) in &keys {
        rows.push(store.index().message(id, key).await?);
    }
    let md = Maildir::new(dir, store.separator());
    let plan = tokio::task::spawn_blocking(move || {
        let mut put = Vec::new();
        let mut gone = Vec::new();
        for ((key, mut names), row) in keys.into_iter().zip(rows) {
            if let Some(r) = &row {
                names.insert((r.subdir == Subdir::Cur, r.file_name.clone()));
            }
            // The current file of the key: the first candidate that exists
            // as a regular file (a directory, link or FIFO is no message,
            // and opening a FIFO would block the watcher).
            let found = names.iter().rev().find_map(|(cur, name)| {
                let subdir = if *cur { Subdir::Cur } else { Subdir::New };
                let m = fs::symlink_metadata(md.file_path(subdir, name)).ok()?;
                m.is_file().then_some(m).map(|m| {
                    (
                        Entry {
                            subdir,
                            name: name.clone(),
                        },
                        m,
                    )
                })
            });
            match (found, row) {
                (None, Some(_)) => gone.push(key),
                (None, None) => {}
                (Some((e, m)), Some(r)) => {
                    if m.len() != r.size || m.mtime() != r.mtime {
                        put.push(record_for(&md, &e, Some(r.internal_date)).0);
                    } else if r.file_name != e.name || r.subdir != e.subdir {
                        let mut n = r;
                        n.flags = e.flags(md.separator()).as_str().to_string();
                        n.subdir = e.subdir;
                        n.file_name = e.name;
                        put.push(n);
                    }
                }
                (Some((e, _)), None) => put.push(record_for(&md, &e, None).0),
            }
        }
        (put, gone)
    })
    .await
    .map_err(|e| StoreError::io("watcher")(io::Error::other(e)))?;
    let (put, gone) = plan;
    if !gone.is_empty() {
        store.index().delete_messages(id, gone).await?;
    }
    if !put.is_empty() {
        store.index().put_messages(id, put).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;
    use crate::{DataDir, Index};
    use notify::event::{CreateKind, Event, Flag};
    use notify_debouncer_full::DebouncedEvent;

    async fn store(dir: &Path) -> Store {
        let data = DataDir::new(dir);
        let index = Index::open("sqlite://index.sqlite", dir).await.unwrap();
        Store::new(
            data,
            index,
            &StoreOptions {
                hostname: "h".into(),
                info_separator: ':',
            },
        )
    }

    #[tokio::test]
    async fn overflow_and_errors_fall_back_to_rescans() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let mut b = Batch::default();
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        classify_result(
            &s,
            Ok(vec![DebouncedEvent::new(overflow, Instant::now())]),
            &mut b,
        );
        assert!(b.rescans.contains(&Scope::Everything));

        let mut b = Batch::default();
        let p = dir
            .path()
            .join("domains/example.com/users/bob/Maildir/new/x");
        let err = notify::Error::generic("boom").add_path(p);
        classify_result(&s, Err(vec![err]), &mut b);
        assert!(
            matches!(b.rescans.iter().next(), Some(Scope::Account(a)) if a.to_string() == "bob@example.com")
        );
    }

    #[tokio::test]
    async fn paths_map_to_work() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let root = dir.path().join("domains/example.com");
        let ev = |paths: &[&str], kind| {
            let mut e = Event::new(kind);
            for p in paths {
                e = e.add_path(root.join(p));
            }
            DebouncedEvent::new(e, Instant::now())
        };
        let mut b = Batch::default();
        let created = EventKind::Create(CreateKind::File);
        classify_result(
            &s,
            Ok(vec![
                ev(&["users/bob/Maildir/new/K1"], created),
                ev(
                    &["users/bob/Maildir/new/K1", "users/bob/Maildir/cur/K1:2,S"],
                    EventKind::Modify(notify::event::ModifyKind::Name(
                        notify::event::RenameMode::Both,
                    )),
                ),
                ev(&["users/bob/Maildir/.Sent/cur/K2:2,S"], created),
                ev(
                    &[
                        "users/bob/Maildir/tmp/K3",
                        "users/bob/Maildir/nmail-uidlist",
                        "users/bob/Maildir/cur/.hidden",
                    ],
                    created,
                ),
                ev(
                    &["users/bob/Maildir/new/K9"],
                    EventKind::Access(AccessKind::Open(notify::event::AccessMode::Any)),
                ),
            ]),
            &mut b,
        );
        assert!(b.rescans.is_empty(), "{:?}", b.rescans);
        let keys: Vec<_> = b
            .messages
            .iter()
            .map(|((_, k), t)| (k.clone(), t.folder.clone(), t.names.len()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("K1".into(), "INBOX".into(), 2),
                ("K2".into(), "Sent".into(), 1)
            ]
        );
        classify_result(
            &s,
            Ok(vec![
                ev(&["users/carol/user.toml"], created),
                ev(&["domain.toml"], created),
            ]),
            &mut b,
        );
        assert_eq!(b.rescans.len(), 2);
    }
}
