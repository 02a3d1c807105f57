//! Canonical log entries: the exact bytes of every leaf of the site's log.
//!
//! Every fact the site logs is an [`Entry`]: a type (`segment.sealed`,
//! `camera.state`, …), a wall-clock time in milliseconds since the Unix epoch
//! and a set of named fields. Its leaf bytes (what the Merkle tree hashes, RFC
//! 9162 §2.1.1) are one JSON object in a *canonical* form, so that one record
//! has exactly one byte form and anyone can re-derive and check it:
//!
//! - the object holds the keys `type` (a string), `time_ms` (an integer) and
//!   one key per field;
//! - every key, at every depth, matches `[a-z0-9_]+`, so sorting keys by
//!   their bytes is the same as sorting them by UTF-16 code units as RFC 8785
//!   (JCS) §3.2.3 requires; keys are sorted that way;
//! - values are strings, integers in the range of `i64`, booleans, `null`,
//!   and arrays and objects of the same; there are no floating-point numbers
//!   (an integer is written in plain decimal, with `-` when negative);
//! - there is no whitespace outside strings;
//! - strings are escaped exactly as RFC 8785 §3.2.2.2 does: `\"`, `\\`, `\b`,
//!   `\f`, `\n`, `\r`, `\t`, every other character below U+0020 as `\u00xx`
//!   with lowercase hexadecimal digits, and every other character as itself
//!   in UTF-8.
//!
//! Within those restrictions the encoding is RFC 8785 (JCS) exactly.
//! [`Entry::from_leaf_bytes`] accepts only bytes that are already canonical,
//! so a leaf that decodes is also a leaf that re-encodes to itself.
//!
//! The format is specified for independent verifiers in
//! `docs/evidence-format.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Nesting deeper than this (objects and arrays inside fields) is refused.
pub const MAX_DEPTH: usize = 32;

/// The key of the entry type in the leaf object.
const TYPE_KEY: &str = "type";
/// The key of the entry time in the leaf object.
const TIME_KEY: &str = "time_ms";

/// Why an entry cannot be encoded, or why bytes are not a canonical entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The entry type is empty or has a character outside `[a-z0-9_.]`.
    #[error("entry type {kind:?} is not made of [a-z0-9_.]")]
    BadKind {
        /// The offending type.
        kind: String,
    },
    /// A key (at any depth) is empty or has a character outside `[a-z0-9_]`.
    #[error("key {key:?} at {path} is not made of [a-z0-9_]")]
    BadKey {
        /// The offending key.
        key: String,
        /// Where it is, e.g. `fields.detail`.
        path: String,
    },
    /// A field uses one of the names the leaf object reserves.
    #[error("field name {key:?} is reserved for the entry itself")]
    ReservedKey {
        /// `type` or `time_ms`.
        key: String,
    },
    /// A number that is not an integer.
    #[error("{path} is a floating-point number; entries hold integers only")]
    Float {
        /// Where it is.
        path: String,
    },
    /// An integer above `i64::MAX`.
    #[error("{path} is an integer outside the range of a signed 64-bit integer")]
    IntegerOutOfRange {
        /// Where it is.
        path: String,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("{path} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// Where the limit was passed.
        path: String,
    },
    /// The bytes are not JSON (or not UTF-8).
    #[error("not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// The JSON value is not an object.
    #[error("the leaf is not a JSON object")]
    NotObject,
    /// `type` is absent or not a string.
    #[error("the leaf has no string \"type\"")]
    MissingType,
    /// `time_ms` is absent or not an integer.
    #[error("the leaf has no integer \"time_ms\"")]
    MissingTime,
    /// The bytes decode, but are not the canonical encoding of what they
    /// decode to.
    #[error(
        "the leaf is not in canonical form (first difference at byte {offset}: \
         {found} where the canonical form has {expected})"
    )]
    NotCanonical {
        /// Offset of the first byte that differs from the canonical form.
        offset: usize,
        /// What the leaf has there (a quoted character, or "the end").
        found: String,
        /// What the canonical form has there.
        expected: String,
    },
}

