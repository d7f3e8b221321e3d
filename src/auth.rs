//! Password logins shared by the protocols: looking the account up in the
//! index, checking the Argon2id hash off the async threads, and slowing
//! down clients that guess.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nmail_sync::account::{verify_dummy, verify_password};
use nmail_sync::{Address, LocalPart};

use crate::server::Shared;

/// Failed logins per client address within [`WINDOW`] after which further
/// attempts are refused without checking the password. The window starts at
/// the first failure and is not cut short by a successful login (otherwise
/// one valid account would let a guesser reset the count at will); attempts
/// still being checked count too, so a burst of parallel guesses cannot slip
/// past the limit.
const BLOCK_AFTER: u32 = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
struct Entry {
    failures: u32,
    in_flight: u32,
    since: Instant,
}

/// Failed-login bookkeeping per client address, in memory (a restart
/// clears it; a block otherwise ends when its 15-minute window does).
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// One login attempt being checked; report its outcome with
/// [`Attempt::failed`] or [`Attempt::succeeded`].
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    ip: IpAddr,
    done: bool,
}

impl Throttle {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Entry>) -> T) -> T {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut m)
    }

    /// Starts an attempt from `ip`, or `None` when the address has failed
    /// too often lately.
    pub fn begin(&self, ip: IpAddr) -> Option<Attempt<'_>> {
        let allowed = self.with(|m| {
            // Bound the table under a spray from many addresses.
            if m.len() > 100_000 {
                m.retain(|_, e| e.in_flight > 0 || e.since.elapsed() <= WINDOW);
            }
            let e = m.entry(ip).or_insert(Entry {
                failures: 0,
                in_flight: 0,
                since: Instant::now(),
            });
            if e.in_flight == 0 && e.since.elapsed() > WINDOW {
                *e = Entry {
                    failures: 0,
                    in_flight: 0,
                    since: Instant::now(),
                };
            }
            if e.failures + e.in_flight >= BLOCK_AFTER {
                return false;
            }
            e.in_flight += 1;
            true
        });
        // `then`, not `then_some`: a refused attempt must not exist (its drop
        // would count it as finished).
        allowed.then(|| Attempt {
            throttle: self,
            ip,
            done: false,
        })
    }

    fn finish(&self, ip: IpAddr, failed: bool) -> u32 {
        self.with(|m| match m.get_mut(&ip) {
            Some(e) => {
                e.in_flight = e.in_flight.saturating_sub(1);
                if failed {
                    if e.failures == 0 {
                        e.since = Instant::now();
                    }
                    e.failures += 1;
                }
                e.failures
            }
            None => 0,
        })
    }
}

impl Attempt<'_> {
    /// The password was wrong. Returns how long to wait before answering:
    /// one second, doubling with each recent failure up to 16 s, so a
    /// guesser gets a handful of tries a minute per connection.
    pub fn failed(mut self) -> Duration {
        self.done = true;
        let n = self.throttle.finish(self.ip, true);
        Duration::from_secs(1 << n.saturating_sub(1).min(4))
    }

    /// The login succeeded.
    pub fn succeeded(mut self) {
        self.done = true;
        self.throttle.finish(self.ip, false);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.finish(self.ip, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_even_with_successes_and_bursts() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..10 {
            t.begin(ip).unwrap().failed();
        }
        // A success does not wipe the count.
        t.begin(ip).unwrap().succeeded();
        // A burst in flight at once cannot exceed the limit.
        let burst: Vec<_> = (0..30).filter_map(|_| t.begin(ip)).collect();
        assert_eq!(burst.len(), 10);
        drop(burst);
        for _ in 0..10 {
            t.begin(ip).unwrap().failed();
        }
        assert!(t.begin(ip).is_none(), "blocked after 20 failures");
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(t.begin(other).is_some(), "other addresses unaffected");
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
    let name = name.trim();
    // Accounts are looked up in their one form (lower case, NFC local-part,
    // A-label domain); a name that has none matches nobody, but still
    // costs a password check below.
    let candidates: Vec<String> = if name.contains('@') {
        Address::parse(name)
            .map(|a| a.to_string())
            .into_iter()
            .collect()
    } else if let Ok(local) = LocalPart::parse(name) {
        match index.domains().await {
            Ok(ds) => ds
                .into_iter()
                .map(|d| format!("{}@{}", local.as_str(), d.name))
                .collect(),
            Err(_) => return Login::Unavailable,
        }
    } else {
        Vec::new()
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
