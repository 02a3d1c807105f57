//! The centre's own alerts about sites, one open alert per kind and site
//! (a repeat counts on it), acknowledged and resolved by named people.

use deadpool_postgres::Pool;
use tokio_postgres::Transaction;

use crate::db::begin;
use crate::sites::audit;
use crate::{now_ms, CentralError};

/// A site sent a signed checkpoint inconsistent with what the centre
/// co-signed before, or signed by a key the centre does not know for it.
pub const LOG_REWRITTEN: &str = "site.log_rewritten";

/// An alert as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CentralAlert {
    /// Its number.
    pub id: i64,
    /// The site's name.
    pub site: String,
    /// What kind of alert, e.g. [`LOG_REWRITTEN`].
    pub kind: String,
    /// What happened, in words, as of the latest occurrence.
    pub detail: String,
    /// First raised.
    pub raised_ms: i64,
    /// Last occurrence.
    pub last_ms: i64,
    /// How many times it occurred while open.
    pub occurrences: i64,
    /// When and by whom acknowledged.
    pub acknowledged: Option<(i64, String)>,
    /// When and by whom resolved.
    pub resolved: Option<(i64, String)>,
}

/// Raises `kind` for the site, or counts a repeat on the open one.
pub(crate) async fn raise(
    tx: &Transaction<'_>,
    site_id: i64,
    kind: &str,
    detail: &str,
) -> Result<(), CentralError> {
    let now = now_ms();
    // `xmax = 0`: the row was inserted, not updated — a new alert.
    let row = tx
        .query_one(
            "INSERT INTO alerts (site_id, kind, detail, raised_ms, last_ms)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (site_id, kind) WHERE resolved_ms IS NULL
             DO UPDATE SET occurrences = alerts.occurrences + 1, last_ms = $4, detail = $3
             RETURNING id, xmax = 0",
            &[&site_id, &kind, &detail, &now],
        )
        .await
        .map_err(CentralError::db("raising an alert"))?;
    if row.get::<_, bool>(1) {
        announce(tx, site_id, row.get(0), kind, "open", detail).await?;
    }
    Ok(())
}

/// Queues the notification of a change of the centre's alert `id`.
pub(crate) async fn announce(
    tx: &Transaction<'_>,
    site_id: i64,
    id: i64,
    kind: &str,
    state: &str,
    detail: &str,
) -> Result<(), CentralError> {
    crate::notify::enqueue(
        tx,
        site_id,
        &format!("{kind} ({state}): {detail}"),
        &serde_json::json!({
            "from": "centre",
            "alert": id,
            "kind": kind,
            "state": state,
            "detail": detail,
        }),
    )
    .await
}

/// The alerts, newest first; only open ones with `open_only`.
pub async fn list(pool: &Pool, open_only: bool) -> Result<Vec<CentralAlert>, CentralError> {
    centre_alerts(
        pool,
        "WHERE NOT $1 OR a.resolved_ms IS NULL",
        "",
        &[&open_only],
    )
    .await
}

/// The site alert `id` is about, if there is such an alert.
pub async fn site_of(pool: &Pool, id: i64) -> Result<Option<String>, CentralError> {
    let client = pool.get().await?;
    Ok(client
        .query_opt(
            "SELECT s.name FROM alerts a JOIN sites s ON s.id = a.site_id WHERE a.id = $1",
            &[&id],
        )
        .await
        .map_err(CentralError::db("looking up an alert"))?
        .map(|r| r.get(0)))
}

/// The latest `limit` alerts about site `site`, newest first.
pub async fn list_of_site(
    pool: &Pool,
    site: &str,
    limit: i64,
) -> Result<Vec<CentralAlert>, CentralError> {
    centre_alerts(pool, "WHERE s.name = $1", "LIMIT $2", &[&site, &limit]).await
}

async fn centre_alerts(
    pool: &Pool,
    filter: &str,
    limit: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<CentralAlert>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT a.id, s.name, a.kind, a.detail, a.raised_ms, a.last_ms, a.occurrences,
                        a.acknowledged_ms, a.acknowledged_by, a.resolved_ms, a.resolved_by
                 FROM alerts a JOIN sites s ON s.id = a.site_id
                 {filter}
                 ORDER BY a.last_ms DESC, a.id DESC {limit}"
            ),
            params,
        )
        .await
        .map_err(CentralError::db("listing alerts"))?;
    Ok(rows
        .iter()
        .map(|r| CentralAlert {
            id: r.get(0),
            site: r.get(1),
            kind: r.get(2),
            detail: r.get(3),
            raised_ms: r.get(4),
            last_ms: r.get(5),
            occurrences: r.get(6),
            acknowledged: r
                .get::<_, Option<i64>>(7)
                .zip(r.get::<_, Option<String>>(8)),
            resolved: r
                .get::<_, Option<i64>>(9)
                .zip(r.get::<_, Option<String>>(10)),
        })
        .collect())
}

