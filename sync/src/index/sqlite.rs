//! The SQLite backend: one file in WAL mode, one writer thread that commits
//! whatever writes have queued up in a single transaction (so a burst of
//! deliveries costs one commit, not one each), and a few reader connections
//! used from tokio's blocking pool.
//!
//! `synchronous = NORMAL` is enough: the index is derived, and WAL keeps the
//! file consistent across a crash even if the last commits are lost, which
//! start-up and the resync then redo from the files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::{mpsc, oneshot};

use super::{DomainRecord, FolderRecord, IndexError, MessageRecord, SCHEMA_VERSION, UserRecord};
use crate::maildir::Subdir;
use crate::message::{Meta, ParseStatus};

/// Schema of version 1. Later versions append migrations to [`MIGRATIONS`].
const SCHEMA_V1: &str = "
CREATE TABLE domains (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL
);
CREATE TABLE users (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    password TEXT NOT NULL,
    display_name TEXT,
    quota_bytes INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE INDEX users_domain ON users(domain);
CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    UNIQUE (address, name)
);
CREATE TABLE messages (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uniq TEXT NOT NULL,
    subdir TEXT NOT NULL,
    file_name TEXT NOT NULL,
    flags TEXT NOT NULL,
    size INTEGER NOT NULL,
    wire_size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    uidl TEXT NOT NULL,
    hdr_from TEXT,
    hdr_to TEXT,
    subject TEXT,
    hdr_date INTEGER,
    message_id TEXT,
    has_attachment INTEGER NOT NULL,
    parse_status INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uniq)
) WITHOUT ROWID;
CREATE INDEX messages_order ON messages(folder_id, internal_date, uniq);
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires INTEGER NOT NULL
);
";

/// Version 2: IMAP UIDs from the folders' `nmail-uidlist` files.
const MIGRATION_V2: &str = "
ALTER TABLE messages ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN uidvalidity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN uidnext INTEGER NOT NULL DEFAULT 1;
";

/// Migrations from version N to N+1, in order; `MIGRATIONS[0]` creates v1.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, MIGRATION_V2];

type Job = Box<dyn FnOnce(&Connection) -> Box<dyn FnOnce(Option<&rusqlite::Error>) + Send> + Send>;

/// SQLite index at one path.
pub struct SqliteIndex {
    path: PathBuf,
    writer: mpsc::UnboundedSender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    restrict(path);
    c.busy_timeout(Duration::from_secs(30))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // 32 MiB of page cache per connection: a resync touches every row.
    c.pragma_update(None, "cache_size", -32768)?;
    // Checkpoint the WAL every 16 MiB rather than every 4 MiB: fewer
    // fsyncs of the database file during a rebuild.
    c.pragma_update(None, "wal_autocheckpoint", 4000)?;
    Ok(c)
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction. `BEGIN
/// IMMEDIATE` takes the write lock before the version is read, so of two
/// processes opening a fresh file at once the second waits (busy timeout)
/// and then finds the work done, instead of creating the tables again.
/// The index holds every password hash and every message's From, To and
/// Subject: readable by the server's user only (mode 0600, whatever the
/// umask). SQLite gives its -wal and -shm files the database file's mode.
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

fn migrate(c: &Connection) -> Result<(), IndexError> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let result = migrate_locked(c);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match (result, c.execute_batch(end)) {
        (Err(e), _) => Err(e),
        (Ok(()), r) => Ok(r?),
    }
}

fn migrate_locked(c: &Connection) -> Result<(), IndexError> {
    c.execute_batch("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")?;
    let found: i64 = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(IndexError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (v, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        c.execute_batch(sql)?;
        c.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![(v as i64 + 1).to_string()],
        )?;
    }
    Ok(())
}

/// Opens the file and migrates it. Two processes opening a fresh file at
/// once can meet SQLITE_BUSY without the busy timeout being applied (while
/// one of them switches the file to WAL, SQLite reports a would-be deadlock
/// at once), so a busy open is tried again for a while.
fn open_and_migrate(path: &Path) -> Result<Connection, IndexError> {
    let mut tries = 0;
    loop {
        match connect(path)
            .map_err(IndexError::from)
            .and_then(|c| migrate(&c).map(|()| c))
        {
            Err(IndexError::Sqlite(e))
                if tries < 100
                    && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            r => return r,
        }
    }
}

