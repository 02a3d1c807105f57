//! Public key strings of the signed-note family,
//! `<name>+<8 hex digits of key ID>+<base64(signature type ‖ public key)>`,
//! and their key IDs, for every Ed25519 signature type the specifications
//! define: notes (0x01, [`crate::note`]) and cosignatures (0x04,
//! [`crate::cosignature`]).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::note::{check_key_name, NoteError};

/// `SHA-256(name ‖ 0x0A ‖ signature type ‖ public key)[:4]`: the key ID of
/// every signature type the signed-note specifications define.
pub(crate) fn typed_key_id(name: &str, signature_type: u8, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', signature_type]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Decodes `base64(signature_type ‖ 32 bytes)`; `kind` names the type in
/// the error when the key is of another.
pub(crate) fn decode_key_of_type(
    b64: &str,
    signature_type: u8,
    kind: &str,
) -> Result<[u8; 32], NoteError> {
    let raw = BASE64.decode(b64).map_err(|e| NoteError::BadKey {
        reason: format!("key is not base64: {e}"),
    })?;
    match raw.split_first() {
        Some((&t, key)) if t == signature_type => key.try_into().map_err(|_| NoteError::BadKey {
            reason: format!("an Ed25519 key has 32 bytes, this one {}", key.len()),
        }),
        Some((t, _)) => Err(NoteError::BadKey {
            reason: format!("signature type 0x{t:02x} is not {kind} (0x{signature_type:02x})"),
        }),
        None => Err(NoteError::BadKey {
            reason: "the key is empty".to_owned(),
        }),
    }
}

/// Parses a public key string `<name>+<hex key ID>+<base64(type ‖ key)>`
/// of `signature_type` (`kind` names it, `what` the key in errors),
/// checking the name, that the key is a valid Ed25519 point of large
/// order, and that the key ID is the one computed from name and key.
pub(crate) fn parse_public_key<'a>(
    s: &'a str,
    signature_type: u8,
    kind: &str,
    what: &str,
) -> Result<(&'a str, [u8; 4], ed25519_dalek::VerifyingKey), NoteError> {
    // The base64 key may itself hold plus signs: split twice only.
    let parts: Vec<&str> = s.splitn(3, '+').collect();
    let [name, id, b64] = parts[..] else {
        return Err(NoteError::BadKey {
            reason: format!(
                "a {what} is <name>+<key ID>+<key>, this one has {} parts",
                parts.len()
            ),
        });
    };
    check_key_name(name)?;
    let public = decode_key_of_type(b64, signature_type, kind)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| NoteError::BadKey {
        reason: "the public key is not a valid Ed25519 point".to_owned(),
    })?;
    if key.is_weak() {
        return Err(NoteError::BadKey {
            reason: "the public key is a weak (small-order) Ed25519 point".to_owned(),
        });
    }
    let computed = typed_key_id(name, signature_type, &public);
    check_stated_id(id, computed)?;
    Ok((name, computed, key))
}

/// `<name>+<hex key ID>+<base64(signature type ‖ public key)>`.
pub(crate) fn public_key_string(
    name: &str,
    id: [u8; 4],
    signature_type: u8,
    key: &ed25519_dalek::VerifyingKey,
) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(signature_type);
    raw.extend_from_slice(key.as_bytes());
    format!("{name}+{}+{}", hex::encode(id), BASE64.encode(&raw))
}

/// Checks the key ID written in a key string against the computed one.
pub(crate) fn check_stated_id(stated: &str, computed: [u8; 4]) -> Result<(), NoteError> {
    let valid = stated.len() == 8
        && stated
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(NoteError::BadKey {
            reason: format!("key ID {stated:?} is not 8 lowercase hex digits"),
        });
    }
    let computed = hex::encode(computed);
    if stated != computed {
        return Err(NoteError::KeyIdMismatch {
            stated: stated.to_owned(),
            computed,
        });
    }
    Ok(())
}