/// Acknowledges (`resolve` false) or resolves alert `id` as `actor`, with
/// an entry in the audit trail.
pub async fn settle(
    pool: &Pool,
    id: i64,
    actor: &str,
    resolve: bool,
    note: &str,
) -> Result<(), CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let now = now_ms();
    let sql = if resolve {
        "UPDATE alerts SET resolved_ms = $2, resolved_by = $3,
             acknowledged_ms = COALESCE(acknowledged_ms, $2),
             acknowledged_by = COALESCE(acknowledged_by, $3)
         WHERE id = $1 AND resolved_ms IS NULL RETURNING site_id, kind"
    } else {
        "UPDATE alerts SET acknowledged_ms = $2, acknowledged_by = $3
         WHERE id = $1 AND acknowledged_ms IS NULL RETURNING site_id, kind"
    };
    let row = tx
        .query_opt(sql, &[&id, &now, &actor])
        .await
        .map_err(CentralError::db("settling an alert"))?
        .ok_or_else(|| {
            CentralError::Invalid(format!(
                "alert {id} does not exist or is already {}",
                if resolve { "resolved" } else { "acknowledged" }
            ))
        })?;
    let (site_id, kind): (i64, String) = (row.get(0), row.get(1));
    if resolve {
        announce(&tx, site_id, id, &kind, "resolved", note).await?;
    }
    let action = if resolve {
        "alert.resolved"
    } else {
        "alert.acknowledged"
    };
    audit(
        &tx,
        actor,
        action,
        Some(site_id),
        &format!("alert {id} ({kind}): {note}"),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing an alert change"))?;
    Ok(())
}

/// A site's own alert, as the centre's mirror of its log tells it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteAlert {
    /// The site.
    pub site: String,
    /// The alert's number at the site.
    pub alert: i64,
    /// `tamper.covered`, `camera.offline`, …
    pub kind: String,
    /// One line.
    pub summary: String,
    /// The camera, if the alert is about one.
    pub camera: Option<String>,
    /// `open`, `acknowledged` or `resolved`.
    pub state: String,
    /// When it was raised and last changed, by the site's clock.
    pub raised_ms: i64,
    /// Last changed.
    pub updated_ms: i64,
    /// The log entry that last changed it.
    pub log_index: i64,
    /// Whether a change asked for at the centre waits for the site.
    pub pending: Option<String>,
}

/// The sites' alerts (only unresolved ones with `open_only`), newest
/// first.
pub async fn site_alerts(pool: &Pool, open_only: bool) -> Result<Vec<SiteAlert>, CentralError> {
    own_alerts(
        pool,
        "WHERE NOT $1 OR a.state <> 'resolved'",
        "",
        &[&open_only],
    )
    .await
}

/// The latest `limit` of site `site`'s own alerts, newest first.
pub async fn site_alerts_of(
    pool: &Pool,
    site: &str,
    limit: i64,
) -> Result<Vec<SiteAlert>, CentralError> {
    own_alerts(pool, "WHERE s.name = $1", "LIMIT $2", &[&site, &limit]).await
}

async fn own_alerts(
    pool: &Pool,
    filter: &str,
    limit: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<SiteAlert>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT s.name, a.alert, a.kind, a.summary, a.camera, a.state, a.raised_ms,
                        a.updated_ms, a.log_index,
                        (SELECT p.state || ' by ' || p.by_whom FROM site_alert_actions p
                         WHERE p.site_id = a.site_id AND p.alert = a.alert AND p.done_ms IS NULL
                         ORDER BY p.id DESC LIMIT 1)
                 FROM site_alerts a JOIN sites s ON s.id = a.site_id AND a.epoch = s.witness_epoch
                 {filter}
                 ORDER BY a.raised_ms DESC, s.name, a.alert DESC {limit}"
            ),
            params,
        )
        .await
        .map_err(CentralError::db("listing the sites' alerts"))?;
    Ok(rows
        .iter()
        .map(|r| SiteAlert {
            site: r.get(0),
            alert: r.get(1),
            kind: r.get(2),
            summary: r.get(3),
            camera: r.get(4),
            state: r.get(5),
            raised_ms: r.get(6),
            updated_ms: r.get(7),
            log_index: r.get(8),
            pending: r.get(9),
        })
        .collect())
}

/// Asks site `site` to move its alert `alert` to `state` (`acknowledged`
/// or `resolved`) as `actor`; the site does it at its next report and the
/// change comes back through its log. In the audit trail.
pub async fn request_site_alert_change(
    pool: &Pool,
    site: &str,
    alert: i64,
    state: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<i64, CentralError> {
    if !matches!(state, "acknowledged" | "resolved") {
        return Err(CentralError::Invalid(format!(
            "an alert is acknowledged or resolved, not {state:?}"
        )));
    }
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let row = tx
        .query_opt(
            "SELECT s.id, a.state FROM sites s
             JOIN site_alerts a ON a.site_id = s.id AND a.epoch = s.witness_epoch AND a.alert = $2
             WHERE s.name = $1",
            &[&site, &alert],
        )
        .await
        .map_err(CentralError::db("looking up a site alert"))?
        .ok_or_else(|| {
            CentralError::Invalid(format!(
                "site {site:?} has no alert {alert} the centre knows of"
            ))
        })?;
    let (site_id, current): (i64, String) = (row.get(0), row.get(1));
    if current == "resolved" || current == state {
        return Err(CentralError::Invalid(format!(
            "alert {alert} of site {site:?} is already {current}"
        )));
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO site_alert_actions (site_id, alert, state, by_whom, note, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&site_id, &alert, &state, &actor, &note, &now_ms()],
        )
        .await
        .map_err(CentralError::db("asking for an alert change"))?
        .get(0);
    audit(
        &tx,
        actor,
        "site_alert.requested",
        Some(site_id),
        &format!("alert {alert} -> {state}: {}", note.unwrap_or("")),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing an alert change request"))?;
    Ok(id)
}
