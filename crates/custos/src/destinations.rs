//! The notification destinations of the config, each with its secrets read
//! from the environment when the server starts.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use custos_notify::{Destination, MqttConfig, SmtpConfig, SmtpSecurity, WebhookConfig};

use crate::config::{Config, NotifyConfig, NotifyTarget};

fn env_secret(var: &str, what: &str) -> anyhow::Result<String> {
    std::env::var(var).with_context(|| {
        format!("{what}: the environment variable {var} is not set (it holds the secret)")
    })
}

/// The delivery settings of one `[[notify]]` table, with its secrets read
/// from the environment now.
pub fn destination(n: &NotifyConfig) -> anyhow::Result<Destination> {
    let what = format!("[[notify]] {:?}", n.name);
    let timeout = Duration::from_secs(u64::from(n.timeout_seconds));
    let dest = match &n.target {
        NotifyTarget::Webhook { url, secret_env } => Destination::Webhook(WebhookConfig {
            url: url.to_string(),
            secret: env_secret(secret_env, &what)?,
            timeout,
        }),
        NotifyTarget::Mqtt {
            host,
            port,
            username,
            password_env,
        } => Destination::Mqtt(MqttConfig {
            host: host.clone(),
            port: *port,
            username: username.clone(),
            password: password_env
                .as_deref()
                .map(|v| env_secret(v, &what))
                .transpose()?,
            client_id: format!("custos-{}", n.name),
            timeout,
        }),
        NotifyTarget::Email {
            host,
            port,
            security,
            username,
            password_env,
            from,
            to,
        } => Destination::Email(SmtpConfig {
            host: host.clone(),
            port: *port,
            security: match security.as_str() {
                "tls" => SmtpSecurity::Tls,
                "starttls" => SmtpSecurity::StartTls,
                _ => SmtpSecurity::None,
            },
            username: username.clone(),
            password: password_env
                .as_deref()
                .map(|v| env_secret(v, &what))
                .transpose()?,
            from: from.clone(),
            to: to.clone(),
            timeout,
        }),
    };
    dest.validate()
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    Ok(dest)
}

/// Every configured destination, checked, by name.
pub fn destinations(config: &Config) -> anyhow::Result<HashMap<String, Destination>> {
    config
        .notify
        .iter()
        .map(|n| Ok((n.name.clone(), destination(n)?)))
        .collect()
}
