//! The catalogue of log entries: every kind of fact the site logs, each
//! with its name, the fields it may write and a type that writes them.
//!
//! A fact becomes leaf bytes only through [`leaf`] (or an [`Entry`] through
//! [`entry`]), which checks what the fact wrote against its kind's
//! [`KindSpec`]: a field the catalogue does not declare, or a required one
//! left out, is an error, so the declared fields (which
//! `docs/evidence-format.md` §2.3 documents, a test checks) are exactly
//! what the log can hold.
//!
//! Optional fields are of two sorts, each as the log has always written
//! them: a field that is always written may hold `null` (`detail` of
//! `camera.state`); a field declared optional is left out when it does not
//! apply (`role` of `footage.viewed`).

use serde_json::Value;

use crate::entry::{Entry, EntryError};

/// The name of every entry type, spelt once.
pub mod kind {
    pub const SEGMENT_SEALED: &str = "segment.sealed";
    pub const SEGMENT_DELETED: &str = "segment.deleted";
    pub const SEGMENT_HELD: &str = "segment.held";
    pub const SEGMENT_RELEASED: &str = "segment.released";
    pub const SEGMENT_MISSING: &str = "segment.missing";
    pub const SEGMENT_ESCROWED: &str = "segment.escrowed";
    pub const CAMERA_STATE: &str = "camera.state";
    pub const RECORDING_LOSS: &str = "recording.loss";
    pub const RECORDING_CLOCK_RESET: &str = "recording.clock_reset";
    pub const CONFIG_LOADED: &str = "config.loaded";
    pub const CONFIG_CHANGED: &str = "config.changed";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_CHANGED: &str = "user.changed";
    pub const TOKEN_CREATED: &str = "token.created";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const FOOTAGE_VIEWED: &str = "footage.viewed";
    pub const FOOTAGE_EXPORTED: &str = "footage.exported";
    pub const EVIDENCE_DOWNLOADED: &str = "evidence.downloaded";
    pub const AUTH_LOGIN: &str = "auth.login";
    pub const AUTH_LOGIN_FAILED: &str = "auth.login_failed";
    pub const AUTH_LOGOUT: &str = "auth.logout";
    pub const ANALYSIS_STARTED: &str = "analysis.started";
    pub const ANALYSIS_EVENT: &str = "analysis.event";
    pub const REGISTER_LOCATION: &str = "register.location";
    pub const REGISTER_PERSON: &str = "register.person";
    pub const REGISTER_ITEM: &str = "register.item";
    pub const REGISTER_IMPORT: &str = "register.import";
    pub const CUSTODY_EVENT: &str = "custody.event";
    pub const INVENTORY_STARTED: &str = "inventory.started";
    pub const INVENTORY_CLOSED: &str = "inventory.closed";
    pub const ALERT_RAISED: &str = "alert.raised";
    pub const ALERT_CHANGED: &str = "alert.changed";
    pub const ALERT_UPDATED: &str = "alert.updated";
    pub const CENTRAL_ENROLLED: &str = "central.enrolled";
    pub const WITNESS_REFUSED: &str = "witness.refused";
    pub const CENTRAL_TLS_PINNED: &str = "central.tls_pinned";
}

/// One field a kind may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in the leaf object.
    pub name: &'static str,
    /// Whether entries of the kind may leave it out.
    pub optional: bool,
}

/// A kind of entry: its name and every field it may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// The entry type, one of [`kind`].
    pub kind: &'static str,
    /// The fields, required and optional.
    pub fields: &'static [FieldSpec],
}

const fn req(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        optional: false,
    }
}

const fn opt(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        optional: true,
    }
}

/// The fields of each kind, as `docs/evidence-format.md` §2.3 lists them.
pub mod spec {
    use super::{kind, opt, req, KindSpec};

