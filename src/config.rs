//! Settings: `DIR/nmail.toml`, with every key overridable from the
//! environment as `NMAIL_<SECTION>_<KEY>` (e.g. `NMAIL_SMTP_LISTEN`), so
//! tests and containers run without root and without editing the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer, Serialize};

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[smtp]`.
    pub smtp: SmtpConfig,
    /// `[pop3]`.
    pub pop3: Pop3Config,
    /// `[index]`.
    pub index: IndexConfig,
    /// `[maildir]`.
    pub maildir: MaildirConfig,
    /// `[tls]`.
    pub tls: TlsConfig,
    /// `[watch]`.
    pub watch: WatchConfig,
    /// `[queue]`.
    pub queue: QueueConfig,
    /// `[log]`.
    pub log: LogConfig,
}

/// `[watch]`: following changes made to the files by other programs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Watch the data folder (inotify) and update the index within a second.
    pub enabled: bool,
    /// Also rescan every folder by names this often, in seconds (0: never).
    /// Set it when the data folder is on NFS or shared with another machine,
    /// whose changes inotify does not see.
    pub rescan_secs: u64,
}

/// `[queue]`: mail accepted but not yet delivered to every recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Seconds between passes over the queue (retries back off from this).
    pub retry_secs: u64,
    /// Seconds after which a recipient is given up and the sender gets a
    /// DSN (RFC 5321 §4.5.4.1 suggests 4 to 5 days).
    pub max_age_secs: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            retry_secs: 300,
            max_age_secs: 5 * 24 * 3600,
        }
    }
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            enabled: true,
            rescan_secs: 0,
        }
    }
}

/// `[server]`: identity of this host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The name this server gives in its greetings and Received fields.
    pub hostname: String,
}

/// What to do with a bare CR or LF in message data (RFC 5321 §2.3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BareLineEnds {
    /// Store them as CRLF (the message is accepted).
    Normalize,
    /// Refuse the message with 550 5.5.2.
    Reject,
}

/// `[smtp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Addresses to listen on for inbound SMTP (port 25 by default).
    #[serde(deserialize_with = "listen_list")]
    pub listen: Vec<SocketAddr>,
    /// Largest message accepted, in octets (advertised as SIZE, RFC 1870).
    pub max_message_size: u64,
    /// Most recipients per message (RFC 5321 §4.5.3.1.8 asks for 100).
    pub max_recipients: usize,
    /// Bare CR / LF in data: `normalize` or `reject`.
    pub bare_line_ends: BareLineEnds,
    /// Seconds a client may stay silent (RFC 5321 §4.5.3.2 suggests 5 min).
    pub timeout_secs: u64,
    /// Seconds the message text may pause (RFC 5321 §4.5.3.2.6 gives the
    /// client 10 min per data block); also the base of the whole-DATA
    /// deadline, which grows with what has arrived at 1 KiB/s, so a client
    /// trickling a line now and then cannot hold a session for ever.
    pub data_timeout_secs: u64,
    /// Most simultaneous SMTP sessions.
    pub max_connections: usize,
    /// Most simultaneous SMTP sessions from one client address (0: no
    /// limit besides `max_connections`).
    pub max_connections_per_ip: usize,
    /// Failed commands after which the session is closed.
    pub max_errors: u32,
    /// Sub-address delimiter: `bob+tag@` is delivered to `bob@`. Empty
    /// turns sub-addressing off.
    pub recipient_delimiter: String,
    /// Refuse new mail (452 4.3.1) while the data folder's disk has less
    /// free space than this, so the index and the POP3 users who delete
    /// mail to make room still have some.
    pub min_free_bytes: u64,
}

/// `[pop3]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3Config {
    /// Addresses to listen on for POP3 (port 110 by default).
    #[serde(deserialize_with = "listen_list")]
    pub listen: Vec<SocketAddr>,
    /// Seconds of inactivity before autologout (RFC 1939 §3: at least 10 min).
    pub timeout_secs: u64,
    /// Most simultaneous POP3 sessions.
    pub max_connections: usize,
    /// Most simultaneous POP3 sessions from one client address (0: none).
    pub max_connections_per_ip: usize,
    /// Allow USER/PASS and AUTH PLAIN without TLS from addresses other than
    /// loopback. Off by default, so passwords do not cross the network in
    /// clear; clients use STLS.
    pub allow_plaintext_auth: bool,
}

/// `[index]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// `sqlite://index.sqlite` (relative to the data folder) by default.
    pub url: String,
}

/// `[maildir]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaildirConfig {
    /// The info separator: `:` per the spec; `;` or `!` where the file
    /// system forbids `:` (FAT, some network shares).
    pub info_separator: String,
}

