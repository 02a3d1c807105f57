//! Witness cosignatures of checkpoints (<https://c2sp.org/tlog-cosignature>,
//! `cosignature/v1`, Ed25519).
//!
//! A witness that has checked a log's new checkpoint to be consistent with
//! every earlier one it saw adds its own signature line to the note:
//!
//! ```text
//! — <witness name> base64(key ID ‖ u64 timestamp, big-endian ‖ Ed25519 signature)
//! ```
//!
//! The key ID is `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]` and the
//! signature covers `"cosignature/v1\ntime <timestamp>\n"` followed by the
//! checkpoint's text (the note without its signature lines). The timestamp
//! is in seconds since the Unix epoch. Witness keys are exchanged as
//! `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`, as for notes.
//!
//! Keeping a site's log honest takes someone outside the site who remembers
//! what it said: a checkpoint co-signed by the central office cannot later
//! be replaced by a rewritten history without the cosignatures disagreeing.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SIGNATURE_LENGTH};

use crate::key_string::{parse_public_key, public_key_string, typed_key_id};
use crate::note::{
    check_key_name, split_note, KeyFileError, NoteError, SigningKey, SIGNATURE_PREFIX,
};

/// The signature type of an Ed25519 cosignature (c2sp.org/tlog-cosignature).
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

/// The first line of what a `cosignature/v1` signs (domain separation).
const HEADER: &str = "cosignature/v1\n";

/// Timestamps above this are refused (the specification's bound).
const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// The key ID of a witness key: `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4]`.
pub fn cosigner_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    typed_key_id(name, COSIGNATURE_V1_TYPE, public_key)
}

/// What a cosignature at `timestamp` signs for the checkpoint `text`.
fn signed_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("{HEADER}time {timestamp}\n{text}").into_bytes()
}

/// A witness's signing key.
///
/// Its [`Debug`] output shows the name and key ID, never the key.
#[derive(Clone)]
pub struct CosigningKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for CosigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosigningKey")
            .field("name", &self.name)
            .field("id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

impl CosigningKey {
    /// The witness key `name` with the Ed25519 secret `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<CosigningKey, NoteError> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        Ok(CosigningKey {
            name: name.to_owned(),
            id: cosigner_key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Loads the witness key kept at `path`, or creates it for `name` if
    /// there is no file there; returns the key and whether it was created.
    ///
    /// The file is a log key file ([`SigningKey::load_or_create`]): the same
    /// checks of its mode and name, the same crash-safe creation, so several
    /// witness processes sharing one file never make two keys.
    pub fn load_or_create(path: &Path, name: &str) -> Result<(CosigningKey, bool), KeyFileError> {
        let (file_key, created) = SigningKey::load_or_create(path, name)?;
        let key = CosigningKey::from_seed(name, &file_key.seed()).map_err(KeyFileError::BadName)?;
        Ok((key, created))
    }

    /// The key others verify this witness's cosignatures with.
    pub fn verifier(&self) -> CosignerKey {
        CosignerKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line of the checkpoint note `note` at `timestamp`
    /// (seconds since the Unix epoch), ending in a newline, to append to
    /// the note. The note must be well formed; its signatures are not
    /// checked here (the witness checks the log's first).
    pub fn cosign(&self, note: &str, timestamp: u64) -> Result<String, NoteError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(NoteError::BadText {
                reason: "the cosignature's time is past 2^63 - 1",
            });
        }
        let (text, _) = split_note(note)?;
        let signature = self.key.sign(&signed_message(text, timestamp));
        let mut raw = Vec::with_capacity(4 + 8 + SIGNATURE_LENGTH);
        raw.extend_from_slice(&self.id);
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(&raw)
        ))
    }
}

