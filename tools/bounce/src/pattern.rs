//! The tiny pattern language the rule tables are written in.
//!
//! A pattern is lower-case text in which `*` stands for "any text, then".
//! `"user * unknown"` matches "User xyz is unknown". Patterns run over text
//! that [`fold`] lowered and whose white space it squeezed, so the tables
//! need not care about case, line breaks or tabs. Matching is a handful of
//! substring searches: linear in the text, no back-tracking, no regex
//! engine to build at start-up.

/// Lower-cases `s` and turns every run of white space into one space.
///
/// Non-ASCII letters are lowered too (Cyrillic, Latin-1 texts); Hangul and
/// other scripts without case pass through unchanged.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for ch in s.chars() {
        if ch.is_whitespace() || ch == '\u{0}' {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            space = false;
            if ch.is_ascii() {
                out.push(ch.to_ascii_lowercase());
            } else {
                out.extend(ch.to_lowercase());
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// True when `pat` matches somewhere in the folded text `hay`. A leading
/// `^` anchors the pattern at the start of the text.
pub fn matches(hay: &str, pat: &str) -> bool {
    if let Some(p) = pat.strip_prefix('^') {
        let first = p.split('*').next().unwrap_or("").trim_start();
        return hay.starts_with(first)
            && matches(&hay[first.len()..], &p[first.len().min(p.len())..]);
    }
    let mut rest = hay;
    for piece in pat.split('*') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The first pattern of `pats` that matches, if any.
pub fn first_match<'p>(hay: &str, pats: &[&'p str]) -> Option<&'p str> {
    pats.iter().copied().find(|p| matches(hay, p))
}

/// [`crate::rules::TEXT_RULES`] compiled once into one Aho-Corasick
/// automaton over every literal piece of every pattern. A text is scanned
/// once to learn which pieces occur; only patterns whose pieces all occur
/// are then checked for order (and anchoring) with [`matches()`]. This keeps
/// the cost per diagnostic at one pass, whatever the size of the tables.
pub struct TableMatcher {
    /// `None` only if the automaton could not be built; matching then
    /// falls back to trying each pattern in turn.
    ac: Option<aho_corasick::AhoCorasick>,
    /// Per rule row, per pattern: the piece ids it needs, and the pattern.
    rows: Vec<Vec<(Vec<usize>, &'static str)>>,
    pieces: usize,
}

impl TableMatcher {
    fn build() -> TableMatcher {
        let mut pieces: Vec<&'static str> = Vec::new();
        let mut rows = Vec::new();
        for rule in crate::rules::TEXT_RULES {
            let mut row = Vec::new();
            for &p in rule.patterns {
                let ids = p
                    .trim_start_matches('^')
                    .split('*')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|piece| match pieces.iter().position(|q| *q == piece) {
                        Some(i) => i,
                        None => {
                            pieces.push(piece);
                            pieces.len() - 1
                        }
                    })
                    .collect();
                row.push((ids, p));
            }
            rows.push(row);
        }
        let ac = aho_corasick::AhoCorasick::new(&pieces).ok();
        TableMatcher {
            ac,
            rows,
            pieces: pieces.len(),
        }
    }

    /// The shared matcher, built on first use.
    pub fn get() -> &'static TableMatcher {
        static M: std::sync::OnceLock<TableMatcher> = std::sync::OnceLock::new();
        M.get_or_init(TableMatcher::build)
    }

    /// Index of the first rule row with a matching pattern.
    pub fn first(&self, hay: &str) -> Option<usize> {
        let Some(ac) = &self.ac else {
            return self
                .rows
                .iter()
                .position(|row| row.iter().any(|(_, p)| matches(hay, p)));
        };
        let mut seen = vec![false; self.pieces];
        for m in ac.find_overlapping_iter(hay) {
            seen[m.pattern().as_usize()] = true;
        }
        self.rows.iter().position(|row| {
            row.iter().any(|(ids, p)| {
                ids.iter().all(|&i| seen[i])
                    && (ids.len() == 1 && !p.starts_with('^') || matches(hay, p))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_table() {
        let cases = [
            ("User  Unknown\r\n\tHere", "user unknown here"),
            ("  lead and trail  ", "lead and trail"),
            ("받는 사람이\n없습니다", "받는 사람이 없습니다"),
            ("ПОЧТА", "почта"),
        ];
        for (i, want) in cases {
            assert_eq!(fold(i), want);
        }
    }

    #[test]
    fn automaton_agrees_with_linear_matching() {
        let texts = [
            "550 5.1.1 <a@example.net>: recipient address rejected: user unknown in local recipient table",
            ": user unknown",
            "<a@b>: user unknown",
            "mailbox is full",
            "account has been disabled due to inactivity",
            "message rejected as spam by content filtering",
            "client host [192.0.2.1] blocked using zen.spamhaus.org",
            "사서함 용량이 초과되었습니다",
            "the user you are trying to contact is receiving mail at a rate that",
            "nothing to see here",
            "",
        ];
        let m = TableMatcher::get();
        for t in texts {
            let linear = crate::rules::TEXT_RULES
                .iter()
                .position(|r| r.patterns.iter().any(|p| matches(t, p)));
            assert_eq!(m.first(t), linear, "{t}");
        }
    }

    #[test]
    fn match_table() {
        let cases = [
            ("550 user unknown", "user unknown", true),
            ("user kijitora is unknown", "user * unknown", true),
            ("unknown user", "user * unknown", false),
            ("mailbox is full", "mailbox*full", true),
            ("anything", "", true),
            ("사서함 용량이 초과", "용량 * 초과", true),
            (": user unknown", "^: user unknown", true),
            ("<a@b>: user unknown", "^: user unknown", false),
            ("abc def", "^abc * def", true),
        ];
        for (h, p, want) in cases {
            assert_eq!(matches(h, p), want, "{h} ~ {p}");
        }
    }
}
