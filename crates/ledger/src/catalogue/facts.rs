//! One type per kind of fact: each writes its fields, in the order and
//! form the log has always held them, for [`super::leaf`] to check against
//! its kind's [`KindSpec`].

use serde_json::Value;

use super::{spec, Fact, Fields, KindSpec};

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

/// `segment.escrowed`: a sealed segment's bytes were copied to the escrow
/// bucket and read back whole: `object` is its name there, `etag` what the
/// store answered, `reason` why it went when it did (`custody`, `alert`
/// or `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEscrowed<'a> {
    pub camera: &'a str,
    pub path: &'a str,
    pub sha256: &'a str,
    pub object: &'a str,
    pub etag: Option<&'a str>,
    pub reason: &'a str,
}

impl Fact for SegmentEscrowed<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::SEGMENT_ESCROWED
    }
    fn write(&self, out: &mut Fields) {
        out.put("camera", self.camera);
        out.put("path", self.path);
        out.put("sha256", self.sha256);
        out.put("object", self.object);
        out.put("etag", self.etag);
        out.put("reason", self.reason);
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

/// `central.enrolled`: the site enrolled with the central office at `url`,
/// which knows it as `site`, and pinned the witness key it answered with:
/// from then on only cosignatures by `witness_key` are accepted. When the
/// centre already knew the site by another log key (a new box, its data
/// lost), `rotation` says which key this log's replaces, which admin at the
/// centre allowed it and why: the rotation is logged on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentralEnrolled<'a> {
    pub url: &'a str,
    pub site: &'a str,
    pub witness_key: &'a str,
    pub witness_url: &'a str,
    pub rotation: Option<KeyRotation<'a>>,
}

/// A site's log key replaced at the centre, by an admin's one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRotation<'a> {
    /// The key the centre pinned before.
    pub replaces_key: &'a str,
    /// The admin who issued the code.
    pub rotated_by: &'a str,
    /// Why, in their words.
    pub reason: &'a str,
}

impl Fact for CentralEnrolled<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CENTRAL_ENROLLED
    }
    fn write(&self, out: &mut Fields) {
        out.put("url", self.url);
        out.put("site", self.site);
        out.put("witness_key", self.witness_key);
        out.put("witness_url", self.witness_url);
        out.put_some("replaces_key", self.rotation.map(|r| r.replaces_key));
        out.put_some("rotated_by", self.rotation.map(|r| r.rotated_by));
        out.put_some("reason", self.rotation.map(|r| r.reason));
    }
}

/// `witness.refused`: witness `witness` refused to co-sign the checkpoint
/// of size `tree_size` with HTTP `status` (422: it holds the log's history
/// to be inconsistent with what it co-signed before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessRefused<'a> {
    pub witness: &'a str,
    pub tree_size: u64,
    pub status: u16,
    pub reason: &'a str,
}

impl Fact for WitnessRefused<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::WITNESS_REFUSED
    }
    fn write(&self, out: &mut Fields) {
        out.put("witness", self.witness);
        out.put("tree_size", self.tree_size);
        out.put("status", self.status);
        out.put("reason", self.reason);
    }
}

/// `central.tls_pinned`: the site now trusts only the central office's
/// certificates of these SHA-256 `fingerprints` (comma-separated), which
/// the centre named in a report's answer over a connection that trusted
/// only the `previous` ones: how a site follows the centre to a new
/// certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentralTlsPinned<'a> {
    pub url: &'a str,
    pub fingerprints: &'a str,
    pub previous: &'a str,
}

impl Fact for CentralTlsPinned<'_> {
    fn spec(&self) -> &'static KindSpec {
        &spec::CENTRAL_TLS_PINNED
    }
    fn write(&self, out: &mut Fields) {
        out.put("url", self.url);
        out.put("fingerprints", self.fingerprints);
        out.put("previous", self.previous);
    }
}
