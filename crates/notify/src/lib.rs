//! Delivering notifications to webhooks, MQTT brokers and SMTP servers.
//!
//! This crate sends **one** [`Message`] to **one** [`Destination`] and reports
//! either [`Delivered`] or a classified [`DeliveryError`]. It holds no state:
//! the persistent outbox, the retry schedule's bookkeeping and the choice of
//! what to announce belong to the caller, which uses
//! [`DeliveryError::is_permanent`] and [`retry_delay`] to decide what to do
//! next.
//!
//! Everything here is blocking and meant to run on a dedicated delivery
//! thread; every network operation is bounded by the destination's `timeout`.
//!
//! * Webhooks: `POST` of a JSON [`WebhookPayload`], signed with HMAC-SHA256
//!   (see [`sign`] and [`verify_signature`] for receivers).
//! * MQTT: QoS 1 publish to `custos/<site>/alerts` or, retained, to
//!   `custos/<site>/cameras/<camera>/state`; success means the broker's PUBACK.
//! * E-mail: one plain-text message over SMTP (plain, STARTTLS or TLS).
//!
//! Secrets (webhook secrets, passwords) never appear in [`Destination::describe`],
//! in `Debug` output or in errors.

#![warn(missing_docs)]

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod email;
mod mqtt;
mod webhook;

pub use webhook::{sign, verify_signature};

/// Placeholder shown instead of a secret in `Debug` output.
const REDACTED: &str = "<redacted>";

/// What is being announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Outbox id: receivers de-duplicate on it (a message may be delivered
    /// more than once when an acknowledgement is lost).
    pub id: i64,
    /// Site name, `[a-z0-9-]+`.
    pub site: String,
    /// What kind of fact this is.
    pub kind: MessageKind,
    /// One line, e.g. `tamper.covered on stacks (open)`.
    pub subject: String,
    /// The alert or camera state as JSON.
    pub body: serde_json::Value,
}

/// The kind of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// An alert was opened, changed or closed.
    Alert,
    /// A camera's state changed (e.g. connected, lost).
    CameraState {
        /// The camera's name.
        camera: String,
    },
}

/// The JSON document sent as a webhook body and as an MQTT payload.
///
/// ```json
/// {"id":42,"site":"archive-1","kind":"camera_state","camera":"stacks",
///  "subject":"stacks lost","body":{...}}
/// ```
///
/// `camera` is present only when `kind` is `camera_state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The outbox id; the same id may arrive more than once.
    pub id: i64,
    /// The site that raised it.
    pub site: String,
    /// `alert` or `camera_state`.
    pub kind: PayloadKind,
    /// The camera, for `camera_state` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// One-line summary.
    pub subject: String,
    /// The alert or camera state itself.
    pub body: serde_json::Value,
}

/// The `kind` field of a [`WebhookPayload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// `"alert"`
    Alert,
    /// `"camera_state"`
    CameraState,
}

impl PayloadKind {
    /// The JSON spelling: `alert` or `camera_state`.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Alert => "alert",
            PayloadKind::CameraState => "camera_state",
        }
    }
}

impl From<&Message> for WebhookPayload {
    fn from(msg: &Message) -> Self {
        let (kind, camera) = match &msg.kind {
            MessageKind::Alert => (PayloadKind::Alert, None),
            MessageKind::CameraState { camera } => (PayloadKind::CameraState, Some(camera.clone())),
        };
        WebhookPayload {
            id: msg.id,
            site: msg.site.clone(),
            kind,
            camera,
            subject: msg.subject.clone(),
            body: msg.body.clone(),
        }
    }
}

impl Message {
    /// The payload sent to webhooks and MQTT brokers.
    pub fn payload(&self) -> WebhookPayload {
        WebhookPayload::from(self)
    }

