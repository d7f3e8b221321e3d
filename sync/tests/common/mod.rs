//! A fresh, empty index of either backend for one test: an SQLite file in a
//! temporary data folder, or a MySQL/MariaDB database of its own, dropped
//! again when the fixture goes (also when the test panics).
//!
//! The MariaDB comes from `NMAIL_TEST_MYSQL_URL` (`.ci/run` sets
//! `mysql://root@127.0.0.1:3306/<random db>`), else
//! `mysql://root@127.0.0.1:3306`. Each test creates a sibling database,
//! `<db>_<random>` (or `nmail_test_<random>`), because tests run in parallel
//! and every database holds one set of tables.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use nmail_sync::index::{Index, IndexError};
use tempfile::TempDir;

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `sqlite://index.sqlite` in the temporary data folder.
    Sqlite,
    /// A database of its own on the test MariaDB.
    Mysql,
}

/// One test's index, empty until the first [`Backend::open`].
pub struct Backend {
    /// The backend.
    pub kind: Kind,
    url: String,
    dir: TempDir,
    db: Option<MysqlDb>,
}

/// Drops the test's database when it goes out of scope.
struct MysqlDb {
    admin: Opts,
    name: String,
}

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306";

fn how_to_get_mariadb(server: &str, e: &dyn std::fmt::Display) -> String {
    // The URL may carry a password: show only what follows the `@`.
    let shown = server.rsplit_once('@').map_or(server, |(_, host)| host);
    format!(
        "cannot use the test MariaDB/MySQL at {shown}: {e}\n\
         The MySQL conformance tests need a server; they do not skip. Either\n\
         - install one (root with an empty password on 127.0.0.1:3306 is the default):\n    \
         sudo apt-get install mariadb-server && sudo service mariadb start\n\
         - or point NMAIL_TEST_MYSQL_URL at one: mysql://USER:PASS@HOST:PORT/DB\n    \
         (the user must be allowed to create and drop databases named DB_*)."
    )
}

impl Backend {
    /// A fresh index of `kind`. Panics, saying how to get one, when the test
    /// MariaDB cannot be reached.
    pub async fn new(kind: Kind) -> Backend {
        let dir = tempfile::tempdir().expect("temporary data folder");
        match kind {
            Kind::Sqlite => Backend {
                kind,
                url: "sqlite://index.sqlite".into(),
                dir,
                db: None,
            },
            Kind::Mysql => {
                let (url, db) = create_database().await;
                Backend {
                    kind,
                    url,
                    dir,
                    db: Some(db),
                }
            }
        }
    }

    /// What `index.url` would say.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The temporary data folder.
    pub fn data_root(&self) -> &Path {
        self.dir.path()
    }

    /// Opens a new `Index` on this test's database: each call is a separate
    /// instance, as a second server process would have.
    pub async fn open(&self) -> Index {
        match self.try_open().await {
            Ok(i) => i,
            Err(e) => panic!("open {}: {e}", self.url),
        }
    }

    /// [`Backend::open`], returning the error.
    pub async fn try_open(&self) -> Result<Index, IndexError> {
        Index::open(&self.url, self.data_root()).await
    }

    fn sqlite_path(&self) -> PathBuf {
        self.data_root().join("index.sqlite")
    }

    /// Runs SQL statements directly, bypassing the index (to hand-make old
    /// or future schemas).
    pub async fn exec(&self, statements: &[&str]) {
        match self.kind {
            Kind::Sqlite => {
                let path = self.sqlite_path();
                let sql: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
                tokio::task::spawn_blocking(move || {
                    let c = rusqlite::Connection::open(path).expect("open sqlite");
                    for s in sql {
                        c.execute_batch(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                    }
                })
                .await
                .expect("sqlite task");
            }
            Kind::Mysql => {
                let mut c = Conn::from_url(&self.url).await.expect("connect");
                for s in statements {
                    c.query_drop(*s)
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                let _ = c.disconnect().await;
            }
        }
    }

    /// The first column of the first row of `sql`, as text.
    pub async fn query_text(&self, sql: &str) -> Option<String> {
        match self.kind {
            Kind::Sqlite => {
                let path = self.sqlite_path();
                let sql = sql.to_string();
                tokio::task::spawn_blocking(move || {
                    let c = rusqlite::Connection::open(path).expect("open sqlite");
                    c.query_row(&sql, [], |r| r.get::<_, String>(0)).ok()
                })
                .await
                .expect("sqlite task")
            }
            Kind::Mysql => {
                let mut c = Conn::from_url(&self.url).await.expect("connect");
                let row: Option<Row> = c.query_first(sql).await.expect(sql);
                let _ = c.disconnect().await;
                row.and_then(|mut r| r.take::<String, usize>(0))
            }
        }
    }

    /// The version-1 schema as nmail 0.1 wrote it for this backend.
    pub fn schema_v1(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Sqlite => SQLITE_V1,
            Kind::Mysql => MYSQL_V1,
        }
    }
}

/// Server URL without the database, the database prefix, and the query.
fn split_url(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("mysql://").unwrap_or(url);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (db, query) = path.split_once('?').unwrap_or((path, ""));
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    (format!("mysql://{authority}"), db.to_string(), query)
}

async fn create_database() -> (String, MysqlDb) {
    let env = std::env::var("NMAIL_TEST_MYSQL_URL").ok();
    let url = env
        .as_deref()
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_URL);
    let (server, base, query) = split_url(url);
    let base: String = if base.is_empty() {
        "nmail_test".into()
    } else {
        base.chars().take(40).collect()
    };
    let name = format!("{base}_{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let admin: Opts = match Opts::from_url(&format!("{server}/{query}")) {
        Ok(o) => OptsBuilder::from_opts(o).db_name(None::<String>).into(),
        Err(e) => panic!("{}", how_to_get_mariadb(&server, &e)),
    };
    let mut c = match Conn::new(admin.clone()).await {
        Ok(c) => c,
        Err(e) => panic!("{}", how_to_get_mariadb(&server, &e)),
    };
    if let Err(e) = c.query_drop(format!("CREATE DATABASE `{name}`")).await {
        panic!("{}", how_to_get_mariadb(&server, &e));
    }
    let _ = c.disconnect().await;
    (format!("{server}/{name}{query}"), MysqlDb { admin, name })
}

