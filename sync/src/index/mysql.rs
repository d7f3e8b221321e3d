//! The MySQL/MariaDB backend, for several servers sharing one index (the
//! data lives in the database named by `index.url`, never on local disk).
//!
//! Every call takes a connection from a [`mysql_async::Pool`]; writes that
//! touch several rows run in one transaction, and bulk writes go in
//! multi-row statements so that a resync of a large folder costs a few
//! round trips per thousand messages, not one per message.
//!
//! Column types follow the contract of the SQLite backend, with two rules of
//! MySQL's own:
//!
//! - Maildir keys, file names, folder names, folder paths and lock names are
//!   `VARBINARY`: they are byte strings compared exactly. `utf8mb4_bin` would
//!   not do, because it is a PAD SPACE collation: `"k"` and `"k "` would be
//!   the same primary key. Rust strings are UTF-8 already, so nothing is lost.
//! - Domain names and addresses are `utf8mb4_bin` text (lower case, never
//!   ending in a space). Every indexed column stays within InnoDB's 3072-byte
//!   key limit (a `utf8mb4` character counts 4 bytes).

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{
    Conn, DriverError, Opts, OptsBuilder, Params, Pool, Row, Transaction, TxOpts, Value,
};

use super::{DomainRecord, FolderRecord, IndexError, MessageRecord, SCHEMA_VERSION, UserRecord};
use crate::maildir::Subdir;
use crate::message::{Meta, ParseStatus};

/// Options for every table: InnoDB for transactions and foreign keys,
/// DYNAMIC rows for the 3072-byte key limit.
macro_rules! table_opts {
    () => {
        "ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    };
}

/// Schema of version 1, the same tables and columns as SQLite's.
/// `IF NOT EXISTS` lets a migration cut short by a crash run again: MySQL
/// commits each DDL statement on its own, so a migration is not atomic.
const SCHEMA_V1: &[&str] = &[
    concat!(
        "CREATE TABLE IF NOT EXISTS domains (
            name VARCHAR(255) NOT NULL PRIMARY KEY,
            created VARCHAR(64) NOT NULL
        ) ",
        table_opts!()
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS users (
            address VARCHAR(320) NOT NULL PRIMARY KEY,
            domain VARCHAR(255) NOT NULL,
            password TEXT NOT NULL,
            display_name TEXT NULL,
            quota_bytes BIGINT NULL,
            disabled TINYINT NOT NULL DEFAULT 0,
            created VARCHAR(64) NOT NULL,
            KEY users_domain (domain)
        ) ",
        table_opts!()
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS folders (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            address VARCHAR(320) NOT NULL,
            name VARBINARY(255) NOT NULL,
            path VARBINARY(1024) NOT NULL,
            UNIQUE KEY folders_path (path),
            UNIQUE KEY folders_owner (address, name)
        ) ",
        table_opts!()
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS messages (
            folder_id BIGINT NOT NULL,
            uniq VARBINARY(255) NOT NULL,
            subdir VARBINARY(8) NOT NULL,
            file_name VARBINARY(255) NOT NULL,
            flags VARBINARY(255) NOT NULL,
            size BIGINT NOT NULL,
            wire_size BIGINT NOT NULL,
            mtime BIGINT NOT NULL,
            internal_date BIGINT NOT NULL,
            uidl VARBINARY(255) NOT NULL,
            hdr_from TEXT NULL,
            hdr_to TEXT NULL,
            subject TEXT NULL,
            hdr_date BIGINT NULL,
            message_id TEXT NULL,
            has_attachment TINYINT NOT NULL,
            parse_status INT NOT NULL,
            PRIMARY KEY (folder_id, uniq),
            KEY messages_order (folder_id, internal_date, uniq),
            CONSTRAINT messages_folder FOREIGN KEY (folder_id)
                REFERENCES folders (id) ON DELETE CASCADE
        ) ",
        table_opts!()
    ),
    concat!(
        "CREATE TABLE IF NOT EXISTS locks (
            name VARBINARY(512) NOT NULL PRIMARY KEY,
            owner VARBINARY(512) NOT NULL,
            expires BIGINT NOT NULL
        ) ",
        table_opts!()
    ),
];

