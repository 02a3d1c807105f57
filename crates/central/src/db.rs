//! The centre's PostgreSQL: a connection pool and the schema's migrations.
//!
//! Migrations run under a transaction-scoped advisory lock, so several
//! processes starting together apply each one exactly once.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::{now_ms, CentralError};

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`. Never edit
/// one that has shipped; add another.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sites (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE,
    created_ms         BIGINT  NOT NULL,
    -- SHA-256 of the one-time enrolment code; NULL once used.
    enrol_code_sha256  BYTEA UNIQUE,
    enrol_expires_ms   BIGINT,
    -- The site's log verifier key, pinned at enrolment; its name is the
    -- log's origin, which checkpoints are looked up by.
    log_key            TEXT,
    origin             TEXT UNIQUE,
    enrolled_ms        BIGINT,
    -- Set when the site sent a signed checkpoint inconsistent with what was
    -- co-signed before: no more co-signing until an auditor acts.
    suspended_ms       BIGINT,
    suspended_reason   TEXT,
    -- Counts the histories an auditor accepted afresh after a rewrite; the
    -- co-signed checkpoints of earlier ones stay, under their own epoch.
    witness_epoch      INTEGER NOT NULL DEFAULT 0
);

-- Per site, the latest checkpoint co-signed (C2SP tlog-witness state). It
-- changes only by `UPDATE ... WHERE size = <old>`, so two witness processes
-- never both advance it from the same size.
CREATE TABLE witness_latest (
    site_id      BIGINT PRIMARY KEY REFERENCES sites(id),
    size         BIGINT NOT NULL,
    root         BYTEA  NOT NULL,
    cosigned_ms  BIGINT NOT NULL
);

-- Every checkpoint co-signed, with the cosignature: what the centre can
-- later hold a site's history against.
CREATE TABLE witness_checkpoints (
    site_id      BIGINT NOT NULL REFERENCES sites(id),
    epoch        INTEGER NOT NULL,
    size         BIGINT NOT NULL,
    root         BYTEA  NOT NULL,
    note         TEXT   NOT NULL,
    cosigned_ms  BIGINT NOT NULL,
    PRIMARY KEY (site_id, epoch, size)
);

-- Checkpoints refused for being signed but inconsistent, or signed by a
-- key the centre does not know for the site: evidence, kept.
CREATE TABLE witness_refusals (
    id           BIGSERIAL PRIMARY KEY,
    site_id      BIGINT NOT NULL REFERENCES sites(id),
    received_ms  BIGINT NOT NULL,
    status       INTEGER NOT NULL,
    reason       TEXT   NOT NULL,
    request      TEXT   NOT NULL
);
CREATE INDEX witness_refusals_by_site ON witness_refusals (site_id, received_ms);

CREATE TABLE alerts (
    id               BIGSERIAL PRIMARY KEY,
    site_id          BIGINT NOT NULL REFERENCES sites(id),
    kind             TEXT   NOT NULL,
    detail           TEXT   NOT NULL,
    raised_ms        BIGINT NOT NULL,
    last_ms          BIGINT NOT NULL,
    occurrences      BIGINT NOT NULL DEFAULT 1,
    acknowledged_ms  BIGINT,
    acknowledged_by  TEXT,
    resolved_ms      BIGINT,
    resolved_by      TEXT
);
-- At most one open alert of a kind per site; a repeat counts on it.
CREATE UNIQUE INDEX alerts_open ON alerts (site_id, kind) WHERE resolved_ms IS NULL;

-- What administrators and auditors did, and enrolments.
CREATE TABLE audit (
    id       BIGSERIAL PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    actor    TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    site_id  BIGINT REFERENCES sites(id),
    detail   TEXT   NOT NULL
);
"#,
    r#"
-- Version 2: what each site last reported of its state.
CREATE TABLE site_reports (
    site_id      BIGINT PRIMARY KEY REFERENCES sites(id),
    -- The sequence number of the report; a report is accepted only above it.
    seq          BIGINT NOT NULL,
    sent_ms      BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    -- The report's JSON, as the site signed it.
    health       TEXT   NOT NULL
);
-- How long a site may stay silent before site.silent is raised.
ALTER TABLE sites ADD COLUMN silent_after_ms BIGINT NOT NULL DEFAULT 300000;
"#,
    r#"
-- Version 3: a mirror of each site's log, and what the centre reads in it.
-- The right edge of the mirrored tree (ledger::merkle::Frontier bytes) and
-- the largest size at which it matched a co-signed checkpoint.
ALTER TABLE sites ADD COLUMN mirror_frontier BYTEA;
ALTER TABLE sites ADD COLUMN mirror_verified BIGINT NOT NULL DEFAULT 0;
CREATE TABLE site_entries (
    site_id  BIGINT  NOT NULL REFERENCES sites(id),
    epoch    INTEGER NOT NULL,
    idx      BIGINT  NOT NULL,
    kind     TEXT    NOT NULL,
    time_ms  BIGINT  NOT NULL,
    leaf     BYTEA   NOT NULL,
    PRIMARY KEY (site_id, epoch, idx)
);
-- The sites' own alerts, as their logs tell them; log_index is the entry
-- that last changed the row.
CREATE TABLE site_alerts (
    site_id    BIGINT  NOT NULL REFERENCES sites(id),
    epoch      INTEGER NOT NULL,
    alert      BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    camera     TEXT,
    state      TEXT    NOT NULL,
    raised_ms  BIGINT  NOT NULL,
    updated_ms BIGINT  NOT NULL,
    log_index  BIGINT  NOT NULL,
    PRIMARY KEY (site_id, epoch, alert)
);
CREATE INDEX site_alerts_unresolved ON site_alerts (state) WHERE state <> 'resolved';
CREATE TABLE site_alert_changes (
    site_id    BIGINT  NOT NULL REFERENCES sites(id),
    epoch      INTEGER NOT NULL,
    alert      BIGINT  NOT NULL,
    log_index  BIGINT  NOT NULL,
    at_ms      BIGINT  NOT NULL,
    state      TEXT    NOT NULL,
    by_whom    TEXT    NOT NULL,
    note       TEXT,
    PRIMARY KEY (site_id, epoch, log_index)
);
-- Alert changes people made at the centre, until the site carried them out.
CREATE TABLE site_alert_actions (
    id            BIGSERIAL PRIMARY KEY,
    site_id       BIGINT  NOT NULL REFERENCES sites(id),
    alert         BIGINT  NOT NULL,
    state         TEXT    NOT NULL,
    by_whom       TEXT    NOT NULL,
    note          TEXT,
    created_ms    BIGINT  NOT NULL,
    done_ms       BIGINT
);
CREATE INDEX site_alert_actions_pending ON site_alert_actions (site_id) WHERE done_ms IS NULL;
-- Custody events of every site: where items are, who handled them.
CREATE TABLE site_custody (
    site_id    BIGINT  NOT NULL REFERENCES sites(id),
    epoch      INTEGER NOT NULL,
    log_index  BIGINT  NOT NULL,
    event      BIGINT  NOT NULL,
    barcode    TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    at_ms      BIGINT  NOT NULL,
    by_whom    TEXT    NOT NULL,
    person     TEXT,
    holder     TEXT,
    location   TEXT,
    cameras    TEXT    NOT NULL,
    PRIMARY KEY (site_id, epoch, log_index)
);
CREATE INDEX site_custody_barcode ON site_custody (barcode, at_ms);
CREATE INDEX site_custody_person ON site_custody (person, at_ms);
"#,
    r#"
-- Version 4: what a site alert is about, so the register can tell which
-- custody events have no footage (custody.no_footage about custody:<event>).
ALTER TABLE site_alerts ADD COLUMN subject TEXT;
ALTER TABLE site_alerts ADD COLUMN barcode TEXT;
CREATE INDEX site_alerts_subject ON site_alerts (site_id, epoch, kind, subject);
CREATE INDEX site_custody_time ON site_custody (at_ms);
CREATE INDEX site_custody_holder ON site_custody (holder, at_ms);
"#,
    r#"
-- Version 5: notifications. Messages are queued with the alert change that
-- makes them; each destination's cursor says up to which message all is
-- done (delivered, or failed for good and listed in notify_failures).
CREATE TABLE notify_messages (
    id          BIGSERIAL PRIMARY KEY,
    site        TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE TABLE notify_cursors (
    destination   TEXT    PRIMARY KEY,
    delivered_id  BIGINT  NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_ms       BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_ms       BIGINT
);
CREATE TABLE notify_failures (
    destination  TEXT   NOT NULL,
    message_id   BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL,
    error        TEXT   NOT NULL
);
"#,
    r#"
-- Version 6: the people who use the centre's web app, their sessions, and
-- where sites are (a region limits what an auditor or viewer sees; the
-- coordinates place the site on the map).
ALTER TABLE sites ADD COLUMN region TEXT;
ALTER TABLE sites ADD COLUMN latitude DOUBLE PRECISION
    CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE sites ADD COLUMN longitude DOUBLE PRECISION
    CHECK (longitude BETWEEN -180 AND 180);
-- A one-time code that lets an enrolled site enrol again with a new log
-- key (a new box): who issued it and why.
ALTER TABLE sites ADD COLUMN rekey_by TEXT;
ALTER TABLE sites ADD COLUMN rekey_reason TEXT;
CREATE TABLE users (
    id                BIGSERIAL PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    password_hash     TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('admin', 'auditor', 'viewer')),
    -- Only the sites of this region, when set; an admin sees every site.
    region            TEXT    CHECK (role <> 'admin' OR region IS NULL),
    disabled          BOOLEAN NOT NULL DEFAULT false,
    created_ms        BIGINT  NOT NULL,
    -- Failed sign-ins since first_failure_ms; a lock ends at locked_until_ms.
    failures          INTEGER NOT NULL DEFAULT 0,
    first_failure_ms  BIGINT,
    locked_until_ms   BIGINT
);
CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY,
    user_id        BIGINT  NOT NULL REFERENCES users(id),
    secret_digest  TEXT    NOT NULL UNIQUE,
    source         TEXT    NOT NULL,
    started_ms     BIGINT  NOT NULL,
    expires_ms     BIGINT  NOT NULL,
    last_seen_ms   BIGINT  NOT NULL,
    ended_ms       BIGINT
);
"#,
    r#"
-- Version 7: the sites' registers as their logs tell them: each item,
-- person and location as its latest register entry left it, with the log
-- index of that entry.
CREATE TABLE site_items (
    site_id        BIGINT  NOT NULL REFERENCES sites(id),
    epoch          INTEGER NOT NULL,
    barcode        TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    reference      TEXT,
    home_location  TEXT,
    location       TEXT,
    status         TEXT,
    holder         TEXT,
    log_index      BIGINT  NOT NULL,
    PRIMARY KEY (site_id, epoch, barcode)
);
CREATE INDEX site_items_barcode ON site_items (barcode);
CREATE TABLE site_people (
    site_id    BIGINT  NOT NULL REFERENCES sites(id),
    epoch      INTEGER NOT NULL,
    staff_id   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT,
    retired    BOOLEAN NOT NULL,
    log_index  BIGINT  NOT NULL,
    PRIMARY KEY (site_id, epoch, staff_id)
);
CREATE TABLE site_locations (
    site_id    BIGINT  NOT NULL REFERENCES sites(id),
    epoch      INTEGER NOT NULL,
    code       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    kind       TEXT,
    room       TEXT,
    retired    BOOLEAN NOT NULL,
    log_index  BIGINT  NOT NULL,
    PRIMARY KEY (site_id, epoch, code)
);
"#,
];

/// Starts a transaction on `client`.
pub(crate) async fn begin(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, CentralError> {
    client
        .transaction()
        .await
        .map_err(CentralError::db("starting a transaction"))
}

/// Any constant: the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x6375_7374_6f73; // "custos"

/// Opens a pool of at most `size` connections to `url` (a libpq string or
/// URL) and brings the schema up to date.
pub async fn connect(url: &str, size: usize) -> Result<Pool, CentralError> {
    let config: tokio_postgres::Config = url.parse().map_err(|e| {
        CentralError::Invalid(format!("database.url is not a connection string: {e}"))
    })?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| CentralError::Invalid(format!("database pool: {e}")))?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the migrations the database lacks; returns the schema version.
pub async fn migrate(pool: &Pool) -> Result<usize, CentralError> {
    let mut client = pool.get().await?;
    loop {
        let tx = client
            .transaction()
            .await
            .map_err(CentralError::db("starting a migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(CentralError::db("locking for migration"))?;
        let fresh: bool = tx
            .query_one("SELECT to_regclass('schema_version') IS NULL", &[])
            .await
            .map_err(CentralError::db("looking for the schema version table"))?
            .get(0);
        if fresh {
            tx.batch_execute(
                "CREATE TABLE schema_version (
                     version     INTEGER PRIMARY KEY,
                     applied_ms  BIGINT NOT NULL
                 )",
            )
            .await
            .map_err(CentralError::db("creating the schema version table"))?;
        }
        let current: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await
            .map_err(CentralError::db("reading the schema version"))?
            .get(0);
        let current = usize::try_from(current).unwrap_or(0);
        if current > MIGRATIONS.len() {
            return Err(CentralError::Invalid(format!(
                "the database's schema is version {current}, newer than this program's ({}): upgrade the program",
                MIGRATIONS.len()
            )));
        }
        let Some(sql) = MIGRATIONS.get(current) else {
            return Ok(current);
        };
        tx.batch_execute(sql)
            .await
            .map_err(CentralError::db("applying a migration"))?;
        let next = i32::try_from(current + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
            &[&next, &now_ms()],
        )
        .await
        .map_err(CentralError::db("recording a migration"))?;
        tx.commit()
            .await
            .map_err(CentralError::db("committing a migration"))?;
    }
}