    pub const SEGMENT_SEALED: KindSpec = KindSpec {
        kind: kind::SEGMENT_SEALED,
        fields: &[
            req("camera"),
            req("path"),
            req("start_ms"),
            req("end_ms"),
            req("bytes"),
            req("frames"),
            req("sha256"),
            opt("recovered"),
        ],
    };
    pub const SEGMENT_DELETED: KindSpec = KindSpec {
        kind: kind::SEGMENT_DELETED,
        fields: &[
            req("camera"),
            req("path"),
            req("sha256"),
            req("reason"),
            req("by"),
        ],
    };
    pub const SEGMENT_HELD: KindSpec = KindSpec {
        kind: kind::SEGMENT_HELD,
        fields: &[req("camera"), req("path"), req("by")],
    };
    pub const SEGMENT_RELEASED: KindSpec = KindSpec {
        kind: kind::SEGMENT_RELEASED,
        fields: SEGMENT_HELD.fields,
    };
    pub const SEGMENT_MISSING: KindSpec = KindSpec {
        kind: kind::SEGMENT_MISSING,
        fields: &[req("camera"), req("path"), req("sha256")],
    };
    pub const SEGMENT_ESCROWED: KindSpec = KindSpec {
        kind: kind::SEGMENT_ESCROWED,
        fields: &[
            req("camera"),
            req("path"),
            req("sha256"),
            req("object"),
            req("etag"),
            req("reason"),
        ],
    };
    pub const CAMERA_STATE: KindSpec = KindSpec {
        kind: kind::CAMERA_STATE,
        fields: &[req("camera"), req("at_ms"), req("state"), req("detail")],
    };
    pub const RECORDING_LOSS: KindSpec = KindSpec {
        kind: kind::RECORDING_LOSS,
        fields: &[
            req("camera"),
            req("reason"),
            req("pictures"),
            req("start_ms"),
            req("end_ms"),
            req("at_ms"),
            req("detail"),
        ],
    };
    pub const RECORDING_CLOCK_RESET: KindSpec = KindSpec {
        kind: kind::RECORDING_CLOCK_RESET,
        fields: &[req("camera"), req("at_ms"), req("from_pts"), req("to_pts")],
    };
    pub const CONFIG_LOADED: KindSpec = KindSpec {
        kind: kind::CONFIG_LOADED,
        fields: &[req("sha256"), opt("cameras")],
    };
    pub const CONFIG_CHANGED: KindSpec = KindSpec {
        kind: kind::CONFIG_CHANGED,
        fields: &[
            req("by"),
            req("section"),
            req("old_sha256"),
            req("new_sha256"),
        ],
    };
    pub const USER_CREATED: KindSpec = KindSpec {
        kind: kind::USER_CREATED,
        fields: &[req("name"), req("role"), req("by"), opt("rooms")],
    };
    pub const USER_CHANGED: KindSpec = KindSpec {
        kind: kind::USER_CHANGED,
        fields: &[
            req("name"),
            req("by"),
            req("password_changed"),
            opt("role"),
            opt("disabled"),
            opt("rooms"),
            opt("unlocked"),
            opt("locked_until_ms"),
        ],
    };
    pub const TOKEN_CREATED: KindSpec = KindSpec {
        kind: kind::TOKEN_CREATED,
        fields: &[req("id"), req("user"), req("by")],
    };
    /// `user` is optional: the log's first version wrote none; Custos
    /// has written it ever since.
    pub const TOKEN_REVOKED: KindSpec = KindSpec {
        kind: kind::TOKEN_REVOKED,
        fields: &[req("id"), req("by"), opt("user")],
    };
    pub const FOOTAGE_VIEWED: KindSpec = KindSpec {
        kind: kind::FOOTAGE_VIEWED,
        fields: &[
            req("user"),
            req("camera"),
            req("start_ms"),
            req("end_ms"),
            opt("role"),
            opt("live"),
            opt("thumbnail"),
            opt("download"),
            opt("event"),
        ],
    };
    pub const FOOTAGE_EXPORTED: KindSpec = KindSpec {
        kind: kind::FOOTAGE_EXPORTED,
        fields: &[
            req("user"),
            req("camera"),
            req("start_ms"),
            req("end_ms"),
            req("reason"),
            opt("segments"),
        ],
    };
    pub const EVIDENCE_DOWNLOADED: KindSpec = KindSpec {
        kind: kind::EVIDENCE_DOWNLOADED,
        fields: &[req("user"), req("role"), req("export")],
    };
    pub const AUTH_LOGIN: KindSpec = KindSpec {
        kind: kind::AUTH_LOGIN,
        fields: &[req("user"), req("ok"), req("source"), req("session")],
    };
    pub const AUTH_LOGIN_FAILED: KindSpec = KindSpec {
        kind: kind::AUTH_LOGIN_FAILED,
        fields: &[req("user"), req("ok"), req("source"), req("reason")],
    };
    pub const AUTH_LOGOUT: KindSpec = KindSpec {
        kind: kind::AUTH_LOGOUT,
        fields: &[req("user"), req("session")],
    };
    pub const ANALYSIS_STARTED: KindSpec = KindSpec {
        kind: kind::ANALYSIS_STARTED,
        fields: &[
            req("camera"),
            req("kind"),
            req("start_ms"),
            req("zones"),
            req("score_milli"),
        ],
    };
    pub const ANALYSIS_EVENT: KindSpec = KindSpec {
        kind: kind::ANALYSIS_EVENT,
        fields: &[
            req("camera"),
            req("kind"),
            req("event"),
            req("start_ms"),
            req("end_ms"),
            req("zones"),
            req("score_milli"),
            req("snapshot_sha256"),
        ],
    };
    pub const REGISTER_LOCATION: KindSpec = KindSpec {
        kind: kind::REGISTER_LOCATION,
        fields: &[
            req("change"),
            req("by"),
            req("code"),
            req("name"),
            req("kind"),
            req("room"),
            req("coverage"),
            req("retired"),
        ],
    };
    pub const REGISTER_PERSON: KindSpec = KindSpec {
        kind: kind::REGISTER_PERSON,
        fields: &[
            req("change"),
            req("by"),
            req("staff_id"),
            req("name"),
            req("role"),
            req("badge"),
            req("retired"),
        ],
    };
    pub const REGISTER_ITEM: KindSpec = KindSpec {
        kind: kind::REGISTER_ITEM,
        fields: &[
            req("change"),
            req("by"),
            req("barcode"),
            req("title"),
            req("reference"),
            req("classification"),
            req("home_location"),
            req("location"),
            req("status"),
            req("holder"),
            req("due_ms"),
            req("disposed_reason"),
        ],
    };
    pub const REGISTER_IMPORT: KindSpec = KindSpec {
        kind: kind::REGISTER_IMPORT,
        fields: &[req("by"), req("kind"), req("rows"), req("sha256")],
    };
    pub const CUSTODY_EVENT: KindSpec = KindSpec {
        kind: kind::CUSTODY_EVENT,
        fields: &[
            req("event"),
            req("barcode"),
            req("action"),
            req("at_ms"),
            req("by"),
            req("person"),
            req("holder"),
            req("location"),
            req("details"),
            req("cameras"),
        ],
    };
    pub const INVENTORY_STARTED: KindSpec = KindSpec {
        kind: kind::INVENTORY_STARTED,
        fields: &[req("inventory"), req("location"), req("by")],
    };
    pub const INVENTORY_CLOSED: KindSpec = KindSpec {
        kind: kind::INVENTORY_CLOSED,
        fields: &[req("inventory"), req("location"), req("by"), req("report")],
    };
    pub const ALERT_RAISED: KindSpec = KindSpec {
        kind: kind::ALERT_RAISED,
        fields: &[
            req("alert"),
            req("kind"),
            req("subject"),
            req("summary"),
            req("camera"),
            req("barcode"),
            req("details"),
        ],
    };
    pub const ALERT_CHANGED: KindSpec = KindSpec {
        kind: kind::ALERT_CHANGED,
        fields: &[
            req("alert"),
            req("kind"),
            req("state"),
            req("by"),
            req("note"),
        ],
    };
    pub const ALERT_UPDATED: KindSpec = KindSpec {
        kind: kind::ALERT_UPDATED,
        fields: &[req("alert"), req("kind"), req("summary"), req("details")],
    };
    pub const CENTRAL_ENROLLED: KindSpec = KindSpec {
        kind: kind::CENTRAL_ENROLLED,
        fields: &[
            req("url"),
            req("site"),
            req("witness_key"),
            req("witness_url"),
            opt("replaces_key"),
            opt("rotated_by"),
            opt("reason"),
        ],
    };
    pub const WITNESS_REFUSED: KindSpec = KindSpec {
        kind: kind::WITNESS_REFUSED,
        fields: &[
            req("witness"),
            req("tree_size"),
            req("status"),
            req("reason"),
        ],
    };
    pub const CENTRAL_TLS_PINNED: KindSpec = KindSpec {
        kind: kind::CENTRAL_TLS_PINNED,
        fields: &[req("url"), req("fingerprints"), req("previous")],
    };
}

