//! `[central]` (the central office the site enrols with) and `[[witness]]`
//! tables (independent witnesses of the site's log, each with its key
//! pinned here).

use std::ops::Range;

use custos_ledger::cosignature::CosignerKey;
use custos_site::uplink::{CentralOffice, ConfiguredWitness, CENTRAL};
use toml_edit::{Item, TableLike};
use url::Url;

use super::checker::{describe, quote, valid_name, Checker, Section};

const CENTRAL_KEYS: &[&str] = &[
    "url",
    "enrol_code",
    "report_seconds",
    "max_kbps",
    "tls_fingerprint",
];
const WITNESS_KEYS: &[&str] = &["name", "url", "key"];

const URL_EXPECTED: &str = "an http:// or https:// URL without a user name or password";

impl Checker<'_> {
    /// An http(s) URL with a host and no credentials, under `key`.
    pub(super) fn http_url(&mut self, section: &Section<'_>, key: &str) -> Option<String> {
        let text = self.required_string(section, key, URL_EXPECTED)?;
        match Url::parse(text.trim()) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.username().is_empty()
                    && url.password().is_none() =>
            {
                Some(url.as_str().trim_end_matches('/').to_owned())
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                self.report(
                    section.get(key).and_then(|(_, s)| s),
                    format!("{key}: expected {URL_EXPECTED}, found a URL with credentials in it"),
                );
                None
            }
            _ => {
                self.report(
                    section.get(key).and_then(|(_, s)| s),
                    format!("{key}: expected {URL_EXPECTED}, found {}", quote(&text)),
                );
                None
            }
        }
    }

    /// `[central]`.
    pub(super) fn central(&mut self, root: &Section<'_>) -> Option<CentralOffice> {
        let section = self.sub_table(root, "central", "[central]", CENTRAL_KEYS)?;
        let url = self.http_url(&section, "url");
        // The code is a secret: messages about it never repeat it.
        let enrol_code = match section.get("enrol_code") {
            None => None,
            Some((item, span)) => match item.as_str() {
                Some(code) if !code.trim().is_empty() => Some(code.trim().to_owned()),
                Some(_) => {
                    self.report(
                        span,
                        "enrol_code: expected the enrolment code the central office gave, found \
                         an empty string"
                            .into(),
                    );
                    None
                }
                None => {
                    self.report(
                        span,
                        format!(
                            "enrol_code: expected the enrolment code the central office gave, \
                             as a string, found {}",
                            kind_only(item)
                        ),
                    );
                    None
                }
            },
        };
        let report_seconds = self
            .integer::<u32>(&section, "report_seconds", 5, 3600)
            .unwrap_or(custos_site::uplink::DEFAULT_REPORT_SECONDS);
        // 8 kbit/s still carries a report a minute and a trickle of entries.
        let max_kbps = self.integer::<u32>(&section, "max_kbps", 8, 10_000_000);
        let tls_fingerprint = section.get("tls_fingerprint").and_then(|(item, span)| {
            match item.as_str().map(custos_media::tls_pin::Fingerprint::parse) {
                Some(Ok(pin)) => Some(pin),
                Some(Err(e)) => {
                    self.report(span, format!("tls_fingerprint: {e}"));
                    None
                }
                None => {
                    self.report(
                        span,
                        format!(
                            "tls_fingerprint: expected the centre's certificate fingerprint as \
                             a string, found {}",
                            kind_only(item)
                        ),
                    );
                    None
                }
            }
        });
        Some(CentralOffice {
            url: url?,
            enrol_code,
            report_seconds,
            max_kbps,
            tls_fingerprint,
        })
    }

    /// Every `[[witness]]` table.
    pub(super) fn witnesses(&mut self, root: &Section<'_>) -> Vec<ConfiguredWitness> {
        let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
        match root.get("witness") {
            None => {}
            Some((Item::ArrayOfTables(array), _)) => {
                for t in array.iter() {
                    tables.push((t, t.span()));
                }
            }
            Some((item, span)) => self.report(
                span,
                format!(
                    "witness: expected [[witness]] tables, found {}",
                    describe(item)
                ),
            ),
        }
        let mut out: Vec<ConfiguredWitness> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (table, span) in tables {
            let section = Section {
                table,
                span,
                name: "[[witness]]",
                known: WITNESS_KEYS,
            };
            self.unknown_keys(&section);
            let expected = "1 to 64 characters of a-z, 0-9 and -, other than \"central\"";
            let name = match self.required_string(&section, "name", expected) {
                Some(n) if valid_name(&n, 64) && n != CENTRAL => {
                    if seen.insert(n.clone()) {
                        Some(n)
                    } else {
                        self.report(
                            section.get("name").and_then(|(_, s)| s),
                            format!("name: another [[witness]] is already called {n:?}"),
                        );
                        None
                    }
                }
                Some(n) => {
                    self.report(
                        section.get("name").and_then(|(_, s)| s),
                        format!(
                            "name: expected {expected} (the central office's witness is pinned \
                             at enrolment), found {}",
                            quote(&n)
                        ),
                    );
                    None
                }
                None => None,
            };
            let url = self.http_url(&section, "url");
            let key_expected = "the witness's key, \"<name>+<hex key ID>+<base64 key>\"";
            let key = self
                .required_string(&section, "key", key_expected)
                .and_then(|k| match CosignerKey::parse(k.trim()) {
                    Ok(key) => Some(key),
                    Err(e) => {
                        self.report(
                            section.get("key").and_then(|(_, s)| s),
                            format!("key: expected {key_expected}: {e}"),
                        );
                        None
                    }
                });
            if let (Some(name), Some(url), Some(key)) = (name, url, key) {
                out.push(ConfiguredWitness { name, url, key });
            }
        }
        out
    }
}

