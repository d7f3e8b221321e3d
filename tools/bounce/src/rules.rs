//! The reason rules, as data.
//!
//! Three tables decide a reason; `classify` applies them in this order:
//!
//! 1. [`STRONG_STATUS`]: enhanced codes whose meaning no wording overrides
//!    (RFC 3463 §3, RFC 7372, RFC 7505).
//! 2. [`TEXT_RULES`]: wording of the diagnostic, one row per reason, tried
//!    top to bottom; the first row with a matching pattern wins. Patterns use
//!    the syntax of [`crate::pattern`]: lower case, `*` = any text between.
//! 3. [`WEAK_STATUS`]: what the enhanced code means when the text said
//!    nothing we know.
//!
//! Rules describe what servers say, not which file said it: every pattern
//! should be a phrase some MTA or provider uses for that failure.
//! Korean rows cover the wording of Korean webmail services (Naver,
//! Daum/Kakao, Nate) and Korean-localised servers.

use crate::Reason::{self, *};

/// A reason and the phrases that mean it.
pub struct TextRule {
    /// The reason these phrases mean.
    pub reason: Reason,
    /// Folded phrases; any one matching is enough.
    pub patterns: &'static [&'static str],
}

/// `(class, subject, detail)` with `None` as "any class"; see
/// [`crate::codes::StatusCode`].
pub type Code = (Option<u8>, u16, u16);

/// Codes that decide the reason on their own.
pub static STRONG_STATUS: &[(Code, Reason)] = &[
    // RFC 3463 §3.3: X.2.2 mailbox full; X.2.3 message length exceeds an
    // administrative limit (a per-recipient limit, not the server's).
    ((None, 2, 2), MailboxFull),
    ((None, 2, 3), ExceedLimit),
    // RFC 3463 §3.4: X.3.4 message too big for system.
    ((None, 3, 4), MesgTooBig),
    // RFC 3463 §3.2: X.1.6 destination mailbox has moved, no forwarding.
    ((None, 1, 6), HasMoved),
    // RFC 7372 §3.3: X.7.25 reverse DNS validation failed; X.7.26 multiple
    // authentication checks failed.
    ((None, 7, 25), RequirePtr),
    ((None, 7, 26), AuthFailure),
    // RFC 7505 §4.2 / RFC 7372: X.7.27 sender address has null MX.
    ((None, 7, 27), NotAccept),
    // RFC 3463 §3.8 (as updated by RFC 7372): X.7.13 user account disabled.
    ((None, 7, 13), Suspend),
    // Microsoft 365: 5.7.509 sending domain fails DMARC with p=reject.
    ((Some(5), 7, 509), AuthFailure),
    // RFC 3463 §3.2: X.1.7 bad sender mailbox syntax, X.1.8 bad sender
    // system address: the refusal is about the sender.
    ((None, 1, 7), Rejected),
    ((None, 1, 8), Rejected),
];

/// Phrases that prove the mailbox does not exist whatever SMTP command
/// drew them (Yahoo answers unknown users only after DATA).
pub static DEFINITE_USER_UNKNOWN: &[&str] = &[
    "user doesn't have a * account",
    "the email account that you tried to reach does not exist",
];

/// Cloudmark-hosted providers (Cox, Spectrum/Charter) tag refusals with
/// `AUP#CODE`; their published code lists say what each means. Codes are
/// matched by prefix.
pub static AUP_CODES: &[(&str, Reason)] = &[
    ("cxbl", Blocked),
    ("cdrbl", Blocked),
    ("cxdns", Blocked),
    ("ipbl", Blocked),
    ("urlbl", SpamDetected),
    ("cxsndr", Rejected),
    ("cxsmtp", Rejected),
    ("cxcnct", TooManyConn),
    ("cxmxrt", TooManyConn),
    ("cxthrt", SecurityError),
    ("cxmj", SecurityError),
];

/// Spectrum's numeric `AUP#In-NNNN` / `AUP#Out-NNNN` codes, as inclusive
/// ranges.
pub static AUP_RANGES: &[(u16, u16, Reason)] = &[
    (1000, 1000, Blocked),
    (1010, 1080, Rejected),
    (1090, 1090, SystemError),
    (1100, 1150, Blocked),
    (1160, 1190, PolicyViolation),
    (1200, 1250, Blocked),
    (1260, 1260, NetworkError),
    (1300, 1490, TooManyConn),
    (1500, 1520, Rejected),
    (1530, 1530, MesgTooBig),
    (1540, 1550, TooManyConn),
    (1560, 1560, PolicyViolation),
];

