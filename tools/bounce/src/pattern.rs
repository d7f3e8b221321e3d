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
        return hay.starts_with(first) && matches(&hay[first.len()..], &p[first.len().min(p.len())..]);
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
