//! Custody events: what happened to an item, when, by whom, and which
//! cameras covered where it happened.

use custos_custody::model::Coverage;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result, StoreError};
use crate::Store;
use crate::WriteTx;

/// One recorded custody event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustodyEvent {
    /// Its id.
    pub id: i64,
    /// The item.
    pub barcode: String,
    /// `check_out`, `check_in`, `transfer`, `view`, `copy`, `move`,
    /// `inventory_seen` or `disposal`.
    pub action: String,
    /// When it happened.
    pub at_ms: i64,
    /// The user who recorded it.
    pub recorded_by: String,
    /// The person it concerns (taker, viewer, copier), if any.
    pub person: Option<String>,
    /// Who holds the item after it.
    pub holder: Option<String>,
    /// Where it happened, when known.
    pub location: Option<String>,
    /// The action as recorded.
    pub details: Value,
    /// The cameras that covered the location when it was recorded.
    pub cameras: Vec<Coverage>,
    /// Whether its footage window has been checked.
    pub footage_checked: bool,
    /// Checked and found without footage: the index's flag for the rules
    /// and the `no_footage=` filter. Answers do not show it; they show the
    /// judgement made as they are read (`no_footage` of the server's
    /// `EventWithFootage`, which covers events no camera sees), and one
    /// object must not name a key twice.
    #[serde(skip_serializing)]
    pub no_footage: bool,
}

/// A custody event to record.
#[derive(Debug, Clone)]
pub struct NewCustodyEvent<'a> {
    /// The item.
    pub barcode: &'a str,
    /// The action's name.
    pub action: &'a str,
    /// When it happened.
    pub at_ms: i64,
    /// The user recording it.
    pub recorded_by: &'a str,
    /// The person it concerns.
    pub person: Option<&'a str>,
    /// Who holds the item after it.
    pub holder: Option<&'a str>,
    /// Where it happened.
    pub location: Option<&'a str>,
    /// The action as recorded.
    pub details: &'a Value,
    /// The cameras covering `location` now.
    pub cameras: &'a [Coverage],
}

/// Which custody events to list.
#[derive(Debug, Clone, Default)]
pub struct CustodyQuery {
    /// Only this item's.
    pub barcode: Option<String>,
    /// Only those concerning or held by this person.
    pub person: Option<String>,
    /// Only those at this location.
    pub location: Option<String>,
    /// Only at or after this time.
    pub from_ms: Option<i64>,
    /// Only before this time.
    pub to_ms: Option<i64>,
    /// Only those checked and found without footage.
    pub no_footage: bool,
    /// At most this many.
    pub limit: usize,
    /// Oldest first (a chain of custody) instead of newest first.
    pub oldest_first: bool,
}

pub(crate) const CUSTODY_COLUMNS: &str =
    "id, barcode, action, at_ms, recorded_by, person, holder, location, \
                               details, cameras, footage_checked, no_footage";

pub(crate) fn custody_from_row(row: &Row<'_>) -> rusqlite::Result<CustodyEvent> {
    let details: String = row.get(8)?;
    let cameras: String = row.get(9)?;
    Ok(CustodyEvent {
        id: row.get(0)?,
        barcode: row.get(1)?,
        action: row.get(2)?,
        at_ms: row.get(3)?,
        recorded_by: row.get(4)?,
        person: row.get(5)?,
        holder: row.get(6)?,
        location: row.get(7)?,
        // Written only by this module from serde values.
        details: serde_json::from_str(&details).unwrap_or(Value::Null),
        cameras: serde_json::from_str(&cameras).unwrap_or_default(),
        footage_checked: row.get(10)?,
        no_footage: row.get(11)?,
    })
}