/// Recipient domains whose services refuse for one reason only.
pub static DOMAIN_RULES: &[(&str, Reason)] = &[
    // Google Groups answers every refused post with the same notice, in the
    // poster's language: the group is missing or does not let them post.
    ("googlegroups.com", Rejected),
];

/// What an enhanced code means when the text names nothing better.
pub static WEAK_STATUS: &[(Code, Reason)] = &[
    // RFC 3463 §3.2, addressing status.
    ((None, 1, 1), UserUnknown),
    ((None, 1, 2), HostUnknown),
    ((None, 1, 3), UserUnknown),
    ((None, 1, 4), UserUnknown),
    ((None, 1, 7), Rejected),
    ((None, 1, 8), Rejected),
    // RFC 7505 §4.1: X.1.10 recipient address has null MX.
    ((None, 1, 10), NotAccept),
    // §3.3 mailbox status.
    ((None, 2, 1), Suspend),
    ((None, 2, 4), SystemError),
    // §3.4 mail system status.
    ((None, 3, 0), SystemError),
    ((None, 3, 1), SystemFull),
    ((None, 3, 2), NotAccept),
    ((None, 3, 3), SystemError),
    ((None, 3, 5), SystemError),
    // §3.5 network and routing status.
    ((None, 4, 0), NetworkError),
    ((None, 4, 1), NetworkError),
    ((None, 4, 2), NetworkError),
    ((None, 4, 3), SystemError),
    ((None, 4, 4), HostUnknown),
    ((None, 4, 5), NetworkError),
    ((None, 4, 6), NetworkError),
    ((None, 4, 7), Expired),
    // §3.6 mail delivery protocol status.
    ((None, 5, 1), SyntaxError),
    ((None, 5, 2), SyntaxError),
    ((None, 5, 3), TooManyConn),
    ((None, 5, 4), SyntaxError),
    ((None, 5, 5), SyntaxError),
    // §3.7 message content or media status.
    ((None, 6, 0), ContentError),
    ((None, 6, 1), ContentError),
    ((None, 6, 2), ContentError),
    ((None, 6, 3), ContentError),
    ((None, 6, 4), ContentError),
    ((None, 6, 5), ContentError),
    // §3.8 security or policy status; RFC 7372 adds X.7.14-X.7.26.
    ((None, 7, 0), SecurityError),
    ((None, 7, 1), SecurityError),
    ((None, 7, 2), SecurityError),
    ((None, 7, 3), SecurityError),
    ((None, 7, 4), SecurityError),
    ((None, 7, 5), SecurityError),
    ((None, 7, 6), SecurityError),
    ((None, 7, 7), SecurityError),
    ((None, 7, 8), SecurityError),
    ((None, 7, 9), SecurityError),
    ((None, 7, 10), FailedStartTls),
    ((None, 7, 11), FailedStartTls),
    ((None, 7, 12), SecurityError),
    ((None, 7, 14), SecurityError),
    ((None, 7, 15), SecurityError),
    ((None, 7, 16), MesgTooBig),
    ((None, 7, 17), HasMoved),
    ((None, 7, 18), HasMoved),
    ((None, 7, 20), AuthFailure),
    ((None, 7, 21), AuthFailure),
    ((None, 7, 22), AuthFailure),
    ((None, 7, 23), AuthFailure),
    ((None, 7, 24), AuthFailure),
    ((None, 7, 28), Speeding),
    ((None, 7, 29), AuthFailure),
    // RFC 8689 §5: REQUIRETLS could not be honoured.
    ((None, 7, 30), FailedStartTls),
    // Microsoft 365 block-list codes 5.7.606-5.7.649: banned sending IP.
    ((Some(5), 7, 606), Blocked),
    ((Some(5), 7, 511), Blocked),
    ((Some(5), 7, 510), SecurityError),
    ((Some(5), 1, 351), UserUnknown),
];