/// Version 2: IMAP UIDs from the folders' `nmail-uidlist` files. Re-running
/// it after a crash meets "duplicate column", which [`migrate`] skips.
const MIGRATION_V2: &[&str] = &[
    "ALTER TABLE messages ADD COLUMN uid INT UNSIGNED NOT NULL DEFAULT 0",
    "ALTER TABLE folders ADD COLUMN uidvalidity INT UNSIGNED NOT NULL DEFAULT 0,
        ADD COLUMN uidnext INT UNSIGNED NOT NULL DEFAULT 1",
];

/// Migrations from version N to N+1, in order; `MIGRATIONS[0]` creates v1.
const MIGRATIONS: &[&[&str]] = &[SCHEMA_V1, MIGRATION_V2];

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// How long an open waits for another process that is migrating the schema.
const MIGRATION_WAIT_SECS: u64 = 300;

/// Session settings of every connection. The SQL mode is pinned so that a
/// server configured otherwise cannot change what our statements mean:
/// strict (too-long data is an error, not silently cut), and without
/// `SIMULTANEOUS_ASSIGNMENT` or `ANSI_QUOTES`.
const SESSION_SETUP: &str = "SET NAMES utf8mb4 COLLATE utf8mb4_bin, \
     sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'";

/// Rows per multi-row INSERT. 18 placeholders each stays far below the
/// protocol's 65,535, and a few hundred rows amortise the round trip; on
/// MariaDB 10.11, 200-250 rows did as well as 500 to 2,000 or better
/// (`benches/index_load.rs`).
const INSERT_ROWS: usize = 250;

/// Rough payload per statement, kept far below MariaDB's default
/// `max_allowed_packet` (16 MiB); header fields are at most 998 octets, so
/// only a batch of unusually long values ends a chunk early.
const CHUNK_BYTES: usize = 4 << 20;

/// Keys per `IN (...)` list of a batched UPDATE or DELETE.
const KEY_ROWS: usize = 500;

/// Attempts at a transaction that InnoDB (or a Galera cluster) aborted as a
/// deadlock; the aborted attempt changed nothing, so it is safe to repeat.
const DEADLOCK_TRIES: u32 = 5;

// Server error codes we act on.
const ER_DUP_ENTRY: u16 = 1062;
const ER_DUP_FIELDNAME: u16 = 1060;
const ER_DUP_KEYNAME: u16 = 1061;
const ER_LOCK_DEADLOCK: u16 = 1213;

/// MySQL or MariaDB index in one database.
pub struct MysqlIndex {
    pool: Pool,
    label: String,
}

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// Repeats `$call` (an expression giving a future) while it fails with a
/// deadlock.
macro_rules! retry_deadlock {
    ($call:expr) => {{
        let mut tries = 1;
        loop {
            match $call.await {
                Err(IndexError::Mysql(e))
                    if tries < DEADLOCK_TRIES && server_code(&e) == Some(ER_LOCK_DEADLOCK) =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                }
                r => break r,
            }
        }
    }};
}

/// `host:port/db` of a URL, for messages: never the password.
fn label_of(opts: &Opts) -> String {
    format!(
        "{}:{}/{}",
        opts.ip_or_hostname(),
        opts.tcp_port(),
        opts.db_name().unwrap_or("")
    )
}

/// Takes column `i` of a row, as type `T`.
fn take<T: FromValue>(row: &mut Row, i: usize) -> Result<T, IndexError> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(mysql_async::Error::from(DriverError::FromValue { value: e.0 }).into()),
        None => Err(mysql_async::Error::from(DriverError::FromRow { row: row.clone() }).into()),
    }
}

