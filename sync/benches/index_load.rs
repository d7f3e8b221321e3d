//! Index write and read speed on each backend, run by hand (not a test):
//!
//! ```sh
//! cargo bench -p nmail-sync --bench index_load            # 100,000 rows, both
//! cargo bench -p nmail-sync --bench index_load -- 20000 mysql
//! ```
//!
//! It does to one folder what a full resync of an empty index does:
//! `put_messages` in batches of 2,000 (the resync's chunk), then `set_uids`
//! for every row (the folder's `nmail-uidlist`), then reads the folder back
//! and upserts every row once more (a resync that finds every file renamed).
//! The MariaDB is the tests' one (`NMAIL_TEST_MYSQL_URL`, see
//! `tests/common/mod.rs`), in a database of its own that is dropped after.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{Backend, Kind};
use nmail_sync::index::{Index, MessageRecord};
use nmail_sync::maildir::Subdir;
use nmail_sync::message::{Meta, ParseStatus};
use nmail_sync::store::uidl_for;

/// The resync's batch size.
const BATCH: usize = 2000;

fn row(i: usize) -> MessageRecord {
    let uniq = format!(
        "{}.M{}P4242Q{i}R{:08x}.mx.example.com,S=4{i:04}",
        1_764_000_000 + i,
        i * 7,
        i * 2_654_435_761 % (1 << 32)
    );
    MessageRecord {
        uidl: uidl_for(&uniq),
        file_name: format!("{uniq}:2,S"),
        uniq,
        subdir: Subdir::Cur,
        flags: "S".into(),
        size: 4000 + (i % 5000) as u64,
        wire_size: 4100 + (i % 5000) as u64,
        mtime: 1_764_000_000 + i as i64,
        internal_date: 1_764_000_000 + i as i64,
        uid: 0,
        meta: Meta {
            from: Some(format!(
                "Sender Number {} <sender{}@example.org>",
                i % 977,
                i % 977
            )),
            to: Some("bob@example.com".into()),
            subject: Some(format!("Re: quarterly report, part {i} — 보고서 사본")),
            date: Some(1_764_000_000 + i as i64 - 30),
            message_id: Some(format!("{i}.{}@mail.example.org", i * 31)),
            has_attachment: i % 4 == 0,
            status: ParseStatus::Ok,
        },
    }
}

fn rate(label: &str, n: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  {label:<34} {n:>7} rows {secs:>8.2} s {:>10.0} rows/s",
        n as f64 / secs
    );
}

async fn run(ix: &Index, rows: &[MessageRecord]) {
    let folder = ix
        .folder("bob@example.com", "INBOX", "bench/Maildir")
        .await
        .expect("folder");

    let start = Instant::now();
    for chunk in rows.chunks(BATCH) {
        ix.put_messages(folder, chunk.to_vec()).await.expect("put");
    }
    rate("put_messages (insert, 2,000/call)", rows.len(), start);

    let uids: Vec<(String, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.uniq.clone(), i as u32 + 1))
        .collect();
    let start = Instant::now();
    ix.set_uids(folder, 1_764_000_000, rows.len() as u32 + 1, uids)
        .await
        .expect("uids");
    rate("set_uids (one call)", rows.len(), start);

    let start = Instant::now();
    let got = ix.messages(folder).await.expect("messages");
    assert_eq!(got.len(), rows.len());
    rate("messages (read the folder)", got.len(), start);

    let start = Instant::now();
    for chunk in got.chunks(BATCH) {
        ix.put_messages(folder, chunk.to_vec()).await.expect("put");
    }
    rate("put_messages (upsert existing)", got.len(), start);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err())
        .map(String::as_str);
    let rows: Vec<MessageRecord> = (0..n).map(row).collect();
    for (kind, name) in [(Kind::Sqlite, "sqlite"), (Kind::Mysql, "mysql")] {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let b = Backend::new(kind).await;
        let ix = b.open().await;
        println!(
            "{name} ({})",
            b.url().rsplit_once('@').map_or(b.url(), |(_, h)| h)
        );
        run(&ix, &rows).await;
    }
}
