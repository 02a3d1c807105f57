//! Passwords (argon2id) and API tokens: how they are made, stored and
//! checked, once for the API and the command line.
//!
//! A token is `cst_<id>_<secret>`: the id is public (it names the token in
//! lists and in `token revoke`), the secret is 32 random bytes. The index
//! stores only the SHA-256 of the whole token (and of a session's secret) —
//! such a secret is high-entropy, so a fast hash suffices, and a stolen
//! database reveals no usable token.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Shortest password accepted: argon2id makes each guess slow, length makes
/// the space of guesses large.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Failed sign-ins to one account, within [`FAILURE_WINDOW_MS`], that lock it.
pub const MAX_FAILURES: usize = 5;
/// Window in which failures count towards a lock.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a locked account refuses every sign-in, right password or not.
pub const LOCK_MS: i64 = 15 * 60 * 1000;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("password too short: at least {MIN_PASSWORD_CHARS} characters are required")]
    TooShort,
    /// The hasher failed (it does not for valid parameters).
    #[error("hashing the password: {0}")]
    Hashing(String),
}

/// Hashes a password with argon2id (the crate's default parameters, which
/// follow the OWASP recommendation of m=19 MiB, t=2, p=1), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether `password` is the one `phc` was made from (false for a string
/// that is not a PHC hash).
pub fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A PHC hash of a random password, checked against when a user does not
/// exist, so that the answer takes as long as for a real user.
pub fn dummy_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut password = [0u8; 16];
        OsRng.fill_bytes(&mut password);
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(&password, &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The digest under which the index keeps a token or a session secret.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token just made: shown once, then only its digest is kept.
#[derive(Debug)]
pub struct NewToken {
    /// The public id (8 hex digits).
    pub id: String,
    /// The whole token, to give to its user.
    pub token: String,
    /// [`token_digest`] of `token`, for the index.
    pub digest: String,
}

/// The CSRF token of the session whose cookie secret is `secret`: derived
/// from it, so it needs no storage, and useless without the cookie.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"custos csrf\n");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// A new sign-in session: its public id (12 hex digits, for logs and
/// lists) and its secret (32 random bytes, only ever in the cookie).
pub fn new_session_secret() -> (String, String) {
    let mut id = [0u8; 6];
    OsRng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    (
        hex::encode(id),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    )
}

/// Whether two secrets are equal, in time that does not depend on where
/// they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Longest cookie secret looked at; anything longer is malformed.
const MAX_SECRET_LEN: usize = 1024;

/// The value of cookie `name` among a request's `Cookie` header values,
/// if it is a well-formed secret (URL-safe base64 characters only).
pub fn cookie_secret<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_SECRET_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Makes a new random token.
pub fn new_token() -> NewToken {
    let mut id = [0u8; 4];
    OsRng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = format!(
        "cst_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let digest = token_digest(&token);
    NewToken { id, token, digest }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterY", &h));
        assert!(!password_matches("x", "not a phc string"));
        assert!(!password_matches("", dummy_password_hash()));
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_eq!(csrf_token("a").len(), 64);
        let (id, secret) = new_session_secret();
        assert_eq!(id.len(), 12);
        assert_ne!(secret, new_session_secret().1);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_checked() {
        let headers = ["a=1; custos_session=abc_-9", "b=2"];
        assert_eq!(cookie_secret(headers, "custos_session"), Some("abc_-9"));
        assert_eq!(
            cookie_secret(["custos_session=a<b"], "custos_session"),
            None
        );
        assert_eq!(cookie_secret(["custos_session="], "custos_session"), None);
        assert_eq!(cookie_secret(["other=x"], "custos_session"), None);
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = hash_password("eleven char").expect_err("too short");
        assert!(e.to_string().contains("at least 12"), "{e}");
        assert!(hash_password("twelve chars").is_ok());
    }

    #[test]
    fn tokens_are_unique_and_hash_to_their_digest() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a.token, b.token);
        assert_ne!(a.id, b.id);
        assert!(a.token.starts_with(&format!("cst_{}_", a.id)));
        assert_eq!(a.digest, token_digest(&a.token));
        assert_eq!(a.digest.len(), 64);
    }
}
