//! Webhook delivery against a small HTTP server written here, so that the
//! exact bytes on the wire can be checked.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use custos_notify::{
    deliver, verify_signature, DeliveryError, Destination, WebhookConfig, WebhookPayload,
};
use support::{alert, camera_state, closed_port};

const SECRET: &str = "webhook-test-secret";

/// One request as the server saw it.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> Request {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap().to_string();
    let path = parts.next().unwrap().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let length: usize = request
        .header("Content-Length")
        .expect("a Content-Length header")
        .parse()
        .unwrap();
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).unwrap();
    request
}

/// Serves one request with `response` (a full HTTP response head) and
/// hands the request over.
fn serve_once(response: String) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request(&mut stream);
        stream.write_all(response.as_bytes()).unwrap();
        stream.flush().unwrap();
        let _ = tx.send(request);
    });
    (format!("http://127.0.0.1:{port}/hooks/custos?token=t"), rx)
}

fn webhook(url: &str, timeout: Duration) -> Destination {
    Destination::Webhook(WebhookConfig {
        url: url.to_string(),
        secret: SECRET.to_string(),
        timeout,
    })
}

fn status_response(status: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

#[test]
fn webhook_posts_signed_json_with_headers() {
    let (url, requests) = serve_once(status_response("200 OK"));
    let msg = camera_state(42, "archive-1", "stacks");
    let delivered = deliver(&webhook(&url, Duration::from_secs(5)), &msg).unwrap();
    assert_eq!(delivered.detail, "HTTP 200");

    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/custos?token=t");
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(request.header("X-Custos-Delivery"), Some("42"));

    let timestamp: u64 = request
        .header("X-Custos-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(timestamp) <= 5,
        "timestamp {timestamp}, now {now}"
    );

    let signature = request.header("X-Custos-Signature").unwrap();
    assert!(signature.starts_with("sha256="), "{signature}");
    assert_eq!(signature.len(), "sha256=".len() + 64);
    assert_eq!(signature, signature.to_lowercase());
    assert!(verify_signature(
        SECRET.as_bytes(),
        timestamp,
        &request.body,
        signature
    ));
    assert!(!verify_signature(
        b"another secret",
        timestamp,
        &request.body,
        signature
    ));
    let mut altered = request.body.clone();
    altered[10] ^= 1;
    assert!(!verify_signature(
        SECRET.as_bytes(),
        timestamp,
        &altered,
        signature
    ));
    assert!(!verify_signature(
        SECRET.as_bytes(),
        timestamp + 1,
        &request.body,
        signature
    ));

    let payload: WebhookPayload = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(payload, msg.payload());
    let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "id": 42, "site": "archive-1", "kind": "camera_state", "camera": "stacks",
            "subject": "stacks lost", "body": {"camera": "stacks", "state": "lost"},
        })
    );
}

#[test]
fn webhook_alert_has_no_camera_field() {
    let (url, requests) = serve_once(status_response("204 No Content"));
    let delivered = deliver(&webhook(&url, Duration::from_secs(5)), &alert(7, "s")).unwrap();
    assert_eq!(delivered.detail, "HTTP 204");
    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(json["kind"], "alert");
    assert!(json.get("camera").is_none(), "{json}");
}

#[test]
fn webhook_500_is_transient() {
    let response =
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops";
    let (url, _requests) = serve_once(response.to_string());
    let err = deliver(&webhook(&url, Duration::from_secs(5)), &alert(1, "s")).unwrap_err();
    assert!(
        matches!(err, DeliveryError::HttpStatus { status: 500, ref body, .. } if body == "oops"),
        "{err:?}"
    );
    assert!(!err.is_permanent());
    assert_eq!(
        err.destination(),
        format!("webhook {}", url.split('?').next().unwrap())
    );
}

#[test]
fn webhook_429_is_transient_and_404_permanent() {
    let (url, _requests) = serve_once(status_response("429 Too Many Requests"));
    let err = deliver(&webhook(&url, Duration::from_secs(5)), &alert(1, "s")).unwrap_err();
    assert!(
        matches!(err, DeliveryError::HttpStatus { status: 429, .. }),
        "{err:?}"
    );
    assert!(!err.is_permanent());

    let (url, _requests) = serve_once(status_response("404 Not Found"));
    let err = deliver(&webhook(&url, Duration::from_secs(5)), &alert(1, "s")).unwrap_err();
    assert!(
        matches!(err, DeliveryError::HttpStatus { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.is_permanent());
}

#[test]
fn webhook_redirect_is_permanent_and_not_followed() {
    // The redirect target counts connections: there must be none.
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    target.set_nonblocking(true).unwrap();
    let location = format!(
        "http://127.0.0.1:{}/elsewhere",
        target.local_addr().unwrap().port()
    );
    let (url, _requests) = serve_once(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let err = deliver(&webhook(&url, Duration::from_secs(5)), &alert(1, "s")).unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        matches!(err, DeliveryError::Redirect { status: 307, location: ref l, .. } if *l == location),
        "{err:?}"
    );
    assert!(err.to_string().contains(&location), "{err}");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        target.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the redirect was followed"
    );
}

#[test]
fn webhook_silent_server_times_out_within_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    // Accepts and reads, never answers; holds the socket until the test ends.
    let holder = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _request = read_request(&mut stream);
        thread::sleep(Duration::from_secs(3));
    });
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = deliver(&webhook(&url, timeout), &alert(1, "s")).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, DeliveryError::Timeout { .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    drop(holder);
}

#[test]
fn webhook_refused_connection_is_transient() {
    let (_held, port) = closed_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let err = deliver(&webhook(&url, Duration::from_secs(2)), &alert(1, "s")).unwrap_err();
    assert!(matches!(err, DeliveryError::Connection { .. }), "{err:?}");
    assert!(!err.is_permanent());
}

#[test]
fn webhook_invalid_url_is_permanent_and_never_sent() {
    let err = deliver(
        &webhook("ftp://127.0.0.1/x", Duration::from_secs(1)),
        &alert(1, "s"),
    )
    .unwrap_err();
    assert!(
        matches!(err, DeliveryError::InvalidConfig { .. }),
        "{err:?}"
    );
    assert!(err.is_permanent());
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET), "{text}");
}
