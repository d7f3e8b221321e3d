//! Shared by the benchmarks: a throw-away nmail from this build.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// An nmail server started on a fresh data folder, stopped and removed on
/// drop.
pub struct Nmail {
    pub child: std::process::Child,
    pub dir: PathBuf,
    pub data: PathBuf,
    /// Its SMTP address.
    pub addr: String,
    /// The Maildir of the one account, `rcpt`.
    pub maildir: PathBuf,
}

impl Nmail {
    /// Makes a data folder under `tmp` with the account `rcpt` (its domain
    /// hosted) and starts `nmail serve` on a free loopback port.
    pub fn start(tmp: &Path, rcpt: &str) -> Result<Nmail> {
        let bin = env!("CARGO_BIN_EXE_nmail");
        let dir = tmp.join(format!("nmail-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let data = dir.join("data");
        let pw = dir.join("pw");
        std::fs::write(&pw, "bench-pass\n")?;
        let (local, domain) = rcpt.split_once('@').context("an address local@domain")?;
        let run = |args: &[&str]| -> Result<()> {
            let st = std::process::Command::new(bin)
                .args(args)
                .arg("--password-file")
                .arg(&pw)
                .arg("--data")
                .arg(&data)
                .stdout(std::process::Stdio::null())
                .status()?;
            if !st.success() {
                bail!("nmail {args:?} failed");
            }
            Ok(())
        };
        run(&["init", "--domain", domain, "--hostname", "mx.bench.test"])?;
        run(&["user", "add", rcpt])?;
        let mut child = std::process::Command::new(bin)
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .env("NMAIL_SMTP_LISTEN", "127.0.0.1:0")
            .env("NMAIL_POP3_LISTEN", "")
            .env("NMAIL_LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let out = child.stdout.take().context("stdout")?;
        let mut addr = None;
        for line in std::io::BufReader::new(out).lines() {
            if let Some(a) = line?.strip_prefix("nmail: smtp listening on ") {
                addr = Some(a.trim().to_string());
                break;
            }
        }
        let maildir = data
            .join("domains")
            .join(domain)
            .join("users")
            .join(local)
            .join("Maildir");
        Ok(Nmail {
            child,
            dir,
            data,
            addr: addr.context("nmail did not start")?,
            maildir,
        })
    }
}

impl Drop for Nmail {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
