//! Charsets and encoded-words where mail-parser falls short for Korean mail.
//!
//! mail-parser decodes each RFC 2047 encoded-word on its own, so a Hangul
//! syllable whose octets a sender split across two words comes out as two
//! U+FFFD (RFC 2047 §5 forbids the split, Outlook and many bulk mailers do it
//! anyway). Its charset table, the WHATWG one of encoding_rs, knows
//! `ks_c_5601-1987` and `euc-kr` but not the labels `cp949`, `ms949`,
//! `x-windows-949` or `uhc` that Korean clients send, and it maps
//! ISO-2022-KR (RFC 1557) to the "replacement" decoder. Header fields in raw
//! 8-bit EUC-KR, without any encoded-word, are common in older Korean mail
//! too.
//!
//! [`fix_header`] rewrites a header block so that mail-parser reads it
//! right: each run of adjacent encoded-words in one charset is decoded as
//! one octet string and re-encoded as a single UTF-8 word, and a field in
//! raw 8-bit text that is not UTF-8 is decoded with the message's charset
//! (or CP949) and written as UTF-8 (RFC 6532). The message file itself is
//! never changed; only the index and the web pages see the repaired text.

use std::borrow::Cow;

use base64::Engine as _;
use encoding_rs::Encoding;

/// How a charset label is decoded.
enum Decoder {
    /// An encoding_rs decoder.
    Whatwg(&'static Encoding),
    /// ISO-2022-KR: 7-bit KS X 1001 behind SO/SI, turned into EUC-KR.
    Iso2022Kr,
}

/// The decoder for a MIME charset label (RFC 2978), or `None` when it is
/// unknown. An RFC 2231 language suffix (`euc-kr*ko`) is ignored.
fn decoder(label: &str) -> Option<Decoder> {
    let label = label.split('*').next().unwrap_or("").trim();
    let lower = label.to_ascii_lowercase();
    match lower.as_str() {
        // The Korean family: encoding_rs's EUC-KR decoder is the Unified
        // Hangul Code (CP949) superset, which real "euc-kr" mail needs too
        // (똠, 0x8C63, exists only in CP949).
        "cp949" | "ms949" | "x-windows-949" | "windows-949" | "uhc" | "x-uhc" | "euc-kr"
        | "x-euc-kr" | "cseuckr" | "ks_c_5601-1987" | "ks_c_5601-1989" | "ks_c_5601"
        | "ksc5601" | "ksc_5601" | "ks_x_1001" | "korean" | "csksc56011987" | "iso-ir-149" => {
            Some(Decoder::Whatwg(encoding_rs::EUC_KR))
        }
        "iso-2022-kr" | "csiso2022kr" => Some(Decoder::Iso2022Kr),
        _ => match Encoding::for_label_no_replacement(label.as_bytes()) {
            Some(e) => Some(Decoder::Whatwg(e)),
            // Common labels outside the WHATWG list.
            None => match lower.as_str() {
                "utf8" | "utf-8" => Some(Decoder::Whatwg(encoding_rs::UTF_8)),
                "cp936" | "ms936" => Some(Decoder::Whatwg(encoding_rs::GBK)),
                "cp932" | "ms932" => Some(Decoder::Whatwg(encoding_rs::SHIFT_JIS)),
                "cp1252" => Some(Decoder::Whatwg(encoding_rs::WINDOWS_1252)),
                _ => None,
            },
        },
    }
}

/// Decodes `bytes` in the charset `label` names (malformed sequences become
/// U+FFFD); `None` when the label is unknown.
pub fn decode(label: &str, bytes: &[u8]) -> Option<String> {
    Some(match decoder(label)? {
        Decoder::Whatwg(e) => e.decode_without_bom_handling(bytes).0.into_owned(),
        Decoder::Iso2022Kr => encoding_rs::EUC_KR
            .decode_without_bom_handling(&iso2022kr_to_euckr(bytes))
            .0
            .into_owned(),
    })
}

/// RFC 1557: `ESC $ ) C` designates KS X 1001 to G1, SO shifts to it and
/// SI back to ASCII; in G1 a character is two octets 0x21-0x7E, which are
/// the EUC-KR octets less 0x80.
fn iso2022kr_to_euckr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut shifted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b if bytes[i..].starts_with(b"\x1b$)C") => i += 4,
            0x0e => {
                shifted = true;
                i += 1;
            }
            0x0f => {
                shifted = false;
                i += 1;
            }
            b'\r' | b'\n' => {
                // Each line starts in ASCII (RFC 1557 §2).
                shifted = false;
                out.push(bytes[i]);
                i += 1;
            }
            b @ 0x21..=0x7e if shifted => {
                out.push(b | 0x80);
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// One encoded-word found in a field value.
struct Word<'a> {
    start: usize,
    end: usize,
    charset: &'a str,
    octets: Vec<u8>,
}

/// RFC 2047 §4.2: `_` is a space, `=XX` an octet; a stray `=` stays.
fn q_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'='),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The encoded-words (`=?charset?B|Q?text?=`, RFC 2047 §2) of a field
/// value, in order.
///
/// Linear in the length of the value whatever it holds: a sender controls
/// it, and a search for each candidate's end would be quadratic on text
/// full of `=?` without `?=`. No part of a word may hold `?` or white
/// space, so a word starting at `s` is fixed by the next three `?` after
/// it; candidates, `?` positions and white space are each walked once.
fn words(value: &str) -> Vec<Word<'_>> {
    let b = value.as_bytes();
    let marks: Vec<usize> = memchr::memchr_iter(b'?', b).collect();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut out = Vec::new();
    let mut mark = 0; // first entry of `marks` past the candidate's "=?"
    let mut space = 0; // first white space at or after the candidate
    let mut from = 0;
    while let Some(off) = memchr::memmem::find(&b[from..], b"=?") {
        let start = from + off;
        from = start + 1;
        while mark < marks.len() && marks[mark] < start + 2 {
            mark += 1;
        }
        if space < start {
            space = start;
        }
        while space < b.len() && !is_space(b[space]) {
            space += 1;
        }
        let (Some(&q1), Some(&q2), Some(&q3)) =
            (marks.get(mark), marks.get(mark + 1), marks.get(mark + 2))
        else {
            break; // fewer than three '?' left: no more words
        };
        let end = q3 + 2;
        if q1 == start + 2 || q2 != q1 + 2 || b.get(q3 + 1) != Some(&b'=') || space < end {
            continue;
        }
        let (charset, text) = (&value[start + 2..q1], &value[q2 + 1..q3]);
        let octets = match b[q1 + 1] {
            b'B' | b'b' => match base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text.trim_end_matches('='))
            {
                Ok(o) => o,
                Err(_) => continue,
            },
            b'Q' | b'q' => q_decode(text),
            _ => continue,
        };
        out.push(Word {
            start,
            end,
            charset,
            octets,
        });
        from = end;
    }
    out
}

