#!/usr/bin/env bash
# The one command that runs Custos' whole test suite (CI runs it via .ci/run):
# installs missing Debian packages, builds the media fixtures, then checks
# formatting, runs clippy, runs every test of the workspace and fuzzes the
# parsers of outside input for a short while (scripts/fuzz.sh).
#
#   scripts/test.sh                 everything
#   scripts/test.sh FILTER [ARGS]   extra arguments go to `cargo test --workspace`
#
# Rust tests find the fixtures through CUSTOS_TEST_DATA (tests-data/), the
# fake RTSP camera through CUSTOS_RTSP_CAMERA (run it with /usr/bin/python3)
# and schemathesis through CUSTOS_SCHEMATHESIS.
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

step "schemathesis"
# crates/custos/tests/openapi.rs fuzzes a real site's API from its OpenAPI
# document (GET /api/v1/openapi.json) with schemathesis, as a viewer and as
# an admin: no 5xx, statuses, content types and bodies as documented, roles
# as each operation's x-custos-roles says. It is installed from PyPI, at the
# version pinned in tests/schemathesis/requirements.txt, into a virtualenv
# under ~/.cache/custos kept between runs; a second run only checks the
# version.
ST_VERSION="$(sed -n 's/^schemathesis==//p' tests/schemathesis/requirements.txt)"
ST_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/custos/schemathesis-$ST_VERSION"
if ! "$ST_VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$ST_VERSION"; then
    rm -rf "$ST_VENV"
    /usr/bin/python3 -m venv "$ST_VENV"
    "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check \
        -r tests/schemathesis/requirements.txt
fi
export CUSTOS_SCHEMATHESIS="$ST_VENV/bin/schemathesis"
"$CUSTOS_SCHEMATHESIS" --version

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

step "the independent tlog-tiles client's own tests"
# crates/escrow's tests check the published log with this client, written
# from the C2SP specifications; its tests make sure it rejects what it must.
/usr/bin/python3 tests/support/test_tlog_tiles_check.py

step "cargo test"
cargo test --workspace "$@"

step "fuzz the parsers that read outside input (20 s each)"
bash scripts/fuzz.sh 20

echo
echo "test.sh: fmt, clippy, tests and fuzzing passed in $((SECONDS - T0)) s"
