//! Passwords (argon2id) and API tokens.
//!
//! A token is `cst_<id>_<secret>`: the id is public (it names the token in
//! lists and in `token revoke`), the secret is 32 random bytes. The index
//! stores only the SHA-256 of the whole token — a token is high-entropy, so a
//! fast hash suffices, and a stolen database reveals no usable token.

use anyhow::{bail, Context};
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;

/// Shortest password accepted: long enough that argon2id makes guessing slow.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashes a password with argon2id (the crate's default parameters, which
/// follow the OWASP recommendation of m=19 MiB, t=2, p=1).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        bail!("password too short: at least {MIN_PASSWORD_LEN} characters are required");
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok(hash.to_string())
}

/// A new token: (public id, the full token to show once, its SHA-256 in hex).
pub fn new_token() -> (String, String, String) {
    let mut rng = rand::thread_rng();
    let mut id = [0u8; 4];
    rng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = format!(
        "cst_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let digest = custos_server::auth::token_digest(&token);
    (id, token, digest)
}

/// A random password for the demo's one-time admin login.
pub fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a password from the first line of standard input.
pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_password(password: &str, phc: &str) -> bool {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = hash_password("short").expect_err("too short");
        assert!(e.to_string().contains("at least 12"), "{e}");
    }

    #[test]
    fn tokens_are_unique_and_hash_to_their_digest() {
        let (id1, t1, d1) = new_token();
        let (id2, t2, _) = new_token();
        assert_ne!(t1, t2);
        assert_ne!(id1, id2);
        assert!(t1.starts_with(&format!("cst_{id1}_")));
        assert_eq!(d1, custos_server::auth::token_digest(&t1));
        assert_eq!(d1.len(), 64);
    }
}
