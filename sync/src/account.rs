//! Domains and accounts as files.
//!
//! Each hosted domain is `domains/<domain>/domain.toml` and each account is
//! `domains/<domain>/users/<local>/user.toml`, beside the account's Maildir.
//! The files are the truth; the index mirrors them (see [`crate::resync`]).
//! Account files hold an Argon2id password hash (PHC string) and are written
//! with mode 0600.

use std::fs;
use std::io;
use std::path::PathBuf;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::address::{Address, AddressError, DomainName, LocalPart};
use crate::fsutil::{create_dir_all_durable, fsync_dir, write_file_atomic};
use crate::layout::DataDir;

/// Failures of account and domain files.
#[derive(Debug, Error)]
pub enum AccountError {
    /// A name that cannot be hosted.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file exists but is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The domain is not hosted here.
    #[error("domain {0} does not exist")]
    NoSuchDomain(DomainName),
    /// The account does not exist.
    #[error("account {0} does not exist")]
    NoSuchUser(Address),
    /// Creating something that is already there.
    #[error("{0} already exists")]
    Exists(String),
    /// Removing a domain that still has accounts.
    #[error("domain {domain} still has {count} account(s); remove them first or pass --with-users")]
    DomainNotEmpty {
        /// The domain.
        domain: DomainName,
        /// How many accounts it has.
        count: usize,
    },
    /// A folder under `domains/` that is not a hosted domain or account
    /// (wrong case, no settings file, a file naming another address).
    #[error("{path}: {why}; left out")]
    OddFolder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Hashing a password failed (it should not).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> AccountError {
    let path = path.into();
    move |source| AccountError::Io { path, source }
}

/// The current time as RFC 3339 text, as account files record it.
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// `domains/<domain>/domain.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainFile {
    /// The domain name (must equal the folder name).
    pub name: String,
    /// When it was added (RFC 3339).
    pub created: String,
}

/// `domains/<domain>/users/<local>/user.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    /// The full address (must equal the folder names).
    pub address: String,
    /// Argon2id PHC string.
    pub password: String,
    /// When it was added (RFC 3339).
    pub created: String,
    /// Name shown by the webmail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Mailbox size limit in octets; none means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    /// A disabled account receives no mail and cannot log in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(prepare_password(password).as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// The form a password is hashed and checked in, after RFC 8265's
/// OpaqueString profile in its essentials: non-ASCII spaces become U+0020
/// and the text is put in NFC, so `비밀번호` typed on a Mac (NFD) and on
/// Windows (NFC) is one password. ASCII passwords are left as they are.
fn prepare_password(password: &str) -> std::borrow::Cow<'_, str> {
    if password.is_ascii() {
        return std::borrow::Cow::Borrowed(password);
    }
    let spaced: String = password
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    std::borrow::Cow::Owned(
        icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
            .normalize(&spaced)
            .into_owned(),
    )
}

/// Checks a password against a PHC hash. A malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let check = |p: &str| Argon2::default().verify_password(p.as_bytes(), &h).is_ok();
    let prepared = prepare_password(password);
    // A hash made before passwords were prepared holds the raw form.
    check(&prepared) || (prepared != password && check(password))
}

/// Spends the time of one verification, so that a login for a user who does
/// not exist takes as long as a wrong password for one who does.
pub fn verify_dummy(password: &str) {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash_password("nmail-timing-equaliser").unwrap_or_default());
    let _ = verify_password(h, password);
}

fn write_toml<T: Serialize>(path: &PathBuf, head: &str, value: &T) -> Result<(), AccountError> {
    let body = toml::to_string(value).map_err(|e| AccountError::Format {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_file_atomic(path, format!("{head}{body}").as_bytes(), 0o600).map_err(io_err(path))
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &PathBuf) -> Result<Option<T>, AccountError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| AccountError::Format {
            path: path.clone(),
            message: e.to_string(),
        })
}

/// Reads and writes the account files of a data folder.
#[derive(Debug, Clone)]
pub struct Accounts {
    data: DataDir,
}

impl Accounts {
    /// The accounts of `data`.
    pub fn new(data: DataDir) -> Self {
        Accounts { data }
    }

    /// The domain's file, if the domain exists.
    pub fn domain(&self, domain: &DomainName) -> Result<Option<DomainFile>, AccountError> {
        read_toml(&self.data.domain_file(domain))
    }

    /// Adds a domain. Fails if it exists.
    pub fn add_domain(&self, domain: &DomainName) -> Result<DomainFile, AccountError> {
        if self.domain(domain)?.is_some() {
            return Err(AccountError::Exists(format!("domain {domain}")));
        }
        let dir = self.data.users_dir(domain);
        create_dir_all_durable(&dir).map_err(io_err(&dir))?;
        let file = DomainFile {
            name: domain.to_string(),
            created: now_rfc3339(),
        };
        let head = format!("# nmail hosted domain {domain}; see maildata-layout.md\n");
        write_toml(&self.data.domain_file(domain), &head, &file)?;
        Ok(file)
    }

