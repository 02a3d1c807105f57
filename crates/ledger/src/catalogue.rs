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
}

/// Every kind of the catalogue.
pub const CATALOGUE: &[KindSpec] = &[
    spec::SEGMENT_SEALED,
    spec::SEGMENT_DELETED,
    spec::SEGMENT_HELD,
    spec::SEGMENT_RELEASED,
    spec::SEGMENT_MISSING,
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

/// `segment.sealed`: a segment file was closed; its bytes are final and
/// `sha256` is their custody fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSealed<'a> {
    pub segment: SealedSegment<'a>,
    /// Whether crash recovery, not the recorder, sealed it (left out when
    /// not said).
    pub recovered: Option<bool>,
}

/// The facts about a sealed segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedSegment<'a> {
    /// The camera's id.
    pub camera: &'a str,
    /// The file's path relative to the site's data directory.
    pub path: &'a str,
    /// Wall-clock time of the first frame, ms since the Unix epoch.
    pub start_ms: i64,
    /// Wall-clock time at which the last frame ends.
    pub end_ms: i64,
    /// The file's length in bytes.
    pub bytes: u64,
    /// How many frames it holds.
    pub frames: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: &'a str,
}

impl Fact for SegmentSealed<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::SEGMENT_SEALED
    }
    fn write(&self, out: &mut Fields) {
        let s = &self.segment;
        out.put("camera", s.camera);
        out.put("path", s.path);
        out.put("start_ms", s.start_ms);
        out.put("end_ms", s.end_ms);
        out.put("bytes", s.bytes);
        out.put("frames", s.frames);
        out.put("sha256", s.sha256);
        out.put_some("recovered", self.recovered);
    }
}

/// `segment.deleted`: the tombstone of a segment whose bytes were deleted
/// (its `segment.sealed` entry stays); `sha256` is `null` when it was never
/// sealed with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentDeleted<'a> {
    pub camera: &'a str,
    pub path: &'a str,
    pub sha256: Option<&'a str>,
    pub reason: &'a str,
    pub by: &'a str,
}

impl Fact for SegmentDeleted<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::SEGMENT_DELETED
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("path", self.path);
        out.put("sha256", self.sha256);
        out.put("reason", self.reason);
        out.put("by", self.by);
    }
}

/// `segment.held` (when `held`) or `segment.released`: a hold placed on, or
/// released from, a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHold<'a> {
    pub camera: &'a str,
    pub path: &'a str,
    pub by: &'a str,
    pub held: bool,
}

impl Fact for SegmentHold<'_> {
    fn spec(&self) -> &'static KindSpec {
        if self.held {
            &spec::SEGMENT_HELD
        } else {
            &spec::SEGMENT_RELEASED
        }
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("path", self.path);
        out.put("by", self.by);
    }
}

/// `segment.missing`: a segment's file was found missing at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMissing<'a> {
    pub camera: &'a str,
    pub path: &'a str,
    pub sha256: Option<&'a str>,
}

impl Fact for SegmentMissing<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::SEGMENT_MISSING
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("path", self.path);
        out.put("sha256", self.sha256);
    }
}

/// `camera.state`: the camera's recorder changed state (`connecting`,
/// `recording`, `offline`) at `at_ms`; `detail` says why, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraState<'a> {
    pub camera: &'a str,
    pub at_ms: i64,
    pub state: &'a str,
    pub detail: Option<&'a str>,
}

impl Fact for CameraState<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CAMERA_STATE
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("at_ms", self.at_ms);
        out.put("state", self.state);
        out.put("detail", self.detail);
    }
}

/// `recording.loss`: the recorder dropped `pictures` pictures of `camera`
/// for `reason` between `start_ms` and `end_ms` (when the first and the
/// last arrived); `at_ms` repeats `start_ms`, the moment the log's index
/// files the entry under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingLoss<'a> {
    pub camera: &'a str,
    /// `clock_jump`, `write_error`, `lost_in_transit` or `frame_too_large`.
    pub reason: &'a str,
    pub pictures: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub detail: &'a str,
}

impl Fact for RecordingLoss<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::RECORDING_LOSS
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("reason", self.reason);
        out.put("pictures", self.pictures);
        out.put("start_ms", self.start_ms);
        out.put("end_ms", self.end_ms);
        out.put("at_ms", self.start_ms);
        out.put("detail", self.detail);
    }
}

/// `recording.clock_reset`: `camera`'s clock jumped at `at_ms` from
/// presentation time `from_pts` to `to_pts` (90 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingClockReset<'a> {
    pub camera: &'a str,
    pub at_ms: i64,
    pub from_pts: i64,
    pub to_pts: i64,
}

