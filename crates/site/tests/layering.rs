//! The domain crate stays below HTTP: it must not depend on axum or on the
//! server crate, directly or through another crate of the workspace.

use std::process::Command;

#[test]
fn the_domain_crate_does_not_depend_on_http() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "custos-site",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    for forbidden in ["axum ", "custos-server ", "hyper ", "tower "] {
        assert!(
            !tree.lines().any(|line| line.starts_with(forbidden)),
            "custos-site depends on {forbidden}:\n{tree}"
        );
    }
}