/// `[tls]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, relative to the data folder. When it and the
    /// key exist, SMTP offers STARTTLS and POP3 offers STLS.
    pub cert: PathBuf,
    /// PEM private key, relative to the data folder.
    pub key: PathBuf,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `nmail=debug,info`...
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig {
                hostname: default_hostname(),
            },
            smtp: SmtpConfig::default(),
            pop3: Pop3Config::default(),
            index: IndexConfig::default(),
            maildir: MaildirConfig::default(),
            tls: TlsConfig::default(),
            watch: WatchConfig::default(),
            queue: QueueConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: default_hostname(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: vec!["0.0.0.0:25".parse().unwrap_or(([0, 0, 0, 0], 25).into())],
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            bare_line_ends: BareLineEnds::Normalize,
            timeout_secs: 300,
            data_timeout_secs: 600,
            max_connections: 500,
            max_connections_per_ip: 20,
            max_errors: 20,
            recipient_delimiter: "+".into(),
            min_free_bytes: 64 << 20,
        }
    }
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            listen: vec![([0, 0, 0, 0], 110).into()],
            timeout_secs: 600,
            max_connections: 500,
            max_connections_per_ip: 20,
            allow_plaintext_auth: false,
        }
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            url: "sqlite://index.sqlite".into(),
        }
    }
}

impl Default for MaildirConfig {
    fn default() -> Self {
        MaildirConfig {
            info_separator: ":".into(),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: "tls/cert.pem".into(),
            key: "tls/key.pem".into(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// The machine's host name, or `localhost`.
pub fn default_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A listen setting: a list of `host:port`, or one string of them separated
/// by commas (the form environment variables use). Empty turns it off.
fn listen_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
        OneOrMany::Many(v) => v,
    };
    items
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("listen address {s:?}: {e}")))
        })
        .collect()
}

impl Config {
    /// Reads `DIR/nmail.toml` (defaults when it is missing) and applies the
    /// `NMAIL_<SECTION>_<KEY>` environment overrides.
    pub fn load(data_dir: &Path) -> Result<Config> {
        let path = data_dir.join(nmail_sync::layout::CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("NMAIL_"))
            .collect();
        Self::from_parts(&text, &env)
            .with_context(|| format!("settings in {} or NMAIL_* variables", path.display()))
    }

    /// Builds settings from the file's text and environment variables.
    pub fn from_parts(text: &str, env: &BTreeMap<String, String>) -> Result<Config> {
        let mut table: toml::Table = toml::from_str(text).context("not valid TOML")?;
        let defaults = toml::Table::try_from(Config::default())?;
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("NMAIL_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            // Other NMAIL_ variables (NMAIL_DATA) are not settings.
            let Some(toml::Value::Table(sdef)) = defaults.get(&section) else {
                continue;
            };
            let Some(kdef) = sdef.get(&key) else {
                bail!("{var}: [{section}] has no setting {key:?}");
            };
            let v = match kdef {
                toml::Value::Integer(_) => toml::Value::Integer(
                    value
                        .trim()
                        .parse()
                        .with_context(|| format!("{var}={value:?} is not a whole number"))?,
                ),
                toml::Value::Boolean(_) => toml::Value::Boolean(match value.trim() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" => false,
                    _ => bail!("{var}={value:?} is not true or false"),
                }),
                _ => toml::Value::String(value.clone()),
            };
            let s = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            match s {
                toml::Value::Table(t) => {
                    t.insert(key, v);
                }
                _ => bail!("[{section}] is not a table"),
            }
        }
        let cfg: Config = toml::Value::Table(table).try_into()?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let sep = &self.maildir.info_separator;
        if !matches!(sep.as_str(), ":" | ";" | "!") {
            bail!("maildir.info_separator must be \":\", \";\" or \"!\", not {sep:?}");
        }
        for (name, v) in [
            ("smtp.timeout_secs", self.smtp.timeout_secs),
            ("smtp.data_timeout_secs", self.smtp.data_timeout_secs),
            ("pop3.timeout_secs", self.pop3.timeout_secs),
            ("smtp.max_connections", self.smtp.max_connections as u64),
            ("pop3.max_connections", self.pop3.max_connections as u64),
            ("smtp.max_message_size", self.smtp.max_message_size),
            ("smtp.max_recipients", self.smtp.max_recipients as u64),
            ("queue.retry_secs", self.queue.retry_secs),
        ] {
            if v == 0 {
                bail!("{name} must be more than 0");
            }
        }
        // A tracing directive is a level or target=level; a lone word that
        // is no level would be taken as a target and silence every log.
        const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
        for d in self
            .log
            .level
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            if !d.contains('=') && !LEVELS.contains(&d.to_ascii_lowercase().as_str()) {
                bail!(
                    "log.level {:?}: {d:?} is not one of {} nor target=level",
                    self.log.level,
                    LEVELS.join(", ")
                );
            }
        }
        if self.server.hostname.is_empty() || self.server.hostname.contains(char::is_whitespace) {
            bail!(
                "server.hostname {:?} is not a host name",
                self.server.hostname
            );
        }
        Ok(())
    }

    /// The info separator as a character.
    pub fn info_separator(&self) -> char {
        self.maildir.info_separator.chars().next().unwrap_or(':')
    }
}

