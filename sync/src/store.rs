//! The store: a data folder together with its index, and the operations
//! that change both in the one safe order, files first, index second.
//!
//! A crash between the two leaves a file the index lacks (picked up by the
//! next folder sync or resync), never an index row without its file.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::account::{AccountError, Accounts, DomainFile, UserFile};
use crate::address::{Address, DomainName};
use crate::index::{DomainRecord, Index, IndexError, MessageRecord, UserRecord};
use crate::layout::DataDir;
use crate::maildir::{Delivered, Entry, Flags, Maildir, NameGenerator, Source, Subdir};
use crate::message::{Meta, WireSizer, parse_meta};
use crate::resync::{self, Depth};
use crate::uidlist;

/// Failures of store operations.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An account or domain file failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A mail file or folder failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: io::Error,
    },
}

impl StoreError {
    /// True when the failure is a full disk or quota: temporary for SMTP
    /// (452 4.3.1).
    pub fn is_storage_full(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if crate::fsutil::is_storage_full(source))
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Io { context, source }
    }
}

/// Settings the store needs from `nmail.toml`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// This host's name, part of every unique name written here.
    pub hostname: String,
    /// The maildir info separator (`:` unless the file system forbids it).
    pub info_separator: char,
}

/// The POP3 unique-id of a message: its maildir key when that is a valid
/// UIDL (RFC 1939 §7: 1 to 70 characters from 0x21 to 0x7E), otherwise a
/// stable 128-bit FNV-1a digest of the key. Either way it depends only on
/// the key, so it survives flag changes, moves from new/ to cur/, restarts,
/// rebuilt indexes and copies of the data folder.
pub fn uidl_for(uniq: &str) -> String {
    if (1..=70).contains(&uniq.len()) && uniq.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return uniq.to_string();
    }
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in uniq.bytes() {
        h ^= b as u128;
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("x{h:032x}")
}

/// A message body waiting to be delivered.
#[derive(Debug, Clone)]
pub enum Body {
    /// Held in memory.
    Memory(Arc<Vec<u8>>),
    /// Spooled to a file (large messages).
    File(PathBuf),
}

/// One folder of one account, ready for reading.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Its index id.
    pub id: i64,
    /// Its files.
    pub maildir: Maildir,
}

/// A data folder with its index.
#[derive(Debug, Clone)]
pub struct Store {
    data: DataDir,
    index: Index,
    accounts: Accounts,
    names: Arc<NameGenerator>,
    sep: char,
    own: Arc<Mutex<OwnWrites>>,
}

/// Message files this process just wrote, renamed or removed (and told the
/// index about): the watcher skips their events instead of redoing the
/// work, which on a busy server would be a few index reads per delivery.
#[derive(Debug, Default)]
struct OwnWrites {
    set: HashSet<PathBuf>,
    order: VecDeque<PathBuf>,
}

impl OwnWrites {
    const CAP: usize = 16384;

