//! Throughput over a corpus, one core, by hand (not a timed test):
//!
//! ```text
//! cargo bench -p nmail-bounce --bench throughput [-- DIR [--sisimai]]
//! ```
//!
//! DIR defaults to the crate's copy of the bounce corpus. All messages are
//! read into memory first, then analysed in rounds until at least two
//! seconds have passed; the figure is messages per second. With
//! `--sisimai`, Debian's Sisimai (`apt-get install libsisimai-perl`) parses
//! the same files in the same run, in one perl process (start-up is timed
//! separately and left out), so the two rates are directly comparable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn files(dir: &Path) -> Vec<PathBuf> {
    let emails = dir.join("emails");
    let base = if emails.is_dir() {
        emails
    } else {
        dir.to_path_buf()
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&base)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == "eml"));
    v.sort();
    v
}

fn ours(msgs: &[Vec<u8>]) -> f64 {
    let mut n = 0usize;
    let mut recipients = 0usize;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) || n == 0 {
        for m in msgs {
            recipients += std::hint::black_box(nmail_bounce::analyze(m))
                .recipients
                .len();
            n += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("nmail-bounce: {n} messages in {secs:.3} s ({recipients} recipients)");
    n as f64 / secs
}

/// Perl loop over the same files: Sisimai->make (4.x) or ->rise (5.x).
const PERL: &str = r#"
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
my @files = @ARGV; my $rounds = 0; my $n = 0; my $t0 = time;
while (time - $t0 < 2 || $rounds == 0) {
    for my $f (@files) {
        my $r = Sisimai->can('rise') ? Sisimai->rise($f) : Sisimai->make($f);
        $n++;
    }
    $rounds++;
}
printf "%d %.6f\n", $n, time - $t0;
"#;

fn sisimai(files: &[PathBuf]) -> Option<f64> {
    let out = Command::new("taskset")
        .args(["-c", "0", "perl", "-e", PERL])
        .args(files)
        .output()
        .or_else(|_| Command::new("perl").args(["-e", PERL]).args(files).output())
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let n: f64 = it.next()?.parse().ok()?;
    let secs: f64 = it.next()?.parse().ok()?;
    println!("Sisimai (perl): {n} messages in {secs:.3} s");
    Some(n / secs)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"));
    let paths = files(&dir);
    let msgs: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "corpus {}: {} messages, {} bytes",
        dir.display(),
        msgs.len(),
        bytes
    );
    let rate = ours(&msgs);
    println!(
        "nmail-bounce: {rate:.0} messages/s ({:.1} MB/s)",
        rate * bytes as f64 / msgs.len() as f64 / 1e6
    );
    if args.iter().any(|a| a == "--sisimai") {
        match sisimai(&paths) {
            Some(s) => println!(
                "Sisimai: {s:.0} messages/s; nmail-bounce is {:.1}x",
                rate / s
            ),
            None => println!("Sisimai not available (apt-get install libsisimai-perl)"),
        }
    }
}
