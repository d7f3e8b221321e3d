//! nmail: a self-hosted mail server over a maildir tree.
//!
//! This crate is the `nmail` program: settings, the SMTP and POP3 servers
//! and the command line. The mail store (maildir files, accounts, the index,
//! resync) is the `nmail-sync` crate in `sync/`.

pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod conn;
pub mod dsn;
pub mod pop3;
pub mod queue;
pub mod server;
pub mod smtp;
pub mod tls;
