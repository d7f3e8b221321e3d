//! The index: a derived, rebuildable mirror of the data folder that makes
//! reads fast (account lookups, folder listings with sizes and parsed header
//! fields) and holds the cross-process POP3 maildrop locks.
//!
//! Nothing is written here that the files could not regenerate, except the
//! locks, which only matter while a session holds them. One contract, several
//! backends: SQLite (embedded, `DIR/index.sqlite`) is the default; MySQL or
//! MariaDB (`mysql://user:pass@host:port/db`) lets several servers share one
//! index.

mod mysql;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;

use crate::maildir::Subdir;
use crate::message::Meta;

pub use mysql::MysqlIndex;
pub use sqlite::SqliteIndex;

/// The schema version this build writes. Older indexes are upgraded at open;
/// newer ones are refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Failures of the index.
#[derive(Debug, Error)]
pub enum IndexError {
    /// An SQLite call failed.
    #[error("sqlite index: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A MySQL or MariaDB call failed (connection, server error, a value
    /// that does not decode).
    #[error("mysql index: {0}")]
    Mysql(#[from] mysql_async::Error),
    /// Another process held the schema-migration lock for too long.
    #[error(
        "another nmail has been creating or upgrading the index schema for over {secs} s; \
         try again when it is done"
    )]
    MigrationBusy {
        /// How long this process waited.
        secs: u64,
    },
    /// The index was written by a newer nmail.
    #[error(
        "the index has schema version {found}, newer than this nmail understands ({known}); \
         run a newer nmail, or delete the index and run nmail-resync to rebuild it"
    )]
    TooNew {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// `index.url` is not one this build can open (shown without its
    /// password).
    #[error(
        "index url {0:?} is not supported (use sqlite://PATH or \
         mysql://USER:PASSWORD@HOST:PORT/DATABASE)"
    )]
    Url(String),
    /// The writer thread stopped (the process is shutting down).
    #[error("the index writer has stopped")]
    Closed,
    /// A blocking task panicked or was cancelled.
    #[error("index task failed: {0}")]
    Task(String),
}

/// A hosted domain as the index mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    /// Lower-case domain name.
    pub name: String,
    /// When it was added (RFC 3339).
    pub created: String,
}

/// An account as the index mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// `local@domain`, lower case.
    pub address: String,
    /// Its domain.
    pub domain: String,
    /// Argon2id PHC string.
    pub password: String,
    /// Name shown by the webmail.
    pub display_name: Option<String>,
    /// Mailbox size limit in octets.
    pub quota_bytes: Option<u64>,
    /// Disabled accounts neither receive nor log in.
    pub disabled: bool,
    /// When it was added (RFC 3339).
    pub created: String,
}

/// A maildir folder of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    /// Index-local id.
    pub id: i64,
    /// The owning account.
    pub address: String,
    /// `INBOX`, or a Maildir++ folder name such as `Sent`.
    pub name: String,
    /// Path relative to the data folder.
    pub path: String,
    /// The folder's IMAP UIDVALIDITY (RFC 3501 §2.3.1.1), from its
    /// `nmail-uidlist`; 0 until the list exists.
    pub uidvalidity: u32,
    /// The UID the next new message will get.
    pub uidnext: u32,
}

/// One message file as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The maildir key (unique name).
    pub uniq: String,
    /// `new/` or `cur/`.
    pub subdir: Subdir,
    /// The whole file name, info included.
    pub file_name: String,
    /// The flags of the info part.
    pub flags: String,
    /// Octets of the file.
    pub size: u64,
    /// Octets in canonical CRLF form, as POP3 RETR sends them before
    /// dot-stuffing.
    pub wire_size: u64,
    /// File modification time (seconds).
    pub mtime: i64,
    /// Arrival time (seconds): the mtime when first indexed.
    pub internal_date: i64,
    /// The POP3 unique-id, derived from `uniq` (see [`crate::store::uidl_for`]).
    pub uidl: String,
    /// The IMAP UID from the folder's `nmail-uidlist`; 0 until one is
    /// assigned. Writing a row with 0 keeps the UID the index already has.
    pub uid: u32,
    /// Parsed header fields.
    pub meta: Meta,
}

/// The index of a data folder. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Index {
    backend: Arc<Backend>,
}

enum Backend {
    Sqlite(SqliteIndex),
    Mysql(MysqlIndex),
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.backend {
            Backend::Sqlite(s) => write!(f, "Index(sqlite {})", s.path().display()),
            Backend::Mysql(m) => write!(f, "Index(mysql {})", m.label()),
        }
    }
}

/// Calls the same method on whichever backend is open.
macro_rules! dispatch {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match &*$self.backend {
            Backend::Sqlite(b) => b.$m($($a),*).await,
            Backend::Mysql(b) => b.$m($($a),*).await,
        }
    };
}

impl Index {
    /// Opens the index named by `url` (from `index.url`), relative paths
    /// being inside `data_root`, creating or upgrading its schema.
    ///
    /// `sqlite://index.sqlite` is `DIR/index.sqlite`; `sqlite:///abs/path`
    /// is an absolute path. `mysql://user:pass@host:port/db` is a MySQL or
    /// MariaDB database (which must exist; its tables are created here).
    pub async fn open(url: &str, data_root: &Path) -> Result<Index, IndexError> {
        let backend = if let Some(rest) = url.strip_prefix("sqlite://") {
            Backend::Sqlite(SqliteIndex::open(data_root.join(rest)).await?)
        } else if url.starts_with("mysql://") {
            Backend::Mysql(MysqlIndex::open(url).await?)
        } else {
            return Err(IndexError::Url(redact(url)));
        };
        Ok(Index {
            backend: Arc::new(backend),
        })
    }

