//! CSV imports of the register (`custos register import`, `POST
//! /api/v1/register/import`): any bytes give rows or a list of row errors,
//! never a panic, and every error names a line that exists.
#![no_main]

use custos_custody::csv_import::{parse_items, parse_locations, parse_people};
use libfuzzer_sys::fuzz_target;

/// Lines in `bytes` as an editor shows them: LF, CRLF and a lone CR each
/// end one (the import's documented counting, written here independently).
fn lines_in(bytes: &[u8]) -> u64 {
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    let ends = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() - crlf;
    ends as u64 + 1
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, csv)) = data.split_first() else {
        return;
    };
    // Some codes "exist" so both the duplicate and the unknown paths run.
    let exists = |code: &str| code.starts_with('A');
    let lines = lines_in(csv);
    let errors = match which % 3 {
        0 => parse_locations(csv, &exists, &exists).err(),
        1 => parse_people(csv, &exists, &|badge: &str| {
            exists(badge).then(|| "A0".to_owned())
        })
        .err(),
        _ => parse_items(csv, &exists, &exists, &exists).err(),
    };
    for e in errors.unwrap_or_default() {
        assert!(
            (1..=lines).contains(&e.line),
            "error on line {} of {lines}: {e}",
            e.line
        );
    }
});
