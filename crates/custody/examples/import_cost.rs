//! Times parsing a generated items file of 100,000 rows.
//!
//! `cargo run --release -p custos-custody --example import_cost`

use std::collections::HashSet;
use std::time::Instant;

use custos_custody::csv_import::parse_items;

const ROWS: usize = 100_000;

fn main() {
    let mut csv =
        String::from("barcode,title,reference,classification,home_location,status,holder,due\n");
    for n in 0..ROWS {
        // Every tenth item is out, so dates and holders are parsed too.
        if n % 10 == 0 {
            csv.push_str(&format!(
                "ITEM-{n:06},\"Box {n}, folder {}\",REF/{n},public,S{},out,staff-{},2026-05-01T17:00:00+02:00\n",
                n % 7,
                n % 50,
                n % 20
            ));
        } else {
            csv.push_str(&format!(
                "ITEM-{n:06},\"Box {n}, folder {}\",REF/{n},public,S{},,,\n",
                n % 7,
                n % 50
            ));
        }
    }
    let locations: HashSet<String> = (0..50).map(|n| format!("S{n}")).collect();
    let people: HashSet<String> = (0..20).map(|n| format!("staff-{n}")).collect();
    let existing: HashSet<String> = HashSet::new();

    let started = Instant::now();
    let parsed = parse_items(
        csv.as_bytes(),
        &|c: &str| locations.contains(c),
        &|b: &str| existing.contains(b),
        &|s: &str| people.contains(s),
    );
    let elapsed = started.elapsed();
    match parsed {
        Ok(items) => println!(
            "parsed {} items ({:.1} MB) in {:.1} ms",
            items.len(),
            csv.len() as f64 / 1e6,
            elapsed.as_secs_f64() * 1e3
        ),
        Err(errors) => {
            for e in errors.iter().take(10) {
                eprintln!("{e}");
            }
            std::process::exit(1);
        }
    }
}