/// `(?, ?, ...), (?, ?, ...)`: `rows` groups of `cols` placeholders.
fn placeholders(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

fn subdir_of(s: &str) -> Subdir {
    Subdir::parse(s).unwrap_or(Subdir::Cur)
}

const USER_COLUMNS: &str =
    "address, domain, password, display_name, quota_bytes, disabled, created";

fn user_from_row(mut r: Row) -> Result<UserRecord, IndexError> {
    Ok(UserRecord {
        address: take(&mut r, 0)?,
        domain: take(&mut r, 1)?,
        password: take(&mut r, 2)?,
        display_name: take(&mut r, 3)?,
        quota_bytes: take::<Option<i64>>(&mut r, 4)?.map(|q| q as u64),
        disabled: take::<i64>(&mut r, 5)? != 0,
        created: take(&mut r, 6)?,
    })
}

const FOLDER_COLUMNS: &str = "id, address, name, path, uidvalidity, uidnext";

fn folder_from_row(mut r: Row) -> Result<FolderRecord, IndexError> {
    Ok(FolderRecord {
        id: take(&mut r, 0)?,
        address: take(&mut r, 1)?,
        name: take(&mut r, 2)?,
        path: take(&mut r, 3)?,
        uidvalidity: take(&mut r, 4)?,
        uidnext: take(&mut r, 5)?,
    })
}

/// The columns of `messages` in the order of [`message_values`].
const MESSAGE_COLUMNS: &str = "folder_id, uniq, subdir, file_name, flags, size, wire_size, \
     mtime, internal_date, uidl, hdr_from, hdr_to, subject, hdr_date, message_id, \
     has_attachment, parse_status, uid";
const MESSAGE_COLUMN_COUNT: usize = 18;

fn message_values(folder: i64, m: &MessageRecord, out: &mut Vec<Value>) {
    out.extend([
        folder.into(),
        m.uniq.as_str().into(),
        m.subdir.as_str().into(),
        m.file_name.as_str().into(),
        m.flags.as_str().into(),
        (m.size as i64).into(),
        (m.wire_size as i64).into(),
        m.mtime.into(),
        m.internal_date.into(),
        m.uidl.as_str().into(),
        m.meta.from.as_deref().into(),
        m.meta.to.as_deref().into(),
        m.meta.subject.as_deref().into(),
        m.meta.date.into(),
        m.meta.message_id.as_deref().into(),
        (m.meta.has_attachment as i64).into(),
        (m.meta.status as i64).into(),
        m.uid.into(),
    ]);
}

/// Octets a row adds to a statement, roughly.
fn message_bytes(m: &MessageRecord) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    200 + m.uniq.len()
        + m.file_name.len()
        + m.flags.len()
        + m.uidl.len()
        + opt(&m.meta.from)
        + opt(&m.meta.to)
        + opt(&m.meta.subject)
        + opt(&m.meta.message_id)
}

fn message_from_row(mut r: Row) -> Result<MessageRecord, IndexError> {
    Ok(MessageRecord {
        uniq: take(&mut r, 0)?,
        subdir: subdir_of(&take::<String>(&mut r, 1)?),
        file_name: take(&mut r, 2)?,
        flags: take(&mut r, 3)?,
        size: take::<i64>(&mut r, 4)? as u64,
        wire_size: take::<i64>(&mut r, 5)? as u64,
        mtime: take(&mut r, 6)?,
        internal_date: take(&mut r, 7)?,
        uidl: take(&mut r, 8)?,
        uid: take(&mut r, 16)?,
        meta: Meta {
            from: take(&mut r, 9)?,
            to: take(&mut r, 10)?,
            subject: take(&mut r, 11)?,
            date: take(&mut r, 12)?,
            message_id: take(&mut r, 13)?,
            has_attachment: take::<i64>(&mut r, 14)? != 0,
            status: ParseStatus::from_i64(take(&mut r, 15)?),
        },
    })
}

/// Brings the schema up to [`SCHEMA_VERSION`] under a named lock, so that
/// of several processes opening a fresh database at once only one runs each
/// migration and the others then find it done.
async fn migrate(conn: &mut Conn) -> Result<(), IndexError> {
    // Named locks are per server, so the name carries the database's;
    // hashed, because lock names are limited to 64 characters.
    let got: Option<Row> = conn
        .query_first(format!(
            "SELECT GET_LOCK(CONCAT('nmail-schema-', SHA1(DATABASE())), {MIGRATION_WAIT_SECS})"
        ))
        .await?;
    let got = match got {
        Some(mut r) => take::<Option<i64>>(&mut r, 0)?,
        None => None,
    };
    if got != Some(1) {
        return Err(IndexError::MigrationBusy {
            secs: MIGRATION_WAIT_SECS,
        });
    }
    let result = migrate_locked(conn).await;
    // The connection is closed after this anyway, which also frees the lock.
    let _ = conn
        .query_drop("DO RELEASE_LOCK(CONCAT('nmail-schema-', SHA1(DATABASE())))")
        .await;
    result
}

