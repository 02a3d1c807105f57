//! Shared harness for end-to-end tests: real `custos` processes, real RTSP
//! cameras (GStreamer's gst-rtsp-server via tests/support/rtsp_camera.py),
//! real SQLite files, and ffprobe/ffmpeg to judge every file we write.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Fixture files made by scripts/fixtures.sh.
pub fn test_data(name: &str) -> PathBuf {
    let dir = std::env::var_os("CUSTOS_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests-data"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fixtures.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The browser tests' directory, after checking that playwright-core and
/// Debian's chromium are installed (scripts/test.sh installs both).
pub fn browser_tests() -> PathBuf {
    let web = repo_root().join("tests/web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/web` (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is missing (Debian package chromium; scripts/install-deps.sh installs it)"
    );
    web
}

/// Where the browser checks keep their screenshots.
pub fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots")
}

/// Runs the browser checks of `script` (under tests/web) with `env` and
/// [`screenshots_dir`] as `SHOTS`; prints what they said, and returns
/// whether all passed with that report.
pub fn browser_checks(script: &str, env: &[(&str, &str)]) -> (bool, String) {
    let web = browser_tests();
    let out = Command::new("node")
        .arg(web.join(script))
        .current_dir(&web)
        .envs(env.iter().copied())
        .env("SHOTS", screenshots_dir())
        .output()
        .expect("node must be installed");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    (out.status.success(), report)
}

/// Runs `command` with `password` and a newline on its standard input (a
/// password never goes on a command line); its output.
pub fn with_password(mut command: Command, password: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning a command that reads a password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("writing the password");
    child.wait_with_output().expect("the command's output")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// SIGTERM, then wait up to `timeout`; returns the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gst-rtsp-server camera on its own port.
pub struct Camera {
    pub proc: Proc,
    pub port: u16,
    args: Vec<String>,
}

impl Camera {
    /// `mounts`: ("/path", "SPEC") pairs as rtsp_camera.py takes them.
    pub fn start(mounts: &[(&str, &str)], auth: Option<(&str, &str)>) -> Camera {
        Camera::start_on(free_port(), mounts, auth)
    }

    pub fn start_on(port: u16, mounts: &[(&str, &str)], auth: Option<(&str, &str)>) -> Camera {
        let mut args = vec![
            repo_root()
                .join("tests/support/rtsp_camera.py")
                .to_string_lossy()
                .into_owned(),
            "--port".into(),
            port.to_string(),
            "--exit-with-parent".into(),
        ];
        if let Some((u, p)) = auth {
            args.extend(["--user".into(), u.into(), "--password".into(), p.into()]);
        }
        for (path, spec) in mounts {
            args.push("--mount".into());
            args.push(format!("{path}={spec}"));
        }
        let proc = spawn_camera(&args);
        Camera { proc, port, args }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{path}", self.port)
    }

    pub fn stop(&mut self) {
        self.proc.terminate(Duration::from_secs(5));
    }

    /// Starts the same camera again on the same port.
    pub fn restart(&mut self) {
        self.proc = spawn_camera(&self.args);
    }
}

fn spawn_camera(args: &[String]) -> Proc {
    let mut child = Command::new("/usr/bin/python3")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rtsp_camera.py");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read READY");
    assert!(line.starts_with("READY"), "camera did not start: {line:?}");
    Proc {
        child,
        name: "camera".into(),
    }
}

/// Where `custos export --from-escrow` reads: the site's prefix in the
/// bucket (`s3://…`), the store, the site's key and the store's credentials.
pub struct EscrowSource<'a> {
    pub bucket_url: &'a str,
    pub endpoint: &'a str,
    pub key: &'a str,
    pub credentials: [(&'a str, &'a str); 2],
}

/// A site directory with a config file.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
}