/// The commented `nmail.toml` that `nmail init` writes.
pub fn template(hostname: &str) -> String {
    format!(
        r#"# nmail settings. Every key can be overridden from the environment as
# NMAIL_<SECTION>_<KEY>, e.g. NMAIL_SMTP_LISTEN=127.0.0.1:2525.
# Paths are relative to this data folder.

[server]
# Name used in the SMTP greeting, Received fields and maildir file names.
hostname = "{hostname}"

[smtp]
# Inbound SMTP (MX). A list, or one comma-separated string.
listen = ["0.0.0.0:25"]
# Largest message accepted, in octets (advertised as SIZE).
max_message_size = 52428800
max_recipients = 100
# Bare CR or LF inside DATA (RFC 5321 2.3.8): "normalize" stores them as
# CRLF, "reject" refuses the message with 550 5.5.2. Either way only
# <CR><LF>.<CR><LF> ends a message, which defeats SMTP smuggling.
bare_line_ends = "normalize"
timeout_secs = 300
# Message text may pause this long; all of it must arrive within this
# plus one second per KiB received.
data_timeout_secs = 600
max_connections = 500
# Per client address, so one host cannot take every slot.
max_connections_per_ip = 20
max_errors = 20
# bob+anything@ is delivered to bob@; "" turns this off.
recipient_delimiter = "+"
# Refuse new mail (452 4.3.1) while the disk has less free space than this.
min_free_bytes = 67108864

[pop3]
listen = ["0.0.0.0:110"]
timeout_secs = 600
max_connections = 500
max_connections_per_ip = 20
# Passwords in clear text from non-loopback clients that did not use STLS.
allow_plaintext_auth = false

[index]
# sqlite://index.sqlite is this folder's index.sqlite. The index is derived
# from the files and can be deleted and rebuilt with nmail-resync.
url = "sqlite://index.sqlite"

[maildir]
# ":" per the maildir spec; ";" or "!" on file systems that forbid ":".
info_separator = ":"

[tls]
# Offered as STARTTLS (SMTP) and STLS (POP3) when both files exist.
# nmail init makes a self-signed pair; replace them with real ones.
cert = "tls/cert.pem"
key = "tls/key.pem"

[watch]
# Follow changes other programs make to the files (inotify), so the index
# is current within a second.
enabled = true
# Rescan every folder by names this often (seconds; 0 = never). Set it when
# the data folder is on NFS or shared storage, where inotify sees nothing
# that another machine does.
rescan_secs = 0

[queue]
# Mail accepted with 250 that some recipient could not take yet (a full
# mailbox) waits in DIR/queue/ and is retried; after max_age_secs the sender
# gets a delivery status notification.
retry_secs = 300
max_age_secs = 432000

[log]
# info, debug, or a tracing filter such as "nmail=debug,info".
level = "info"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c = Config::from_parts(&template("mx.example.com"), &BTreeMap::new()).unwrap();
        let d = Config::default();
        assert_eq!(c.server.hostname, "mx.example.com");
        assert_eq!(c.smtp.listen, d.smtp.listen);
        assert_eq!(c.smtp.max_message_size, d.smtp.max_message_size);
        assert_eq!(c.pop3.listen, d.pop3.listen);
        assert_eq!(c.index.url, d.index.url);
    }

    #[test]
    fn environment_overrides() {
        let env: BTreeMap<String, String> = [
            ("NMAIL_SMTP_LISTEN", "127.0.0.1:2525,127.0.0.1:2526"),
            ("NMAIL_SMTP_MAX_MESSAGE_SIZE", "1000"),
            ("NMAIL_POP3_ALLOW_PLAINTEXT_AUTH", "yes"),
            ("NMAIL_DATA", "/srv/mail"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let c = Config::from_parts("", &env).unwrap();
        assert_eq!(c.smtp.listen.len(), 2);
        assert_eq!(c.smtp.max_message_size, 1000);
        assert!(c.pop3.allow_plaintext_auth);
        let bad: BTreeMap<_, _> = [("NMAIL_SMTP_LISTN".to_string(), "x".to_string())].into();
        assert!(Config::from_parts("", &bad).is_err());
        assert!(Config::from_parts("[smtp]\nlisten = \"nonsense\"\n", &BTreeMap::new()).is_err());
        let off = Config::from_parts("[pop3]\nlisten = \"\"\n", &BTreeMap::new()).unwrap();
        assert!(off.pop3.listen.is_empty());
    }
}
