#!/usr/bin/env bash
# The one command that runs Custos' whole test suite (CI runs it via .ci/run):
# installs missing Debian packages, builds the media fixtures, then checks
# formatting, runs clippy and runs every test of the workspace.
#
#   scripts/test.sh                 everything
#   scripts/test.sh FILTER [ARGS]   extra arguments go to `cargo test --workspace`
#
# Rust tests find the fixtures through CUSTOS_TEST_DATA (tests-data/) and the
# fake RTSP camera through CUSTOS_RTSP_CAMERA (run it with /usr/bin/python3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
T0=$SECONDS

step() {
    echo
    echo "==> $* ($((SECONDS - T0)) s)"
}

step "install-deps"
bash scripts/install-deps.sh

export CUSTOS_TEST_DATA="$ROOT/tests-data"
export CUSTOS_RTSP_CAMERA="$ROOT/tests/support/rtsp_camera.py"

step "fixtures"
bash scripts/fixtures.sh

step "npm packages of the browser tests"
# `npm ci` installs exactly the locked versions; a copy of the lock file
# records what is installed, so a second run skips it.
if ! cmp -s tests/web/package-lock.json tests/web/node_modules/.installed-lock.json 2>/dev/null; then
    npm ci --prefix tests/web --no-audit --no-fund
    cp tests/web/package-lock.json tests/web/node_modules/.installed-lock.json
fi

for tool in cargo rustfmt cargo-clippy; do
    command -v "$tool" >/dev/null || {
        echo "test.sh: $tool not found (needs a Rust toolchain with rustfmt and clippy)" >&2
        exit 1
    }
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace "$@"

echo
echo "test.sh: fmt, clippy and tests passed in $((SECONDS - T0)) s"
