//! One POP3 session: AUTHORIZATION, TRANSACTION and UPDATE states of
//! RFC 1939 §3.
//!
//! The maildrop is the account's INBOX, locked in the index for the whole
//! TRANSACTION state so that no second session (on this or another server
//! sharing the index) sees or deletes the same messages. Deletions happen
//! only in the UPDATE state, after QUIT; a dropped connection deletes
//! nothing.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::{Instrument, debug, info, warn};

use nmail_sync::Address;
use nmail_sync::index::MessageRecord;
use nmail_sync::store::Folder;

use super::command::{self, Command};
use super::wire::{self, Stuffer};
use crate::auth::{self, Login};
use crate::conn::{Conn, Line, is_timeout};
use crate::server::{LogSafe, Refusal, Shared, next_id, turn_away};

/// RFC 2449 §4: command lines are at most 255 octets; AUTH responses may be
/// longer, so allow some room.
const MAX_LINE: usize = 2048;

/// Failed logins after which the session is closed.
const MAX_LOGIN_FAILURES: u32 = 3;

/// An open maildrop.
struct Maildrop {
    address: Address,
    folder: Folder,
    msgs: Vec<MessageRecord>,
    deleted: Vec<bool>,
    lock: String,
    lock_renewed: Instant,
}

impl Maildrop {
    /// The message numbered `n` (1-based) unless it is deleted.
    fn get(&self, n: u64) -> Option<(usize, &MessageRecord)> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        (i < self.msgs.len() && !self.deleted[i]).then(|| (i, &self.msgs[i]))
    }

    fn live(&self) -> impl Iterator<Item = (usize, &MessageRecord)> {
        self.msgs
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted[*i])
    }

    fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, s), (_, m)| (n + 1, s + m.wire_size))
    }
}

struct Session {
    shared: Arc<Shared>,
    id: String,
    peer: SocketAddr,
    tls: bool,
    user: Option<String>,
    failures: u32,
    drop: Option<Maildrop>,
}

enum Outcome {
    Closed,
    Stls,
}

/// Serves one POP3 connection to its end.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = next_id();
    let span =
        tracing::info_span!("pop3", session = %id, peer = %peer, user = tracing::field::Empty);
    async move {
        let started = Instant::now();
        info!("session open");
        let _ = stream.set_nodelay(true);
        let _admitted = match shared.admit(
            &shared.pop3_slots,
            peer.ip(),
            shared.config.pop3.max_connections_per_ip,
        ) {
            Ok(a) => a,
            Err(why) => {
                let reply: &[u8] = match why {
                    Refusal::Busy => b"-ERR [SYS/TEMP] too many connections, try again later\r\n",
                    Refusal::PerAddress => {
                        b"-ERR [SYS/TEMP] too many connections from your address\r\n"
                    }
                };
                turn_away(stream, reply, why).await;
                return;
            }
        };
        let mut s = Session {
            shared: shared.clone(),
            id,
            peer,
            tls: false,
            user: None,
            failures: 0,
            drop: None,
        };
        let mut conn = Conn::new(stream);
        conn.queue(b"+OK nmail POP3 server ready\r\n");
        if let Outcome::Stls = s.run(&mut conn).await {
            s.start_tls(conn).await;
        }
        s.release().await;
        info!(secs = started.elapsed().as_secs_f32(), "session close");
    }
    .instrument(span)
    .await
}

fn ok(text: impl AsRef<str>) -> Vec<u8> {
    format!("+OK {}\r\n", text.as_ref()).into_bytes()
}

fn err(text: impl AsRef<str>) -> Vec<u8> {
    format!("-ERR {}\r\n", text.as_ref()).into_bytes()
}

