//! Every instant the API writes is an RFC 3339 string in UTC (OpenAPI `format: date-time`),
//! while the Rust fields stay numbers (unix seconds or milliseconds) for the charts and the
//! stores. These serde adapters write the string and read either form: nodes of an older
//! release sent numbers, and the viewserver reads the controller's JSON back.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

use crate::util::rfc3339;

/// An instant as the API may have written it: RFC 3339 or a number of `unit_ms` ms.
struct AnyInstant {
    unit_ms: i64,
}

impl Visitor<'_> for AnyInstant {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an RFC 3339 date-time or a unix time")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("unix time out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        Ok(v as i64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
            .map_err(|e| E::custom(format!("{v:?}: {e}")))?;
        Ok((t.unix_timestamp_nanos() / 1_000_000) as i64 / self.unit_ms)
    }
}

fn write<S: Serializer>(ms: i64, s: S) -> Result<S::Ok, S::Error> {
    match rfc3339(ms) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

/// Unix seconds (`i64`).
pub mod secs {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        write(v.saturating_mul(1000), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(AnyInstant { unit_ms: 1000 })
    }
}

/// Unix seconds (`u32`, the compact samples).
pub mod secs_u32 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        write(i64::from(*v) * 1000, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = d.deserialize_any(AnyInstant { unit_ms: 1000 })?;
        u32::try_from(v).map_err(|_| de::Error::custom("unix time out of range"))
    }
}

/// Unix seconds, when known (`Option<i64>`; `null` when not).
pub mod secs_opt {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => write(v.saturating_mul(1000), s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("null, an RFC 3339 date-time or a unix time")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(AnyInstant { unit_ms: 1000 }).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
}

/// Unix milliseconds (`i64`).
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        write(*v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(AnyInstant { unit_ms: 1 })
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(with = "super::secs")]
        a: i64,
        #[serde(with = "super::secs_u32")]
        b: u32,
        #[serde(with = "super::secs_opt")]
        c: Option<i64>,
        #[serde(with = "super::millis")]
        d: i64,
    }

    #[test]
    fn writes_rfc3339_and_reads_it_back() {
        let t = T { a: 1_700_000_000, b: 1_700_000_060, c: None, d: 1_700_000_000_123 };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"a":"2023-11-14T22:13:20Z","b":"2023-11-14T22:14:20Z","c":null,"d":"2023-11-14T22:13:20.123Z"}"#
        );
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
    }

    #[test]
    fn reads_the_numbers_older_nodes_wrote() {
        let old = r#"{"a":1700000000,"b":1700000060,"c":1700000000,"d":1700000000123}"#;
        let t: T = serde_json::from_str(old).unwrap();
        assert_eq!(t, T { a: 1_700_000_000, b: 1_700_000_060, c: Some(1_700_000_000), d: 1_700_000_000_123 });
        assert!(serde_json::from_str::<T>(r#"{"a":"yesterday","b":1,"c":null,"d":1}"#).is_err());
    }
}
