//! Watcher latency (run by hand, not a test): how long after a message file
//! is renamed into a maildir's `new/` by another program its row appears in
//! the index. Starts nmail from this build on a fresh data folder, drops N
//! files one at a time, polls the index every millisecond, and prints the
//! p50, p90, p99 and max latency.
//!
//! ```text
//! cargo bench --bench watch-latency -- [--count 300] [--tmp /var/tmp]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

use anyhow::{Result, bail};
use clap::Parser;
use nmail_sync::Index;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 300)]
    count: usize,
    #[arg(long, default_value = "/var/tmp")]
    tmp: PathBuf,
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    let n = common::Nmail::start(&a.tmp, "u@bench.test")?;
    let data = n.data.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let index = Index::open("sqlite://index.sqlite", &data).await?;
    let md = data.join("domains/bench.test/users/u/Maildir");
    let folder = loop {
        if let Some(f) = index
            .folders()
            .await?
            .into_iter()
            .find(|f| f.address == "u@bench.test")
        {
            break f.id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = format!("Subject: watched\r\n\r\n{}\r\n", "w".repeat(4000));
    let mut lat = Vec::with_capacity(a.count);
    for i in 0..a.count {
        let name = format!("1717290000.M{i}P1Q{i}.bench");
        std::fs::write(md.join("tmp").join(&name), &body)?;
        let t = Instant::now();
        std::fs::rename(md.join("tmp").join(&name), md.join("new").join(&name))?;
        loop {
            if index.message(folder, &name).await?.is_some() {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("file {i} never reached the index");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat.push(t.elapsed());
        // Spread the drops, as separate deliveries by another agent are.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lat.sort();
    let p =
        |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{{\"files\": {}, \"p50_ms\": {:.1}, \"p90_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}}}",
        lat.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        p(1.0)
    );
    drop(n);
    Ok(())
}
