//! A runner for the dialogue notation of tests/cases/README.md: `C:` / `C>`
//! client lines (consecutive ones sent in one write, as a pipelined group),
//! `S:` reply patterns, `S=` exact lines, `S!` "nothing more arrives",
//! `REPEAT`, `TLS`, `CLOSE` and `=== connection N ===`. SETUP and CHECK
//! lines are collected for the calling test, except the machine-readable
//! forms our own dialogue files use:
//!
//! ```text
//! SETUP: env NMAIL_SMTP_MAX_MESSAGE_SIZE=1000   (a server setting)
//! CHECK: count bob 2                           (messages in bob's INBOX)
//! CHECK: last bob contains TEXT                (newest message has TEXT)
//! CHECK: last bob lacks TEXT
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which protocol's reply shapes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Smtp,
    Pop3,
}

#[derive(Debug, Clone)]
pub enum Step {
    Connect(String),
    Send(Vec<u8>),
    /// `S: pattern` (the first word; alternatives with `|`, `x` = any digit).
    Reply(String),
    /// `S= line`.
    Exact(String),
    /// `S! ...`: nothing more arrives for two seconds.
    Silence(String),
    Tls,
    Close,
}

#[derive(Debug, Default, Clone)]
pub struct Script {
    pub steps: Vec<(usize, Step)>,
    pub setup: Vec<String>,
    pub checks: Vec<String>,
}

/// Expands `{{rep N "s"}}` and the escapes `\r \n \t \\ \xHH`.
pub fn expand(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{rep ") {
        out.extend(unescape(&rest[..i]));
        let after = &rest[i + 6..];
        let end = after.find("}}").expect("unterminated {{rep}}");
        let inner = &after[..end];
        let (n, lit) = inner.split_once(' ').expect("{{rep N \"s\"}}");
        let n: usize = n.parse().expect("rep count");
        let lit = lit.trim().trim_matches('"');
        let piece = unescape(lit);
        for _ in 0..n {
            out.extend_from_slice(&piece);
        }
        rest = &after[end + 2..];
    }
    out.extend(unescape(rest));
    out
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).expect("\\xHH"));
                    i += 4;
                    continue;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Parses a transcript file.
