//! `[[notify]]` tables: where alerts and camera states are sent. Secrets
//! are named by environment variables, never written in the file.

use std::fmt;
use std::ops::Range;

use toml_edit::{Item, TableLike};
use url::Url;

use super::checker::{describe, quote, valid_name, Checker, Section};

/// One `[[notify]]` table: where alerts and camera states are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Unique name; the outbox refers to it.
    pub name: String,
    /// Send alerts (`alerts`, default true).
    pub alerts: bool,
    /// Send camera state changes (`camera_states`, default true for MQTT).
    pub camera_states: bool,
    /// Seconds one attempt may take (`timeout_seconds`, default 10).
    pub timeout_seconds: u32,
    pub target: NotifyTarget,
}

/// The kind-specific part of a `[[notify]]` table. Secrets are named by
/// environment variables and read when the server starts.
#[derive(Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    Webhook {
        url: Url,
        secret_env: String,
    },
    Mqtt {
        host: String,
        port: u16,
        username: Option<String>,
        password_env: Option<String>,
    },
    Email {
        host: String,
        port: u16,
        security: String,
        username: Option<String>,
        password_env: Option<String>,
        from: String,
        to: Vec<String>,
    },
}

impl fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A webhook URL may carry a token in its path or query: only its
            // origin is shown.
            NotifyTarget::Webhook { url, secret_env } => f
                .debug_struct("Webhook")
                .field(
                    "url",
                    &format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
                )
                .field("secret_env", secret_env)
                .finish(),
            NotifyTarget::Mqtt {
                host,
                port,
                username,
                password_env,
            } => f
                .debug_struct("Mqtt")
                .field("host", host)
                .field("port", port)
                .field("username", username)
                .field("password_env", password_env)
                .finish(),
            NotifyTarget::Email {
                host,
                port,
                security,
                username,
                password_env,
                from,
                to,
            } => f
                .debug_struct("Email")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("username", username)
                .field("password_env", password_env)
                .field("from", from)
                .field("to", to)
                .finish(),
        }
    }
}

const NOTIFY_KEYS: &[&str] = &[
    "name",
    "type",
    "alerts",
    "camera_states",
    "timeout_seconds",
    "url",
    "secret_env",
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "from",
    "to",
];