impl Site {
    /// `cameras`: TOML `[[camera]]` tables (without data_dir/server).
    pub fn new(cameras: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = dir.path().join("custos.toml");
        let text = format!("data_dir = \"data\"\nsite = \"test\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{cameras}");
        std::fs::write(&config, text).expect("write config");
        Site { dir, config, port }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn custos(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
        c.args(args);
        c.env("CUSTOS_LOG", "info,custos=debug");
        c
    }

    /// Creates an admin and returns a bearer token for it.
    /// Adds user `name` with `role` and `password` (through `custos user
    /// add`, as an operator would).
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let cfg = self.config.to_string_lossy().into_owned();
        let out = with_password(
            self.custos(&[
                "user",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                "--config",
                &cfg,
            ]),
            password,
        );
        assert!(
            out.status.success(),
            "user add {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new bearer token of user `name` (`custos token create`).
    pub fn token(&self, name: &str) -> String {
        let cfg = self.config.to_string_lossy().into_owned();
        let out = self
            .custos(&["token", "create", name, "--config", &cfg])
            .output()
            .expect("token create");
        assert!(
            out.status.success(),
            "token create {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }

    /// Adds `admin` (password "a long test password") and returns a token.
    pub fn admin_token(&self) -> String {
        self.add_user("admin", "admin", "a long test password");
        self.token("admin")
    }

    /// Starts `custos serve` and waits for its API to answer.
    pub fn serve(&self) -> Proc {
        self.serve_with_env(&[])
    }

    /// [`Site::serve`] with extra environment variables (secrets).
    pub fn serve_with_env(&self, env: &[(&str, &str)]) -> Proc {
        let cfg = self.config.to_string_lossy().into_owned();
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("serve.log"))
            .expect("log file");
        let child = self
            .custos(&["serve", "--config", &cfg])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start custos serve");
        let proc = Proc {
            child,
            name: "custos".into(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = ureq::get(&format!("{}/api/v1/health", self.base_url())).call() {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "custos serve did not answer: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        proc
    }

    /// The site's log verifier key (`custos key show`).
    pub fn log_key(&self) -> String {
        let out = self
            .custos(&["key", "show", "--config", &self.config.to_string_lossy()])
            .output()
            .expect("key show");
        assert!(
            out.status.success(),
            "key show: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// `custos export --from-escrow` of camera `hall`, `from_ms` to
    /// `to_ms`, into `out`, as `escrow` says.
    pub fn export_from_escrow(
        &self,
        escrow: &EscrowSource<'_>,
        from_ms: i64,
        to_ms: i64,
        out: &Path,
    ) -> std::process::Output {
        self.custos(&[
            "export",
            "--from-escrow",
            escrow.bucket_url,
            "--endpoint",
            escrow.endpoint,
            "--key",
            escrow.key,
            "--camera",
            "hall",
            "--start-ms",
            &from_ms.to_string(),
            "--end-ms",
            &to_ms.to_string(),
            "--reason",
            "the lens was covered",
            "--out",
            &out.to_string_lossy(),
        ])
        .envs(escrow.credentials)
        .output()
        .expect("export --from-escrow")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    pub fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        let r = ureq::get(&format!("{}{path}", self.base_url()))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        r.into_json().expect("json")
    }

    /// Sends `body` with `method` (POST, PUT, PATCH) and returns the status
    /// and the JSON answer, whatever the status.
    pub fn send_json(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = ureq::request(method, &format!("{}{path}", self.base_url()))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(body);
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        (status, resp.into_json().unwrap_or(serde_json::Value::Null))
    }

    /// Waits until `pred` holds for the JSON at `path`, returning it.
    pub fn wait_json(
        &self,
        token: &str,
        path: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get_json(token, path);
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last {path}: {v}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every segment row, straight from the index.
    pub fn segments(&self) -> Vec<SegmentRow> {
        let conn =
            rusqlite::Connection::open(self.data_dir().join("custos.db")).expect("open index");
        let mut stmt = conn
            .prepare("SELECT id, camera, path, start_ms, end_ms, bytes, frames, sha256, state, recovered FROM segments ORDER BY camera, start_ms")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok(SegmentRow {
                    id: r.get(0)?,
                    camera: r.get(1)?,
                    path: r.get(2)?,
                    start_ms: r.get(3)?,
                    end_ms: r.get(4)?,
                    bytes: r.get(5)?,
                    frames: r.get(6)?,
                    sha256: r.get(7)?,
                    state: r.get(8)?,
                    recovered: r.get(9)?,
                })
            })
            .expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }
}

#[derive(Debug, Clone)]
pub struct SegmentRow {
    pub id: i64,
    pub camera: String,
    pub path: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub bytes: i64,
    pub frames: i64,
    pub sha256: Option<String>,
    pub state: String,
    pub recovered: bool,
}

/// Decodes a whole file with ffmpeg; returns its error output (empty = clean).
/// The output keeps the file's own time base: pictures stamped when they
/// arrived (MJPEG over HTTP) are not one frame interval apart, and ffmpeg's
/// default of 1/frame rate would merge two of them into one time stamp.
pub fn ffmpeg_decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-enc_time_base:v", "-1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("\nffmpeg exited with {}", out.status));
    }
    text
}

/// ffprobe's view of a file: (codec, width, height, frames, duration s, creation_time tag).
pub fn ffprobe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read")))
}

/// Every file under `<data>/video`.
pub fn video_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let video = data_dir.join("video");
    if let Ok(cams) = std::fs::read_dir(&video) {
        for cam in cams.flatten() {
            if let Ok(files) = std::fs::read_dir(cam.path()) {
                out.extend(files.flatten().map(|f| f.path()));
            }
        }
    }
    out.sort();
    out
}

/// 100 s of the hall (the sample footage played twice over), the lens
/// covered by a black card from 8 s on.
pub fn covered_clip(dir: &Path) -> PathBuf {
    let out = dir.join("covered.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", "1", "-i"])
        .arg(test_data("vtest.avi"))
        .args([
            "-t",
            "100",
            "-vf",
            "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='gte(t,8)'",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg");
    out
}
