//! Output for `nmail bounce analyze [--json] [--lang ko|en] FILE...`.
//!
//! The binary owns argument parsing; this module owns what is printed, so
//! the format is tested here and identical wherever it is wired.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{Analysis, Lang, analyze, explain};

/// One JSON object for a message: file, kind, original Message-ID and
/// Subject, and a `recipients` array (empty for ordinary mail) whose items
/// carry `address`, `reason`, `status`, `reply_code`, `action`,
/// `hardbounce`, `remote_host`, `diagnostic` and the explanation title.
pub fn render_json(file: &str, a: &Analysis, lang: Lang) -> Value {
    let recipients: Vec<Value> = a
        .recipients
        .iter()
        .map(|r| {
            json!({
                "address": r.address,
                "original_recipient": r.original_recipient,
                "reason": r.reason.as_str(),
                "status": r.status.map(|s| s.to_string()),
                "reply_code": r.reply_code.map(|c| c.0),
                "action": r.action.as_str(),
                "hardbounce": r.hard_bounce,
                "remote_host": r.remote_host,
                "diagnostic": r.diagnostic,
                "feedback_type": r.feedback_type,
                "explanation": explain(r.reason, lang).title,
            })
        })
        .collect();
    json!({
        "file": file,
        "is_bounce": a.is_bounce,
        "kind": a.kind.as_str(),
        "original_message_id": a.original_message_id,
        "original_subject": a.original_subject,
        "returned_to": a.returned_to,
        "verp_token": a.verp_token,
        "recipients": recipients,
    })
}

/// Tab-separated lines, one per recipient: file, address, reason, status,
/// reply code, action, hard/soft, and the one-line explanation. A message
/// with no recipients prints one line saying what it is.
pub fn render_plain(file: &str, a: &Analysis, lang: Lang) -> String {
    let mut out = String::new();
    if a.recipients.is_empty() {
        out.push_str(&format!("{file}\t-\t{}\n", a.kind.as_str()));
        return out;
    }
    for r in &a.recipients {
        let dash = || "-".to_string();
        out.push_str(&format!(
            "{file}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            if r.address.is_empty() { "-" } else { &r.address },
            r.reason,
            r.status.map_or_else(dash, |s| s.to_string()),
            r.reply_code.map_or_else(dash, |c| c.to_string()),
            r.action.as_str(),
            if r.hard_bounce { "hard" } else { "soft" },
            explain(r.reason, lang).title,
        ));
    }
    out
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Analyses each file and writes the results to `out`, JSON lines when
/// `json` is set. A file that cannot be read is reported on stderr and
/// skipped; the result is `Ok(true)` when every file was read.
pub fn analyze_files_cli(
    paths: &[PathBuf],
    json: bool,
    lang: Lang,
    out: &mut dyn Write,
) -> io::Result<bool> {
    let mut all_read = true;
    for p in paths {
        let name = p.display().to_string();
        let bytes = match read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("nmail bounce: {name}: {e}");
                all_read = false;
                continue;
            }
        };
        let a = analyze(&bytes);
        if json {
            writeln!(out, "{}", render_json(&name, &a, lang))?;
        } else {
            out.write_all(render_plain(&name, &a, lang).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(all_read)
}
