//! Development front end for the analyser:
//! `cargo run -p nmail-bounce --example analyze -- [--json] [--lang ko|en] FILE...`
//! (the product wires the same function as `nmail bounce analyze`).

use std::path::PathBuf;
use std::process::ExitCode;

use nmail_bounce::{Lang, analyze_files_cli};

fn main() -> ExitCode {
    let mut json = false;
    let mut lang = Lang::Ko;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--lang" => match args.next().map(|l| l.parse::<Lang>()) {
                Some(Ok(l)) => lang = l,
                _ => {
                    eprintln!("--lang needs ko or en");
                    return ExitCode::from(2);
                }
            },
            _ => files.push(PathBuf::from(a)),
        }
    }
    let stdout = std::io::stdout();
    match analyze_files_cli(&files, json, lang, &mut stdout.lock()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("analyze: {e}");
            ExitCode::from(1)
        }
    }
}