pub fn parse(text: &str) -> Script {
    let mut s = Script::default();
    let mut pending: Option<(usize, Vec<u8>)> = None;
    let mut connected = false;
    let flush = |s: &mut Script, p: &mut Option<(usize, Vec<u8>)>| {
        if let Some((n, b)) = p.take() {
            s.steps.push((n, Step::Send(b)));
        }
    };
    for (no, raw) in text.lines().enumerate() {
        let no = no + 1;
        let line = raw.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let send = |bytes: Vec<u8>, p: &mut Option<(usize, Vec<u8>)>| match p {
            Some((_, b)) => b.extend(bytes),
            None => *p = Some((no, bytes)),
        };
        if let Some(rest) = line.strip_prefix("SETUP:") {
            s.setup.push(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("CHECK:") {
            s.checks.push(rest.trim().to_string());
        } else if line.starts_with("===") {
            flush(&mut s, &mut pending);
            s.steps.push((no, Step::Connect(line.to_string())));
            connected = true;
        } else {
            if !connected {
                s.steps
                    .push((no, Step::Connect("(first connection)".into())));
                connected = true;
            }
            if let Some(rest) = line.strip_prefix("C: ") {
                let mut b = rest.as_bytes().to_vec();
                b.extend_from_slice(b"\r\n");
                send(b, &mut pending);
            } else if line == "C:" {
                send(b"\r\n".to_vec(), &mut pending);
            } else if let Some(rest) = line.strip_prefix("C> ") {
                send(expand(rest), &mut pending);
            } else if let Some(rest) = line.strip_prefix("REPEAT ") {
                let (n, cmd) = rest.split_once(':').expect("REPEAT N: C> text");
                let n: usize = n.trim().parse().expect("REPEAT count");
                let body = cmd
                    .trim_start()
                    .strip_prefix("C> ")
                    .expect("REPEAT takes C>");
                let one = expand(body);
                let mut all = Vec::with_capacity(one.len() * n);
                for _ in 0..n {
                    all.extend_from_slice(&one);
                }
                send(all, &mut pending);
            } else {
                flush(&mut s, &mut pending);
                if let Some(rest) = line.strip_prefix("S: ") {
                    let pat = rest.split_whitespace().next().unwrap_or("").to_string();
                    s.steps.push((no, Step::Reply(pat)));
                } else if let Some(rest) = line.strip_prefix("S=") {
                    s.steps.push((
                        no,
                        Step::Exact(rest.strip_prefix(' ').unwrap_or(rest).to_string()),
                    ));
                } else if let Some(rest) = line.strip_prefix("S!") {
                    s.steps.push((no, Step::Silence(rest.trim().to_string())));
                } else if line.trim() == "TLS" {
                    s.steps.push((no, Step::Tls));
                } else if line.trim() == "CLOSE" {
                    s.steps.push((no, Step::Close));
                } else {
                    panic!("line {no}: not dialogue notation: {line}");
                }
            }
        }
    }
    flush(&mut s, &mut pending);
    s
}

/// The server-side settings a script asks for with `SETUP: env K=V`.
pub fn env_of(script: &Script) -> Vec<(String, String)> {
    script
        .setup
        .iter()
        .filter_map(|l| l.strip_prefix("env "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

struct Conn {
    stream: Box<dyn Stream>,
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn read_line(&mut self, wait: Duration) -> Result<String, String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no complete line within {wait:?} (have {:?})",
                    String::from_utf8_lossy(&self.buf)
                ));
            }
            self.tcp.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "connection closed (have {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// True if any byte arrives within `wait`.
    fn anything(&mut self, wait: Duration) -> Option<String> {
        if !self.buf.is_empty() {
            return Some(String::from_utf8_lossy(&self.buf).into_owned());
        }
        self.tcp.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(n) if n > 0 => Some(String::from_utf8_lossy(&chunk[..n]).into_owned()),
            _ => None,
        }
    }
}

/// `S=` comparison; `#` in the expected line stands for any one character
/// (session ids in failure replies differ on every run).
fn exact_matches(want: &str, got: &str) -> bool {
    let (w, g): (Vec<char>, Vec<char>) = (want.chars().collect(), got.chars().collect());
    w.len() == g.len() && w.iter().zip(&g).all(|(a, b)| *a == '#' || a == b)
}

/// For each POP3 command in a write, whether its +OK has a body.
fn pop3_multiline(bytes: &[u8]) -> Vec<bool> {
    String::from_utf8_lossy(bytes)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut w = l.split_whitespace();
            let kw = w.next().unwrap_or("").to_ascii_uppercase();
            let args = w.count();
            match kw.as_str() {
                "RETR" | "TOP" | "CAPA" => true,
                "LIST" | "UIDL" => args == 0,
                "AUTH" => args == 0,
                _ => false,
            }
        })
        .collect()
}

fn code_matches(pattern: &str, line: &str) -> bool {
    pattern.split('|').any(|alt| {
        let alt = alt.trim();
        if alt.starts_with('+') || alt.starts_with('-') {
            return line.starts_with(alt);
        }
        line.len() >= 3
            && alt.len() == 3
            && alt
                .bytes()
                .zip(line.bytes())
                .all(|(p, c)| p == b'x' || p == c)
    })
}

/// A TLS client that accepts any certificate: the tests talk to a server
/// with the self-signed certificate `nmail init` made.
fn tls_client(tcp: TcpStream) -> Box<dyn Stream> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    #[derive(Debug)]
    struct AnyCert;
    impl ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), "mx.example.com".try_into().unwrap()).unwrap();
    Box::new(rustls::StreamOwned::new(conn, tcp))
}