impl Fact for RecordingClockReset<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::RECORDING_CLOCK_RESET
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("at_ms", self.at_ms);
        out.put("from_pts", self.from_pts);
        out.put("to_pts", self.to_pts);
    }
}

/// `config.loaded`: the site started with the configuration file whose
/// bytes have this SHA-256, with `cameras` cameras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigLoaded<'a> {
    pub sha256: &'a str,
    pub cameras: Option<u64>,
}

impl Fact for ConfigLoaded<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CONFIG_LOADED
    }
    fn write(&self, out: &mut Fields) {
        out.put("sha256", self.sha256);
        out.put_some("cameras", self.cameras);
    }
}

/// `config.changed`: `by` changed `section` of the configuration file over
/// the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigChanged<'a> {
    pub by: &'a str,
    pub section: &'a str,
    pub old_sha256: &'a str,
    pub new_sha256: &'a str,
}

impl Fact for ConfigChanged<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CONFIG_CHANGED
    }
    fn write(&self, out: &mut Fields) {
        out.put("by", self.by);
        out.put("section", self.section);
        out.put("old_sha256", self.old_sha256);
        out.put("new_sha256", self.new_sha256);
    }
}

/// `user.created`: user `name` with `role` was created by `by`, seeing the
/// footage of `rooms` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCreated<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub by: &'a str,
    pub rooms: Option<&'a [String]>,
}

impl Fact for UserCreated<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::USER_CREATED
    }
    fn write(&self, out: &mut Fields) {
        out.put("name", self.name);
        out.put("role", self.role);
        out.put("by", self.by);
        out.put_some("rooms", self.rooms);
    }
}

/// `user.changed`: what `by` changed of user `name`; an unlock names when
/// the lock would have ended (`unlocked_until_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserChanged<'a> {
    pub name: &'a str,
    pub by: &'a str,
    pub password_changed: bool,
    pub role: Option<&'a str>,
    pub disabled: Option<bool>,
    pub rooms: Option<&'a [String]>,
    /// Set when an admin ended a sign-in lock: when it would have ended.
    pub unlocked_until_ms: Option<i64>,
}

impl Fact for UserChanged<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::USER_CHANGED
    }
    fn write(&self, out: &mut Fields) {
        out.put("name", self.name);
        out.put("by", self.by);
        out.put("password_changed", self.password_changed);
        out.put_some("role", self.role);
        out.put_some("disabled", self.disabled);
        out.put_some("rooms", self.rooms);
        if let Some(until) = self.unlocked_until_ms {
            out.put("unlocked", true);
            out.put("locked_until_ms", until);
        }
    }
}

/// `token.created` (or, with `revoked`, `token.revoked`): API token `id`
/// of `user`, issued or revoked by `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenChange<'a> {
    pub id: &'a str,
    pub user: &'a str,
    pub by: &'a str,
    pub revoked: bool,
}

impl Fact for TokenChange<'_> {
    fn spec(&self) -> &'static KindSpec {
        if self.revoked {
            &spec::TOKEN_REVOKED
        } else {
            &spec::TOKEN_CREATED
        }
    }
    fn write(&self, out: &mut Fields) {
        out.put("id", self.id);
        out.put("user", self.user);
        out.put("by", self.by);
    }
}

/// `footage.viewed`: `user` saw `camera`'s pictures of a span: recorded
/// video (played, or saved with `download`), live video (`live`), live
/// thumbnails (`live` and `thumbnail`) or an event's snapshot (`event`).
/// The flags are written only when true, `role` and `event` only when
/// known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FootageViewed<'a> {
    pub user: &'a str,
    pub camera: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub role: Option<&'a str>,
    pub live: bool,
    pub thumbnail: bool,
    pub download: bool,
    pub event: Option<i64>,
}

impl Fact for FootageViewed<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::FOOTAGE_VIEWED
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("camera", self.camera);
        out.put("start_ms", self.start_ms);
        out.put("end_ms", self.end_ms);
        out.put_some("role", self.role);
        out.put_flag("live", self.live);
        out.put_flag("thumbnail", self.thumbnail);
        out.put_flag("download", self.download);
        out.put_some("event", self.event);
    }
}

/// `footage.exported`: `user` exported `camera`'s recording of a span as an
/// evidence bundle of `segments` files, for `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FootageExported<'a> {
    pub user: &'a str,
    pub camera: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub reason: &'a str,
    pub segments: Option<u64>,
}

impl Fact for FootageExported<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::FOOTAGE_EXPORTED
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("camera", self.camera);
        out.put("start_ms", self.start_ms);
        out.put("end_ms", self.end_ms);
        out.put("reason", self.reason);
        out.put_some("segments", self.segments);
    }
}

