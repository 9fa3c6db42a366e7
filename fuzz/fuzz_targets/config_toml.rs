//! A config file (worker or viewserver): parsing and resolving never panic, and every
//! rejection says what is wrong.
#![no_main]
use std::path::Path;

use bearmon::config::{self, ViewserverConfig, ViewserverFile, WorkerConfig, WorkerFile, WorkerFlags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let path = Path::new("fuzz.toml");
    match config::parse::<WorkerFile>(text, path) {
        Ok(file) => {
            let flags = WorkerFlags { secret: Some("fuzz-secret".into()), ..WorkerFlags::default() };
            if let Err(e) = WorkerConfig::resolve(file, flags) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
    match config::parse::<ViewserverFile>(text, path) {
        Ok(file) => {
            if let Err(e) = ViewserverConfig::resolve(file, None, Some("fuzz-secret".into())) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
});
