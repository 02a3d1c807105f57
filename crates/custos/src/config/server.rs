//! The `[server]` table: where the API listens, TLS and metrics.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::checker::{quote, Checker, Section};

/// The `[server]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// `tls_cert` and `tls_key`: PEM files (certificate chain, private key);
    /// with them the server speaks only HTTPS and cookies are `Secure`.
    /// Relative paths are relative to the config file.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `metrics = true` serves `GET /metrics` (off by default).
    pub metrics: bool,
    /// `metrics_token_env`: the environment variable holding the token a
    /// Prometheus scraper sends (`Authorization: Bearer …`); without it,
    /// only admins' and auditors' credentials read the metrics.
    pub metrics_token_env: Option<String>,
}

const SERVER_KEYS: &[&str] = &[
    "listen",
    "tls_cert",
    "tls_key",
    "metrics",
    "metrics_token_env",
];

const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

impl Checker<'_> {
    /// `[server]`, with the defaults where it or one of its keys is missing.
    pub(super) fn server(&mut self, root: &Section<'_>) -> ServerConfig {
        let mut listen = SocketAddr::from(DEFAULT_LISTEN);
        let mut tls = None;
        let (mut metrics, mut metrics_token_env) = (false, None);
        if let Some(server) = self.sub_table(root, "server", "[server]", SERVER_KEYS) {
            metrics = self.boolean(&server, "metrics").unwrap_or(false);
            metrics_token_env = self.env_name(&server, "metrics_token_env");
            if metrics_token_env.is_some() && !metrics {
                self.report(
                    server.get("metrics_token_env").and_then(|(_, span)| span),
                    "metrics_token_env: the metrics are off; expected metrics = true with it"
                        .into(),
                );
            }
            let cert = self.string(&server, "tls_cert", "the path of a PEM certificate chain");
            let key = self.string(&server, "tls_key", "the path of a PEM private key");
            match (cert, key) {
                (Some((c, _)), Some((k, _))) => tls = Some((PathBuf::from(c), PathBuf::from(k))),
                (Some((_, span)), None) | (None, Some((_, span))) => self.report(
                    span,
                    "tls_cert and tls_key go together: give both, or neither for plain HTTP".into(),
                ),
                (None, None) => {}
            }
            let expected = "an IP address and port such as \"127.0.0.1:8080\"";
            if let Some((text, span)) = self.string(&server, "listen", expected) {
                match text.trim().parse::<SocketAddr>() {
                    Ok(addr) => listen = addr,
                    Err(_) => self.report(
                        span,
                        format!("listen: expected {expected}, found {}", quote(&text)),
                    ),
                }
            }
        }
        ServerConfig {
            listen,
            tls,
            metrics,
            metrics_token_env,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::load;
    use super::super::tests::*;

    #[test]
    fn tls_needs_both_files_relative_to_the_config() {
        let p = problems("data_dir = \"d\"\n[server]\ntls_cert = \"c.pem\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1), (3, 12));
        assert!(p[0].2.contains("tls_key"), "{}", p[0].2);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("custos.toml");
        std::fs::write(
            &file,
            "data_dir = \"d\"\n[server]\ntls_cert = \"c.pem\"\ntls_key = \"/k.pem\"\n",
        )
        .expect("write");
        let c = load(&file).expect("load");
        assert_eq!(
            c.server.tls,
            Some((dir.path().join("c.pem"), PathBuf::from("/k.pem")))
        );
    }
}