/// Runs a script against `addr`; the error names the failing line and
/// holds the transcript so far.
pub fn run(script: &Script, addr: SocketAddr, proto: Proto) -> Result<(), String> {
    let mut conn: Option<Conn> = None;
    // Earlier connections stay open until the script ends (a second
    // session may need the first one to still hold its lock).
    let mut kept: Vec<Conn> = Vec::new();
    let mut log = String::new();
    let wait = Duration::from_secs(30);
    // POP3 commands whose +OK starts a multi-line body; unless the script
    // spells the body out with S= lines, the runner reads past it.
    let mut multi: Vec<bool> = Vec::new();
    for (i, (no, step)) in script.steps.iter().enumerate() {
        let fail =
            |what: String, log: &str| Err(format!("line {no}: {what}\n--- transcript ---\n{log}"));
        match step {
            Step::Connect(name) => {
                log.push_str(&format!("{name}\n"));
                let tcp = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                let stream: Box<dyn Stream> = Box::new(tcp.try_clone().unwrap());
                if let Some(old) = conn.replace(Conn {
                    stream,
                    tcp,
                    buf: Vec::new(),
                }) {
                    kept.push(old);
                }
            }
            Step::Send(bytes) => {
                let c = conn.as_mut().expect("connected");
                let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                log.push_str(&format!(
                    "C: {shown:?}{}\n",
                    if bytes.len() > 300 { "..." } else { "" }
                ));
                if proto == Proto::Pop3 {
                    multi = pop3_multiline(bytes);
                }
                if let Err(e) = c.stream.write_all(bytes).and_then(|_| c.stream.flush()) {
                    return fail(format!("write: {e}"), &log);
                }
            }
            Step::Reply(pat) => {
                let c = conn.as_mut().expect("connected");
                let first = match c.read_line(wait) {
                    Ok(l) => l,
                    Err(e) => return fail(format!("expected {pat}: {e}"), &log),
                };
                log.push_str(&format!("S: {first}\n"));
                let mut last = first.clone();
                // SMTP multi-line replies continue while the 4th octet is '-'.
                while proto == Proto::Smtp && last.as_bytes().get(3) == Some(&b'-') {
                    last = match c.read_line(wait) {
                        Ok(l) => l,
                        Err(e) => return fail(format!("in multi-line reply: {e}"), &log),
                    };
                    log.push_str(&format!("S: {last}\n"));
                }
                if !code_matches(pat, &first) {
                    return fail(format!("expected {pat}, got {first:?}"), &log);
                }
                let is_multi = if multi.is_empty() {
                    false
                } else {
                    multi.remove(0)
                };
                let spelled = matches!(script.steps.get(i + 1), Some((_, Step::Exact(_))));
                if proto == Proto::Pop3 && is_multi && first.starts_with("+OK") && !spelled {
                    loop {
                        match c.read_line(wait) {
                            Ok(l) if l == "." => break,
                            Ok(_) => {}
                            Err(e) => return fail(format!("in multi-line body: {e}"), &log),
                        }
                    }
                    log.push_str("S: (body read through \".\")\n");
                }
            }
            Step::Exact(want) => {
                let c = conn.as_mut().expect("connected");
                let got = match c.read_line(wait) {
                    Ok(l) => l,
                    Err(e) => return fail(format!("expected {want:?}: {e}"), &log),
                };
                log.push_str(&format!("S= {got}\n"));
                if !exact_matches(want, &got) {
                    return fail(format!("expected line {want:?}, got {got:?}"), &log);
                }
            }
            Step::Silence(what) => {
                let c = conn.as_mut().expect("connected");
                if let Some(extra) = c.anything(Duration::from_secs(2)) {
                    return fail(format!("must not happen ({what}), but got {extra:?}"), &log);
                }
            }
            Step::Tls => {
                let c = conn.take().expect("connected");
                if !c.buf.is_empty() {
                    return fail("bytes after the TLS go-ahead (injection)".into(), &log);
                }
                log.push_str("TLS\n");
                let tcp = c.tcp;
                let stream = tls_client(tcp.try_clone().unwrap());
                conn = Some(Conn {
                    stream,
                    tcp,
                    buf: Vec::new(),
                });
            }
            Step::Close => {
                log.push_str("CLOSE\n");
                if let Some(c) = conn.take() {
                    let _ = c.tcp.shutdown(std::net::Shutdown::Both);
                }
            }
        }
    }
    drop(kept);
    Ok(())
}