/// `evidence.downloaded`: `user` downloaded the bundle of export `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceDownloaded<'a> {
    pub user: &'a str,
    pub role: &'a str,
    pub export: &'a str,
}

impl Fact for EvidenceDownloaded<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::EVIDENCE_DOWNLOADED
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("role", self.role);
        out.put("export", self.export);
    }
}

/// `auth.login`: `user` signed in from `source`, starting `session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLogin<'a> {
    pub user: &'a str,
    pub source: &'a str,
    pub session: &'a str,
}

impl Fact for AuthLogin<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::AUTH_LOGIN
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("ok", true);
        out.put("source", self.source);
        out.put("session", self.session);
    }
}

/// `auth.login_failed`: a sign-in as `user` from `source` was refused for
/// `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLoginFailed<'a> {
    pub user: &'a str,
    pub source: &'a str,
    pub reason: &'a str,
}

impl Fact for AuthLoginFailed<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::AUTH_LOGIN_FAILED
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("ok", false);
        out.put("source", self.source);
        out.put("reason", self.reason);
    }
}

/// `auth.logout`: `user` ended `session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLogout<'a> {
    pub user: &'a str,
    pub session: &'a str,
}

impl Fact for AuthLogout<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::AUTH_LOGOUT
    }
    fn write(&self, out: &mut Fields) {
        out.put("user", self.user);
        out.put("session", self.session);
    }
}

/// `analysis.started`: an event of `kind` began on `camera`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisStarted<'a> {
    pub camera: &'a str,
    pub kind: &'a str,
    pub start_ms: i64,
    pub zones: &'a [String],
    /// The score in thousandths (entries hold no floating point).
    pub score_milli: i64,
}

impl Fact for AnalysisStarted<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::ANALYSIS_STARTED
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("kind", self.kind);
        out.put("start_ms", self.start_ms);
        out.put("zones", self.zones);
        out.put("score_milli", self.score_milli);
    }
}

/// `analysis.event`: event `event` of `kind` on `camera` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisEvent<'a> {
    pub camera: &'a str,
    pub kind: &'a str,
    pub event: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub zones: &'a [String],
    /// The highest score seen, in thousandths.
    pub score_milli: i64,
    pub snapshot_sha256: Option<&'a str>,
}

impl Fact for AnalysisEvent<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::ANALYSIS_EVENT
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("kind", self.kind);
        out.put("event", self.event);
        out.put("start_ms", self.start_ms);
        out.put("end_ms", self.end_ms);
        out.put("zones", self.zones);
        out.put("score_milli", self.score_milli);
        out.put("snapshot_sha256", self.snapshot_sha256);
    }
}

/// `register.location`: a location as it stands after `change` by `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterLocation<'a> {
    pub change: &'a str,
    pub by: &'a str,
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub room: Option<&'a str>,
    /// Array of `{"camera","zone"}`.
    pub coverage: &'a Value,
    pub retired: bool,
}

impl Fact for RegisterLocation<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::REGISTER_LOCATION
    }
    fn write(&self, out: &mut Fields) {
        out.put("change", self.change);
        out.put("by", self.by);
        out.put("code", self.code);
        out.put("name", self.name);
        out.put("kind", self.kind);
        out.put("room", self.room);
        out.put("coverage", self.coverage.clone());
        out.put("retired", self.retired);
    }
}

/// `register.person`: a person as they stand after `change` by `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterPerson<'a> {
    pub change: &'a str,
    pub by: &'a str,
    pub staff_id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub badge: Option<&'a str>,
    pub retired: bool,
}

impl Fact for RegisterPerson<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::REGISTER_PERSON
    }
    fn write(&self, out: &mut Fields) {
        out.put("change", self.change);
        out.put("by", self.by);
        out.put("staff_id", self.staff_id);
        out.put("name", self.name);
        out.put("role", self.role);
        out.put("badge", self.badge);
        out.put("retired", self.retired);
    }
}

/// `register.item`: an item as it stands after `change` by `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterItem<'a> {
    pub change: &'a str,
    pub by: &'a str,
    pub barcode: &'a str,
    pub title: &'a str,
    pub reference: &'a str,
    pub classification: &'a str,
    pub home_location: &'a str,
    pub location: &'a str,
    pub status: &'a str,
    pub holder: Option<&'a str>,
    pub due_ms: Option<i64>,
    pub disposed_reason: Option<&'a str>,
}

