//! One SMTP session: the state machine of RFC 5321 §4.1.4 over a
//! connection, with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME
//! (RFC 6152), ENHANCEDSTATUSCODES (RFC 2034), STARTTLS (RFC 3207) and
//! SMTPUTF8 (RFC 6531: UTF-8 addresses, such as Korean account names, in a
//! transaction whose MAIL says so; the message is stored as sent).
//!
//! Mail is accepted for hosted accounts only; any other recipient gets
//! 550 5.7.1, whatever the sender claims to be, so the server is never an
//! open relay. A message is answered 250 only after its file is durable in
//! every recipient's maildir.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{Instrument, debug, info, warn};

use nmail_sync::store::Body;
use nmail_sync::{Address, DomainName, LocalPart};

use super::command::{self, Command, ForwardPath, Mailbox, Param, ReversePath};
use super::data::DataReceiver;
use super::reply::{Reply, codes};
use crate::config::BareLineEnds;
use crate::conn::{Conn, Line, is_timeout};
use crate::server::{Refusal, Shared, next_id, turn_away};

/// RFC 5321 §4.5.3.1.4 sets 512 octets for a command line; extensions
/// raise it, so allow more, but bound it.
const MAX_COMMAND_LINE: usize = 4096;

/// Message text kept in memory before it is spooled to a file.
const SPILL_THRESHOLD: usize = 2 << 20;

/// The slowest average rate, in octets per second, at which message text
/// may arrive once `smtp.data_timeout_secs` has passed.
const DATA_MIN_RATE: u64 = 1024;

/// A transaction: from MAIL to the end of DATA (or RSET).
#[derive(Debug)]
struct Transaction {
    from: ReversePath,
    /// The SIZE the client declared at MAIL (RFC 1870).
    declared: Option<u64>,
    recipients: Vec<Address>,
    /// Each recipient's mailbox size limit, same order.
    quotas: Vec<Option<u64>>,
    /// MAIL carried SMTPUTF8 (RFC 6531): addresses and header fields may
    /// be UTF-8.
    utf8: bool,
}

/// Session state that outlives a STARTTLS.
struct Session {
    shared: Arc<Shared>,
    id: String,
    peer: SocketAddr,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    tx: Option<Transaction>,
    errors: u32,
    accepted: u32,
}

/// How a run of the command loop ended.
enum Outcome {
    Closed,
    StartTls,
}

/// Serves one SMTP connection to its end.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = next_id();
    let span = tracing::info_span!("smtp", session = %id, peer = %peer);
    async move {
        let started = Instant::now();
        info!("session open");
        let _ = stream.set_nodelay(true);
        let mut s = Session {
            shared: shared.clone(),
            id,
            peer,
            helo: None,
            esmtp: false,
            tls: false,
            tx: None,
            errors: 0,
            accepted: 0,
        };
        let _admitted = match shared.admit(
            &shared.smtp_slots,
            peer.ip(),
            shared.config.smtp.max_connections_per_ip,
        ) {
            Ok(a) => a,
            Err(why) => {
                let reply = match why {
                    Refusal::Busy => codes::r421_busy(s.host()),
                    Refusal::PerAddress => Reply::new(
                        421,
                        "4.7.0",
                        format!("{} too many connections from your address", s.host()),
                    ),
                };
                turn_away(stream, &reply.to_wire(), why).await;
                return;
            }
        };
        let mut conn = Conn::new(stream);
        conn.queue(&Reply::new(220, "", format!("{} ESMTP nmail", s.host())).to_wire());
        if let Outcome::StartTls = s.run(&mut conn).await {
            s.start_tls(conn).await;
        }
        info!(
            messages = s.accepted,
            secs = started.elapsed().as_secs_f32(),
            "session close"
        );
    }
    .instrument(span)
    .await
}

