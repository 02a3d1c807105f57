//! A batch of a site's log entries for the centre's mirror of the log,
//! signed with the site's log key:
//!
//! ```text
//! custos-entries/v1
//! <log origin>
//! <index of the first entry>
//! <base64 of each entry's leaf bytes, one per line>
//!
//! — <origin> <signature>
//! ```
//!
//! The signature says the site sent them; what proves them is that they
//! hash, with every entry before them, to the roots of the checkpoints the
//! centre co-signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_ledger::note::{open_note, sign_note, SigningKey, VerifierKey};

use crate::ReportError;

/// The first line of an entries note.
pub const HEADER: &str = "custos-entries/v1";

/// The most bytes of leaves a batch should carry, so a note stays well
/// under the ledger's note limit and a slow uplink sends it in seconds.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The origin and first index of an entries note, before its signature is
/// checked.
pub fn peek(note: &str) -> Result<(&str, u64), ReportError> {
    crate::peek_head(
        note,
        HEADER,
        "the first line is custos-entries/v1",
        "the third line is the index of the first entry",
    )
}

/// Signs the entries `leaves`, the first of which is at index `first`.
pub fn sign<L: AsRef<[u8]>>(
    first: u64,
    leaves: &[L],
    key: &SigningKey,
) -> Result<String, ReportError> {
    let mut text = format!("{HEADER}\n{}\n{first}\n", key.verifier().name());
    for leaf in leaves {
        text.push_str(&BASE64.encode(leaf));
        text.push('\n');
    }
    Ok(sign_note(&text, key)?)
}

/// Checks an entries note with the site's key and returns the index of
/// the first entry and the entries' leaf bytes.
pub fn open(note: &str, key: &VerifierKey) -> Result<(u64, Vec<Vec<u8>>), ReportError> {
    let (origin, first) = peek(note)?;
    if origin != key.name() {
        return Err(ReportError::Malformed {
            line: 2,
            reason: "the origin is not the key's name",
        });
    }
    let text = open_note(note, key)?;
    let body = text.split('\n').skip(3);
    let mut leaves = Vec::new();
    for line in body.filter(|l| !l.is_empty()) {
        leaves.push(BASE64.decode(line).map_err(|_| ReportError::Malformed {
            line: 4 + leaves.len(),
            reason: "an entry line is base64",
        })?);
    }
    if leaves.is_empty() {
        return Err(ReportError::Malformed {
            line: 4,
            reason: "a batch holds at least one entry",
        });
    }
    Ok((first, leaves))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_round_trips_and_only_the_site_key_opens_it() {
        let key = SigningKey::from_seed("archive-7.example/log", &[7; 32]).expect("key");
        let leaves = [b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()];
        let note = sign(40, &leaves, &key).expect("sign");
        assert_eq!(peek(&note).expect("peek"), ("archive-7.example/log", 40));
        assert_eq!(
            open(&note, &key.verifier()).expect("open"),
            (40, leaves.to_vec())
        );
        let other = SigningKey::from_seed("archive-7.example/log", &[8; 32]).expect("key");
        assert!(open(&note, &other.verifier()).is_err());
        assert!(open(&note.replacen("\n40\n", "\n41\n", 1), &key.verifier()).is_err());
        let empty = sign::<Vec<u8>>(0, &[], &key).expect("sign");
        assert!(open(&empty, &key.verifier()).is_err());
    }
}
