//! Webmail and postmaster admin. TODO: the web issue builds this crate.