impl Session {
    fn host(&self) -> &str {
        &self.shared.config.server.hostname
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.shared.config.smtp.timeout_secs)
    }

    async fn start_tls(&mut self, conn: Conn<TcpStream>) {
        let Some(acceptor) = self.shared.tls.clone() else {
            return;
        };
        let Some(mut conn) = crate::tls::upgrade(&acceptor, conn, self.timeout()).await else {
            return;
        };
        // RFC 3207 §4.2: forget everything learned before TLS.
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        let _ = self.run(&mut conn).await;
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<S>) -> Outcome {
        let max_errors = self.shared.config.smtp.max_errors;
        loop {
            let line = match conn.read_line(MAX_COMMAND_LINE, self.timeout()).await {
                Ok(Line::Complete(l)) => l,
                Ok(Line::TooLong) => {
                    self.errors += 1;
                    self.reply(conn, codes::r500_line_too_long());
                    continue;
                }
                Ok(Line::Eof) => {
                    debug!("client closed the connection");
                    return Outcome::Closed;
                }
                Err(e) if is_timeout(&e) => {
                    info!("idle timeout");
                    conn.queue(&codes::r421_timeout(self.host()).to_wire());
                    conn.close(Duration::from_secs(5)).await;
                    return Outcome::Closed;
                }
                Err(e) => {
                    debug!(error = %e, "connection error");
                    return Outcome::Closed;
                }
            };
            debug!(command = %crate::server::LogSafe(redact(&line)), "command");
            if is_http(&line) {
                warn!("HTTP request on the SMTP port; closing");
                conn.close(Duration::from_secs(5)).await;
                return Outcome::Closed;
            }
            let cmd = match command::parse(&line) {
                Ok(c) => c,
                Err(r) => {
                    self.errors += 1;
                    self.reply(conn, r);
                    if self.errors >= max_errors {
                        return self.too_many_errors(conn).await;
                    }
                    continue;
                }
            };
            match cmd {
                Command::Quit => {
                    let r = codes::r221_bye(self.host());
                    self.reply(conn, r);
                    conn.close(self.timeout()).await;
                    return Outcome::Closed;
                }
                Command::StartTls => {
                    if let Some(r) = self.starttls_refusal() {
                        self.reply(conn, r);
                        continue;
                    }
                    self.reply(conn, Reply::new(220, "2.0.0", "Ready to start TLS"));
                    if conn.flush(self.timeout()).await.is_err() {
                        return Outcome::Closed;
                    }
                    return Outcome::StartTls;
                }
                Command::Data => {
                    if let Err(()) = self.data(conn).await {
                        return Outcome::Closed;
                    }
                }
                other => {
                    let r = self.command(other).await;
                    if r.code >= 500 {
                        self.errors += 1;
                    }
                    self.reply(conn, r);
                }
            }
            if self.errors >= max_errors {
                return self.too_many_errors(conn).await;
            }
        }
    }

    async fn too_many_errors<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
    ) -> Outcome {
        warn!(errors = self.errors, "too many errors; closing");
        let r = codes::r421_too_many_errors(self.host());
        self.reply(conn, r);
        conn.close(Duration::from_secs(5)).await;
        Outcome::Closed
    }

    fn reply<S: AsyncRead + AsyncWrite + Unpin>(&self, conn: &mut Conn<S>, r: Reply) {
        let r = if r.is_failure() {
            r.with_session(&self.id)
        } else {
            r
        };
        if r.is_failure() {
            info!(code = r.code, status = r.status, text = %r.lines.join(" / "), "rejected");
        } else {
            debug!(code = r.code, "reply");
        }
        conn.queue(&r.to_wire());
    }

    fn starttls_refusal(&self) -> Option<Reply> {
        if self.shared.tls.is_none() {
            Some(codes::r502_not_implemented())
        } else if self.tls {
            Some(codes::r503_sequence("TLS already active"))
        } else {
            None
        }
    }

    async fn command(&mut self, cmd: Command) -> Reply {
        match cmd {
            Command::Ehlo(host) => {
                self.helo = Some(host.clone());
                self.esmtp = true;
                self.tx = None;
                let mut lines = vec![
                    format!(
                        "{} Hello {} [{}]",
                        self.host(),
                        sanitize(&host),
                        self.peer.ip()
                    ),
                    "PIPELINING".into(),
                    format!("SIZE {}", self.shared.config.smtp.max_message_size),
                    "8BITMIME".into(),
                    "ENHANCEDSTATUSCODES".into(),
                    "SMTPUTF8".into(),
                ];
                if self.shared.tls.is_some() && !self.tls {
                    lines.push("STARTTLS".into());
                }
                Reply {
                    code: 250,
                    status: "",
                    lines,
                }
            }
            Command::Helo(host) => {
                self.helo = Some(host);
                self.esmtp = false;
                self.tx = None;
                Reply::new(250, "", self.host().to_string())
            }
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params).await,
            Command::Rset => {
                self.tx = None;
                codes::r250_ok()
            }
            Command::Noop => codes::r250_ok(),
            Command::Vrfy => codes::r252_cannot_vrfy(),
            // EXPN would reveal list members; RFC 5321 §3.5.2 allows refusing it.
            Command::Expn => codes::r502_not_implemented(),
            Command::Help => Reply::new(
                214,
                "2.0.0",
                "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS (RFC 5321)",
            ),
            // TODO(submission issue): AUTH (RFC 4954) on the submission port.
            Command::Auth => codes::r502_not_implemented(),
            // TODO: CHUNKING/BINARYMIME (RFC 3030); not advertised until built.
            Command::Bdat => codes::r502_not_implemented(),
            Command::Quit | Command::StartTls | Command::Data => {
                unreachable!("handled by the loop")
            }
        }
    }

    fn mail(&mut self, from: ReversePath, params: Vec<Param>) -> Reply {
        if self.helo.is_none() {
            return codes::r503_sequence("Send HELO/EHLO first");
        }
        if self.tx.is_some() {
            return codes::r503_sequence("Nested MAIL command");
        }
        let mut declared = None;
        let mut utf8 = false;
        for p in &params {
            if !self.esmtp {
                return Reply::new(555, "5.5.4", "ESMTP parameters need EHLO");
            }
            match (p.keyword.as_str(), p.value.as_deref()) {
                // RFC 1870 §6.2: refuse a declared size over the limit now.
                // RFC 1870 §4: size-value is 1*20DIGIT, which may exceed
                // 64 bits; such a size is simply too big.
                ("SIZE", Some(v)) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
                    let n = v.parse::<u64>().unwrap_or(u64::MAX);
                    if n > self.shared.config.smtp.max_message_size {
                        return codes::r552_too_big(self.shared.config.smtp.max_message_size);
                    }
                    declared = Some(n);
                }
                ("SIZE", _) => return Reply::new(501, "5.5.4", "Syntax: SIZE=octets"),
                ("BODY", Some(v))
                    if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                ("BODY", _) => return Reply::new(501, "5.5.4", "BODY must be 7BIT or 8BITMIME"),
                ("SMTPUTF8", None) => utf8 = true,
                ("SMTPUTF8", Some(_)) => {
                    return Reply::new(501, "5.5.4", "SMTPUTF8 takes no value");
                }
                _ => {
                    return Reply::new(
                        555,
                        "5.5.4",
                        format!("Unsupported parameter {}", p.keyword),
                    );
                }
            }
        }
        if let ReversePath::Mailbox(m) = &from
            && m.is_utf8()
            && !utf8
        {
            return Reply::new(
                553,
                "5.6.7",
                "Non-ASCII sender address needs the SMTPUTF8 parameter",
            );
        }
        if !self.room_for(declared.unwrap_or(0)) {
            return codes::r452_storage_full();
        }
        self.tx = Some(Transaction {
            from,
            declared,
            recipients: Vec::new(),
            quotas: Vec::new(),
            utf8,
        });
        codes::r250_sender_ok()
    }

    async fn rcpt(&mut self, to: ForwardPath, params: Vec<Param>) -> Reply {
        let Some(tx) = self.tx.as_ref() else {
            return codes::r503_sequence("Need MAIL before RCPT");
        };
        if let Some(p) = params.first() {
            return Reply::new(555, "5.5.4", format!("Unsupported parameter {}", p.keyword));
        }
        if tx.recipients.len() >= self.shared.config.smtp.max_recipients {
            return codes::r452_too_many_recipients();
        }
        let mailbox = match to {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        };
        if let Some(m) = &mailbox
            && m.is_utf8()
            && !tx.utf8
        {
            return Reply::new(
                553,
                "5.6.7",
                "Non-ASCII recipient address needs SMTPUTF8 at MAIL",
            );
        }
        let shown = mailbox
            .as_ref()
            .map(Mailbox::to_addr)
            .unwrap_or_else(|| "postmaster".into());
        let (account, quota) = match self.resolve(mailbox.as_ref()).await {
            Ok(Resolved::Local(a, q)) => (a, q),
            Ok(Resolved::Unknown) => return codes::r550_unknown_user(&shown),
            Ok(Resolved::Disabled) => {
                return Reply::new(550, "5.2.1", format!("<{shown}>: mailbox disabled"));
            }
            Ok(Resolved::Remote) => return codes::r550_relay_denied(&shown),
            Err(e) => {
                warn!(error = %e, "recipient lookup failed");
                return Reply::new(451, "4.3.0", "Temporary lookup failure, try again later");
            }
        };
        if let Some(q) = quota {
            // A mailbox that is full, or that the declared size would
            // overflow, is refused now, while the client can still tell
            // its user (c23); other recipients are unaffected.
            let used = self
                .shared
                .store
                .index()
                .usage(&account.to_string())
                .await
                .unwrap_or(0);
            let need = self.tx.as_ref().and_then(|t| t.declared).unwrap_or(0);
            if used >= q || used + need > q {
                info!(rcpt = %account, used, quota = q, "over quota at RCPT");
                return Reply::new(
                    452,
                    "4.2.2",
                    format!("<{shown}>: Mailbox full, try again later"),
                );
            }
        }
        let tx = self.tx.as_mut().expect("checked above");
        if !tx.recipients.contains(&account) {
            tx.recipients.push(account);
            tx.quotas.push(quota);
        }
        codes::r250_recipient_ok()
    }

    /// Maps a forward-path to a hosted account.
    async fn resolve(
        &self,
        m: Option<&Mailbox>,
    ) -> Result<Resolved, nmail_sync::index::IndexError> {
        let index = self.shared.store.index();
        let (local, domain) = match m {
            Some(m) => {
                // A U-label domain (SMTPUTF8) is looked up by its A-labels.
                let Ok(domain) = DomainName::parse(&m.domain) else {
                    return Ok(Resolved::Remote);
                };
                let domain = domain.as_str().to_string();
                if !index.has_domain(&domain).await? {
                    return Ok(Resolved::Remote);
                }
                (unquote(&m.local), domain)
            }
            None => ("postmaster".to_string(), String::new()),
        };
        let mut local = local;
        let delim = &self.shared.config.smtp.recipient_delimiter;
        if !delim.is_empty()
            && let Some(i) = local.find(delim.as_str())
            && i > 0
        {
            local.truncate(i);
        }
        // Account names are kept in one form (lower case, NFC); a name that
        // cannot be an account's is nobody's.
        let Ok(local) = LocalPart::parse(&local).map(|l| l.as_str().to_string()) else {
            return Ok(Resolved::Unknown);
        };
        let domains = if domain.is_empty() {
            index.domains().await?.into_iter().map(|d| d.name).collect()
        } else {
            vec![domain.clone()]
        };
        for d in &domains {
            if let Some(u) = index.user(&format!("{local}@{d}")).await? {
                if u.disabled {
                    return Ok(Resolved::Disabled);
                }
                return Ok(Address::parse(&u.address)
                    .map_or(Resolved::Unknown, |a| Resolved::Local(a, u.quota_bytes)));
            }
        }
        // RFC 5321 §4.5.1: postmaster must be accepted at every domain; a
        // domain without its own postmaster account uses the first one.
        if local == "postmaster" {
            for d in index.domains().await? {
                if let Some(u) = index.user(&format!("postmaster@{}", d.name)).await?
                    && !u.disabled
                    && let Ok(a) = Address::parse(&u.address)
                {
                    return Ok(Resolved::Local(a, u.quota_bytes));
                }
            }
        }
        Ok(Resolved::Unknown)
    }

    /// The DATA command through to its reply. Err means the connection is
    /// gone.
    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
    ) -> Result<(), ()> {
        let Some(tx) = self.tx.as_ref() else {
            self.errors += 1;
            self.reply(conn, codes::r503_sequence("Need MAIL and RCPT before DATA"));
            return Ok(());
        };
        if tx.recipients.is_empty() {
            self.errors += 1;
            self.reply(conn, codes::r554_no_recipients());
            return Ok(());
        }
        self.reply(conn, codes::r354_start());
        let queue_id = next_id().to_ascii_uppercase();
        let received = self.receive(conn, &queue_id).await;
        let tx = self.tx.take().expect("checked above");
        let (received, receiver) = match received {
            Ok(x) => x,
            Err(e) if is_timeout(&e) => {
                info!(queue_id, error = %e, "DATA timed out; nothing stored");
                conn.queue(&codes::r421_timeout(self.host()).to_wire());
                conn.close(self.timeout()).await;
                return Err(());
            }
            Err(e) => {
                info!(error = %e, "connection lost during DATA; nothing stored");
                return Err(());
            }
        };
        let reply = match received {
            Received::TooBig => codes::r552_too_big(self.shared.config.smtp.max_message_size),
            Received::Failed(e) if nmail_sync::fsutil::is_storage_full(&e) => {
                codes::r452_storage_full()
            }
            Received::Failed(_) => codes::r451_local_error(),
            Received::Body(_)
                if receiver.bare_line_end
                    && self.shared.config.smtp.bare_line_ends == BareLineEnds::Reject =>
            {
                codes::r550_bare_lf()
            }
            Received::Body(body) => {
                if receiver.bare_line_end {
                    info!(queue_id = %queue_id, "bare CR or LF in data, stored as CRLF");
                }
                let reply = self
                    .deliver(&queue_id, tx, body.clone(), receiver.size)
                    .await;
                if let Body::File(p) = &body {
                    let _ = tokio::fs::remove_file(p).await;
                }
                reply
            }
        };
        if reply.code == 250 {
            self.accepted += 1;
        }
        self.reply(conn, reply);
        Ok(())
    }

    /// Reads the message text up to the end marker. Text past the size
    /// limit (or after a spool write failed) is read and dropped, so memory
    /// stays bounded and the client gets its reply in order (RFC 1870 §6.3).
    /// Err means the connection was lost.
    async fn receive<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
        queue_id: &str,
    ) -> std::io::Result<(Received, DataReceiver)> {
        let limit = self.shared.config.smtp.max_message_size;
        let mut rx = DataReceiver::new();
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut spool: Option<(PathBuf, tokio::fs::File)> = None;
        let mut spool_error: Option<std::io::Error> = None;
        let pause = Duration::from_secs(self.shared.config.smtp.data_timeout_secs);
        let started = tokio::time::Instant::now();
        let read: std::io::Result<()> = async {
            while !rx.is_done() {
                if conn.buffered().is_empty() {
                    let deadline = started + pause + Duration::from_secs(rx.size / DATA_MIN_RATE);
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "message text arriving too slowly",
                        ));
                    }
                    if conn.fill(left.min(pause)).await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                let keep = rx.size <= limit && spool_error.is_none();
                let n = rx.feed(conn.buffered(), if keep { Some(&mut buf) } else { None });
                conn.consume(n);
                if !keep || rx.size > limit {
                    buf = Vec::new();
                } else if buf.len() >= SPILL_THRESHOLD
                    && let Err(e) = self.spill(&mut spool, &buf, queue_id).await
                {
                    spool_error = Some(e);
                    buf = Vec::new();
                } else if buf.len() >= SPILL_THRESHOLD {
                    buf.clear();
                }
            }
            Ok(())
        }
        .await;
        let received = if let Err(e) = read {
            Err(e)
        } else if rx.size > limit {
            Ok(Received::TooBig)
        } else if let Some(e) = spool_error {
            Ok(Received::Failed(e))
        } else if spool.is_some() {
            match self.spill(&mut spool, &buf, queue_id).await {
                Ok(()) => Ok(Received::Body(Body::File(
                    spool.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
                ))),
                Err(e) => Ok(Received::Failed(e)),
            }
        } else {
            Ok(Received::Body(Body::Memory(Arc::new(std::mem::take(
                &mut buf,
            )))))
        };
        if !matches!(received, Ok(Received::Body(Body::File(_))))
            && let Some((p, _)) = spool.take()
        {
            let _ = tokio::fs::remove_file(p).await;
        }
        if let Ok(Received::Failed(e)) = &received {
            warn!(queue_id, error = %e, "spooling the message failed");
        }
        received.map(|r| (r, rx))
    }

    /// Appends `buf` to the spool file of a large message, creating it.
    async fn spill(
        &self,
        spool: &mut Option<(PathBuf, tokio::fs::File)>,
        buf: &[u8],
        queue_id: &str,
    ) -> std::io::Result<()> {
        if spool.is_none() {
            // Named after this server and process, so that another server
            // sharing the data folder never takes it for debris.
            let name = format!("{}.{}.{queue_id}", self.host(), std::process::id());
            let path = self.shared.store.data().spool_tmp().join(name);
            let f = tokio::fs::File::create(&path).await?;
            *spool = Some((path, f));
        }
        let (_, f) = spool.as_mut().expect("just created");
        f.write_all(buf).await?;
        f.flush().await
    }

    /// This hop's trace field (RFC 5321 §4.4) for one recipient.
    fn received(&self, queue_id: &str, rcpt: &Address, utf8: bool) -> String {
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let helo = sanitize(self.helo.as_deref().unwrap_or("unknown"));
        // The WITH protocol names of RFC 3848 and, for SMTPUTF8, RFC 6531 §3.7.3.
        let with = match (self.esmtp, self.tls, utf8) {
            (true, true, true) => "UTF8SMTPS",
            (true, false, true) => "UTF8SMTP",
            (true, true, false) => "ESMTPS",
            (true, false, false) => "ESMTP",
            (false, _, _) => "SMTP",
        };
        format!(
            "Received: from {helo} ([{ip}])\r\n\tby {host} (nmail) with {with} id {queue_id}\r\n\
             \tfor <{rcpt}>; {date}\r\n",
            ip = self.peer.ip(),
            host = self.host(),
        )
    }

    /// Splits the recipients into those who can take a message of `size`
    /// octets now and those whose mailbox it would overflow.
    async fn split_by_quota(&self, tx: &Transaction, size: u64) -> (Vec<Address>, Vec<Address>) {
        let (mut now, mut later) = (Vec::new(), Vec::new());
        for (r, q) in tx.recipients.iter().zip(&tx.quotas) {
            let over = match q {
                // The trace fields add a few hundred octets.
                Some(q) => {
                    self.shared
                        .store
                        .index()
                        .usage(&r.to_string())
                        .await
                        .unwrap_or(0)
                        + size
                        + 512
                        > *q
                }
                None => false,
            };
            if over {
                later.push(r.clone())
            } else {
                now.push(r.clone())
            }
        }
        (now, later)
    }

    /// Puts the copies for over-quota recipients in the queue, where they
    /// wait for space (or, in the end, return to the sender as a DSN).
    fn defer(
        &self,
        queue_id: &str,
        from: &str,
        later: &[Address],
        body: &Body,
        utf8: bool,
    ) -> Result<crate::queue::Queue, Reply> {
        use crate::queue::{Envelope, Queue, Recipient, State};
        let env = Envelope {
            id: queue_id.to_string(),
            created: time::OffsetDateTime::now_utc().unix_timestamp(),
            from: from.to_string(),
            recipients: later
                .iter()
                .map(|r| Recipient {
                    address: r.to_string(),
                    remote: false,
                    state: State::Pending,
                    attempts: 1,
                    next_attempt: 0,
                    last_reply: "452 4.2.2 Mailbox full".into(),
                })
                .collect(),
        };
        let q = Queue::new(self.shared.store.data());
        if let Err(e) = q.enqueue(
            &env,
            self.received(queue_id, &later[0], utf8).as_bytes(),
            body,
        ) {
            warn!(queue_id, error = %e, "cannot queue the over-quota recipients");
            return Err(if nmail_sync::fsutil::is_storage_full(&e) {
                codes::r452_storage_full()
            } else {
                codes::r451_local_error()
            });
        }
        for r in later {
            info!(queue_id, rcpt = %r, "over quota; deferred to the queue");
        }
        Ok(q)
    }

    /// True while the data folder's disk keeps `min_free_bytes` free after
    /// taking `need` more octets (RFC 1870 §6.1: refuse early what cannot
    /// be stored). An error reading the figure does not stop mail.
    fn room_for(&self, need: u64) -> bool {
        let min = self.shared.config.smtp.min_free_bytes;
        if min == 0 {
            return true;
        }
        match nmail_sync::fsutil::free_bytes(self.shared.store.data().root()) {
            Ok(free) => free >= min.saturating_add(need),
            Err(_) => true,
        }
    }

    async fn deliver(&self, queue_id: &str, tx: Transaction, body: Body, size: u64) -> Reply {
        if !self.room_for(size.saturating_mul(tx.recipients.len() as u64)) {
            warn!(
                queue_id,
                size, "disk nearly full; message refused temporarily"
            );
            return codes::r452_storage_full();
        }
        // The parser lets no control character into a path; should one
        // ever pass, it must not become a line break in Return-Path.
        let from = match &tx.from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_addr().replace(char::is_control, "?"),
        };
        let (now, later) = self.split_by_quota(&tx, size).await;
        if now.is_empty() {
            info!(
                queue_id,
                recipients = later.len(),
                "over quota for every recipient; deferred to the client"
            );
            return Reply::new(452, "4.2.2", "Mailbox full, try again later");
        }
        let queued = if later.is_empty() {
            None
        } else {
            match self.defer(queue_id, &from, &later, &body, tx.utf8) {
                Ok(q) => Some(q),
                Err(reply) => return reply,
            }
        };
        // Return-Path is added at final delivery (RFC 5321 §4.4).
        let prefixes = now
            .iter()
            .map(|r| {
                format!(
                    "Return-Path: <{from}>\r\nDelivered-To: {r}\r\n{}",
                    self.received(queue_id, r, tx.utf8)
                )
                .into_bytes()
            })
            .collect();
        let result = self.shared.store.deliver(&now, prefixes, body).await;
        if result.is_err()
            && let Some(q) = &queued
        {
            // All or nothing: the client will send it again.
            let _ = q.remove(queue_id);
        }
        match result {
            Ok(files) => {
                let rcpts: Vec<String> = now.iter().map(|a| a.to_string()).collect();
                info!(queue_id, size, from = %from, recipients = %rcpts.join(","),
                      files = files.len(), deferred = later.len(), "message accepted");
                Reply::new(250, "2.0.0", format!("Ok: queued as {queue_id}"))
            }
            Err(e) if e.is_storage_full() => {
                warn!(queue_id, error = %e, "disk full; message refused temporarily");
                codes::r452_storage_full()
            }
            Err(e) => {
                warn!(queue_id, error = %e, "delivery failed; message refused temporarily");
                codes::r451_local_error()
            }
        }
    }
}

