//! Barcode labels: one Code 128 label as SVG, and printable sheets of them.
//!
//! A label is 50 × 25 mm: the caption (the item's title, shortened to
//! [`CAPTION_MAX_CHARS`] characters with an ellipsis) on top, the bars in
//! the middle with a quiet zone of ten modules each side, and the barcode
//! in plain text underneath. The bars are Code 128, character set B, as
//! encoded by the `barcoders` crate; the SVG is drawn here (adjacent modules
//! merged into one bar each, sizes in millimetres) because the crate's own
//! SVG draws one rectangle per module in unitless pixels, which leaves
//! hairline seams between modules in some renderers and has no text.
//!
//! A sheet ([`label_sheet_html`]) is one HTML document for A4 paper: pages
//! of 3 × 10 cells of 70 × 29.7 mm (the common 30-per-sheet A4 label
//! layout), one label centred in each cell, a page break after every 30
//! labels. Print it at 100 % scale ("actual size").
//!
//! With bars at least [`MIN_MODULE_MM`] wide, a barcode of up to 27
//! characters fits a label; longer ones are refused ([`LabelError::TooLong`]).

use barcoders::sym::code128::Code128;

/// Label width, mm.
pub const LABEL_WIDTH_MM: f64 = 50.0;
/// Label height, mm.
pub const LABEL_HEIGHT_MM: f64 = 25.0;
/// Longest caption shown; longer ones end in "…".
pub const CAPTION_MAX_CHARS: usize = 40;
/// Narrowest bar module drawn, mm (5 mil: what ordinary scanners read).
pub const MIN_MODULE_MM: f64 = 0.127;
/// Light modules required each side of the bars.
const QUIET_MODULES: usize = 10;
/// Space left and right of the quiet zones, mm.
const SIDE_MARGIN_MM: f64 = 2.0;
const BARS_TOP_MM: f64 = 6.5;
const BARS_HEIGHT_MM: f64 = 12.5;
const LABELS_PER_ROW: usize = 3;
const ROWS_PER_PAGE: usize = 10;
const CELL_WIDTH_MM: f64 = 70.0;
const CELL_HEIGHT_MM: f64 = 29.7;

/// Why a label could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The barcode has characters Code 128 set B cannot show.
    #[error("barcode {barcode:?}: {reason}")]
    BadBarcode {
        /// The barcode.
        barcode: String,
        /// What is wrong.
        reason: String,
    },
    /// The encoder refused the barcode.
    #[error("barcode {barcode:?} cannot be encoded as Code 128: {source}")]
    Encode {
        /// The barcode.
        barcode: String,
        /// The encoder's error.
        #[source]
        source: barcoders::error::Error,
    },
    /// Too long to fit the label with bars wide enough to scan.
    #[error(
        "barcode {barcode:?} is too long for a {LABEL_WIDTH_MM} mm label: its {modules} modules \
         would be {module_mm:.3} mm wide, under the {MIN_MODULE_MM} mm scanners need"
    )]
    TooLong {
        /// The barcode.
        barcode: String,
        /// Its modules, including the quiet zones.
        modules: usize,
        /// The module width it would need.
        module_mm: f64,
    },
    /// A sheet with no labels.
    #[error("no labels to print")]
    NoLabels,
}

/// The Code 128 (set B) modules of `barcode`: 1 dark, 0 light, from the
/// start character to the end of the stop pattern.
pub fn code128_modules(barcode: &str) -> Result<Vec<u8>, LabelError> {
    let bad = |reason: &str| LabelError::BadBarcode {
        barcode: barcode.into(),
        reason: reason.into(),
    };
    if barcode.is_empty() {
        return Err(bad("it is empty"));
    }
    // Set B is printable ASCII; the encoder would read other characters as
    // set switches or refuse them.
    if let Some(c) = barcode.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(bad(&format!(
            "{c:?} is not printable ASCII, which Code 128 set B needs"
        )));
    }
    // 'Ɓ' selects character set B in barcoders' input.
    let symbol = Code128::new(format!("Ɓ{barcode}")).map_err(|source| LabelError::Encode {
        barcode: barcode.into(),
        source,
    })?;
    Ok(symbol.encode())
}