    fn add(&mut self, p: PathBuf) {
        if self.set.insert(p.clone()) {
            self.order.push_back(p);
            while self.order.len() > Self::CAP {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// Parsing more than this many octets of a large message for the index is
/// not worth the memory: the header fields come first, and an attachment
/// flag from the first part of the structure is what listings need.
const MAX_PARSE: u64 = 16 << 20;

impl Store {
    /// A store over `data` and `index`.
    pub fn new(data: DataDir, index: Index, opts: &StoreOptions) -> Self {
        Store {
            accounts: Accounts::new(data.clone()),
            names: Arc::new(NameGenerator::new(&opts.hostname)),
            sep: opts.info_separator,
            own: Arc::default(),
            data,
            index,
        }
    }

    /// The data folder.
    pub fn data(&self) -> &DataDir {
        &self.data
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The account files.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn mark_own(&self, paths: impl IntoIterator<Item = PathBuf>) {
        if let Ok(mut o) = self.own.lock() {
            for p in paths {
                o.add(p);
            }
        }
    }

    /// True (once) when `path` is a message file this process itself just
    /// wrote, renamed or removed, so an event about it needs no work.
    pub fn take_own(&self, path: &std::path::Path) -> bool {
        match self.own.lock() {
            Ok(mut o) => o.set.remove(path),
            Err(_) => false,
        }
    }

    /// The unique-name generator of this process.
    pub(crate) fn names(&self) -> Arc<NameGenerator> {
        self.names.clone()
    }

    /// The maildir info separator.
    pub fn separator(&self) -> char {
        self.sep
    }

    // ---- accounts: file first, then the index -------------------------

    /// Adds a hosted domain.
    pub async fn add_domain(&self, domain: &DomainName) -> Result<DomainFile, StoreError> {
        let f = self.accounts.add_domain(domain)?;
        self.index.put_domain(domain_record(&f)).await?;
        Ok(f)
    }

    /// Removes a hosted domain (see [`Accounts::remove_domain`]).
    pub async fn remove_domain(
        &self,
        domain: &DomainName,
        with_users: bool,
        purge: bool,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let moved = self.accounts.remove_domain(domain, with_users, purge)?;
        self.index.delete_domain(domain.as_str()).await?;
        Ok(moved)
    }

    /// Adds an account.
    pub async fn add_user(
        &self,
        address: &Address,
        password: &str,
    ) -> Result<UserFile, StoreError> {
        let f = self.accounts.add_user(address, password)?;
        self.index.put_user(user_record(&f)).await?;
        Ok(f)
    }

    /// Sets an account's password.
    pub async fn set_password(&self, address: &Address, password: &str) -> Result<(), StoreError> {
        let f = self.accounts.set_password(address, password)?;
        self.index.put_user(user_record(&f)).await?;
        Ok(())
    }
    /// Sets or clears an account's mailbox size limit.
    pub async fn set_quota(&self, address: &Address, quota: Option<u64>) -> Result<(), StoreError> {
        let mut f = self
            .accounts
            .user(address)?
            .ok_or_else(|| AccountError::NoSuchUser(address.clone()))?;
        f.quota_bytes = quota;
        self.accounts.save_user(address, &f)?;
        self.index.put_user(user_record(&f)).await?;
        Ok(())
    }

    /// Removes an account (see [`Accounts::remove_user`]).
    pub async fn remove_user(
        &self,
        address: &Address,
        purge: bool,
    ) -> Result<Option<PathBuf>, StoreError> {
        let moved = self.accounts.remove_user(address, purge)?;
        self.index.delete_user(&address.to_string()).await?;
        Ok(moved)
    }

    // ---- folders ------------------------------------------------------

    /// The INBOX of an account, created on disk if missing.
    pub async fn inbox(&self, address: &Address) -> Result<Folder, StoreError> {
        let path = self.data.maildir(address);
        let maildir = Maildir::new(&path, self.sep);
        let md = maildir.clone();
        tokio::task::spawn_blocking(move || md.create())
            .await
            .map_err(|e| StoreError::io("create maildir")(io::Error::other(e)))?
            .map_err(StoreError::io(format!("create {}", path.display())))?;
        let rel = self.data.relative(&path).to_string_lossy().into_owned();
        let id = self
            .index
            .folder(&address.to_string(), "INBOX", &rel)
            .await?;
        Ok(Folder { id, maildir })
    }

    /// Brings the index of one folder up to date with its files by comparing
    /// names (a readdir, no stat per file), then lists it. Readers call this
    /// when they open a folder, so mail dropped in by other tools is seen.
    pub async fn open_folder(&self, folder: &Folder) -> Result<Vec<MessageRecord>, StoreError> {
        resync::sync_folder(self, folder, Depth::Names, false).await?;
        let rows = self.index.messages(folder.id).await?;
        self.sync_uids(folder, rows).await
    }

    /// Makes sure every message of the folder has its UID from the folder's
    /// `nmail-uidlist` (appending new ones there first), and that the index
    /// agrees with the list. Cheap when nothing is new.
    pub async fn sync_uids(
        &self,
        folder: &Folder,
        mut rows: Vec<MessageRecord>,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let validity = self
            .index
            .folder_record(folder.id)
            .await?
            .map(|f| f.uidvalidity)
            .unwrap_or(0);
        if validity != 0 && rows.iter().all(|r| r.uid != 0) {
            return Ok(rows);
        }
        let dir = folder.maildir.path().to_path_buf();
        // New UIDs go out in arrival order, which POP3 numbering follows.
        let mut keys: Vec<String> = rows.iter().map(|r| r.uniq.clone()).collect();
        keys.sort_by_cached_key(|k| crate::maildir::arrival_of(k)); // stable: ties keep key order
        let list = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            uidlist::assign(&dir, &refs, &refs)
        })
        .await
        .map_err(|e| StoreError::io("uidlist")(io::Error::other(e)))?
        .map_err(StoreError::io(format!(
            "{}/{}",
            folder.maildir.path().display(),
            uidlist::FILE
        )))?;
        let mut changed = Vec::new();
        for r in &mut rows {
            if let Some(&u) = list.uids.get(&r.uniq)
                && u != r.uid
            {
                r.uid = u;
                changed.push((r.uniq.clone(), u));
            }
        }
        self.index
            .set_uids(folder.id, list.validity, list.next, changed)
            .await?;
        // The order the index lists in, now that every row has its UID.
        rows.sort_by(|a, b| {
            (a.internal_date, a.uid == 0, a.uid, &a.uniq).cmp(&(
                b.internal_date,
                b.uid == 0,
                b.uid,
                &b.uniq,
            ))
        });
        Ok(rows)
    }

    // ---- delivery -----------------------------------------------------

    /// Delivers one message to several accounts' INBOXes, each with its own
    /// trace fields `prefixes[i]` in front of the shared `body`.
    ///
    /// All or nothing: the files are written in parallel (the disk completes
    /// concurrent fsyncs far faster than sequential ones), and if any of them
    /// fails the others are removed again before the error returns, so the
    /// client's retry does not duplicate mail. Once every file is durable the
    /// rows go to the index; an index failure after that is logged and left
    /// for the next folder sync, because the message itself is safe.
    pub async fn deliver(
        &self,
        recipients: &[Address],
        prefixes: Vec<Vec<u8>>,
        body: Body,
    ) -> Result<Vec<Delivered>, StoreError> {
        let meta = {
            let body = body.clone();
            tokio::task::spawn_blocking(move || meta_of_body(&body))
                .await
                .map_err(|e| StoreError::io("parse")(io::Error::other(e)))?
        };
        let mut folders = Vec::with_capacity(recipients.len());
        for r in recipients {
            folders.push(self.inbox(r).await?);
        }
        let mut tasks = Vec::with_capacity(recipients.len());
        for (folder, prefix) in folders.iter().zip(prefixes) {
            let md = folder.maildir.clone();
            let names = self.names.clone();
            let body = body.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                let src = match &body {
                    Body::Memory(b) => Source::Bytes(b),
                    Body::File(p) => Source::File(p),
                };
                let d = md.deliver(&names, &[Source::Bytes(&prefix), src]);
                d.map(|d| (d, wire_size_of(&prefix, &body)))
            }));
        }
        let mut results = Vec::with_capacity(tasks.len());
        for t in tasks {
            results.push(match t.await {
                Ok(r) => r,
                Err(e) => Err(io::Error::other(e)),
            });
        }
        if let Some(pos) = results.iter().position(|r| r.is_err()) {
            for (r, f) in results.iter().zip(&folders) {
                if let Ok((d, _)) = r {
                    let _ = f.maildir.remove(&Entry {
                        subdir: Subdir::New,
                        name: d.name.clone(),
                    });
                }
            }
            let Err(e) = results.swap_remove(pos) else {
                unreachable!()
            };
            return Err(StoreError::io("deliver")(e));
        }
        self.mark_own(results.iter().zip(&folders).filter_map(|(r, f)| {
            r.as_ref()
                .ok()
                .map(|(d, _)| f.maildir.file_path(Subdir::New, &d.name))
        }));
        let mut delivered = Vec::with_capacity(results.len());
        for (r, folder) in results.into_iter().zip(&folders) {
            let (d, wire) = r.map_err(StoreError::io("deliver"))?;
            let row = MessageRecord {
                uniq: d.name.clone(),
                subdir: Subdir::New,
                file_name: d.name.clone(),
                flags: String::new(),
                size: d.size,
                wire_size: wire.unwrap_or(d.size),
                mtime: d.mtime,
                internal_date: d.mtime,
                uidl: uidl_for(&d.name),
                uid: 0,
                meta: meta.clone(),
            };
            if let Err(e) = self.index.put_messages(folder.id, vec![row]).await {
                tracing::error!(error = %e, file = %d.name,
                    "delivered message not recorded in the index; the next folder sync adds it");
            }
            delivered.push(d);
        }
        Ok(delivered)
    }

