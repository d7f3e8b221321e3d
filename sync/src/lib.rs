//! nmail's mail store.
//!
//! The data folder is the truth: messages are maildir files, accounts and
//! domains are small TOML files, and every write goes to a temporary file that
//! is fsynced and renamed into place. The index (SQLite by default) is derived
//! from those files and can be deleted and rebuilt at any time; the resync
//! engine in [`resync`] does that, and the servers call it per folder to keep
//! what they read current.
//!
//! `maildata-layout.md` at the top of the repository is the contract for every
//! name this crate writes.

pub mod account;
pub mod address;
pub mod charset;
pub mod fsutil;
pub mod index;
pub mod layout;
pub mod maildir;
pub mod message;
pub mod resync;
pub mod store;
pub mod uidlist;
pub mod watch;

pub use address::{Address, DomainName, LocalPart};
pub use index::Index;
pub use layout::DataDir;
pub use store::Store;
