//! Delivery status notifications (RFC 3464) that nmail sends when it gives
//! up on a recipient: a multipart/report with a human part in Korean and
//! English, the machine-readable message/delivery-status part (RFC 3464
//! §2), and the returned message's header (text/rfc822-headers, RFC 6522).

use tracing::info;

use nmail_sync::store::Body;

use crate::queue::{Envelope, Queue, Recipient, State};
use crate::server::{Shared, next_id};

fn rfc2822(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// The header section of a message (up to the first empty line).
fn header_of(msg: &[u8]) -> &[u8] {
    match msg.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &msg[..i + 2],
        None => msg,
    }
}

/// Builds the DSN for `failed` recipients of `env`, whose message was
/// `original`.
pub fn build(
    host: &str,
    env: &Envelope,
    failed: &[Recipient],
    original: &[u8],
) -> (String, Vec<u8>) {
    let id = next_id().to_ascii_uppercase();
    let boundary = format!("=_nmail_dsn_{id}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let list: String = failed
        .iter()
        .map(|r| format!("  <{}>: {}\r\n", r.address, r.last_reply))
        .collect();
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", env.from));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {}\r\n", rfc2822(now)));
    m.push_str(&format!("Message-ID: <dsn.{id}@{host}>\r\n"));
    // RFC 3834 §5: mark it automatic, so vacation responders stay quiet.
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!("Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"{boundary}\"\r\n\r\n"));
    m.push_str(&format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"));
    m.push_str(&format!(
        "{host} 메일 서버가 보낸 반송 안내입니다.\r\n\
         보내신 메일을 다음 받는 사람에게 전달하지 못했습니다.\r\n\r\n\
         This is the mail system at {host}.\r\n\
         Your message could not be delivered to the following recipients:\r\n\r\n{list}\r\n"
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!(
        "Reporting-MTA: dns; {host}\r\nX-Queue-ID: {}\r\nArrival-Date: {}\r\n",
        env.id,
        rfc2822(env.created)
    ));
    for r in failed {
        let status = r
            .last_reply
            .split_whitespace()
            .nth(1)
            .filter(|s| s.contains('.'))
            .unwrap_or("5.0.0");
        // A temporary condition that outlived the retry period is a
        // permanent failure now (RFC 3463 §3.1: the class becomes 5).
        let status = format!("5{}", status.get(1..).unwrap_or(".0.0"));
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {}\r\nLast-Attempt-Date: {}\r\n",
            r.address,
            r.last_reply,
            rfc2822(now)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut out = m.into_bytes();
    out.extend_from_slice(header_of(original));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (id, out)
}

/// Puts the DSN for `failed` into the queue, addressed to the sender.
pub async fn enqueue(
    shared: &Shared,
    queue: &Queue,
    env: &Envelope,
    failed: &[Recipient],
    original: &[u8],
) -> std::io::Result<()> {
    let host = &shared.config.server.hostname;
    let (id, msg) = build(host, env, failed, original);
    let sender_domain = env
        .from
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let local = shared
        .store
        .index()
        .has_domain(&sender_domain)
        .await
        .unwrap_or(false);
    let dsn = Envelope {
        id: id.clone(),
        created: time::OffsetDateTime::now_utc().unix_timestamp(),
        from: String::new(),
        recipients: vec![Recipient {
            address: env.from.clone(),
            remote: !local,
            state: State::Pending,
            attempts: 0,
            next_attempt: 0,
            last_reply: String::new(),
        }],
    };
    let head = format!(
        "Received: by {host} (nmail) id {id}; {}\r\n",
        rfc2822(dsn.created)
    );
    queue.enqueue(
        &dsn,
        head.as_bytes(),
        &Body::Memory(std::sync::Arc::new(msg)),
    )?;
    info!(queue_id = %env.id, dsn = %id, to = %env.from, "DSN queued");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_shape() {
        let env = Envelope {
            id: "Q1".into(),
            created: 1_700_000_000,
            from: "alice@example.org".into(),
            recipients: vec![],
        };
        let failed = vec![Recipient {
            address: "bob@example.com".into(),
            remote: false,
            state: State::Failed,
            attempts: 5,
            next_attempt: 0,
            last_reply: "452 4.2.2 Mailbox full".into(),
        }];
        let (_, m) = build(
            "mx.example.com",
            &env,
            &failed,
            b"Subject: hi\r\nFrom: alice@example.org\r\n\r\nbody\r\n",
        );
        let t = String::from_utf8(m).unwrap();
        assert!(t.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(t.contains(
            "Final-Recipient: rfc822; bob@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        ));
        assert!(t.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nFrom: alice@example.org\r\n\r\n--"));
        assert!(!t.contains("\r\nbody\r\n"), "only the header is returned");
        let parsed = mail_parser_check(&t);
        assert!(parsed);
    }

    fn mail_parser_check(t: &str) -> bool {
        // The message must at least have well-formed CRLF lines.
        t.split("\r\n")
            .all(|l| !l.contains('\n') && !l.contains('\r'))
    }
}
