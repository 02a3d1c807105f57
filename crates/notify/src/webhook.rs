//! Signed webhooks: one HTTP POST per message.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{one_line, Delivered, DeliveryError, Message, WebhookConfig};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of the `X-Custos-Signature` value, naming the algorithm.
const SIGNATURE_PREFIX: &str = "sha256=";
/// How much of an error response body is kept for the error message.
const ERROR_BODY_BYTES: u64 = 1024;

/// A keyed MAC over `parts` concatenated.
fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA256 of `parts` concatenated.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac(key, parts).finalize().into_bytes().into()
}

/// The `X-Custos-Signature` value for a request: `sha256=` followed by the
/// lowercase hex HMAC-SHA256, keyed with `secret`, of
/// `"<timestamp>.<body bytes>"` (the timestamp in decimal unix seconds, as in
/// `X-Custos-Timestamp`).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let digest = hmac_sha256(secret, &[ts.as_bytes(), b".", body]);
    format!("{SIGNATURE_PREFIX}{}", hex::encode(digest))
}

/// For receivers: whether `header` (the `X-Custos-Signature` value) is the
/// signature of `timestamp` and `body` under `secret`. Compares in constant
/// time. Receivers should also reject timestamps far from their own clock
/// (e.g. more than 5 minutes) to stop replays, and de-duplicate on the id.
pub fn verify_signature(secret: &[u8], timestamp: u64, body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix(SIGNATURE_PREFIX) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let ts = timestamp.to_string();
    mac(secret, &[ts.as_bytes(), b".", body])
        .verify_slice(&expected)
        .is_ok()
}

/// `scheme://host[:port]/path` of a URL: user info, query and fragment may
/// carry tokens, so they are left out.
pub(crate) fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            match url.port() {
                Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
                None => format!("{}://{host}{}", url.scheme(), url.path()),
            }
        }
        // An unparsable URL is not echoed: it could be a token pasted wrongly.
        Err(_) => "<invalid url>".to_string(),
    }
}

pub(crate) fn validate(c: &WebhookConfig) -> Result<(), String> {
    let url = url::Url::parse(&c.url).map_err(|e| format!("URL does not parse: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "URL scheme {:?} is not http or https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".into());
    }
    if c.secret.is_empty() {
        return Err("the signing secret is empty".into());
    }
    if c.timeout.is_zero() {
        return Err("timeout is zero".into());
    }
    Ok(())
}

pub(crate) fn deliver(
    c: &WebhookConfig,
    destination: &str,
    msg: &Message,
) -> Result<Delivered, DeliveryError> {
    let body = serde_json::to_vec(&msg.payload()).map_err(|e| DeliveryError::InvalidMessage {
        destination: destination.to_string(),
        id: msg.id,
        reason: format!("cannot encode JSON: {e}"),
    })?;
    // A clock before 1970 is broken anyway; 0 still yields a verifiable request.
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = sign(c.secret.as_bytes(), timestamp, &body);

    let agent = ureq::AgentBuilder::new()
        .timeout(c.timeout)
        // A redirect would send the signed alert somewhere not configured.
        .redirects(0)
        .user_agent(concat!("custos-notify/", env!("CARGO_PKG_VERSION")))
        .build();
    let result = agent
        .post(&c.url)
        .set("Content-Type", "application/json")
        .set("X-Custos-Delivery", &msg.id.to_string())
        .set("X-Custos-Timestamp", &timestamp.to_string())
        .set("X-Custos-Signature", &signature)
        .send_bytes(&body);

    match result {
        Ok(response) => {
            let status = response.status();
            if (200..300).contains(&status) {
                Ok(Delivered {
                    detail: format!("HTTP {status}"),
                })
            } else if (300..400).contains(&status) {
                Err(DeliveryError::Redirect {
                    destination: destination.to_string(),
                    status,
                    location: response.header("Location").unwrap_or("").to_string(),
                })
            } else {
                // 1xx final statuses do not happen with a conforming server.
                Err(DeliveryError::Protocol {
                    destination: destination.to_string(),
                    cause: format!("unexpected HTTP status {status}"),
                    permanent: false,
                })
            }
        }
        Err(ureq::Error::Status(status, response)) => {
            let mut text = String::new();
            // The body only decorates the error; a failure to read it is not one.
            let _ = response
                .into_reader()
                .take(ERROR_BODY_BYTES)
                .read_to_string(&mut text);
            Err(DeliveryError::HttpStatus {
                destination: destination.to_string(),
                status,
                body: one_line(&text, 200),
            })
        }
        Err(ureq::Error::Transport(t)) => Err(transport_error(c, destination, &t)),
    }
}

/// Classifies a transport failure. The text is built from the error kind
/// and its source only: ureq's own message includes the URL, which may
/// carry a token.
fn transport_error(c: &WebhookConfig, destination: &str, t: &ureq::Transport) -> DeliveryError {
    let mut cause = t.kind().to_string();
    if let Some(message) = t.message() {
        cause.push_str(": ");
        cause.push_str(message);
    }
    let mut timed_out = false;
    let mut source = std::error::Error::source(t);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            timed_out |= matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        cause.push_str(": ");
        cause.push_str(&err.to_string());
        source = err.source();
    }
    match t.kind() {
        _ if timed_out => DeliveryError::Timeout {
            destination: destination.to_string(),
            timeout: c.timeout,
            cause,
        },
        ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
            DeliveryError::InvalidConfig {
                destination: destination.to_string(),
                reason: cause,
            }
        }
        ureq::ErrorKind::BadStatus | ureq::ErrorKind::BadHeader => DeliveryError::Protocol {
            destination: destination.to_string(),
            cause,
            permanent: false,
        },
        _ => DeliveryError::Connection {
            destination: destination.to_string(),
            cause,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_test_case_2() {
        // Split in two parts to also exercise the concatenation.
        let digest = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(digest),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_is_hmac_of_timestamp_dot_body() {
        let expected = hex::encode(hmac_sha256(b"k", &[b"1700000000.{\"a\":1}"]));
        assert_eq!(
            sign(b"k", 1_700_000_000, br#"{"a":1}"#),
            format!("sha256={expected}")
        );
    }

    #[test]
    fn sign_matches_the_readme_openssl_recipe() {
        // printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            sign(b"s3cret", 1_700_000_000, br#"{"id":1}"#),
            "sha256=ee0658aa4e37018df69c24227df01e0f680eb3b87c7f1f9bd936e283cfe01d9b"
        );
    }

    #[test]
    fn verify_accepts_only_the_exact_signature() {
        let header = sign(b"secret", 42, b"body");
        assert!(verify_signature(b"secret", 42, b"body", &header));
        assert!(verify_signature(
            b"secret",
            42,
            b"body",
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify_signature(b"secret2", 42, b"body", &header));
        assert!(!verify_signature(b"secret", 43, b"body", &header));
        assert!(!verify_signature(b"secret", 42, b"body!", &header));
        assert!(!verify_signature(b"secret", 42, b"body", &header[..20]));
        assert!(!verify_signature(
            b"secret",
            42,
            b"body",
            header.trim_start_matches("sha256=")
        ));
        assert!(!verify_signature(b"secret", 42, b"body", "sha256=zz"));
    }

    #[test]
    fn redacted_url_drops_userinfo_query_and_fragment() {
        assert_eq!(
            redacted_url("http://u:p@h.example:8080/a/b?t=1#f"),
            "http://h.example:8080/a/b"
        );
        assert_eq!(redacted_url("no url at all"), "<invalid url>");
    }
}