impl Session {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.shared.config.pop3.timeout_secs)
    }

    /// Passwords may be sent in clear on TLS, from loopback, or when the
    /// postmaster allowed it.
    fn plaintext_ok(&self) -> bool {
        self.tls || self.peer.ip().is_loopback() || self.shared.config.pop3.allow_plaintext_auth
    }

    async fn start_tls(&mut self, conn: Conn<TcpStream>) {
        let Some(acceptor) = self.shared.tls.clone() else {
            return;
        };
        if let Some(mut conn) = crate::tls::upgrade(&acceptor, conn, self.timeout()).await {
            // RFC 2595 §4: the client must be asked for its name again.
            self.tls = true;
            self.user = None;
            let _ = self.run(&mut conn).await;
        }
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<S>) -> Outcome {
        loop {
            let line = match conn.read_line(MAX_LINE, self.timeout()).await {
                Ok(Line::Complete(l)) => l,
                Ok(Line::TooLong) => {
                    conn.queue(&err("line too long"));
                    continue;
                }
                Ok(Line::Eof) => return Outcome::Closed,
                Err(e) if is_timeout(&e) => {
                    info!("autologout timer expired");
                    conn.queue(&err("autologout: idle too long"));
                    conn.close(Duration::from_secs(5)).await;
                    return Outcome::Closed;
                }
                Err(_) => return Outcome::Closed,
            };
            let cmd = match command::parse(&line) {
                Ok(c) => c,
                Err(command::Error::Unknown) => {
                    debug!(line = %LogSafe(redact(&line)), "unknown command");
                    conn.queue(&err("unknown command"));
                    continue;
                }
                Err(command::Error::Syntax(why)) => {
                    conn.queue(&err(why));
                    continue;
                }
            };
            debug!(command = %LogSafe(redact(&line)), "command");
            if self.drop.is_some() {
                self.renew_lock().await;
                match cmd {
                    Command::Quit => {
                        let r = self.update().await;
                        conn.queue(&r);
                        conn.close(self.timeout()).await;
                        return Outcome::Closed;
                    }
                    other => self.transaction(other, conn).await,
                }
            } else {
                match cmd {
                    Command::Quit => {
                        conn.queue(&ok("nmail POP3 server signing off"));
                        conn.close(self.timeout()).await;
                        return Outcome::Closed;
                    }
                    Command::Stls => {
                        if self.tls || self.shared.tls.is_none() {
                            conn.queue(&err("STLS not available"));
                            continue;
                        }
                        conn.queue(&ok("Begin TLS negotiation"));
                        if conn.flush(self.timeout()).await.is_err() {
                            return Outcome::Closed;
                        }
                        return Outcome::Stls;
                    }
                    Command::Auth(mech, initial) => {
                        if !self.auth(mech, initial, conn).await {
                            return Outcome::Closed;
                        }
                    }
                    other => {
                        let r = self.authorization(other).await;
                        conn.queue(&r);
                    }
                }
                if self.failures >= MAX_LOGIN_FAILURES {
                    conn.queue(&err("[AUTH] too many failed logins"));
                    conn.close(Duration::from_secs(5)).await;
                    return Outcome::Closed;
                }
            }
        }
    }

    fn capa(&self) -> Vec<u8> {
        let mut c = String::from(
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n",
        );
        if self.plaintext_ok() {
            c.push_str("USER\r\nSASL PLAIN\r\n");
        }
        if self.shared.tls.is_some() && !self.tls && self.drop.is_none() {
            c.push_str("STLS\r\n");
        }
        // RFC 6856: USER, PASS and AUTH PLAIN take UTF-8 (Korean) names.
        c.push_str("UTF8 USER\r\nEXPIRE NEVER\r\nIMPLEMENTATION nmail\r\n.\r\n");
        c.into_bytes()
    }

    async fn authorization(&mut self, cmd: Command) -> Vec<u8> {
        match cmd {
            Command::Capa => self.capa(),
            Command::Noop => ok(""),
            Command::Utf8 => ok("UTF8 enabled"),
            Command::User(name) => {
                if !self.plaintext_ok() {
                    return err("[AUTH] plaintext authentication needs TLS; use STLS");
                }
                self.user = Some(name);
                ok("send PASS")
            }
            Command::Pass(pw) => {
                let Some(name) = self.user.take() else {
                    return err("USER first");
                };
                self.login(&name, &pw).await
            }
            Command::Apop => err("APOP not supported; use USER/PASS or AUTH PLAIN"),
            _ => err("not in TRANSACTION state; log in first"),
        }
    }

    /// AUTH (RFC 5034). Returns false when the connection is lost.
    async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mech: Option<String>,
        initial: Option<String>,
        conn: &mut Conn<S>,
    ) -> bool {
        let Some(mech) = mech else {
            // Listing mechanisms for a bare AUTH is what Thunderbird and
            // Outlook probe with before choosing one.
            conn.queue(b"+OK\r\nPLAIN\r\n.\r\n");
            return true;
        };
        if mech != "PLAIN" {
            conn.queue(&err("[AUTH] mechanism not supported"));
            return true;
        }
        if !self.plaintext_ok() {
            conn.queue(&err("[AUTH] plaintext authentication needs TLS; use STLS"));
            return true;
        }
        let response = match initial {
            // "=" is the empty initial response (RFC 5034 §4).
            Some(r) if r == "=" => String::new(),
            Some(r) => r,
            None => {
                conn.queue(b"+ \r\n");
                match conn.read_line(MAX_LINE, self.timeout()).await {
                    Ok(Line::Complete(l)) => String::from_utf8_lossy(&l).trim_end().to_string(),
                    Ok(Line::TooLong) => {
                        conn.queue(&err("[AUTH] response too long"));
                        return true;
                    }
                    _ => return false,
                }
            }
        };
        if response == "*" {
            conn.queue(&err("[AUTH] authentication cancelled"));
            return true;
        }
        let Some((authz, authc, pw)) = decode_plain(&response) else {
            self.failures += 1;
            conn.queue(&err("[AUTH] malformed PLAIN response"));
            return true;
        };
        // The authorization identity may be the same account spelled
        // another way (case, NFD); compared in the accounts' one form.
        let same = |a: &str, b: &str| {
            a.eq_ignore_ascii_case(b)
                || matches!(
                    (nmail_sync::Address::parse(a), nmail_sync::Address::parse(b)),
                    (Ok(x), Ok(y)) if x == y
                )
        };
        if !authz.is_empty() && !same(&authz, &authc) {
            self.failures += 1;
            conn.queue(&err("[AUTH] acting for another user is not allowed"));
            return true;
        }
        let r = self.login(&authc, &pw).await;
        conn.queue(&r);
        true
    }

    async fn login(&mut self, name: &str, password: &str) -> Vec<u8> {
        let ip = self.peer.ip();
        let shown = LogSafe(name.as_bytes()).to_string();
        let Some(attempt) = self.shared.throttle.begin(ip) else {
            warn!(user = %shown, "login refused: too many recent failures from this address");
            self.failures += 1;
            return err("[AUTH] too many failed logins, try again later");
        };
        let address = match auth::login(&self.shared, name, password).await {
            Login::Ok(a) => {
                attempt.succeeded();
                a
            }
            Login::Unavailable => {
                return err("[SYS/TEMP] authentication unavailable, try again later");
            }
            Login::Denied => {
                self.failures += 1;
                let delay = attempt.failed();
                info!(user = %shown, "login failed");
                tokio::time::sleep(delay).await;
                return err(format!(
                    "[AUTH] invalid user name or password (session {})",
                    self.id
                ));
            }
        };
        tracing::Span::current().record("user", tracing::field::display(&address));
        self.open(address).await
    }

    /// Locks and lists the maildrop (RFC 1939 §4, end of AUTHORIZATION).
    async fn open(&mut self, address: Address) -> Vec<u8> {
        let store = &self.shared.store;
        let lock = format!("pop3:{address}");
        let owner = format!("{}/{}", self.shared.instance, self.id);
        match store.index().try_lock(&lock, &owner, self.lock_ttl()).await {
            Ok(true) => {}
            Ok(false) => {
                info!(user = %address, "maildrop in use");
                return err("[IN-USE] maildrop already locked by another session");
            }
            Err(e) => {
                warn!(error = %e, "lock failed");
                return err("[SYS/TEMP] cannot lock maildrop, try again later");
            }
        }
        let listed = async {
            let folder = store.inbox(&address).await?;
            let msgs = store.open_folder(&folder).await?;
            Ok::<_, nmail_sync::store::StoreError>((folder, msgs))
        }
        .await;
        let (folder, msgs) = match listed {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "cannot open maildrop");
                if store.index().unlock(&lock, &owner).await.is_err() {
                    // A full disk can refuse the unlock too; keep trying,
                    // or the maildrop stays locked until the lock expires.
                    let index = store.index().clone();
                    tokio::spawn(async move {
                        for _ in 0..120 {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            if index.unlock(&lock, &owner).await.is_ok() {
                                break;
                            }
                        }
                    });
                }
                return err("[SYS/TEMP] cannot open maildrop, try again later");
            }
        };
        let d = Maildrop {
            deleted: vec![false; msgs.len()],
            address,
            folder,
            msgs,
            lock,
            lock_renewed: Instant::now(),
        };
        let (n, size) = d.stat();
        info!(user = %d.address, messages = n, "logged in");
        self.drop = Some(d);
        ok(format!("maildrop has {n} messages ({size} octets)"))
    }

    fn lock_ttl(&self) -> i64 {
        self.shared.config.pop3.timeout_secs as i64 + 120
    }

    fn lock_owner(&self) -> String {
        format!("{}/{}", self.shared.instance, self.id)
    }

    async fn renew_lock(&mut self) {
        let ttl = self.lock_ttl();
        let owner = self.lock_owner();
        if let Some(d) = self.drop.as_mut()
            && d.lock_renewed.elapsed() > Duration::from_secs(60)
        {
            d.lock_renewed = Instant::now();
            let _ = self
                .shared
                .store
                .index()
                .try_lock(&d.lock, &owner, ttl)
                .await;
        }
    }

    async fn release(&mut self) {
        if let Some(d) = self.drop.take() {
            let _ = self
                .shared
                .store
                .index()
                .unlock(&d.lock, &self.lock_owner())
                .await;
        }
    }

    async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cmd: Command,
        conn: &mut Conn<S>,
    ) {
        let Some(d) = self.drop.as_mut() else { return };
        let r = match cmd {
            Command::Stat => {
                let (n, s) = d.stat();
                ok(format!("{n} {s}"))
            }
            Command::List(None) | Command::Uidl(None) => {
                let uidl = matches!(cmd, Command::Uidl(_));
                let mut out = ok(if uidl {
                    "unique-id listing follows".to_string()
                } else {
                    let (n, s) = d.stat();
                    format!("{n} messages ({s} octets)")
                });
                for (i, m) in d.live() {
                    let v = if uidl {
                        m.uidl.clone()
                    } else {
                        m.wire_size.to_string()
                    };
                    out.extend_from_slice(format!("{} {v}\r\n", i + 1).as_bytes());
                }
                out.extend_from_slice(b".\r\n");
                out
            }
            Command::List(Some(n)) => match d.get(n) {
                Some((_, m)) => ok(format!("{n} {}", m.wire_size)),
                None => err("no such message"),
            },
            Command::Uidl(Some(n)) => match d.get(n) {
                Some((_, m)) => ok(format!("{n} {}", m.uidl)),
                None => err("no such message"),
            },
            Command::Dele(n) => match d.get(n) {
                Some((i, _)) => {
                    d.deleted[i] = true;
                    ok(format!("message {n} deleted"))
                }
                None => err("no such message"),
            },
            Command::Rset => {
                d.deleted.iter_mut().for_each(|x| *x = false);
                let (n, s) = d.stat();
                ok(format!("maildrop has {n} messages ({s} octets)"))
            }
            Command::Noop => ok(""),
            Command::Capa => self.capa(),
            Command::Retr(n) => return self.retr(n, None, conn).await,
            Command::Top(n, lines) => return self.retr(n, Some(lines), conn).await,
            Command::User(_)
            | Command::Pass(_)
            | Command::Auth(..)
            | Command::Apop
            | Command::Utf8
            | Command::Stls => err("already logged in"),
            Command::Quit => unreachable!("handled by the loop"),
        };
        conn.queue(&r);
    }

    /// RETR (whole message, streamed) or TOP (header and `top` lines).
    async fn retr<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        n: u64,
        top: Option<u64>,
        conn: &mut Conn<S>,
    ) {
        let Some(d) = self.drop.as_ref() else { return };
        let Some((_, m)) = d.get(n) else {
            conn.queue(&err("no such message"));
            return;
        };
        let m = m.clone();
        let file = match self.shared.store.open_message(&d.folder, &m).await {
            // A file rewritten since the maildrop was opened would not
            // match the size LIST gave, nor the count announced below.
            Ok(Some((_, meta))) if meta.len() != m.size => {
                warn!(file = %m.file_name, "message file changed during the session");
                conn.queue(&err(
                    "[SYS/TEMP] message changed on the server; log in again",
                ));
                return;
            }
            Ok(Some((f, _))) => f,
            Ok(None) => {
                conn.queue(&err("[SYS/PERM] message was removed by another client"));
                return;
            }
            Err(e) => {
                warn!(error = %e, "cannot read message");
                conn.queue(&err("[SYS/TEMP] cannot read message, try again later"));
                return;
            }
        };
        if let Some(lines) = top {
            let raw = tokio::task::spawn_blocking(move || {
                let mut v = Vec::new();
                let mut f = file;
                f.read_to_end(&mut v).map(|_| v)
            })
            .await;
            match raw {
                Ok(Ok(raw)) => {
                    conn.queue(&ok("top of message follows"));
                    conn.queue(&wire::top(&raw, lines));
                }
                _ => conn.queue(&err("[SYS/TEMP] cannot read message")),
            }
            return;
        }
        conn.queue(&ok(format!("{} octets", m.wire_size)));
        let mut f = tokio::fs::File::from_std(file);
        let mut stuffer = Stuffer::default();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(80 * 1024);
        loop {
            use tokio::io::AsyncReadExt;
            let got = match f.read(&mut chunk).await {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) => {
                    // The +OK line is out; all we can do is end the
                    // connection so the client does not take a short
                    // message for a whole one.
                    warn!(error = %e, "read error during RETR; closing");
                    conn.close(Duration::from_secs(1)).await;
                    return;
                }
            };
            stuffer.push(&chunk[..got], &mut out);
            conn.queue(&out);
            out.clear();
            if conn.flush(self.timeout()).await.is_err() {
                return;
            }
        }
        stuffer.finish(&mut out);
        conn.queue(&out);
    }

    /// QUIT in TRANSACTION: the UPDATE state removes the messages marked
    /// deleted, then the lock is released.
    async fn update(&mut self) -> Vec<u8> {
        let Some(d) = self.drop.as_ref() else {
            return ok("bye");
        };
        let gone: Vec<MessageRecord> = d
            .msgs
            .iter()
            .zip(&d.deleted)
            .filter(|(_, del)| **del)
            .map(|(m, _)| m.clone())
            .collect();
        let count = gone.len();
        let left = d.msgs.len() - count;
        let result = if gone.is_empty() {
            Ok(0)
        } else {
            self.shared.store.expunge(&d.folder, gone).await
        };
        let address = d.address.to_string();
        self.release().await;
        match result {
            Ok(0) => {
                info!(user = %address, deleted = count, left, "update done");
                ok(format!(
                    "nmail POP3 server signing off ({left} messages left)"
                ))
            }
            Ok(failed) => {
                warn!(user = %address, failed, "some messages could not be deleted");
                err(format!("[SYS/TEMP] {failed} messages could not be deleted"))
            }
            Err(e) => {
                warn!(user = %address, error = %e, "update failed");
                err("[SYS/TEMP] some deleted messages not removed")
            }
        }
    }
}

