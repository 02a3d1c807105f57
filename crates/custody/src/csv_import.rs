//! Parsing uploaded CSV files of locations, people and items: all rows or
//! none.
//!
//! Every file starts with a header row naming its columns, in any order
//! (matched case-insensitively, surrounding spaces ignored). Unknown columns
//! and missing required columns are errors. Values are trimmed. A UTF-8 byte
//! order mark, CRLF (or CR) line ends, blank lines, empty rows (`,,,`) and
//! quoted fields holding commas, quotes (`""`) or line breaks are accepted.
//! A quote anywhere else (`"a "b" c"`, `a "b`) is an error, never a guess.
//!
//! A file either parses completely or gives every error found (up to
//! [`MAX_ERRORS`], then one more entry saying how many were left out), each
//! naming the line in the file where its row starts (a stray quote: the
//! line it is on) and the column. Lines are counted as editors show them:
//! LF, CRLF and a lone CR each end one, inside quoted fields too.
//!
//! | file | required columns | optional columns |
//! |---|---|---|
//! | locations | `code`, `name` | `kind` (default `room`), `room`, `coverage` (`cam1;cam2:zone`) |
//! | people | `staff_id`, `name` | `role` (default `staff`), `badge` |
//! | items | `barcode`, `title`, `home_location` | `reference`, `classification`, `status` (default `in_place`), `holder`, `due` |
//!
//! Items are in place at their home location unless `status` says `out`
//! (then `holder` and `due` are required, and not allowed otherwise) or
//! `disposed`. `due` is RFC 3339 (`2026-05-01T17:00:00+02:00`) or
//! `YYYY-MM-DD HH:MM`, taken as UTC.
//!
//! Locations and people must be imported before the items that name them;
//! a locations file may name as `room` a location defined anywhere in the
//! same file, and the result lists every room before what it contains.

mod records;

use std::collections::HashMap;
use std::fmt;

use records::Records;

use crate::model::{
    validate_code, Coverage, Item, ItemStatus, Location, LocationKind, Person, PersonRole,
};

/// The most errors listed; the rest are counted in one last entry.
pub const MAX_ERRORS: usize = 1000;

/// How often (in rows) progress is reported.
const PROGRESS_EVERY_ROWS: u64 = 4096;

/// One problem in an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowError {
    /// The line in the file (counted from 1) where the row starts.
    pub line: u64,
    /// The column's header name, when the problem is in one column.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(
                f,
                "line {}, column {:?}: {}",
                self.line, column, self.reason
            ),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl std::error::Error for RowError {}

/// One column a file may have.
struct Column {
    name: &'static str,
    required: bool,
}