    // ---- reading and removing -----------------------------------------

    /// Opens a message file, with its metadata. If the indexed name is gone
    /// (another client changed its flags) the folder is searched for the
    /// key; if the key is gone too the row is dropped and `None` returned.
    pub async fn open_message(
        &self,
        folder: &Folder,
        m: &MessageRecord,
    ) -> Result<Option<(File, std::fs::Metadata)>, StoreError> {
        let path = folder.maildir.file_path(m.subdir, &m.file_name);
        match crate::maildir::open_message_file(&path) {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StoreError::io(format!("open {}", path.display()))(e));
            }
            Err(_) => {}
        }
        let (entries, _) = folder.maildir.list().map_err(StoreError::io(format!(
            "list {}",
            folder.maildir.path().display()
        )))?;
        if let Some(e) = entries.iter().find(|e| e.key(self.sep) == m.uniq) {
            let p = folder.maildir.file_path(e.subdir, &e.name);
            return crate::maildir::open_message_file(&p)
                .map(Some)
                .map_err(StoreError::io(format!("open {}", p.display())));
        }
        self.index
            .delete_messages(folder.id, vec![m.uniq.clone()])
            .await?;
        Ok(None)
    }

    /// Removes messages (POP3 UPDATE state): unlinks the files, fsyncs the
    /// folder, then drops the rows. Returns the number that could not be
    /// removed.
    pub async fn expunge(
        &self,
        folder: &Folder,
        msgs: Vec<MessageRecord>,
    ) -> Result<usize, StoreError> {
        self.mark_own(
            msgs.iter()
                .map(|m| folder.maildir.file_path(m.subdir, &m.file_name)),
        );
        let md = folder.maildir.clone();
        let sep = self.sep;
        let (gone, failed) = tokio::task::spawn_blocking(move || {
            let mut gone = Vec::new();
            let mut failed = 0;
            let (entries, _) = md.list().unwrap_or_default();
            for m in msgs {
                // Remove whatever name the key has now, in case a flag
                // change renamed it since the listing.
                let mut targets: Vec<Entry> = entries
                    .iter()
                    .filter(|e| e.key(sep) == m.uniq)
                    .cloned()
                    .collect();
                if targets.is_empty() {
                    targets.push(Entry {
                        subdir: m.subdir,
                        name: m.file_name.clone(),
                    });
                }
                if targets.iter().all(|e| md.remove(e).is_ok()) {
                    gone.push(m.uniq);
                } else {
                    failed += 1;
                }
            }
            let _ = md.sync();
            (gone, failed)
        })
        .await
        .map_err(|e| StoreError::io("expunge")(io::Error::other(e)))?;
        self.index.delete_messages(folder.id, gone).await?;
        Ok(failed)
    }

    /// Sets the flags of a message (file rename, then index).
    pub async fn set_flags(
        &self,
        folder: &Folder,
        m: &MessageRecord,
        flags: Flags,
    ) -> Result<MessageRecord, StoreError> {
        let entry = Entry {
            subdir: m.subdir,
            name: m.file_name.clone(),
        };
        let md = folder.maildir.clone();
        let f = flags.clone();
        let name = tokio::task::spawn_blocking(move || md.set_flags(&entry, &f))
            .await
            .map_err(|e| StoreError::io("set flags")(io::Error::other(e)))?
            .map_err(StoreError::io(format!("rename {}", m.file_name)))?;
        self.mark_own([
            folder.maildir.file_path(m.subdir, &m.file_name),
            folder.maildir.file_path(Subdir::Cur, &name),
        ]);
        let mut row = m.clone();
        row.subdir = Subdir::Cur;
        row.file_name = name;
        row.flags = flags.as_str().to_string();
        self.index
            .put_messages(folder.id, vec![row.clone()])
            .await?;
        Ok(row)
    }
}

