//! A check row's `type` and `data` (JSON) as an operator may insert them: parsing never
//! panics, and a rejection names the check, the field and the reason.
#![no_main]
use libfuzzer_sys::fuzz_target;

const KINDS: [&str; 9] = ["http", "tcp", "icmp", "dns", "ssl_expire", "exec", "haproxy", "worker", "nosuch"];

fuzz_target!(|input: &[u8]| {
    let Some((&k, data)) = input.split_first() else { return };
    let kind = KINDS[k as usize % KINDS.len()];
    let data = String::from_utf8_lossy(data);
    match bearmon::check::CheckSpec::parse(42, kind, &data) {
        Ok(_) => {}
        Err(e) => {
            assert_eq!(e.check_id, 42);
            assert!(!e.field.is_empty(), "rejection without a field: {e}");
            assert!(!e.reason.is_empty(), "rejection without a reason: {e}");
        }
    }
});
