//! What a site sends its central office, as the centre receives it from
//! the network: reports and batches of log entries, plain or gzipped. Any
//! body is refused or opened, never a panic (a gzip bomb is stopped at the
//! limit); a report or batch signed with the site's key opens to what was
//! signed, and a changed one does not.
#![no_main]

use custos_ledger::note::SigningKey;
use custos_report::{entries, Health};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The body as the centre takes a gzipped one.
    if let Ok(inflated) = custos_report::wire::decompress(data, 64 * 1024) {
        assert!(inflated.len() <= 64 * 1024);
        let _ = custos_report::peek(&inflated);
        let _ = entries::peek(&inflated);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let packed = custos_report::wire::compress(text);
    assert_eq!(
        custos_report::wire::decompress(&packed, text.len()).as_deref(),
        Ok(text)
    );
    let Ok(key) = SigningKey::from_seed("fuzz.site/log", &[3; 32]) else {
        return;
    };
    let verifier = key.verifier();
    let _ = custos_report::peek(text);
    let _ = custos_report::open(text, &verifier);
    let _ = entries::peek(text);
    let _ = entries::open(text, &verifier);
    // The input as a report's JSON and as a batch's entries.
    if let Ok(health) = serde_json::from_str::<Health>(text) {
        let seq = data.len() as u64;
        let note = custos_report::sign(&health, seq, &key).expect("a report signs");
        let (opened_seq, opened) = custos_report::open(&note, &verifier).expect("it opens");
        assert_eq!(opened_seq, seq);
        assert_eq!(
            serde_json::to_value(&opened).expect("json"),
            serde_json::to_value(&health).expect("json")
        );
    }
    let leaves: Vec<&[u8]> = data.split(|b| *b == 0).filter(|l| !l.is_empty()).collect();
    if !leaves.is_empty() {
        let note = entries::sign(7, &leaves, &key).expect("a batch signs");
        let (first, opened) = entries::open(&note, &verifier).expect("it opens");
        assert_eq!(first, 7);
        assert_eq!(opened, leaves);
        assert!(entries::open(&note.replacen("\n7\n", "\n8\n", 1), &verifier).is_err());
    }
});
