//! Reports on the register: a title, the facts a report is about and one
//! table, each cell in words, and the same report as JSON. Reports:
//! `item-custody` (an item's chain of custody), `person-history`,
//! `items-out`, `no-footage` (custody events without footage),
//! `blind-spots` and `inventory`.

use custos_store::{CustodyQuery, ItemQuery};
use serde_json::{json, Value};

use crate::clock::now_ms;
use crate::register::{self, RegisterError};

/// Most rows a report lists.
pub const MAX_ROWS: usize = 10_000;

/// A report: a title, the facts it is about, and one table.
pub struct Report {
    /// What the report is, such as `Chain of custody of B-1`.
    pub title: String,
    /// The facts it is about, as names and values.
    pub about: Vec<(String, String)>,
    /// The table's column headings.
    pub columns: Vec<&'static str>,
    /// The table's rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// The report as data, for clients that read JSON.
    pub json: Value,
}

/// One cell of a report's table.
pub enum Cell {
    /// Plain text.
    Text(String),
    /// A custody event's footage: one line per camera window.
    Footage(Vec<FootageLine>),
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

/// One line of a footage cell: what and when, the video to watch when
/// anything was recorded, and the verdict in words.
pub struct FootageLine {
    /// The camera (and zone) and the window, in words; empty when no
    /// camera covers the place.
    pub what: String,
    /// The recorded span to watch, when anything was recorded.
    pub video: Option<VideoSpan>,
    /// `recorded`, `not recorded…` or `window still open`.
    pub verdict: String,
}

/// A span of one camera's recorded video.
pub struct VideoSpan {
    /// The camera's id.
    pub camera: String,
    /// Start, ms since the Unix epoch.
    pub start_ms: i64,
    /// End, ms since the Unix epoch.
    pub end_ms: i64,
}

fn text_rows(rows: Vec<Vec<String>>) -> Vec<Vec<Cell>> {
    rows.into_iter()
        .map(|row| row.into_iter().map(Cell::from).collect())
        .collect()
}

/// `ms` as `2026-11-28 14:32:05 UTC`; empty for none.
pub fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn footage_cell(f: &register::EventWithFootage, now_ms: i64) -> Cell {
    if f.footage.is_empty() {
        return Cell::Footage(vec![FootageLine {
            what: String::new(),
            video: None,
            verdict: "not recorded: no camera covers this place".into(),
        }]);
    }
    let lines = f
        .footage
        .iter()
        .map(|w| {
            let seconds = |ms: i64| (ms + 500) / 1000;
            let verdict = if w.end_ms > now_ms {
                "window still open".to_owned()
            } else if w.recorded {
                "recorded".to_owned()
            } else if w.recorded_ms > 0 {
                format!(
                    "not recorded: only {} s of the {} s",
                    seconds(w.recorded_ms),
                    seconds(w.end_ms - w.start_ms)
                )
            } else {
                "not recorded".to_owned()
            };
            FootageLine {
                what: format!(
                    "{}{} {}–{}",
                    w.camera,
                    w.zone
                        .as_deref()
                        .map(|z| format!(" ({z})"))
                        .unwrap_or_default(),
                    time(Some(w.start_ms)),
                    time(Some(w.end_ms)),
                ),
                video: (w.recorded_ms > 0).then(|| VideoSpan {
                    camera: w.camera.clone(),
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                }),
                verdict,
            }
        })
        .collect();
    Cell::Footage(lines)
}

fn custody_rows(events: &[register::EventWithFootage], now_ms: i64) -> Vec<Vec<Cell>> {
    events
        .iter()
        .map(|e| {
            vec![
                time(Some(e.event.at_ms)).into(),
                e.event.barcode.clone().into(),
                e.event.action.clone().into(),
                opt(&e.event.person).into(),
                opt(&e.event.holder).into(),
                opt(&e.event.location).into(),
                e.event.recorded_by.clone().into(),
                footage_cell(e, now_ms),
            ]
        })
        .collect()
}

const CUSTODY_COLUMNS: [&str; 8] = [
    "when",
    "item",
    "action",
    "person",
    "holder after",
    "where",
    "recorded by",
    "footage",
];

/// What a report names: the item, person or inventory it is about.
#[derive(Debug, Default)]
pub struct ReportSubject {
    /// The item of `item-custody`.
    pub barcode: Option<String>,
    /// The person of `person-history`.
    pub staff_id: Option<String>,
    /// The inventory of `inventory`.
    pub id: Option<i64>,
}

/// Report `name` (`item-custody`, `person-history`, `items-out`,
/// `no-footage`, `blind-spots`, `inventory`) as the index holds it now.
pub fn build(
    store: &custos_store::Store,
    name: &str,
    q: &ReportSubject,
) -> Result<Report, RegisterError> {
    let now = now_ms();
    match name {
        "item-custody" => {
            let barcode = q
                .barcode
                .clone()
                .ok_or_else(|| RegisterError::Invalid("item-custody needs barcode=".into()))?;
            let item = store
                .item(&barcode)?
                .ok_or_else(|| RegisterError::NotFound(format!("item {barcode:?}")))?;
            let events = store.custody_events(&CustodyQuery {
                barcode: Some(barcode.clone()),
                limit: MAX_ROWS,
                oldest_first: true,
                ..Default::default()
            })?;
            let events = register::with_footage(store, events, now)?;
            Ok(Report {
                title: format!("Chain of custody of {barcode}"),
                about: vec![
                    ("title".into(), item.title.clone()),
                    ("reference".into(), item.reference.clone()),
                    ("status".into(), item.status.as_str().into()),
                    ("home".into(), item.home_location.clone()),
                    ("holder".into(), opt(&item.holder)),
                ],
                columns: CUSTODY_COLUMNS.to_vec(),
                rows: custody_rows(&events, now),
                json: json!({ "item": item, "custody": events }),
            })
        }
        "person-history" => {
            let staff = q
                .staff_id
                .clone()
                .ok_or_else(|| RegisterError::Invalid("person-history needs staff_id=".into()))?;
            let person = store
                .person(&staff)?
                .ok_or_else(|| RegisterError::NotFound(format!("person {staff:?}")))?;
            let events = store.custody_events(&CustodyQuery {
                person: Some(staff.clone()),
                limit: MAX_ROWS,
                oldest_first: true,
                ..Default::default()
            })?;
            let events = register::with_footage(store, events, now)?;
            let holding = store.items(&ItemQuery {
                holder: Some(staff.clone()),
                limit: MAX_ROWS,
                ..Default::default()
            })?;
            Ok(Report {
                title: format!("History of {} ({staff})", person.name),
                about: vec![
                    ("role".into(), person.role.as_str().into()),
                    ("retired".into(), person.retired.to_string()),
                    (
                        "holds now".into(),
                        holding
                            .iter()
                            .map(|i| i.barcode.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ],
                columns: CUSTODY_COLUMNS.to_vec(),
                rows: custody_rows(&events, now),
                json: json!({ "person": person, "holding": holding, "custody": events }),
            })
        }
        "items-out" => {
            let items = store.items(&ItemQuery {
                status: Some(custos_custody::model::ItemStatus::Out),
                limit: MAX_ROWS,
                ..Default::default()
            })?;
            let rows = items
                .iter()
                .map(|i| {
                    vec![
                        i.barcode.clone(),
                        i.title.clone(),
                        opt(&i.holder),
                        time(i.due_ms),
                        if i.due_ms.is_some_and(|d| d < now) {
                            "OVERDUE".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            let overdue: Vec<&str> = items
                .iter()
                .filter(|i| i.due_ms.is_some_and(|d| d < now))
                .map(|i| i.barcode.as_str())
                .collect();
            Ok(Report {
                title: "Items out".into(),
                about: vec![
                    ("out".into(), items.len().to_string()),
                    ("overdue".into(), overdue.len().to_string()),
                ],
                columns: vec!["item", "title", "holder", "due", ""],
                rows: text_rows(rows),
                json: json!({ "items": items, "overdue": overdue }),
            })
        }
        "no-footage" => {
            let events = store.custody_events(&CustodyQuery {
                no_footage: true,
                limit: MAX_ROWS,
                ..Default::default()
            })?;
            let events = register::with_footage(store, events, now)?;
            Ok(Report {
                title: "Custody events without footage".into(),
                about: vec![("events".into(), events.len().to_string())],
                columns: CUSTODY_COLUMNS.to_vec(),
                rows: custody_rows(&events, now),
                json: json!({ "custody": events }),
            })
        }
        "blind-spots" => {
            let all = store.locations()?;
            let blind: Vec<&custos_custody::model::Location> =
                custos_custody::rules::blind_spots(&all);
            let rows = blind
                .iter()
                .map(|l| {
                    vec![
                        l.code.clone(),
                        l.name.clone(),
                        l.kind.as_str().into(),
                        opt(&l.room),
                    ]
                })
                .collect();
            Ok(Report {
                title: "Blind spots: locations no camera covers".into(),
                about: vec![("locations".into(), blind.len().to_string())],
                columns: vec!["code", "name", "kind", "room"],
                rows: text_rows(rows),
                json: json!({ "locations": blind }),
            })
        }
        "inventory" => {
            let id =
                q.id.ok_or_else(|| RegisterError::Invalid("inventory needs id=".into()))?;
            let inv = store
                .inventory(id)?
                .ok_or_else(|| RegisterError::NotFound(format!("inventory {id}")))?;
            let report = inv.report.clone().unwrap_or(Value::Null);
            let mut rows = Vec::new();
            let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
            for b in list("missing") {
                rows.push(vec![
                    "missing".into(),
                    b.as_str().unwrap_or_default().into(),
                    String::new(),
                ]);
            }
            for u in list("unexpected") {
                rows.push(vec![
                    "unexpected".into(),
                    u["barcode"].as_str().unwrap_or_default().into(),
                    u["reason"].as_str().unwrap_or_default().into(),
                ]);
            }
            for m in list("misplaced") {
                rows.push(vec![
                    "misplaced".into(),
                    m["barcode"].as_str().unwrap_or_default().into(),
                    format!(
                        "belongs in {}",
                        m["home_location"].as_str().unwrap_or_default()
                    ),
                ]);
            }
            Ok(Report {
                title: format!("Inventory {id} of {}", inv.location),
                about: vec![
                    (
                        "started".into(),
                        format!("{} by {}", time(Some(inv.started_ms)), inv.started_by),
                    ),
                    (
                        "closed".into(),
                        match inv.closed_ms {
                            Some(t) => format!("{} by {}", time(Some(t)), opt(&inv.closed_by)),
                            None => "still open".into(),
                        },
                    ),
                    ("scanned".into(), inv.scanned.len().to_string()),
                ],
                columns: vec!["finding", "item", "detail"],
                rows: text_rows(rows),
                json: json!({ "inventory": inv }),
            })
        }
        other => Err(RegisterError::NotFound(format!(
            "report {other:?} (reports: item-custody, person-history, items-out, no-footage, \
             blind-spots, inventory)"
        ))),
    }
}