    /// Checks the fields that end up in MQTT topics and mail headers.
    fn validate(&self) -> Result<(), String> {
        if self.site.is_empty()
            || !self
                .site
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("site {:?} is not [a-z0-9-]+", self.site));
        }
        if let MessageKind::CameraState { camera } = &self.kind {
            // The camera name becomes one MQTT topic level: wildcards or a
            // separator would publish somewhere else.
            if camera.is_empty()
                || camera
                    .chars()
                    .any(|c| matches!(c, '/' | '+' | '#') || c.is_control())
            {
                return Err(format!("camera name {camera:?} cannot be a topic level"));
            }
        }
        Ok(())
    }
}

/// Where to POST webhooks.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Shared secret for the `X-Custos-Signature` HMAC.
    pub secret: String,
    /// Bound on the whole request (connect, send, response).
    pub timeout: Duration,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            // The URL may carry a token in its user info or query.
            .field("url", &webhook::redacted_url(&self.url))
            .field("secret", &REDACTED)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An MQTT broker (MQTT 3.1.1 over plain TCP).
#[derive(Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker host name or IP address.
    pub host: String,
    /// Broker port, usually 1883.
    pub port: u16,
    /// User name, if the broker requires one.
    pub username: Option<String>,
    /// Password; requires `username`.
    pub password: Option<String>,
    /// MQTT client identifier; must be unique among the broker's clients.
    pub client_id: String,
    /// Bound on connect + publish + PUBACK.
    pub timeout: Duration,
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a trusted local relay only).
    None,
    /// Plain connection upgraded with STARTTLS; fails if the server lacks it.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// An SMTP server and the addresses of one e-mail.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Server host name (also used to check its TLS certificate).
    pub host: String,
    /// Server port: 25, 587 (STARTTLS) or 465 (TLS) usually.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// User name for SMTP AUTH, if any.
    pub username: Option<String>,
    /// Password for SMTP AUTH; requires `username`.
    pub password: Option<String>,
    /// `From:` address, e.g. `Custos <custos@example.org>`.
    pub from: String,
    /// Recipients; at least one.
    pub to: Vec<String>,
    /// Bound on each SMTP command (connect, EHLO, DATA, ...).
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One place a notification can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// HTTP(S) POST of signed JSON.
    Webhook(WebhookConfig),
    /// Publish to an MQTT broker.
    Mqtt(MqttConfig),
    /// E-mail through an SMTP server.
    Email(SmtpConfig),
}

impl Destination {
    /// A short human description without secrets, e.g.
    /// `webhook https://host/path`, `mqtt 127.0.0.1:1883`,
    /// `email smtp 127.0.0.1:2525 to a@b`.
    pub fn describe(&self) -> String {
        match self {
            Destination::Webhook(c) => format!("webhook {}", webhook::redacted_url(&c.url)),
            Destination::Mqtt(c) => format!("mqtt {}", host_port(&c.host, c.port)),
            Destination::Email(c) => {
                let scheme = match c.security {
                    SmtpSecurity::None => "smtp",
                    SmtpSecurity::StartTls => "smtp+starttls",
                    SmtpSecurity::Tls => "smtps",
                };
                format!(
                    "email {scheme} {} to {}",
                    host_port(&c.host, c.port),
                    c.to.join(", ")
                )
            }
        }
    }

