//! CSV imports of the register (`custos register import`, `POST
//! /api/v1/register/import`): any bytes give rows or a list of row errors,
//! never a panic, and every error names a line that exists.
#![no_main]

use custos_custody::csv_import::{parse_items, parse_locations, parse_people};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, csv)) = data.split_first() else {
        return;
    };
    // Some codes "exist" so both the duplicate and the unknown paths run.
    let exists = |code: &str| code.starts_with('A');
    let lines = csv.split(|b| *b == b'\n').count() as u64 + 1;
    let errors = match which % 3 {
        0 => parse_locations(csv, &exists).err(),
        1 => parse_people(csv, &exists).err(),
        _ => parse_items(csv, &exists, &exists, &exists).err(),
    };
    for e in errors.unwrap_or_default() {
        assert!(e.line <= lines, "error on line {} of {lines}", e.line);
    }
});
