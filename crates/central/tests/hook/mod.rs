//! A webhook receiver on a real socket: answers 200 to every POST and
//! keeps what came, for tests of the centre's notifications.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as received: its signature headers and its body.
#[derive(Debug, Clone)]
pub struct Received {
    pub timestamp: u64,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Received {
    /// Whether it is signed with `secret`.
    pub fn signed_with(&self, secret: &str) -> bool {
        custos_notify::verify_signature(
            secret.as_bytes(),
            self.timestamp,
            &self.body,
            &self.signature,
        )
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Starts a receiver; its URL and what it got.
pub fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            let (mut length, mut timestamp, mut signature) = (0usize, 0u64, String::new());
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                let Some((k, v)) = line.trim_end().split_once(':') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "x-custos-timestamp" => timestamp = v.trim().parse().unwrap_or(0),
                    "x-custos-signature" => signature = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            keep.lock().expect("lock").push(Received {
                timestamp,
                signature,
                body,
            });
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}