/// One log record: a type, a time and named fields.
///
/// Facts become entries through [`crate::catalogue`]; entries read back
/// come from [`Entry::from_leaf_bytes`]. Encode one with
/// [`Entry::to_leaf_bytes`]. `non_exhaustive`, so no crate but this one
/// builds an entry from its fields: the catalogue is the only way in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The entry type, e.g. `segment.sealed` (`[a-z0-9_.]+`).
    pub kind: String,
    /// When the fact happened or was recorded: ms since the Unix epoch.
    pub time_ms: i64,
    /// The fields; keys are `[a-z0-9_]+` and never `type` or `time_ms`.
    pub fields: BTreeMap<String, Value>,
}

impl Entry {
    /// An entry with no fields yet. Only the catalogue
    /// ([`crate::catalogue`]) makes entries, so each kind has one shape.
    pub(crate) fn new(kind: impl Into<String>, time_ms: i64) -> Entry {
        Entry {
            kind: kind.into(),
            time_ms,
            fields: BTreeMap::new(),
        }
    }

    /// Sets field `key` to `value` (replacing an earlier value of the key).
    ///
    /// Nothing is checked here; [`Entry::to_leaf_bytes`] refuses what the
    /// canonical form cannot hold.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: Value) -> Entry {
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// The string field `key`, if present and a string.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// The integer field `key`, if present and an integer in `i64` range.
    pub fn int_field(&self, key: &str) -> Option<i64> {
        self.fields.get(key).and_then(Value::as_i64)
    }

    /// The canonical leaf bytes of this entry (see the module
    /// documentation), or why it has none.
    pub fn to_leaf_bytes(&self) -> Result<Vec<u8>, EntryError> {
        if self.kind.is_empty()
            || !self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        {
            return Err(EntryError::BadKind {
                kind: self.kind.clone(),
            });
        }
        // The top-level members in key order: the two reserved keys sorted
        // in among the fields (BTreeMap iterates in byte order, which is
        // code-unit order for the keys allowed).
        enum Member<'a> {
            Type,
            Time,
            Field(&'a Value),
        }
        let mut members: Vec<(&str, Member<'_>)> = Vec::with_capacity(self.fields.len() + 2);
        for (key, value) in &self.fields {
            if key == TYPE_KEY || key == TIME_KEY {
                return Err(EntryError::ReservedKey { key: key.clone() });
            }
            check_key(key, "fields")?;
            members.push((key.as_str(), Member::Field(value)));
        }
        members.push((TYPE_KEY, Member::Type));
        members.push((TIME_KEY, Member::Time));
        members.sort_by(|a, b| a.0.cmp(b.0));

        let mut out = Vec::with_capacity(64 + 32 * members.len());
        out.push(b'{');
        for (i, (key, member)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(&mut out, key);
            out.push(b':');
            match member {
                Member::Type => write_string(&mut out, &self.kind),
                Member::Time => write_integer(&mut out, self.time_ms),
                Member::Field(value) => write_value(&mut out, value, key, 1)?,
            }
        }
        out.push(b'}');
        Ok(out)
    }

    /// Decodes leaf bytes, accepting only the canonical encoding: the bytes
    /// are parsed, re-encoded, and must equal the re-encoding exactly.
    ///
    /// So whitespace, another key order, `1.0` for `1`, `\u0041` for `A`,
    /// duplicate keys or any other variation are all rejected.
    pub fn from_leaf_bytes(bytes: &[u8]) -> Result<Entry, EntryError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| EntryError::NotJson {
            reason: e.to_string(),
        })?;
        let Value::Object(map) = value else {
            return Err(EntryError::NotObject);
        };
        let mut kind = None;
        let mut time_ms = None;
        let mut fields = BTreeMap::new();
        for (key, value) in map {
            if key == TYPE_KEY {
                match value {
                    Value::String(s) => kind = Some(s),
                    _ => return Err(EntryError::MissingType),
                }
            } else if key == TIME_KEY {
                // An integer, not a float that happens to be whole: `1.0`
                // fails here rather than as non-canonical.
                match value.as_i64() {
                    Some(t) if value.is_i64() || value.is_u64() => time_ms = Some(t),
                    _ => return Err(EntryError::MissingTime),
                }
            } else {
                fields.insert(key, value);
            }
        }
        let entry = Entry {
            kind: kind.ok_or(EntryError::MissingType)?,
            time_ms: time_ms.ok_or(EntryError::MissingTime)?,
            fields,
        };
        let canonical = entry.to_leaf_bytes()?;
        if canonical != bytes {
            let offset = canonical
                .iter()
                .zip(bytes)
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| canonical.len().min(bytes.len()));
            return Err(EntryError::NotCanonical {
                offset,
                found: describe_at(bytes, offset),
                expected: describe_at(&canonical, offset),
            });
        }
        Ok(entry)
    }
}