impl Drop for MysqlDb {
    fn drop(&mut self) {
        // Drop runs outside async code (and during a panic), so the cleanup
        // gets a small runtime of its own on a thread of its own.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut c = Conn::new(admin).await?;
                c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await?;
                c.disconnect().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// What nmail wrote as schema version 1 into SQLite.
const SQLITE_V1: &[&str] = &["
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE domains (name TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE users (
    address TEXT PRIMARY KEY, domain TEXT NOT NULL, password TEXT NOT NULL,
    display_name TEXT, quota_bytes INTEGER, disabled INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE INDEX users_domain ON users(domain);
CREATE TABLE folders (
    id INTEGER PRIMARY KEY, address TEXT NOT NULL, name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE, UNIQUE (address, name)
);
CREATE TABLE messages (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uniq TEXT NOT NULL, subdir TEXT NOT NULL, file_name TEXT NOT NULL,
    flags TEXT NOT NULL, size INTEGER NOT NULL, wire_size INTEGER NOT NULL,
    mtime INTEGER NOT NULL, internal_date INTEGER NOT NULL, uidl TEXT NOT NULL,
    hdr_from TEXT, hdr_to TEXT, subject TEXT, hdr_date INTEGER, message_id TEXT,
    has_attachment INTEGER NOT NULL, parse_status INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uniq)
) WITHOUT ROWID;
CREATE INDEX messages_order ON messages(folder_id, internal_date, uniq);
CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL);
"];

/// What nmail wrote as schema version 1 into MySQL/MariaDB.
const MYSQL_V1: &[&str] = &[
    "CREATE TABLE meta (`key` VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL)
     ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "INSERT INTO meta VALUES ('schema_version', '1')",
    "CREATE TABLE domains (name VARCHAR(255) NOT NULL PRIMARY KEY, created VARCHAR(64) NOT NULL)
     ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE users (
        address VARCHAR(320) NOT NULL PRIMARY KEY, domain VARCHAR(255) NOT NULL,
        password TEXT NOT NULL, display_name TEXT NULL, quota_bytes BIGINT NULL,
        disabled TINYINT NOT NULL DEFAULT 0, created VARCHAR(64) NOT NULL,
        KEY users_domain (domain)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE folders (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, address VARCHAR(320) NOT NULL,
        name VARBINARY(255) NOT NULL, path VARBINARY(1024) NOT NULL,
        UNIQUE KEY folders_path (path), UNIQUE KEY folders_owner (address, name)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE messages (
        folder_id BIGINT NOT NULL, uniq VARBINARY(255) NOT NULL, subdir VARBINARY(8) NOT NULL,
        file_name VARBINARY(255) NOT NULL, flags VARBINARY(255) NOT NULL, size BIGINT NOT NULL,
        wire_size BIGINT NOT NULL, mtime BIGINT NOT NULL, internal_date BIGINT NOT NULL,
        uidl VARBINARY(255) NOT NULL, hdr_from TEXT NULL, hdr_to TEXT NULL, subject TEXT NULL,
        hdr_date BIGINT NULL, message_id TEXT NULL, has_attachment TINYINT NOT NULL,
        parse_status INT NOT NULL,
        PRIMARY KEY (folder_id, uniq), KEY messages_order (folder_id, internal_date, uniq),
        CONSTRAINT messages_folder FOREIGN KEY (folder_id) REFERENCES folders (id)
            ON DELETE CASCADE
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE locks (
        name VARBINARY(512) NOT NULL PRIMARY KEY, owner VARBINARY(512) NOT NULL,
        expires BIGINT NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];
