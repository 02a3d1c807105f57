//! Signed checkpoints, verifier keys, witness cosignatures and a witness's
//! add-checkpoint bodies, as a bundle, a site or a central office hands
//! them over: any text is refused or opened, never a panic; a note that
//! opens under the key parses back to the same checkpoint, and a witness's
//! cosignature of it verifies at its time.
#![no_main]

use custos_ledger::cosignature::{CosignerKey, CosigningKey};
use custos_ledger::note::{
    open_checkpoint_with_extensions, sign_checkpoint, Checkpoint, SigningKey, VerifierKey,
};
use custos_ledger::witness::{add_checkpoint, parse_add_checkpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = VerifierKey::parse(text);
    let _ = Checkpoint::parse_body_with_extensions(text);
    let Ok(key) = SigningKey::from_seed("fuzz", &[7; 32]) else {
        return;
    };
    let verifier = key.verifier();
    let _ = open_checkpoint_with_extensions(text, &verifier);
    let _ = CosignerKey::parse(text);
    let Ok(witness) = CosigningKey::from_seed("fuzz.witness", &[5; 32]) else {
        return;
    };
    let _ = witness.verifier().verify(text);
    // An add-checkpoint body as a site sends it to a witness: judged or
    // refused, never a panic.
    if let Ok(request) = parse_add_checkpoint(text) {
        let _ = add_checkpoint(&request, |_| Some(verifier.clone()), None, &witness, 1);
    }
    // A body that parses, signed by a key named as its origin (as a site
    // signs its own log), opens to itself.
    if let Ok(c) = Checkpoint::parse_body(text) {
        let Ok(own) = SigningKey::from_seed(&c.origin, &[9; 32]) else {
            return;
        };
        let note = sign_checkpoint(&c, &own);
        let opened = open_checkpoint_with_extensions(&note, &own.verifier())
            .expect("a note we signed opens");
        assert_eq!(opened.0, c);
        let time = data.len() as u64;
        let line = witness.cosign(&note, time).expect("a note we signed is cosigned");
        let cosigned = format!("{note}{line}");
        assert_eq!(witness.verifier().verify(&cosigned), Ok(time));
        open_checkpoint_with_extensions(&cosigned, &own.verifier())
            .expect("a cosignature leaves the log's signature good");
    }
});
