//! Golden files: one sample message per MTA format in `tests/golden/`,
//! each beside the JSON the CLI prints for it (`NAME.eml` ->
//! `NAME.json`). On a mismatch the actual output is written to
//! `NAME.actual.json` next to them; run with `BLESS=1` to accept it.
//!
//! The samples were written for this project from the public shape of each
//! MTA's notices, with example.com / example.net addresses only.

use std::path::PathBuf;

use nmail_bounce::{Lang, analyze, render_json};

#[test]
fn golden_files_match() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "golden samples missing");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failed = Vec::new();
    for eml in names {
        let name = eml
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(&eml).expect("read sample");
        let value = render_json(&name, &analyze(&bytes), Lang::En);
        let actual = serde_json::to_string_pretty(&value).expect("json") + "\n";
        let want_path = eml.with_extension("json");
        let actual_path = eml.with_extension("actual.json");
        if bless {
            std::fs::write(&want_path, &actual).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        if want == actual {
            let _ = std::fs::remove_file(&actual_path);
        } else {
            std::fs::write(&actual_path, &actual).expect("write actual");
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "golden mismatch (see *.actual.json): {failed:?}"
    );
}
