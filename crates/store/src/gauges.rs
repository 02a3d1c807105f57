//! Counts of the site's state for monitoring (`GET /metrics`): read in one
//! pass of small aggregate queries, never whole tables into memory.

use rusqlite::OptionalExtension;

use crate::error::{Context, Result};
use crate::Store;

/// The site's state as gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteGauges {
    /// Unresolved alerts (open or acknowledged), by kind.
    pub unresolved_alerts: Vec<(String, i64)>,
    /// Notifications waiting to be delivered.
    pub notifications_pending: i64,
    /// Notifications that failed for good.
    pub notifications_failed: i64,
    /// Log entries committed in the index but not yet in the log.
    pub log_outbox: i64,
    /// Entries in the log as of its latest checkpoint, and when it was signed.
    pub checkpoint: Option<(u64, i64)>,
}

impl Store {
    /// The site's gauges now.
    pub fn site_gauges(&self) -> Result<SiteGauges> {
        let what = || "reading the site's gauges".to_owned();
        let mut alerts = self
            .conn
            .prepare_cached(
                "SELECT kind, COUNT(*) FROM alerts WHERE state != 'resolved' \
                 GROUP BY kind ORDER BY kind",
            )
            .context(what)?;
        let unresolved_alerts = alerts
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .context(what)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context(what)?;
        let count = |sql: &str| -> Result<i64> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .context(what)
        };
        let checkpoint = self
            .conn
            .query_row(
                "SELECT tree_size, created_ms FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .context(what)?
            .map(|(size, at)| (u64::try_from(size).unwrap_or(0), at));
        Ok(SiteGauges {
            unresolved_alerts,
            notifications_pending: count(
                "SELECT COUNT(*) FROM notifications WHERE state = 'pending'",
            )?,
            notifications_failed: count(
                "SELECT COUNT(*) FROM notifications WHERE state = 'failed'",
            )?,
            log_outbox: count("SELECT COUNT(*) FROM log_outbox")?,
            checkpoint,
        })
    }
}
