//! `[escrow]`: the S3-compatible bucket where the site's log is published
//! as tlog-tiles and its footage that matters is copied. The credentials
//! come from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`), never from this file.

use custos_escrow::bucket::BucketConfig;

use super::checker::{quote, Checker, Section};

const ESCROW_KEYS: &[&str] = &[
    "endpoint",
    "bucket",
    "region",
    "prefix",
    "all_footage_of",
    "required",
];

/// `[escrow]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowConfig {
    /// The bucket and the site's prefix in it.
    pub bucket: BucketConfig,
    /// Cameras whose footage is escrowed whole (after the windows of
    /// custody events and alerts, which are escrowed for every camera).
    pub all_footage_of: Vec<String>,
    /// Retention never deletes footage escrow still wants (default false:
    /// it does, and the tombstone says so).
    pub required: bool,
}

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
    /// `[escrow]`; the prefix defaults to `sites/<site>`; `cameras` are the
    /// ids `all_footage_of` may name.
    pub(super) fn escrow(
        &mut self,
        root: &Section<'_>,
        site: &str,
        cameras: &[&str],
    ) -> Option<EscrowConfig> {
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
        let mut all_footage_of = Vec::new();
        if let Some((item, span)) = section.get("all_footage_of") {
            let expected = "an array of camera ids, e.g. [\"door\", \"stacks\"]";
            match item.as_array() {
                Some(array) => {
                    for value in array.iter() {
                        match value.as_str() {
                            Some(id) if cameras.contains(&id) => all_footage_of.push(id.to_owned()),
                            Some(id) => self.report(
                                span.clone(),
                                format!(
                                    "all_footage_of: {} is not the id of a [[camera]] of this file",
                                    quote(id)
                                ),
                            ),
                            None => self.report(
                                span.clone(),
                                format!("all_footage_of: expected {expected}"),
                            ),
                        }
                    }
                }
                None => self.report(span, format!("all_footage_of: expected {expected}")),
            }
        }
        let required = self.boolean(&section, "required").unwrap_or(false);
        Some(EscrowConfig {
            bucket: BucketConfig {
                endpoint: endpoint?,
                bucket: bucket?,
                region,
                prefix,
            },
            all_footage_of,
            required,
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
        assert!(e.all_footage_of.is_empty());
        let e = e.bucket;
        assert_eq!(e.endpoint, "http://127.0.0.1:8333");
        assert_eq!(e.bucket, "custos-evidence");
        assert_eq!(e.region, "us-east-1");
        assert_eq!(e.prefix, "sites/alpha");
        let c = valid(
            "data_dir = \"d\"\n[escrow]\nendpoint = \"https://s3.example\"\nbucket = \"b12\"\nregion = \"garage\"\nprefix = \"/ministry/north/x/\"\n",
        );
        let e = c.escrow.expect("escrow");
        assert_eq!(
            (e.bucket.region.as_str(), e.bucket.prefix.as_str()),
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
        let c = valid(
            "data_dir = \"d\"\n[[camera]]\nid = \"door\"\nname = \"Door\"\nurl = \"rtsp://c/x\"\n\
             [escrow]\nendpoint = \"http://s\"\nbucket = \"bkt\"\nall_footage_of = [\"door\"]\n",
        );
        let e = c.escrow.expect("escrow");
        assert_eq!(e.all_footage_of, vec!["door".to_owned()]);
        assert!(!e.required, "retention is not held up unless asked");
        let c = valid(
            "data_dir = \"d\"\n[escrow]\nendpoint = \"http://s\"\nbucket = \"bkt\"\nrequired = true\n",
        );
        assert!(c.escrow.expect("escrow").required);
        let unknown = problems(
            "data_dir = \"d\"\n[escrow]\nendpoint = \"http://s\"\nbucket = \"bkt\"\nall_footage_of = [\"hall\"]\n",
        );
        assert!(
            unknown
                .iter()
                .any(|(l, _, m)| *l == 5 && m.contains("\"hall\" is not the id of a [[camera]]")),
            "{unknown:?}"
        );
        let missing = problems("data_dir = \"d\"\n[escrow]\nendpoint = \"http://x\"\n");
        assert!(
            missing.iter().any(|(_, _, m)| m.contains("bucket")),
            "{missing:?}"
        );
    }
}