async fn migrate_locked(conn: &mut Conn) -> Result<(), IndexError> {
    conn.query_drop(concat!(
        "CREATE TABLE IF NOT EXISTS meta (
            `key` VARCHAR(64) NOT NULL PRIMARY KEY,
            value VARCHAR(255) NOT NULL
        ) ",
        table_opts!()
    ))
    .await?;
    let found: Option<Row> = conn
        .query_first("SELECT value FROM meta WHERE `key` = 'schema_version'")
        .await?;
    let found = match found {
        Some(mut r) => take::<String>(&mut r, 0)?.parse::<i64>().unwrap_or(0),
        None => 0,
    };
    if found > SCHEMA_VERSION {
        return Err(IndexError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (v, statements) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        for sql in *statements {
            match conn.query_drop(*sql).await {
                Ok(()) => {}
                // Already applied by an earlier run that stopped half way.
                Err(e) if matches!(server_code(&e), Some(ER_DUP_FIELDNAME | ER_DUP_KEYNAME)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        conn.exec_drop(
            "INSERT INTO meta (`key`, value) VALUES ('schema_version', ?)
             ON DUPLICATE KEY UPDATE value = VALUES(value)",
            ((v as i64 + 1).to_string(),),
        )
        .await?;
    }
    Ok(())
}

impl MysqlIndex {
    /// Connects to the database named by `url`
    /// (`mysql://user:pass@host:port/db`, with mysql_async's URL parameters
    /// such as `require_ssl=true`), creating or upgrading its schema.
    pub async fn open(url: &str) -> Result<Self, IndexError> {
        let opts = Opts::from_url(url).map_err(mysql_async::Error::from)?;
        let label = label_of(&opts);
        if opts.db_name().is_none_or(str::is_empty) {
            return Err(IndexError::Url(format!(
                "mysql://{label} (no database name)"
            )));
        }
        // Connections are not reset when they return to the pool: we leave
        // no session state behind (transactions always end), and a reset
        // would cost a round trip per call and drop the prepared statements.
        let pool_opts = opts.pool_opts().clone().with_reset_connection(false);
        let opts: Opts = OptsBuilder::from_opts(opts)
            .setup(vec![SESSION_SETUP])
            .pool_opts(pool_opts)
            .into();

        // A connection of its own, so the schema lock dies with it even if
        // the migration fails half way.
        let mut conn = Conn::new(opts.clone()).await?;
        let migrated = migrate(&mut conn).await;
        let _ = conn.disconnect().await;
        migrated?;

        Ok(MysqlIndex {
            pool: Pool::new(opts),
            label,
        })
    }

    /// `host:port/db`, without credentials.
    pub fn label(&self) -> &str {
        &self.label
    }

    async fn conn(&self) -> Result<Conn, IndexError> {
        Ok(self.pool.get_conn().await?)
    }

    async fn tx(&self) -> Result<Transaction<'static>, IndexError> {
        Ok(self.pool.start_transaction(TxOpts::default()).await?)
    }

    pub(super) async fn put_domain(&self, d: DomainRecord) -> Result<(), IndexError> {
        retry_deadlock!(async {
            self.conn()
                .await?
                .exec_drop(
                    "INSERT INTO domains (name, created) VALUES (?, ?)
                     ON DUPLICATE KEY UPDATE created = VALUES(created)",
                    (&d.name, &d.created),
                )
                .await
                .map_err(IndexError::from)
        })
    }

    pub(super) async fn delete_domain(&self, name: String) -> Result<(), IndexError> {
        retry_deadlock!(self.delete_domain_once(&name))
    }

    async fn delete_domain_once(&self, name: &str) -> Result<(), IndexError> {
        let mut tx = self.tx().await?;
        // Messages go with their folders (ON DELETE CASCADE).
        tx.exec_drop(
            "DELETE FROM folders WHERE address IN (SELECT address FROM users WHERE domain = ?)",
            (name,),
        )
        .await?;
        tx.exec_drop("DELETE FROM users WHERE domain = ?", (name,))
            .await?;
        tx.exec_drop("DELETE FROM domains WHERE name = ?", (name,))
            .await?;
        Ok(tx.commit().await?)
    }

    pub(super) async fn domains(&self) -> Result<Vec<DomainRecord>, IndexError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .query("SELECT name, created FROM domains ORDER BY name")
            .await?;
        rows.into_iter()
            .map(|mut r| {
                Ok(DomainRecord {
                    name: take(&mut r, 0)?,
                    created: take(&mut r, 1)?,
                })
            })
            .collect()
    }

    pub(super) async fn has_domain(&self, name: String) -> Result<bool, IndexError> {
        let found: Option<Row> = self
            .conn()
            .await?
            .exec_first("SELECT 1 FROM domains WHERE name = ?", (name,))
            .await?;
        Ok(found.is_some())
    }

    pub(super) async fn put_user(&self, u: UserRecord) -> Result<(), IndexError> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE domain = VALUES(domain), password = VALUES(password),
               display_name = VALUES(display_name), quota_bytes = VALUES(quota_bytes),
               disabled = VALUES(disabled), created = VALUES(created)"
        );
        let params: Vec<Value> = vec![
            u.address.as_str().into(),
            u.domain.as_str().into(),
            u.password.as_str().into(),
            u.display_name.as_deref().into(),
            u.quota_bytes.map(|q| q as i64).into(),
            (u.disabled as i64).into(),
            u.created.as_str().into(),
        ];
        retry_deadlock!(async {
            self.conn()
                .await?
                .exec_drop(sql.as_str(), params.clone())
                .await
                .map_err(IndexError::from)
        })
    }

    pub(super) async fn delete_user(&self, address: String) -> Result<(), IndexError> {
        retry_deadlock!(self.delete_user_once(&address))
    }

    async fn delete_user_once(&self, address: &str) -> Result<(), IndexError> {
        let mut tx = self.tx().await?;
        tx.exec_drop("DELETE FROM folders WHERE address = ?", (address,))
            .await?;
        tx.exec_drop("DELETE FROM users WHERE address = ?", (address,))
            .await?;
        Ok(tx.commit().await?)
    }

    pub(super) async fn user(&self, address: String) -> Result<Option<UserRecord>, IndexError> {
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                format!("SELECT {USER_COLUMNS} FROM users WHERE address = ?"),
                (address,),
            )
            .await?;
        row.map(user_from_row).transpose()
    }

    pub(super) async fn users(&self) -> Result<Vec<UserRecord>, IndexError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .query(format!("SELECT {USER_COLUMNS} FROM users ORDER BY address"))
            .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    pub(super) async fn folder(
        &self,
        address: String,
        name: String,
        path: String,
    ) -> Result<i64, IndexError> {
        let mut c = self.conn().await?;
        let select = "SELECT id FROM folders WHERE address = ? AND name = ?";
        if let Some(mut r) = c.exec_first::<Row, _, _>(select, (&address, &name)).await? {
            return take(&mut r, 0);
        }
        match c
            .exec_drop(
                "INSERT INTO folders (address, name, path) VALUES (?, ?, ?)",
                (&address, &name, &path),
            )
            .await
        {
            Ok(()) => c
                .last_insert_id()
                .map(|id| id as i64)
                .ok_or_else(|| IndexError::Task("no id for a new folder".into())),
            // Another process added it since our look: take its row. A path
            // that clashes with another folder's stays an error, as in SQLite.
            Err(e) if server_code(&e) == Some(ER_DUP_ENTRY) => {
                match c.exec_first::<Row, _, _>(select, (&address, &name)).await? {
                    Some(mut r) => take(&mut r, 0),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn folders(&self) -> Result<Vec<FolderRecord>, IndexError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .query(format!(
                "SELECT {FOLDER_COLUMNS} FROM folders ORDER BY path"
            ))
            .await?;
        rows.into_iter().map(folder_from_row).collect()
    }

    pub(super) async fn folder_record(&self, id: i64) -> Result<Option<FolderRecord>, IndexError> {
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?"),
                (id,),
            )
            .await?;
        row.map(folder_from_row).transpose()
    }

    pub(super) async fn set_uids(
        &self,
        folder: i64,
        uidvalidity: u32,
        uidnext: u32,
        uids: Vec<(String, u32)>,
    ) -> Result<(), IndexError> {
        retry_deadlock!(self.set_uids_once(folder, uidvalidity, uidnext, &uids))
    }

    async fn set_uids_once(
        &self,
        folder: i64,
        uidvalidity: u32,
        uidnext: u32,
        uids: &[(String, u32)],
    ) -> Result<(), IndexError> {
        let mut tx = self.tx().await?;
        tx.exec_drop(
            "UPDATE folders SET uidvalidity = ?, uidnext = ? WHERE id = ?",
            (uidvalidity, uidnext, folder),
        )
        .await?;
        // One UPDATE per chunk: CASE picks each key's UID, IN limits the
        // rows to those keys (a primary-key range per key).
        for chunk in uids.chunks(KEY_ROWS) {
            let sql = format!(
                "UPDATE messages SET uid = CASE uniq {} END WHERE folder_id = ? AND uniq IN ({})",
                vec!["WHEN ? THEN ?"; chunk.len()].join(" "),
                vec!["?"; chunk.len()].join(", ")
            );
            let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 3 + 1);
            for (uniq, uid) in chunk {
                params.push(uniq.as_str().into());
                params.push((*uid).into());
            }
            params.push(folder.into());
            params.extend(chunk.iter().map(|(uniq, _)| Value::from(uniq.as_str())));
            tx.exec_drop(sql, Params::Positional(params)).await?;
        }
        Ok(tx.commit().await?)
    }

    pub(super) async fn usage(&self, address: String) -> Result<u64, IndexError> {
        let v: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                "SELECT CAST(COALESCE(SUM(m.size), 0) AS UNSIGNED)
                 FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.address = ?",
                (address,),
            )
            .await?;
        match v {
            Some(mut r) => take(&mut r, 0),
            None => Ok(0),
        }
    }

    pub(super) async fn delete_folder(&self, id: i64) -> Result<(), IndexError> {
        retry_deadlock!(async {
            self.conn()
                .await?
                .exec_drop("DELETE FROM folders WHERE id = ?", (id,))
                .await
                .map_err(IndexError::from)
        })
    }

    pub(super) async fn message(
        &self,
        folder: i64,
        uniq: String,
    ) -> Result<Option<MessageRecord>, IndexError> {
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                "SELECT uniq, subdir, file_name, flags, size, wire_size, mtime, internal_date,
                    uidl, hdr_from, hdr_to, subject, hdr_date, message_id, has_attachment,
                    parse_status, uid
                 FROM messages WHERE folder_id = ? AND uniq = ?",
                (folder, uniq.into_bytes()),
            )
            .await?;
        row.map(message_from_row).transpose()
    }

    pub(super) async fn messages(&self, folder: i64) -> Result<Vec<MessageRecord>, IndexError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .exec(
                "SELECT uniq, subdir, file_name, flags, size, wire_size, mtime, internal_date,
                    uidl, hdr_from, hdr_to, subject, hdr_date, message_id, has_attachment,
                    parse_status, uid
                 FROM messages WHERE folder_id = ? ORDER BY internal_date, uid = 0, uid, uniq",
                (folder,),
            )
            .await?;
        rows.into_iter().map(message_from_row).collect()
    }

    pub(super) async fn put_messages(
        &self,
        folder: i64,
        rows: Vec<MessageRecord>,
    ) -> Result<(), IndexError> {
        if rows.is_empty() {
            return Ok(());
        }
        retry_deadlock!(self.put_messages_once(folder, &rows))
    }

    async fn put_messages_once(
        &self,
        folder: i64,
        rows: &[MessageRecord],
    ) -> Result<(), IndexError> {
        let mut tx = self.tx().await?;
        let mut start = 0;
        while start < rows.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < rows.len() && end - start < INSERT_ROWS && bytes < CHUNK_BYTES {
                bytes += message_bytes(&rows[end]);
                end += 1;
            }
            insert_messages(&mut tx, folder, &rows[start..end]).await?;
            start = end;
        }
        Ok(tx.commit().await?)
    }

    pub(super) async fn delete_messages(
        &self,
        folder: i64,
        uniqs: Vec<String>,
    ) -> Result<(), IndexError> {
        if uniqs.is_empty() {
            return Ok(());
        }
        retry_deadlock!(self.delete_messages_once(folder, &uniqs))
    }

    async fn delete_messages_once(&self, folder: i64, uniqs: &[String]) -> Result<(), IndexError> {
        let mut tx = self.tx().await?;
        for chunk in uniqs.chunks(KEY_ROWS) {
            let sql = format!(
                "DELETE FROM messages WHERE folder_id = ? AND uniq IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut params: Vec<Value> = Vec::with_capacity(chunk.len() + 1);
            params.push(folder.into());
            params.extend(chunk.iter().map(|u| Value::from(u.as_str())));
            tx.exec_drop(sql, Params::Positional(params)).await?;
        }
        Ok(tx.commit().await?)
    }

    pub(super) async fn try_lock(
        &self,
        name: String,
        owner: String,
        ttl: i64,
    ) -> Result<bool, IndexError> {
        retry_deadlock!(self.try_lock_once(&name, &owner, ttl))
    }

    /// Takes the lock when it is free, expired, or already ours, in one
    /// statement that holds the row locked, then reads back who owns it
    /// within the same transaction. Time is the database server's clock,
    /// the one clock that every nmail sharing the index agrees on.
    async fn try_lock_once(&self, name: &str, owner: &str, ttl: i64) -> Result<bool, IndexError> {
        let mut tx = self.tx().await?;
        // Both assignments test the same condition C = (ours or expired).
        // MySQL evaluates them left to right, so the second sees the new
        // owner, which equals ours exactly when C held; written this way
        // the result is the same under MariaDB's SIMULTANEOUS_ASSIGNMENT.
        tx.exec_drop(
            "INSERT INTO locks (name, owner, expires) VALUES (?, ?, UNIX_TIMESTAMP() + ?)
             ON DUPLICATE KEY UPDATE
               owner = IF(owner = VALUES(owner) OR expires < UNIX_TIMESTAMP(),
                          VALUES(owner), owner),
               expires = IF(owner = VALUES(owner) OR expires < UNIX_TIMESTAMP(),
                            VALUES(expires), expires)",
            (name, owner, ttl),
        )
        .await?;
        let holder: Option<Row> = tx
            .exec_first("SELECT owner FROM locks WHERE name = ?", (name,))
            .await?;
        tx.commit().await?;
        match holder {
            Some(mut r) => Ok(take::<String>(&mut r, 0)? == owner),
            None => Ok(false),
        }
    }

    pub(super) async fn unlock(&self, name: String, owner: String) -> Result<(), IndexError> {
        retry_deadlock!(async {
            self.conn()
                .await?
                .exec_drop(
                    "DELETE FROM locks WHERE name = ? AND owner = ?",
                    (&name, &owner),
                )
                .await
                .map_err(IndexError::from)
        })
    }

    pub(super) async fn locks(&self) -> Result<Vec<(String, String, i64)>, IndexError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .query("SELECT name, owner, expires FROM locks ORDER BY name")
            .await?;
        rows.into_iter()
            .map(|mut r| Ok((take(&mut r, 0)?, take(&mut r, 1)?, take(&mut r, 2)?)))
            .collect()
    }
}