/// True for the labels whose encoded-words mail-parser would misread: the
/// ones our table knows and the WHATWG table it uses does not (or maps to
/// "replacement", as ISO-2022-KR).
fn needs_our_decoder(label: &str) -> bool {
    let l = label.split('*').next().unwrap_or("").trim();
    decoder(l).is_some() && Encoding::for_label_no_replacement(l.as_bytes()).is_none()
}

/// Rewrites the encoded-words of one field value where mail-parser would
/// get them wrong: runs of adjacent words (only white space between them)
/// in one charset are joined as octets before decoding, and labels it does
/// not know are decoded here. `None` when nothing needs rewriting.
fn fix_words(value: &str) -> Option<String> {
    let ws = words(value);
    if ws.is_empty() {
        return None;
    }
    // Group adjacent words of the same charset.
    let mut runs: Vec<(usize, usize)> = Vec::new(); // index ranges into ws
    let mut k = 0;
    while k < ws.len() {
        let mut j = k;
        while j + 1 < ws.len()
            && value[ws[j].end..ws[j + 1].start]
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            && ws[j].charset.eq_ignore_ascii_case(ws[j + 1].charset)
        {
            j += 1;
        }
        runs.push((k, j));
        k = j + 1;
    }
    let needed = runs
        .iter()
        .any(|&(a, b)| b > a || needs_our_decoder(ws[a].charset));
    if !needed {
        return None;
    }
    let mut out = String::with_capacity(value.len());
    let mut at = 0;
    for (a, b) in runs {
        let octets: Vec<u8> = ws[a..=b]
            .iter()
            .flat_map(|w| w.octets.iter().copied())
            .collect();
        let Some(text) = decode(ws[a].charset, &octets) else {
            // An unknown charset: leave its words as they were.
            out.push_str(&value[at..ws[b].end]);
            at = ws[b].end;
            continue;
        };
        out.push_str(&value[at..ws[a].start]);
        out.push_str("=?utf-8?B?");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(text.as_bytes()));
        out.push_str("?=");
        at = ws[b].end;
    }
    out.push_str(&value[at..]);
    Some(out)
}