/// What the DATA phase produced.
enum Received {
    Body(Body),
    TooBig,
    Failed(std::io::Error),
}

enum Resolved {
    Local(Address, Option<u64>),
    Unknown,
    Disabled,
    Remote,
}

/// The local-part with RFC 5321 quoting removed: `"bob"` and `bob` name
/// the same mailbox (§4.1.2). A quoted local-part that still holds specials
/// afterwards cannot be a hosted account and will not match one.
fn unquote(local: &str) -> String {
    match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut esc = false;
            for c in inner.chars() {
                if esc || c != '\\' {
                    out.push(c);
                    esc = false;
                } else {
                    esc = true;
                }
            }
            // Kept distinguishable from any account name.
            if LocalPart::parse(&out).is_ok() {
                out
            } else {
                local.to_string()
            }
        }
        None => local.to_string(),
    }
}

/// Text from the client made safe for a header field or reply.
fn sanitize(s: &str) -> String {
    s.chars()
        .take(255)
        .map(|c| {
            if c.is_ascii_graphic() && !"();\\".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The command line for the log: an AUTH line shows only its mechanism
/// (an initial response is a password).
fn redact(line: &[u8]) -> &[u8] {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"AUTH") {
        let end = line
            .iter()
            .enumerate()
            .skip(5)
            .find(|(_, b)| **b == b' ')
            .map_or(line.len(), |(i, _)| i);
        &line[..end]
    } else {
        line
    }
}

/// A browser or proxy talking HTTP to the SMTP port (cross-protocol
/// attacks); the session is ended without a reply.
fn is_http(line: &[u8]) -> bool {
    [&b"GET "[..], b"POST ", b"HEAD ", b"PUT ", b"CONNECT "]
        .iter()
        .any(|p| line.len() >= p.len() && line[..p.len()].eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"bob\""), "bob");
        assert_eq!(unquote("\"b\\ob\""), "bob");
        assert_eq!(
            unquote("\"relaytest%x.example\""),
            "\"relaytest%x.example\""
        );
        assert_eq!(unquote("bob"), "bob");
    }
}
