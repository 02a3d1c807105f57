//! Log entries, as read from a bundle or another site's log: any bytes are
//! refused or read, never a panic, and an entry read writes back to bytes
//! that read as the same entry.
#![no_main]

use custos_ledger::entry::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::from_leaf_bytes(data) {
        let bytes = entry.to_leaf_bytes().expect("an entry read can be written");
        let again = Entry::from_leaf_bytes(&bytes).expect("what we wrote reads");
        assert_eq!(again, entry);
    }
});