/// The `charset` parameter of the top-level Content-Type among `fields`.
fn header_charset(fields: &[&[u8]]) -> Option<String> {
    let field = fields.iter().find(|f| {
        f.get(..13)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"content-type:"))
    })?;
    let field = String::from_utf8_lossy(field);
    // The parameter named exactly `charset` (not `x-charset`).
    field.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Charsets a raw 8-bit field may be read in: ASCII-compatible (the field
/// name and line ends survive) and multi-byte, so that the guess can show
/// itself wrong; a single-byte charset maps any octet to some letter, and
/// UTF-16 or `us-ascii` cannot describe such a field at all.
fn raw_fallback_ok(label: &str) -> bool {
    matches!(decoder(label), Some(Decoder::Whatwg(e))
        if [
            encoding_rs::EUC_KR,
            encoding_rs::EUC_JP,
            encoding_rs::SHIFT_JIS,
            encoding_rs::GBK,
            encoding_rs::GB18030,
            encoding_rs::BIG5,
        ]
        .contains(&e))
}

/// True when octets that are not valid UTF-8 still read best as UTF-8
/// with a few bad octets (a subject cut in the middle of a character, one
/// stray Latin-1 byte) rather than as text in a legacy charset: the
/// octets of valid multi-byte sequences outnumber the invalid ones two to
/// one. (Legacy Korean text forms valid two-octet UTF-8 sequences now and
/// then, but far fewer than it has invalid octets.)
fn mostly_utf8(f: &[u8]) -> bool {
    let (mut good, mut bad) = (0usize, 0usize);
    for chunk in f.utf8_chunks() {
        good += chunk.valid().bytes().filter(|&b| b >= 0x80).count();
        bad += chunk.invalid().len();
    }
    good >= 2 * bad
}

/// A header block (the octets before the blank line) rewritten so that
/// mail-parser decodes it right (see the module comment), or `None` when
/// it needs nothing. Lines keep their order and endings.
pub fn fix_header(header: &[u8]) -> Option<Vec<u8>> {
    // Called for every message the index reads: the common case (plain
    // ASCII, no encoded-word) must cost no more than a scan.
    static WORD_START: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"=?"));
    let iso2022 = memchr::memmem::find(header, b"\x1b$)C").is_some();
    if header.is_ascii() && !iso2022 && WORD_START.find(header).is_none() {
        return None;
    }
    // Fields, each with its continuation lines.
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for (i, &b) in header.iter().enumerate() {
        if b == b'\n' {
            let next = header.get(i + 1);
            if !matches!(next, Some(b' ') | Some(b'\t')) {
                fields.push(&header[start..=i]);
                start = i + 1;
            }
        }
    }
    if start < header.len() {
        fields.push(&header[start..]);
    }
    // Raw 8-bit text that is not UTF-8 is read in the message's own
    // charset when that can be such a charset, else as CP949, the commonest
    // such text in the mail nmail's users get.
    let fallback = header_charset(&fields)
        .filter(|c| raw_fallback_ok(c))
        .unwrap_or_else(|| "cp949".to_string());
    let mut out = Vec::with_capacity(header.len() + 64);
    let mut changed = false;
    for f in fields {
        let text: Cow<'_, str> = match std::str::from_utf8(f) {
            // Raw ISO-2022-KR (RFC 1557 text in a header, seen from old
            // Korean clients) is 7-bit, so it is valid UTF-8 as it stands.
            Ok(_) if iso2022 && memchr::memmem::find(f, b"\x1b$)C").is_some() => {
                changed = true;
                Cow::Owned(decode("iso-2022-kr", f).unwrap_or_default())
            }
            Ok(t) => Cow::Borrowed(t),
            Err(_) if mostly_utf8(f) => String::from_utf8_lossy(f),
            Err(_) => match decode(&fallback, f) {
                Some(t) => {
                    changed = true;
                    Cow::Owned(t)
                }
                None => String::from_utf8_lossy(f),
            },
        };
        match fix_words(&text) {
            Some(t) => {
                changed = true;
                out.extend_from_slice(t.as_bytes());
            }
            None => out.extend_from_slice(text.as_bytes()),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(label: &str, bytes: &[u8]) -> String {
        format!(
            "=?{label}?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn korean_labels_decode_as_cp949() {
        // 똠 is 0x8C63, only in CP949.
        let cp949 = [0x8c, 0x63, 0xb9, 0xe6];
        for l in [
            "cp949",
            "MS949",
            "x-windows-949",
            "uhc",
            "ks_c_5601-1987",
            "euc-kr",
            "EUC-KR*ko",
        ] {
            assert_eq!(decode(l, &cp949).as_deref(), Some("똠방"), "{l}");
        }
        assert_eq!(decode("no-such-charset", b"x"), None);
    }

    #[test]
    fn iso_2022_kr() {
        let text = b"\x1b$)C\x0eGQ19>n\x0f title\r\n\x0eGQ\x0f";
        assert_eq!(
            decode("ISO-2022-KR", text).as_deref(),
            Some("한국어 title\r\n한")
        );
    }

    #[test]
    fn split_words_are_joined_before_decoding() {
        let v = "=?UTF-8?Q?=EA=B9=80=EC=B2?= =?UTF-8?Q?=A0=EC=88=98?= <c@example.org>";
        let fixed = fix_words(v).unwrap();
        let w = words(&fixed);
        assert_eq!(w.len(), 1);
        assert_eq!(String::from_utf8(w[0].octets.clone()).unwrap(), "김철수");
        assert!(fixed.ends_with(" <c@example.org>"));
        // Different charsets side by side stay separate words.
        let v = "=?EUC-KR?B?sLO53w==?= =?UTF-8?B?7YyA?=";
        assert_eq!(fix_words(v), None);
        // Ordinary text between words breaks a run.
        assert_eq!(fix_words("=?UTF-8?B?7JWI?= and =?UTF-8?B?7JWI?="), None);
    }

    #[test]
    fn raw_euc_kr_fields_become_utf8() {
        let mut h = b"From: a@example.org\r\nSubject: ".to_vec();
        h.extend_from_slice(&[0xc7, 0xd1, 0xb1, 0xb9]);
        h.extend_from_slice(b"\r\n folded\r\nTo: b@example.com\r\n");
        let fixed = String::from_utf8(fix_header(&h).unwrap()).unwrap();
        assert_eq!(
            fixed,
            "From: a@example.org\r\nSubject: 한국\r\n folded\r\nTo: b@example.com\r\n"
        );
        // Nothing to do for plain ASCII or well-formed words.
        assert_eq!(fix_header(b"Subject: hello\r\n"), None);
        let ok = format!("Subject: {}\r\n", b64("utf-8", "한국".as_bytes()));
        assert_eq!(fix_header(ok.as_bytes()), None);
    }

    proptest::proptest! {
        #[test]
        fn any_header_is_safe(data in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b'='), proptest::strategy::Just(b'?'),
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(b' '),
                proptest::strategy::Just(b'B'), proptest::strategy::Just(0xc7u8),
                proptest::num::u8::ANY,
            ],
            0..300,
        )) {
            if let Some(out) = fix_header(&data) {
                proptest::prop_assert!(std::str::from_utf8(&out).is_ok());
            }
        }
    }

    #[test]
    fn hostile_fields_cost_linear_time() {
        // Shapes whose candidates never end (no "?=" after them) made the
        // word search quadratic: 800 KB took 21 s.
        for unit in ["=?a?b?c ", "=?a=?a", "=?utf-8?B?7JWI", "=?x?Q?=?"] {
            let value = unit.repeat(400_000 / unit.len());
            let t = std::time::Instant::now();
            let _ = fix_words(&value);
            let header = format!("Subject: {value}\r\n");
            let _ = fix_header(header.as_bytes());
            assert!(
                t.elapsed().as_secs_f32() < 2.0,
                "{unit:?}: {:?}",
                t.elapsed()
            );
        }
        // Many real words are still found, and joined.
        let many = "=?UTF-8?Q?=EA=B9?= =?UTF-8?Q?=80?= x ".repeat(20_000);
        let fixed = fix_words(&many).unwrap();
        let w = words(&fixed);
        assert_eq!(w.len(), 20_000);
        assert!(w.iter().all(|w| w.octets == "김".as_bytes()));
    }

    #[test]
    fn raw_fields_are_read_in_the_right_charset() {
        let fix = |h: &[u8]| fix_header(h).map(|v| String::from_utf8(v).unwrap());
        // UTF-8 cut short, or with one stray octet, stays UTF-8.
        let mut cut = "Subject: 안녕하세요 고객님 특가 안내".as_bytes().to_vec();
        cut.pop();
        cut.extend_from_slice(b"\r\n");
        assert_eq!(fix(&cut), None);
        let mut stray = "Subject: [공지] 서버 점검 안내".as_bytes().to_vec();
        stray.push(0xa0);
        stray.extend_from_slice("완료\r\n".as_bytes());
        assert_eq!(fix(&stray), None);
        // A message charset that cannot describe raw octets is not used.
        let euc = [0xb1, 0xe8, 0xc3, 0xb6, 0xbc, 0xf6]; // 김철수 in EUC-KR
        for ct in ["UTF-16", "us-ascii", "iso-8859-1", "x-user-defined"] {
            let mut h = b"From: ".to_vec();
            h.extend_from_slice(&euc);
            h.extend_from_slice(b" <kim@example.org>\r\nTo: bob@example.com\r\n");
            h.extend_from_slice(format!("Content-Type: text/plain; charset={ct}\r\n").as_bytes());
            let out = fix(&h).unwrap();
            assert!(
                out.starts_with("From: 김철수 <kim@example.org>\r\nTo: bob@example.com\r\n"),
                "{ct}: {out}"
            );
        }
        // An x-charset parameter is not the charset; Shift_JIS is used
        // when the message says so.
        let mut h = "Subject: ".as_bytes().to_vec();
        h.extend_from_slice(&[0x93, 0xfa, 0x96, 0x7b]); // 日本 in Shift_JIS
        h.extend_from_slice(
            b"\r\nContent-Type: text/plain; x-charset=big5; charset=\"shift_jis\"\r\n",
        );
        assert!(fix(&h).unwrap().starts_with("Subject: 日本\r\n"));
        // Raw ISO-2022-KR in a header.
        let h = b"Subject: \x1b$)C\x0eGQ19>n\x0f\r\nTo: b@example.com\r\n";
        assert_eq!(fix(h).unwrap(), "Subject: 한국어\r\nTo: b@example.com\r\n");
    }

    #[test]
    fn junk_is_safe() {
        for s in [
            "=?",
            "=??=",
            "=?x?B?",
            "=?utf-8?Q?=E",
            "=?utf-8?Z?abc?=",
            "=?utf-8?B?***?=",
        ] {
            let _ = fix_words(s);
            let _ = fix_header(s.as_bytes());
        }
        assert_eq!(q_decode("a=4"), b"a=4");
        assert_eq!(q_decode("=41=4"), b"A=4");
    }
}
