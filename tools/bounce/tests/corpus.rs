//! The labelled bounce corpus: reason, status and recipient accuracy must
//! stay above the bars of issue 4, and the per-reason confusion table is
//! printed (`cargo test -p nmail-bounce --test corpus -- --nocapture`).
//!
//! Runs from the copy in `tests/corpus/` (so CI needs nothing else) and,
//! when the checkout has a sibling `shared/` folder, from the shared
//! original too. The scoring follows `shared/bench/bounce-eval`: rows are
//! paired with results by address, then in order; Sisimai's placeholder
//! recipient and its pseudo status codes (`X.0.9xx`) are not scored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nmail_bounce::{RecipientResult, analyze};

const REASON_BAR: f64 = 0.97;
const STATUS_BAR: f64 = 0.97;
const RCPT_BAR: f64 = 0.98;
const PLACEHOLDER: &str = "@libsisimai.org.invalid";

struct Row {
    file: String,
    recipient: String,
    reason: String,
    status: String,
}

fn load(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect(n);
    let (f, r, re, st) = (col("file"), col("recipient"), col("reason"), col("status"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let g = |i: usize| c.get(i).copied().unwrap_or("").to_string();
            Row {
                file: g(f),
                recipient: g(r).to_lowercase(),
                reason: g(re),
                status: g(st),
            }
        })
        .collect()
}

fn is_pseudo(status: &str) -> bool {
    let b = status.as_bytes();
    status.len() == 7 && matches!(b[0], b'4' | b'5') && status[1..].starts_with(".0.9")
}

#[derive(Default)]
struct Score {
    rows: usize,
    reason_ok: usize,
    status_n: usize,
    status_ok: usize,
    rcpt_n: usize,
    rcpt_ok: usize,
    confusion: BTreeMap<(String, String), usize>,
    misses: Vec<String>,
}

fn pair<'a>(rows: &[&Row], got: &'a [RecipientResult]) -> Vec<Option<&'a RecipientResult>> {
    let mut left: Vec<usize> = (0..got.len()).collect();
    let mut out = vec![None; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        if r.recipient.is_empty() || r.recipient.ends_with(PLACEHOLDER) {
            continue;
        }
        if let Some(k) = left
            .iter()
            .position(|&j| got[j].address.to_lowercase() == r.recipient)
        {
            out[i] = Some(&got[left.remove(k)]);
        }
    }
    for slot in out.iter_mut() {
        if slot.is_none() && !left.is_empty() {
            *slot = Some(&got[left.remove(0)]);
        }
    }
    out
}

fn score(dir: &Path) -> Score {
    let rows = load(dir);
    let mut by_file: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_file.entry(&r.file).or_default().push(r);
    }
    let mut s = Score::default();
    for (file, rows) in by_file {
        let bytes = std::fs::read(dir.join(file)).expect(file);
        let a = analyze(&bytes);
        if rows[0].reason == "notbounce" {
            let got = if a.recipients.is_empty() {
                "notbounce".to_string()
            } else {
                a.recipients[0].reason.to_string()
            };
            s.rows += 1;
            s.reason_ok += (got == "notbounce") as usize;
            *s.confusion.entry(("notbounce".into(), got)).or_default() += 1;
            continue;
        }
        for (row, got) in rows.iter().zip(pair(&rows, &a.recipients)) {
            let reason = got.map_or("(none)".to_string(), |g| g.reason.to_string());
            let status = got
                .and_then(|g| g.status)
                .map(|c| c.to_string())
                .unwrap_or_default();
            s.rows += 1;
            if reason == row.reason {
                s.reason_ok += 1;
            } else {
                s.misses.push(format!(
                    "{file}: {} expected {}, got {reason}",
                    row.recipient, row.reason
                ));
            }
            *s.confusion.entry((row.reason.clone(), reason)).or_default() += 1;
            if !row.status.is_empty() && !is_pseudo(&row.status) {
                s.status_n += 1;
                s.status_ok += (status == row.status) as usize;
            }
            if !row.recipient.is_empty() && !row.recipient.ends_with(PLACEHOLDER) {
                s.rcpt_n += 1;
                s.rcpt_ok +=
                    got.is_some_and(|g| g.address.to_lowercase() == row.recipient) as usize;
            }
        }
    }
    s
}

fn print_confusion(s: &Score) {
    let mut per: BTreeMap<&str, (usize, usize, Vec<String>)> = BTreeMap::new();
    for ((want, got), n) in &s.confusion {
        let e = per.entry(want).or_default();
        e.0 += n;
        if want == got {
            e.1 += n;
        } else {
            e.2.push(format!("{got}:{n}"));
        }
    }
    println!(
        "{:<16} {:>5} {:>5}  confused with",
        "reason", "rows", "right"
    );
    for (want, (n, ok, other)) in per {
        println!("{want:<16} {n:>5} {ok:>5}  {}", other.join(" "));
    }
}

fn check(dir: &Path) {
    let s = score(dir);
    let pct = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let (r, st, rc) = (
        pct(s.reason_ok, s.rows),
        pct(s.status_ok, s.status_n),
        pct(s.rcpt_ok, s.rcpt_n),
    );
    println!("corpus {}", dir.display());
    print_confusion(&s);
    for m in &s.misses {
        println!("  miss {m}");
    }
    println!(
        "reason {:.2}% ({}/{})  status {:.2}% ({}/{})  recipient {:.2}% ({}/{})",
        r * 100.0,
        s.reason_ok,
        s.rows,
        st * 100.0,
        s.status_ok,
        s.status_n,
        rc * 100.0,
        s.rcpt_ok,
        s.rcpt_n
    );
    assert!(s.rows > 300, "corpus looks truncated: {} rows", s.rows);
    assert!(r >= REASON_BAR, "reason accuracy {r:.4} under {REASON_BAR}");
    assert!(
        st >= STATUS_BAR,
        "status accuracy {st:.4} under {STATUS_BAR}"
    );
    assert!(
        rc >= RCPT_BAR,
        "recipient accuracy {rc:.4} under {RCPT_BAR}"
    );
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_copy_meets_the_bar() {
    check(&manifest().join("tests/corpus"));
}

#[test]
fn shared_corpus_meets_the_bar_when_present() {
    // The checkout's sibling shared/ folder: <root>/../shared.
    let dir = manifest().join("../../../shared/corpus/bounces");
    if !dir.join("expected.tsv").exists() {
        println!("no shared corpus at {}; skipped", dir.display());
        return;
    }
    check(&dir);
}
