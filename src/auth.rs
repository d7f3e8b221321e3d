//! Password logins shared by the protocols: looking the account up in the
//! index, checking the Argon2id hash off the async threads, and slowing
//! down clients that guess.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nmail_sync::Address;
use nmail_sync::account::{verify_dummy, verify_password};

use crate::server::Shared;

/// Failed logins per client address within [`WINDOW`] after which further
/// attempts are refused without checking the password.
const BLOCK_AFTER: u32 = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed-login bookkeeping per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    fn recent(&self, ip: IpAddr) -> u32 {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(&ip) {
            Some(&(_, since)) if since.elapsed() > WINDOW => {
                m.remove(&ip);
                0
            }
            Some(&(n, _)) => n,
            None => 0,
        }
    }

    /// True when this address has failed too often lately.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        self.recent(ip) >= BLOCK_AFTER
    }

    /// Records a failure and returns how long to wait before answering it:
    /// one second, doubling with each recent failure up to 16 s, so a
    /// guesser gets a handful of tries a minute per connection.
    pub fn failed(&self, ip: IpAddr) -> Duration {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the table under a spray from many addresses.
        if m.len() > 100_000 {
            m.retain(|_, (_, since)| since.elapsed() <= WINDOW);
        }
        let e = m.entry(ip).or_insert((0, Instant::now()));
        e.0 += 1;
        Duration::from_secs(1 << (e.0 - 1).min(4))
    }

    /// Clears the record of an address after a successful login.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub enum Login {
    /// The account, authenticated.
    Ok(Address),
    /// Wrong name or password (never said which).
    Denied,
    /// The index could not be read.
    Unavailable,
}

/// Checks `name` (an address, or a bare local-part of a hosted domain) and
/// `password`.
pub async fn login(shared: &Shared, name: &str, password: &str) -> Login {
    let index = shared.store.index();
    let name = name.trim().to_ascii_lowercase();
    let candidates: Vec<String> = if name.contains('@') {
        vec![name]
    } else {
        match index.domains().await {
            Ok(ds) => ds
                .into_iter()
                .map(|d| format!("{name}@{}", d.name))
                .collect(),
            Err(_) => return Login::Unavailable,
        }
    };
    let mut found = None;
    for c in candidates {
        match index.user(&c).await {
            Ok(Some(u)) => {
                found = Some(u);
                break;
            }
            Ok(None) => {}
            Err(_) => return Login::Unavailable,
        }
    }
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || match found {
        Some(u) if !u.disabled => verify_password(&u.password, &password).then_some(u.address),
        _ => {
            verify_dummy(&password);
            None
        }
    })
    .await
    .ok()
    .flatten();
    match ok.map(|a| Address::parse(&a)) {
        Some(Ok(a)) => Login::Ok(a),
        _ => Login::Denied,
    }
}
