//! Sites' reports of their state, and the alerts the centre draws from
//! them: `site.silent` when a site has not reported for longer than its
//! limit, `site.clock_skew` when its clock is more than [`MAX_SKEW_MS`] off,
//! `site.escrow_lagging` when footage that matters has waited longer than
//! [`MAX_ESCROW_LAG_MS`] to be copied off site. Each resolves itself when
//! the condition ends.

use custos_report::Health;
use deadpool_postgres::Pool;
use tokio_postgres::Transaction;

use crate::db::begin;
use crate::{now_ms, CentralError};

/// A site has not reported for longer than its limit.
pub const SITE_SILENT: &str = "site.silent";
/// A site's clock is off by more than [`MAX_SKEW_MS`].
pub const SITE_CLOCK_SKEW: &str = "site.clock_skew";
/// How far a site's clock may be from the centre's.
pub const MAX_SKEW_MS: i64 = 30_000;
/// Footage escrow wants has not reached the bucket for longer than
/// [`MAX_ESCROW_LAG_MS`].
pub const SITE_ESCROW_LAGGING: &str = "site.escrow_lagging";
/// How long footage escrow wants may wait to be copied off site: a day
/// covers a night without a link, not a box quietly keeping its evidence.
pub const MAX_ESCROW_LAG_MS: i64 = 24 * 3_600_000;

/// Who resolves the alerts the centre resolves itself.
const CENTRE: &str = "centre";

/// The answer to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body: a `custos_report::ReportAnswer` in JSON (200), the
    /// sequence number held (409), or why not.
    pub body: String,
}

fn answer(status: u16, body: impl Into<String>) -> ReportAnswer {
    ReportAnswer {
        status,
        body: body.into(),
    }
}

/// The site of a report, its last sequence number, and whether anything
/// beyond storing the report may be needed: an alert of its own the centre
/// may resolve, or alert changes waiting for the site.
const REPORT_SITE: &str = "SELECT s.id, s.log_key, r.seq,
        EXISTS (SELECT 1 FROM alerts a WHERE a.site_id = s.id AND a.resolved_ms IS NULL
                AND a.kind IN ('site.silent', 'site.clock_skew', 'site.escrow_lagging')),
        EXISTS (SELECT 1 FROM site_alert_actions p WHERE p.site_id = s.id AND p.done_ms IS NULL)
    FROM sites s LEFT JOIN site_reports r ON r.site_id = s.id
    WHERE s.origin = $1";

/// Stores a report unless one with a higher number is already there.
const STORE_REPORT: &str = "INSERT INTO site_reports (site_id, seq, sent_ms, received_ms, health)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (site_id) DO UPDATE
    SET seq = EXCLUDED.seq, sent_ms = EXCLUDED.sent_ms, received_ms = EXCLUDED.received_ms,
        health = EXCLUDED.health
    WHERE site_reports.seq < EXCLUDED.seq";