    /// Checks the configuration without touching the network: the URL parses
    /// and is http/https, addresses parse, there is a recipient, a password
    /// comes with a user name, the timeout is not zero, etc.
    pub fn validate(&self) -> Result<(), DeliveryError> {
        let problem = match self {
            Destination::Webhook(c) => webhook::validate(c),
            Destination::Mqtt(c) => mqtt::validate(c),
            Destination::Email(c) => email::validate(c),
        };
        problem.map_err(|reason| DeliveryError::InvalidConfig {
            destination: self.describe(),
            reason,
        })
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A successful delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// What the receiver said, e.g. `HTTP 200`, `PUBACK`, `250 OK queued as …`.
    pub detail: String,
}

/// Why a delivery failed. Every variant names the destination (as
/// [`Destination::describe`]) and never contains a secret.
#[derive(thiserror::Error, Debug)]
pub enum DeliveryError {
    /// The destination's configuration is unusable; retrying cannot help.
    #[error("{destination}: invalid configuration: {reason}")]
    InvalidConfig {
        /// The destination.
        destination: String,
        /// What is wrong.
        reason: String,
    },
    /// The message cannot be expressed for this destination (bad site or
    /// camera name, too large); retrying cannot help.
    #[error("{destination}: invalid message {id}: {reason}")]
    InvalidMessage {
        /// The destination.
        destination: String,
        /// The message's outbox id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
    /// No answer within the configured timeout.
    #[error("{destination}: timed out after {timeout:?}: {cause}")]
    Timeout {
        /// The destination.
        destination: String,
        /// The configured timeout.
        timeout: Duration,
        /// Which step timed out.
        cause: String,
    },
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    #[error("{destination}: connection failed: {cause}")]
    Connection {
        /// The destination.
        destination: String,
        /// The underlying error, as text.
        cause: String,
    },
    /// The webhook answered with a non-2xx, non-3xx status.
    #[error("{destination}: HTTP {status}: {body}")]
    HttpStatus {
        /// The destination.
        destination: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, on one line.
        body: String,
    },
    /// The webhook answered with a redirect, which is never followed (the
    /// signed request must not go somewhere the operator did not configure).
    #[error("{destination}: HTTP {status} redirect to {location:?} not followed; configure the final URL")]
    Redirect {
        /// The destination.
        destination: String,
        /// The HTTP status code (3xx).
        status: u16,
        /// The `Location` header, if any.
        location: String,
    },
    /// The MQTT broker refused the connection (CONNACK with an error code).
    #[error("{destination}: broker refused the connection: {reason}")]
    MqttRefused {
        /// The destination.
        destination: String,
        /// The CONNACK return code, readable.
        reason: String,
        /// Whether the refusal is about configuration (credentials, client
        /// id, protocol) rather than a temporarily unavailable broker.
        permanent: bool,
    },
    /// The SMTP server rejected the message with a 4xx or 5xx reply.
    #[error("{destination}: SMTP server replied {code}: {message}")]
    SmtpRejected {
        /// The destination.
        destination: String,
        /// The reply code, e.g. 550.
        code: u16,
        /// The reply text.
        message: String,
    },
    /// The peer spoke the protocol wrongly or something else went wrong
    /// mid-exchange.
    #[error("{destination}: protocol error: {cause}")]
    Protocol {
        /// The destination.
        destination: String,
        /// What happened.
        cause: String,
        /// Whether retrying cannot help.
        permanent: bool,
    },
}

impl DeliveryError {
    /// Whether retrying the same message to the same destination cannot
    /// succeed without a configuration change: invalid configuration or
    /// message, HTTP 4xx except 408 and 429, redirects, SMTP 5xx, MQTT
    /// refusals for credentials/client id/protocol. Network errors,
    /// timeouts, HTTP 5xx, 408, 429 and SMTP 4xx are transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::InvalidConfig { .. }
            | DeliveryError::InvalidMessage { .. }
            | DeliveryError::Redirect { .. } => true,
            DeliveryError::Timeout { .. } | DeliveryError::Connection { .. } => false,
            DeliveryError::HttpStatus { status, .. } => {
                (400..500).contains(status) && *status != 408 && *status != 429
            }
            DeliveryError::MqttRefused { permanent, .. }
            | DeliveryError::Protocol { permanent, .. } => *permanent,
            DeliveryError::SmtpRejected { code, .. } => *code >= 500,
        }
    }