/// Runs queued jobs, committing each batch once. Each job runs inside a
/// savepoint, so one failing job does not undo the others of its batch;
/// jobs learn their fate only after the commit.
fn writer_loop(conn: Connection, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            for job in batch {
                job(&conn)(Some(&e));
            }
            continue;
        }
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            let _ = conn.execute_batch("SAVEPOINT job");
            done.push(job(&conn));
            let _ = conn.execute_batch("RELEASE job");
        }
        let commit = conn.execute_batch("COMMIT");
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for d in done {
            d(commit.as_ref().err());
        }
    }
}

fn subdir_of(s: &str) -> Subdir {
    Subdir::parse(s).unwrap_or(Subdir::Cur)
}

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    Ok(MessageRecord {
        uniq: r.get(0)?,
        subdir: subdir_of(&r.get::<_, String>(1)?),
        file_name: r.get(2)?,
        flags: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        wire_size: r.get::<_, i64>(5)? as u64,
        mtime: r.get(6)?,
        internal_date: r.get(7)?,
        uidl: r.get(8)?,
        uid: r.get::<_, i64>(16)? as u32,
        meta: Meta {
            from: r.get(9)?,
            to: r.get(10)?,
            subject: r.get(11)?,
            date: r.get(12)?,
            message_id: r.get(13)?,
            has_attachment: r.get::<_, i64>(14)? != 0,
            status: ParseStatus::from_i64(r.get(15)?),
        },
    })
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        address: r.get(0)?,
        domain: r.get(1)?,
        password: r.get(2)?,
        display_name: r.get(3)?,
        quota_bytes: r.get::<_, Option<i64>>(4)?.map(|q| q as u64),
        disabled: r.get::<_, i64>(5)? != 0,
        created: r.get(6)?,
    })
}

const MESSAGE_COLUMNS: &str =
    "uniq, subdir, file_name, flags, size, wire_size, mtime, internal_date, uidl,
    hdr_from, hdr_to, subject, hdr_date, message_id, has_attachment, parse_status, uid";

const FOLDER_COLUMNS: &str = "id, address, name, path, uidvalidity, uidnext";

fn folder_from_row(r: &Row<'_>) -> rusqlite::Result<FolderRecord> {
    Ok(FolderRecord {
        id: r.get(0)?,
        address: r.get(1)?,
        name: r.get(2)?,
        path: r.get(3)?,
        uidvalidity: r.get::<_, i64>(4)? as u32,
        uidnext: r.get::<_, i64>(5)? as u32,
    })
}