/// What kind of value `item` is, without its text.
fn kind_only(item: &Item) -> &'static str {
    match item {
        Item::Value(v) if v.is_integer() => "an integer",
        Item::Value(v) if v.is_float() => "a float",
        Item::Value(v) if v.is_bool() => "a boolean",
        Item::Value(v) if v.is_array() => "an array",
        Item::Value(_) => "another value",
        _ => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    const KEY: &str =
        "witness.custos.example/central+ac4ae60a+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

    #[test]
    fn central_and_witnesses_are_read_and_checked_where_written() {
        let c = valid(&format!(
            "data_dir = \"d\"\n[central]\nurl = \"https://central.example/\"\nenrol_code = \"c0de-123\"\n\
             [[witness]]\nname = \"audit\"\nurl = \"https://w.example/w\"\nkey = \"{KEY}\"\n"
        ));
        let central = c.central.as_ref().expect("central");
        assert_eq!(central.url, "https://central.example");
        assert_eq!(central.enrol_code.as_deref(), Some("c0de-123"));
        assert!(
            !format!("{c:?}").contains("c0de-123"),
            "the code is not shown"
        );
        assert_eq!(c.witnesses.len(), 1);
        assert_eq!(c.witnesses[0].key.to_string(), KEY);
        // Without a code: valid (the site may be enrolled already).
        let c = valid("data_dir = \"d\"\n[central]\nurl = \"http://10.0.0.1:8443\"\n");
        let central = c.central.expect("central");
        assert_eq!(central.enrol_code, None);
        // Reports every minute and no cap unless said.
        assert_eq!((central.report_seconds, central.max_kbps), (60, None));
        let c = valid(
            "data_dir = \"d\"\n[central]\nurl = \"http://c\"\nreport_seconds = 10\nmax_kbps = 256\n",
        );
        let central = c.central.expect("central");
        assert_eq!((central.report_seconds, central.max_kbps), (10, Some(256)));
        let text =
            "data_dir = \"d\"\n[central]\nurl = \"http://c\"\nreport_seconds = 1\nmax_kbps = 2.5\n";
        let shown: Vec<String> = problems(text)
            .iter()
            .map(|(l, c, m)| format!("{l}:{c} {m}"))
            .collect();
        assert_eq!(
            shown,
            [
                "4:18 report_seconds: expected an integer from 5 to 3600, found integer 1",
                "5:12 max_kbps: expected an integer from 8 to 10000000, found float 2.5"
            ]
        );

        let text = format!(
            "data_dir = \"d\"\n[central]\nurl = \"https://user:pw@central.example\"\nenrol_code = 7\n\
             [[witness]]\nname = \"central\"\nurl = \"ftp://w\"\nkey = \"{KEY}\"\n\
             [[witness]]\nname = \"b\"\nurl = \"https://w\"\nkey = \"nope\"\ncolour = 1\n\
             [[witness]]\nname = \"b\"\nurl = \"https://w\"\nkey = \"{KEY}\"\n"
        );
        let p = problems(&text);
        let shown: Vec<String> = p.iter().map(|(l, c, m)| format!("{l}:{c} {m}")).collect();
        assert_eq!(
            positions(&text),
            vec![(3, 7), (4, 14), (6, 8), (7, 7), (12, 7), (13, 1), (15, 8)],
            "{shown:#?}"
        );
        assert!(
            !shown[0].contains("pw@"),
            "a URL's password is not repeated: {}",
            shown[0]
        );
        assert!(
            shown[1].contains("as a string, found an integer"),
            "{}",
            shown[1]
        );
        assert!(shown[2].contains("other than \"central\""), "{}", shown[2]);
        assert!(
            shown[4].starts_with("12:7 key: expected the witness's key"),
            "{}",
            shown[4]
        );
        assert!(
            shown[5].contains("unknown key \"colour\" in [[witness]]"),
            "{}",
            shown[5]
        );
        assert!(shown[6].contains("already called \"b\""), "{}", shown[6]);
    }
}
