//! Runs every protocol dialogue in tests/dialogues/ (one test each) against
//! a fresh server, then its machine-readable CHECK lines. The notation is
//! described in tests/dialogues/README.md.

mod common;

use common::dialogue::{self, Proto, Script};
use common::{Server, smtp_send, strip_trace};
use libtest_mimic::{Arguments, Failed, Trial};

fn user_address(local: &str) -> String {
    format!("{local}@example.com")
}

fn setup(script: &Script) -> Server {
    let env = dialogue::env_of(script);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let server = Server::start(&env_refs);
    for line in &script.setup {
        if let Some(rest) = line.strip_prefix("deliver ") {
            let (user, text) = rest.split_once(' ').expect("deliver USER TEXT");
            let reply = smtp_send(
                server.smtp,
                "alice@example.org",
                &[&user_address(user)],
                &dialogue::expand(text),
            );
            assert!(reply.starts_with("250"), "SETUP deliver: {reply}");
        }
    }
    server
}

fn check(server: &Server, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.splitn(3, ' ').collect();
    let (kind, user) = (words[0], words.get(1).copied().unwrap_or(""));
    let rest = words.get(2).copied().unwrap_or("");
    let msgs = server.messages(&user_address(user));
    match kind {
        "count" => {
            let n: usize = rest
                .trim()
                .parse()
                .map_err(|_| format!("bad CHECK: {line}"))?;
            (msgs.len() == n)
                .then_some(())
                .ok_or_else(|| format!("{user} has {} messages, not {n}", msgs.len()))
        }
        "some" | "none" => {
            enum Test {
                BodyIs(Vec<u8>),
                Contains(Vec<u8>),
            }
            let test = if let Some(t) = rest.strip_prefix("body is ") {
                Test::BodyIs(dialogue::expand(t))
            } else if rest == "body is" {
                Test::BodyIs(Vec::new())
            } else if let Some(t) = rest.strip_prefix("contains ") {
                Test::Contains(dialogue::expand(t))
            } else {
                return Err(format!("bad CHECK: {line}"));
            };
            let hit = |raw: &Vec<u8>| match &test {
                Test::BodyIs(want) => strip_trace(raw) == &want[..],
                Test::Contains(want) => raw.windows(want.len().max(1)).any(|w| w == &want[..]),
            };
            let found = msgs.iter().any(|(_, raw)| hit(raw));
            match (kind, found) {
                ("some", true) | ("none", false) => Ok(()),
                _ => Err(format!(
                    "CHECK {line} failed; {user}'s messages:\n{}",
                    msgs.iter()
                        .map(|(_, r)| format!("{:?}", String::from_utf8_lossy(r)))
                        .collect::<Vec<_>>()
                        .join("\n")
                )),
            }
        }
        _ => Err(format!("unknown CHECK: {line}")),
    }
}

fn run_file(path: std::path::PathBuf) -> Result<(), Failed> {
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let script = dialogue::parse(&text);
    let proto = if path.extension().is_some_and(|e| e == "pop3") {
        Proto::Pop3
    } else {
        Proto::Smtp
    };
    let server = setup(&script);
    let addr = if proto == Proto::Smtp {
        server.smtp
    } else {
        server.pop3
    };
    dialogue::run(&script, addr, proto)?;
    // Let the server finish the last transaction before looking at files.
    std::thread::sleep(std::time::Duration::from_millis(200));
    for c in &script.checks {
        check(&server, c).map_err(|e| format!("{e}\n--- server log ---\n{}", server.log()))?;
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = common::repo().join("tests/dialogues");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/dialogues")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "smtp" || e == "pop3"))
        .collect();
    files.sort();
    let trials = files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run_file(p))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
