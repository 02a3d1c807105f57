//! The custody register: locations, people and items.
//!
//! Rules (what an action may do to an item) live in `custos-custody`; this
//! module only stores and finds. Items are never deleted: disposal is a
//! status.

use custos_custody::model::{
    Coverage, Item, ItemStatus, Location, LocationKind, Person, PersonRole,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Context, Result, StoreError};
use crate::{Store, WriteTx};

/// Reads text column `idx` as a `T` (a kind, role or status). A value this
/// build does not know fails the read, as an unknown camera state does
/// (`CameraState`'s `FromSql`), rather than being taken for a default.
pub(crate) fn parsed<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

// ---------------------------------------------------------------- locations

const LOCATION_COLUMNS: &str = "code, name, kind, room, coverage, retired";

fn location_from_row(row: &Row<'_>) -> rusqlite::Result<Location> {
    let coverage: String = row.get(4)?;
    Ok(Location {
        code: row.get(0)?,
        name: row.get(1)?,
        kind: parsed::<LocationKind>(row, 2)?,
        room: row.get(3)?,
        coverage: serde_json::from_str::<Vec<Coverage>>(&coverage).unwrap_or_default(),
        retired: row.get(5)?,
    })
}

fn coverage_json(coverage: &[Coverage]) -> Result<String> {
    serde_json::to_string(coverage)
        .map_err(|e| StoreError::InvalidArgument(format!("location coverage: {e}")))
}

fn find_location(conn: &Connection, code: &str) -> Result<Option<Location>> {
    conn.query_row(
        &format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE code = ?1"),
        [code],
        location_from_row,
    )
    .optional()
    .context(|| format!("reading location {code:?}"))
}

fn all_locations(conn: &Connection) -> Result<Vec<Location>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {LOCATION_COLUMNS} FROM locations ORDER BY code"
        ))
        .context(|| "preparing the locations query".to_owned())?;
    let rows = stmt
        .query_map([], location_from_row)
        .context(|| "listing locations".to_owned())?;
    rows.collect::<rusqlite::Result<_>>()
        .context(|| "listing locations".to_owned())
}

// ---------------------------------------------------------------- people

const PERSON_COLUMNS: &str = "staff_id, name, role, badge, retired";

fn person_from_row(row: &Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        staff_id: row.get(0)?,
        name: row.get(1)?,
        role: parsed::<PersonRole>(row, 2)?,
        badge: row.get(3)?,
        retired: row.get(4)?,
    })
}

fn find_person(conn: &Connection, staff_id: &str) -> Result<Option<Person>> {
    conn.query_row(
        &format!("SELECT {PERSON_COLUMNS} FROM people WHERE staff_id = ?1"),
        [staff_id],
        person_from_row,
    )
    .optional()
    .context(|| format!("reading person {staff_id:?}"))
}

// ---------------------------------------------------------------- items

const ITEM_COLUMNS: &str = "barcode, title, reference, classification, home_location, location, \
                            status, holder, due_ms, disposed_reason";

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        barcode: row.get(0)?,
        title: row.get(1)?,
        reference: row.get(2)?,
        classification: row.get(3)?,
        home_location: row.get(4)?,
        location: row.get(5)?,
        status: parsed::<ItemStatus>(row, 6)?,
        holder: row.get(7)?,
        due_ms: row.get(8)?,
        disposed_reason: row.get(9)?,
    })
}

fn find_item(conn: &Connection, barcode: &str) -> Result<Option<Item>> {
    conn.query_row(
        &format!("SELECT {ITEM_COLUMNS} FROM items WHERE barcode = ?1"),
        [barcode],
        item_from_row,
    )
    .optional()
    .context(|| format!("reading item {barcode:?}"))
}

fn collect_items(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Vec<Item>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .context(|| format!("preparing {what}"))?;
    let rows = stmt
        .query_map(params, item_from_row)
        .context(|| what.to_owned())?;
    rows.collect::<rusqlite::Result<_>>()
        .context(|| what.to_owned())
}

