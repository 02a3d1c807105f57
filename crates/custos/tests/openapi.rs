//! schemathesis against a real site: `custos serve` recording a real RTSP
//! camera, its API fuzzed from its own OpenAPI document
//! (`GET /api/v1/openapi.json`) as a viewer and as an admin.
//!
//! Every generated request must get an answer that is not a server error,
//! whose status the document lists for the operation, whose content type and
//! JSON body match what the document says, and that follows the operation's
//! `x-custos-roles` (403 for a role it does not list, never 403 for one it
//! does: the `custos_roles` check in tests/schemathesis/hooks.py); requests
//! without the credentials must be refused (`ignored_auth`).
//!
//! schemathesis is installed by scripts/test.sh into a virtualenv (version
//! pinned in tests/schemathesis/requirements.txt); the test fails, naming
//! the command to run, when it is missing. The output of each run is kept
//! under target/tmp/schemathesis-*.txt.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{repo_root, Camera, Site};
use serde_json::json;

/// Seconds each run may spend (fuzzing and stateful testing repeat until
/// the budget is spent).
const VIEWER_SECONDS: u32 = 30;
const ADMIN_SECONDS: u32 = 45;

/// The pinned version, e.g. `4.32.5`.
fn pinned_version() -> String {
    let file = repo_root().join("tests/schemathesis/requirements.txt");
    let text = std::fs::read_to_string(&file).expect("tests/schemathesis/requirements.txt");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("schemathesis=="))
        .expect("requirements.txt pins schemathesis==VERSION")
        .trim()
        .to_owned()
}

/// The schemathesis executable: `CUSTOS_SCHEMATHESIS`, or where
/// scripts/test.sh installs it.
fn schemathesis() -> PathBuf {
    let version = pinned_version();
    let exe = std::env::var_os("CUSTOS_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from("/root/.cache"));
            cache.join(format!("custos/schemathesis-{version}/bin/schemathesis"))
        });
    let out = Command::new(&exe).arg("--version").output();
    let installed = out
        .as_ref()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        installed.contains(&version),
        "schemathesis {version} is not installed at {} (found: {:?}): run scripts/test.sh, \
         which installs it into a virtualenv, or set CUSTOS_SCHEMATHESIS",
        exe.display(),
        installed.trim()
    );
    exe
}

/// Adds user `name` with `role` and returns a bearer token for it.
fn user_token(site: &Site, name: &str, role: &str) -> String {
    site.add_user(name, role, "a long test password");
    site.token(name)
}

/// Runs schemathesis as `role` with `token` for `seconds`; panics with its
/// report when it finds anything.
fn run(exe: &Path, site: &Site, role: &str, token: &str, seconds: u32) {
    let started = Instant::now();
    let out = Command::new(exe)
        // Its example database and cache go into the site's directory.
        .current_dir(site.dir.path())
        .env(
            "SCHEMATHESIS_HOOKS",
            repo_root().join("tests/schemathesis/hooks.py"),
        )
        .env("CUSTOS_ROLE", role)
        .args(["--config-file", "schemathesis.toml", "--no-color", "run"])
        .arg(format!("{}/api/v1/openapi.json", site.base_url()))
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,ignored_auth,custos_roles",
            "--max-examples",
            "10",
            "--max-time",
            &seconds.to_string(),
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--output-truncate",
            "false",
        ])
        .output()
        .expect("run schemathesis");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{role}.txt"));
    std::fs::write(&kept, &report).expect("keep the report");
    println!(
        "schemathesis as {role}: {:.0} s, exit {:?}; report in {}",
        started.elapsed().as_secs_f64(),
        out.status.code(),
        kept.display()
    );
    assert!(
        out.status.success(),
        "schemathesis as {role} found problems:\n{report}\nserver log:\n{}",
        site.log()
    );
    assert!(
        report.contains("passed"),
        "schemathesis as {role} tested nothing:\n{report}"
    );
}

#[test]
fn schemathesis_finds_nothing_as_a_viewer_and_as_an_admin() {
    let exe = schemathesis();
    let cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:300")], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"stacks\"\nname = \"Stacks room\"\nurl = \"{}\"\n",
        cam.url("/cam")
    ));
    let admin = site.admin_token();
    let viewer = user_token(&site, "vera", "viewer");
    let mut serve = site.serve();
    site.wait_json(
        &admin,
        "/api/v1/cameras",
        Duration::from_secs(20),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );

    // Something in the register, so operations on a camera, location,
    // person, item and inventory reach their logic rather than 404.
    for (path, body) in [
        (
            "/api/v1/locations",
            json!({"code": "R1", "name": "Reading room", "coverage": [{"camera": "stacks"}]}),
        ),
        (
            "/api/v1/people",
            json!({"staff_id": "S1", "name": "Ada Reader"}),
        ),
        (
            "/api/v1/items",
            json!({"barcode": "B1", "title": "Letters 1921", "home_location": "R1"}),
        ),
        (
            "/api/v1/items",
            json!({"barcode": "B2", "title": "Maps of the harbour", "home_location": "R1"}),
        ),
        ("/api/v1/inventories", json!({"location": "R1"})),
        (
            "/api/v1/items/B2/custody",
            json!({"action": "check_out", "to": "S1", "due_ms": common::now_ms() + 86_400_000}),
        ),
    ] {
        let (status, v) = site.send_json(&admin, "POST", path, body);
        assert_eq!(status, 201, "{path}: {v}");
    }
    // Path parameters are pinned to what exists; everything else is
    // generated.
    std::fs::write(
        site.dir.path().join("schemathesis.toml"),
        r#"
[[operations]]
include-path-regex = "^/api/v1/cameras/\\{id\\}"
parameters = { "path.id" = "stacks" }

[[operations]]
include-path-regex = "\\{barcode\\}"
parameters = { "path.barcode" = "B1" }

[[operations]]
include-path-regex = "\\{code\\}"
parameters = { "path.code" = "R1" }

[[operations]]
include-path-regex = "\\{staff_id\\}"
parameters = { "path.staff_id" = "S1" }

[[operations]]
include-path-regex = "^/api/v1/inventories/\\{id\\}"
parameters = { "path.id" = 1 }

# Changing the site's settings rewrites its configuration and restarts the
# pipeline, the API with it: the run's requests in flight would be refused,
# and a generated camera URL would stop the recording the rest of the run
# exercises (and have the recorder connect to whatever host it names).
[[operations]]
include-name-regex = "^PUT /api/v1/settings/"
enabled = false

# A probe connects to the camera URL it is given: a generated one would
# reach out to arbitrary hosts.
[[operations]]
include-name = "POST /api/v1/settings/probe"
enabled = false
"#,
    )
    .expect("write schemathesis.toml");

    // Nothing else is excluded. The runs use bearer tokens, so POST
    // /api/v1/logout cannot end their session (it answers 400), and an
    // admin cannot disable or demote their own account (PATCH
    // /api/v1/users/{name} answers 409). The admin run may disable or
    // re-role other users, the viewer among them, so the viewer runs first.
    let exe = exe.as_path();
    run(exe, &site, "viewer", &viewer, VIEWER_SECONDS);
    run(exe, &site, "admin", &admin, ADMIN_SECONDS);

    // The site is still whole: the admin's token works and nothing failed.
    let health = site.get_json(&admin, "/api/v1/session");
    assert_eq!(health["role"], "admin", "{health}");
    assert!(
        serve
            .terminate(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "custos serve did not stop cleanly:\n{}",
        site.log()
    );
    let log = site.log();
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "the server logged errors:\n{log}"
    );
}