/// A short description of the byte at `offset`, for error messages.
fn describe_at(bytes: &[u8], offset: usize) -> String {
    match bytes.get(offset) {
        None => "the end".to_owned(),
        Some(b) if b.is_ascii_graphic() || *b == b' ' => format!("{:?}", *b as char),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}

/// Checks one key against `[a-z0-9_]+`.
fn check_key(key: &str, path: &str) -> Result<(), EntryError> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(EntryError::BadKey {
            key: key.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Appends the canonical encoding of `value`, found at `path`, nested
/// `depth` levels deep.
fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    path: &str,
    depth: usize,
) -> Result<(), EntryError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match n.as_i64() {
            Some(i) if n.is_i64() || n.is_u64() => write_integer(out, i),
            _ if n.is_u64() => {
                return Err(EntryError::IntegerOutOfRange {
                    path: path.to_owned(),
                })
            }
            _ => {
                return Err(EntryError::Float {
                    path: path.to_owned(),
                })
            }
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(EntryError::TooDeep {
                    path: path.to_owned(),
                });
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, &format!("{path}[{i}]"), depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(EntryError::TooDeep {
                    path: path.to_owned(),
                });
            }
            // Sort here rather than trust the map's order: serde_json's map
            // keeps insertion order when its `preserve_order` feature is on.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                check_key(key, path)?;
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item, &format!("{path}.{key}"), depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Appends an integer in plain decimal.
fn write_integer(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(i.to_string().as_bytes());
}

/// Appends a string literal escaped as RFC 8785 §3.2.2.2 prescribes.
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut buf = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\u{08}' => buf.push_str("\\b"),
            '\u{0c}' => buf.push_str("\\f"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    out.extend_from_slice(buf.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{
        self, AnalysisEvent, AuthLogin, AuthLoginFailed, CameraState, ConfigLoaded,
        FootageExported, FootageViewed, SealedSegment, SegmentDeleted, SegmentSealed, TokenChange,
        UserCreated,
    };
    use serde_json::json;

    fn sealed() -> Entry {
        catalogue::entry(
            1_700_000_001_000,
            &SegmentSealed {
                segment: SealedSegment {
                    camera: "stacks",
                    path: "video/stacks/1700000000000.mp4",
                    start_ms: 1_700_000_000_000,
                    end_ms: 1_700_000_001_000,
                    bytes: 123_456,
                    frames: 10,
                    sha256: "ab",
                },
                recovered: None,
            },
        )
        .expect("a catalogue entry")
    }

    fn leaf_str(e: &Entry) -> String {
        String::from_utf8(e.to_leaf_bytes().expect("encodes")).expect("utf-8")
    }

    #[test]
    fn encoding_is_sorted_compact_and_exact() {
        assert_eq!(
            leaf_str(&sealed()),
            r#"{"bytes":123456,"camera":"stacks","end_ms":1700000001000,"frames":10,"path":"video/stacks/1700000000000.mp4","sha256":"ab","start_ms":1700000000000,"time_ms":1700000001000,"type":"segment.sealed"}"#
        );
        let e = Entry::new("x", -5)
            .with(
                "zz",
                json!({"b": [1, true, null, {"d": "", "c": -0}], "a": {}}),
            )
            .with("a", json!([]));
        assert_eq!(
            leaf_str(&e),
            r#"{"a":[],"time_ms":-5,"type":"x","zz":{"a":{},"b":[1,true,null,{"c":0,"d":""}]}}"#
        );
    }

    #[test]
    fn same_record_same_bytes_whatever_the_insertion_order() {
        let a = Entry::new("camera.state", 7)
            .with("state", "offline".into())
            .with("camera", "c".into())
            .with("detail", json!({"z": 1, "a": 2}));
        let mut map = serde_json::Map::new();
        map.insert("a".into(), 2.into());
        map.insert("z".into(), 1.into());
        let b = Entry::new("camera.state", 7)
            .with("detail", Value::Object(map))
            .with("camera", "c".into())
            .with("state", "offline".into());
        assert_eq!(a.to_leaf_bytes(), b.to_leaf_bytes());
    }

    #[test]
    fn round_trip_of_catalogue_entries() {
        let facts: [&dyn catalogue::Fact; 13] = [
            &SegmentDeleted {
                camera: "c",
                path: "video/c/1.mp4",
                sha256: Some("ab"),
                reason: "retention",
                by: "system",
            },
            &SegmentDeleted {
                camera: "c",
                path: "video/c/1.mp4",
                sha256: None,
                reason: "retention",
                by: "system",
            },
            &CameraState {
                camera: "c",
                at_ms: 1,
                state: "offline",
                detail: Some("connection refused"),
            },
            &CameraState {
                camera: "c",
                at_ms: 1,
                state: "recording",
                detail: None,
            },
            &ConfigLoaded {
                sha256: "00ff",
                cameras: None,
            },
            &UserCreated {
                name: "ann",
                role: "admin",
                by: "cli:root",
                rooms: None,
            },
            &TokenChange {
                id: "t1",
                user: "ann",
                by: "ann",
                revoked: false,
            },
            &TokenChange {
                id: "t1",
                user: "ann",
                by: "bob",
                revoked: true,
            },
            &FootageViewed {
                user: "ann",
                camera: "c",
                start_ms: 10,
                end_ms: 20,
                ..FootageViewed::default()
            },
            &FootageExported {
                user: "ann",
                camera: "c",
                start_ms: 10,
                end_ms: 20,
                reason: "incident \"42\"\n",
                segments: None,
            },
            &AuthLogin {
                user: "ann",
                source: "127.0.0.1",
                session: "s1",
            },
            &AuthLoginFailed {
                user: "ann",
                source: "127.0.0.1",
                reason: "wrong password",
            },
            &AnalysisEvent {
                camera: "c",
                kind: "motion",
                event: i64::MAX,
                start_ms: i64::MIN,
                end_ms: 0,
                zones: &[],
                score_milli: 0,
                snapshot_sha256: None,
            },
        ];
        let mut entries = vec![sealed()];
        for (time_ms, fact) in (1..).zip(facts) {
            entries.push(catalogue::entry(time_ms, fact).expect("a catalogue entry"));
        }
        for e in entries {
            let bytes = e.to_leaf_bytes().expect("encodes");
            assert_eq!(Entry::from_leaf_bytes(&bytes), Ok(e.clone()), "{e:?}");
        }
    }

    #[test]
    fn non_canonical_bytes_are_rejected() {
        let good = r#"{"a":1,"time_ms":5,"type":"t"}"#;
        assert!(Entry::from_leaf_bytes(good.as_bytes()).is_ok());
        let bad = [
            r#"{"a":1, "time_ms":5,"type":"t"}"#,
            r#" {"a":1,"time_ms":5,"type":"t"}"#,
            r#"{"a":1,"time_ms":5,"type":"t"} "#,
            "{\"a\":1,\"time_ms\":5,\"type\":\"t\"}\n",
            r#"{"time_ms":5,"a":1,"type":"t"}"#,
            r#"{"a":1,"a":1,"time_ms":5,"type":"t"}"#,
            r#"{"a":2,"a":1,"time_ms":5,"type":"t"}"#,
            r#"{"a":"\u0041","time_ms":5,"type":"t"}"#,
            r#"{"a":"\/","time_ms":5,"type":"t"}"#,
            r#"{"a":"\u001F","time_ms":5,"type":"t"}"#,
            r#"{"a":01,"time_ms":5,"type":"t"}"#,
            r#"{"a":-0,"time_ms":5,"type":"t"}"#,
            r#"{"a":1e0,"time_ms":5,"type":"t"}"#,
        ];
        for b in bad {
            assert!(
                matches!(
                    Entry::from_leaf_bytes(b.as_bytes()),
                    Err(EntryError::NotCanonical { .. }
                        | EntryError::NotJson { .. }
                        | EntryError::Float { .. })
                ),
                "accepted {b:?}: {:?}",
                Entry::from_leaf_bytes(b.as_bytes())
            );
        }
        // The causes are named.
        let e = Entry::from_leaf_bytes(br#"{"a":1.0,"time_ms":5,"type":"t"}"#);
        assert_eq!(e, Err(EntryError::Float { path: "a".into() }));
        let e = Entry::from_leaf_bytes(br#"{"time_ms":5.0,"type":"t"}"#);
        assert_eq!(e, Err(EntryError::MissingTime));
        let e = Entry::from_leaf_bytes(br#"{"a":1,"time_ms":5, "type":"t"}"#);
        assert!(
            matches!(e, Err(EntryError::NotCanonical { offset: 19, .. })),
            "{e:?}"
        );
        let e = Entry::from_leaf_bytes(br#"{"a":"\u0041","time_ms":5,"type":"t"}"#);
        assert!(
            matches!(e, Err(EntryError::NotCanonical { offset: 6, .. })),
            "{e:?}"
        );
        let e = Entry::from_leaf_bytes(br#"{"a":9223372036854775808,"time_ms":5,"type":"t"}"#);
        assert!(
            matches!(e, Err(EntryError::IntegerOutOfRange { .. })),
            "{e:?}"
        );
        assert_eq!(Entry::from_leaf_bytes(b"[1]"), Err(EntryError::NotObject));
        assert_eq!(
            Entry::from_leaf_bytes(br#"{"time_ms":5}"#),
            Err(EntryError::MissingType)
        );
        assert_eq!(
            Entry::from_leaf_bytes(br#"{"type":"t"}"#),
            Err(EntryError::MissingTime)
        );
        assert!(matches!(
            Entry::from_leaf_bytes(b"\xff"),
            Err(EntryError::NotJson { .. })
        ));
        assert!(matches!(
            Entry::from_leaf_bytes(b""),
            Err(EntryError::NotJson { .. })
        ));
    }

    #[test]
    fn strings_are_escaped_as_jcs_does() {
        let all_controls: String = (0u32..0x20).filter_map(char::from_u32).collect();
        let e =
            Entry::new("t", 0).with("s", format!("{all_controls}\"\\/\u{7f}é\u{2028}😀").into());
        let leaf = leaf_str(&e);
        assert_eq!(
            leaf,
            concat!(
                r#"{"s":""#,
                r#"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
                r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#,
                "\\\"\\\\/\u{7f}é\u{2028}😀",
                r#"","time_ms":0,"type":"t"}"#
            )
        );
        assert_eq!(Entry::from_leaf_bytes(leaf.as_bytes()), Ok(e));
    }

    #[test]
    fn what_the_form_cannot_hold_is_refused() {
        let float = Entry::new("t", 0).with("f", json!(1.5));
        assert_eq!(
            float.to_leaf_bytes(),
            Err(EntryError::Float { path: "f".into() })
        );
        let nested_float = Entry::new("t", 0).with("o", json!({"list": [1, 2.0]}));
        assert_eq!(
            nested_float.to_leaf_bytes(),
            Err(EntryError::Float {
                path: "o.list[1]".into()
            })
        );
        let big = Entry::new("t", 0).with("n", json!(u64::MAX));
        assert!(matches!(
            big.to_leaf_bytes(),
            Err(EntryError::IntegerOutOfRange { .. })
        ));
        for key in ["Camera", "a-b", "", "é", "a b"] {
            let e = Entry::new("t", 0).with(key, json!(1));
            assert!(
                matches!(e.to_leaf_bytes(), Err(EntryError::BadKey { .. })),
                "{key:?}"
            );
        }
        let nested_key = Entry::new("t", 0).with("o", json!({"Bad": 1}));
        assert!(matches!(
            nested_key.to_leaf_bytes(),
            Err(EntryError::BadKey { .. })
        ));
        for key in ["type", "time_ms"] {
            let e = Entry::new("t", 0).with(key, json!(1));
            assert_eq!(
                e.to_leaf_bytes(),
                Err(EntryError::ReservedKey { key: key.into() })
            );
        }
        for kind in ["", "Segment.sealed", "a b", "a/b"] {
            assert!(matches!(
                Entry::new(kind, 0).to_leaf_bytes(),
                Err(EntryError::BadKind { .. })
            ));
        }
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        let e = Entry::new("t", 0).with("d", deep);
        assert!(matches!(e.to_leaf_bytes(), Err(EntryError::TooDeep { .. })));
    }

    #[test]
    fn field_accessors() {
        let e = sealed();
        assert_eq!(e.str_field("camera"), Some("stacks"));
        assert_eq!(e.int_field("bytes"), Some(123_456));
        assert_eq!(e.str_field("bytes"), None);
        assert_eq!(e.int_field("nope"), None);
    }
}
