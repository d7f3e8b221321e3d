//! POP3 (RFC 1939) with CAPA and response codes (RFC 2449), SASL PLAIN
//! (RFC 5034) and STLS (RFC 2595).

pub mod command;
pub mod session;
pub mod wire;

pub use session::serve;