/// A witness's public key, `<name>+<hex key ID>+<base64(0x04 ‖ key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl CosignerKey {
    /// Parses `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`, checking
    /// the name, the type, that the key is a valid Ed25519 point of large
    /// order, and that the key ID is the one computed from name and key.
    pub fn parse(s: &str) -> Result<CosignerKey, NoteError> {
        let (name, id, key) = parse_public_key(
            s,
            COSIGNATURE_V1_TYPE,
            "an Ed25519 cosignature",
            "witness key",
        )?;
        Ok(CosignerKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name+hexid`: how reports and errors name the key.
    pub fn short(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.id))
    }

    /// Checks the cosignature of this witness on the checkpoint note `note`
    /// and returns its timestamp. Lines of other keys are ignored; a line of
    /// this key that does not verify rejects the note, as does a note with
    /// none.
    pub fn verify(&self, note: &str) -> Result<u64, NoteError> {
        let (text, lines) = split_note(note)?;
        let mut timestamp = None;
        for line in lines
            .iter()
            .filter(|l| l.name == self.name && l.id == self.id)
        {
            let Some((time, signature)) = line.signature.split_first_chunk::<8>() else {
                return Err(NoteError::BadSignature { key: self.short() });
            };
            let time = u64::from_be_bytes(*time);
            let good = time <= MAX_TIMESTAMP
                && <[u8; SIGNATURE_LENGTH]>::try_from(signature)
                    .map(|sig| ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok_and(|sig| {
                        self.key
                            .verify_strict(&signed_message(text, time), &sig)
                            .is_ok()
                    });
            if !good {
                return Err(NoteError::BadSignature { key: self.short() });
            }
            timestamp = Some(time);
        }
        timestamp.ok_or_else(|| NoteError::NoSignatureByKey {
            key: self.short(),
            found: lines.iter().map(|l| l.short()).collect(),
        })
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&public_key_string(
            &self.name,
            self.id,
            COSIGNATURE_V1_TYPE,
            &self.key,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::sign_note;

    const WITNESS: &str = "witness.custos.example/central";
    const BODY: &str =
        "custos.example/site/stacks\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const TIME: u64 = 1_796_540_000;

    /// Made by another implementation of the specification (Python's
    /// `cryptography` package, Ed25519 of seed 00 01 … 1f): the witness
    /// key and its cosignature line for `BODY` at `TIME`.
    const THEIR_KEY: &str =
        "witness.custos.example/central+ac4ae60a+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const THEIR_LINE: &str = "\u{2014} witness.custos.example/central rErmCgAAAABrFQZg5Htia1byWgYHNlxs8jwe2g9c3mq8o3RzEplRJsN/FNYzKWGoMURrP2kAh+XXCJqGgJCKNocQft1/3MK5TaOcAA==\n";

    fn seed() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn log_note() -> String {
        let log = SigningKey::from_seed("custos.example/site/stacks", &[7; 32]).expect("log key");
        sign_note(BODY, &log).expect("signed")
    }

    #[test]
    fn a_witness_key_file_is_made_once_and_gives_the_same_key_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("witness.key");
        let (made, created) = CosigningKey::load_or_create(&path, WITNESS).expect("create");
        assert!(created);
        let (loaded, created) = CosigningKey::load_or_create(&path, WITNESS).expect("load");
        assert!(!created);
        assert_eq!(loaded.verifier(), made.verifier());
        let note = format!(
            "{}{}",
            log_note(),
            loaded.cosign(&log_note(), TIME).expect("cosign")
        );
        assert_eq!(made.verifier().verify(&note), Ok(TIME));
        // Another name for the same file is refused, not a second key.
        assert!(CosigningKey::load_or_create(&path, "other.example/witness").is_err());
    }

    #[test]
    fn a_cosignature_is_byte_for_byte_the_one_another_implementation_makes() {
        let witness = CosigningKey::from_seed(WITNESS, &seed()).expect("key");
        assert_eq!(witness.verifier().to_string(), THEIR_KEY);
        assert_eq!(CosignerKey::parse(THEIR_KEY), Ok(witness.verifier()));
        let line = witness.cosign(&log_note(), TIME).expect("cosigned");
        assert_eq!(line, THEIR_LINE);
        let cosigned = format!("{}{line}", log_note());
        assert_eq!(witness.verifier().verify(&cosigned), Ok(TIME));
    }

    #[test]
    fn a_changed_checkpoint_time_or_key_does_not_verify() {
        let witness = CosigningKey::from_seed(WITNESS, &seed()).expect("key");
        let key = witness.verifier();
        let note = log_note();
        let cosigned = format!("{note}{}", witness.cosign(&note, TIME).expect("cosigned"));
        // Another size in the text: the cosignature no longer covers it.
        let forked = cosigned.replace("20852163", "20852164");
        assert_eq!(
            key.verify(&forked),
            Err(NoteError::BadSignature { key: key.short() })
        );
        // The timestamp is signed too.
        let line = THEIR_LINE.trim_start_matches('\u{2014}').trim();
        let (_, b64) = line.split_once(' ').expect("line");
        let mut raw = BASE64.decode(b64).expect("base64");
        raw[11] ^= 1;
        let moved = format!("{note}\u{2014} {WITNESS} {}\n", BASE64.encode(&raw));
        assert_eq!(
            key.verify(&moved),
            Err(NoteError::BadSignature { key: key.short() })
        );
        // Another witness's key finds no cosignature of its own.
        let other = CosigningKey::from_seed(WITNESS, &[9; 32]).expect("key");
        assert!(matches!(
            other.verifier().verify(&cosigned),
            Err(NoteError::NoSignatureByKey { .. })
        ));
        // The log's own signature is not a cosignature.
        let log_only = CosigningKey::from_seed("custos.example/site/stacks", &[7; 32])
            .expect("key")
            .verifier();
        assert!(matches!(
            log_only.verify(&note),
            Err(NoteError::NoSignatureByKey { .. })
        ));
    }

    #[test]
    fn witness_keys_of_another_type_or_id_are_refused() {
        let note_key = SigningKey::from_seed(WITNESS, &seed())
            .expect("key")
            .verifier()
            .to_string();
        assert!(matches!(
            CosignerKey::parse(&note_key),
            Err(NoteError::BadKey { .. }) | Err(NoteError::KeyIdMismatch { .. })
        ));
        let wrong_id = THEIR_KEY.replace("+ac4ae60a+", "+ac4ae60b+");
        assert!(matches!(
            CosignerKey::parse(&wrong_id),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert!(CosignerKey::parse("witness+ac4ae60a").is_err());
    }
}