    /// The destination the error is about, as [`Destination::describe`].
    pub fn destination(&self) -> &str {
        match self {
            DeliveryError::InvalidConfig { destination, .. }
            | DeliveryError::InvalidMessage { destination, .. }
            | DeliveryError::Timeout { destination, .. }
            | DeliveryError::Connection { destination, .. }
            | DeliveryError::HttpStatus { destination, .. }
            | DeliveryError::Redirect { destination, .. }
            | DeliveryError::MqttRefused { destination, .. }
            | DeliveryError::SmtpRejected { destination, .. }
            | DeliveryError::Protocol { destination, .. } => destination,
        }
    }
}

/// Delivers `msg` to `dest`, once. Validates both first (an invalid one is
/// a permanent error); every network step is bounded by the destination's
/// timeout.
pub fn deliver(dest: &Destination, msg: &Message) -> Result<Delivered, DeliveryError> {
    dest.validate()?;
    msg.validate()
        .map_err(|reason| DeliveryError::InvalidMessage {
            destination: dest.describe(),
            id: msg.id,
            reason,
        })?;
    let result = match dest {
        Destination::Webhook(c) => webhook::deliver(c, &dest.describe(), msg),
        Destination::Mqtt(c) => mqtt::deliver(c, &dest.describe(), msg),
        Destination::Email(c) => email::deliver(c, &dest.describe(), msg),
    };
    match &result {
        Ok(d) => {
            tracing::debug!(id = msg.id, destination = %dest.describe(), detail = %d.detail, "notification delivered")
        }
        Err(e) => tracing::debug!(
            id = msg.id,
            permanent = e.is_permanent(),
            "notification failed: {e}"
        ),
    }
    result
}

/// First retry delay.
const RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// How long to wait before retrying after failed attempt number `attempt`
/// (1-based): 5 s, 10 s, 20 s, … doubling, capped at 1 h. Deterministic; the
/// caller may add jitter. `attempt` 0 is treated as 1.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1);
    // 2^10 × 5 s already exceeds the cap; stopping there avoids overflow.
    if doublings >= 10 {
        return RETRY_CAP;
    }
    RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_CAP)
}

