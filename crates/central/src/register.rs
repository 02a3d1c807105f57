//! The register across sites, read from the custody events in the
//! centre's mirror of each site's log: where an item is, what a person
//! handled anywhere, which custody events have no footage.
//!
//! Only the history witnessed now is read (a site's rows from before an
//! accepted rewrite stay, as evidence, but answer no question). Every row
//! carries the index of the log entry it comes from, which the site's
//! co-signed checkpoints prove.

use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::CentralError;

/// One custody event of one site.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustodyRow {
    /// The site.
    pub site: String,
    /// The index of the site's log entry it comes from.
    pub log_index: i64,
    /// The event's number at the site.
    pub event: i64,
    /// The item.
    pub barcode: String,
    /// `check_out`, `check_in`, `copy`, `move`, …
    pub action: String,
    /// When it happened, by the site's clock.
    pub at_ms: i64,
    /// Who recorded it.
    pub by: String,
    /// Who took or brought the item, if anyone.
    pub person: Option<String>,
    /// Who holds it after the event.
    pub holder: Option<String>,
    /// Where it is after the event.
    pub location: Option<String>,
    /// The cameras whose footage covers it, as the site logged them.
    pub cameras: serde_json::Value,
    /// Whether the site raised `custody.no_footage` for it: no camera
    /// recorded its moment.
    pub no_footage: bool,
}

const COLUMNS: &str = "s.name, c.log_index, c.event, c.barcode, c.action, c.at_ms, c.by_whom,
    c.person, c.holder, c.location, c.cameras,
    EXISTS (SELECT 1 FROM site_alerts a
            WHERE a.site_id = c.site_id AND a.epoch = c.epoch
              AND a.kind = 'custody.no_footage' AND a.subject = 'custody:' || c.event)";

fn row(r: &Row) -> CustodyRow {
    let cameras: String = r.get(10);
    CustodyRow {
        site: r.get(0),
        log_index: r.get(1),
        event: r.get(2),
        barcode: r.get(3),
        action: r.get(4),
        at_ms: r.get(5),
        by: r.get(6),
        person: r.get(7),
        holder: r.get(8),
        location: r.get(9),
        // Written by the mirror from the entry's JSON; kept as text if not.
        cameras: serde_json::from_str(&cameras).unwrap_or(serde_json::Value::String(cameras)),
        no_footage: r.get(11),
    }
}

/// The custody events of the history witnessed now, joined to their site.
const FROM: &str =
    "FROM site_custody c JOIN sites s ON s.id = c.site_id AND c.epoch = s.witness_epoch";

async fn custody_rows(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    what: &'static str,
) -> Result<Vec<CustodyRow>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(sql, params)
        .await
        .map_err(CentralError::db(what))?;
    Ok(rows.iter().map(row).collect())
}

/// Where item `barcode` is: its latest custody event at every site that
/// has one, newest first.
pub async fn where_is(pool: &Pool, barcode: &str) -> Result<Vec<CustodyRow>, CentralError> {
    let sql = format!(
        "SELECT * FROM (
           SELECT DISTINCT ON (c.site_id) {COLUMNS}
           {FROM}
           WHERE c.barcode = $1
           ORDER BY c.site_id, c.at_ms DESC, c.log_index DESC) latest
         ORDER BY 6 DESC"
    );
    custody_rows(pool, &sql, &[&barcode], "finding an item").await
}

/// Every custody event of item `barcode` at every site, newest first, at
/// most `limit`.
pub async fn item_history(
    pool: &Pool,
    barcode: &str,
    limit: i64,
) -> Result<Vec<CustodyRow>, CentralError> {
    let sql = format!(
        "SELECT {COLUMNS}
         {FROM}
         WHERE c.barcode = $1
         ORDER BY c.at_ms DESC, s.name, c.log_index DESC
         LIMIT $2"
    );
    custody_rows(pool, &sql, &[&barcode, &limit], "reading an item's history").await
}