/// Dark runs of `modules` as (first module, width in modules).
fn bars(modules: &[u8]) -> Vec<(usize, usize)> {
    let mut bars = Vec::new();
    let mut start = None;
    for (i, &m) in modules.iter().chain(std::iter::once(&0)).enumerate() {
        match (m == 1, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                bars.push((s, i - s));
                start = None;
            }
            _ => {}
        }
    }
    bars
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The caption shown: spaces collapsed, at most [`CAPTION_MAX_CHARS`].
fn shorten(caption: &str) -> String {
    let words: Vec<&str> = caption.split_whitespace().collect();
    let text = words.join(" ");
    if text.chars().count() <= CAPTION_MAX_CHARS {
        return text;
    }
    let kept: String = text.chars().take(CAPTION_MAX_CHARS - 1).collect();
    format!("{}…", kept.trim_end())
}

/// One 50 × 25 mm label as a standalone SVG document.
pub fn code128_svg(barcode: &str, caption: &str) -> Result<String, LabelError> {
    let modules = code128_modules(barcode)?;
    let total_modules = modules.len() + 2 * QUIET_MODULES;
    let module_mm = (LABEL_WIDTH_MM - 2.0 * SIDE_MARGIN_MM) / total_modules as f64;
    if module_mm < MIN_MODULE_MM {
        return Err(LabelError::TooLong {
            barcode: barcode.into(),
            modules: total_modules,
            module_mm,
        });
    }
    // Centred: the quiet zones take what the bars leave.
    let left = (LABEL_WIDTH_MM - modules.len() as f64 * module_mm) / 2.0;
    let mut svg = String::with_capacity(4096);
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" \
         width=\"{LABEL_WIDTH_MM}mm\" height=\"{LABEL_HEIGHT_MM}mm\" \
         viewBox=\"0 0 {LABEL_WIDTH_MM} {LABEL_HEIGHT_MM}\">\
         <title>{}</title>\
         <rect width=\"{LABEL_WIDTH_MM}\" height=\"{LABEL_HEIGHT_MM}\" fill=\"#fff\"/>\
         <text x=\"{}\" y=\"4.6\" font-family=\"sans-serif\" font-size=\"3.2\" \
         text-anchor=\"middle\">{}</text>\
         <g id=\"bars\" fill=\"#000\" shape-rendering=\"crispEdges\">",
        escape(barcode),
        LABEL_WIDTH_MM / 2.0,
        escape(&shorten(caption)),
    ));
    for (first, width) in bars(&modules) {
        svg.push_str(&format!(
            "<rect x=\"{:.4}\" y=\"{BARS_TOP_MM}\" width=\"{:.4}\" height=\"{BARS_HEIGHT_MM}\"/>",
            left + first as f64 * module_mm,
            width as f64 * module_mm,
        ));
    }
    svg.push_str(&format!(
        "</g><text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"3.4\" \
         text-anchor=\"middle\">{}</text></svg>",
        LABEL_WIDTH_MM / 2.0,
        BARS_TOP_MM + BARS_HEIGHT_MM + 4.0,
        escape(barcode),
    ));
    Ok(svg)
}

