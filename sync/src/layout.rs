//! Where everything lives inside a data folder.
//!
//! ```text
//! DIR/nmail.toml                          settings
//! DIR/index.sqlite (-wal, -shm)           derived index (default backend)
//! DIR/domains/<domain>/domain.toml        one hosted domain
//! DIR/domains/<domain>/users/<local>/user.toml      one account
//! DIR/domains/<domain>/users/<local>/Maildir/       its mail (tmp/ new/ cur/)
//! DIR/spool/tmp/                          message data being received
//! DIR/removed/                            accounts removed without --purge
//! DIR/tls/                                certificate and key
//! ```
//! maildata-layout.md describes each of them in full.

use std::path::{Path, PathBuf};

use crate::address::{Address, DomainName};

/// File name of the settings file at the top of a data folder.
pub const CONFIG_FILE: &str = "nmail.toml";

/// A data folder: the paths of everything nmail keeps.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps the folder at `root` (which need not exist yet).
    ///
    /// A relative path is made absolute against the current folder: the
    /// watcher gets absolute paths from the kernel and must be able to
    /// tell which part of the data folder they name.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        DataDir { root }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/nmail.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `DIR/domains`, one folder per hosted domain.
    pub fn domains_dir(&self) -> PathBuf {
        self.root.join("domains")
    }

    /// `DIR/domains/<domain>`.
    pub fn domain_dir(&self, domain: &DomainName) -> PathBuf {
        self.domains_dir().join(domain.as_str())
    }

    /// `DIR/domains/<domain>/domain.toml`.
    pub fn domain_file(&self, domain: &DomainName) -> PathBuf {
        self.domain_dir(domain).join("domain.toml")
    }

    /// `DIR/domains/<domain>/users`.
    pub fn users_dir(&self, domain: &DomainName) -> PathBuf {
        self.domain_dir(domain).join("users")
    }

    /// `DIR/domains/<domain>/users/<local>`: the account's own folder.
    pub fn user_dir(&self, address: &Address) -> PathBuf {
        self.users_dir(address.domain())
            .join(address.local().as_str())
    }

    /// `.../users/<local>/user.toml`.
    pub fn user_file(&self, address: &Address) -> PathBuf {
        self.user_dir(address).join("user.toml")
    }

    /// `.../users/<local>/Maildir`: the account's INBOX, with Maildir++
    /// subfolders (`.Sent`, ...) inside it.
    pub fn maildir(&self, address: &Address) -> PathBuf {
        self.user_dir(address).join("Maildir")
    }

    /// `DIR/spool/tmp`: message data of transactions still being received.
    /// Anything here is incomplete by definition and is removed at start.
    pub fn spool_tmp(&self) -> PathBuf {
        self.root.join("spool").join("tmp")
    }

    /// `DIR/removed`: accounts removed without `--purge`.
    pub fn removed_dir(&self) -> PathBuf {
        self.root.join("removed")
    }

    /// `DIR/tls`: the certificate and key offered by STARTTLS and STLS.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// `DIR/index.sqlite`, the default index.
    pub fn default_sqlite_index(&self) -> PathBuf {
        self.root.join("index.sqlite")
    }

    /// The maildir folder holding a message file: `path` with its last
    /// `levels` components (`new/NAME`) removed.
    pub fn maildir_path_of(&self, path: &Path, levels: usize) -> PathBuf {
        let mut p = path.to_path_buf();
        for _ in 0..levels {
            p.pop();
        }
        p
    }

    /// The path of a folder relative to the data folder, as the index keeps
    /// it, so that a data folder moved elsewhere keeps a valid index.
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}
