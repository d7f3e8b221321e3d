//! Amazon SES event notifications delivered by mail through SNS.
//!
//! SES can publish bounce, complaint and delivery events as a JSON
//! document in the body of an ordinary message ("AWS Notification
//! Message"). The document names the recipients, their DSN action, status
//! and diagnostic, so it is read as a report, not as free text.

use serde_json::Value;

use crate::codes::{StatusCode, find_codes};
use crate::parse::{Action, MAX_RECIPIENTS, Parsed, Raw, Shape, apply_codes};

/// The first JSON object in `text` that looks like an SES event.
fn find_event(text: &str) -> Option<Value> {
    let key = text
        .find("\"notificationType\"")
        .or_else(|| text.find("\"eventType\""))?;
    let start = text[..key].rfind('{')?;
    let mut it = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) if v.is_object() => Some(v),
        _ => None,
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Reads an SES event into `out`; false when `text` holds none.
pub fn read(text: &str, out: &mut Parsed) -> bool {
    let Some(ev) = find_event(text) else {
        return false;
    };
    let ty = s(&ev, "notificationType")
        .or_else(|| s(&ev, "eventType"))
        .unwrap_or("");
    if let Some(mail) = ev.get("mail") {
        out.original.message_id = s(mail, "messageId").map(str::to_string);
        if let Some(h) = mail.get("commonHeaders") {
            out.original.subject = s(h, "subject").map(str::to_string);
        }
    }
    match ty {
        "Bounce" => bounce(&ev, out),
        "Complaint" => complaint(&ev, out),
        "Delivery" => delivery(&ev, out),
        _ => return false,
    }
    !out.records.is_empty()
}

fn bounce(ev: &Value, out: &mut Parsed) {
    let Some(b) = ev.get("bounce") else { return };
    let suppressed = s(b, "bounceSubType").is_some_and(|t| t.eq_ignore_ascii_case("suppressed"));
    let list = b.get("bouncedRecipients").and_then(Value::as_array);
    for r in list.into_iter().flatten().take(MAX_RECIPIENTS) {
        let mut raw = Raw {
            address: s(r, "emailAddress").unwrap_or("").to_string(),
            action: Some(match s(r, "action") {
                Some("delayed") => Action::Delayed,
                _ => Action::Failed,
            }),
            status: s(r, "status").and_then(StatusCode::parse),
            ..Raw::default()
        };
        let diag = s(r, "diagnosticCode").unwrap_or("");
        let diag = diag
            .split_once(';')
            .filter(|(t, _)| t.len() < 12)
            .map_or(diag, |(_, d)| d.trim());
        raw.diagnostic = diag.to_string();
        if suppressed {
            raw.reason_hint = Some(crate::Reason::Suppressed);
        }
        apply_codes(&mut raw, find_codes(diag));
        out.records.push(raw);
    }
    out.shape = Some(Shape::Dsn);
}

fn complaint(ev: &Value, out: &mut Parsed) {
    let Some(c) = ev.get("complaint") else { return };
    let ft = s(c, "complaintFeedbackType").map(str::to_string);
    let list = c.get("complainedRecipients").and_then(Value::as_array);
    for r in list.into_iter().flatten().take(MAX_RECIPIENTS) {
        out.records.push(Raw {
            address: s(r, "emailAddress").unwrap_or("").to_string(),
            feedback_type: ft.clone(),
            ..Raw::default()
        });
    }
    out.shape = Some(Shape::Feedback);
}

fn delivery(ev: &Value, out: &mut Parsed) {
    let Some(d) = ev.get("delivery") else { return };
    let resp = s(d, "smtpResponse").unwrap_or("");
    let list = d.get("recipients").and_then(Value::as_array);
    for r in list.into_iter().flatten().take(MAX_RECIPIENTS) {
        let mut raw = Raw {
            address: r.as_str().unwrap_or("").to_string(),
            action: Some(Action::Delivered),
            diagnostic: resp.to_string(),
            remote_host: s(d, "remoteMtaIp").map(str::to_string),
            ..Raw::default()
        };
        apply_codes(&mut raw, find_codes(resp));
        out.records.push(raw);
    }
    out.shape = Some(Shape::Dsn);
}