/// A printable HTML document of labels `(barcode, caption)` on A4 pages of
/// 3 × 10; see the module documentation.
pub fn label_sheet_html(labels: &[(String, String)]) -> Result<String, LabelError> {
    if labels.is_empty() {
        return Err(LabelError::NoLabels);
    }
    let per_page = LABELS_PER_ROW * ROWS_PER_PAGE;
    let mut html = String::with_capacity(labels.len() * 5000 + 1024);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Labels</title><style>\
         @page {{ size: A4; margin: 0; }}\
         html, body {{ margin: 0; padding: 0; }}\
         .page {{ width: 210mm; height: 297mm; display: grid; \
         grid-template-columns: repeat({LABELS_PER_ROW}, {CELL_WIDTH_MM}mm); \
         grid-template-rows: repeat({ROWS_PER_PAGE}, {CELL_HEIGHT_MM}mm); \
         break-after: page; page-break-after: always; overflow: hidden; }}\
         .page:last-child {{ break-after: auto; page-break-after: auto; }}\
         .cell {{ display: flex; align-items: center; justify-content: center; }}\
         .cell svg {{ display: block; }}\
         </style></head><body>\n"
    ));
    for page in labels.chunks(per_page) {
        html.push_str("<div class=\"page\">\n");
        for (barcode, caption) in page {
            html.push_str("<div class=\"cell\">");
            html.push_str(&code128_svg(barcode, caption)?);
            html.push_str("</div>\n");
        }
        html.push_str("</div>\n");
    }
    html.push_str("</body></html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A small well-formedness check: tags balance, attributes are quoted,
    /// `&` starts an entity and `<` never appears in text.
    fn check_xml(doc: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = doc;
        let mut roots = 0;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or("unclosed tag")?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack
                    .pop()
                    .ok_or(format!("</{name}> without an open tag"))?;
                if top != name.trim() {
                    return Err(format!("</{name}> closes <{top}>"));
                }
                continue;
            }
            if stack.is_empty() {
                roots += 1;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("bad tag name in <{tag}>"));
            }
            check_attributes(&body[name_end..])?;
            if !self_closing {
                stack.push(name.to_owned());
            }
        }
        check_text(rest)?;
        match (stack.is_empty(), roots) {
            (true, 1) => Ok(()),
            (false, _) => Err(format!("unclosed {stack:?}")),
            (true, n) => Err(format!("{n} root elements")),
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity) {
                return Err(format!("bad entity {entity:?}"));
            }
        }
        if text.contains('>') {
            return Err("'>' in text".into());
        }
        Ok(())
    }

    fn check_attributes(mut attrs: &str) -> Result<(), String> {
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                return Ok(());
            }
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value: {attrs}"))?;
            let value = attrs[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute: {attrs}"))?;
            let end = value.find('"').ok_or("unterminated attribute")?;
            check_text(&value[..end])?;
            if value[..end].contains('<') {
                return Err("'<' in an attribute".into());
            }
            attrs = &value[end + 1..];
        }
    }

    /// Reads the bars back out of a label as modules, from the first dark
    /// module to the last.
    fn modules_drawn(svg: &str) -> Vec<u8> {
        let group_start = svg.find("<g id=\"bars\"").expect("bar group");
        let group = &svg[group_start..svg[group_start..].find("</g>").expect("end") + group_start];
        let attr = |rect: &str, name: &str| -> f64 {
            let key = format!(" {name}=\"");
            let from = rect.find(&key).expect("attribute") + key.len();
            let to = rect[from..].find('"').expect("quote") + from;
            rect[from..to].parse().expect("number")
        };
        let rects: Vec<(f64, f64)> = group
            .split("<rect")
            .skip(1)
            .map(|r| (attr(r, "x"), attr(r, "width")))
            .collect();
        // The narrowest bar of Code 128 is one module wide.
        let module = rects.iter().map(|r| r.1).fold(f64::MAX, f64::min);
        let origin = rects[0].0;
        let mut modules = Vec::new();
        for (x, width) in rects {
            let first = ((x - origin) / module).round() as usize;
            let count = (width / module).round() as usize;
            modules.resize(first, 0);
            modules.extend(std::iter::repeat_n(1, count));
        }
        modules
    }

    /// Set B patterns by value 0..=94 (ASCII 32..=126), taken from the
    /// encoder: the 11 modules after the start character.
    fn set_b_table() -> HashMap<Vec<u8>, u8> {
        (0u8..95)
            .map(|value| {
                let c = char::from(value + 32);
                let modules = code128_modules(&c.to_string()).expect("encodes");
                (modules[11..22].to_vec(), value)
            })
            .collect()
    }

    const START_B: [u8; 11] = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0];
    const STOP: [u8; 13] = [1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1];

    #[test]
    fn label_bars_are_the_encoders_and_decode_back() {
        let table = set_b_table();
        for barcode in ["ARC-000123", "a.b_c-9", "Z"] {
            let svg = code128_svg(barcode, "Minutes of the board").expect("label");
            check_xml(&svg).expect("well-formed");
            let drawn = modules_drawn(&svg);
            let encoded = code128_modules(barcode).expect("encodes");
            assert_eq!(drawn.len(), encoded.len());
            assert_eq!(drawn, encoded);
            assert_eq!(drawn.len(), 11 * (barcode.len() + 2) + 13);
            assert_eq!(drawn[..11], START_B);
            assert_eq!(drawn[drawn.len() - 13..], STOP);

            let symbols: Vec<&[u8]> = drawn[11..drawn.len() - 13].chunks(11).collect();
            let (data, checksum) = symbols.split_at(symbols.len() - 1);
            let values: Vec<u8> = data
                .iter()
                .map(|s| *table.get(*s).expect("a set B character"))
                .collect();
            let text: String = values.iter().map(|v| char::from(v + 32)).collect();
            assert_eq!(text, barcode);
            // Start B is value 104; each character weighs its position.
            let sum: usize = 104
                + values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i + 1) * usize::from(*v))
                    .sum::<usize>();
            let check = u8::try_from(sum % 103).expect("under 103");
            if let Some(v) = table.get(checksum[0]) {
                assert_eq!(*v, check);
            }
        }
    }

    #[test]
    fn captions_are_escaped_and_shortened() {
        let svg = code128_svg("B1", "<draft> & \"notes\" of O'Brien\n1901").expect("label");
        check_xml(&svg).expect("well-formed");
        assert!(svg.contains("&lt;draft&gt; &amp; &quot;notes&quot; of O&apos;Brien 1901"));
        let long = "A very long title that goes on and on about the minutes";
        let shown = shorten(long);
        assert_eq!(shown.chars().count(), 40);
        assert!(shown.ends_with('…'));
        assert!(code128_svg("B1", long).expect("label").contains(&shown));
        assert_eq!(shorten("  short  title "), "short title");
        assert!(check_xml("<a><b></a></b>").is_err());
        assert!(check_xml("<a x=1/>").is_err());
        assert!(check_xml("<a>&nbsp;</a>").is_err());
    }

    #[test]
    fn unprintable_or_long_barcodes_are_refused() {
        assert!(matches!(
            code128_svg("", "x"),
            Err(LabelError::BadBarcode { .. })
        ));
        assert!(matches!(
            code128_svg("cafè", "x"),
            Err(LabelError::BadBarcode { .. })
        ));
        assert!(matches!(
            code128_svg("ÀB", "x"),
            Err(LabelError::BadBarcode { .. })
        ));
        assert!(code128_svg(&"X".repeat(27), "x").is_ok());
        let err = code128_svg(&"X".repeat(28), "x").expect_err("too long");
        assert!(matches!(err, LabelError::TooLong { .. }));
        assert!(err.to_string().contains("too long for a 50 mm label"));
    }

    #[test]
    fn sheets_break_pages_every_thirty() {
        let labels: Vec<(String, String)> = (0..31)
            .map(|n| (format!("B{n}"), format!("Box {n}")))
            .collect();
        let html = label_sheet_html(&labels).expect("sheet");
        assert_eq!(html.matches("<div class=\"page\">").count(), 2);
        assert_eq!(html.matches("<svg ").count(), 31);
        assert!(html.contains("size: A4"));
        let body_start = html.find("<body>").expect("body");
        let body_end = html.find("</body>").expect("body end") + "</body>".len();
        check_xml(&html[body_start..body_end]).expect("balanced body");
        assert!(matches!(label_sheet_html(&[]), Err(LabelError::NoLabels)));
        let bad = [
            ("ok".to_owned(), String::new()),
            ("é".to_owned(), String::new()),
        ];
        assert!(label_sheet_html(&bad).is_err());
    }
}