impl Fact for RegisterItem<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::REGISTER_ITEM
    }
    fn write(&self, out: &mut Fields) {
        out.put("change", self.change);
        out.put("by", self.by);
        out.put("barcode", self.barcode);
        out.put("title", self.title);
        out.put("reference", self.reference);
        out.put("classification", self.classification);
        out.put("home_location", self.home_location);
        out.put("location", self.location);
        out.put("status", self.status);
        out.put("holder", self.holder);
        out.put("due_ms", self.due_ms);
        out.put("disposed_reason", self.disposed_reason);
    }
}

/// `register.import`: `by` imported `rows` rows of `kind` from a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterImport<'a> {
    pub by: &'a str,
    pub kind: &'a str,
    pub rows: u64,
    pub sha256: &'a str,
}

impl Fact for RegisterImport<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::REGISTER_IMPORT
    }
    fn write(&self, out: &mut Fields) {
        out.put("by", self.by);
        out.put("kind", self.kind);
        out.put("rows", self.rows);
        out.put("sha256", self.sha256);
    }
}

/// `custody.event`: custody event `event` (`action` on `barcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodyEvent<'a> {
    pub event: i64,
    pub barcode: &'a str,
    pub action: &'a str,
    pub at_ms: i64,
    pub by: &'a str,
    pub person: Option<&'a str>,
    pub holder: Option<&'a str>,
    pub location: Option<&'a str>,
    /// The action as recorded.
    pub details: &'a Value,
    /// Array of `{"camera","zone"}` covering the location.
    pub cameras: &'a Value,
}

impl Fact for CustodyEvent<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CUSTODY_EVENT
    }
    fn write(&self, out: &mut Fields) {
        out.put("event", self.event);
        out.put("barcode", self.barcode);
        out.put("action", self.action);
        out.put("at_ms", self.at_ms);
        out.put("by", self.by);
        out.put("person", self.person);
        out.put("holder", self.holder);
        out.put("location", self.location);
        out.put("details", self.details.clone());
        out.put("cameras", self.cameras.clone());
    }
}

/// `inventory.started`: `by` started inventory `inventory` of `location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryStarted<'a> {
    pub inventory: i64,
    pub location: &'a str,
    pub by: &'a str,
}

impl Fact for InventoryStarted<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::INVENTORY_STARTED
    }
    fn write(&self, out: &mut Fields) {
        out.put("inventory", self.inventory);
        out.put("location", self.location);
        out.put("by", self.by);
    }
}

/// `inventory.closed`: `by` closed inventory `inventory` with `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryClosed<'a> {
    pub inventory: i64,
    pub location: &'a str,
    pub by: &'a str,
    pub report: &'a Value,
}

impl Fact for InventoryClosed<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::INVENTORY_CLOSED
    }
    fn write(&self, out: &mut Fields) {
        out.put("inventory", self.inventory);
        out.put("location", self.location);
        out.put("by", self.by);
        out.put("report", self.report.clone());
    }
}

/// `alert.raised`: alert `alert` of `kind` about `subject` was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRaised<'a> {
    pub alert: i64,
    pub kind: &'a str,
    pub subject: &'a str,
    pub summary: &'a str,
    pub camera: Option<&'a str>,
    pub barcode: Option<&'a str>,
    pub details: &'a Value,
}

impl Fact for AlertRaised<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::ALERT_RAISED
    }
    fn write(&self, out: &mut Fields) {
        out.put("alert", self.alert);
        out.put("kind", self.kind);
        out.put("subject", self.subject);
        out.put("summary", self.summary);
        out.put("camera", self.camera);
        out.put("barcode", self.barcode);
        out.put("details", self.details.clone());
    }
}

/// `alert.changed`: `by` moved alert `alert` to `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertChanged<'a> {
    pub alert: i64,
    pub kind: &'a str,
    pub state: &'a str,
    pub by: &'a str,
    pub note: Option<&'a str>,
}

impl Fact for AlertChanged<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::ALERT_CHANGED
    }
    fn write(&self, out: &mut Fields) {
        out.put("alert", self.alert);
        out.put("kind", self.kind);
        out.put("state", self.state);
        out.put("by", self.by);
        out.put("note", self.note);
    }
}

/// `alert.updated`: what unresolved alert `alert` says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertUpdated<'a> {
    pub alert: i64,
    pub kind: &'a str,
    pub summary: &'a str,
    pub details: &'a Value,
}

impl Fact for AlertUpdated<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::ALERT_UPDATED
    }
    fn write(&self, out: &mut Fields) {
        out.put("alert", self.alert);
        out.put("kind", self.kind);
        out.put("summary", self.summary);
        out.put("details", self.details.clone());
    }
}

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
