//! MQTT: one connection per message, QoS 1, success on PUBACK.

use std::time::{Duration, Instant};

use rumqttc::{
    Client, ConnectReturnCode, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS,
    RecvTimeoutError,
};

use crate::{Delivered, DeliveryError, Message, MessageKind, MqttConfig};

/// Largest payload we publish; far above any alert, far below broker limits.
const MAX_PACKET_BYTES: usize = 1024 * 1024;
/// How long a clean DISCONNECT may take once the PUBACK is in.
const DISCONNECT_GRACE: Duration = Duration::from_millis(500);

/// The topic and retain flag for a message: alerts are events (not
/// retained); a camera state is the current value (retained, so a new
/// subscriber sees it at once).
pub(crate) fn topic(msg: &Message) -> (String, bool) {
    match &msg.kind {
        MessageKind::Alert => (format!("custos/{}/alerts", msg.site), false),
        MessageKind::CameraState { camera } => {
            (format!("custos/{}/cameras/{camera}/state", msg.site), true)
        }
    }
}

pub(crate) fn validate(c: &MqttConfig) -> Result<(), String> {
    if c.host.trim().is_empty() {
        return Err("host is empty".into());
    }
    if c.port == 0 {
        return Err("port is 0".into());
    }
    if c.client_id.is_empty() || c.client_id.starts_with(' ') || c.client_id.len() > 65535 {
        return Err("client id must be 1 to 65535 bytes and not start with a space".into());
    }
    if c.password.is_some() && c.username.is_none() {
        // MQTT 3.1.1 forbids a password without a user name.
        return Err("a password requires a username".into());
    }
    if c.timeout.is_zero() {
        return Err("timeout is zero".into());
    }
    Ok(())
}

pub(crate) fn deliver(
    c: &MqttConfig,
    destination: &str,
    msg: &Message,
) -> Result<Delivered, DeliveryError> {
    let deadline = Instant::now() + c.timeout;
    let fail_timeout = |cause: &str| DeliveryError::Timeout {
        destination: destination.to_string(),
        timeout: c.timeout,
        cause: cause.to_string(),
    };
    let payload = serde_json::to_vec(&msg.payload()).map_err(|e| invalid(destination, msg, e))?;
    let (topic, retain) = topic(msg);
    if payload.len() + topic.len() + 16 > MAX_PACKET_BYTES {
        return Err(invalid(
            destination,
            msg,
            format!("payload of {} bytes is too large", payload.len()),
        ));
    }

    let mut options = MqttOptions::new(c.client_id.clone(), c.host.clone(), c.port);
    options
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        // Long enough that no PINGREQ is due during one delivery.
        .set_keep_alive(c.timeout.max(Duration::from_secs(5)) * 2);
    if let Some(user) = &c.username {
        options.set_credentials(user.clone(), c.password.clone().unwrap_or_default());
    }
    let (client, mut connection) = Client::new(options, 4);
    // The rumqttc connect step has its own timeout in whole seconds; keep it
    // at or above ours so that ours (the deadline below) governs.
    let mut network = connection.eventloop.network_options();
    network.set_connection_timeout(c.timeout.as_secs().saturating_add(1));
    connection.eventloop.set_network_options(network);

    // Queued now, sent by the event loop right after CONNACK.
    client
        .publish(topic.as_str(), QoS::AtLeastOnce, retain, payload)
        .map_err(|e| DeliveryError::Protocol {
            destination: destination.to_string(),
            cause: format!("cannot queue the publish: {e}"),
            permanent: false,
        })?;

    let mut pkid = None;
    let mut connected = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(fail_timeout(if connected {
                "no PUBACK"
            } else {
                "no CONNACK"
            }));
        }
        let event = match connection.recv_timeout(remaining) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                return Err(fail_timeout(if connected {
                    "no PUBACK"
                } else {
                    "no CONNACK"
                }))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(DeliveryError::Protocol {
                    destination: destination.to_string(),
                    cause: "client request channel closed".into(),
                    permanent: false,
                })
            }
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => connected = true,
            Ok(Event::Outgoing(Outgoing::Publish(id))) => pkid = Some(id),
            Ok(Event::Incoming(Packet::PubAck(ack))) if Some(ack.pkid) == pkid => break,
            Ok(_) => {}
            Err(e) => return Err(connection_error(c, destination, e)),
        }
    }

    // The broker owns the message now; a failed DISCONNECT does not undo that.
    if client.disconnect().is_ok() {
        let until = Instant::now() + DISCONNECT_GRACE;
        loop {
            let remaining = until.saturating_duration_since(Instant::now());
            match connection.recv_timeout(remaining) {
                Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(_)) => {}
            }
        }
    }
    Ok(Delivered {
        detail: format!("PUBACK (packet {}, topic {topic})", pkid.unwrap_or(0)),
    })
}

fn invalid(destination: &str, msg: &Message, reason: impl ToString) -> DeliveryError {
    DeliveryError::InvalidMessage {
        destination: destination.to_string(),
        id: msg.id,
        reason: reason.to_string(),
    }
}

fn connection_error(c: &MqttConfig, destination: &str, e: ConnectionError) -> DeliveryError {
    let destination = destination.to_string();
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let (reason, permanent) = match code {
                ConnectReturnCode::BadUserNamePassword => ("bad user name or password", true),
                ConnectReturnCode::NotAuthorized => ("not authorized", true),
                ConnectReturnCode::BadClientId => ("client identifier rejected", true),
                ConnectReturnCode::RefusedProtocolVersion => {
                    ("MQTT 3.1.1 not supported by the broker", true)
                }
                ConnectReturnCode::ServiceUnavailable => ("server unavailable", false),
                ConnectReturnCode::Success => ("unexpected success code", false),
            };
            DeliveryError::MqttRefused {
                destination,
                reason: reason.to_string(),
                permanent,
            }
        }
        ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => DeliveryError::Timeout {
            destination,
            timeout: c.timeout,
            cause: e.to_string(),
        },
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            DeliveryError::Timeout {
                destination,
                timeout: c.timeout,
                cause: io.to_string(),
            }
        }
        ConnectionError::Io(io) => DeliveryError::Connection {
            destination,
            cause: io.to_string(),
        },
        other => DeliveryError::Protocol {
            destination,
            cause: other.to_string(),
            permanent: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_retain_flags() {
        let mut msg = Message {
            id: 1,
            site: "archive-1".into(),
            kind: MessageKind::Alert,
            subject: "s".into(),
            body: serde_json::Value::Null,
        };
        assert_eq!(topic(&msg), ("custos/archive-1/alerts".to_string(), false));
        msg.kind = MessageKind::CameraState {
            camera: "stacks".into(),
        };
        assert_eq!(
            topic(&msg),
            ("custos/archive-1/cameras/stacks/state".to_string(), true)
        );
    }
}
