//! `[escrow]`: the S3-compatible bucket where the site's log is published
//! as tlog-tiles. The credentials come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from this file.

use custos_escrow::bucket::BucketConfig;

use super::checker::{quote, Checker, Section};

const ESCROW_KEYS: &[&str] = &["endpoint", "bucket", "region", "prefix"];

/// The region signed into requests when none is given; stores that have
/// no regions (SeaweedFS, Garage's default) accept any.
const DEFAULT_REGION: &str = "us-east-1";

const BUCKET_EXPECTED: &str =
    "an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit";

fn valid_bucket(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
}

fn valid_prefix(prefix: &str) -> bool {
    let trimmed = prefix.trim_matches('/');
    !trimmed.is_empty()
        && trimmed.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

impl Checker<'_> {
    /// `[escrow]`; the prefix defaults to `sites/<site>`.
    pub(super) fn escrow(&mut self, root: &Section<'_>, site: &str) -> Option<BucketConfig> {
        let section = self.sub_table(root, "escrow", "[escrow]", ESCROW_KEYS)?;
        let endpoint = self.http_url(&section, "endpoint");
        let bucket = match self.required_string(&section, "bucket", BUCKET_EXPECTED) {
            Some(b) if valid_bucket(&b) => Some(b),
            Some(b) => {
                let span = section.get("bucket").and_then(|(_, s)| s);
                self.report(
                    span,
                    format!("bucket: expected {BUCKET_EXPECTED}, found {}", quote(&b)),
                );
                None
            }
            None => None,
        };
        let region = match self.string(&section, "region", "a region name such as \"us-east-1\"") {
            Some((r, span)) if r.trim().is_empty() => {
                self.report(
                    span,
                    "region: expected a region name, found an empty string".into(),
                );
                DEFAULT_REGION.to_owned()
            }
            Some((r, _)) => r.trim().to_owned(),
            None => DEFAULT_REGION.to_owned(),
        };
        let prefix_expected = "a path such as \"sites/alpha\": parts of letters, digits, '-', '_' and '.' between slashes";
        let prefix = match self.string(&section, "prefix", prefix_expected) {
            Some((p, _)) if valid_prefix(&p) => p.trim_matches('/').to_owned(),
            Some((p, span)) => {
                self.report(
                    span,
                    format!("prefix: expected {prefix_expected}, found {}", quote(&p)),
                );
                return None;
            }
            None => format!("sites/{site}"),
        };
        Some(BucketConfig {
            endpoint: endpoint?,
            bucket: bucket?,
            region,
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{problems, valid};

    #[test]
    fn escrow_is_read_with_defaults_and_checked_where_written() {
        let c = valid(
            "data_dir = \"d\"\nsite = \"alpha\"\n[escrow]\nendpoint = \"http://127.0.0.1:8333/\"\nbucket = \"custos-evidence\"\n",
        );
        let e = c.escrow.expect("escrow");
        assert_eq!(e.endpoint, "http://127.0.0.1:8333");
        assert_eq!(e.bucket, "custos-evidence");
        assert_eq!(e.region, "us-east-1");
        assert_eq!(e.prefix, "sites/alpha");
        let c = valid(
            "data_dir = \"d\"\n[escrow]\nendpoint = \"https://s3.example\"\nbucket = \"b12\"\nregion = \"garage\"\nprefix = \"/ministry/north/x/\"\n",
        );
        let e = c.escrow.expect("escrow");
        assert_eq!(
            (e.region.as_str(), e.prefix.as_str()),
            ("garage", "ministry/north/x")
        );
        assert!(valid("data_dir = \"d\"\n").escrow.is_none());

        let shown = problems(
            "data_dir = \"d\"\n[escrow]\nendpoint = \"ftp://x\"\nbucket = \"Bad_Bucket\"\nprefix = \"a/../b\"\nsecret = \"s\"\n",
        );
        let text: Vec<String> = shown
            .iter()
            .map(|(l, c, m)| format!("{l}:{c} {m}"))
            .collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("3:") && t.contains("endpoint: expected an http")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("4:") && t.contains("bucket: expected an S3 bucket name")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("5:") && t.contains("prefix: expected")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("6:") && t.contains("secret")),
            "{text:?}"
        );
        let missing = problems("data_dir = \"d\"\n[escrow]\nendpoint = \"http://x\"\n");
        assert!(
            missing.iter().any(|(_, _, m)| m.contains("bucket")),
            "{missing:?}"
        );
    }
}