impl Checker<'_> {
    /// Every `[[notify]]` table.
    pub(super) fn notify(&mut self, root: &Section<'_>) -> Vec<NotifyConfig> {
        let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
        match root.get("notify") {
            None => {}
            Some((Item::ArrayOfTables(array), _)) => {
                for t in array.iter() {
                    tables.push((t, t.span()));
                }
            }
            Some((item, span)) => self.report(
                span,
                format!(
                    "notify: expected [[notify]] tables, found {}",
                    describe(item)
                ),
            ),
        }
        let mut out: Vec<NotifyConfig> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (table, span) in tables {
            let section = Section {
                table,
                span,
                name: "[[notify]]",
                known: NOTIFY_KEYS,
            };
            self.unknown_keys(&section);
            // Names are checked for clashes even when the rest of a table
            // is wrong, so every problem is reported in one pass.
            if let Some((item, span)) = section.get("name") {
                if let Some(name) = item.as_str() {
                    if !seen.insert(name.to_owned()) {
                        self.report(
                            span,
                            format!("name: another [[notify]] is already called {name:?}"),
                        );
                        continue;
                    }
                }
            }
            if let Some(n) = self.notify_one(&section) {
                out.push(n);
            }
        }
        out
    }

    pub(super) fn notify_one(&mut self, section: &Section<'_>) -> Option<NotifyConfig> {
        let name = self.required_string(section, "name", "a name of a-z, 0-9 and -");
        let name = match name {
            Some(n) if valid_name(&n, 64) => Some(n),
            Some(n) => {
                self.report(
                    section.get("name").and_then(|(_, s)| s),
                    format!(
                        "name: expected 1 to 64 characters of a-z, 0-9 and -, found {}",
                        quote(&n)
                    ),
                );
                None
            }
            None => None,
        };
        let kind = self.required_string(section, "type", "\"webhook\", \"mqtt\" or \"email\"");
        let alerts = self.boolean(section, "alerts").unwrap_or(true);
        let timeout_seconds = self
            .integer(section, "timeout_seconds", 1, 300)
            .unwrap_or(10);
        let target = match kind.as_deref() {
            Some("webhook") => {
                let url = self.required_string(section, "url", "an http:// or https:// URL");
                let url = url.and_then(|u| match Url::parse(&u) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        Some(url)
                    }
                    _ => {
                        self.report(
                            section.get("url").and_then(|(_, s)| s),
                            format!(
                                "url: expected an http:// or https:// URL, found {}",
                                quote(&u)
                            ),
                        );
                        None
                    }
                });
                let secret_env = self.env_name(section, "secret_env");
                if section.get("secret_env").is_none() {
                    self.missing(
                        section,
                        "secret_env",
                        "the environment variable holding the signing secret",
                    );
                }
                Some(NotifyTarget::Webhook {
                    url: url?,
                    secret_env: secret_env?,
                })
            }
            Some("mqtt") => {
                let host = self.required_string(section, "host", "a host name or IP address");
                let port = self.integer(section, "port", 1, 65535).unwrap_or(1883);
                Some(NotifyTarget::Mqtt {
                    host: host?,
                    port,
                    username: self
                        .string(section, "username", "a user name")
                        .map(|(s, _)| s),
                    password_env: self.env_name(section, "password_env"),
                })
            }
            Some("email") => {
                let host = self.required_string(section, "host", "an SMTP server's host name");
                let port = self.integer(section, "port", 1, 65535).unwrap_or(25);
                let security =
                    match self.string(section, "security", "\"none\", \"starttls\" or \"tls\"") {
                        Some((s, _)) if ["none", "starttls", "tls"].contains(&s.as_str()) => s,
                        Some((s, span)) => {
                            self.report(
                                span,
                                format!(
                                "security: expected \"none\", \"starttls\" or \"tls\", found {}",
                                quote(&s)
                            ),
                            );
                            "none".to_owned()
                        }
                        None => "starttls".to_owned(),
                    };
                let from = self.required_string(section, "from", "the sender's address");
                let mut to = Vec::new();
                match section.get("to") {
                    Some((item, span)) => match item.as_array() {
                        Some(a) if !a.is_empty() && a.iter().all(|v| v.as_str().is_some()) => {
                            to = a
                                .iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect();
                        }
                        _ => self.report(
                            span,
                            format!(
                                "to: expected a non-empty array of addresses, found {}",
                                describe(item)
                            ),
                        ),
                    },
                    None => self.missing(section, "to", "an array of addresses"),
                }
                let username = self
                    .string(section, "username", "a user name")
                    .map(|(s, _)| s);
                let password_env = self.env_name(section, "password_env");
                if username.is_some() != password_env.is_some() {
                    self.report(
                        section.span.clone(),
                        "[[notify]]: an SMTP login needs both username and password_env".into(),
                    );
                }
                Some(NotifyTarget::Email {
                    host: host?,
                    port,
                    security,
                    username,
                    password_env,
                    from: from?,
                    to,
                })
            }
            Some(other) => {
                self.report(
                    section.get("type").and_then(|(_, s)| s),
                    format!(
                        "type: expected \"webhook\", \"mqtt\" or \"email\", found {}",
                        quote(other)
                    ),
                );
                None
            }
            None => None,
        };
        let target = target?;
        let camera_states = self
            .boolean(section, "camera_states")
            .unwrap_or(matches!(target, NotifyTarget::Mqtt { .. }));
        Some(NotifyConfig {
            name: name?,
            alerts,
            camera_states,
            timeout_seconds,
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    #[test]
    fn hours_alerts_and_notify_destinations() {
        let c = valid(
            "data_dir = \"d\"\n[hours]\ntime_zone = \"Europe/Berlin\"\nmon = \"08:00-17:00\"\n\
             closed = [\"2026-12-25\"]\n[alerts]\ncheck_seconds = 5\n\
             [[notify]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"https://h/x?token=abc\"\nsecret_env = \"S\"\n\
             [[notify]]\nname = \"mq\"\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\n\
             [[notify]]\nname = \"mail\"\ntype = \"email\"\nhost = \"smtp\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n",
        );
        assert!(c.hours.is_some());
        assert_eq!(c.alerts.check_seconds, 5);
        assert_eq!(c.alerts.disk_full_percent, 90);
        let names: Vec<&str> = c.notify.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ops", "mq", "mail"]);
        // MQTT carries camera states by default, the others do not.
        let states: Vec<bool> = c.notify.iter().map(|n| n.camera_states).collect();
        assert_eq!(states, [false, true, false]);
        // A webhook URL's path and query may hold a token: never shown.
        let shown = format!("{c:?}");
        assert!(!shown.contains("token=abc"), "{shown}");

        let bad = "data_dir = \"d\"\n[hours]\ntime_zone = \"Mars/Olympus\"\n\
                   [[notify]]\nname = \"x\"\ntype = \"pigeon\"\n\
                   [[notify]]\nname = \"y\"\ntype = \"webhook\"\nurl = \"ftp://h\"\n\
                   [[notify]]\nname = \"y\"\ntype = \"mqtt\"\nhost = \"h\"\n";
        let p = problems(bad);
        let all: Vec<String> = p.iter().map(|(l, c, m)| format!("{l}:{c} {m}")).collect();
        let text = all.join("\n");
        assert!(text.contains("Mars/Olympus"), "{text}");
        assert!(text.contains("pigeon"), "{text}");
        assert!(text.contains("ftp://h"), "{text}");
        assert!(text.contains("secret_env"), "{text}");
        assert!(text.contains("already called \"y\""), "{text}");
    }
}
