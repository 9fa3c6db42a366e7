//! Definitions a worker was asked to confirm, parsed once: a check that is going down is asked
//! of the same confirmers round after round (`delay + 1` rounds), and each ask carries the
//! definition as text. Keyed by id and a hash of the text, so an edited check is parsed anew;
//! bounded, since any check may be asked of any worker.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use crate::check::{CheckSpec, InvalidCheck};
use crate::node::proto::CheckMsg;

/// Definitions kept at most; past this the memory starts over (asks are bursts per check).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub struct Asked {
    specs: HashMap<i64, (u64, Arc<CheckSpec>)>,
}

fn fingerprint(c: &CheckMsg) -> u64 {
    let mut h = DefaultHasher::new();
    (&c.kind, &c.data).hash(&mut h);
    h.finish()
}

impl Asked {
    /// The parsed definition of `c`, parsed now only if its text is new here.
    ///
    /// # Errors
    /// [`InvalidCheck`] when the definition does not parse (not kept).
    pub fn spec(&mut self, c: &CheckMsg) -> Result<Arc<CheckSpec>, InvalidCheck> {
        let fp = fingerprint(c);
        if let Some((f, spec)) = self.specs.get(&c.id)
            && *f == fp
        {
            return Ok(spec.clone());
        }
        let mut parsed = CheckSpec::parse(c.id, &c.kind, &c.data)?;
        parsed.spec.prepare();
        let spec = Arc::new(parsed.spec);
        if self.specs.len() >= CAPACITY {
            self.specs.clear();
        }
        self.specs.insert(c.id, (fp, spec.clone()));
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(data: &str) -> CheckMsg {
        CheckMsg {
            id: 7,
            name: "t".into(),
            kind: "tcp".into(),
            data: data.into(),
            interval_secs: 60,
            due_ms: None,
            run: None,
        }
    }

    #[test]
    fn the_same_text_is_parsed_once_and_an_edit_anew() {
        let mut a = Asked::default();
        let first = a.spec(&msg(r#"{"address":"127.0.0.1:1"}"#)).unwrap();
        let again = a.spec(&msg(r#"{"address":"127.0.0.1:1"}"#)).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a repeated ask reuses the parsed definition");
        let edited = a.spec(&msg(r#"{"address":"127.0.0.1:2"}"#)).unwrap();
        assert!(!Arc::ptr_eq(&first, &edited), "an edited definition is parsed again");
        assert!(a.spec(&msg("{not json")).is_err());
    }
}