const fn required(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

const fn optional(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

/// Errors found so far.
#[derive(Default)]
struct Errors(Vec<RowError>);

impl Errors {
    fn add(&mut self, line: u64, column: Option<&str>, reason: impl Into<String>) {
        self.0.push(RowError {
            line,
            column: column.map(str::to_owned),
            reason: reason.into(),
        });
    }

    /// All rows, or the errors in file order, capped at [`MAX_ERRORS`].
    fn finish<T>(self, rows: Vec<T>) -> Result<Vec<T>, Vec<RowError>> {
        let mut list = self.0;
        if list.is_empty() {
            return Ok(rows);
        }
        // Rows are checked in order, but cross-row checks (rooms named
        // later in the file) add errors afterwards.
        list.sort_by_key(|e| e.line);
        if list.len() > MAX_ERRORS {
            let left_out = list.len() - MAX_ERRORS;
            let first_left_out = list[MAX_ERRORS].line;
            list.truncate(MAX_ERRORS);
            list.push(RowError {
                line: first_left_out,
                column: None,
                reason: format!(
                    "and {left_out} more errors from here on (only the first {MAX_ERRORS} are listed)"
                ),
            });
        }
        Err(list)
    }
}

/// One data row, its values in the order of the file kind's column list
/// ("" for a column the file does not have).
struct Row<'r> {
    line: u64,
    values: Vec<&'r str>,
    columns: &'static [Column],
}

impl Row<'_> {
    fn get(&self, column: usize) -> &str {
        self.values.get(column).copied().unwrap_or("")
    }

    fn name(&self, column: usize) -> &'static str {
        self.columns.get(column).map_or("?", |c| c.name)
    }

    /// The value, or an error if it is empty.
    fn non_empty(&self, column: usize, errors: &mut Errors) -> Option<&str> {
        let value = self.get(column);
        if value.is_empty() {
            errors.add(self.line, Some(self.name(column)), "a value is required");
            return None;
        }
        Some(value)
    }

    /// A code (barcode, staff id, location code) that must be present.
    fn code(&self, column: usize, what: &str, errors: &mut Errors) -> Option<&str> {
        let value = self.non_empty(column, errors)?;
        match validate_code(what, value) {
            Ok(()) => Some(value),
            Err(e) => {
                errors.add(self.line, Some(self.name(column)), e.to_string());
                None
            }
        }
    }

    /// A value parsed with `FromStr`, or `default` when empty.
    fn parsed<T: std::str::FromStr>(
        &self,
        column: usize,
        default: T,
        errors: &mut Errors,
    ) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let value = self.get(column);
        if value.is_empty() {
            return Some(default);
        }
        match value.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.add(self.line, Some(self.name(column)), e.to_string());
                None
            }
        }
    }

    fn optional(&self, column: usize) -> Option<String> {
        Some(self.get(column))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// Remembers the first line of each key, to name both lines of a duplicate.
struct FirstSeen(HashMap<String, u64>);

impl FirstSeen {
    fn new() -> FirstSeen {
        FirstSeen(HashMap::new())
    }

    /// Records `key` at `row`'s line; an error if it was seen before.
    fn check(&mut self, row: &Row<'_>, column: usize, what: &str, key: &str, errors: &mut Errors) {
        if let Some(first) = self.0.get(key) {
            errors.add(
                row.line,
                Some(row.name(column)),
                format!("{what} {key:?} appears again; first on line {first}"),
            );
        } else {
            self.0.insert(key.to_owned(), row.line);
        }
    }
}

/// Reads the header and every row of `bytes`, calling `each` for the rows
/// whose shape is right. Header problems stop the reading.
fn read_rows<T>(
    bytes: &[u8],
    columns: &'static [Column],
    progress: &mut dyn FnMut(u64),
    errors: &mut Errors,
    mut each: impl FnMut(&Row<'_>, &mut Errors) -> Option<T>,
) -> Vec<T> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut records = Records::new(body);

    let Some(positions) = read_header(&mut records, columns, errors) else {
        return Vec::new();
    };
    let header_len = positions.len();
    // The column a field of the file fills, to name it in errors.
    let column_of = |field: usize| {
        positions
            .get(field)
            .copied()
            .flatten()
            .map(|c| columns[c].name)
    };

    let mut rows = Vec::new();
    let mut count: u64 = 0;
    while let Some(record) = records.next_record() {
        count += 1;
        if count.is_multiple_of(PROGRESS_EVERY_ROWS) {
            progress(records.position() as u64);
        }
        let line = record.line;
        if !record.problems.is_empty() {
            // The fields are not what the file meant; nothing else about
            // the row can be judged.
            for p in &record.problems {
                errors.add(p.line, column_of(p.field), p.reason.clone());
            }
            continue;
        }
        if record.fields.len() != header_len {
            errors.add(
                line,
                None,
                format!(
                    "expected {header_len} fields as in the header, got {}",
                    record.fields.len()
                ),
            );
            continue;
        }
        let mut values = vec![""; columns.len()];
        let mut readable = true;
        for (field, position) in record.fields.iter().zip(&positions) {
            let Some(column) = *position else { continue };
            match std::str::from_utf8(field) {
                Ok(text) => values[column] = text.trim(),
                Err(e) => {
                    readable = false;
                    errors.add(
                        line,
                        Some(columns[column].name),
                        format!(
                            "invalid UTF-8 (byte {} of the value); save the file as UTF-8",
                            e.valid_up_to() + 1
                        ),
                    );
                }
            }
        }
        if !readable {
            continue;
        }
        let row = Row {
            line,
            values,
            columns,
        };
        if let Some(parsed) = each(&row, errors) {
            rows.push(parsed);
        }
    }
    progress(bytes.len() as u64);
    rows
}

/// Reads the header; returns, for each field of the file, the index in
/// `columns` it fills.
fn read_header(
    records: &mut Records<'_>,
    columns: &'static [Column],
    errors: &mut Errors,
) -> Option<Vec<Option<usize>>> {
    let all_names = || columns.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
    let Some(record) = records.next_record() else {
        errors.add(
            1,
            None,
            format!(
                "the file is empty; its first line must name the columns, such as {}",
                all_names()
            ),
        );
        return None;
    };
    let line = record.line;
    if !record.problems.is_empty() {
        for p in &record.problems {
            errors.add(p.line, None, format!("in the header: {}", p.reason));
        }
        return None;
    }
    let mut positions = Vec::with_capacity(record.fields.len());
    let mut found = vec![false; columns.len()];
    let mut ok = true;
    for field in &record.fields {
        let Ok(name) = std::str::from_utf8(field) else {
            errors.add(line, None, "invalid UTF-8 in the header");
            return None;
        };
        let name = name.trim();
        match columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        {
            Some(index) if found[index] => {
                ok = false;
                errors.add(line, Some(columns[index].name), "the column appears twice");
                positions.push(None);
            }
            Some(index) => {
                found[index] = true;
                positions.push(Some(index));
            }
            None => {
                ok = false;
                errors.add(
                    line,
                    Some(name),
                    format!("unknown column; the columns are {}", all_names()),
                );
                positions.push(None);
            }
        }
    }
    let missing: Vec<String> = columns
        .iter()
        .zip(&found)
        .filter(|(c, found)| c.required && !**found)
        .map(|(c, _)| format!("{:?}", c.name))
        .collect();
    if !missing.is_empty() {
        ok = false;
        errors.add(
            line,
            None,
            format!("missing required column(s) {}", missing.join(", ")),
        );
    }
    ok.then_some(positions)
}

const LOCATION_COLUMNS: &[Column] = &[
    required("code"),
    required("name"),
    optional("kind"),
    optional("room"),
    optional("coverage"),
];

/// Parses a locations file. `known` says whether a location code is
/// already in the register; `camera_exists` whether the site has a camera
/// (cameras are the site's configuration, not the register's).
pub fn parse_locations(
    bytes: &[u8],
    known: &impl Fn(&str) -> bool,
    camera_exists: &impl Fn(&str) -> bool,
) -> Result<Vec<Location>, Vec<RowError>> {
    parse_locations_with_progress(bytes, known, camera_exists, &mut |_| {})
}

/// [`parse_locations`], calling `progress` now and then with the number of
/// bytes read so far (and finally with the file's length).
pub fn parse_locations_with_progress(
    bytes: &[u8],
    known: &impl Fn(&str) -> bool,
    camera_exists: &impl Fn(&str) -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Location>, Vec<RowError>> {
    const CODE: usize = 0;
    const NAME: usize = 1;
    const KIND: usize = 2;
    const ROOM: usize = 3;
    const COVERAGE: usize = 4;

    let mut errors = Errors::default();
    let mut codes = FirstSeen::new();
    // (line, room) of every row naming a room, even rows with other errors.
    let mut room_references: Vec<(u64, String)> = Vec::new();
    let rows = read_rows(
        bytes,
        LOCATION_COLUMNS,
        progress,
        &mut errors,
        |row, errors| {
            let code = row.code(CODE, "location code", errors);
            if let Some(code) = code {
                codes.check(row, CODE, "location code", code, errors);
                if known(code) {
                    errors.add(
                        row.line,
                        Some(row.name(CODE)),
                        format!("location {code:?} is already in the register"),
                    );
                }
            }
            let name = row.non_empty(NAME, errors);
            let kind = row.parsed(KIND, LocationKind::Room, errors);
            let room = match row.optional(ROOM) {
                None => Some(None),
                Some(room) => match validate_code("room", &room) {
                    Ok(()) if Some(room.as_str()) == code => {
                        errors.add(
                            row.line,
                            Some(row.name(ROOM)),
                            "a location cannot be inside itself",
                        );
                        None
                    }
                    Ok(()) => {
                        room_references.push((row.line, room.clone()));
                        Some(Some(room))
                    }
                    Err(e) => {
                        errors.add(row.line, Some(row.name(ROOM)), e.to_string());
                        None
                    }
                },
            };
            let coverage = match Coverage::parse_list(row.get(COVERAGE)) {
                Ok(list) => {
                    let unknown: Vec<&Coverage> =
                        list.iter().filter(|c| !camera_exists(&c.camera)).collect();
                    for c in &unknown {
                        errors.add(
                            row.line,
                            Some(row.name(COVERAGE)),
                            format!("camera {:?} is not one of the site's cameras", c.camera),
                        );
                    }
                    unknown.is_empty().then_some(list)
                }
                Err(e) => {
                    errors.add(row.line, Some(row.name(COVERAGE)), e.to_string());
                    None
                }
            };
            Some((
                row.line,
                Location {
                    code: code?.to_owned(),
                    name: name?.to_owned(),
                    kind: kind?,
                    room: room?,
                    coverage: coverage?,
                    retired: false,
                },
            ))
        },
    );

    // Rooms may be defined anywhere in the file, so they are checked once
    // all rows are read.
    let lines: HashMap<&str, u64> = codes.0.iter().map(|(c, l)| (c.as_str(), *l)).collect();
    for (line, room) in &room_references {
        if !known(room) && !lines.contains_key(room.as_str()) {
            errors.add(
                *line,
                Some("room"),
                format!("room {room:?} is neither in the register nor defined in this file"),
            );
        }
    }
    let ordered = rooms_first(rows, &mut errors);
    errors.finish(ordered)
}

/// Orders locations so that each comes after the room containing it, when
/// that room is in the same file; reports cycles.
fn rooms_first(rows: Vec<(u64, Location)>, errors: &mut Errors) -> Vec<Location> {
    let in_file: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, l))| (l.code.clone(), i))
        .collect();
    let mut placed = vec![false; rows.len()];
    let mut order = Vec::with_capacity(rows.len());
    // Each pass places what has no unplaced room; nesting is shallow
    // (room > shelf), so this takes a couple of passes.
    loop {
        let before = order.len();
        for (i, (_, location)) in rows.iter().enumerate() {
            if placed[i] {
                continue;
            }
            let waits = location
                .room
                .as_ref()
                .and_then(|room| in_file.get(room))
                .is_some_and(|&r| !placed[r]);
            if !waits {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() == rows.len() || order.len() == before {
            break;
        }
    }
    for (i, (line, location)) in rows.iter().enumerate() {
        if !placed[i] {
            errors.add(
                *line,
                Some("room"),
                format!(
                    "location {:?} is, through its rooms, inside itself",
                    location.code
                ),
            );
        }
    }
    let mut slots: Vec<Option<Location>> = rows.into_iter().map(|(_, l)| Some(l)).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

const PEOPLE_COLUMNS: &[Column] = &[
    required("staff_id"),
    required("name"),
    optional("role"),
    optional("badge"),
];

/// Parses a people file. `staff_exists` says whether a staff id is already
/// in the register; `badge_holder` whose badge a badge already is. A badge
/// belongs to one person: in the file and in the register.
pub fn parse_people(
    bytes: &[u8],
    staff_exists: &impl Fn(&str) -> bool,
    badge_holder: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<Person>, Vec<RowError>> {
    parse_people_with_progress(bytes, staff_exists, badge_holder, &mut |_| {})
}

/// [`parse_people`], calling `progress` now and then with the number of
/// bytes read so far.
pub fn parse_people_with_progress(
    bytes: &[u8],
    staff_exists: &impl Fn(&str) -> bool,
    badge_holder: &impl Fn(&str) -> Option<String>,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Person>, Vec<RowError>> {
    const STAFF_ID: usize = 0;
    const NAME: usize = 1;
    const ROLE: usize = 2;
    const BADGE: usize = 3;

    let mut errors = Errors::default();
    let mut ids = FirstSeen::new();
    let mut badges = FirstSeen::new();
    let rows = read_rows(
        bytes,
        PEOPLE_COLUMNS,
        progress,
        &mut errors,
        |row, errors| {
            let staff_id = row.code(STAFF_ID, "staff id", errors);
            if let Some(id) = staff_id {
                ids.check(row, STAFF_ID, "staff id", id, errors);
                if staff_exists(id) {
                    errors.add(
                        row.line,
                        Some(row.name(STAFF_ID)),
                        format!("staff id {id:?} is already in the register"),
                    );
                }
            }
            let name = row.non_empty(NAME, errors);
            let role = row.parsed(ROLE, PersonRole::Staff, errors);
            let badge = row.optional(BADGE);
            if let Some(badge) = &badge {
                badges.check(row, BADGE, "badge", badge, errors);
                if let Some(holder) = badge_holder(badge) {
                    errors.add(
                        row.line,
                        Some(row.name(BADGE)),
                        format!("badge {badge:?} already belongs to {holder:?} in the register"),
                    );
                }
            }
            Some(Person {
                staff_id: staff_id?.to_owned(),
                name: name?.to_owned(),
                role: role?,
                badge,
                retired: false,
            })
        },
    );
    errors.finish(rows)
}

const ITEM_COLUMNS: &[Column] = &[
    required("barcode"),
    required("title"),
    optional("reference"),
    optional("classification"),
    required("home_location"),
    optional("status"),
    optional("holder"),
    optional("due"),
];

/// Parses an items file. The closures say whether a location code, a
/// barcode or a staff id is already in the register.
pub fn parse_items(
    bytes: &[u8],
    location_exists: &impl Fn(&str) -> bool,
    barcode_exists: &impl Fn(&str) -> bool,
    person_exists: &impl Fn(&str) -> bool,
) -> Result<Vec<Item>, Vec<RowError>> {
    parse_items_with_progress(
        bytes,
        location_exists,
        barcode_exists,
        person_exists,
        &mut |_| {},
    )
}

/// [`parse_items`], calling `progress` now and then with the number of
/// bytes read so far.
pub fn parse_items_with_progress(
    bytes: &[u8],
    location_exists: &impl Fn(&str) -> bool,
    barcode_exists: &impl Fn(&str) -> bool,
    person_exists: &impl Fn(&str) -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Item>, Vec<RowError>> {
    const BARCODE: usize = 0;
    const TITLE: usize = 1;
    const REFERENCE: usize = 2;
    const CLASSIFICATION: usize = 3;
    const HOME: usize = 4;
    const STATUS: usize = 5;
    const HOLDER: usize = 6;
    const DUE: usize = 7;

    let mut errors = Errors::default();
    let mut barcodes = FirstSeen::new();
    let rows = read_rows(bytes, ITEM_COLUMNS, progress, &mut errors, |row, errors| {
        let barcode = row.code(BARCODE, "barcode", errors);
        if let Some(barcode) = barcode {
            barcodes.check(row, BARCODE, "barcode", barcode, errors);
            if barcode_exists(barcode) {
                errors.add(
                    row.line,
                    Some(row.name(BARCODE)),
                    format!("barcode {barcode:?} is already in the register"),
                );
            }
        }
        let title = row.non_empty(TITLE, errors);
        let home = row.code(HOME, "home location", errors).filter(|home| {
            let exists = location_exists(home);
            if !exists {
                errors.add(
                    row.line,
                    Some(row.name(HOME)),
                    format!("location {home:?} is not in the register (import locations first)"),
                );
            }
            exists
        });
        let status = row.parsed(STATUS, ItemStatus::InPlace, errors);
        let (holder, due_ms) = match status {
            Some(ItemStatus::Out) => {
                let holder = row.code(HOLDER, "holder", errors).filter(|holder| {
                    let exists = person_exists(holder);
                    if !exists {
                        errors.add(
                            row.line,
                            Some(row.name(HOLDER)),
                            format!(
                                "no person with staff id {holder:?} in the register (import people first)"
                            ),
                        );
                    }
                    exists
                });
                let due = row
                    .non_empty(DUE, errors)
                    .and_then(|text| match parse_due(text) {
                        Ok(ms) => Some(ms),
                        Err(reason) => {
                            errors.add(row.line, Some(row.name(DUE)), reason);
                            None
                        }
                    });
                (holder.map(|h| Some(h.to_owned())), due.map(Some))
            }
            Some(_) => {
                for column in [HOLDER, DUE] {
                    if !row.get(column).is_empty() {
                        errors.add(
                            row.line,
                            Some(row.name(column)),
                            "only allowed with status \"out\"",
                        );
                    }
                }
                (Some(None), Some(None))
            }
            None => (None, None),
        };
        let home = home?;
        Some(Item {
            barcode: barcode?.to_owned(),
            title: title?.to_owned(),
            reference: row.get(REFERENCE).to_owned(),
            classification: row.get(CLASSIFICATION).to_owned(),
            home_location: home.to_owned(),
            location: home.to_owned(),
            status: status?,
            holder: holder?,
            due_ms: due_ms?,
            disposed_reason: None,
        })
    });
    errors.finish(rows)
}

/// Parses a due time: RFC 3339, or `YYYY-MM-DD HH:MM` (also with a `T`)
/// taken as UTC. The error is the whole reason for the user.
pub fn parse_due(text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for form in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, form) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(format!(
        "bad date {text:?} (want RFC 3339 such as 2026-05-01T17:00:00+02:00, \
         or YYYY-MM-DD HH:MM in UTC such as 2026-05-01 15:00)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn set(values: &[&str]) -> HashSet<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn items(csv: &str) -> Result<Vec<Item>, Vec<RowError>> {
        items_bytes(csv.as_bytes())
    }

    /// Items parsed against a register of locations S1 and S2, item OLD1
    /// and person alice.
    fn items_bytes(bytes: &[u8]) -> Result<Vec<Item>, Vec<RowError>> {
        let locations = set(&["S1", "S2"]);
        let barcodes = set(&["OLD1"]);
        let people = set(&["alice"]);
        parse_items(
            bytes,
            &|c: &str| locations.contains(c),
            &|b: &str| barcodes.contains(b),
            &|s: &str| people.contains(s),
        )
    }

    fn messages(errors: &[RowError]) -> Vec<String> {
        errors.iter().map(RowError::to_string).collect()
    }

    #[test]
    fn items_parse_with_defaults_and_any_column_order() {
        let csv = "\u{feff} Title ,BARCODE,home_location,status,holder,due\r\n\
                   \"Minutes, 1901\",B1,S1,,,\r\n\
                   Letters,B2,S2,out,alice,2026-05-01T17:00:00+02:00\r\n\
                   \r\n\
                   Deeds,B3,S2,OUT,alice,2026-05-01 15:00\r\n";
        let parsed = items(csv).expect("valid file");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].title, "Minutes, 1901");
        assert_eq!(parsed[0].status, ItemStatus::InPlace);
        assert_eq!(parsed[0].location, "S1");
        assert_eq!(parsed[0].holder, None);
        assert_eq!(parsed[0].reference, "");
        assert_eq!(parsed[1].status, ItemStatus::Out);
        assert_eq!(parsed[1].holder.as_deref(), Some("alice"));
        // Both forms name the same instant.
        assert_eq!(parsed[1].due_ms, Some(1_777_647_600_000));
        assert_eq!(parsed[2].due_ms, parsed[1].due_ms);
    }

    #[test]
    fn every_row_error_is_reported_with_its_line() {
        let csv = "barcode,title,home_location,status,holder,due\n\
                   B1,One,S1,,,\n\
                   \"B2\",\"Two,\nspanning lines\",S1,,,\n\
                   B1,Again,S1,,,\n\
                   OLD1,Old,S1,,,\n\
                   B/5,Bad,S9,,,\n\
                   B6,,S1,lent,,\n\
                   B7,Seven,S1,out,bob,2025-13-01\n\
                   B8,Eight,S1,in_place,alice,\n\
                   B9,Short\n";
        let errors = items(csv).expect_err("many errors");
        let got = messages(&errors);
        let want = [
            "line 5, column \"barcode\": barcode \"B1\" appears again; first on line 2",
            "line 6, column \"barcode\": barcode \"OLD1\" is already in the register",
            "line 7, column \"barcode\": barcode \"B/5\" contains '/' at position 2; \
             only letters A-Z a-z, digits 0-9, '.', '_' and '-' are allowed",
            "line 7, column \"home_location\": location \"S9\" is not in the register \
             (import locations first)",
            "line 8, column \"title\": a value is required",
            "line 8, column \"status\": item status \"lent\" is not one of: in_place out disposed",
            "line 9, column \"holder\": no person with staff id \"bob\" in the register \
             (import people first)",
            "line 9, column \"due\": bad date \"2025-13-01\" (want RFC 3339 such as \
             2026-05-01T17:00:00+02:00, or YYYY-MM-DD HH:MM in UTC such as 2026-05-01 15:00)",
            "line 10, column \"holder\": only allowed with status \"out\"",
            "line 11: expected 6 fields as in the header, got 2",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn header_problems_are_reported_together() {
        let errors = items("barcode,colour,status\nB1,red,\n").expect_err("bad header");
        assert_eq!(
            messages(&errors),
            [
                "line 1, column \"colour\": unknown column; the columns are \
                 barcode,title,reference,classification,home_location,status,holder,due",
                "line 1: missing required column(s) \"title\", \"home_location\"",
            ]
        );
        let empty = items("").expect_err("empty file");
        assert_eq!(empty[0].line, 1);
        assert!(empty[0].reason.starts_with("the file is empty"));
        let twice = items("barcode,title,home_location,Barcode\n").expect_err("twice");
        assert_eq!(twice[0].reason, "the column appears twice");
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut csv = b"barcode,title,home_location\nB1,ok,S1\nB2,caf".to_vec();
        csv.extend_from_slice(&[0xE9, b',', b'S', b'1', b'\n']);
        let errors = items_bytes(&csv).expect_err("latin-1 byte");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
        assert_eq!(errors[0].column.as_deref(), Some("title"));
        assert!(errors[0].reason.starts_with("invalid UTF-8"));
    }

    #[test]
    fn errors_are_capped() {
        let mut csv = String::from("barcode,title,home_location\n");
        for n in 0..1500 {
            csv.push_str(&format!("B{n},,S1\n"));
        }
        let errors = items_bytes(csv.as_bytes()).expect_err("all titles empty");
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        let last = errors.last().expect("summary entry");
        assert_eq!(last.line, 1002);
        assert_eq!(
            last.reason,
            "and 500 more errors from here on (only the first 1000 are listed)"
        );
    }

    #[test]
    fn locations_may_name_rooms_later_in_the_file() {
        let known = set(&["R0"]);
        let csv = "code,name,kind,room,coverage\n\
                   S1,Shelf 1,shelf,R1,\n\
                   T1,Table 1,reading_table,R1,cam2:table 1\n\
                   R1,Strong room,,,cam1;cam2\n\
                   S2,Shelf 2,shelf,R0,\n";
        let cameras = set(&["cam1", "cam2"]);
        let parsed = parse_locations(csv.as_bytes(), &|c: &str| known.contains(c), &|c: &str| {
            cameras.contains(c)
        })
        .expect("valid file");
        let codes: Vec<&str> = parsed.iter().map(|l| l.code.as_str()).collect();
        assert_eq!(codes, ["R1", "S2", "S1", "T1"]);
        assert_eq!(parsed[0].kind, LocationKind::Room);
        assert_eq!(parsed[0].coverage.len(), 2);
        assert_eq!(parsed[3].coverage[0].zone.as_deref(), Some("table 1"));
        assert_eq!(parsed[3].room.as_deref(), Some("R1"));
    }

    #[test]
    fn location_errors() {
        let known = set(&["R0"]);
        let csv = "code,name,kind,room,coverage\n\
                   R0,Again,,,\n\
                   S1,Shelf,drawer,R9,\n\
                   A,A,,B,\n\
                   B,B,,A,\n\
                   C,C,,C,cam 1\n\
                   D,D,,,cam1; cam9:door\n";
        let cameras = set(&["cam1"]);
        let errors = parse_locations(csv.as_bytes(), &|c: &str| known.contains(c), &|c: &str| {
            cameras.contains(c)
        })
        .expect_err("errors");
        assert_eq!(
            messages(&errors),
            [
                "line 2, column \"code\": location \"R0\" is already in the register",
                "line 3, column \"kind\": location kind \"drawer\" is not one of: \
                 room shelf reading_table other",
                "line 3, column \"room\": room \"R9\" is neither in the register nor defined in this file",
                "line 4, column \"room\": location \"A\" is, through its rooms, inside itself",
                "line 5, column \"room\": location \"B\" is, through its rooms, inside itself",
                "line 6, column \"room\": a location cannot be inside itself",
                "line 6, column \"coverage\": coverage \"cam 1\": camera \"cam 1\" contains ' ' \
                 at position 4; only letters A-Z a-z, digits 0-9, '.', '_' and '-' are allowed",
                "line 7, column \"coverage\": camera \"cam9\" is not one of the site's cameras",
            ]
        );
    }

    #[test]
    fn people_parse_and_report_duplicates() {
        let known = set(&["boss"]);
        let no_badges = |_: &str| None;
        let good =
            "staff_id,name,role,badge\nalice,Alice A,researcher,B-17\nbob,Bob B,,\ncarol,C,,\n";
        let people =
            parse_people(good.as_bytes(), &|s: &str| known.contains(s), &no_badges).expect("valid");
        assert_eq!(people[0].role, PersonRole::Researcher);
        assert_eq!(people[0].badge.as_deref(), Some("B-17"));
        assert_eq!(people[1].role, PersonRole::Staff);
        // People without a badge do not share one.
        assert_eq!(people[1].badge, None);
        assert_eq!(people[2].badge, None);

        let bad = "name,staff_id\nA,alice\nB,alice\nC,boss\n";
        let errors = parse_people(bad.as_bytes(), &|s: &str| known.contains(s), &no_badges)
            .expect_err("dups");
        assert_eq!(
            messages(&errors),
            [
                "line 3, column \"staff_id\": staff id \"alice\" appears again; first on line 2",
                "line 4, column \"staff_id\": staff id \"boss\" is already in the register",
            ]
        );
    }

    #[test]
    fn a_badge_belongs_to_one_person() {
        let badges: HashMap<String, String> = [("B-1".to_owned(), "boss".to_owned())].into();
        let holder = |b: &str| badges.get(b).cloned();
        let csv = "staff_id,name,badge\r\n\
                   p0115.x,A,B-8705\r\n\
                   \r\n\
                   p0116.x,B, B-8705 \r\n\
                   p0117.x,C,B-1\r\n";
        let errors = parse_people(csv.as_bytes(), &|_: &str| false, &holder).expect_err("dups");
        assert_eq!(
            messages(&errors),
            [
                "line 4, column \"badge\": badge \"B-8705\" appears again; first on line 2",
                "line 5, column \"badge\": badge \"B-1\" already belongs to \"boss\" in the register",
            ]
        );
    }

    #[test]
    fn a_hundred_thousand_items_parse() {
        let mut csv = String::from("barcode,title,reference,classification,home_location\n");
        for n in 0..100_000 {
            csv.push_str(&format!(
                "ITEM-{n:06},\"Box {n}, folder {}\",REF/{n},public,S{}\n",
                n % 7,
                n % 2 + 1
            ));
        }
        let mut last_progress = 0;
        let locations = set(&["S1", "S2"]);
        let parsed = parse_items_with_progress(
            csv.as_bytes(),
            &|c: &str| locations.contains(c),
            &|_: &str| false,
            &|_: &str| false,
            &mut |bytes| {
                assert!(bytes >= last_progress);
                last_progress = bytes;
            },
        )
        .expect("valid file");
        assert_eq!(parsed.len(), 100_000);
        assert_eq!(last_progress, csv.len() as u64);
        assert_eq!(parsed[99_999].barcode, "ITEM-099999");
        assert_eq!(parsed[99_999].title, "Box 99999, folder 4");
        assert_eq!(parsed[99_999].home_location, "S2");
    }

    /// The line (counted from 1) of `file` holding `needle`, which must
    /// appear on exactly one line. Lines end at LF, CRLF or a lone CR, as
    /// an editor shows them.
    fn line_of(file: &[u8], needle: &str) -> u64 {
        let text = String::from_utf8_lossy(file)
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let hits: Vec<u64> = text
            .split('\n')
            .enumerate()
            .filter(|(_, line)| line.contains(needle))
            .map(|(n, _)| n as u64 + 1)
            .collect();
        assert_eq!(hits.len(), 1, "{needle:?} is on lines {hits:?}");
        hits[0]
    }

    #[test]
    fn crlf_rows_are_numbered_as_in_the_file() {
        let csv = "barcode,title,home_location\r\nA1,t,S1\r\nA2,t,NOPE\r\n";
        let errors = items(csv).expect_err("unknown location");
        assert_eq!(
            messages(&errors),
            [
                "line 3, column \"home_location\": location \"NOPE\" is not in the register \
              (import locations first)"
            ]
        );
        // The same file with LF line ends gives the same line.
        let lf = items(&csv.replace("\r\n", "\n")).expect_err("unknown location");
        assert_eq!(lf, errors);
    }

    #[test]
    fn a_row_after_blank_lines_keeps_its_own_line() {
        for csv in [
            "barcode,title,home_location\nA1,t,S1\n\nA2,t,NOPE\n",
            "barcode,title,home_location\r\nA1,t,S1\r\n\r\nA2,t,NOPE\r\n",
            "barcode,title,home_location\nA1,t,S1\n\n,,\n  \nA2,t,NOPE\n",
        ] {
            let errors = items(csv).expect_err("unknown location");
            assert_eq!(errors.len(), 1, "{csv:?}: {errors:?}");
            assert_eq!(
                errors[0].line,
                line_of(csv.as_bytes(), "NOPE"),
                "{csv:?}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_stray_quote_refuses_the_row_and_names_where_it_is() {
        let cases = [
            // A quote inside a quoted value, not doubled.
            (
                "barcode,title,home_location\nQ1,\"Minutes 1901 \"draft\" copy\",S1\n",
                "line 2, column \"title\": the quote at character 18 ends the quoted value \
                 but the value goes on; inside quotes, write a quote twice: \
                 \"Minutes 1901 \"\"draft\"\" copy\"",
            ),
            // A quote inside a value that is not in quotes.
            (
                "barcode,title,home_location\nQ2,Minutes 1901 \"draft,S1\n",
                "line 2, column \"title\": a quote at character 17 inside a value that does not \
                 start with one; put the whole value in quotes and write the quote twice: \
                 \"Minutes 1901 \"\"draft\"",
            ),
            // A quoted value never closed: the rest of the file is in it.
            (
                "barcode,title,home_location\nQ3,t,S1\nQ4,\"Minutes,S1\nQ5,t,S1\n",
                "line 3, column \"title\": the quote at character 4 opens a value that is never \
                 closed (the file ends inside it)",
            ),
        ];
        for (csv, want) in cases {
            let errors = items(csv).expect_err("stray quote");
            assert_eq!(messages(&errors), [want], "{csv:?}");
        }
        // Doubled quotes, spaces around a quoted value, and a quoted line
        // break are all fine.
        let good = "barcode,title,home_location\n\
                    Q1,\"Minutes 1901 \"\"draft\"\" copy\",S1\n\
                    Q2, \"Minutes, 1902\" ,S1\n\
                    Q3,\"Two\r\nlines\",S1\n";
        let parsed = items(good).expect("valid file");
        let titles: Vec<&str> = parsed.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Minutes 1901 \"draft\" copy",
                "Minutes, 1902",
                "Two\r\nlines"
            ]
        );
    }

    #[test]
    fn a_stray_quote_in_the_header_is_reported() {
        let errors = items("barcode,\"title,home_location\nB1,t,S1\n").expect_err("header");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].reason.contains("never closed"), "{:?}", errors[0]);
    }

    /// A file as a spreadsheet saves it ("CSV UTF-8"): a byte order mark,
    /// CRLF line ends, headers in another order and case, cells with line
    /// breaks (LF inside the cell, as spreadsheets write them), empty rows
    /// written as commas, blank lines; then every error's line is looked up
    /// in the file itself.
    #[test]
    fn spreadsheet_output_is_read_and_every_line_is_the_files() {
        let mut csv = b"\xEF\xBB\xBF".to_vec();
        csv.extend_from_slice(
            b"Home_Location, TITLE ,Barcode,Status,HOLDER,due\r\n\
              S1,\"Minutes of the board,\n1901\",GOOD-1,,,\r\n\
              S1,\"Letters \"\"to\"\" the mayor\",GOOD-2,out,alice,2026-05-01 15:00\r\n\
              \r\n\
              ,,,,,\r\n\
              S9,Unknown home,BAD-HOME,,,\r\n\
              S1,\"A cell\nover\nthree lines\",GOOD-3,,,\r\n\
              S2,,BAD-TITLE,,,\r\n\
              \r\n\
              \r\n\
              S1,\"Deeds, 1820\",BAD-STATUS,lent,,\r\n\
              S1,\"Plans\n(rolled)\",BAD-DUE,out,alice,tomorrow\r\n\
              S1,Short row,BAD-SHORT\r\n\
              S1,\"Map \"1850\" sheet\",BAD-QUOTE,,,\r\n\
              S1,Last,GOOD-1,,,\r\n",
        );
        let errors = items_bytes(&csv).expect_err("bad rows");
        let want: Vec<(&str, Option<&str>)> = vec![
            ("BAD-HOME", Some("home_location")),
            ("BAD-TITLE", Some("title")),
            ("BAD-STATUS", Some("status")),
            ("BAD-DUE", Some("due")),
            ("BAD-SHORT", None),
            ("BAD-QUOTE", Some("title")),
            // The duplicate barcode on the last line.
            ("Last", Some("barcode")),
        ];
        let got: Vec<(u64, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        let expected: Vec<(u64, Option<&str>)> = want
            .iter()
            .map(|(needle, column)| {
                // A row's line is where it starts: for BAD-DUE, the line of
                // its first cell, before the cell with a line break.
                let line = if *needle == "BAD-DUE" {
                    line_of(&csv, "\"Plans")
                } else {
                    line_of(&csv, needle)
                };
                (line, *column)
            })
            .collect();
        assert_eq!(got, expected, "{:#?}", messages(&errors));
        assert!(
            errors[6].reason.contains(&format!(
                "first on line {}",
                line_of(&csv, "Minutes of the board")
            )),
            "{:?}",
            errors[6]
        );

        // Without the bad rows the file imports, values intact.
        let good: Vec<u8> = String::from_utf8(csv)
            .expect("utf-8")
            .split_inclusive("\r\n")
            .filter(|l| !l.contains("BAD-") && !l.contains("Last"))
            .collect::<String>()
            .into_bytes();
        let parsed = items_bytes(&good).expect("valid file");
        let titles: Vec<&str> = parsed.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Minutes of the board,\n1901",
                "Letters \"to\" the mayor",
                "A cell\nover\nthree lines"
            ]
        );
    }
}