/// Every kind of the catalogue.
pub const CATALOGUE: &[KindSpec] = &[
    spec::SEGMENT_SEALED,
    spec::SEGMENT_DELETED,
    spec::SEGMENT_HELD,
    spec::SEGMENT_RELEASED,
    spec::SEGMENT_MISSING,
    spec::SEGMENT_ESCROWED,
    spec::CAMERA_STATE,
    spec::RECORDING_LOSS,
    spec::RECORDING_CLOCK_RESET,
    spec::CONFIG_LOADED,
    spec::CONFIG_CHANGED,
    spec::USER_CREATED,
    spec::USER_CHANGED,
    spec::TOKEN_CREATED,
    spec::TOKEN_REVOKED,
    spec::FOOTAGE_VIEWED,
    spec::FOOTAGE_EXPORTED,
    spec::EVIDENCE_DOWNLOADED,
    spec::AUTH_LOGIN,
    spec::AUTH_LOGIN_FAILED,
    spec::AUTH_LOGOUT,
    spec::ANALYSIS_STARTED,
    spec::ANALYSIS_EVENT,
    spec::REGISTER_LOCATION,
    spec::REGISTER_PERSON,
    spec::REGISTER_ITEM,
    spec::REGISTER_IMPORT,
    spec::CUSTODY_EVENT,
    spec::INVENTORY_STARTED,
    spec::INVENTORY_CLOSED,
    spec::ALERT_RAISED,
    spec::ALERT_CHANGED,
    spec::ALERT_UPDATED,
    spec::CENTRAL_ENROLLED,
    spec::WITNESS_REFUSED,
    spec::CENTRAL_TLS_PINNED,
];

