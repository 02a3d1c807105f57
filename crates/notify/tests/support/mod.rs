//! Helpers shared by the integration tests: ports, waiting, required tools.

#![allow(dead_code)] // each test file uses a different subset

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custos_notify::{Message, MessageKind};

/// A port nothing listens on right now (the listener is closed on return).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A port nothing listens on for as long as the returned socket lives: it
/// is bound but never listens, so a connection to it is refused and no
/// other test (starting a broker on a [`free_port`]) can take it meanwhile.
pub fn closed_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any.into()).unwrap();
    let port = socket
        .local_addr()
        .unwrap()
        .as_socket()
        .map(|a| a.port())
        .unwrap();
    (socket, port)
}

/// Waits until `port` accepts TCP connections; panics with the child's
/// output if it exits first or takes longer than 10 s.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut stderr);
            }
            panic!("{what} exited with {status} before listening on {port}: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} is not listening on {port} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails the test (never skips) when a program is missing.
pub fn require_program(program: &str, debian_package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: this test needs the Debian package `{debian_package}` \
         (apt-get install -y {debian_package})"
    );
}

/// A python3 that can import `module`; the system one first, because a
/// python from pyenv or a venv earlier in PATH does not see Debian's packages.
pub fn python_with(module: &str, debian_package: &str) -> String {
    for python in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return python.to_string();
        }
    }
    panic!(
        "python3 cannot import `{module}`: this test needs the Debian package `{debian_package}` \
         (apt-get install -y {debian_package})"
    );
}

/// Kills and reaps a child process when dropped, so a failing test leaves
/// no server behind.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn alert(id: i64, site: &str) -> Message {
    Message {
        id,
        site: site.to_string(),
        kind: MessageKind::Alert,
        subject: "tamper.covered on stacks (open)".to_string(),
        body: serde_json::json!({
            "rule": "tamper.covered",
            "camera": "stacks",
            "state": "open",
            "opened_at": "2024-05-01T10:00:00Z",
        }),
    }
}

pub fn camera_state(id: i64, site: &str, camera: &str) -> Message {
    Message {
        id,
        site: site.to_string(),
        kind: MessageKind::CameraState {
            camera: camera.to_string(),
        },
        subject: format!("{camera} lost"),
        body: serde_json::json!({"camera": camera, "state": "lost"}),
    }
}