impl WriteTx<'_> {
    /// Records a custody event; returns its id.
    pub fn insert_custody_event(&mut self, e: &NewCustodyEvent<'_>) -> Result<i64> {
        let cameras = serde_json::to_string(e.cameras)
            .map_err(|err| StoreError::InvalidArgument(format!("event cameras: {err}")))?;
        let details = e.details.to_string();
        self.conn()
            .prepare_cached(
                "INSERT INTO custody_events (barcode, action, at_ms, recorded_by, person, holder, \
                 location, details, cameras) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.insert(params![
                    e.barcode,
                    e.action,
                    e.at_ms,
                    e.recorded_by,
                    e.person,
                    e.holder,
                    e.location,
                    details,
                    cameras
                ])
            })
            .context(|| format!("recording {} of item {:?}", e.action, e.barcode))
    }

    /// Marks event `id`'s footage as checked (and missing, when `no_footage`).
    pub fn set_footage_checked(&mut self, id: i64, no_footage: bool) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE custody_events SET footage_checked = 1, no_footage = ?2 WHERE id = ?1",
                params![id, no_footage],
            )
            .context(|| format!("marking the footage of custody event {id} checked"))?;
        Ok(())
    }
}

impl Store {
    /// Custody events matching `q`.
    pub fn custody_events(&self, q: &CustodyQuery) -> Result<Vec<CustodyEvent>> {
        let order = if q.oldest_first { "ASC" } else { "DESC" };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CUSTODY_COLUMNS} FROM custody_events \
                 WHERE (?1 IS NULL OR barcode = ?1) \
                   AND (?2 IS NULL OR person = ?2 OR holder = ?2) \
                   AND (?3 IS NULL OR location = ?3) \
                   AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms < ?5) \
                   AND (?6 = 0 OR no_footage = 1) \
                 ORDER BY at_ms {order}, id {order} LIMIT ?7"
            ))
            .context(|| "preparing the custody events query".to_owned())?;
        let rows = stmt
            .query_map(
                params![
                    q.barcode,
                    q.person,
                    q.location,
                    q.from_ms,
                    q.to_ms,
                    q.no_footage,
                    q.limit as i64
                ],
                custody_from_row,
            )
            .context(|| "listing custody events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing custody events".to_owned())
    }

    /// Custody event `id`.
    pub fn custody_event(&self, id: i64) -> Result<Option<CustodyEvent>> {
        self.conn
            .query_row(
                &format!("SELECT {CUSTODY_COLUMNS} FROM custody_events WHERE id = ?1"),
                [id],
                custody_from_row,
            )
            .optional()
            .context(|| format!("reading custody event {id}"))
    }

    /// Events whose footage has not been checked and that happened before
    /// `before_ms`, oldest first.
    pub fn unchecked_custody_events(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CUSTODY_COLUMNS} FROM custody_events \
                 WHERE footage_checked = 0 AND at_ms < ?1 ORDER BY at_ms, id LIMIT ?2"
            ))
            .context(|| "preparing the unchecked custody events query".to_owned())?;
        let rows = stmt
            .query_map(params![before_ms, limit as i64], custody_from_row)
            .context(|| "listing unchecked custody events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing unchecked custody events".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Item, ItemStatus, Location, LocationKind};

    use super::*;
    use crate::ErrorKind;

    fn store() -> Store {
        Store::open_in_memory().expect("store")
    }

    #[test]
    fn a_failed_transaction_writes_nothing_not_even_its_log_entries() {
        let s = store();
        let res: Result<()> = s.write("t", |tx| {
            tx.insert_location(
                &Location {
                    code: "R1".into(),
                    name: "Room".into(),
                    kind: LocationKind::Room,
                    room: None,
                    coverage: vec![],
                    retired: false,
                },
                1,
            )?;
            tx.log(b"{}".to_vec());
            Err(StoreError::Conflict("refused".into()))
        });
        assert!(res.is_err());
        assert!(s.locations().expect("list").is_empty());
        assert!(s.outbox(10).expect("outbox").is_empty());
        // An item needs an existing location.
        let err = s
            .write("t", |tx| {
                tx.insert_item(
                    &Item {
                        barcode: "B1".into(),
                        title: "t".into(),
                        reference: String::new(),
                        classification: String::new(),
                        home_location: "NOWHERE".into(),
                        location: "NOWHERE".into(),
                        status: ItemStatus::InPlace,
                        holder: None,
                        due_ms: None,
                        disposed_reason: None,
                    },
                    1,
                )
            })
            .expect_err("foreign key");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}
