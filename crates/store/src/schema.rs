//! Schema migrations, tracked with `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the database from version `i` to `i + 1`. Each one is
//! applied in its own transaction together with the version bump, so a crash
//! leaves the database at a whole version. Never edit a released migration;
//! append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Context, Result, StoreError};

/// The migrations in order. All times are wall-clock milliseconds since the
/// Unix epoch; booleans are 0/1 integers.
pub(crate) const MIGRATIONS: &[&str] = &[
    // Version 1: the initial schema.
    r#"
CREATE TABLE segments (
    -- Row id; other tables and the HTTP API refer to segments by it.
    id            INTEGER PRIMARY KEY,
    -- Camera name from the site configuration; the unit of retention.
    camera        TEXT    NOT NULL,
    -- File path relative to the data directory, so the directory can move.
    path          TEXT    NOT NULL UNIQUE,
    -- Wall-clock time of the first frame; orders and locates footage.
    start_ms      INTEGER NOT NULL,
    -- End of the last frame (start_ms while empty); bounds the segment.
    end_ms        INTEGER NOT NULL,
    -- File size so far; retention by disk quota sums it.
    bytes         INTEGER NOT NULL,
    -- Number of frames so far; shows whether a segment holds anything.
    frames        INTEGER NOT NULL,
    -- Lower-hex SHA-256 of the sealed file; the custody fingerprint.
    sha256        TEXT,
    -- Life cycle; 'deleting' marks a deletion begun but not yet confirmed.
    state         TEXT    NOT NULL
                  CHECK (state IN ('recording','sealed','deleting','deleted','missing')),
    -- Evidence hold: 1 means retention must never delete the file.
    hold          INTEGER NOT NULL DEFAULT 0 CHECK (hold IN (0, 1)),
    -- RFC 6381 codec string (e.g. avc1.640028); lets players pick a decoder.
    codec         TEXT    NOT NULL,
    -- Coded picture width in pixels, when known; shown to viewers.
    width         INTEGER,
    -- Coded picture height in pixels, when known; shown to viewers.
    height        INTEGER,
    -- 1 when sealed by crash recovery rather than by the recorder.
    recovered     INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
    -- When the segment was sealed; part of the custody record.
    sealed_ms     INTEGER,
    -- When deletion began (while 'deleting'), then when the file was
    -- confirmed gone (once 'deleted'); part of the custody record.
    deleted_ms    INTEGER,
    -- Why the segment was deleted (e.g. 'age', 'quota'); custody record.
    delete_reason TEXT
);
-- Playback and retention look segments up by camera and time.
CREATE INDEX segments_camera_start ON segments (camera, start_ms);
-- Recovery and retention scan segments by state.
CREATE INDEX segments_state ON segments (state);

CREATE TABLE camera_states (
    -- Row id; orders changes logged in the same millisecond.
    id      INTEGER PRIMARY KEY,
    -- Camera name from the site configuration.
    camera  TEXT    NOT NULL,
    -- When the camera entered the state.
    at_ms   INTEGER NOT NULL,
    -- The state entered; explains gaps in the footage.
    state   TEXT    NOT NULL CHECK (state IN ('connecting','recording','offline')),
    -- Free-form reason (e.g. the connection error) for the operator.
    detail  TEXT
);
-- Timelines read a camera's changes over a time range.
CREATE INDEX camera_states_camera_at ON camera_states (camera, at_ms);

CREATE TABLE users (
    -- Row id; tokens refer to users by it.
    id            INTEGER PRIMARY KEY,
    -- Login name; unique ignoring ASCII case so 'Alice' cannot shadow 'alice'.
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- What the user may do.
    role          TEXT    NOT NULL CHECK (role IN ('admin','auditor','archivist','viewer')),
    -- PHC string of the password hash; hashing is done by the caller.
    password_hash TEXT    NOT NULL,
    -- When the user was created; part of the audit trail.
    created_ms    INTEGER NOT NULL,
    -- 1 blocks login and token use without deleting the user's history.
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);

CREATE TABLE tokens (
    -- Short public id chosen by the caller; names the token in lists and logs.
    id            TEXT    PRIMARY KEY,
    -- The user the token acts as.
    user_id       INTEGER NOT NULL REFERENCES users (id),
    -- Free-form note on what the token is for.
    label         TEXT,
    -- Lower-hex SHA-256 of the secret; the secret itself is never stored.
    secret_sha256 TEXT    NOT NULL UNIQUE,
    -- When the token was created; part of the audit trail.
    created_ms    INTEGER NOT NULL,
    -- When the token was revoked; revoked tokens stay for the audit trail.
    revoked_ms    INTEGER,
    -- When the token last authenticated a request; finds stale tokens.
    last_used_ms  INTEGER
);
-- Listing a user's tokens.
CREATE INDEX tokens_user ON tokens (user_id);
"#,
    // Version 2: the way into the site's Merkle log, and its checkpoints.
    r#"
CREATE TABLE log_outbox (
    -- Order in which the facts were committed; the log keeps this order.
    id         INTEGER PRIMARY KEY,
    -- The entry's canonical bytes (the Merkle leaf), written in the same
    -- transaction as the fact it records, so a fact is never committed
    -- without its log entry.
    leaf       BLOB    NOT NULL,
    -- When the fact was committed.
    created_ms INTEGER NOT NULL
);

CREATE TABLE log_state (
    -- A single row (id = 1).
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    -- Log size after the last outbox batch whose rows were removed; with
    -- the log's own size it tells how many outbox rows a crash left behind
    -- that are already in the log.
    applied_size  INTEGER NOT NULL
);

CREATE TABLE checkpoints (
    -- Tree size the checkpoint commits to; every checkpoint is kept.
    tree_size  INTEGER PRIMARY KEY,
    -- The whole C2SP signed note (checkpoint body and signatures).
    note       TEXT    NOT NULL,
    -- When it was signed.
    created_ms INTEGER NOT NULL
);
"#,
    // Version 3: an index of the log's entries, so finding the entries about
    // a camera or a file does not mean reading the whole log.
    r#"
CREATE TABLE log_entries (
    -- The entry's index in the log (its leaf number, from 0).
    idx     INTEGER PRIMARY KEY,
    -- Entry type, e.g. 'segment.sealed'.
    kind    TEXT    NOT NULL,
    -- The entry's own time.
    time_ms INTEGER NOT NULL,
    -- Its 'camera' field, if it has one.
    camera  TEXT,
    -- Its 'path' field (segment entries), if it has one.
    path    TEXT,
    -- Its 'at_ms' field (camera state changes), if it has one.
    at_ms   INTEGER
);
-- Segment entries by file.
CREATE INDEX log_entries_path ON log_entries (path) WHERE path IS NOT NULL;
-- A camera's entries of one kind over time.
CREATE INDEX log_entries_camera ON log_entries (camera, kind, time_ms) WHERE camera IS NOT NULL;
"#,
    // Version 4: sign-in sessions (browser cookies).
    r#"
CREATE TABLE sessions (
    -- Short public id; names the session in logs and lists.
    id            TEXT    PRIMARY KEY,
    -- Who signed in.
    user_id       INTEGER NOT NULL REFERENCES users (id),
    -- Lower-hex SHA-256 of the cookie secret; the secret is never stored.
    secret_sha256 TEXT    NOT NULL UNIQUE,
    -- When the user signed in.
    created_ms    INTEGER NOT NULL,
    -- Absolute end of the session, however active it is.
    expires_ms    INTEGER NOT NULL,
    -- Last request made with it (updated at most once a minute); a session
    -- idle for longer than the server's idle limit no longer works.
    last_seen_ms  INTEGER NOT NULL,
    -- When it was ended by signing out (or by an administrator).
    ended_ms      INTEGER,
    -- Client address at sign-in.
    source        TEXT    NOT NULL
);
-- A user's sessions.
CREATE INDEX sessions_user ON sessions (user_id);
"#,
    // Version 5: what analysis saw.
    r#"
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    -- The camera it was seen on.
    camera          TEXT    NOT NULL,
    -- 'motion', 'tamper.covered', 'tamper.defocused', 'tamper.moved',
    -- 'tamper.frozen' or 'camera.offline'.
    kind            TEXT    NOT NULL,
    -- When it started and ended (ms since the epoch); end is NULL while it
    -- lasts.
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER,
    -- JSON array of the names of the zones it touched.
    zones           TEXT    NOT NULL DEFAULT '[]',
    -- How strong the evidence was, 0..1 (the highest seen).
    score           REAL    NOT NULL,
    -- The JPEG of its most telling frame, relative to the data directory,
    -- and the SHA-256 of that file.
    snapshot        TEXT,
    snapshot_sha256 TEXT
);
-- A camera's events over time, and one kind's.
CREATE INDEX events_camera_start ON events (camera, start_ms);
CREATE INDEX events_kind_start ON events (kind, start_ms);
"#,
    // Version 6: the custody register, custody events, alerts, inventories
    // and the notification outbox. Codes (location codes, barcodes, staff
    // ids) are the keys people type and scan, so they are the primary keys.
    r#"
