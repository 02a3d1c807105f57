//! Who acts at the command line, and passwords as it asks for them; how they are hashed and
//! checked is [`custos_webapp::credentials`]'s.

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

/// Who is at the keyboard of a command-line action: the operating-system user.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
