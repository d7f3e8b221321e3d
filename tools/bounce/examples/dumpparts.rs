//! Development aid: how mail-parser splits a message into parts.
fn main() {
    use mail_parser::{MessageParser, MimeHeaders, PartType};
    let raw = std::fs::read(std::env::args().nth(1).unwrap_or_default()).unwrap_or_default();
    let Some(m) = MessageParser::default().parse(&raw) else {
        return println!("unparsed");
    };
    for (i, p) in m.parts.iter().enumerate() {
        let ct = p
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
            .unwrap_or_default();
        let (kind, len) = match &p.body {
            PartType::Text(t) => ("text", t.len()),
            PartType::Html(t) => ("html", t.len()),
            PartType::Binary(b) | PartType::InlineBinary(b) => ("bin", b.len()),
            PartType::Message(_) => ("msg", 0),
            PartType::Multipart(v) => ("multi", v.len()),
        };
        println!("{i} {ct} {kind} {len}");
    }
}
