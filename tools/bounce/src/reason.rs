//! The reason taxonomy: one label per failed recipient.
//!
//! The names are the ones bounce-processing tools already share (see the
//! corpus README), so that results can be compared across tools. The set is
//! closed: [`Reason::ALL`] lists every label, and [`Reason::from_str`]
//! accepts exactly the strings [`Reason::as_str`] returns.

use std::fmt;
use std::str::FromStr;

/// Why a message could not be delivered to one recipient.
///
/// `Delivered`, `Feedback` and `Vacation` are not failures: they label
/// success notices, ARF complaints and auto-replies that a caller may meet
/// in the same mailbox as bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The mailbox (local part) does not exist at the destination.
    UserUnknown,
    /// The recipient is over quota.
    MailboxFull,
    /// The recipient's domain does not resolve or has no mail host.
    HostUnknown,
    /// The server refused to relay for the recipient's domain.
    NoRelaying,
    /// The sending IP address or host name was refused.
    Blocked,
    /// Refused because of the sender's IP or domain reputation.
    BadReputation,
    /// Refused because the sending IP has no valid reverse DNS name.
    RequirePtr,
    /// SPF, DKIM or DMARC checks failed for the sender's domain.
    AuthFailure,
    /// The content was classed as spam.
    SpamDetected,
    /// Malware was found in the message.
    VirusDetected,
    /// Refused by a recipient-side filter after the envelope was accepted.
    Filtered,
    /// The envelope sender (MAIL FROM) or its domain was refused.
    Rejected,
    /// The receiving site's local policy forbids this message.
    PolicyViolation,
    /// A security requirement (SMTP AUTH, TLS, relay rules) was not met.
    SecurityError,
    /// TLS was required but STARTTLS could not be negotiated.
    FailedStartTls,
    /// The message is larger than the receiver accepts.
    MesgTooBig,
    /// The message exceeded some other limit (header size, recipients).
    ExceedLimit,
    /// Rate limit hit: too many messages or too fast.
    Speeding,
    /// Too many simultaneous connections to the remote host.
    TooManyConn,
    /// The recipient account is disabled, suspended or inactive.
    Suspend,
    /// The recipient moved and mail is not forwarded.
    HasMoved,
    /// The destination accepts no mail at all (null MX and similar).
    NotAccept,
    /// Delivery kept failing until the retry period ran out.
    Expired,
    /// DNS, routing or connection failure, including mail loops.
    NetworkError,
    /// The remote server reported an internal error or misconfiguration.
    SystemError,
    /// The remote server ran out of disk space.
    SystemFull,
    /// A local delivery program (pipe, procmail) exited with an error.
    MailerError,
    /// The remote side rejected an SMTP command as malformed.
    SyntaxError,
    /// The header or body format was unacceptable to the receiver.
    ContentError,
    /// The message breaks RFC 5322 or related format rules.
    NotCompliantRfc,
    /// The sending service skipped the address (suppression list).
    Suppressed,
    /// A success notice: nothing failed.
    Delivered,
    /// An ARF (RFC 5965) complaint report, not a bounce.
    Feedback,
    /// An automatic reply (RFC 3834, out of office), not a bounce.
    Vacation,
    /// Nothing in the message said why delivery failed.
    Undefined,
}

/// The error [`Reason::from_str`] returns for a name outside the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bounce reason name {0:?}")]
pub struct UnknownReason(pub String);

macro_rules! names {
    ($($v:ident => $s:literal),* $(,)?) => {
        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$v),*];

            /// The shared lower-case label, e.g. `"userunknown"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$v => $s),* }
            }
        }

        impl FromStr for Reason {
            type Err = UnknownReason;

            /// Parses a label case-insensitively (`"UserUnknown"` works).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let l = s.trim().to_ascii_lowercase();
                match l.as_str() {
                    $($s => Ok(Reason::$v),)*
                    _ => Err(UnknownReason(s.to_string())),
                }
            }
        }
    };
}

names! {
    UserUnknown => "userunknown", MailboxFull => "mailboxfull",
    HostUnknown => "hostunknown", NoRelaying => "norelaying",
    Blocked => "blocked", BadReputation => "badreputation",
    RequirePtr => "requireptr", AuthFailure => "authfailure",
    SpamDetected => "spamdetected", VirusDetected => "virusdetected",
    Filtered => "filtered", Rejected => "rejected",
    PolicyViolation => "policyviolation", SecurityError => "securityerror",
    FailedStartTls => "failedstarttls", MesgTooBig => "mesgtoobig",
    ExceedLimit => "exceedlimit", Speeding => "speeding",
    TooManyConn => "toomanyconn", Suspend => "suspend",
    HasMoved => "hasmoved", NotAccept => "notaccept",
    Expired => "expired", NetworkError => "networkerror",
    SystemError => "systemerror", SystemFull => "systemfull",
    MailerError => "mailererror", SyntaxError => "syntaxerror",
    ContentError => "contenterror", NotCompliantRfc => "notcompliantrfc",
    Suppressed => "suppressed", Delivered => "delivered",
    Feedback => "feedback", Vacation => "vacation",
    Undefined => "undefined",
}

impl Reason {
    /// True for labels that are not delivery failures.
    pub const fn is_failure(self) -> bool {
        !matches!(
            self,
            Reason::Delivered | Reason::Feedback | Reason::Vacation
        )
    }

    /// Whether the address itself is bad, so that a sender should stop
    /// mailing it: the mailbox or domain does not exist, has moved, or takes
    /// no mail. Everything else (full mailbox, blocks against our IP,
    /// policy) says nothing about the address and is soft.
    pub fn is_hard(self, status_class: Option<u8>) -> bool {
        match self {
            Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => true,
            // A temporary (4.x.x) "no mail here" may be a DNS hiccup.
            Reason::NotAccept => status_class != Some(4),
            _ => false,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
        }
        assert_eq!(Reason::ALL.len(), 35);
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<Reason>)] = &[
            ("userunknown", Some(Reason::UserUnknown)),
            ("UserUnknown", Some(Reason::UserUnknown)),
            (" failedstarttls ", Some(Reason::FailedStartTls)),
            ("notbounce", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<Reason>().ok(), *want, "{s:?}");
        }
    }

    #[test]
    fn hard_table() {
        let cases = [
            (Reason::UserUnknown, Some(4), true),
            (Reason::NotAccept, Some(5), true),
            (Reason::NotAccept, Some(4), false),
            (Reason::MailboxFull, Some(5), false),
            (Reason::Blocked, Some(5), false),
        ];
        for (r, c, want) in cases {
            assert_eq!(r.is_hard(c), want, "{r} {c:?}");
        }
    }
}
