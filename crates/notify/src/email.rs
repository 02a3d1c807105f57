//! E-mail: one plain-text message per notification, over SMTP.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use crate::{one_line, Delivered, DeliveryError, Message, SmtpConfig, SmtpSecurity};

/// `X-Custos-Delivery: <outbox id>`, so mail filters can de-duplicate too.
#[derive(Clone)]
struct XCustosDelivery(String);

impl Header for XCustosDelivery {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Custos-Delivery")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

pub(crate) fn validate(c: &SmtpConfig) -> Result<(), String> {
    if c.host.trim().is_empty() {
        return Err("host is empty".into());
    }
    if c.port == 0 {
        return Err("port is 0".into());
    }
    c.from
        .parse::<Mailbox>()
        .map_err(|e| format!("from address {:?} does not parse: {e}", c.from))?;
    if c.to.is_empty() {
        return Err("no recipient".into());
    }
    for to in &c.to {
        to.parse::<Mailbox>()
            .map_err(|e| format!("recipient {to:?} does not parse: {e}"))?;
    }
    if c.username.is_some() != c.password.is_some() {
        return Err("username and password go together".into());
    }
    if c.timeout.is_zero() {
        return Err("timeout is zero".into());
    }
    Ok(())
}

/// The subject line: `[custos <site>] <subject>`, on one line.
pub(crate) fn subject(msg: &Message) -> String {
    format!("[custos {}] {}", msg.site, one_line(&msg.subject, 900))
}

/// The plain-text body: the payload's fields as `key: value` lines (nested
/// fields as dotted paths), then the payload as JSON for programs.
pub(crate) fn text_body(msg: &Message) -> String {
    let payload = msg.payload();
    let mut lines = vec![
        ("id".to_string(), payload.id.to_string()),
        ("site".to_string(), payload.site.clone()),
        ("kind".to_string(), payload.kind.as_str().to_string()),
    ];
    if let Some(camera) = &payload.camera {
        lines.push(("camera".to_string(), camera.clone()));
    }
    lines.push(("subject".to_string(), payload.subject.clone()));
    flatten("body", &payload.body, &mut lines);

    let mut text = format!("{}\n\n", one_line(&msg.subject, 900));
    for (key, value) in lines {
        text.push_str(&key);
        text.push_str(": ");
        text.push_str(&one_line(&value, 2000));
        text.push('\n');
    }
    text.push_str("\nJSON:\n");
    // Serialising a Value cannot fail; an empty string would only lose the copy.
    text.push_str(&serde_json::to_string_pretty(&payload).unwrap_or_default());
    text.push('\n');
    text
}

fn flatten(path: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                flatten(&format!("{path}.{key}"), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((path.to_string(), s.clone())),
        other => out.push((path.to_string(), other.to_string())),
    }
}

pub(crate) fn deliver(
    c: &SmtpConfig,
    destination: &str,
    msg: &Message,
) -> Result<Delivered, DeliveryError> {
    let invalid_config = |reason: String| DeliveryError::InvalidConfig {
        destination: destination.to_string(),
        reason,
    };
    let from: Mailbox = c
        .from
        .parse()
        .map_err(|e| invalid_config(format!("from address does not parse: {e}")))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(subject(msg))
        // A fresh Message-ID (uses the host name): RFC 5322 wants one.
        .message_id(None)
        .header(ContentType::TEXT_PLAIN)
        .header(XCustosDelivery(msg.id.to_string()));
    for to in &c.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| invalid_config(format!("recipient {to:?} does not parse: {e}")))?;
        builder = builder.to(mailbox);
    }
    let email = builder
        .body(text_body(msg))
        .map_err(|e| DeliveryError::InvalidMessage {
            destination: destination.to_string(),
            id: msg.id,
            reason: e.to_string(),
        })?;

    let tls = match c.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls | SmtpSecurity::Tls => {
            let params = TlsParameters::new(c.host.clone())
                .map_err(|e| invalid_config(format!("TLS setup: {e}")))?;
            if c.security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                // Required, not Opportunistic: never fall back to plain text.
                Tls::Required(params)
            }
        }
    };
    let mut transport = SmtpTransport::builder_dangerous(c.host.clone())
        .port(c.port)
        .tls(tls)
        .timeout(Some(c.timeout));
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = transport.build();

    match transport.send(&email) {
        Ok(response) => {
            let text: Vec<&str> = response.message().collect();
            Ok(Delivered {
                detail: one_line(&format!("{} {}", response.code(), text.join(" ")), 300),
            })
        }
        Err(e) => Err(smtp_error(c, destination, &e)),
    }
}

fn smtp_error(
    c: &SmtpConfig,
    destination: &str,
    e: &lettre::transport::smtp::Error,
) -> DeliveryError {
    let destination = destination.to_string();
    let cause = one_line(&e.to_string(), 500);
    if e.is_timeout() {
        return DeliveryError::Timeout {
            destination,
            timeout: c.timeout,
            cause,
        };
    }
    if let Some(code) = e.status() {
        let message = std::error::Error::source(e)
            .map(|s| one_line(&s.to_string(), 500))
            .unwrap_or_default();
        return DeliveryError::SmtpRejected {
            destination,
            code: u16::from(code),
            message,
        };
    }
    if e.is_client() {
        // lettre's own refusals: STARTTLS missing, no usable AUTH mechanism.
        return DeliveryError::Protocol {
            destination,
            cause,
            permanent: true,
        };
    }
    if e.is_response() {
        return DeliveryError::Protocol {
            destination,
            cause,
            permanent: false,
        };
    }
    DeliveryError::Connection { destination, cause }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageKind;

    #[test]
    fn body_lists_fields_then_json() {
        let msg = Message {
            id: 9,
            site: "s".into(),
            kind: MessageKind::CameraState {
                camera: "door".into(),
            },
            subject: "door lost\r\nBcc: x@y".into(),
            body: serde_json::json!({"state": "lost", "since": {"ts": 5}, "tags": ["a"]}),
        };
        let text = text_body(&msg);
        for line in [
            "id: 9\n",
            "kind: camera_state\n",
            "camera: door\n",
            "body.state: lost\n",
            "body.since.ts: 5\n",
            "body.tags[0]: a\n",
            "\"camera\": \"door\"",
        ] {
            assert!(text.contains(line), "{line:?} missing in {text}");
        }
        assert_eq!(subject(&msg), "[custos s] door lost  Bcc: x@y");
    }
}
