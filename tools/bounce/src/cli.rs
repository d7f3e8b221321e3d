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
            if r.address.is_empty() {
                "-"
            } else {
                &r.address
            },
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

/// The most of one input the CLI reads: returned mail is never this big
/// (the message inside a DSN is usually cut to its header), and reading a
/// multi-gigabyte file or a device whole would exhaust memory.
pub const MAX_INPUT: u64 = 64 << 20;

/// Reads a file, or standard input for `-`, up to [`MAX_INPUT`] octets.
fn read(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    if path == Path::new("-") {
        io::stdin().lock().take(MAX_INPUT).read_to_end(&mut buf)?;
    } else {
        if std::fs::metadata(path)?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a folder"));
        }
        std::fs::File::open(path)?
            .take(MAX_INPUT)
            .read_to_end(&mut buf)?;
    }
    if buf.len() as u64 == MAX_INPUT {
        eprintln!(
            "nmail bounce: {}: only the first {MAX_INPUT} octets were read",
            path.display()
        );
    }
    Ok(buf)
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

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &[u8] = b"From: MAILER-DAEMON@example.com\nTo: s@example.com\n\
Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n\
Content-Type: text/plain\n\nfailed.\n--b\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; example.com\n\nFinal-Recipient: rfc822; x@example.net\n\
Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n--b--\n";

    #[test]
    fn json_has_the_fields_callers_read() {
        let v = render_json("f.eml", &analyze(DSN), Lang::En);
        let r = &v["recipients"][0];
        for k in [
            "address",
            "reason",
            "status",
            "reply_code",
            "action",
            "hardbounce",
            "remote_host",
            "diagnostic",
        ] {
            assert!(r.get(k).is_some(), "missing {k}");
        }
        assert_eq!(r["reason"], "userunknown");
        assert_eq!(r["status"], "5.1.1");
        assert_eq!(r["reply_code"], 550);
        assert_eq!(r["hardbounce"], true);
    }

    #[test]
    fn analysis_serializes_for_web_callers() {
        let v = serde_json::to_value(analyze(DSN)).unwrap_or_default();
        assert_eq!(v["kind"], "dsn");
        assert_eq!(v["recipients"][0]["status"], "5.1.1");
        assert_eq!(v["recipients"][0]["reply_code"], 550);
        assert_eq!(v["recipients"][0]["action"], "failed");
        assert_eq!(v["recipients"][0]["reason"], "userunknown");
    }

    #[test]
    fn plain_lines_table() {
        let ordinary = b"From: a@example.com\nTo: b@example.net\nSubject: hi\n\nhello\n";
        let cases: &[(&[u8], Lang, &str)] = &[
            (
                DSN,
                Lang::En,
                "f\tx@example.net\tuserunknown\t5.1.1\t550\tfailed\thard\tThe recipient address does not exist\n",
            ),
            (
                DSN,
                Lang::Ko,
                "f\tx@example.net\tuserunknown\t5.1.1\t550\tfailed\thard\t받는 사람 주소가 존재하지 않습니다\n",
            ),
            (ordinary, Lang::En, "f\t-\tnot-bounce\n"),
        ];
        for (msg, lang, want) in cases {
            assert_eq!(render_plain("f", &analyze(msg), *lang), *want);
        }
        let v = render_json("f", &analyze(ordinary), Lang::En);
        assert_eq!(v["recipients"].as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn unreadable_file_is_reported_not_fatal() {
        let mut out = Vec::new();
        let ok = analyze_files_cli(
            &[PathBuf::from("/nonexistent/x.eml")],
            true,
            Lang::En,
            &mut out,
        );
        assert!(matches!(ok, Ok(false)));
        assert!(out.is_empty());
    }
}
