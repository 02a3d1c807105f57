//! `central.toml`: where the centre listens, what it tells sites, its
//! database and its witness key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The central office's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralConfig {
    /// Address to listen on; loopback unless the operator says otherwise.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL sites reach this office at (behind a load balancer, its
    /// address); the witness is at `<public_url>/witness`.
    pub public_url: String,
    /// The witness key's name, e.g. `central.archives.example/witness`.
    pub witness_name: String,
    /// The witness key file (created on first start, mode 0600). Every
    /// process of one office uses the same file.
    pub witness_key_file: PathBuf,
    /// The database.
    pub database: DatabaseConfig,
    /// HTTPS of its own: the certificate's fingerprint is given to sites
    /// at enrolment, which trust only it from then on.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// `[[notify]]` tables, as a site's: read and checked by the binary
    /// with the site's own checker (`custos central serve`).
    #[serde(default)]
    pub notify: Vec<serde::de::IgnoredAny>,
}

/// `[tls]`: PEM files (relative paths are taken from the working
/// directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, the centre's own certificate first.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// The certificate the centre will change to: sites are told its
    /// fingerprint in every report's answer and trust it too, so the
    /// change breaks nothing once they have reported.
    #[serde(default)]
    pub next_cert_file: Option<PathBuf>,
}

/// Where the centre's PostgreSQL is.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A libpq connection string or `postgres://` URL. It may hold a
    /// password, so it is never printed.
    pub url: String,
    /// Most connections this process opens.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &"(not shown)")
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8480))
}

fn default_pool_size() -> usize {
    16
}

impl CentralConfig {
    /// Reads and checks the file at `path`; errors name the file, and the
    /// line and column where the TOML is wrong.
    pub fn load(path: &Path) -> Result<CentralConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut config: CentralConfig =
            toml_edit::de::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.public_url = config.public_url.trim_end_matches('/').to_owned();
        if !(config.public_url.starts_with("http://") || config.public_url.starts_with("https://"))
        {
            return Err(format!(
                "{}: public_url {:?} is not an http:// or https:// URL",
                path.display(),
                config.public_url
            ));
        }
        custos_ledger::note::check_key_name(&config.witness_name)
            .map_err(|e| format!("{}: witness_name: {e}", path.display()))?;
        if config.database.pool_size == 0 {
            return Err(format!(
                "{}: database.pool_size must be at least 1",
                path.display()
            ));
        }
        if config.witness_key_file.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            config.witness_key_file = base.join(&config.witness_key_file);
        }
        Ok(config)
    }

    /// The URL prefix of the witness endpoints.
    pub fn witness_url(&self) -> String {
        format!("{}/witness", self.public_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<CentralConfig, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("central.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        CentralConfig::load(&path)
    }

    const GOOD: &str = r#"
public_url = "http://central.example:8480/"
witness_name = "central.example/witness"
witness_key_file = "witness.key"
[database]
url = "postgres://custos:secret@127.0.0.1/custos"
"#;

    #[test]
    fn a_good_file_loads_with_loopback_by_default_and_the_password_is_never_shown() {
        let c = load(GOOD).expect("good config");
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.witness_url(), "http://central.example:8480/witness");
        assert!(c.witness_key_file.is_absolute());
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn mistakes_name_the_place() {
        let typo = GOOD.replace("witness_name", "witnes_name");
        let e = load(&typo).expect_err("unknown key");
        assert!(e.contains("witnes_name") && e.contains("line"), "{e}");
        let e = load(&GOOD.replace("http://central", "ftp://central")).expect_err("scheme");
        assert!(e.contains("public_url"), "{e}");
        let e = load(&GOOD.replace("central.example/witness", "bad name")).expect_err("name");
        assert!(e.contains("witness_name"), "{e}");
    }
}