/// Which items to list.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    /// Words that must all appear in the barcode, title or reference
    /// (case-insensitive).
    pub text: Option<String>,
    /// Only items with this status.
    pub status: Option<ItemStatus>,
    /// Only items whose current location is this one.
    pub location: Option<String>,
    /// Only items held by this person.
    pub holder: Option<String>,
    /// At most this many, ordered by barcode, after `after` when given.
    pub limit: usize,
    /// Barcode to continue after (paging).
    pub after: Option<String>,
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl WriteTx<'_> {
    /// Adds a location. `AlreadyExists` if its code is taken.
    pub fn insert_location(&mut self, l: &Location, now_ms: i64) -> Result<()> {
        let coverage = coverage_json(&l.coverage)?;
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO locations (code, name, kind, room, coverage, retired, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    l.code,
                    l.name,
                    l.kind.as_str(),
                    l.room,
                    coverage,
                    l.retired,
                    now_ms
                ])
            });
        unique_violation(res, |_| format!("location {:?}", l.code))
            .context(|| format!("adding location {:?}", l.code))?;
        Ok(())
    }

    /// Replaces a location's fields. `NotFound` if there is none.
    pub fn update_location(&mut self, l: &Location, now_ms: i64) -> Result<()> {
        let coverage = coverage_json(&l.coverage)?;
        let n = self
            .tx
            .execute(
                "UPDATE locations SET name = ?2, kind = ?3, room = ?4, coverage = ?5, retired = ?6, \
                 updated_ms = ?7 WHERE code = ?1",
                params![
                    l.code,
                    l.name,
                    l.kind.as_str(),
                    l.room,
                    coverage,
                    l.retired,
                    now_ms
                ],
            )
            .context(|| format!("updating location {:?}", l.code))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("location {:?}", l.code)));
        }
        Ok(())
    }

    /// Adds a person. `AlreadyExists` if the staff id or badge is taken.
    pub fn insert_person(&mut self, p: &Person, now_ms: i64) -> Result<()> {
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO people (staff_id, name, role, badge, retired, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.staff_id,
                    p.name,
                    p.role.as_str(),
                    p.badge,
                    p.retired,
                    now_ms
                ])
            });
        unique_violation(res, |failed| person_conflict(p, failed))
            .context(|| format!("adding person {:?}", p.staff_id))?;
        Ok(())
    }

    /// Replaces a person's fields. `NotFound` if there is none.
    pub fn update_person(&mut self, p: &Person, now_ms: i64) -> Result<()> {
        let res = self.tx.execute(
            "UPDATE people SET name = ?2, role = ?3, badge = ?4, retired = ?5, updated_ms = ?6 \
             WHERE staff_id = ?1",
            params![
                p.staff_id,
                p.name,
                p.role.as_str(),
                p.badge,
                p.retired,
                now_ms
            ],
        );
        let n = unique_violation(res, |failed| person_conflict(p, failed))
            .context(|| format!("updating person {:?}", p.staff_id))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("person {:?}", p.staff_id)));
        }
        Ok(())
    }

    /// Adds an item. `AlreadyExists` if its barcode is taken.
    pub fn insert_item(&mut self, i: &Item, now_ms: i64) -> Result<()> {
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO items (barcode, title, reference, classification, home_location, \
                 location, status, holder, due_ms, disposed_reason, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    i.barcode,
                    i.title,
                    i.reference,
                    i.classification,
                    i.home_location,
                    i.location,
                    i.status.as_str(),
                    i.holder,
                    i.due_ms,
                    i.disposed_reason,
                    now_ms
                ])
            });
        unique_violation(res, |_| format!("item {:?}", i.barcode))
            .context(|| format!("adding item {:?}", i.barcode))?;
        Ok(())
    }

    /// Replaces an item's fields. `NotFound` if there is none.
    pub fn update_item(&mut self, i: &Item, now_ms: i64) -> Result<()> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE items SET title = ?2, reference = ?3, classification = ?4, \
                 home_location = ?5, location = ?6, status = ?7, holder = ?8, due_ms = ?9, \
                 disposed_reason = ?10, updated_ms = ?11 WHERE barcode = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    i.barcode,
                    i.title,
                    i.reference,
                    i.classification,
                    i.home_location,
                    i.location,
                    i.status.as_str(),
                    i.holder,
                    i.due_ms,
                    i.disposed_reason,
                    now_ms
                ])
            })
            .context(|| format!("updating item {:?}", i.barcode))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("item {:?}", i.barcode)));
        }
        Ok(())
    }

    /// Location `code`, read inside this transaction.
    pub fn location(&self, code: &str) -> Result<Option<Location>> {
        find_location(self.conn(), code)
    }

    /// Person `staff_id`, read inside this transaction.
    pub fn person(&self, staff_id: &str) -> Result<Option<Person>> {
        find_person(self.conn(), staff_id)
    }

    /// Items matching `q`, read inside this transaction.
    pub fn items(&self, q: &ItemQuery) -> Result<Vec<Item>> {
        query_items(self.conn(), q)
    }

    /// Item `barcode`, read inside this transaction.
    pub fn item(&self, barcode: &str) -> Result<Option<Item>> {
        find_item(self.conn(), barcode)
    }
}

/// What a person's row collided with: SQLite names the column of the
/// failed constraint (`UNIQUE constraint failed: people.badge`).
fn person_conflict(p: &Person, failed: &str) -> String {
    match &p.badge {
        Some(badge) if failed.contains("people.badge") => {
            format!("a person with badge {badge:?}")
        }
        _ => format!("person {:?}", p.staff_id),
    }
}

/// Maps a UNIQUE or PRIMARY KEY violation to `AlreadyExists(name(message))`,
/// and a foreign key violation to `InvalidArgument`; `name` gets SQLite's
/// message, which names the constraint.
pub(crate) fn unique_violation<T>(
    res: rusqlite::Result<T>,
    name: impl FnOnce(&str) -> String,
) -> std::result::Result<T, UniqueOr> {
    match res {
        Ok(v) => Ok(v),
        Err(rusqlite::Error::SqliteFailure(e, msg))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            let text = msg.unwrap_or_default();
            if text.contains("FOREIGN KEY") {
                Err(UniqueOr::Store(StoreError::InvalidArgument(format!(
                    "{} refers to a location or person that does not exist",
                    name(&text)
                ))))
            } else {
                Err(UniqueOr::Store(StoreError::AlreadyExists(name(&text))))
            }
        }
        Err(e) => Err(UniqueOr::Sqlite(e)),
    }
}

