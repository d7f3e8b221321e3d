//! The queue: messages accepted with 250 that could not yet reach some of
//! their recipients, kept as files in `DIR/queue/` until they do, or until
//! they are given up and returned to the sender with a delivery status
//! notification (RFC 3464).
//!
//! Today it holds local recipients deferred at delivery (a full mailbox)
//! and the DSNs nmail itself writes. TODO(outbound issue): deliver remote
//! recipients (relayed mail, DSNs to remote senders) over SMTP; until then
//! they wait in the queue and `nmail queue list` shows them.
//!
//! An entry is two files: `<id>.eml`, the message with this hop's Received
//! field, and `<id>.toml`, its envelope and each recipient's state. The
//! message is written (and fsynced) first, the envelope last, so a crash
//! leaves at worst a message without an envelope, which was never
//! acknowledged and is removed at start.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use nmail_sync::fsutil::{create_dir_all_durable, fsync_dir, write_file_atomic};
use nmail_sync::store::Body;
use nmail_sync::{Address, DataDir};

use crate::server::Shared;

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Still to be tried.
    Pending,
    /// Delivered.
    Delivered,
    /// Given up; a DSN was (or will be) sent.
    Failed,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipient {
    /// The address.
    pub address: String,
    /// True when the address is not hosted here (needs outbound SMTP).
    pub remote: bool,
    /// Its state.
    pub state: State,
    /// Attempts so far.
    pub attempts: u32,
    /// When to try next (seconds since the epoch).
    pub next_attempt: i64,
    /// The last failure, as an SMTP reply (`452 4.2.2 Mailbox full`).
    #[serde(default)]
    pub last_reply: String,
}

/// The envelope of a queued message: `<id>.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The queue id (also in the message's Received field).
    pub id: String,
    /// When it was accepted (seconds since the epoch).
    pub created: i64,
    /// The reverse-path; empty for the null sender `<>`, which never gets
    /// a DSN (RFC 5321 §4.5.5).
    pub from: String,
    /// Its recipients.
    #[serde(rename = "recipient")]
    pub recipients: Vec<Recipient>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The queue folder of a data folder.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

impl Queue {
    /// The queue of `data` (`DIR/queue`).
    pub fn new(data: &DataDir) -> Self {
        Queue {
            dir: data.root().join("queue"),
        }
    }

    /// The message file of an entry.
    pub fn message_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    fn envelope_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Adds an entry: `head` (this hop's trace field) then `body`.
    pub fn enqueue(&self, env: &Envelope, head: &[u8], body: &Body) -> io::Result<()> {
        create_dir_all_durable(&self.dir)?;
        let mut data = head.to_vec();
        match body {
            Body::Memory(b) => data.extend_from_slice(b),
            Body::File(p) => data.extend_from_slice(&fs::read(p)?),
        }
        write_file_atomic(&self.message_path(&env.id), &data, 0o600)?;
        if let Err(e) = self.save(env) {
            let _ = fs::remove_file(self.message_path(&env.id));
            return Err(e);
        }
        Ok(())
    }

    /// Writes an entry's envelope (atomically).
    pub fn save(&self, env: &Envelope) -> io::Result<()> {
        let text = toml::to_string(env).map_err(io::Error::other)?;
        let text = format!("# nmail queue entry; see maildata-layout.md\n{text}");
        write_file_atomic(&self.envelope_path(&env.id), text.as_bytes(), 0o600)
    }

    /// Removes an entry.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        let _ = fs::remove_file(self.envelope_path(id));
        let _ = fs::remove_file(self.message_path(id));
        fsync_dir(&self.dir)
    }

    /// Every entry; messages without an envelope (a crash before the
    /// envelope was written: never acknowledged) are removed.
    pub fn entries(&self) -> io::Result<Vec<Envelope>> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") {
                match fs::read_to_string(e.path()).map(|t| toml::from_str::<Envelope>(&t)) {
                    Ok(Ok(env)) => out.push(env),
                    Ok(Err(err)) => {
                        warn!(file = %e.path().display(), error = %err, "unreadable queue entry left alone")
                    }
                    Err(err) => {
                        warn!(file = %e.path().display(), error = %err, "unreadable queue entry left alone")
                    }
                }
            } else if let Some(id) = name.strip_suffix(".eml")
                && !self.envelope_path(id).exists()
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(60))
            {
                let _ = fs::remove_file(e.path());
            }
        }
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(out)
    }
}

/// When to try again after `attempts` failures: 1, 2, 4 ... minutes, at most
/// an hour (RFC 5321 §4.5.4.1 asks for at least 30 minutes between tries
/// to a remote host; a local full mailbox may free up sooner).
fn backoff(attempts: u32, base: u64) -> i64 {
    (base.saturating_mul(1 << attempts.min(6))).min(3600) as i64
}