/// The index row of a domain file.
pub fn domain_record(f: &DomainFile) -> DomainRecord {
    DomainRecord {
        name: f.name.clone(),
        created: f.created.clone(),
    }
}

/// The index row of an account file.
pub fn user_record(f: &UserFile) -> UserRecord {
    UserRecord {
        address: f.address.clone(),
        domain: f
            .address
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default(),
        password: f.password.clone(),
        display_name: f.display_name.clone(),
        quota_bytes: f.quota_bytes,
        disabled: f.disabled,
        created: f.created.clone(),
    }
}

fn meta_of_body(body: &Body) -> Meta {
    match body {
        Body::Memory(b) => parse_meta(&b[..b.len().min(MAX_PARSE as usize)]),
        Body::File(p) => {
            let mut buf = Vec::new();
            match File::open(p).and_then(|f| f.take(MAX_PARSE).read_to_end(&mut buf)) {
                Ok(_) => parse_meta(&buf),
                Err(_) => Meta::unreadable(),
            }
        }
    }
}

/// The canonical size of prefix + body; `None` for a spooled body, which the
/// SMTP receiver has already canonicalised (so its octets are its size).
fn wire_size_of(prefix: &[u8], body: &Body) -> Option<u64> {
    match body {
        Body::Memory(b) => {
            let mut s = WireSizer::default();
            s.push(prefix);
            s.push(b);
            Some(s.finish())
        }
        Body::File(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidls_are_valid_and_stable() {
        assert_eq!(
            uidl_for("1717290000.M1P100Q1.host"),
            "1717290000.M1P100Q1.host"
        );
        let odd = uidl_for("1717290000.M15P100Q15.보고서 사본");
        assert_eq!(odd, uidl_for("1717290000.M15P100Q15.보고서 사본"));
        assert_eq!(odd.len(), 33);
        assert!(odd.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_ne!(uidl_for(&"a".repeat(71)), uidl_for(&"a".repeat(72)));
        assert_eq!(uidl_for(&"a".repeat(70)), "a".repeat(70));
    }
}