    /// Every hosted domain, sorted. Folders whose `domain.toml` cannot be
    /// read are returned in the second list, by folder name, with the error.
    pub fn domains(&self) -> Result<(Vec<DomainFile>, Vec<(String, AccountError)>), AccountError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for name in list_dir_names(&self.data.domains_dir())? {
            let folder = self.data.domains_dir().join(&name);
            match DomainName::parse(&name) {
                // The folder must carry the name exactly as nmail writes it:
                // `Example.COM` beside `example.com` would be the same
                // domain twice.
                Ok(d) if d.as_str() != name => bad.push((
                    name,
                    odd_folder(
                        folder,
                        "not a domain name as nmail writes it (lower case, A-labels)",
                    ),
                )),
                Ok(d) => match self.domain(&d) {
                    Ok(Some(f)) if f.name == d.as_str() => out.push(f),
                    Ok(Some(f)) => bad.push((
                        name,
                        odd_folder(folder, &format!("its domain.toml names {:?}", f.name)),
                    )),
                    Ok(None) => bad.push((name, odd_folder(folder, "no domain.toml"))),
                    Err(e) => bad.push((name, e)),
                },
                Err(e) => bad.push((name, e.into())),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((out, bad))
    }

    /// Removes a domain. With accounts left it fails, unless `with_users`,
    /// which first moves each account away as [`Accounts::remove_user`] does.
    pub fn remove_domain(
        &self,
        domain: &DomainName,
        with_users: bool,
        purge: bool,
    ) -> Result<Vec<PathBuf>, AccountError> {
        if self.domain(domain)?.is_none() {
            return Err(AccountError::NoSuchDomain(domain.clone()));
        }
        let users = self.users(domain)?.0;
        if !users.is_empty() && !with_users {
            return Err(AccountError::DomainNotEmpty {
                domain: domain.clone(),
                count: users.len(),
            });
        }
        let mut moved = Vec::new();
        for u in users {
            let addr = Address::parse(&u.address)?;
            if let Some(p) = self.remove_user(&addr, purge)? {
                moved.push(p);
            }
        }
        let dir = self.data.domain_dir(domain);
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        fsync_dir(&self.data.domains_dir()).map_err(io_err(self.data.domains_dir()))?;
        Ok(moved)
    }

    /// The account's file, if it exists.
    pub fn user(&self, address: &Address) -> Result<Option<UserFile>, AccountError> {
        read_toml(&self.data.user_file(address))
    }

    /// Adds an account with its Maildir. Fails if the domain is missing or
    /// the account exists.
    pub fn add_user(&self, address: &Address, password: &str) -> Result<UserFile, AccountError> {
        if self.domain(address.domain())?.is_none() {
            return Err(AccountError::NoSuchDomain(address.domain().clone()));
        }
        if self.user(address)?.is_some() {
            return Err(AccountError::Exists(format!("account {address}")));
        }
        let maildir = crate::maildir::Maildir::new(self.data.maildir(address), ':');
        maildir
            .create()
            .map_err(io_err(self.data.maildir(address)))?;
        let file = UserFile {
            address: address.to_string(),
            password: hash_password(password)?,
            created: now_rfc3339(),
            display_name: None,
            quota_bytes: None,
            disabled: false,
        };
        self.save_user(address, &file)?;
        Ok(file)
    }

    /// Writes an account file (atomically, mode 0600).
    pub fn save_user(&self, address: &Address, file: &UserFile) -> Result<(), AccountError> {
        let head = format!(
            "# nmail account {address}; the password is an Argon2id hash.\n\
             # Change it with `nmail user passwd {address}`.\n"
        );
        write_toml(&self.data.user_file(address), &head, file)
    }

    /// Sets a new password.
    pub fn set_password(
        &self,
        address: &Address,
        password: &str,
    ) -> Result<UserFile, AccountError> {
        let mut file = self
            .user(address)?
            .ok_or_else(|| AccountError::NoSuchUser(address.clone()))?;
        file.password = hash_password(password)?;
        self.save_user(address, &file)?;
        Ok(file)
    }

    /// Every account of a domain, sorted; those whose file cannot be read in
    /// the second list, by address, with the error.
    pub fn users(
        &self,
        domain: &DomainName,
    ) -> Result<(Vec<UserFile>, Vec<(String, AccountError)>), AccountError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for name in list_dir_names(&self.data.users_dir(domain))? {
            let addr = format!("{name}@{domain}");
            let folder = self.data.users_dir(domain).join(&name);
            match LocalPart::parse(&name) {
                Ok(l) if l.as_str() != name => bad.push((
                    addr,
                    odd_folder(
                        folder,
                        "not an account name as nmail writes it (lower case; NFKC beyond ASCII)",
                    ),
                )),
                Ok(l) => match self.user(&Address::new(l, domain.clone())) {
                    Ok(Some(f)) if f.address == addr => out.push(f),
                    Ok(Some(f)) => bad.push((
                        addr,
                        odd_folder(folder, &format!("its user.toml names {:?}", f.address)),
                    )),
                    Ok(None) => bad.push((addr, odd_folder(folder, "no user.toml"))),
                    Err(e) => bad.push((addr, e)),
                },
                Err(e) => bad.push((addr, e.into())),
            }
        }
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok((out, bad))
    }