/// Diagnostic wording per reason, in the order tried.
pub static TEXT_RULES: &[TextRule] = &[
    // KDDI (au, ezweb) refuses mail stopped by the recipient's own filter
    // settings with a bare ": User unknown", no address: a filter, not a
    // missing mailbox (which it answers with the address).
    TextRule {
        reason: Filtered,
        patterns: &[
            "^: user unknown", "-> : user unknown",
        ],
    },
    // Relay refusals that ask for SMTP AUTH are about authentication.
    TextRule {
        reason: SecurityError,
        patterns: &[
             "smtp authentication", "without authentication", "authentication is required for relay",
        ],
    },
    TextRule {
        reason: MailboxFull,
        patterns: &[
            "mailbox full", "mailbox is full", "mailbox * is full", "mailbox has exceeded",
            "mailbox exceeds", "mailbox size limit exceeded", "mailbox quota", "over quota",
            "overquota", "quota exceeded", "quota exceed", "exceeded storage allocation",
            "exceeds allowed size", "user's mailbox is full", "mailbox is over", "mail box full",
            "disk quota", "maildir over", "mailfolder is full", "too much mail data",
            "recipient's mailbox is full", "the user's mailbox is over", "insufficient disk space * mailbox",
            "not enough disk space", "account is full", "full mailbox", "mailbox not enough space",
            "inbox is full", "user is over", "exceeded its storage", "storage limit", "quotaexceeded",
            "would exceed", "delivery failed: over quota", "box is full", "is over its quota",
            "no space left in mailbox", "mailbox limit", "as their mailbox is full",
            "mailbox exceeded", "message would exceed quota", "exceed the quota",
            "메일함 용량", "메일함이 가득", "사서함이 가득", "사서함 용량", "용량 초과", "용량을 초과",
            "용량이 초과", "편지함 용량", "편지함이 가득", "메일함이 꽉",
        ],
    },
    TextRule {
        reason: MesgTooBig,
        patterns: &[
            "message too big", "message too large", "message is too large", "message is too big",
            "message size exceeds", "size exceeds", "exceeds the maximum message size",
            "exceeds maximum message size", "message length exceeds", "mail size limit",
            "message size limit", "exceeded the size limit", "larger than the maximum",
            "message exceeds the size", "too large for", "size limit exceeded", "message file too big",
            "message is larger than", "exceeds size limit", "maximum allowed size",
            "메일 크기", "메일의 크기", "허용 크기를 초과", "첨부 파일 용량", "메일 용량이 너무",
            "line limit exceeded",
        ],
    },
    TextRule {
        reason: ExceedLimit,
        patterns: &[
            "message header size exceeds", "header too long", "too many headers",
            "exceeds the recipient's limit", "recipsizelimit", "header size exceeds",
            "recipient limit exceeded",
        ],
    },
    TextRule {
        reason: Suspend,
        patterns: &[
            "account disabled", "account is disabled", "account has been disabled",
            "account is inactive", "account inactive", "is inactive", "account suspended",
            "account has been suspended", "account is suspended", "mailbox disabled",
            "mailbox is disabled", "mailbox unavailable due to", "account is locked",
            "account has been locked", "account locked", "disabled recipient", "recipient disabled",
            "user account disabled", "email account that you tried to reach is disabled",
            "is disabled", "has been disabled", "user suspended", "mailbox suspended", "recipient account is blocked",
            "account is blocked", "le compte du destinataire est bloque", "account expired",
            "account has expired", "account temporarily unavailable", "account closed",
            "inactive user", "mailbox inactive", "user is terminated", "this account has been",
            "the user(s) account is disabled", "deactivated", "account frozen",
            "휴면", "사용 중지", "정지된 계정", "계정이 정지", "계정이 잠", "이용이 정지",
            "이용 정지", "비활성화된 계정", "사용이 중지",
        ],
    },
    TextRule {
        reason: HasMoved,
        patterns: &[
            "has moved", "mailbox has moved", "address has moved", "no longer valid",
            "not our customer", "user has moved", "moved to a new address", "changed his email",
            "address changed",
        ],
    },
    TextRule {
        reason: NoRelaying,
        patterns: &[
            "relay access denied", "relaying denied", "relay denied", "relay not permitted",
            "no relaying", "relaying not allowed", "not allowed to relay", "unable to relay",
            "relay not allowed", "we do not relay", "insecure mail relay", "relaying mail to",
            "not permitted to relay", "relay prohibited", "cannot relay", "mail relay not",
            "relaying is prohibited", "does not relay", "rcpt-to validation failed",
            "not a gateway", "this system is not configured to relay", "relay attempt",
            "relay는 허용되지", "릴레이", "identities failed the check",
        ],
    },
    TextRule {
        reason: RequirePtr,
        patterns: &[
            "ptr record", "reverse dns", "reverse lookup", "reverse-dns", "rdns",
            "ip name lookup failed", "no ptr", "bad dns ptr", "cannot find your hostname",
            "can't find your hostname", "cannot resolve your hostname", "client host name",
            "hostname does not resolve", "no reverse", "reverse hostname",
            "fcrdns", "your hostname", "dns ptr", "reverse name", "host name lookup failed",
            "lookup of your ip", "not resolve to your address", "역방향",
            "unverifyable sending ip", "unverifiable sending ip", "mismatches client ip", "without a valid sender domain. fix reverse",
        ],
    },
    TextRule {
        reason: UserUnknown,
        patterns: &[
            "user unknown", "unknown user", "unknown recipient", "recipient unknown",
            "no such user", "no such mailbox", "no such recipient", "no such account",
            "no such address", "user not found", "recipient not found", "recipnotfound",
            "recipientnotfound", "address not found", "address couldn't be found",
            "mailbox not found", "mailbox unavailable", "mailbox does not exist",
            "does not exist", "doesn't exist", "not exist", "invalid recipient",
            "invalid mailbox", "invalid address", "invalid user", "unknown address",
            "unknown local part", "unknown mailbox", "user doesn't have a", "user does not have a",
            "no mailbox", "not a valid mailbox", "is not a valid", "recipient address rejected: user",
            "recipient rejected", "addressee unknown", "bad destination mailbox",
            "user not listed", "name is not recognized", "recipient name is not recognized",
            "not listed in", "no account by that name", "unrouteable address",
            "unknown or illegal alias", "mailbox name not allowed", "no valid recipients",
            "invalid final delivery userid", "user invalid", "unknown email address",
            "user is unknown", "no such person", "not a known user", "no user",
            "account does not exist", "address does not exist", "recipient does not exist",
            "the email account that you tried to reach does not exist", "destination mailbox",
            "is not a registered", "undeliverable address", "not our user", "no longer available",
            "user name of email", "unknown or invalid", "mailbox is unavailable", "and other recipients in the same domain",
            "requested action not taken: mailbox unavailable", "user doesn't exist",
            "cannot be found", "not found in", "user not exist", "unknown alias",
            "존재하지 않는 사용자", "존재하지 않는 메일", "존재하지 않는 주소", "존재하지 않는 계정",
            "존재하지 않는 아이디", "받는 사람이 존재하지", "수신자가 존재하지", "없는 사용자",
            "없는 메일 주소", "없는 주소", "없는 아이디", "사용자를 찾을 수 없", "계정이 존재하지",
            "주소를 찾을 수 없", "수신자를 찾을 수 없", "등록되지 않은",
            "recipient address rejected: access denied",
        ],
    },
    TextRule {
        reason: NotCompliantRfc,
        patterns: &[
            "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822", "rfc822 compliant",
            "not rfc", "multiple addresses in from", "multiple subject", "multiple from",
            "duplicate header", "malformed header", "bare lf", "bare linefeed", "invalid header",
            "header is invalid", "missing required header", "not compliant",
        ],
    },
    TextRule {
        reason: BadReputation,
        patterns: &[
            "reputation", "poor reputation", "sender score", "ip reputation",
            "our system has detected that this message is suspicious",
            "unusual rate of unsolicited", "temporarily deferred due to unexpected volume",
            "likely unsolicited mail", "senderscore",
        ],
    },
    TextRule {
        reason: Filtered,
        patterns: &[
            "message filtered", "rejected by the recipient's filter", "message rejected due to user rules",
            "refused due to recipient preferences", "is not accepting any mail", "you have been blocked by the recipient",
            "recipient is only accepting mail from", "user reject", "restricted sms", "notauthorized",
            "수신 거부", "수신거부", "수신을 거부"
        ],
    },
    TextRule {
        reason: VirusDetected,
        patterns: &[
            "virus", "malware", "infected", "trojan", "worm detected", "mcspamsignature",
            "security policies", "바이러스", "악성 코드", "악성코드",
        ],
    },
    TextRule {
        reason: SpamDetected,
        patterns: &[
            "spam content", "message content rejected", "content rejected", "classified as spam",
            "considered spam", "considered as spam", "detected as spam", "looks like spam",
            "identified as spam", "marked as spam", "spam message", "message is spam",
            "spam detected", "spam score", "spamassassin", "blacklisted url", "junk mail",
            "likely spam", "appears to be spam", "spam filter", "our spam", "as spam",
            "unsolicited", "content filter", "bulk mail", "spam & virus", "mail rejete",
            "mail rejected. ofr", "rejected as spam", "spamhaus dbl", "uribl", "surbl",
            "message has been blocked", "spam-like", "high probability of being spam",
            "스팸으로", "스팸 메일", "스팸메일", "스팸 필터",
            "spam classification",
        ],
    },
    TextRule {
        reason: AuthFailure,
        patterns: &[
            "dmarc", "spf", "dkim", "sender policy framework", "unauthenticated email",
            "sender is unauthenticated", "authentication checks", "not authenticated",
            "email rejected per", "failed authentication", "authentication failure",
            "not pass authentication", "sender id", "domainkeys", "arc validation",
            "발신 도메인 인증",
        ],
    },
    TextRule {
        reason: Rejected,
        patterns: &[
            "sender rejected", "sender address rejected", "sender denied", "sender refused",
            "sender is not allowed", "sender not allowed", "domain of sender address",
            "sender domain", "sender verify failed", "sender verification", "invalid sender",
            "unknown sender", "bad sender", "sender blocked", "sender blacklisted",
            "address that has been blacklisted", "your address has been blacklisted",
            "mail from * rejected", "envelope sender", "return path", "return-path",
            "not a member of this", "permission to post", "you are not allowed to post",
            "not allowed to post", "can't determine purported responsible address",
            "purported responsible address", "sender address has been blocked",
            "from address", "sender is blocked", "message rejected due to sender",
            "발신자 주소", "보낸 사람 주소가", "발송자 주소",
            "provide a valid from", "domain of sender", "sender address does not exist",
        ],
    },
    // Older Postfix reports a null MX (RFC 7505) as a malformed DNS reply.
    TextRule {
        reason: NotAccept,
        patterns: &[
            "malformed or unexpected name server reply",
        ],
    },
    TextRule {
        reason: HostUnknown,
        patterns: &[
            "host unknown", "unknown host", "host not found", "domain not found",
            "domain does not exist", "no such domain", "unrouteable mail domain",
            "name service error", "host or domain name not found", "invalid domain",
            "domain couldn't be found", "domain name not found", "unknown domain",
            "domain is not valid", "no mail server for", "bad destination system",
            "domain not exist", "could not resolve", "dns lookup failure", "name or service not known",
            "unresolvable", "email routing issue", "no route for", "domain unknown",
            "도메인을 찾을 수 없", "존재하지 않는 도메인", "호스트를 찾을 수 없", "도메인이 존재하지",
            "domain is not reachable",
        ],
    },
    TextRule {
        reason: TooManyConn,
        patterns: &[
            "too many connections", "too many simultaneous", "too many concurrent",
            "connection limit", "too many sessions", "too many recipients",
            "too many smtp sessions", "max connections", "maximum number of connections",
            "동시 접속",
            "connection rate",
        ],
    },
    TextRule {
        reason: Speeding,
        patterns: &[
            "receiving mail at a rate", "rate limit", "rate-limit", "ratelimit",
            "sending rate", "too many messages", "too fast", "throttl", "slow down",
            "exceeded the rate", "too much mail", "mail flood", "message rate",
            "발송량", "발송 한도", "전송 한도",
        ],
    },
    TextRule {
        reason: Blocked,
        patterns: &[
            "blocked using", "blacklisted", "blocklisted", "block list", "blocklist",
            "blacklist", "dnsbl", "rbl", "spamhaus", "spamcop", "sorbs", "barracudacentral",
            "listed at", "is listed", "listed on", "client host blocked", "client host rejected",
            "ip blocked", "ip address blocked", "host blocked", "banned sending ip",
            "access denied, banned", "not allowed to connect", "connection refused",
            "connection rejected", "refused to talk", "invalid ip",
            "service unavailable; client host", "client [", "connections not accepted from",
            "not accepting connections", "bloquee", "has been blocked", "has blocked",
            "is blocked", "blocked by", "dynamic ip", "dialup", "dial-up", "residential",
            "block the ip", "not welcome", "is an open relay", "messages from * weren't sent", "rejected by policy for ip", "poor ip",
            "차단된 ip", "ip가 차단", "ip 차단", "아이피가 차단", "수신 차단된 ip",
        ],
    },
    TextRule {
        reason: FailedStartTls,
        patterns: &[
            "starttls", "tls is required", "tls required", "requires tls", "must issue a starttls",
            "encryption required", "tls negotiation failed", "tls handshake", "secure connection required",
            "does not support tls", "support starttls", "tls not available",
        ],
    },
    TextRule {
        reason: SecurityError,
        patterns: &[
            "authentication required", "auth required", "must authenticate",
            "unauthenticated sender", "unauthenticated senders", "authentication is required",
            "not authorized", "unauthorized", "insecure", "security",
            "sender not authenticated", "submission requires authentication",
            
        ],
    },
    TextRule {
        reason: ContentError,
        patterns: &[
            "improper use of 8-bit", "8-bit data", "8bit data", "media error",
            "content error", "invalid content", "content type", "unsupported media",
            "message content", "invalid mime", "mime error", "character set",
        ],
    },
    TextRule {
        reason: PolicyViolation,
        patterns: &[
            "policy reasons", "policy violation", "violates", "violation", "local policy",
            "not accepted for policy", "message not allowed", "header error", "prohibited",
            "protocol violation", "policy", "not allowed by", "content policy", "host network not allowed",
            "정책", "보안 정책",
        ],
    },
    TextRule {
        reason: NotAccept,
        patterns: &[
            "does not accept mail", "not accepting mail", "accepts no mail", "null mx",
            "no smtp service", "mail is not accepted", "couldn't find a mail exchanger",
            "no mx", "not accepting network messages", "system not accepting",
            "host does not accept", "domain does not accept",
        ],
    },
    TextRule {
        reason: SyntaxError,
        patterns: &[
            "syntax error", "command unrecognized", "unrecognized command", "bad sequence",
            "command parameter", "parameter not implemented", "malformed address",
            "invalid command", "line too long", "command not implemented",
            "may not follow",
        ],
    },
    TextRule {
        reason: SystemFull,
        patterns: &[
            "insufficient system storage", "insufficient disk space", "disk full",
            "no space left on device", "out of disk", "file system full", "system storage",
            "queue full", "디스크 공간",
        ],
    },
    TextRule {
        reason: MailerError,
        patterns: &[
            "pipe to", "procmail", "mailer error", "x-unix", "command died", "exited with",
            "child status", "operating system error", "delivery program", "unknown mailer error",
            "exit status", "program failed", "mail delivery agent",
        ],
    },
    // A time-out after the retries is the queue giving up, even when the
    // notice also says it could not connect.
    TextRule {
        reason: Expired,
        patterns: &[
            "timed out", "time out", "timeout",
        ],
    },
    TextRule {
        reason: NetworkError,
        patterns: &[
            "no route to host", "network is unreachable", "wasn't able to establish an smtp connection", "network unreachable",
            "host unreachable", "connection reset", "lost connection", "routing loop",
            "mail loop", "loop detected", "loops back to myself", "too many hops",
            "hop count exceeded", "maximum hop count", "name server", "host name lookup failure",
            "dns error", "dns failure", "temporary lookup failure", "network error",
            "unable to connect", "could not connect", "connection dropped", "broken pipe",
            "네트워크", "연결할 수 없", "연결 실패", "연결이 끊",
        ],
    },
    TextRule {
        reason: SystemError,
        patterns: &[
            "system error", "internal error", "internal server error", "server error",
            "local error", "configuration error", "misconfigured",
            "service refuse", "try again later", "could not load", "unable to contact ldap",
            "insufficient permission", "temporarily unavailable", "service unavailable",
            "resources temporarily", "duplicated message-id", "system problem",
            "mail system problem", "processing error", "server failure", "시스템 오류", "서버 오류",
            "service currently unavailable",
        ],
    },
    TextRule {
        reason: Expired,
        patterns: &[
            "delivery time expired", "message expired", "queue.expired", "expired",
            "retry timeout exceeded", "retry time", "too long in the queue",
            "been in the queue too long", "could not be delivered for", "giving up",
            "given up", "delivery attempts will continue", "will be retried",
            "has been delayed", "not been delivered for", "unable to deliver this message after",
            "delivery failed * attempts", "maximum time", "timed out", "time out",
            "시간이 초과", "시간 초과", "기간이 만료", "보관 기간",
            "did not accept our requests to connect", "delivery expired",
        ],
    },
    TextRule {
        reason: Suppressed,
        patterns: &[
            "suppression list", "suppressed", "on the suppression", "address is suppressed",
            "previously bounced", "has previously",
        ],
    },
    // KDDI's notice when the recipient's domain filter refused the mail,
    // and nothing more specific follows.
    TextRule {
        reason: Filtered,
        patterns: &[
            "each of the following recipients was rejected by a remote mail server",
        ],
    },
    // Postfix's generic refusal of a recipient, when nothing above
    // said more.
    TextRule {
        reason: UserUnknown,
        patterns: &[
            "recipient address rejected", "rejected recipient", "recipient rejected",
            // MessageLabs: "542 <address> Rejected".
            "^<rcpt> rejected"
        ],
    },
];
