//! `nmail serve`: opens the store, brings the index up to date, and runs the
//! SMTP and POP3 listeners until SIGINT or SIGTERM.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info, warn};

use nmail_sync::resync::{self, Depth};
use nmail_sync::store::StoreOptions;
use nmail_sync::{DataDir, Index, Store};

use crate::auth::Throttle;
use crate::config::Config;

/// What every session of this process shares.
pub struct Shared {
    /// Settings.
    pub config: Config,
    /// The store.
    pub store: Store,
    /// TLS, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// SMTP session slots.
    pub smtp_slots: Arc<Semaphore>,
    /// POP3 session slots.
    pub pop3_slots: Arc<Semaphore>,
    /// Failed-login bookkeeping.
    pub throttle: Throttle,
    /// Sessions per client address, for the per-address limits.
    pub per_ip: PerIp,
    /// Owner tag of the locks this process takes: host name, process id and
    /// a random part, so locks of another server on the same index (or of
    /// this one before a restart) are told apart.
    pub instance: String,
}

/// Open sessions per client address: one host may not take every slot
/// (a connection flood, or many slow clients) and lock everyone else out.
#[derive(Debug, Default)]
pub struct PerIp {
    counts: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// A session's place in [`PerIp`], given back on drop.
pub struct IpSlot<'a> {
    table: &'a PerIp,
    ip: std::net::IpAddr,
}

impl PerIp {
    /// Takes a place for `ip`, or `None` when it already has `limit`
    /// sessions (0: no limit).
    pub fn enter(&self, ip: std::net::IpAddr, limit: usize) -> Option<IpSlot<'_>> {
        let mut m = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if limit > 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(IpSlot { table: self, ip })
    }
}

impl Drop for IpSlot<'_> {
    fn drop(&mut self) {
        let mut m = self.table.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Why a new session is turned away before its greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every session slot of the protocol is taken.
    Busy,
    /// The client's address already holds its share of the slots.
    PerAddress,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Busy => "too many connections",
            Refusal::PerAddress => "too many connections from this address",
        })
    }
}

/// A session's admission: one of its protocol's slots and a place for its
/// client address, both given back when it is dropped.
pub struct Admission<'a> {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _address: IpSlot<'a>,
}

impl Shared {
    /// Admits a session from `ip` to one of `slots`, at most
    /// `per_address` at a time from one address (0: no limit).
    pub fn admit(
        &self,
        slots: &Arc<Semaphore>,
        ip: std::net::IpAddr,
        per_address: usize,
    ) -> Result<Admission<'_>, Refusal> {
        let slot = slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)?;
        let address = self
            .per_ip
            .enter(ip, per_address)
            .ok_or(Refusal::PerAddress)?;
        Ok(Admission {
            _slot: slot,
            _address: address,
        })
    }
}

/// Sends `reply` to a session that was not admitted and closes it.
pub async fn turn_away(stream: tokio::net::TcpStream, reply: &[u8], why: Refusal) {
    let mut conn = crate::conn::Conn::new(stream);
    conn.queue(reply);
    conn.close(std::time::Duration::from_secs(5)).await;
    tracing::info!("session refused: {why}");
}

/// A new session or queue id: short, unique in this process, and unlikely
/// to repeat across restarts (it starts from a random point).
pub fn next_id() -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    static N: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| rand::random::<u64>() & 0xffff_ffff);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}", base.wrapping_add(n) & 0xffff_ffff)
}