CREATE TABLE locations (
    -- Short code, e.g. 'R1' or 'R1-S04'; printed on shelves.
    code          TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    -- 'room', 'shelf', 'reading_table' or 'other'.
    kind          TEXT    NOT NULL,
    -- The room that contains a shelf or table: its cameras see it too.
    room          TEXT    REFERENCES locations (code),
    -- JSON array of {"camera","zone"} that see this location.
    coverage      TEXT    NOT NULL DEFAULT '[]',
    -- Retired locations stay for history but take no new items.
    retired       INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE TABLE people (
    -- Staff or reader id.
    staff_id      TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    -- 'staff', 'researcher', 'contractor' or 'other'.
    role          TEXT    NOT NULL,
    -- Badge code scanned at the desk, unique when present.
    badge         TEXT    UNIQUE,
    retired       INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE TABLE items (
    -- The barcode on the item or box.
    barcode       TEXT    PRIMARY KEY,
    title         TEXT    NOT NULL,
    -- Archival reference code (fonds/series/file).
    reference     TEXT    NOT NULL,
    classification TEXT   NOT NULL,
    -- Where it belongs, and where it is now when in place.
    home_location TEXT    NOT NULL REFERENCES locations (code),
    location      TEXT    NOT NULL REFERENCES locations (code),
    -- 'in_place', 'out' or 'disposed'; items are never deleted.
    status        TEXT    NOT NULL,
    -- Who holds it while out, and when it is due back.
    holder        TEXT    REFERENCES people (staff_id),
    due_ms        INTEGER,
    disposed_reason TEXT,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
-- Items out and overdue; items at a location (inventories).
CREATE INDEX items_status_due ON items (status, due_ms);
CREATE INDEX items_location ON items (location);
CREATE TABLE custody_events (
    id            INTEGER PRIMARY KEY,
    barcode       TEXT    NOT NULL REFERENCES items (barcode),
    -- 'check_out', 'check_in', 'transfer', 'view', 'copy', 'move',
    -- 'inventory_seen' or 'disposal'.
    action        TEXT    NOT NULL,
    -- When it happened (as recorded; the footage window is around it).
    at_ms         INTEGER NOT NULL,
    -- The signed-in user who recorded it.
    recorded_by   TEXT    NOT NULL,
    -- The person the action concerns (taker, viewer, copier), if any.
    person        TEXT    REFERENCES people (staff_id),
    -- Who holds the item after it.
    holder        TEXT    REFERENCES people (staff_id),
    -- Where it happened, when known: the location whose cameras count.
    location      TEXT    REFERENCES locations (code),
    -- The action as recorded, JSON (due time, reason, …).
    details       TEXT    NOT NULL,
    -- JSON array of the cameras that cover `location` at recording time.
    cameras       TEXT    NOT NULL DEFAULT '[]',
    -- Set once the footage window has passed and was checked: 1 when no
    -- camera recorded it.
    footage_checked INTEGER NOT NULL DEFAULT 0,
    no_footage    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX custody_events_item ON custody_events (barcode, at_ms);
CREATE INDEX custody_events_time ON custody_events (at_ms);
CREATE INDEX custody_events_person ON custody_events (person, at_ms);
CREATE INDEX custody_events_unchecked ON custody_events (at_ms) WHERE footage_checked = 0;
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    -- 'item.overdue', 'custody.after_hours', 'motion.after_hours',
    -- 'custody.no_footage', 'tamper.*', 'camera.offline', 'disk.nearly_full'.
    kind          TEXT    NOT NULL,
    -- What the alert is about, so one condition raises one alert while it
    -- is not resolved (e.g. 'item:B123', 'event:42', 'camera:stacks').
    subject_key   TEXT    NOT NULL,
    -- One line for lists and notifications.
    summary       TEXT    NOT NULL,
    camera        TEXT,
    barcode       TEXT,
    -- JSON with the facts that raised it.
    details       TEXT    NOT NULL,
    -- 'open', 'acknowledged' or 'resolved'.
    state         TEXT    NOT NULL,
    raised_ms     INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
-- At most one unresolved alert per condition.
CREATE UNIQUE INDEX alerts_unresolved ON alerts (kind, subject_key) WHERE state != 'resolved';
CREATE INDEX alerts_state ON alerts (state, raised_ms);
CREATE TABLE alert_changes (
    alert_id      INTEGER NOT NULL REFERENCES alerts (id),
    at_ms         INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    -- User name, or 'custos' for the rules engine.
    by            TEXT    NOT NULL,
    note          TEXT
);
CREATE INDEX alert_changes_alert ON alert_changes (alert_id, at_ms);
CREATE TABLE inventories (
    id            INTEGER PRIMARY KEY,
    location      TEXT    NOT NULL REFERENCES locations (code),
    started_ms    INTEGER NOT NULL,
    started_by    TEXT    NOT NULL,
    closed_ms     INTEGER,
    closed_by     TEXT,
    -- JSON report written when it is closed.
    report        TEXT
);
CREATE TABLE inventory_scans (
    inventory_id  INTEGER NOT NULL REFERENCES inventories (id),
    barcode       TEXT    NOT NULL,
    at_ms         INTEGER NOT NULL,
    by            TEXT    NOT NULL,
    PRIMARY KEY (inventory_id, barcode)
);
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    -- Destination name from the configuration.
    destination   TEXT    NOT NULL,
    -- 'alert' or 'camera_state'.
    kind          TEXT    NOT NULL,
    camera        TEXT,
    subject       TEXT    NOT NULL,
    -- JSON body as delivered.
    body          TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    -- 'pending', 'delivered' or 'failed' (permanent error).
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error    TEXT,
    delivered_ms  INTEGER
);
CREATE INDEX notifications_due ON notifications (next_attempt_ms) WHERE state = 'pending';
CREATE TABLE notification_attempts (
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    at_ms         INTEGER NOT NULL,
    ok            INTEGER NOT NULL,
    -- The receiver's answer or the error.
    detail        TEXT    NOT NULL
);
CREATE INDEX notification_attempts_id ON notification_attempts (notification_id, at_ms);
-- How far each rule has read a growing table (events, custody events,
-- camera states), advanced in the transaction that acts on what it read,
-- so each row is acted on exactly once across restarts.
CREATE TABLE rule_cursors (
    name          TEXT    PRIMARY KEY,
    last_id       INTEGER NOT NULL
);
-- Events still going on (tampering, offline), found without a scan.
CREATE INDEX events_open ON events (kind) WHERE end_ms IS NULL;
"#,
    // 7: the rooms whose footage an archivist may see.
    r#"
CREATE TABLE user_rooms (
    user_id       INTEGER NOT NULL REFERENCES users (id),
    -- A location (usually a room); its cameras, and those of the places in
    -- it, are the archivist's.
    location      TEXT    NOT NULL REFERENCES locations (code),
    PRIMARY KEY (user_id, location)
) WITHOUT ROWID;
"#,
    // 8: pictures the recorder dropped, with the reason (each also a
    // `recording.loss` log entry; the rules raise alerts from these rows).
    r#"
CREATE TABLE recording_losses (
    id            INTEGER PRIMARY KEY,
    camera        TEXT    NOT NULL,
    -- 'clock_jump', 'write_error', 'lost_in_transit' or 'frame_too_large'.
    reason        TEXT    NOT NULL,
    -- How many pictures.
    pictures      INTEGER NOT NULL,
    -- Wall-clock ms when the first and the last of them arrived.
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER NOT NULL,
    -- What went wrong, in words (an error message, the clock's times).
    detail        TEXT    NOT NULL
);
CREATE INDEX recording_losses_camera ON recording_losses (camera, start_ms);
"#,
    // 9: witnesses that co-sign the site's checkpoints, and what they
    // co-signed.
    r#"
CREATE TABLE witnesses (
    -- How the site names it: 'central' for the central office it enrolled
    -- with, else the name of its [[witness]] table.
    name          TEXT    PRIMARY KEY,
    -- Its pinned key, 'name+hexid+base64(0x04 || key)' (C2SP
    -- tlog-cosignature): only cosignatures by this key are accepted.
    key           TEXT    NOT NULL,
    -- The URL prefix 'add-checkpoint' is sent under.
    url           TEXT    NOT NULL,
    -- 'central' (answered at enrolment) or 'config' (given in the file).
    pinned_by     TEXT    NOT NULL CHECK (pinned_by IN ('central', 'config')),
    -- When it was pinned (or its key or URL last changed).
    pinned_ms     INTEGER NOT NULL,
    -- For 'central': the office's URL and the site's name there.
    central_url   TEXT,
    central_site  TEXT,
    -- The size of the largest checkpoint this key co-signed (0: none yet).
    cosigned_size INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE cosignatures (
    -- The checkpoint co-signed.
    tree_size     INTEGER NOT NULL REFERENCES checkpoints (tree_size),
    -- The witness key's 'name+hexid'.
    witness_key   TEXT    NOT NULL,
    -- The cosignature line(s), as appended to the checkpoint's note.
    line          TEXT    NOT NULL,
    -- The cosignature's own time (signed by the witness), seconds since
    -- the Unix epoch.
    timestamp     INTEGER NOT NULL,
    -- When the site received it.
    received_ms   INTEGER NOT NULL,
    PRIMARY KEY (tree_size, witness_key)
) WITHOUT ROWID;
"#,
    // 10: the central office's TLS certificate, pinned at enrolment by its
    // SHA-256 fingerprint (hex), so no other certificate is trusted for it.
    r#"
ALTER TABLE witnesses ADD COLUMN tls_fingerprint TEXT;
"#,
    // 11: footage escrow: the sealed segments copied to the escrow bucket.
    r#"
CREATE TABLE segment_escrow (
    segment_id    INTEGER PRIMARY KEY REFERENCES segments (id),
    -- The object's full name in the bucket.
    object        TEXT    NOT NULL,
    -- What the store answered for it, when it did.
    etag          TEXT,
    -- 'verified': read back from the bucket, and its SHA-256 matched.
    state         TEXT    NOT NULL CHECK (state IN ('verified')),
    at_ms         INTEGER NOT NULL
);
-- The alerts about a camera by time: the footage windows escrow wants.
CREATE INDEX alerts_camera_raised ON alerts (camera, raised_ms);
-- A segment's upload in parts, while it is under way: what a restart
-- needs to carry on without sending the parts already stored again.
CREATE TABLE escrow_uploads (
    segment_id    INTEGER PRIMARY KEY REFERENCES segments (id),
    -- The object's name under the site's prefix.
    object        TEXT    NOT NULL,
    -- The store's id of the upload.
    upload_id     TEXT    NOT NULL,
    -- Bytes per part (the last may be shorter).
    part_size     INTEGER NOT NULL,
    -- JSON array of the stored parts' ETags, in order.
    parts         TEXT    NOT NULL DEFAULT '[]',
    started_ms    INTEGER NOT NULL
);
"#,
];

/// The schema version this build creates and expects.
pub(crate) fn current_version() -> u32 {
    // The list is tiny; a failed conversion would be a build-time absurdity.
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}

/// Reads `PRAGMA user_version`.
pub(crate) fn read_version(conn: &Connection) -> Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0))
        .context(|| "reading the schema version".to_owned())
}

/// Applies every migration the database has not seen yet.
///
/// Each step takes the write lock first (`BEGIN IMMEDIATE`) and re-reads the
/// version inside the transaction, so two processes opening the same fresh
/// file at once cannot both apply a step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let target = current_version();
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(|| "starting a migration transaction".to_owned())?;
        let version = read_version(&tx)?;
        if version > target {
            return Err(StoreError::Schema(format!(
                "database schema version {version} is newer than this build supports \
                 ({target}); upgrade Custos"
            )));
        }
        if version == target {
            // Nothing to do; dropping the transaction rolls back the no-op.
            return Ok(());
        }
        let next = version + 1;
        let sql = MIGRATIONS
            .get(version as usize)
            .ok_or_else(|| StoreError::Schema(format!("no migration to version {next}")))?;
        tx.execute_batch(sql)
            .context(|| format!("applying schema migration to version {next}"))?;
        tx.pragma_update(None, "user_version", next)
            .context(|| format!("setting the schema version to {next}"))?;
        tx.commit()
            .context(|| format!("committing schema migration to version {next}"))?;
        tracing::info!(version = next, "applied database schema migration");
    }
}
