//! SMTP load generator for side-by-side figures (run by hand, not a test).
//!
//! Sends N messages taken from a mail corpus over C concurrent SMTP
//! connections (one transaction after another on each, no pipelining, so
//! every server sees the same client) and prints messages per second, from
//! the first connection to the last 250, and, with `--maildir`, to the
//! moment the last file appears in that maildir's `new/` (for servers like
//! Postfix that answer 250 once queued, before delivery).
//!
//! ```text
//! cargo bench --bench smtp-load -- --nmail --count 10000 --conc 8 --corpus ../shared/corpus/mail
//! cargo bench --bench smtp-load -- --target 127.0.0.1:2525 --rcpt benchmail@bench.test \
//!     --maildir /home/benchmail/Maildir --pid $(cat /var/spool/postfix/pid/master.pid) ...
//! ```
//! `--nmail` starts nmail from this build on a fresh data folder under
//! `--tmp` (default /var/tmp, on the same disk as Postfix's spool here) and
//! stops it afterwards. tools/bench/smtp-vs-postfix.sh runs both, A-B-A.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

use anyhow::{Context, Result, bail};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
struct Args {
    /// An SMTP server to load (host:port).
    #[arg(long)]
    target: Option<String>,
    /// Start nmail from this build instead, on a fresh data folder.
    #[arg(long)]
    nmail: bool,
    /// Recipient of every message.
    #[arg(long, default_value = "bench@bench.test")]
    rcpt: String,
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    #[arg(long, default_value_t = 8)]
    conc: usize,
    /// Folders of *.eml files (searched recursively).
    #[arg(long)]
    corpus: Vec<PathBuf>,
    /// Wait until `count` files are in this maildir's new/.
    #[arg(long)]
    maildir: Option<PathBuf>,
    /// Count the CPU time of this process tree (the server).
    #[arg(long)]
    pid: Option<u32>,
    /// Where --nmail puts its data folder.
    #[arg(long, default_value = "/var/tmp")]
    tmp: PathBuf,
    /// A label for the JSON line.
    #[arg(long, default_value = "")]
    label: String,
    // cargo bench passes --bench; accept and ignore it.
    #[arg(long, hide = true)]
    bench: bool,
}

fn corpus(dirs: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    let mut files = Vec::new();
    for d in dirs {
        for e in walkdir(d)? {
            if e.extension().is_some_and(|x| x == "eml") {
                files.push(e);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no .eml files under {dirs:?}");
    }
    files
        .iter()
        .map(|f| {
            let raw = std::fs::read(f)?;
            Ok(stuff(&canonical(&raw)))
        })
        .collect()
}

fn walkdir(d: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).with_context(|| p.display().to_string())? {
            let e = e?;
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    Ok(out)
}

/// CRLF line ends and a final CRLF, as a mail client submits.
fn canonical(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// RFC 5321 §4.5.2 transparency, plus the end marker.
fn stuff(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    let mut start = true;
    for &b in msg {
        if start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> Result<u16> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("connection closed");
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0));
        }
    }
}

async fn client(
    addr: String,
    rcpt: String,
    msgs: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    count: usize,
) -> Result<usize> {
    let s = TcpStream::connect(&addr).await?;
    s.set_nodelay(true)?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    let mut sent = 0;
    if reply(&mut r, &mut line).await? != 220 {
        bail!("greeting: {line}");
    }
    w.write_all(b"EHLO load.bench.test\r\n").await?;
    reply(&mut r, &mut line).await?;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            break;
        }
        let m = &msgs[i % msgs.len()];
        w.write_all(format!("MAIL FROM:<load@bench.test> SIZE={}\r\n", m.len()).as_bytes())
            .await?;
        if reply(&mut r, &mut line).await? != 250 {
            bail!("MAIL: {line}");
        }
        w.write_all(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
            .await?;
        if reply(&mut r, &mut line).await? != 250 {
            bail!("RCPT: {line}");
        }
        w.write_all(b"DATA\r\n").await?;
        if reply(&mut r, &mut line).await? != 354 {
            bail!("DATA: {line}");
        }
        w.write_all(m).await?;
        if reply(&mut r, &mut line).await? != 250 {
            bail!("end of data: {line}");
        }
        sent += 1;
    }
    w.write_all(b"QUIT\r\n").await?;
    Ok(sent)
}

fn tree_cpu(root: u32) -> f64 {
    let tck = 100.0; // USER_HZ on Linux
    let mut procs = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ppid: u32 = f.get(1).and_then(|x| x.parse().ok()).unwrap_or(0);
            let t: f64 = f[11..15].iter().filter_map(|x| x.parse::<f64>().ok()).sum();
            procs.push((pid, ppid, t));
        }
    }
    let mut total = 0.0;
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &(pid, ppid, t) in &procs {
            if pid == p {
                total += t;
            }
            if ppid == p {
                stack.push(pid);
            }
        }
    }
    total / tck
}

fn count_new(md: &Path) -> usize {
    std::fs::read_dir(md.join("new"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut a = Args::parse();
    if a.corpus.is_empty() {
        a.corpus
            .push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"));
    }
    let msgs = Arc::new(corpus(&a.corpus)?);
    let bytes: usize = (0..a.count).map(|i| msgs[i % msgs.len()].len()).sum();
    let mut nmail = None;
    let (addr, maildir, pid) = if a.nmail {
        let n = common::Nmail::start(&a.tmp, &a.rcpt)?;
        let out = (n.addr.clone(), Some(n.maildir.clone()), Some(n.child.id()));
        nmail = Some(n);
        out
    } else {
        (
            a.target.clone().context("--target or --nmail")?,
            a.maildir.clone(),
            a.pid,
        )
    };
    let before_files = maildir.as_deref().map(count_new).unwrap_or(0);
    let cpu0 = pid.map(tree_cpu).unwrap_or(0.0);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..a.conc)
        .map(|_| {
            tokio::spawn(client(
                addr.clone(),
                a.rcpt.clone(),
                msgs.clone(),
                next.clone(),
                a.count,
            ))
        })
        .collect();
    let mut sent = 0;
    for t in tasks {
        sent += t.await??;
    }
    let accepted = t0.elapsed();
    let mut delivered = accepted;
    if let Some(md) = &maildir {
        let deadline = Instant::now() + Duration::from_secs(600);
        while count_new(md) < before_files + sent && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        delivered = t0.elapsed();
    }
    let cpu = pid.map(tree_cpu).unwrap_or(0.0) - cpu0;
    let rate = sent as f64 / delivered.as_secs_f64();
    println!(
        "{{\"label\": \"{}\", \"messages\": {sent}, \"conc\": {}, \"mbytes\": {:.1}, \"accept_s\": {:.3}, \"delivered_s\": {:.3}, \"msg_per_s\": {rate:.0}, \"server_cpu_ms_per_msg\": {:.3}}}",
        a.label,
        a.conc,
        bytes as f64 / 1e6,
        accepted.as_secs_f64(),
        delivered.as_secs_f64(),
        cpu * 1000.0 / sent.max(1) as f64
    );
    drop(nmail);
    Ok(())
}