const USER_COLUMNS: &str =
    "address, domain, password, display_name, quota_bytes, disabled, created";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl SqliteIndex {
    /// Opens (creating or upgrading) the index file at `path`.
    pub async fn open(path: PathBuf) -> Result<Self, IndexError> {
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_and_migrate(&p))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))??;
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("index-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| IndexError::Task(e.to_string()))?;
        Ok(SqliteIndex {
            path,
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write<T, F>(&self, f: F) -> Result<T, IndexError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, IndexError>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            if result.is_err() {
                let _ = conn.execute_batch("ROLLBACK TO job");
            }
            Box::new(move |commit_err: Option<&rusqlite::Error>| {
                let out = match (result, commit_err) {
                    (Err(e), _) => Err(e.into()),
                    (Ok(_), Some(e)) => Err(IndexError::Task(format!("commit failed: {e}"))),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(out);
            })
        });
        self.writer.send(job).map_err(|_| IndexError::Closed)?;
        rx.await.map_err(|_| IndexError::Closed)?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, IndexError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().ok().and_then(|mut v| v.pop());
            let conn = match conn {
                Some(c) => c,
                None => connect(&path)?,
            };
            let out = f(&conn);
            if let Ok(mut v) = readers.lock()
                && v.len() < 8
            {
                v.push(conn);
            }
            Ok(out?)
        })
        .await
        .map_err(|e| IndexError::Task(e.to_string()))?
    }

    pub(super) async fn put_domain(&self, d: DomainRecord) -> Result<(), IndexError> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO domains (name, created) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET created = excluded.created",
            )?
            .execute(params![d.name, d.created])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn delete_domain(&self, name: String) -> Result<(), IndexError> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM folders WHERE address IN (SELECT address FROM users WHERE domain = ?1)",
                params![name],
            )?;
            c.execute("DELETE FROM users WHERE domain = ?1", params![name])?;
            c.execute("DELETE FROM domains WHERE name = ?1", params![name])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn domains(&self) -> Result<Vec<DomainRecord>, IndexError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT name, created FROM domains ORDER BY name")?;
            st.query_map([], |r| {
                Ok(DomainRecord {
                    name: r.get(0)?,
                    created: r.get(1)?,
                })
            })?
            .collect()
        })
        .await
    }

    pub(super) async fn has_domain(&self, name: String) -> Result<bool, IndexError> {
        self.read(move |c| {
            c.prepare_cached("SELECT 1 FROM domains WHERE name = ?1")?
                .exists(params![name])
        })
        .await
    }

    pub(super) async fn put_user(&self, u: UserRecord) -> Result<(), IndexError> {
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(address) DO UPDATE SET domain = excluded.domain,
                   password = excluded.password, display_name = excluded.display_name,
                   quota_bytes = excluded.quota_bytes, disabled = excluded.disabled,
                   created = excluded.created"
            ))?
            .execute(params![
                u.address,
                u.domain,
                u.password,
                u.display_name,
                u.quota_bytes.map(|q| q as i64),
                u.disabled as i64,
                u.created
            ])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn delete_user(&self, address: String) -> Result<(), IndexError> {
        self.write(move |c| {
            c.execute("DELETE FROM folders WHERE address = ?1", params![address])?;
            c.execute("DELETE FROM users WHERE address = ?1", params![address])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn user(&self, address: String) -> Result<Option<UserRecord>, IndexError> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE address = ?1"
            ))?
            .query_row(params![address], user_from_row)
            .optional()
        })
        .await
    }

    pub(super) async fn users(&self) -> Result<Vec<UserRecord>, IndexError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY address"
            ))?;
            st.query_map([], user_from_row)?.collect()
        })
        .await
    }

    pub(super) async fn folder(
        &self,
        address: String,
        name: String,
        path: String,
    ) -> Result<i64, IndexError> {
        let (a, n) = (address.clone(), name.clone());
        let found = self
            .read(move |c| {
                c.prepare_cached("SELECT id FROM folders WHERE address = ?1 AND name = ?2")?
                    .query_row(params![a, n], |r| r.get(0))
                    .optional()
            })
            .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO folders (address, name, path) VALUES (?1, ?2, ?3)
                 ON CONFLICT(address, name) DO UPDATE SET path = excluded.path",
            )?
            .execute(params![address, name, path])?;
            c.query_row(
                "SELECT id FROM folders WHERE address = ?1 AND name = ?2",
                params![address, name],
                |r| r.get(0),
            )
        })
        .await
    }

    pub(super) async fn folders(&self) -> Result<Vec<FolderRecord>, IndexError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {FOLDER_COLUMNS} FROM folders ORDER BY path"
            ))?;
            st.query_map([], folder_from_row)?.collect()
        })
        .await
    }

    pub(super) async fn folder_record(&self, id: i64) -> Result<Option<FolderRecord>, IndexError> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?1"
            ))?
            .query_row(params![id], folder_from_row)
            .optional()
        })
        .await
    }

    pub(super) async fn set_uids(
        &self,
        folder: i64,
        uidvalidity: u32,
        uidnext: u32,
        uids: Vec<(String, u32)>,
    ) -> Result<(), IndexError> {
        self.write(move |c| {
            c.prepare_cached("UPDATE folders SET uidvalidity = ?2, uidnext = ?3 WHERE id = ?1")?
                .execute(params![folder, uidvalidity as i64, uidnext as i64])?;
            let mut st = c.prepare_cached(
                "UPDATE messages SET uid = ?3 WHERE folder_id = ?1 AND uniq = ?2",
            )?;
            for (uniq, uid) in uids {
                st.execute(params![folder, uniq, uid as i64])?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn usage(&self, address: String) -> Result<u64, IndexError> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT COALESCE(SUM(m.size), 0) FROM messages m JOIN folders f ON f.id = m.folder_id
                 WHERE f.address = ?1",
            )?
            .query_row(params![address], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
        })
        .await
    }

    pub(super) async fn delete_folder(&self, id: i64) -> Result<(), IndexError> {
        self.write(move |c| {
            c.execute("DELETE FROM folders WHERE id = ?1", params![id])?;
            Ok(())
        })
        .await
    }

    pub(super) async fn message(
        &self,
        folder: i64,
        uniq: String,
    ) -> Result<Option<MessageRecord>, IndexError> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder_id = ?1 AND uniq = ?2"
            ))?
            .query_row(params![folder, uniq], message_from_row)
            .optional()
        })
        .await
    }

    pub(super) async fn messages(&self, folder: i64) -> Result<Vec<MessageRecord>, IndexError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder_id = ?1 ORDER BY internal_date, uid = 0, uid, uniq"),
            )?;
            st.query_map(params![folder], message_from_row)?.collect()
        })
        .await
    }

    pub(super) async fn put_messages(
        &self,
        folder: i64,
        rows: Vec<MessageRecord>,
    ) -> Result<(), IndexError> {
        self.write(move |c| {
            let mut st = c.prepare_cached(
                "INSERT INTO messages (folder_id, uniq, subdir, file_name, flags, size,
                    wire_size, mtime, internal_date, uidl, hdr_from, hdr_to, subject, hdr_date,
                    message_id, has_attachment, parse_status, uid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT(folder_id, uniq) DO UPDATE SET subdir = excluded.subdir,
                    file_name = excluded.file_name, flags = excluded.flags, size = excluded.size,
                    wire_size = excluded.wire_size, mtime = excluded.mtime,
                    internal_date = excluded.internal_date, uidl = excluded.uidl,
                    hdr_from = excluded.hdr_from, hdr_to = excluded.hdr_to,
                    subject = excluded.subject, hdr_date = excluded.hdr_date,
                    message_id = excluded.message_id, has_attachment = excluded.has_attachment,
                    parse_status = excluded.parse_status,
                    uid = CASE WHEN excluded.uid = 0 THEN messages.uid ELSE excluded.uid END",
            )?;
            for m in rows {
                st.execute(params![
                    folder,
                    m.uniq,
                    m.subdir.as_str(),
                    m.file_name,
                    m.flags,
                    m.size as i64,
                    m.wire_size as i64,
                    m.mtime,
                    m.internal_date,
                    m.uidl,
                    m.meta.from,
                    m.meta.to,
                    m.meta.subject,
                    m.meta.date,
                    m.meta.message_id,
                    m.meta.has_attachment as i64,
                    m.meta.status as i64,
                    m.uid as i64,
                ])?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn delete_messages(
        &self,
        folder: i64,
        uniqs: Vec<String>,
    ) -> Result<(), IndexError> {
        self.write(move |c| {
            let mut st =
                c.prepare_cached("DELETE FROM messages WHERE folder_id = ?1 AND uniq = ?2")?;
            for u in uniqs {
                st.execute(params![folder, u])?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn try_lock(
        &self,
        name: String,
        owner: String,
        ttl: i64,
    ) -> Result<bool, IndexError> {
        self.write(move |c| {
            let t = now();
            // Take the lock when it is free, expired, or already ours.
            let n = c
                .prepare_cached(
                    "INSERT INTO locks (name, owner, expires) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
                     WHERE locks.owner = excluded.owner OR locks.expires < ?4",
                )?
                .execute(params![name, owner, t + ttl, t])?;
            Ok(n == 1)
        })
        .await
    }

    pub(super) async fn unlock(&self, name: String, owner: String) -> Result<(), IndexError> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM locks WHERE name = ?1 AND owner = ?2",
                params![name, owner],
            )?;
            Ok(())
        })
        .await
    }

    pub(super) async fn locks(&self) -> Result<Vec<(String, String, i64)>, IndexError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT name, owner, expires FROM locks ORDER BY name")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .await
    }
}
