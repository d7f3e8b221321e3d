//! Fuzz target: any bytes through `analyze`, then the CLI renderers. A
//! panic, a hang or an allocation blow-up is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nmail_bounce::{Lang, analyze, explain, render_json, render_plain};

fuzz_target!(|data: &[u8]| {
    let a = analyze(data);
    assert!(a.recipients.len() <= 100_000);
    for r in &a.recipients {
        assert!(r.diagnostic.len() <= 2000);
        let _ = explain(r.reason, Lang::Ko);
    }
    let _ = render_json("fuzz", &a, Lang::En);
    let _ = render_plain("fuzz", &a, Lang::Ko);
});
