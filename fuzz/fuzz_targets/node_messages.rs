//! Everything one node sends another: the signature headers and every JSON body a node
//! decodes. Nothing panics; a refusal says which part (header or message) was wrong.
#![no_main]
use axum::http::{HeaderMap, HeaderValue};
use bearmon::node::auth::{self, Signer};
use bearmon::node::proto::{AskRequest, ClusterView, Heartbeat, SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) {
    if let Err(e) = serde_json::from_slice::<T>(body) {
        assert!(!e.to_string().is_empty(), "{what}");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&k, rest)) = input.split_first() else { return };
    match k % 6 {
        0 => decode::<Heartbeat>("heartbeat", rest),
        1 => decode::<ClusterView>("cluster view", rest),
        2 => decode::<SyncRequest>("sync request", rest),
        3 => decode::<SyncResponse>("sync response", rest),
        4 => decode::<AskRequest>("ask request", rest),
        _ => {
            // Four header values separated by newlines, then the body.
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.splitn(5, '\n');
            let mut h = HeaderMap::new();
            for name in ["x-bearmon-node", "x-bearmon-time", "x-bearmon-nonce", "x-bearmon-signature"] {
                if let Some(v) = parts.next().and_then(|v| HeaderValue::from_str(v).ok()) {
                    h.insert(name, v);
                }
            }
            let body = parts.next().unwrap_or_default();
            match auth::from_headers(&h) {
                Ok(signed) => {
                    let signer = Signer::new("fuzz-secret");
                    assert!(signer.verify("POST", "/cluster/sync", body.as_bytes(), &signed).is_err());
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
});
