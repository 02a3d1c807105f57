//! A witness's judgement of a log's new checkpoint
//! (<https://c2sp.org/tlog-witness>, `add-checkpoint`), without the HTTP.
//!
//! A log sends its new signed checkpoint with the size of the last one the
//! witness co-signed and a consistency proof between the two. The witness
//! co-signs only a checkpoint that is signed by the log's key and extends
//! what it co-signed before; anything else is refused with the status the
//! protocol gives it, and a refusal for inconsistency is evidence that the
//! log's history was rewritten or forked. The caller keeps, per origin, the
//! latest checkpoint co-signed, and must check and update it atomically.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::cosignature::CosigningKey;
use crate::merkle::{empty_root, verify_consistency, Hash};
use crate::note::{
    open_checkpoint_with_extensions, split_note, Checkpoint, NoteError, VerifierKey,
};

/// Most consistency proof lines a request may carry (the protocol's bound).
pub const MAX_PROOF_LINES: usize = 63;

/// An `add-checkpoint` request body, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint<'a> {
    /// The size of the last checkpoint the log believes was co-signed.
    pub old_size: u64,
    /// The consistency proof from that size to the new checkpoint's.
    pub proof: Vec<Hash>,
    /// The new checkpoint, a signed note.
    pub note: &'a str,
}