    /// Adds or updates a domain.
    pub async fn put_domain(&self, d: DomainRecord) -> Result<(), IndexError> {
        dispatch!(self.put_domain(d))
    }

    /// Forgets a domain with its accounts, folders and messages.
    pub async fn delete_domain(&self, name: &str) -> Result<(), IndexError> {
        dispatch!(self.delete_domain(name.to_string()))
    }

    /// All domains, sorted by name.
    pub async fn domains(&self) -> Result<Vec<DomainRecord>, IndexError> {
        dispatch!(self.domains())
    }

    /// True when `name` (lower case) is a hosted domain.
    pub async fn has_domain(&self, name: &str) -> Result<bool, IndexError> {
        dispatch!(self.has_domain(name.to_string()))
    }

    /// Adds or updates an account.
    pub async fn put_user(&self, u: UserRecord) -> Result<(), IndexError> {
        dispatch!(self.put_user(u))
    }

    /// Forgets an account with its folders and messages.
    pub async fn delete_user(&self, address: &str) -> Result<(), IndexError> {
        dispatch!(self.delete_user(address.to_string()))
    }

    /// One account by address (lower case).
    pub async fn user(&self, address: &str) -> Result<Option<UserRecord>, IndexError> {
        dispatch!(self.user(address.to_string()))
    }

    /// All accounts, sorted by address.
    pub async fn users(&self) -> Result<Vec<UserRecord>, IndexError> {
        dispatch!(self.users())
    }

    /// The id of a folder, creating its row if needed.
    pub async fn folder(&self, address: &str, name: &str, path: &str) -> Result<i64, IndexError> {
        dispatch!(self.folder(address.to_string(), name.to_string(), path.to_string()))
    }

    /// All folders.
    pub async fn folders(&self) -> Result<Vec<FolderRecord>, IndexError> {
        dispatch!(self.folders())
    }

    /// One folder by id.
    pub async fn folder_record(&self, id: i64) -> Result<Option<FolderRecord>, IndexError> {
        dispatch!(self.folder_record(id))
    }

    /// Records UIDs read from or added to a folder's `nmail-uidlist`,
    /// with the list's UIDVALIDITY and next UID, in one transaction.
    pub async fn set_uids(
        &self,
        folder: i64,
        uidvalidity: u32,
        uidnext: u32,
        uids: Vec<(String, u32)>,
    ) -> Result<(), IndexError> {
        dispatch!(self.set_uids(folder, uidvalidity, uidnext, uids))
    }

    /// Octets used by an account: the sum of its message files' sizes in all
    /// its folders (what quotas count).
    pub async fn usage(&self, address: &str) -> Result<u64, IndexError> {
        dispatch!(self.usage(address.to_string()))
    }

    /// Forgets a folder and its messages.
    pub async fn delete_folder(&self, id: i64) -> Result<(), IndexError> {
        dispatch!(self.delete_folder(id))
    }

    /// The messages of a folder in arrival order: by internal date, and
    /// within one second by UID (assigned as messages arrive; a maildir
    /// name's microseconds do not sort as text), then by key. POP3 message
    /// numbers follow this order, so mail that arrives later is numbered
    /// after the mail already there.
    pub async fn messages(&self, folder: i64) -> Result<Vec<MessageRecord>, IndexError> {
        dispatch!(self.messages(folder))
    }

    /// One message row by key.
    pub async fn message(
        &self,
        folder: i64,
        uniq: &str,
    ) -> Result<Option<MessageRecord>, IndexError> {
        dispatch!(self.message(folder, uniq.to_string()))
    }

    /// Adds or replaces message rows of a folder, in one transaction.
    pub async fn put_messages(
        &self,
        folder: i64,
        rows: Vec<MessageRecord>,
    ) -> Result<(), IndexError> {
        dispatch!(self.put_messages(folder, rows))
    }

    /// Removes message rows by key, in one transaction.
    pub async fn delete_messages(&self, folder: i64, uniqs: Vec<String>) -> Result<(), IndexError> {
        dispatch!(self.delete_messages(folder, uniqs))
    }

    /// Takes the lock `name` for `owner` for `ttl_secs`, or renews it if
    /// `owner` already holds it. False when someone else holds it and it
    /// has not expired.
    pub async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        ttl_secs: i64,
    ) -> Result<bool, IndexError> {
        dispatch!(self.try_lock(name.to_string(), owner.to_string(), ttl_secs))
    }

    /// Releases a lock held by `owner`.
    pub async fn unlock(&self, name: &str, owner: &str) -> Result<(), IndexError> {
        dispatch!(self.unlock(name.to_string(), owner.to_string()))
    }

    /// Every lock held: (name, owner, expiry in seconds since the epoch).
    pub async fn locks(&self) -> Result<Vec<(String, String, i64)>, IndexError> {
        dispatch!(self.locks())
    }
}

/// `url` without the password of its `user:password@` part, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('/') {
        Some((a, _)) => (a, &rest[a.len()..]),
        None => (rest, ""),
    };
    match auth.rsplit_once('@') {
        Some((cred, at)) => match cred.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{at}{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords() {
        let cases = [
            ("mysql://u:secret@h:3306/db", "mysql://u:***@h:3306/db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("mysql://h/db", "mysql://h/db"),
            ("mysql://root@h/db", "mysql://root@h/db"),
            ("index.sqlite", "index.sqlite"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
    }
}