/// What `person` handled at any site since `since_ms`: events where they
/// took or brought the item, held it after, or recorded it; newest first,
/// at most `limit`.
pub async fn handled_by(
    pool: &Pool,
    person: &str,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<CustodyRow>, CentralError> {
    // Three indexed lookups rather than one OR the planner cannot index.
    let sql = format!(
        "SELECT {COLUMNS}
         {FROM}
         WHERE (c.site_id, c.epoch, c.log_index) IN (
             SELECT site_id, epoch, log_index FROM site_custody WHERE person = $1 AND at_ms >= $2
             UNION SELECT site_id, epoch, log_index FROM site_custody WHERE holder = $1 AND at_ms >= $2
             UNION SELECT site_id, epoch, log_index FROM site_custody WHERE by_whom = $1 AND at_ms >= $2)
         ORDER BY c.at_ms DESC, s.name, c.log_index DESC
         LIMIT $3"
    );
    custody_rows(
        pool,
        &sql,
        &[&person, &since_ms, &limit],
        "finding what a person handled",
    )
    .await
}

/// Custody events since `since_ms` for which their site raised
/// `custody.no_footage`, by site, newest first.
pub async fn without_footage(pool: &Pool, since_ms: i64) -> Result<Vec<CustodyRow>, CentralError> {
    let sql = format!(
        "SELECT {COLUMNS}
         {FROM}
         WHERE c.at_ms >= $1 AND EXISTS (
             SELECT 1 FROM site_alerts a
             WHERE a.site_id = c.site_id AND a.epoch = c.epoch
               AND a.kind = 'custody.no_footage' AND a.subject = 'custody:' || c.event)
         ORDER BY s.name, c.at_ms DESC"
    );
    custody_rows(
        pool,
        &sql,
        &[&since_ms],
        "finding custody events without footage",
    )
    .await
}

/// An item as its site's register last described it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemRow {
    /// The site.
    pub site: String,
    /// The item.
    pub barcode: String,
    /// Its title.
    pub title: String,
    /// The archive's reference, if any.
    pub reference: Option<String>,
    /// Where it belongs.
    pub home_location: Option<String>,
    /// Where the register last put it.
    pub location: Option<String>,
    /// The location's name, when the site's register names it.
    pub location_name: Option<String>,
    /// `in_place`, `out` or `disposed`, as of that entry.
    pub status: Option<String>,
    /// Who held it, as of that entry.
    pub holder: Option<String>,
    /// The holder's name, when the site's register names them.
    pub holder_name: Option<String>,
    /// The index of the site's log entry it comes from.
    pub log_index: i64,
}

/// Item `barcode` in every site's register (the history witnessed now).
/// Its custody events since are in [`where_is`]; the later log index is
/// the later word.
pub async fn register_items(pool: &Pool, barcode: &str) -> Result<Vec<ItemRow>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.name, i.barcode, i.title, i.reference, i.home_location, i.location,
                    l.name, i.status, i.holder, p.name, i.log_index
             FROM site_items i
             JOIN sites s ON s.id = i.site_id AND i.epoch = s.witness_epoch
             LEFT JOIN site_locations l
                    ON l.site_id = i.site_id AND l.epoch = i.epoch AND l.code = i.location
             LEFT JOIN site_people p
                    ON p.site_id = i.site_id AND p.epoch = i.epoch AND p.staff_id = i.holder
             WHERE i.barcode = $1
             ORDER BY s.name",
            &[&barcode],
        )
        .await
        .map_err(CentralError::db("reading the sites' registers"))?;
    Ok(rows
        .iter()
        .map(|r| ItemRow {
            site: r.get(0),
            barcode: r.get(1),
            title: r.get(2),
            reference: r.get(3),
            home_location: r.get(4),
            location: r.get(5),
            location_name: r.get(6),
            status: r.get(7),
            holder: r.get(8),
            holder_name: r.get(9),
            log_index: r.get(10),
        })
        .collect())
}

/// A person as a site's register names them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PersonRow {
    /// The site.
    pub site: String,
    /// Their staff or reader id there.
    pub staff_id: String,
    /// Their name.
    pub name: String,
    /// `staff`, `researcher`, …
    pub role: Option<String>,
    /// Whether they left.
    pub retired: bool,
    /// The index of the site's log entry it comes from.
    pub log_index: i64,
}

/// Who `person` is at every site whose register has them, by their id or
/// by their name (case aside).
pub async fn people(pool: &Pool, person: &str) -> Result<Vec<PersonRow>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.name, p.staff_id, p.name, p.role, p.retired, p.log_index
             FROM site_people p JOIN sites s ON s.id = p.site_id AND p.epoch = s.witness_epoch
             WHERE p.staff_id = $1 OR lower(p.name) = lower($1)
             ORDER BY s.name, p.staff_id",
            &[&person],
        )
        .await
        .map_err(CentralError::db("reading the sites' people"))?;
    Ok(rows
        .iter()
        .map(|r| PersonRow {
            site: r.get(0),
            staff_id: r.get(1),
            name: r.get(2),
            role: r.get(3),
            retired: r.get(4),
            log_index: r.get(5),
        })
        .collect())
}
