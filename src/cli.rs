//! The command lines of `nmail` and `nmail-resync`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use nmail_sync::resync::{self, Depth};
use nmail_sync::{Address, DataDir, DomainName};

use crate::config::{self, Config};
use crate::server;

/// Prints a line to standard output, ignoring a closed pipe
/// (`nmail user list | head` must not panic).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// nmail: SMTP and POP3 mail server over a maildir tree.
#[derive(Parser, Debug)]
#[command(
    name = "nmail",
    version,
    about = "nmail: SMTP and POP3 mail server over a maildir tree"
)]
struct Cli {
    /// The data folder (settings, accounts, mail, index).
    #[arg(long, env = "NMAIL_DATA", default_value = "data", global = true)]
    data: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Debug, Clone)]
struct DataArg {
    /// The data folder (settings, accounts, mail, index).
    #[arg(long, env = "NMAIL_DATA", default_value = "data")]
    data: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a data folder with its first domain and postmaster account.
    Init {
        #[command(flatten)]
        init: InitArgs,
    },
    /// Run the SMTP and POP3 servers (creating the data folder on first use).
    Serve {
        #[command(flatten)]
        init: InitArgs,
    },
    /// Manage hosted domains.
    Domain {
        #[command(subcommand)]
        action: DomainCmd,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Look at the queue of messages not yet delivered to every recipient.
    Queue {
        #[command(subcommand)]
        action: QueueCmd,
    },
    /// Returned mail (bounces): what failed, why, and what to do.
    Bounce {
        #[command(subcommand)]
        action: BounceCmd,
    },
    /// Write an archive of the data folder, consistent while the server runs.
    Backup {
        #[command(flatten)]
        args: crate::backup::BackupArgs,
    },
    /// Unpack an archive into a new data folder (--data) and rebuild its index.
    Restore {
        #[command(flatten)]
        args: crate::backup::RestoreArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct InitArgs {
    /// The first hosted domain (default: the host name, or localhost).
    #[arg(long)]
    domain: Option<String>,
    /// This server's host name (default: the machine's).
    #[arg(long)]
    hostname: Option<String>,
    /// Read postmaster's password from this file instead of generating one.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum DomainCmd {
    /// Add a hosted domain.
    Add { domain: String },
    /// List hosted domains.
    List,
    /// Remove a hosted domain.
    Remove {
        domain: String,
        /// Also remove its accounts (moved to removed/ unless --purge).
        #[arg(long)]
        with_users: bool,
        /// Delete accounts and mail instead of moving them to removed/.
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Add an account; the password comes from --password-file or standard input.
    Add {
        address: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List accounts, of one domain or all.
    List { domain: Option<String> },
    /// Set an account's password (from --password-file or standard input).
    Passwd {
        address: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Remove an account (its folder is moved to removed/ unless --purge).
    Remove {
        address: String,
        #[arg(long)]
        purge: bool,
    },
    /// Set an account's mailbox size limit: octets, or with K, M, G
    /// (1024-based), or "none".
    Quota { address: String, size: String },
}

#[derive(Subcommand, Debug)]
enum BounceCmd {
    /// Analyse returned messages: one line per failed recipient, or with
    /// --json one object per file.
    Analyze {
        /// One JSON object per file, with a `recipients` array (the
        /// recipients of all the notices in an mbox file are listed in its
        /// one object).
        #[arg(long)]
        json: bool,
        /// Language of the explanations: ko or en.
        #[arg(long, default_value = "ko")]
        lang: String,
        /// Message files (.eml, or mbox); `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum QueueCmd {
    /// List messages waiting in the queue, with each recipient's state.
    List,
}

/// Parses `10485760`, `500K`, `10M`, `1G` or `none`.
fn parse_size(s: &str) -> Result<Option<u64>> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .with_context(|| format!("{s:?} is not a size (e.g. 500M, 2G, none)"))?;
    Ok(Some(n.saturating_mul(mult)))
}

fn runtime(program: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            None
        }
    }
}

/// Entry point of `nmail`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    nmail_sync::message::quiet_parser_panics();
    let Some(rt) = runtime("nmail") else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nmail: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let data = DataArg { data: cli.data };
    match cli.command {
        Cmd::Init { init } => {
            init_logging("warn");
            let dir = DataDir::new(&data.data);
            if server::is_initialised(dir.root()) {
                out!(
                    "nmail: {} is already initialised; nothing changed.",
                    dir.root().display()
                );
                if let Some(d) = init.domain {
                    out!(
                        "       (to host {d} as well, run: nmail domain add {d} --data {})",
                        dir.root().display()
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            initialise(&dir, &init).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Serve { init } => {
            let dir = DataDir::new(&data.data);
            if !server::is_initialised(dir.root()) {
                // No logging set up yet: the settings file that chooses the
                // level is only written by initialise.
                out!(
                    "nmail: {} has no data folder yet; creating it.",
                    dir.root().display()
                );
                initialise(&dir, &init).await?;
            }
            let cfg = Config::load(dir.root())?;
            init_logging(&cfg.log.level);
            server::serve(dir, cfg).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Domain { action } => {
            init_logging("warn");
            let (dir, store) = open(&data).await?;
            match action {
                DomainCmd::Add { domain } => {
                    let d = DomainName::parse(&domain)?;
                    store.add_domain(&d).await?;
                    out!("added domain {}", readable(&d));
                }
                DomainCmd::List => {
                    let (domains, bad) = store.accounts().domains()?;
                    for d in domains {
                        match DomainName::parse(&d.name) {
                            Ok(n) => out!("{}", readable(&n)),
                            Err(_) => out!("{}", d.name),
                        }
                    }
                    for (_, e) in bad {
                        eprintln!("nmail: {e}");
                    }
                }
                DomainCmd::Remove {
                    domain,
                    with_users,
                    purge,
                } => {
                    let d = DomainName::parse(&domain)?;
                    let moved = store.remove_domain(&d, with_users, purge).await?;
                    for m in moved {
                        out!("moved {} (delete it when no longer needed)", m.display());
                    }
                    out!("removed domain {d} from {}", dir.root().display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bounce {
            action: BounceCmd::Analyze { json, lang, files },
        } => {
            let lang: nmail_bounce::Lang = lang
                .parse()
                .map_err(|e| anyhow::anyhow!("--lang {lang}: {e}"))?;
            let ok =
                nmail_bounce::analyze_files_cli(&files, json, lang, &mut std::io::stdout().lock())?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Cmd::Queue {
            action: QueueCmd::List,
        } => {
            init_logging("warn");
            let (dir, _) = open(&data).await?;
            let q = crate::queue::Queue::new(&dir);
            let entries = q.entries()?;
            if entries.is_empty() {
                out!("the queue is empty");
            }
            for e in entries {
                let from = if e.from.is_empty() {
                    "<>".to_string()
                } else {
                    e.from.clone()
                };
                out!("{} from {from}", e.id);
                for r in e.recipients {
                    out!(
                        "  {} {:?} attempts {} {}",
                        r.address,
                        r.state,
                        r.attempts,
                        r.last_reply
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::User { action } => {
            init_logging("warn");
            let (_, store) = open(&data).await?;
            match action {
                UserCmd::Add {
                    address,
                    password_file,
                } => {
                    let a = Address::parse(&address)?;
                    let pw =
                        read_password(password_file.as_deref(), &format!("Password for {a}: "))?;
                    store.add_user(&a, &pw).await?;
                    out!("added account {a}");
                }
                UserCmd::List { domain } => {
                    let domains = match domain {
                        Some(d) => vec![DomainName::parse(&d)?],
                        None => store
                            .accounts()
                            .domains()?
                            .0
                            .iter()
                            .filter_map(|d| DomainName::parse(&d.name).ok())
                            .collect(),
                    };
                    for d in domains {
                        let (users, bad) = store.accounts().users(&d)?;
                        for (_, e) in bad {
                            eprintln!("nmail: {e}");
                        }
                        for u in users {
                            let state = if u.disabled { " (disabled)" } else { "" };
                            out!("{}{state}", u.address);
                        }
                    }
                }
                UserCmd::Passwd {
                    address,
                    password_file,
                } => {
                    let a = Address::parse(&address)?;
                    let pw = read_password(
                        password_file.as_deref(),
                        &format!("New password for {a}: "),
                    )?;
                    store.set_password(&a, &pw).await?;
                    out!("password of {a} changed");
                }
                UserCmd::Quota { address, size } => {
                    let a = Address::parse(&address)?;
                    let q = parse_size(&size)?;
                    store.set_quota(&a, q).await?;
                    match q {
                        Some(q) => out!("quota of {a} set to {q} octets"),
                        None => out!("quota of {a} removed"),
                    }
                }
                UserCmd::Remove { address, purge } => {
                    let a = Address::parse(&address)?;
                    match store.remove_user(&a, purge).await? {
                        Some(p) => out!("removed {a}; its mail was moved to {}", p.display()),
                        None => out!("removed {a} and deleted its mail"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Backup { args } => {
            init_logging("warn");
            crate::backup::backup(&data.data, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Restore { args } => {
            init_logging("warn");
            crate::backup::restore(&data.data, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open(data: &DataArg) -> Result<(DataDir, nmail_sync::Store)> {
    let dir = DataDir::new(&data.data);
    if !server::is_initialised(dir.root()) {
        bail!(
            "{} is not a data folder; create one with: nmail init --data {} --domain DOMAIN",
            dir.root().display(),
            dir.root().display()
        );
    }
    let cfg = Config::load(dir.root())?;
    let store = server::open_store(&dir, &cfg).await?;
    Ok((dir, store))
}

/// Reads a password from a file (one line; the line end is not part of
/// it) or from standard input, never from the command line where other
/// users could see it in the process list.
fn read_password(file: Option<&Path>, prompt: &str) -> Result<String> {
    let text = match file {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => {
            let tty = std::io::stdin().is_terminal();
            if tty {
                eprint!("{prompt}");
                let _ = std::io::stderr().flush();
                set_echo(false);
            }
            let mut line = String::new();
            let r = std::io::stdin().lock().read_line(&mut line);
            if tty {
                set_echo(true);
                eprintln!();
            }
            r.context("reading the password from standard input")?;
            line
        }
    };
    let pw = text.strip_suffix('\n').unwrap_or(&text);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        bail!("the password is empty");
    }
    Ok(pw.to_string())
}

fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

fn generate_password() -> String {
    // No look-alikes (0/O, 1/l/I), so it can be read aloud or copied by hand.
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[(rand::random::<u32>() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Creates a data folder. Every step is skipped when already done and the
/// settings file comes last, so an interrupted init can simply be re-run.
async fn initialise(dir: &DataDir, args: &InitArgs) -> Result<()> {
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(config::default_hostname);
    let domain = match &args.domain {
        Some(d) => DomainName::parse(d)?,
        None => DomainName::parse(&hostname).or_else(|_| DomainName::parse("localhost"))?,
    };
    let password = match &args.password_file {
        Some(p) => Some(read_password(Some(p), "")?),
        None => None,
    };
    check_target(dir)?;
    let fresh = !dir.root().exists();
    nmail_sync::fsutil::create_dir_all_durable(dir.root())
        .with_context(|| format!("creating {}", dir.root().display()))?;
    if fresh {
        // The data folder holds password hashes, keys and everyone's mail.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.root(), std::fs::Permissions::from_mode(0o700))?;
    }
    nmail_sync::fsutil::create_dir_all_durable(&dir.spool_tmp())?;
    let mut cfg = Config::default();
    cfg.server.hostname = hostname.clone();
    let made_cert = crate::tls::make_self_signed(
        &hostname,
        &dir.root().join(&cfg.tls.cert),
        &dir.root().join(&cfg.tls.key),
    )?;
    let store = server::open_store(dir, &cfg).await?;
    // A folder that already hosts domains (an interrupted init, or a lost
    // nmail.toml) gets only its settings file back; no new domain appears.
    let existing = store.accounts().domains()?.0;
    let mut shown = None;
    let mut created = None;
    if existing.is_empty() || store.accounts().domain(&domain)?.is_some() {
        if store.accounts().domain(&domain)?.is_none() {
            store.add_domain(&domain).await?;
        }
        let postmaster = Address::parse(&format!("postmaster@{domain}"))?;
        if store.accounts().user(&postmaster)?.is_none() {
            let pw = match password {
                Some(p) => p,
                None => {
                    let p = generate_password();
                    shown = Some(p.clone());
                    p
                }
            };
            store.add_user(&postmaster, &pw).await?;
        }
        created = Some(postmaster);
    }
    // 0600: the settings may hold a MySQL password.
    nmail_sync::fsutil::write_file_atomic(
        &dir.config_file(),
        config::template(&hostname).as_bytes(),
        0o600,
    )?;
    out!("nmail: initialised {}", dir.root().display());
    out!("  host name:  {hostname}");
    match &created {
        Some(postmaster) => {
            out!("  domain:     {}", readable(&domain));
            out!("  account:    {postmaster}");
        }
        None => out!(
            "  domains:    kept as they were ({}); only nmail.toml was written",
            existing
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    if let (Some(p), Some(postmaster)) = (shown, &created) {
        out!("  password:   {p}");
        out!(
            "  (shown only this once; change it with: nmail user passwd {postmaster} --data {})",
            dir.root().display()
        );
    }
    if made_cert {
        out!(
            "  TLS:        self-signed certificate in {}; replace it with a real one",
            dir.tls_dir().display()
        );
    }
    Ok(())
}

/// Refuses to make a data folder in a folder that holds other things (a
/// mistyped `--data` must not scatter nmail's files among someone's).
fn check_target(dir: &DataDir) -> Result<()> {
    const OURS: &[&str] = &[
        "nmail.toml",
        "index.sqlite",
        "index.sqlite-wal",
        "index.sqlite-shm",
        "domains",
        "spool",
        "tls",
        "queue",
        "removed",
    ];
    let Ok(rd) = std::fs::read_dir(dir.root()) else {
        return Ok(());
    };
    let foreign: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !OURS.contains(&n.as_str()) && !n.starts_with('.'))
        .collect();
    if !foreign.is_empty() {
        bail!(
            "{} is not empty and is not an nmail data folder (it holds {}); choose a new or empty folder",
            dir.root().display(),
            foreign
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// nmail-resync: compare the index with the files and mend it.
#[derive(Parser, Debug)]
#[command(
    name = "nmail-resync",
    version,
    about = "Compares the index with the data folder's files and mends the index (never a message's content)"
)]
struct ResyncCli {
    #[command(flatten)]
    data: DataArg,
    /// Report differences and exit 1 if there are any; change nothing.
    #[arg(long)]
    check: bool,
    /// Report what would be changed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only this domain.
    #[arg(long)]
    domain: Option<String>,
    /// Only this account.
    #[arg(long)]
    user: Option<String>,
    /// Remove files left in maildir tmp/ folders for more than 36 hours
    /// (the maildir rule); otherwise they are only reported.
    #[arg(long)]
    clean_tmp: bool,
    /// Print only the summary, not each difference.
    #[arg(long, short)]
    quiet: bool,
}

/// Progress of nmail-resync: a bar on a terminal, a line every few seconds
/// otherwise (logs, cron mail).
struct CliProgress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    plain: std::sync::Mutex<(u64, u64, std::time::Instant)>,
}

impl CliProgress {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bar:40} {pos}/{len} files {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        CliProgress {
            bar,
            quiet,
            plain: std::sync::Mutex::new((0, 0, std::time::Instant::now())),
        }
    }
}

impl resync::Progress for CliProgress {
    fn wants_total(&self) -> bool {
        self.bar.is_some() || !self.quiet
    }

    fn total(&self, files: u64) {
        if let Some(b) = &self.bar {
            b.set_length(files);
        } else if let Ok(mut p) = self.plain.lock() {
            p.0 = files;
        }
    }

    fn advance(&self, files: u64) {
        if let Some(b) = &self.bar {
            b.inc(files);
        } else if !self.quiet
            && let Ok(mut p) = self.plain.lock()
        {
            p.1 += files;
            if p.2.elapsed() >= std::time::Duration::from_secs(5) {
                p.2 = std::time::Instant::now();
                eprintln!("nmail-resync: {} of {} files", p.1, p.0);
            }
        }
    }
}

/// Entry point of `nmail-resync`.
pub fn resync_main() -> ExitCode {
    let cli = ResyncCli::parse();
    init_logging(&std::env::var("NMAIL_LOG_LEVEL").unwrap_or_else(|_| "warn".into()));
    nmail_sync::message::quiet_parser_panics();
    let Some(rt) = runtime("nmail-resync") else {
        return ExitCode::from(2);
    };
    match rt.block_on(run_resync(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nmail-resync: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run_resync(cli: ResyncCli) -> Result<ExitCode> {
    let dry = cli.check || cli.dry_run;
    let dir = DataDir::new(&cli.data.data);
    if !server::is_initialised(dir.root()) {
        bail!("{} is not a data folder", dir.root().display());
    }
    let mut cfg = Config::load(dir.root())?;
    // --check and --dry-run write nothing, not even a new empty index: when
    // the SQLite index does not exist, compare with an empty one elsewhere.
    let mut scratch = None;
    if dry
        && let Some(rel) = cfg.index.url.strip_prefix("sqlite://")
        && !dir.root().join(rel).exists()
    {
        let p =
            std::env::temp_dir().join(format!("nmail-resync-check-{}.sqlite", std::process::id()));
        out!("(no index yet: comparing with an empty one)");
        cfg.index.url = format!("sqlite://{}", p.display());
        scratch = Some(p);
    }
    let store = server::open_store(&dir, &cfg).await?;
    let code = resync_report(&cli, &store).await;
    if let Some(p) = scratch {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
        }
    }
    code
}

async fn resync_report(cli: &ResyncCli, store: &nmail_sync::Store) -> Result<ExitCode> {
    let opts = resync::Options {
        dry_run: cli.check || cli.dry_run,
        domain: cli.domain.as_deref().map(DomainName::parse).transpose()?,
        user: cli.user.as_deref().map(Address::parse).transpose()?,
        depth: Depth::Full,
        clean_tmp: cli.clean_tmp,
    };
    let progress = std::sync::Arc::new(CliProgress::new(cli.quiet));
    let report = resync::resync_with(&store, &opts, progress.clone()).await?;
    if let Some(b) = &progress.bar {
        b.finish_and_clear();
    }
    if !cli.quiet {
        let verb = if opts.dry_run { "" } else { "mended " };
        for d in &report.differences {
            out!("{verb}{d}");
        }
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    for e in &report.failed {
        eprintln!("not compared: {e}");
    }
    out!(
        "files seen {}, added {}, removed {}, changed {}, skipped {}, errors {}, time {:.2}s",
        report.files_seen,
        report.added,
        report.removed,
        report.changed,
        report.skipped,
        report.errors.len() + report.failed.len(),
        report.elapsed.as_secs_f64()
    );
    if report.removed_tmp > 0 {
        out!("removed {} stale files from tmp/", report.removed_tmp);
    }
    Ok(if !report.failed.is_empty() {
        ExitCode::from(2)
    } else if cli.check
        && (report.differences.iter().any(|d| d.is_divergence()) || !report.errors.is_empty())
    {
        // An operator's check wants to hear of odd folders and unreadable
        // files too, not only of index rows that differ.
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A domain as the operator reads it: the A-labels nmail stores, and the
/// Korean (or other) name beside them when it is internationalised.
fn readable(d: &DomainName) -> String {
    match d.to_unicode() {
        u if u != d.as_str() => format!("{d} ({u})"),
        _ => d.to_string(),
    }
}
