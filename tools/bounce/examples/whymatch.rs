//! Development aid: which rule row and pattern a text matches.
//! `cargo run -p nmail-bounce --example whymatch -- 'diagnostic text'`

use nmail_bounce::pattern::{fold, matches};
use nmail_bounce::rules::TEXT_RULES;

fn main() {
    let text = std::env::args().nth(1).unwrap_or_default();
    let f = fold(&text);
    for (i, rule) in TEXT_RULES.iter().enumerate() {
        for p in rule.patterns {
            if matches(&f, p) {
                println!("row {i} {}: {p:?}", rule.reason);
            }
        }
    }
}
