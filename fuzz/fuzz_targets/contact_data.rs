//! A contact row's `type` and `data`: parsing never panics, and a rejection names the
//! field and the reason (the caller adds the contacts row's id).
#![no_main]
use libfuzzer_sys::fuzz_target;

const KINDS: [&str; 6] = ["email", "sms", "voice", "http", "webhook", "nosuch"];

fuzz_target!(|input: &[u8]| {
    let Some((&k, data)) = input.split_first() else { return };
    let kind = KINDS[k as usize % KINDS.len()];
    let data = String::from_utf8_lossy(data);
    if let Err(p) = bearmon::alert::contact::parse(kind, &data) {
        assert!(p.field == "type" || p.field.starts_with("data"), "unexpected field: {p}");
        assert!(!p.reason.is_empty(), "rejection without a reason: {p}");
    }
});
