//! A published log as a reader takes it from a bucket anyone may have
//! written to: entry bundles split or refused, never a panic; a bundle made
//! of entries splits back into them; and the tiles a growing log publishes
//! are named once each, with widths a tile can have.
#![no_main]

use std::collections::HashSet;

use custos_ledger::tiles::{entry_bundle, split_entry_bundle, tiles_to_publish, Tile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes as an entry bundle.
    if let Ok(entries) = split_entry_bundle(data) {
        let again = entry_bundle(0, &entries).expect("entries that came out of a bundle fit one");
        assert_eq!(again, data, "a bundle is exactly its entries");
    }
    // Entries (split at zero bytes) made into a bundle come back whole.
    let entries: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    if entries.iter().all(|e| e.len() <= usize::from(u16::MAX)) {
        let bundle = entry_bundle(0, &entries).expect("short entries fit");
        assert_eq!(split_entry_bundle(&bundle).expect("splits"), entries);
    } else {
        assert!(entry_bundle(0, &entries).is_err(), "a long entry is refused");
    }
    // Two tree sizes from the input: the new tiles of the growth.
    if data.len() >= 8 {
        let a = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]])) % 300_000;
        let b = u64::from(u32::from_le_bytes([data[4], data[5], data[6], data[7]])) % 300_000;
        let (old, new) = (a.min(b), a.max(b));
        let tiles = tiles_to_publish(old, new);
        let mut paths = HashSet::new();
        for t in &tiles {
            assert!((1..=256).contains(&t.width()), "{t:?}");
            assert!(paths.insert(t.path()), "{} twice", t.path());
        }
        let bundles = tiles.iter().filter(|t| matches!(t, Tile::Entries { .. })).count() as u64;
        // Every entry from `old` on is in exactly one new bundle.
        let first = old / 256;
        let last = new.div_ceil(256);
        assert_eq!(bundles, if new > old { last - first } else { 0 });
    }
});
