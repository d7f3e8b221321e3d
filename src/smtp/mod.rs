//! Inbound SMTP (RFC 5321): command parsing, the DATA receiver, replies and
//! the session state machine.

pub mod command;
pub mod data;
pub mod reply;
pub mod session;

pub use session::serve;