/// Decodes a SASL PLAIN response (RFC 4616): authzid NUL authcid NUL
/// password. Missing base64 padding is tolerated.
fn decode_plain(b64: &str) -> Option<(String, String, String)> {
    let t = b64.trim().trim_end_matches('=');
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .ok()?;
    let mut parts = raw.split(|&b| b == 0);
    let authz = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let authc = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pw = String::from_utf8(parts.next()?.to_vec()).ok()?;
    if parts.next().is_some() || authc.is_empty() {
        return None;
    }
    Some((authz, authc, pw))
}

/// The line with any password removed, for logs: PASS, AUTH and APOP show
/// only their name, USER only its first word (a client that sends
/// `USER bob PASS secret` gets its password kept out too).
fn redact(line: &[u8]) -> &[u8] {
    let upper = line.to_ascii_uppercase();
    if upper.starts_with(b"USER ") {
        let end = line
            .iter()
            .enumerate()
            .skip(5)
            .find(|(_, b)| **b == b' ')
            .map_or(line.len(), |(i, _)| i);
        &line[..end]
    } else if upper.starts_with(b"PASS") || upper.starts_with(b"AUTH") || upper.starts_with(b"APOP")
    {
        &line[..4]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses() {
        let e = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            decode_plain(&e("\0bob@example.com\0pw")),
            Some(("".into(), "bob@example.com".into(), "pw".into()))
        );
        let no_pad = e("\0bob\0pw1").trim_end_matches('=').to_string();
        assert_eq!(decode_plain(&no_pad).map(|x| x.2), Some("pw1".into()));
        assert_eq!(decode_plain("!!!"), None);
        assert_eq!(decode_plain(&e("bob")), None);
        assert_eq!(redact(b"PASS secret"), b"PASS");
        assert_eq!(redact(b"STAT"), b"STAT");
    }
}
