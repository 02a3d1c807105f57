//! Our signed notes and our witness against vectors made by other
//! implementations, so a Custos site can use any C2SP witness and a C2SP
//! witness can co-sign any log, byte for byte:
//!
//! - the signed-note key and signature of Go's `golang.org/x/mod/sumdb/note`
//!   tests (Ed25519 is deterministic: the same key must sign the same text
//!   to the same bytes);
//! - the `add-checkpoint` requests of litewitness's test script
//!   (`filippo.io/torchwood`, `cmd/litewitness/testdata/litewitness.txt`):
//!   a Sigsum log's checkpoints, signatures and consistency proofs, with the
//!   answers it expects. litewitness answered an unknown origin with 403;
//!   the C2SP tlog-witness spec since says 404, which we follow.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::{open_note, sign_note, Checkpoint, SigningKey, VerifierKey};
use custos_ledger::witness::{add_checkpoint, parse_add_checkpoint, Refusal};
use sha2::{Digest, Sha256};

const GO_SIGNER: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_SIGNATURE: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_sumdb_note_key_and_signature_are_ours_byte_for_byte() {
    let signer = SigningKey::from_signer_string(GO_SIGNER).expect("Go's signer key");
    assert_eq!(signer.verifier().to_string(), GO_VERIFIER);
    assert_eq!(signer.to_signer_string(), GO_SIGNER);
    let signed = sign_note(GO_TEXT, &signer).expect("sign");
    assert_eq!(signed, format!("{GO_TEXT}\n{GO_SIGNATURE}"));
    let verifier = VerifierKey::parse(GO_VERIFIER).expect("Go's verifier key");
    assert_eq!(open_note(&signed, &verifier).expect("open"), GO_TEXT);
    let altered = signed.replace("answer", "Answer");
    assert!(open_note(&altered, &verifier).is_err());
}

/// The Sigsum log of litewitness's script: its Ed25519 public key, and its
/// origin, named after the key's hash.
const LOG_PUBLIC_KEY: &str = "ffdc2d4d98e4124d3feaf788c0c2f9abfd796083d1f0495437f302ec79cf100f";
const LOG_ORIGIN: &str =
    "sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562";

fn log_key() -> VerifierKey {
    let public: [u8; 32] = hex::decode(LOG_PUBLIC_KEY)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    assert_eq!(
        LOG_ORIGIN,
        format!("sigsum.org/v1/tree/{}", hex::encode(Sha256::digest(public)))
    );
    let id = custos_ledger::note::key_id(LOG_ORIGIN, &public);
    let mut typed = vec![0x01];
    typed.extend_from_slice(&public);
    VerifierKey::parse(&format!(
        "{LOG_ORIGIN}+{}+{}",
        hex::encode(id),
        BASE64.encode(typed)
    ))
    .expect("the log's verifier key")
}

/// One request of the script: its body and the status it expects.
struct Vector {
    body: String,
    status: u16,
}

fn request(old: u64, proof: &[&str], origin: &str, size: u64, root: &str, sig: &str) -> String {
    let mut body = format!("old {old}\n");
    for p in proof {
        body.push_str(p);
        body.push('\n');
    }
    body.push_str(&format!("\n{origin}\n{size}\n{root}\n\n— {origin} {sig}\n"));
    body
}

fn vectors() -> Vec<Vector> {
    let proof = [
        "KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "KgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ];
    let wrong_proof = [
        "KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "KgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABA=",
    ];
    let root1 = "KgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let root3 = "RcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=";
    let sig1 = "UgIom7fPZTqpxWWhyjWduBvTvGVqsokMbqTArsQilegKoFBJQjUFAmQ0+YeSPM3wfUQMFSzVnnNuWRTYrajXpNUbIQY=";
    let sig3 = "UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNobZs4SUUdrcawfAB8WVrx6go=";
    let bad_sig3 = "UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNobZs4SUUdrcawfAB8WVrx6gx=";
    let other_origin =
        "sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e563";
    vec![
        Vector {
            body: request(0, &[], LOG_ORIGIN, 1, root1, sig1),
            status: 200,
        },
        Vector {
            body: request(1, &proof, LOG_ORIGIN, 3, root3, bad_sig3),
            status: 403,
        },
        Vector {
            body: request(1, &proof, other_origin, 3, root3, sig3),
            status: 404,
        },
        Vector {
            body: request(1, &[], LOG_ORIGIN, 3, root3, sig3),
            status: 422,
        },
        Vector {
            body: request(1, &wrong_proof, LOG_ORIGIN, 3, root3, sig3),
            status: 422,
        },
        Vector {
            body: request(1, &proof, LOG_ORIGIN, 3, root3, sig3),
            status: 200,
        },
    ]
}

#[test]
fn litewitness_add_checkpoint_requests_get_the_answers_it_expects() {
    let witness = CosigningKey::from_seed("example.com/witness", &[5; 32]).expect("witness");
    let known = |origin: &str| (origin == LOG_ORIGIN).then(log_key);
    let mut latest: Option<Checkpoint> = None;
    for (i, vector) in vectors().iter().enumerate() {
        let request = parse_add_checkpoint(&vector.body).expect("a well-formed request");
        let answer = add_checkpoint(&request, known, latest.as_ref(), &witness, 1_700_000_000);
        let status = answer.as_ref().map_or_else(Refusal::http_status, |_| 200);
        assert_eq!(status, vector.status, "request {}: {answer:?}", i + 1);
        if let Ok(cosigned) = answer {
            // The cosignature line is one a client of the witness verifies.
            let note = format!("{}{}", request.note, cosigned.line);
            assert_eq!(
                witness.verifier().verify(&note).expect("cosignature"),
                1_700_000_000
            );
            latest = Some(cosigned.checkpoint);
        }
    }
    assert_eq!(latest.map(|c| c.size), Some(3));
}