/// Makes remote text (an HTTP body, an SMTP reply) safe for one log line.
fn one_line(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_destinations() -> Vec<Destination> {
        vec![
            Destination::Webhook(WebhookConfig {
                url: "https://user:pw-in-url@hooks.example/path/x?token=tok-in-query#frag".into(),
                secret: "s3cr3t-webhook".into(),
                timeout: Duration::from_secs(5),
            }),
            Destination::Mqtt(MqttConfig {
                host: "127.0.0.1".into(),
                port: 1883,
                username: Some("custos".into()),
                password: Some("s3cr3t-mqtt".into()),
                client_id: "custos-site".into(),
                timeout: Duration::from_secs(5),
            }),
            Destination::Email(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 2525,
                security: SmtpSecurity::None,
                username: Some("custos".into()),
                password: Some("s3cr3t-smtp".into()),
                from: "custos@example.org".into(),
                to: vec!["a@b.example".into()],
                timeout: Duration::from_secs(5),
            }),
        ]
    }

    const SECRETS: [&str; 5] = [
        "s3cr3t-webhook",
        "s3cr3t-mqtt",
        "s3cr3t-smtp",
        "pw-in-url",
        "tok-in-query",
    ];

    #[test]
    fn retry_delay_doubles_from_five_seconds_and_caps_at_an_hour() {
        let secs: Vec<u64> = (1..=12).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(
            secs,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(retry_delay(0), Duration::from_secs(5));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn describe_names_the_destination_without_secrets() {
        let described: Vec<String> = all_destinations().iter().map(|d| d.describe()).collect();
        assert_eq!(
            described,
            [
                "webhook https://hooks.example/path/x",
                "mqtt 127.0.0.1:1883",
                "email smtp 127.0.0.1:2525 to a@b.example",
            ]
        );
        for text in described {
            for secret in SECRETS {
                assert!(!text.contains(secret), "{text} contains {secret}");
            }
        }
    }

    #[test]
    fn debug_of_configs_redacts_passwords_and_secrets() {
        for dest in all_destinations() {
            let debug = format!("{dest:?} {dest:#?}");
            for secret in SECRETS {
                assert!(!debug.contains(secret), "{debug} contains {secret}");
            }
            assert!(debug.contains(REDACTED), "{debug}");
        }
        // A missing password stays visibly missing.
        let mqtt = MqttConfig {
            host: "h".into(),
            port: 1,
            username: None,
            password: None,
            client_id: "c".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(format!("{mqtt:?}").contains("password: None"));
    }

    #[test]
    fn valid_destinations_pass_validation() {
        for dest in all_destinations() {
            dest.validate().unwrap();
        }
    }

    #[test]
    fn invalid_configurations_are_permanent_errors_without_secrets() {
        let mut bad = Vec::new();
        for (i, dest) in all_destinations().into_iter().enumerate() {
            let mut d = dest.clone();
            match &mut d {
                Destination::Webhook(c) => c.url = "ftp://u:s3cr3t-webhook@x.example/".into(),
                Destination::Mqtt(c) => c.username = None,
                Destination::Email(c) => c.to.clear(),
            }
            bad.push(d);
            let mut d = dest;
            match &mut d {
                Destination::Webhook(c) => c.timeout = Duration::ZERO,
                Destination::Mqtt(c) => c.client_id.clear(),
                Destination::Email(c) => c.from = format!("not an address {i}"),
            }
            bad.push(d);
        }
        for d in bad {
            let err = d.validate().unwrap_err();
            assert!(err.is_permanent());
            assert!(
                matches!(err, DeliveryError::InvalidConfig { .. }),
                "{err:?}"
            );
            let text = format!("{err} {err:?}");
            for secret in SECRETS {
                assert!(!text.contains(secret), "{text} contains {secret}");
            }
        }
    }

    #[test]
    fn classification_follows_status_codes() {
        let http = |status| DeliveryError::HttpStatus {
            destination: "d".into(),
            status,
            body: String::new(),
        };
        assert!(http(400).is_permanent());
        assert!(http(404).is_permanent());
        assert!(http(410).is_permanent());
        assert!(!http(408).is_permanent());
        assert!(!http(429).is_permanent());
        assert!(!http(500).is_permanent());
        assert!(!http(503).is_permanent());
        let smtp = |code| DeliveryError::SmtpRejected {
            destination: "d".into(),
            code,
            message: String::new(),
        };
        assert!(smtp(550).is_permanent());
        assert!(!smtp(451).is_permanent());
    }

    #[test]
    fn messages_with_unsafe_names_are_rejected() {
        let mut msg = Message {
            id: 1,
            site: "archive-1".into(),
            kind: MessageKind::CameraState {
                camera: "stacks".into(),
            },
            subject: "s".into(),
            body: serde_json::json!({}),
        };
        msg.validate().unwrap();
        msg.kind = MessageKind::CameraState {
            camera: "a/b".into(),
        };
        assert!(msg.validate().is_err());
        msg.kind = MessageKind::CameraState { camera: "#".into() };
        assert!(msg.validate().is_err());
        msg.kind = MessageKind::Alert;
        msg.site = "Archive".into();
        assert!(msg.validate().is_err());
    }

    #[test]
    fn payload_json_has_the_documented_shape() {
        let msg = Message {
            id: 7,
            site: "s".into(),
            kind: MessageKind::Alert,
            subject: "x".into(),
            body: serde_json::json!({"a": 1}),
        };
        let json = serde_json::to_value(msg.payload()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id":7,"site":"s","kind":"alert","subject":"x","body":{"a":1}})
        );
        let msg = Message {
            kind: MessageKind::CameraState { camera: "c".into() },
            ..msg
        };
        let json = serde_json::to_value(msg.payload()).unwrap();
        assert_eq!(json["kind"], "camera_state");
        assert_eq!(json["camera"], "c");
    }

    #[test]
    fn one_line_strips_controls_and_truncates() {
        assert_eq!(one_line("a\r\nb", 10), "a  b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