    /// Removes an account. Without `purge` its folder (mail included) is
    /// moved to `removed/<domain>/<local>.<timestamp>` and that path is
    /// returned, so a mistaken removal loses nothing; with `purge` it is
    /// deleted.
    pub fn remove_user(
        &self,
        address: &Address,
        purge: bool,
    ) -> Result<Option<PathBuf>, AccountError> {
        if self.user(address)?.is_none() {
            return Err(AccountError::NoSuchUser(address.clone()));
        }
        let dir = self.data.user_dir(address);
        let parent = self.data.users_dir(address.domain());
        if purge {
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
            fsync_dir(&parent).map_err(io_err(&parent))?;
            return Ok(None);
        }
        let dest_dir = self.data.removed_dir().join(address.domain().as_str());
        create_dir_all_durable(&dest_dir).map_err(io_err(&dest_dir))?;
        let stamp = OffsetDateTime::now_utc().unix_timestamp();
        let dest = dest_dir.join(format!("{}.{stamp}", address.local().as_str()));
        fs::rename(&dir, &dest).map_err(io_err(&dir))?;
        fsync_dir(&parent).map_err(io_err(&parent))?;
        fsync_dir(&dest_dir).map_err(io_err(&dest_dir))?;
        Ok(Some(dest))
    }
}

fn odd_folder(path: PathBuf, why: &str) -> AccountError {
    AccountError::OddFolder {
        path,
        why: why.to_string(),
    }
}

/// Names of the sub-folders of `dir` (not dot names); none if it is missing.
fn list_dir_names(dir: &PathBuf) -> Result<Vec<String>, AccountError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut names = Vec::new();
    for de in rd {
        let de = de.map_err(io_err(dir))?;
        if !de.path().is_dir() {
            continue;
        }
        if let Ok(n) = de.file_name().into_string()
            && !n.starts_with('.')
        {
            names.push(n);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_passwords_match_in_either_normal_form() {
        let nfc = "비밀번호 1";
        let nfd: String = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd()
            .normalize(nfc)
            .into_owned();
        assert_ne!(nfd, nfc);
        let h = hash_password(&nfd).unwrap();
        assert!(verify_password(&h, nfc));
        assert!(verify_password(&h, &nfd));
        // An ideographic space is a space.
        assert!(verify_password(&h, "비밀번호\u{3000}1"));
        assert!(!verify_password(&h, "비밀번호1"));
        // A hash of the raw form (made before passwords were prepared)
        // still matches.
        let old = Argon2::default()
            .hash_password(nfd.as_bytes())
            .unwrap()
            .to_string();
        assert!(verify_password(&old, &nfd));
    }

    #[test]
    fn domain_and_user_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let acc = Accounts::new(DataDir::new(dir.path()));
        let d = DomainName::parse("example.com").unwrap();
        acc.add_domain(&d).unwrap();
        assert!(matches!(acc.add_domain(&d), Err(AccountError::Exists(_))));
        let bob = Address::parse("bob@example.com").unwrap();
        let f = acc.add_user(&bob, "Correct-Horse-7").unwrap();
        assert!(f.password.starts_with("$argon2id$"));
        assert!(verify_password(&f.password, "Correct-Horse-7"));
        assert!(!verify_password(&f.password, "wrong"));
        assert!(
            dir.path()
                .join("domains/example.com/users/bob/Maildir/new")
                .is_dir()
        );
        acc.set_password(&bob, "other").unwrap();
        assert!(verify_password(
            &acc.user(&bob).unwrap().unwrap().password,
            "other"
        ));
        assert_eq!(acc.users(&d).unwrap().0.len(), 1);
        assert!(matches!(
            acc.remove_domain(&d, false, false),
            Err(AccountError::DomainNotEmpty { .. })
        ));
        let moved = acc.remove_user(&bob, false).unwrap().unwrap();
        assert!(moved.join("Maildir/cur").is_dir());
        acc.remove_domain(&d, false, false).unwrap();
        assert!(acc.domains().unwrap().0.is_empty());
    }
}