/// Why a fact has no leaf bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    /// A value the canonical form cannot hold (a float in `details`, …).
    #[error("encoding the {kind} entry: {error}")]
    Encode {
        /// The entry type.
        kind: &'static str,
        /// What the encoder refused.
        #[source]
        error: EntryError,
    },
    /// The fact wrote a field its kind does not declare.
    #[error("the {kind} entry has no field {field:?} in the catalogue")]
    Undeclared {
        /// The entry type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The fact left out a field its kind requires, or wrote one twice.
    #[error("the {kind} entry must write field {field:?} exactly once")]
    Required {
        /// The entry type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
}

/// The fields one fact writes, in the order it writes them.
#[derive(Debug, Default)]
pub struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    /// Writes `name`.
    pub fn put(&mut self, name: &'static str, value: impl Into<Value>) {
        self.0.push((name, value.into()));
    }

    /// Writes `name` when there is a value; leaves it out otherwise.
    pub fn put_some(&mut self, name: &'static str, value: Option<impl Into<Value>>) {
        if let Some(v) = value {
            self.put(name, v);
        }
    }

    /// Writes `name: true` when `flag` holds; leaves it out otherwise.
    pub fn put_flag(&mut self, name: &'static str, flag: bool) {
        if flag {
            self.put(name, true);
        }
    }
}

/// A fact of the catalogue.
pub trait Fact {
    /// Its kind (for some types, which of two kinds depends on the fact).
    fn spec(&self) -> &'static KindSpec;
    /// Writes its fields.
    fn write(&self, out: &mut Fields);
}

/// The entry of `fact` logged at `time_ms`, checked against its kind's
/// fields (not yet encoded: [`leaf`] also encodes it).
pub fn entry(time_ms: i64, fact: &dyn Fact) -> Result<Entry, LeafError> {
    let spec = fact.spec();
    let mut fields = Fields::default();
    fact.write(&mut fields);
    let mut entry = Entry::new(spec.kind, time_ms);
    for (name, value) in fields.0 {
        if !spec.fields.iter().any(|f| f.name == name) {
            return Err(LeafError::Undeclared {
                kind: spec.kind,
                field: name,
            });
        }
        if entry.fields.insert(name.to_owned(), value).is_some() {
            return Err(LeafError::Required {
                kind: spec.kind,
                field: name,
            });
        }
    }
    if let Some(missing) = spec
        .fields
        .iter()
        .find(|f| !f.optional && !entry.fields.contains_key(f.name))
    {
        return Err(LeafError::Required {
            kind: spec.kind,
            field: missing.name,
        });
    }
    Ok(entry)
}

