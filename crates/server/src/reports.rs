//! Reports as JSON or printable HTML, and barcode labels.
//!
//! `GET /api/v1/reports/{name}?format=json|html&…` with names:
//! `item-custody` (`barcode`), `person-history` (`staff_id`), `items-out`,
//! `no-footage`, `blind-spots`, `inventory` (`id`). What a report holds is
//! [`custos_site::reports`]'s; this renders it.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use custos_site::reports::{build, time, Cell, Report, ReportSubject, VideoSpan};
use serde::Deserialize;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::roles::REGISTER_READERS;
use crate::{now_ms, SharedState};

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

/// The playback URL of a camera's span: the API's `video.mp4`, as the web
/// app links it (camera ids are `[a-z0-9-]`, safe in a path).
fn video_url(span: &VideoSpan) -> String {
    let VideoSpan {
        camera,
        start_ms,
        end_ms,
    } = span;
    format!("/api/v1/cameras/{camera}/video.mp4?start_ms={start_ms}&end_ms={end_ms}")
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
                            (Some(span), false) => {
                                let _ = write!(
                                    h,
                                    "<a href=\"{}\">{}</a>: ",
                                    escape(&video_url(span)),
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
    let subject = ReportSubject {
        barcode: q.barcode,
        staff_id: q.staff_id,
        id: q.id,
    };
    let built = state
        .read_as("building a report", move |s| build(s, &name, &subject))
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