/// Accepts the report note `note` if it is signed by the key the centre
/// pinned for its site and its sequence number is above the last one.
pub async fn accept(pool: &Pool, note: &str) -> Result<ReportAnswer, CentralError> {
    let (origin, _) = match custos_report::peek(note) {
        Ok(p) => p,
        Err(e) => return Ok(answer(400, format!("{e}\n"))),
    };
    let mut client = pool.get().await?;
    let lookup = client
        .prepare_cached(REPORT_SITE)
        .await
        .map_err(CentralError::db("preparing the report lookup"))?;
    let Some(row) = client
        .query_opt(&lookup, &[&origin])
        .await
        .map_err(CentralError::db("looking up a report's site"))?
    else {
        return Ok(answer(
            404,
            format!("no site with the log origin {origin:?} is enrolled\n"),
        ));
    };
    let (site_id, key_text, last_seq, auto_alerts, pending): (
        i64,
        Option<String>,
        Option<i64>,
        bool,
        bool,
    ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    let Some(key_text) = key_text else {
        return Ok(answer(
            404,
            format!("no site with the log origin {origin:?} is enrolled\n"),
        ));
    };
    let key = crate::sites::pinned_key(origin, &key_text)?;
    let (seq, health) = match custos_report::open(note, &key) {
        Ok(r) => r,
        Err(e) => return Ok(answer(403, format!("{e}\n"))),
    };
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    if let Some(last) = last_seq.filter(|last| seq <= *last) {
        return Ok(answer(409, format!("{last}\n")));
    }
    let received = now_ms();
    let skew = health.sent_ms - received;
    let skewed = skew.abs() > MAX_SKEW_MS;
    let json = serde_json::to_string(&health)
        .map_err(|e| CentralError::Invalid(format!("re-encoding a report: {e}")))?;
    let store = client
        .prepare_cached(STORE_REPORT)
        .await
        .map_err(CentralError::db("preparing the report update"))?;
    let tx = client
        .transaction()
        .await
        .map_err(CentralError::db("starting a report transaction"))?;
    // A report is a state the next one replaces: losing the last one to a
    // crash loses nothing, so its commit does not wait for the disk.
    tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
        .await
        .map_err(CentralError::db("relaxing a report's commit"))?;
    let stored = tx
        .execute(&store, &[&site_id, &seq, &health.sent_ms, &received, &json])
        .await
        .map_err(CentralError::db("storing a report"))?;
    if stored == 0 {
        // Another report of the site, with a higher number, came first.
        let held: i64 = tx
            .query_one(
                "SELECT seq FROM site_reports WHERE site_id = $1",
                &[&site_id],
            )
            .await
            .map_err(CentralError::db("reading a report's number"))?
            .get(0);
        return Ok(answer(409, format!("{held}\n")));
    }
    let mut actions = Vec::new();
    if !health.actions_done.is_empty() {
        tx.execute(
            "UPDATE site_alert_actions SET done_ms = $3
             WHERE site_id = $1 AND id = ANY($2) AND done_ms IS NULL",
            &[&site_id, &health.actions_done, &received],
        )
        .await
        .map_err(CentralError::db("marking alert changes done"))?;
    }
    if pending || !health.actions_done.is_empty() {
        actions = tx
            .query(
                "SELECT id, alert, state, by_whom, note FROM site_alert_actions
                 WHERE site_id = $1 AND done_ms IS NULL ORDER BY id LIMIT 100",
                &[&site_id],
            )
            .await
            .map_err(CentralError::db("reading alert changes for the site"))?
            .iter()
            .map(|r| custos_report::AlertAction {
                id: r.get(0),
                alert: r.get(1),
                state: r.get(2),
                by: r.get(3),
                note: r.get(4),
            })
            .collect();
    }
    if auto_alerts {
        settle_automatic(&tx, site_id, SITE_SILENT, "the site reports again").await?;
    }
    if skewed {
        crate::alerts::raise(
            &tx,
            site_id,
            SITE_CLOCK_SKEW,
            &format!(
                "the site's clock is {} s {} the centre's",
                skew.abs() / 1000,
                if skew > 0 { "ahead of" } else { "behind" }
            ),
        )
        .await?;
    } else if auto_alerts {
        settle_automatic(
            &tx,
            site_id,
            SITE_CLOCK_SKEW,
            "the site's clock is right again",
        )
        .await?;
    }
    let lag = health
        .escrow
        .as_ref()
        .and_then(|e| e.oldest_pending_ms.map(|t| (e, received - t)))
        .filter(|(_, lag)| *lag > MAX_ESCROW_LAG_MS);
    if let Some((escrow, lag)) = lag {
        crate::alerts::raise(
            &tx,
            site_id,
            SITE_ESCROW_LAGGING,
            &format!(
                "{} segment{} ({:.1} MB) of footage that matters not copied off site; the oldest \
                 has waited {} h",
                escrow.pending_segments,
                if escrow.pending_segments == 1 {
                    ""
                } else {
                    "s"
                },
                escrow.pending_bytes as f64 / 1e6,
                lag / 3_600_000
            ),
        )
        .await?;
    } else if auto_alerts {
        settle_automatic(
            &tx,
            site_id,
            SITE_ESCROW_LAGGING,
            "the site's footage escrow caught up",
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(CentralError::db("committing a report"))?;
    let body = serde_json::to_string(&custos_report::ReportAnswer {
        actions,
        tls_fingerprints: Vec::new(),
    })
    .map_err(|e| CentralError::Invalid(format!("encoding an answer: {e}")))?;
    Ok(answer(200, body))
}

/// Resolves the open alert `kind` of the site, if any, as the centre.
async fn settle_automatic(
    tx: &Transaction<'_>,
    site_id: i64,
    kind: &str,
    why: &str,
) -> Result<(), CentralError> {
    let resolved = tx
        .query_opt(
            "UPDATE alerts SET resolved_ms = $3, resolved_by = $4
             WHERE site_id = $1 AND kind = $2 AND resolved_ms IS NULL RETURNING id",
            &[&site_id, &kind, &now_ms(), &CENTRE],
        )
        .await
        .map_err(CentralError::db("resolving an alert"))?;
    if let Some(row) = resolved {
        let id: i64 = row.get(0);
        crate::alerts::announce(tx, site_id, id, kind, "resolved", why).await?;
        crate::sites::audit(
            tx,
            CENTRE,
            "alert.resolved",
            Some(site_id),
            &format!("alert {id} ({kind}): {why}"),
        )
        .await?;
    }
    Ok(())
}

/// Raises `site.silent` for every enrolled site whose last report (or
/// enrolment) is older than its limit; returns how many were raised.
/// Any number of centre processes may run this at once.
pub async fn raise_silent(pool: &Pool) -> Result<u64, CentralError> {
    let client = pool.get().await?;
    let now = now_ms();
    // One statement raises them and queues their notifications.
    let raised = client
        .execute(
            "WITH raised AS (
             INSERT INTO alerts (site_id, kind, detail, raised_ms, last_ms)
             SELECT s.id, $1,
                    'no report from the site since ' ||
                      to_char(to_timestamp(COALESCE(r.received_ms, s.enrolled_ms) / 1000.0) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD HH24:MI:SS') || ' UTC',
                    $2, $2
             FROM sites s LEFT JOIN site_reports r ON r.site_id = s.id
             WHERE s.enrolled_ms IS NOT NULL
               AND COALESCE(r.received_ms, s.enrolled_ms) < $2 - s.silent_after_ms
             ON CONFLICT (site_id, kind) WHERE resolved_ms IS NULL DO NOTHING
             RETURNING id, site_id, kind, detail)
             INSERT INTO notify_messages (site, subject, body, created_ms)
             SELECT s.name, r.kind || ' (open): ' || r.detail,
                    json_build_object('from', 'centre', 'alert', r.id, 'kind', r.kind,
                                      'state', 'open', 'detail', r.detail)::text,
                    $2
             FROM raised r JOIN sites s ON s.id = r.site_id",
            &[&SITE_SILENT, &now],
        )
        .await
        .map_err(CentralError::db("raising site.silent"))?;
    Ok(raised)
}

/// What a site last reported, when it arrived, and its site name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastReport {
    /// The site.
    pub site: String,
    /// When the centre received it.
    pub received_ms: i64,
    /// What it said.
    pub health: Health,
}

/// Every site's last report, by site name.
pub async fn last_reports(pool: &Pool) -> Result<Vec<LastReport>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.name, r.received_ms, r.health FROM site_reports r
             JOIN sites s ON s.id = r.site_id ORDER BY s.name",
            &[],
        )
        .await
        .map_err(CentralError::db("reading reports"))?;
    rows.iter()
        .map(|r| {
            let site: String = r.get(0);
            let health: String = r.get(2);
            Ok(LastReport {
                received_ms: r.get(1),
                health: serde_json::from_str(&health).map_err(|e| {
                    CentralError::Invalid(format!(
                        "site {site:?}: a stored report does not parse: {e}"
                    ))
                })?,
                site,
            })
        })
        .collect()
}

/// Sets how long site `name` may stay silent before `site.silent`.
pub async fn set_silent_limit(
    pool: &Pool,
    name: &str,
    limit_ms: i64,
    actor: &str,
) -> Result<(), CentralError> {
    if limit_ms < 60_000 {
        return Err(CentralError::Invalid(
            "a site reports every minute; its silence limit is at least one minute".to_owned(),
        ));
    }
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let id: i64 = tx
        .query_opt(
            "UPDATE sites SET silent_after_ms = $2 WHERE name = $1 RETURNING id",
            &[&name, &limit_ms],
        )
        .await
        .map_err(CentralError::db("setting a silence limit"))?
        .ok_or_else(|| CentralError::NoSuchSite(name.to_owned()))?
        .get(0);
    crate::sites::audit(
        &tx,
        actor,
        "site.silence_limit",
        Some(id),
        &format!("{} s", limit_ms / 1000),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a silence limit"))?;
    Ok(())
}