/// The canonical leaf bytes of `fact` logged at `time_ms`: the one way a
/// fact goes into the log.
pub fn leaf(time_ms: i64, fact: &dyn Fact) -> Result<Vec<u8>, LeafError> {
    let entry = entry(time_ms, fact)?;
    entry.to_leaf_bytes().map_err(|error| LeafError::Encode {
        kind: fact.spec().kind,
        error,
    })
}

mod facts;
pub use facts::*;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Required and optional field names of one kind.
    type Fields2 = (BTreeSet<String>, BTreeSet<String>);

    /// Drops parenthesised text (nesting counted) and what follows the
    /// first em dash: neither names a field.
    fn field_text(cell: &str) -> String {
        let cell = cell.split(" — ").next().unwrap_or("");
        let mut depth = 0usize;
        let mut out = String::new();
        for c in cell.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// The backquoted words of `text` made of `[a-z0-9_.]`.
    fn quoted(text: &str) -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.".contains(&b))
            })
            .map(str::to_owned)
            .collect()
    }

    /// The table of §2.3 of the evidence format: each kind with its
    /// required and optional fields (those after "optionally").
    fn documented(doc: &str) -> BTreeMap<String, Fields2> {
        let section = doc
            .split("\n### 2.3 ")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("§2.3 in docs/evidence-format.md");
        let mut kinds = BTreeMap::new();
        for line in section.lines() {
            let cells: Vec<&str> = line.split(" | ").collect();
            if cells.len() != 2 || !line.starts_with("| `") {
                continue;
            }
            let text = field_text(cells[1].trim_end_matches(" |"));
            let (required, optional) = match text.split_once("optionally") {
                Some((r, o)) => (r.to_owned(), o.to_owned()),
                None => (text.clone(), String::new()),
            };
            let fields: Fields2 = (
                quoted(&required).into_iter().collect(),
                quoted(&optional).into_iter().collect(),
            );
            for kind in quoted(cells[0]) {
                assert!(
                    kinds.insert(kind.clone(), fields.clone()).is_none(),
                    "{kind} is in the table twice"
                );
            }
        }
        kinds
    }

    fn catalogued() -> BTreeMap<String, Fields2> {
        let mut kinds = BTreeMap::new();
        for spec in CATALOGUE {
            let names = |optional: bool| {
                spec.fields
                    .iter()
                    .filter(|f| f.optional == optional)
                    .map(|f| f.name.to_owned())
                    .collect()
            };
            assert!(
                kinds
                    .insert(spec.kind.to_owned(), (names(false), names(true)))
                    .is_none(),
                "{} is in the catalogue twice",
                spec.kind
            );
        }
        kinds
    }

    #[test]
    fn the_evidence_format_documents_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/evidence-format.md");
        let doc = std::fs::read_to_string(path).expect("reading docs/evidence-format.md");
        let documented = documented(&doc);
        let catalogued = catalogued();
        assert!(
            documented.len() > 20,
            "the table was not found: {documented:?}"
        );
        for kind in documented.keys() {
            assert!(
                catalogued.contains_key(kind),
                "{kind} is documented but not in the catalogue"
            );
        }
        for (kind, (required, optional)) in &catalogued {
            let Some((doc_required, doc_optional)) = documented.get(kind) else {
                panic!("{kind} is in the catalogue but not documented in §2.3");
            };
            assert_eq!(
                doc_required, required,
                "{kind}: the required fields documented differ from the catalogue's"
            );
            assert_eq!(
                doc_optional, optional,
                "{kind}: the optional fields documented differ from the catalogue's"
            );
        }
    }

    fn leaf_str(time_ms: i64, fact: &dyn Fact) -> String {
        String::from_utf8(leaf(time_ms, fact).expect("encodes")).expect("UTF-8")
    }

    /// The four shapes `footage.viewed` has always had, byte for byte.
    #[test]
    fn footage_viewed_keeps_each_shape() {
        let base = FootageViewed {
            user: "ann",
            camera: "gate",
            start_ms: 10,
            end_ms: 20,
            role: Some("viewer"),
            ..FootageViewed::default()
        };
        // Recorded video, played and downloaded.
        assert_eq!(
            leaf_str(5, &base),
            r#"{"camera":"gate","end_ms":20,"role":"viewer","start_ms":10,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
        let download = FootageViewed {
            download: true,
            ..base
        };
        assert_eq!(
            leaf_str(5, &download),
            r#"{"camera":"gate","download":true,"end_ms":20,"role":"viewer","start_ms":10,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
        // Live video and live thumbnails.
        let live = FootageViewed { live: true, ..base };
        assert_eq!(
            leaf_str(5, &live),
            r#"{"camera":"gate","end_ms":20,"live":true,"role":"viewer","start_ms":10,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
        let thumbnail = FootageViewed {
            thumbnail: true,
            ..live
        };
        assert_eq!(
            leaf_str(5, &thumbnail),
            r#"{"camera":"gate","end_ms":20,"live":true,"role":"viewer","start_ms":10,"thumbnail":true,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
        // An event's snapshot.
        let snapshot = FootageViewed {
            event: Some(42),
            ..base
        };
        assert_eq!(
            leaf_str(5, &snapshot),
            r#"{"camera":"gate","end_ms":20,"event":42,"role":"viewer","start_ms":10,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
        // Without a role (entries written before roles were logged).
        let bare = FootageViewed { role: None, ..base };
        assert_eq!(
            leaf_str(5, &bare),
            r#"{"camera":"gate","end_ms":20,"start_ms":10,"time_ms":5,"type":"footage.viewed","user":"ann"}"#
        );
    }

    #[test]
    fn optional_fields_are_left_out_or_null_as_the_kind_says() {
        let changed = UserChanged {
            name: "bob",
            by: "ann",
            password_changed: false,
            role: None,
            disabled: None,
            rooms: None,
            unlocked_until_ms: Some(99),
        };
        assert_eq!(
            leaf_str(1, &changed),
            r#"{"by":"ann","locked_until_ms":99,"name":"bob","password_changed":false,"time_ms":1,"type":"user.changed","unlocked":true}"#
        );
        let state = CameraState {
            camera: "c",
            at_ms: 0,
            state: "recording",
            detail: None,
        };
        assert_eq!(
            leaf_str(1, &state),
            r#"{"at_ms":0,"camera":"c","detail":null,"state":"recording","time_ms":1,"type":"camera.state"}"#
        );
        let hold = SegmentHold {
            camera: "c",
            path: "p",
            by: "ann",
            held: false,
        };
        assert_eq!(entry(1, &hold).expect("entry").kind, kind::SEGMENT_RELEASED);
    }

    /// A fact that writes what its kind does not declare, or leaves out
    /// what it requires, has no leaf.
    #[test]
    fn what_the_kind_does_not_declare_is_refused() {
        struct Stray(&'static str, bool);
        impl Fact for Stray {
            fn spec(&self) -> &'static KindSpec {
                &spec::AUTH_LOGOUT
            }
            fn write(&self, out: &mut Fields) {
                out.put("user", "ann");
                if self.1 {
                    out.put(self.0, "x");
                }
            }
        }
        assert_eq!(leaf(0, &Stray("session", true)).map(|_| ()), Ok(()));
        assert_eq!(
            leaf(0, &Stray("nope", true)),
            Err(LeafError::Undeclared {
                kind: kind::AUTH_LOGOUT,
                field: "nope"
            })
        );
        assert_eq!(
            leaf(0, &Stray("user", true)),
            Err(LeafError::Required {
                kind: kind::AUTH_LOGOUT,
                field: "user"
            })
        );
        assert_eq!(
            leaf(0, &Stray("", false)),
            Err(LeafError::Required {
                kind: kind::AUTH_LOGOUT,
                field: "session"
            })
        );
        let float = serde_json::json!({"ratio": 0.5});
        let alert = AlertUpdated {
            alert: 1,
            kind: "disk.nearly_full",
            summary: "s",
            details: &float,
        };
        assert!(matches!(
            leaf(0, &alert),
            Err(LeafError::Encode {
                kind: kind::ALERT_UPDATED,
                error: EntryError::Float { .. }
            })
        ));
    }
}
