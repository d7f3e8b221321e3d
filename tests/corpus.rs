//! Real mail in over SMTP (Python's smtplib), out over POP3 (poplib and
//! curl), byte for byte, with UIDLs that survive deleting and rebuilding
//! the index. See tests/e2e/corpus_roundtrip.py for the checks.

mod common;

use common::{Server, path_str, python};

fn roundtrip(corpus: &std::path::Path) {
    let mut s = Server::start(&[]);
    let state = s.dir.path().join("state.json");
    let smtp = s.smtp.to_string();
    let base = ["--state", path_str(&state)];
    let send = python(
        "corpus_roundtrip.py",
        &[
            &["send", "--smtp", &smtp, "--corpus", path_str(corpus)],
            &base[..],
        ]
        .concat(),
    );
    println!("{send}");
    let pop3 = s.pop3.to_string();
    println!(
        "{}",
        python(
            "corpus_roundtrip.py",
            &[&["verify", "--pop3", &pop3], &base[..]].concat()
        )
    );

    // Delete the index and rebuild it from the files with nmail-resync.
    s.stop();
    for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        std::fs::remove_file(s.data().join(f)).ok();
    }
    let out = s.resync(&["--quiet"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "nmail-resync: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("rebuild: {text}");
    let check = s.resync(&["--check"]);
    assert!(
        check.status.success(),
        "index still differs after the rebuild: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    s.restart();
    let pop3 = s.pop3.to_string();
    println!(
        "{}",
        python(
            "corpus_roundtrip.py",
            &[&["compare", "--pop3", &pop3], &base[..]].concat()
        )
    );
    let log = s.log();
    assert!(!log.contains("panicked"), "server panicked:\n{log}");
}

/// The subset kept in the repository, so the test runs anywhere.
#[test]
fn corpus_subset_roundtrip() {
    roundtrip(&common::repo().join("tests/corpus"));
}

/// The whole shared corpus, when this machine has it (CI does).
#[test]
fn corpus_full_roundtrip() {
    match common::shared() {
        Some(sh) => roundtrip(&sh.join("corpus/mail")),
        None => eprintln!("../shared/corpus/mail is not here; the subset test covers the corpus"),
    }
}
