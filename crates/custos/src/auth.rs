//! Passwords as the command line asks for them; how they are hashed and
//! checked is [`custos_site::credentials`]'s.

use anyhow::{bail, Context};
use base64::Engine;
use rand::RngCore;

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