/// Why a checkpoint is not co-signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request is not an `add-checkpoint` body (400).
    #[error("malformed request, line {line}: {reason}")]
    Malformed {
        /// The line of the body.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No log of this origin is known (404).
    #[error("no log {origin:?} is known to this witness")]
    UnknownOrigin {
        /// The checkpoint's origin.
        origin: String,
    },
    /// The checkpoint is not signed by the log's key, or a signature of it
    /// fails (403).
    #[error("the checkpoint is not signed by the log's key: {0}")]
    NotSigned(NoteError),
    /// The old size is above the new checkpoint's (400).
    #[error("the old size {old_size} is above the checkpoint's size {size}")]
    OldSizeAbove {
        /// The request's old size.
        old_size: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size last co-signed (409; the body is the
    /// latest size and a newline).
    #[error("the last checkpoint co-signed has size {latest}, not {old_size}")]
    Conflict {
        /// The size last co-signed.
        latest: u64,
        /// The request's old size.
        old_size: u64,
    },
    /// The checkpoint does not extend what was co-signed before, or its
    /// proof is wrong (422): a rewritten or forked log, or a broken client.
    #[error("the checkpoint is not consistent with the one co-signed before: {0}")]
    Inconsistent(String),
}

impl Refusal {
    /// The HTTP status the protocol answers this refusal with.
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::Malformed { .. } | Refusal::OldSizeAbove { .. } => 400,
            Refusal::NotSigned(_) => 403,
            Refusal::UnknownOrigin { .. } => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

/// The body of an `add-checkpoint` request, as [`parse_add_checkpoint`]
/// reads it: `old <size>`, the consistency proof from that size (base64,
/// a hash a line), a blank line, the signed checkpoint `note`.
pub fn add_checkpoint_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for hash in proof {
        body.push_str(&BASE64.encode(hash));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

/// Parses an `add-checkpoint` body: `old <size>`, up to
/// [`MAX_PROOF_LINES`] base64 hashes, a blank line, the checkpoint note.
pub fn parse_add_checkpoint(body: &str) -> Result<AddCheckpoint<'_>, Refusal> {
    let malformed = |line: usize, reason: &str| Refusal::Malformed {
        line,
        reason: reason.to_owned(),
    };
    let Some(head_end) = body.find("\n\n") else {
        return Err(malformed(1, "no blank line before the checkpoint"));
    };
    let (head, note) = (&body[..head_end], &body[head_end + 2..]);
    let mut lines = head.split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .ok_or_else(|| malformed(1, "the first line is \"old <size>\""))?;
    let canonical =
        old == "0" || (!old.starts_with('0') && old.bytes().all(|b| b.is_ascii_digit()));
    let old_size = old
        .parse::<u64>()
        .ok()
        .filter(|_| canonical)
        .ok_or_else(|| malformed(1, "the old size is a decimal number without leading zeros"))?;
    let mut proof = Vec::new();
    for (i, line) in lines.enumerate() {
        if proof.len() == MAX_PROOF_LINES {
            return Err(malformed(i + 2, "more than 63 consistency proof lines"));
        }
        let hash = BASE64
            .decode(line)
            .ok()
            .and_then(|raw| Hash::try_from(raw).ok())
            .ok_or_else(|| malformed(i + 2, "a proof line is one 32-byte hash in base64"))?;
        proof.push(hash);
    }
    Ok(AddCheckpoint {
        old_size,
        proof,
        note,
    })
}

/// A checkpoint co-signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint, now the latest co-signed for its origin.
    pub checkpoint: Checkpoint,
    /// The witness's cosignature line, the body of the answer.
    pub line: String,
}

/// Judges `request` as the witness `witness` at `now_s` (seconds since the
/// Unix epoch, not zero): `log_key` gives the key of a log origin the
/// witness knows, `latest` the checkpoint last co-signed for that origin
/// (`None` if none). On success the caller records the returned checkpoint
/// as the latest, in the same atomic step as its check of `latest`.
pub fn add_checkpoint(
    request: &AddCheckpoint<'_>,
    log_key: impl Fn(&str) -> Option<VerifierKey>,
    latest: Option<&Checkpoint>,
    witness: &CosigningKey,
    now_s: u64,
) -> Result<Cosigned, Refusal> {
    let (text, _) = split_note(request.note).map_err(Refusal::NotSigned)?;
    let origin = text.split('\n').next().unwrap_or_default();
    let key = log_key(origin).ok_or_else(|| Refusal::UnknownOrigin {
        origin: origin.to_owned(),
    })?;
    let (checkpoint, _) =
        open_checkpoint_with_extensions(request.note, &key).map_err(Refusal::NotSigned)?;
    if request.old_size > checkpoint.size {
        return Err(Refusal::OldSizeAbove {
            old_size: request.old_size,
            size: checkpoint.size,
        });
    }
    let latest_size = latest.map_or(0, |c| c.size);
    if request.old_size != latest_size {
        return Err(Refusal::Conflict {
            latest: latest_size,
            old_size: request.old_size,
        });
    }
    if checkpoint.size == 0 && checkpoint.root != empty_root() {
        return Err(Refusal::Inconsistent(
            "a checkpoint of size 0 has the root of the empty tree".to_owned(),
        ));
    }
    let old_root = latest.map_or_else(empty_root, |c| c.root);
    if request.old_size == 0 && !request.proof.is_empty() {
        return Err(Refusal::Inconsistent(
            "from size 0 the consistency proof is empty".to_owned(),
        ));
    }
    verify_consistency(
        request.old_size,
        checkpoint.size,
        &old_root,
        &checkpoint.root,
        &request.proof,
    )
    .map_err(|e| Refusal::Inconsistent(e.to_string()))?;
    let line = witness
        .cosign(request.note, now_s.max(1))
        .map_err(Refusal::NotSigned)?;
    Ok(Cosigned { checkpoint, line })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_proof, leaf_hash, MemoryTree};
    use crate::note::{sign_checkpoint, SigningKey};

    const ORIGIN: &str = "custos.example/site/stacks";

    fn log_key() -> SigningKey {
        SigningKey::from_seed(ORIGIN, &[3; 32]).expect("log key")
    }

    fn witness() -> CosigningKey {
        CosigningKey::from_seed("central.custos.example/witness", &[4; 32]).expect("witness")
    }

    fn tree(leaves: &[&str]) -> MemoryTree {
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_bytes())).collect();
        MemoryTree::from_leaf_hashes(&hashes)
    }

    fn signed(tree: &MemoryTree) -> (Checkpoint, String) {
        let c = Checkpoint {
            origin: ORIGIN.to_owned(),
            size: tree.len(),
            root: tree.root(),
        };
        let note = sign_checkpoint(&c, &log_key());
        (c, note)
    }

    fn body(old: u64, proof: &[Hash], note: &str) -> String {
        add_checkpoint_body(old, proof, note)
    }

    fn judge(body: &str, latest: Option<&Checkpoint>) -> Result<Cosigned, Refusal> {
        let request = parse_add_checkpoint(body)?;
        let known = log_key().verifier();
        add_checkpoint(
            &request,
            |origin| (origin == ORIGIN).then(|| known.clone()),
            latest,
            &witness(),
            1_796_540_000,
        )
    }

    #[test]
    fn a_growing_log_is_cosigned_each_time_and_the_cosignature_verifies() {
        let first = tree(&["a", "b", "c"]);
        let (c1, note1) = signed(&first);
        let done = judge(&body(0, &[], &note1), None).expect("first checkpoint");
        assert_eq!(done.checkpoint, c1);
        let cosigned = format!("{note1}{}", done.line);
        assert_eq!(witness().verifier().verify(&cosigned), Ok(1_796_540_000));

        let second = tree(&["a", "b", "c", "d", "e"]);
        let (c2, note2) = signed(&second);
        let proof = consistency_proof(&second, 3, 5).expect("proof");
        let done = judge(&body(3, &proof, &note2), Some(&c1)).expect("extension");
        assert_eq!(done.checkpoint, c2);
        // The same checkpoint again: same size, same root, no proof.
        judge(&body(5, &[], &note2), Some(&c2)).expect("the same checkpoint");
    }

    #[test]
    fn a_rewritten_history_is_refused_as_inconsistent() {
        let (c1, _) = signed(&tree(&["a", "b", "c"]));
        // The same key signs a log whose third entry was changed.
        let forked = tree(&["a", "b", "X", "d", "e"]);
        let (_, note) = signed(&forked);
        let proof = consistency_proof(&forked, 3, 5).expect("proof");
        let refusal = judge(&body(3, &proof, &note), Some(&c1)).expect_err("a fork");
        assert!(matches!(refusal, Refusal::Inconsistent(_)), "{refusal}");
        assert_eq!(refusal.http_status(), 422);
        // As is a different root at the same size.
        let (_, same_size) = signed(&tree(&["a", "b", "Y"]));
        let refusal = judge(&body(3, &[], &same_size), Some(&c1)).expect_err("same size");
        assert_eq!(refusal.http_status(), 422);
    }

    #[test]
    fn each_other_refusal_has_the_protocols_status() {
        let t = tree(&["a", "b", "c"]);
        let (c, note) = signed(&t);
        // Not the size last co-signed: 409, naming it.
        let refusal = judge(&body(2, &[], &note), Some(&c)).expect_err("stale");
        assert_eq!(
            refusal,
            Refusal::Conflict {
                latest: 3,
                old_size: 2
            }
        );
        assert_eq!(refusal.http_status(), 409);
        // An old size above the new one: 400.
        assert_eq!(
            judge(&body(4, &[], &note), None).map_err(|e| e.http_status()),
            Err(400)
        );
        // A proof from the empty tree: 422.
        let stray = [leaf_hash(b"x")];
        assert_eq!(
            judge(&body(0, &stray, &note), None).map_err(|e| e.http_status()),
            Err(422)
        );
        // A log the witness does not know: 404.
        let other = SigningKey::from_seed("elsewhere.example/log", &[5; 32]).expect("key");
        let foreign = sign_checkpoint(
            &Checkpoint {
                origin: "elsewhere.example/log".to_owned(),
                ..c.clone()
            },
            &other,
        );
        assert_eq!(
            judge(&body(0, &[], &foreign), None).map_err(|e| e.http_status()),
            Err(404)
        );
        // Signed by another key under the log's name: 403.
        let impostor = SigningKey::from_seed(ORIGIN, &[6; 32]).expect("key");
        let forged = sign_checkpoint(&c, &impostor);
        assert_eq!(
            judge(&body(0, &[], &forged), None).map_err(|e| e.http_status()),
            Err(403)
        );
        // An empty log must have the empty tree's root.
        let (_, bad_empty) = signed(&MemoryTree::new());
        assert!(judge(&body(0, &[], &bad_empty), None).is_ok());
        let wrong_empty = sign_checkpoint(
            &Checkpoint {
                size: 0,
                ..c.clone()
            },
            &log_key(),
        );
        assert_eq!(
            judge(&body(0, &[], &wrong_empty), None).map_err(|e| e.http_status()),
            Err(422)
        );
    }

    #[test]
    fn malformed_bodies_are_refused_with_their_line() {
        let (_, note) = signed(&tree(&["a"]));
        for (bad, line) in [
            (format!("old 01\n\n{note}"), 1),
            (format!("old -1\n\n{note}"), 1),
            (format!("size 0\n\n{note}"), 1),
            (format!("old 0\nnot base64!\n\n{note}"), 2),
            (format!("old 0\nAAAA\n\n{note}"), 2),
            (format!("old 0\n{note}"), 2),
        ] {
            match parse_add_checkpoint(&bad) {
                Err(Refusal::Malformed { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let too_long = body(1, &[leaf_hash(b"p"); 64], &note);
        assert!(matches!(
            parse_add_checkpoint(&too_long),
            Err(Refusal::Malformed { line: 65, .. })
        ));
        assert!(parse_add_checkpoint(&body(1, &[leaf_hash(b"p"); 63], &note)).is_ok());
    }
}
