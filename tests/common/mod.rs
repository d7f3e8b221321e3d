//! Shared by the end-to-end tests: starting the real `nmail` binary on
//! free loopback ports with a fresh data folder, and looking at its files.
#![allow(dead_code, missing_docs)]

pub mod dialogue;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Passwords of the users every case assumes (see tests/cases/README.md).
pub const USERS: &[(&str, &str)] = &[
    ("bob@example.com", "Correct-Horse-7"),
    ("carol@example.com", "Blue-Lantern-42"),
];

pub fn nmail_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nmail")
}

pub fn resync_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nmail-resync")
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the checkout, when this machine has it.
pub fn shared() -> Option<PathBuf> {
    let p = repo().join("..").join("shared");
    p.join("cases").is_dir().then_some(p)
}

/// A running server with its own data folder.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub smtp: SocketAddr,
    pub pop3: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Server {
    /// A data folder for example.com (host mx.example.com) with bob and
    /// carol, and a server on it. `env` holds extra NMAIL_* settings.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "Postmaster-Pass-1\n").unwrap();
        run_ok(
            Command::new(nmail_bin())
                .args([
                    "init",
                    "--domain",
                    "example.com",
                    "--hostname",
                    "mx.example.com",
                    "--password-file",
                ])
                .arg(&pw)
                .arg("--data")
                .arg(&data),
        );
        for (user, pass) in USERS {
            std::fs::write(&pw, format!("{pass}\n")).unwrap();
            run_ok(
                Command::new(nmail_bin())
                    .args(["user", "add", user, "--password-file"])
                    .arg(&pw)
                    .arg("--data")
                    .arg(&data),
            );
        }
        Self::start_in(dir, env)
    }

    /// A server on an existing data folder at `dir/data`.
    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            dir,
            smtp: "0.0.0.0:0".parse().unwrap(),
            pop3: "0.0.0.0:0".parse().unwrap(),
            env: env
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            child: None,
            log: Arc::new(Mutex::new(String::new())),
        };
        s.spawn();
        s
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(nmail_bin());
        cmd.arg("serve").arg("--data").arg(self.data());
        cmd.env("NMAIL_SMTP_LISTEN", "127.0.0.1:0")
            .env("NMAIL_POP3_LISTEN", "127.0.0.1:0");
        cmd.env("NMAIL_LOG_LEVEL", "debug").env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn nmail serve");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut smtp, mut pop3) = (None, None);
        while smtp.is_none() || pop3.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("nmail: smtp listening on ") {
                        smtp = a.trim().parse().ok();
                    } else if let Some(a) = line.strip_prefix("nmail: pop3 listening on ") {
                        pop3 = a.trim().parse().ok();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("server did not start; log:\n{}", self.log());
                }
            }
        }
        self.smtp = smtp.unwrap();
        self.pop3 = pop3.unwrap();
        self.child = Some(child);
    }

    /// Stops the server the way an operator does (SIGTERM), and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Runs `nmail ARGS --data DIR`.
    pub fn nmail(&self, args: &[&str]) -> Output {
        Command::new(nmail_bin())
            .args(args)
            .arg("--data")
            .arg(self.data())
            .output()
            .unwrap()
    }

    /// Runs `nmail-resync ARGS --data DIR`.
    pub fn resync(&self, args: &[&str]) -> Output {
        Command::new(resync_bin())
            .args(args)
            .arg("--data")
            .arg(self.data())
            .output()
            .unwrap()
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        let (l, d) = user.split_once('@').unwrap();
        self.data()
            .join("domains")
            .join(d)
            .join("users")
            .join(l)
            .join("Maildir")
    }

    /// The message files of an account's INBOX (new/ and cur/, no dot
    /// files), oldest name first, with their bytes.
    pub fn messages(&self, user: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let md = self.maildir(user);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(rd) = std::fs::read_dir(md.join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
        out.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
        out
    }

    /// Resident set size and its peak, in KiB, from /proc.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- server log ----\n{}", self.log());
        }
    }
}

/// A message file's text after the trace fields the server prepends:
/// Return-Path, Delivered-To, and one Received field with its continuation
/// lines.
pub fn strip_trace(raw: &[u8]) -> &[u8] {
    fn line_end(raw: &[u8], pos: usize) -> usize {
        raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1)
    }
    let mut pos = 0;
    for field in [&b"Return-Path: "[..], b"Delivered-To: ", b"Received: "] {
        assert!(
            raw[pos..].starts_with(field),
            "trace field {:?} missing",
            String::from_utf8_lossy(field)
        );
        pos = line_end(raw, pos);
    }
    while raw[pos..].starts_with(b"\t") {
        pos = line_end(raw, pos);
    }
    &raw[pos..]
}

