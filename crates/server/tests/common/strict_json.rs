//! A JSON reader that refuses an object naming a key twice. serde_json's
//! own `Value` keeps the last of two equal keys without a word, and so do
//! browsers' `JSON.parse`: an answer with a repeated key means whatever
//! the reader happens to keep.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// A JSON value read with every object's keys checked to be distinct.
#[derive(Debug, Clone, PartialEq)]
pub enum StrictValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<StrictValue>),
    /// Keys in the order of the text.
    Object(Vec<(String, StrictValue)>),
}

/// Parses `bytes` as one JSON value; the error names a repeated key with
/// the other keys of its object, and where in the text it is.
pub fn parse_strict(bytes: &[u8]) -> Result<StrictValue, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue::Null)
    }

    fn visit_none<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<StrictValue, E> {
        serde_json::Number::from_f64(v)
            .map(StrictValue::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a JSON number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut seen = BTreeSet::new();
        let mut entries: Vec<(String, StrictValue)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                return Err(A::Error::custom(format!(
                    "key {key:?} appears twice in one object (its keys so far: {keys:?})"
                )));
            }
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(StrictValue::Object(entries))
    }
}
