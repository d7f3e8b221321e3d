//! What a reason means for the person who sent the message.
//!
//! The texts live in `explain_data.rs` as one table row per reason, so
//! that a translator edits data, not code; the help page and the webmail
//! both read them through [`explain`].

use std::fmt;
use std::str::FromStr;

use crate::Reason;
use crate::explain_data::TEXTS;

/// Display language of an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Korean.
    #[default]
    Ko,
    /// English.
    En,
}

/// The error [`Lang::from_str`] returns for a language we have no texts in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language {0:?} (use ko or en)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    /// Accepts `ko`, `en` and tags such as `ko-KR`, `en_US`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let l = s.trim().to_ascii_lowercase();
        match l.split(['-', '_']).next().unwrap_or("") {
            "ko" | "kr" | "kor" => Ok(Lang::Ko),
            "en" | "eng" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        })
    }
}

/// Who has to do something before a new attempt can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The person who sent the message (fix the address, shrink the mail).
    Sender,
    /// The administrator (or the owner) of the recipient's mailbox.
    RecipientAdmin,
    /// Our own postmaster: our server, IP, DNS or domain setup.
    Postmaster,
    /// Nobody: the notice reports no failure.
    Nobody,
}

impl Actor {
    /// A short stable name: `sender`, `recipient-admin`, `postmaster`,
    /// `nobody`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Sender => "sender",
            Actor::RecipientAdmin => "recipient-admin",
            Actor::Postmaster => "postmaster",
            Actor::Nobody => "nobody",
        }
    }

    /// The actor named in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Actor::Sender, Lang::En) => "the sender",
            (Actor::Sender, Lang::Ko) => "보낸 사람",
            (Actor::RecipientAdmin, Lang::En) => "the recipient or their mail administrator",
            (Actor::RecipientAdmin, Lang::Ko) => "받는 사람 또는 받는 쪽 메일 관리자",
            (Actor::Postmaster, Lang::En) => "our postmaster",
            (Actor::Postmaster, Lang::Ko) => "우리 메일 서버 관리자",
            (Actor::Nobody, Lang::En) => "nobody",
            (Actor::Nobody, Lang::Ko) => "조치 필요 없음",
        }
    }
}

/// One language's texts for a reason (a row of the data table).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Texts {
    pub title: &'static str,
    pub what: &'static str,
    pub todo: &'static str,
}

/// An explanation of a reason, ready to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// The reason explained.
    pub reason: Reason,
    /// The language of the texts.
    pub lang: Lang,
    /// A one-line summary, fit for a list or the CLI.
    pub title: &'static str,
    /// What happened, in a sentence or two.
    pub what: &'static str,
    /// Who must act.
    pub actor: Actor,
    /// [`Explanation::actor`] in words.
    pub who: &'static str,
    /// What to try.
    pub todo: &'static str,
}

/// Explains `reason` in `lang`. Cheap: a table look-up, no allocation.
///
/// ```
/// use nmail_bounce::{Actor, Lang, Reason, explain};
///
/// let e = explain(Reason::MailboxFull, Lang::Ko);
/// assert_eq!(e.title, "받는 사람의 메일함이 가득 찼습니다");
/// assert_eq!(e.actor, Actor::RecipientAdmin);
/// let e = explain(Reason::Blocked, Lang::En);
/// assert_eq!(e.who, "our postmaster");
/// ```
pub fn explain(reason: Reason, lang: Lang) -> Explanation {
    let row = TEXTS
        .iter()
        .find(|r| r.0 == reason)
        .unwrap_or(&TEXTS[TEXTS.len() - 1]);
    let t = match lang {
        Lang::En => row.2,
        Lang::Ko => row.3,
    };
    Explanation {
        reason: row.0,
        lang,
        title: t.title,
        what: t.what,
        actor: row.1,
        who: row.1.label(lang),
        todo: t.todo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_both_languages() {
        for &r in Reason::ALL {
            for lang in [Lang::Ko, Lang::En] {
                let e = explain(r, lang);
                assert_eq!(e.reason, r, "row missing for {r}");
                assert!(
                    !e.title.is_empty() && !e.what.is_empty() && !e.todo.is_empty(),
                    "{r} {lang}"
                );
            }
            let ko = explain(r, Lang::Ko);
            assert!(
                ko.what
                    .chars()
                    .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
                "{r}: ko text is not Korean"
            );
        }
    }

    #[test]
    fn lang_table() {
        let cases = [
            ("ko", Some(Lang::Ko)),
            ("ko-KR", Some(Lang::Ko)),
            ("EN_us", Some(Lang::En)),
            ("ja", None),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<Lang>().ok(), want, "{s}");
        }
    }
}
