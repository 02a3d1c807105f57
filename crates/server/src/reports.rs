//! Reports as JSON or printable HTML, and barcode labels.
//!
//! `GET /api/v1/reports/{name}?format=json|html&…` with names:
//! `item-custody` (`barcode`), `person-history` (`staff_id`), `items-out`,
//! `no-footage`, `blind-spots`, `inventory` (`id`).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use custos_store::{CustodyQuery, ItemQuery};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::roles::REGISTER_READERS;
use crate::{now_ms, SharedState};
use custos_site::register::{self, RegisterError};

/// Query of `GET /api/v1/reports/{name}`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    format: Option<String>,
    barcode: Option<String>,
    staff_id: Option<String>,
    id: Option<i64>,
}

/// Most rows a report lists.
const MAX_ROWS: usize = 10_000;

/// A report: a title, the facts it is about, and one table.
struct Report {
    title: String,
    about: Vec<(String, String)>,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    json: Value,
}

/// One cell of a report's table.
enum Cell {
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
struct FootageLine {
    what: String,
    video: Option<String>,
    verdict: String,
}

fn text_rows(rows: Vec<Vec<String>>) -> Vec<Vec<Cell>> {
    rows.into_iter()
        .map(|row| row.into_iter().map(Cell::from).collect())
        .collect()
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The playback URL of a camera's span: the API's `video.mp4`, as the web
/// app links it (camera ids are `[a-z0-9-]`, safe in a path).
fn video_url(camera: &str, start_ms: i64, end_ms: i64) -> String {
    format!("/api/v1/cameras/{camera}/video.mp4?start_ms={start_ms}&end_ms={end_ms}")
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
                video: (w.recorded_ms > 0).then(|| video_url(&w.camera, w.start_ms, w.end_ms)),
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

fn build(
    store: &custos_store::Store,
    name: &str,
    q: &ReportQuery,
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

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(report: &Report, site: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font:11pt/1.4 system-ui,sans-serif;margin:1.5em}}\
         table{{border-collapse:collapse;width:100%}}\
         th,td{{border:1px solid #999;padding:.25em .4em;text-align:left;vertical-align:top}}\
         th{{background:#eee}}dl{{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}}\
         dt{{font-weight:600}}ul.footage{{margin:0;padding:0;list-style:none}}\
         .missing{{font-weight:600}}@media print{{body{{margin:0}}}}\
         </style></head><body><h1>{t}</h1><p>Site {s}, generated {g}.</p><dl>",
        t = escape(&report.title),
        s = escape(site),
        g = escape(&time(Some(now_ms()))),
    );
    for (k, v) in &report.about {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    h.push_str("</dl><table><thead><tr>");
    for c in &report.columns {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>");
    if report.rows.is_empty() {
        let _ = write!(
            h,
            "<tr><td colspan=\"{}\">Nothing to report.</td></tr>",
            report.columns.len()
        );
    }
    for row in &report.rows {
        h.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(text) => {
                    let _ = write!(h, "<td>{}</td>", escape(text));
                }
                Cell::Footage(lines) => {
                    h.push_str("<td><ul class=\"footage\">");
                    for line in lines {
                        h.push_str("<li>");
                        match (&line.video, line.what.is_empty()) {
                            (_, true) => {}
                            (Some(url), false) => {
                                let _ = write!(
                                    h,
                                    "<a href=\"{}\">{}</a>: ",
                                    escape(url),
                                    escape(&line.what)
                                );
                            }
                            (None, false) => {
                                let _ = write!(h, "{}: ", escape(&line.what));
                            }
                        }
                        let class = if line.verdict.starts_with("not recorded") {
                            "missing"
                        } else {
                            "verdict"
                        };
                        let _ = write!(
                            h,
                            "<span class=\"{class}\">{}</span></li>",
                            escape(&line.verdict)
                        );
                    }
                    h.push_str("</ul></td>");
                }
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></body></html>\n");
    h
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /api/v1/reports/{name}?format=json|html&barcode=&staff_id=&id=`.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{name}",
    tag = "reports",
    params(("name" = String, Path, description = "`item-custody` (needs `barcode`), `person-history` \
        (needs `staff_id`), `items-out`, `no-footage`, `blind-spots` or `inventory` (needs `id`)"), ReportQuery),
    responses(
        (status = 200, description = "The report: JSON whose fields depend on the report, or a printable page",
            content((Object = "application/json"), (String = "text/html"))),
        (status = 400, description = "A format other than json or html"),
        (status = 404, description = "No such report, or the item, person or inventory it names does not exist"),
        (status = 422, description = "A parameter the report needs is missing"),
    ),
)]
pub(crate) async fn report(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if format != "json" && format != "html" {
        return Err(ApiError::bad_request(format!(
            "format {format:?} is not json or html"
        )));
    }
    let built = state
        .read_as("building a report", move |s| build(s, &name, &q))
        .await?;
    Ok(if format == "html" {
        typed(html(&built, &state.site), "text/html; charset=utf-8")
    } else {
        Json(built.json).into_response()
    })
}

/// `GET /api/v1/items/{barcode}/label.svg`: a Code 128 label.
#[utoipa::path(
    get,
    path = "/api/v1/items/{barcode}/label.svg",
    tag = "reports",
    params(("barcode" = String, Path, description = "The item's barcode")),
    responses(
        (status = 200, description = "A Code 128 label with the item's title", content_type = "image/svg+xml", body = String),
        (status = 400, description = "The barcode cannot be written in Code 128"),
        (status = 404, description = "No such item"),
    ),
)]
pub(crate) async fn label(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(barcode): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let b = barcode.clone();
    let item = state
        .read("reading an item", move |s| s.item(&b))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("item {barcode:?} not found")))?;
    let svg = custos_custody::labels::code128_svg(&item.barcode, &item.title)
        .map_err(|e| ApiError::bad_request(format!("label of {barcode:?}: {e}")))?;
    Ok(typed(svg, "image/svg+xml"))
}

/// Query of `GET /api/v1/labels`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelsQuery {
    /// Comma-separated barcodes…
    barcodes: Option<String>,
    /// …or every item in place at this location (and inside it).
    location: Option<String>,
}

/// `GET /api/v1/labels?barcodes=A,B|location=L`: a printable page of labels.
#[utoipa::path(
    get,
    path = "/api/v1/labels",
    tag = "reports",
    params(LabelsQuery),
    responses(
        (status = 200, description = "A printable page of labels", content_type = "text/html", body = String),
        (status = 400, description = "No items named, or a barcode that cannot be written in Code 128"),
        (status = 404, description = "A named item does not exist"),
    ),
)]
pub(crate) async fn label_sheet(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<LabelsQuery>,
) -> Result<Response, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let items = state
        .read("listing items for labels", move |s| {
            let mut items = Vec::new();
            if let Some(codes) = &q.barcodes {
                for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    match s.item(code)? {
                        Some(i) => items.push(i),
                        None => {
                            return Err(custos_store::StoreError::NotFound(format!(
                                "item {code:?}"
                            )))
                        }
                    }
                }
            }
            if let Some(loc) = &q.location {
                items.extend(s.items_within(loc)?);
            }
            Ok(items)
        })
        .await?;
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "no items: give barcodes=A,B or location=CODE",
        ));
    }
    let labels: Vec<(String, String)> = items.into_iter().map(|i| (i.barcode, i.title)).collect();
    let page = custos_custody::labels::label_sheet_html(&labels)
        .map_err(|e| ApiError::bad_request(format!("labels: {e}")))?;
    Ok(typed(page, "text/html; charset=utf-8"))
}