/// One multi-row upsert. A row written with UID 0 keeps the UID the index
/// already has (UIDs come from `nmail-uidlist`, later than the row).
async fn insert_messages(
    tx: &mut Transaction<'static>,
    folder: i64,
    rows: &[MessageRecord],
) -> Result<(), IndexError> {
    let sql = format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES {}
         ON DUPLICATE KEY UPDATE subdir = VALUES(subdir), file_name = VALUES(file_name),
           flags = VALUES(flags), size = VALUES(size), wire_size = VALUES(wire_size),
           mtime = VALUES(mtime), internal_date = VALUES(internal_date), uidl = VALUES(uidl),
           hdr_from = VALUES(hdr_from), hdr_to = VALUES(hdr_to), subject = VALUES(subject),
           hdr_date = VALUES(hdr_date), message_id = VALUES(message_id),
           has_attachment = VALUES(has_attachment), parse_status = VALUES(parse_status),
           uid = IF(VALUES(uid) = 0, uid, VALUES(uid))",
        placeholders(rows.len(), MESSAGE_COLUMN_COUNT)
    );
    let mut params = Vec::with_capacity(rows.len() * MESSAGE_COLUMN_COUNT);
    for m in rows {
        message_values(folder, m, &mut params);
    }
    tx.exec_drop(sql, Params::Positional(params)).await?;
    Ok(())
}
