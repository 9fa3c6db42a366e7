//! A contact row's `type` and `data`: parsing never panics, and a rejection names the
//! contacts row, the field and the reason.
#![no_main]
use bearmon::store::Contact;
use libfuzzer_sys::fuzz_target;

const KINDS: [&str; 6] = ["email", "sms", "voice", "http", "webhook", "nosuch"];

fuzz_target!(|input: &[u8]| {
    let Some((&k, data)) = input.split_first() else { return };
    let c = Contact {
        id: 7,
        kind: KINDS[k as usize % KINDS.len()].to_string(),
        data: String::from_utf8_lossy(data).into_owned(),
        problems: Vec::new(),
    };
    if let Err(p) = bearmon::alert::contact::parse(&c) {
        assert_eq!((p.table, p.id), ("contacts", 7));
        assert!(!p.field.is_empty(), "rejection without a field: {p}");
        assert!(!p.reason.is_empty(), "rejection without a reason: {p}");
    }
});