/// Shows bytes from the network in logs with control and non-ASCII
/// octets escaped, so a client cannot forge log lines.
pub struct LogSafe<'a>(pub &'a [u8]);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.iter().take(512) {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if self.0.len() > 512 {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Opens the store of a data folder with its configured index.
pub async fn open_store(data: &DataDir, config: &Config) -> Result<Store> {
    let index = Index::open(&config.index.url, data.root())
        .await
        .with_context(|| format!("opening the index {}", config.index.url))?;
    Ok(Store::new(
        data.clone(),
        index,
        &StoreOptions {
            hostname: config.server.hostname.clone(),
            info_separator: config.info_separator(),
        },
    ))
}

/// Removes what interrupted runs left in the spool (no message there was
/// ever acknowledged): files of this host's processes that no longer run,
/// and anything a day old. Spool files are named `HOST.PID.QUEUEID`, so the
/// files of another server sharing the data folder are left alone.
fn clean_spool(data: &DataDir, hostname: &str) -> Result<()> {
    let dir = data.spool_tmp();
    nmail_sync::fsutil::create_dir_all_durable(&dir)?;
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ours_dead = name
            .strip_prefix(&format!("{hostname}."))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(24 * 3600));
        if e.path().is_file() && (ours_dead || old) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Runs the server until it is told to stop.
pub async fn serve(data: DataDir, config: Config) -> Result<()> {
    clean_spool(&data, &config.server.hostname).context("cleaning the spool")?;
    crate::queue::recover(&data);
    let store = open_store(&data, &config).await?;

    // Watch first, so nothing that changes during the start-up check is
    // missed; then compare what changed while the server was down (or
    // after the index was deleted): accounts mirrored, folders by name.
    let every =
        (config.watch.rescan_secs > 0).then(|| Duration::from_secs(config.watch.rescan_secs));
    let _watcher = if config.watch.enabled || every.is_some() {
        match nmail_sync::watch::start(store.clone(), config.watch.enabled, every) {
            Ok(w) => Some(w),
            Err(e) => {
                warn!(error = %e, "cannot watch the data folder; changes by other programs are seen only at folder open");
                None
            }
        }
    } else {
        None
    };
    let report = resync::resync(
        &store,
        &resync::Options {
            depth: Depth::Names,
            ..Default::default()
        },
    )
    .await
    .context("start-up resync")?;
    info!(
        files = report.files_seen,
        added = report.added,
        removed = report.removed,
        changed = report.changed,
        secs = report.elapsed.as_secs_f32(),
        "index checked against the files"
    );
    for e in &report.errors {
        warn!(error = %e, "start-up resync");
    }

    release_dead_locks(&store, &config.server.hostname).await;

    let tls = crate::tls::load(
        &data.root().join(&config.tls.cert),
        &data.root().join(&config.tls.key),
    )?;
    if tls.is_none() {
        warn!(
            "no TLS certificate in {}: STARTTLS and STLS are not offered",
            config.tls.cert.display()
        );
    }
    let instance = format!(
        "{}/{}/{:08x}",
        config.server.hostname,
        std::process::id(),
        rand::random::<u32>()
    );
    let shared = Arc::new(Shared {
        smtp_slots: Arc::new(Semaphore::new(config.smtp.max_connections)),
        pop3_slots: Arc::new(Semaphore::new(config.pop3.max_connections)),
        throttle: Throttle::default(),
        per_ip: PerIp::default(),
        tls,
        store,
        instance,
        config,
    });

    let mut tasks = Vec::new();
    for addr in shared.config.smtp.listen.clone() {
        let l = bind(addr, "smtp").await?;
        tasks.push(tokio::spawn(accept_loop(l, shared.clone(), Proto::Smtp)));
    }
    for addr in shared.config.pop3.listen.clone() {
        let l = bind(addr, "pop3").await?;
        tasks.push(tokio::spawn(accept_loop(l, shared.clone(), Proto::Pop3)));
    }
    tasks.push(tokio::spawn(crate::queue::run(shared.clone())));
    info!(data = %data.root().display(), "nmail ready");

    shutdown_signal().await;
    info!("shutting down");
    for t in &tasks {
        t.abort();
    }
    // Sessions finish their current command; give them a moment.
    let busy = |s: &Semaphore, max: usize| max - s.available_permits();
    for _ in 0..50 {
        if busy(&shared.smtp_slots, shared.config.smtp.max_connections) == 0
            && busy(&shared.pop3_slots, shared.config.pop3.max_connections) == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Releases the POP3 locks that earlier runs of a server on this host left
/// behind when they were killed: their owner names a process that no longer
/// exists. Locks of other hosts sharing the index are left to expire.
async fn release_dead_locks(store: &Store, hostname: &str) {
    let Ok(locks) = store.index().locks().await else {
        return;
    };
    for (name, owner, _) in locks {
        let mut parts = owner.split('/');
        let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if host == hostname && !alive {
            info!(lock = %name, %owner, "releasing a lock left by a stopped server");
            let _ = store.index().unlock(&name, &owner).await;
        }
    }
}

async fn bind(addr: SocketAddr, proto: &str) -> Result<TcpListener> {
    let l = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen for {proto} on {addr} (ports below 1024 need root; set NMAIL_{}_LISTEN)",
            proto.to_uppercase()
        )
    })?;
    let local = l.local_addr()?;
    // Tests and scripts read this line to learn the port when 0 was asked.
    // A closed stdout (a supervisor that stopped reading) must not stop
    // the server, so no println!, which panics on EPIPE.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "nmail: {proto} listening on {local}");
        let _ = out.flush();
    }
    info!(%local, proto, "listening");
    Ok(l)
}

#[derive(Clone, Copy)]
enum Proto {
    Smtp,
    Pop3,
}

async fn accept_loop(l: TcpListener, shared: Arc<Shared>, proto: Proto) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    match proto {
                        Proto::Smtp => crate::smtp::serve(shared, stream, peer).await,
                        Proto::Pop3 => crate::pop3::serve(shared, stream, peer).await,
                    }
                });
            }
            Err(e) => {
                // EMFILE and friends: wait instead of spinning.
                error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// True when `path` holds an initialised data folder.
pub fn is_initialised(path: &Path) -> bool {
    path.join(nmail_sync::layout::CONFIG_FILE).exists()
}