/// Either an already classified store error or a raw SQLite error that
/// still needs its context.
pub(crate) enum UniqueOr {
    Store(StoreError),
    Sqlite(rusqlite::Error),
}

impl<T> Context<T> for std::result::Result<T, UniqueOr> {
    fn context<F: FnOnce() -> String>(self, what: F) -> Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(UniqueOr::Store(e)) => Err(e),
            Err(UniqueOr::Sqlite(source)) => Err(StoreError::Database {
                context: what(),
                source,
            }),
        }
    }
}

impl Store {
    /// Location `code`, if it exists.
    pub fn location(&self, code: &str) -> Result<Option<Location>> {
        find_location(&self.conn, code)
    }

    /// Every location (retired ones too), ordered by code.
    pub fn locations(&self) -> Result<Vec<Location>> {
        all_locations(&self.conn)
    }

    /// Person `staff_id`, if they exist.
    pub fn person(&self, staff_id: &str) -> Result<Option<Person>> {
        find_person(&self.conn, staff_id)
    }

    /// Every person (retired ones too), ordered by staff id.
    pub fn people(&self) -> Result<Vec<Person>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PERSON_COLUMNS} FROM people ORDER BY staff_id"
            ))
            .context(|| "preparing the people query".to_owned())?;
        let rows = stmt
            .query_map([], person_from_row)
            .context(|| "listing people".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing people".to_owned())
    }

    /// Item `barcode`, if it exists.
    pub fn item(&self, barcode: &str) -> Result<Option<Item>> {
        find_item(&self.conn, barcode)
    }

    /// Items matching `q`, ordered by barcode.
    pub fn items(&self, q: &ItemQuery) -> Result<Vec<Item>> {
        query_items(&self.conn, q)
    }

    /// Items in place at `location` or at a location inside it (a room's
    /// shelves and tables), for inventories.
    pub fn items_within(&self, location: &str) -> Result<Vec<Item>> {
        collect_items(
            &self.conn,
            &format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE status = 'in_place' AND location IN \
                 (SELECT code FROM locations WHERE code = ?1 OR room = ?1) ORDER BY barcode"
            ),
            [location],
            "listing the items at a location",
        )
    }

    /// Items out whose due time is before `now_ms`, most overdue first.
    pub fn overdue_items(&self, now_ms: i64) -> Result<Vec<Item>> {
        collect_items(
            &self.conn,
            &format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE status = 'out' AND due_ms < ?1 \
                 ORDER BY due_ms, barcode"
            ),
            [now_ms],
            "listing overdue items",
        )
    }

    /// How many items, people and locations the register holds.
    pub fn register_counts(&self) -> Result<(u64, u64, u64)> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM people), \
                 (SELECT COUNT(*) FROM locations)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .context(|| "counting the register".to_owned())
    }
}

impl Store {
    /// Every barcode in the register (for checking an import against it).
    pub fn all_barcodes(&self) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT barcode FROM items")
            .context(|| "preparing the barcodes query".to_owned())?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .context(|| "listing barcodes".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing barcodes".to_owned())
    }
}

/// Items matching `q`, ordered by barcode, as `conn` sees them.
fn query_items(conn: &rusqlite::Connection, q: &ItemQuery) -> Result<Vec<Item>> {
    let mut sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE 1 = 1");
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(text) = &q.text {
        for word in text.split_whitespace() {
            args.push(Box::new(format!("%{}%", like_escape(word))));
            let n = args.len();
            sql.push_str(&format!(
                " AND (barcode LIKE ?{n} ESCAPE '\\' OR title LIKE ?{n} ESCAPE '\\' \
                 OR reference LIKE ?{n} ESCAPE '\\')"
            ));
        }
    }
    if let Some(status) = q.status {
        args.push(Box::new(status.as_str()));
        sql.push_str(&format!(" AND status = ?{}", args.len()));
    }
    if let Some(location) = &q.location {
        args.push(Box::new(location.clone()));
        sql.push_str(&format!(
            " AND location = ?{} AND status = 'in_place'",
            args.len()
        ));
    }
    if let Some(holder) = &q.holder {
        args.push(Box::new(holder.clone()));
        sql.push_str(&format!(" AND holder = ?{}", args.len()));
    }
    if let Some(after) = &q.after {
        args.push(Box::new(after.clone()));
        sql.push_str(&format!(" AND barcode > ?{}", args.len()));
    }
    args.push(Box::new(q.limit as i64));
    sql.push_str(&format!(" ORDER BY barcode LIMIT ?{}", args.len()));
    let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
    collect_items(conn, &sql, params.as_slice(), "listing items")
}