/// Runs a Python script from tests/e2e with arguments; fails the test
/// with its output if it fails.
pub fn python(script: &str, args: &[&str]) -> String {
    let path = repo().join("tests").join("e2e").join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A bare-bones POP3 client that shows the wire exactly (poplib would
/// undo the dot-stuffing the tests want to see).
pub struct Pop3 {
    r: BufReader<std::net::TcpStream>,
    w: std::net::TcpStream,
}

impl Pop3 {
    pub fn connect(addr: SocketAddr) -> Pop3 {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut p = Pop3 {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        let greeting = p.line();
        assert!(greeting.starts_with("+OK"), "{greeting}");
        p
    }

    /// Connects and logs in with USER/PASS.
    pub fn login(addr: SocketAddr, user: &str, pass: &str) -> Pop3 {
        let mut p = Pop3::connect(addr);
        assert!(p.cmd(&format!("USER {user}")).starts_with("+OK"));
        let r = p.cmd(&format!("PASS {pass}"));
        assert!(r.starts_with("+OK"), "login {user}: {r}");
        p
    }

    /// Logs in, waiting up to 10 s while the maildrop is still locked by a
    /// session the server has not yet seen end (a dropped connection).
    pub fn login_when_free(addr: SocketAddr, user: &str, pass: &str) -> Pop3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut p = Pop3::connect(addr);
            assert!(p.cmd(&format!("USER {user}")).starts_with("+OK"));
            let r = p.cmd(&format!("PASS {pass}"));
            if r.starts_with("+OK") {
                return p;
            }
            assert!(r.contains("[IN-USE]") && Instant::now() < deadline, "login {user}: {r}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Sends a command, returns the status line.
    pub fn cmd(&mut self, c: &str) -> String {
        use std::io::Write;
        self.w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        self.line()
    }

    /// Reads the lines of a multi-line response up to (not including) ".".
    pub fn body(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "." {
                return out;
            }
            out.push(l);
        }
    }

    /// Reads a multi-line response raw, through "\r\n.\r\n".
    pub fn body_raw(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut l = Vec::new();
            self.r.read_until(b'\n', &mut l).unwrap();
            assert!(!l.is_empty(), "connection closed inside a response");
            if l == b".\r\n" {
                return out;
            }
            out.extend_from_slice(&l);
        }
    }

    /// `UIDL` as (number, uid) pairs.
    pub fn uidl(&mut self) -> Vec<(u64, String)> {
        let r = self.cmd("UIDL");
        assert!(r.starts_with("+OK"), "{r}");
        self.body()
            .iter()
            .map(|l| {
                let (n, u) = l.split_once(' ').unwrap();
                (n.parse().unwrap(), u.to_string())
            })
            .collect()
    }

    /// `LIST` as (number, size) pairs.
    pub fn list(&mut self) -> Vec<(u64, u64)> {
        let r = self.cmd("LIST");
        assert!(r.starts_with("+OK"), "{r}");
        self.body()
            .iter()
            .map(|l| {
                let (n, s) = l.split_once(' ').unwrap();
                (n.parse().unwrap(), s.parse().unwrap())
            })
            .collect()
    }

    pub fn quit(mut self) -> String {
        self.cmd("QUIT")
    }
}

/// Sends one message over SMTP with exact control of the bytes: `data` is
/// sent as given (already dot-stuffed, without the final ".").
pub fn smtp_send(addr: SocketAddr, from: &str, rcpts: &[&str], data: &[u8]) -> String {
    use std::io::Write;
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut last;
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            last = l.clone();
            if l.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        last.trim_end().to_string()
    };
    assert!(reply().starts_with("220"));
    w.write_all(b"EHLO client.example.org\r\n").unwrap();
    assert!(reply().starts_with("250"));
    w.write_all(format!("MAIL FROM:<{from}>\r\n").as_bytes())
        .unwrap();
    assert!(reply().starts_with("250"));
    for rc in rcpts {
        w.write_all(format!("RCPT TO:<{rc}>\r\n").as_bytes())
            .unwrap();
        let r = reply();
        assert!(r.starts_with("250"), "RCPT {rc}: {r}");
    }
    w.write_all(b"DATA\r\n").unwrap();
    assert!(reply().starts_with("354"));
    w.write_all(data).unwrap();
    w.write_all(b".\r\n").unwrap();
    let end = reply();
    w.write_all(b"QUIT\r\n").unwrap();
    end
}