/// Runs the queue until the process ends: every `retry_secs`, tries the due
/// recipients, gives up on those older than `max_age_secs`, and returns a
/// DSN for them.
pub async fn run(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.config.queue.retry_secs.max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = pass(&shared).await {
            warn!(error = %e, "queue pass failed");
        }
    }
}

/// One pass over the queue.
pub async fn pass(shared: &Shared) -> io::Result<()> {
    let queue = Queue::new(shared.store.data());
    for env in queue.entries()? {
        // Servers sharing the data folder take turns on an entry, so that
        // no recipient gets a message twice.
        let lock = format!("queue:{}", env.id);
        let owner = shared.instance.clone();
        match shared.store.index().try_lock(&lock, &owner, 600).await {
            Ok(true) => {}
            _ => continue,
        }
        let result = pass_entry(shared, &queue, env).await;
        let _ = shared.store.index().unlock(&lock, &owner).await;
        result?;
    }
    Ok(())
}

async fn pass_entry(shared: &Shared, queue: &Queue, mut env: Envelope) -> io::Result<()> {
    // Another server may have finished it since the listing.
    if !queue.message_path(&env.id).exists() {
        return Ok(());
    }
    {
        let mut changed = false;
        for i in 0..env.recipients.len() {
            let r = env.recipients[i].clone();
            if r.state != State::Pending || r.next_attempt > now() {
                continue;
            }
            if r.remote {
                // TODO(outbound issue): SMTP to the recipient's MX.
                continue;
            }
            changed = true;
            let outcome = try_local(shared, queue, &env, &r.address).await;
            let rc = &mut env.recipients[i];
            rc.attempts += 1;
            match outcome {
                Ok(()) => {
                    rc.state = State::Delivered;
                    info!(queue_id = %env.id, rcpt = %rc.address, "delivered from the queue");
                }
                Err(reply) => {
                    // A permanent failure (5xx: the account is gone) is not
                    // retried; a temporary one is, until the retry period ends.
                    let permanent = reply.starts_with('5');
                    rc.last_reply = reply;
                    let age = now() - env.created;
                    if permanent || age >= shared.config.queue.max_age_secs as i64 {
                        rc.state = State::Failed;
                        warn!(queue_id = %env.id, rcpt = %rc.address, reply = %rc.last_reply, "given up; returning to sender");
                    } else {
                        rc.next_attempt =
                            now() + backoff(rc.attempts, shared.config.queue.retry_secs);
                        info!(queue_id = %env.id, rcpt = %rc.address, reply = %rc.last_reply, "deferred");
                    }
                }
            }
        }
        if env.recipients.iter().all(|r| r.state != State::Pending) {
            let failed: Vec<Recipient> = env
                .recipients
                .iter()
                .filter(|r| r.state == State::Failed)
                .cloned()
                .collect();
            if !failed.is_empty() && !env.from.is_empty() {
                let original = fs::read(queue.message_path(&env.id)).unwrap_or_default();
                crate::dsn::enqueue(shared, queue, &env, &failed, &original).await?;
            }
            queue.remove(&env.id)?;
        } else if changed {
            queue.save(&env)?;
        }
    }
    Ok(())
}

/// One local delivery attempt; the error is the SMTP reply that describes
/// the failure.
async fn try_local(
    shared: &Shared,
    queue: &Queue,
    env: &Envelope,
    rcpt: &str,
) -> Result<(), String> {
    let addr = Address::parse(rcpt).map_err(|_| "550 5.1.1 Bad recipient address".to_string())?;
    let user = match shared.store.index().user(rcpt).await {
        Ok(Some(u)) => u,
        Ok(None) => return Err("550 5.1.1 User unknown".into()),
        Err(_) => return Err("451 4.3.0 Local error".into()),
    };
    let path = queue.message_path(&env.id);
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if let Some(q) = user.quota_bytes {
        let used = shared.store.index().usage(rcpt).await.unwrap_or(0);
        if used + size > q {
            return Err("452 4.2.2 Mailbox full".into());
        }
    }
    let prefix = format!("Return-Path: <{}>\r\nDelivered-To: {rcpt}\r\n", env.from).into_bytes();
    shared
        .store
        .deliver(&[addr], vec![prefix], Body::File(path))
        .await
        .map(|_| ())
        .map_err(|e| {
            if e.is_storage_full() {
                "452 4.3.1 Insufficient system storage".into()
            } else {
                "451 4.3.0 Local error".into()
            }
        })
}

/// Removes envelopes-less messages left by a crash (see [`Queue::entries`]).
pub fn recover(data: &DataDir) {
    let _ = Queue::new(data).entries();
}
