//! E-mail delivery against a real SMTP server: aiosmtpd (Debian package
//! `python3-aiosmtpd`), storing into a maildir.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custos_notify::{deliver, DeliveryError, Destination, SmtpConfig, SmtpSecurity};
use support::{alert, camera_state, closed_port, free_port, python_with, wait_for_port, Reaped};

/// An aiosmtpd on 127.0.0.1, killed when dropped.
struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    _process: Reaped,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Stores every message into a maildir.
    fn mailbox() -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let arg = maildir.display().to_string();
        Self::start(dir, maildir, "aiosmtpd.handlers.Mailbox", &[&arg])
    }

    /// Answers every RCPT TO with `reply`.
    fn replying(reply: &str) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("unused");
        let words: Vec<&str> = reply.split(' ').collect();
        Self::start(dir, maildir, "reply_handler.Reply", &words)
    }

    fn start(dir: tempfile::TempDir, maildir: PathBuf, class: &str, args: &[&str]) -> SmtpServer {
        let python = python_with("aiosmtpd", "python3-aiosmtpd");
        let port = free_port();
        let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let mut child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                class,
            ])
            .args(args)
            .env("PYTHONPATH", support)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "aiosmtpd");
        SmtpServer {
            port,
            maildir,
            _process: Reaped(child),
            _dir: dir,
        }
    }

    /// The stored messages, as text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

fn email(port: u16, to: &[&str]) -> Destination {
    Destination::Email(SmtpConfig {
        host: "127.0.0.1".to_string(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "Custos archive-1 <custos@site.example>".to_string(),
        to: to.iter().map(|s| s.to_string()).collect(),
        timeout: Duration::from_secs(5),
    })
}

#[test]
fn email_is_stored_with_subject_addresses_and_body() {
    let server = SmtpServer::mailbox();
    let dest = email(
        server.port,
        &["ops@example.org", "Second <second@example.org>"],
    );
    assert_eq!(
        dest.describe(),
        format!(
            "email smtp 127.0.0.1:{} to ops@example.org, Second <second@example.org>",
            server.port
        )
    );
    let delivered = deliver(&dest, &alert(42, "archive-1")).unwrap();
    assert!(delivered.detail.starts_with("250"), "{}", delivered.detail);

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    for expected in [
        "Subject: [custos archive-1] tamper.covered on stacks (open)\n",
        "From: \"Custos archive-1\" <custos@site.example>\n",
        "To: ops@example.org, Second <second@example.org>\n",
        "X-Custos-Delivery: 42\n",
        "X-RcptTo: ops@example.org, second@example.org\n",
        "Content-Type: text/plain; charset=utf-8\n",
        // The readable part...
        "\nid: 42\n",
        "\nsite: archive-1\n",
        "\nkind: alert\n",
        "\nbody.rule: tamper.covered\n",
        "\nbody.opened_at: 2024-05-01T10:00:00Z\n",
        // ...then the JSON.
        "\"subject\": \"tamper.covered on stacks (open)\"",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing in:\n{message}"
        );
    }
    let json_start = message.find("JSON:\n").expect("a JSON section") + "JSON:\n".len();
    let json: serde_json::Value = serde_json::from_str(message[json_start..].trim()).unwrap();
    assert_eq!(
        json,
        serde_json::to_value(alert(42, "archive-1").payload()).unwrap()
    );
}

#[test]
fn email_camera_state_names_the_camera() {
    let server = SmtpServer::mailbox();
    let dest = email(server.port, &["ops@example.org"]);
    deliver(&dest, &camera_state(5, "archive-1", "door")).unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("Subject: [custos archive-1] door lost\n"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("\ncamera: door\n"), "{}", messages[0]);
    assert!(
        messages[0].contains("\nkind: camera_state\n"),
        "{}",
        messages[0]
    );
}

#[test]
fn email_unreachable_server_is_transient() {
    // Not needed by this test, but all e-mail tests demand the same package.
    python_with("aiosmtpd", "python3-aiosmtpd");
    let started = Instant::now();
    let (_held, port) = closed_port();
    let err = deliver(&email(port, &["ops@example.org"]), &alert(1, "s")).unwrap_err();
    assert!(matches!(err, DeliveryError::Connection { .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn email_5xx_is_permanent_and_4xx_transient() {
    let server = SmtpServer::replying("550 5.1.1 no such mailbox");
    let err = deliver(&email(server.port, &["ops@example.org"]), &alert(1, "s")).unwrap_err();
    assert!(
        matches!(err, DeliveryError::SmtpRejected { code: 550, ref message, .. } if message.contains("no such mailbox")),
        "{err:?}"
    );
    assert!(err.is_permanent());

    let server = SmtpServer::replying("451 4.3.0 try again later");
    let err = deliver(&email(server.port, &["ops@example.org"]), &alert(1, "s")).unwrap_err();
    assert!(
        matches!(err, DeliveryError::SmtpRejected { code: 451, .. }),
        "{err:?}"
    );
    assert!(!err.is_permanent());
}

#[test]
fn email_starttls_refused_by_a_plain_server_is_permanent() {
    // aiosmtpd without certificates offers no STARTTLS: lettre must refuse
    // to continue in plain text.
    let server = SmtpServer::mailbox();
    let mut dest = email(server.port, &["ops@example.org"]);
    if let Destination::Email(c) = &mut dest {
        c.security = SmtpSecurity::StartTls;
        c.host = "localhost".to_string();
        c.username = Some("custos".to_string());
        c.password = Some("smtp-password".to_string());
    }
    let err = deliver(&dest, &alert(1, "s")).unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(server.messages().is_empty());
    let text = format!("{err} {err:?} {dest:?}");
    assert!(!text.contains("smtp-password"), "{text}");
}
