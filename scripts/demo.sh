#!/usr/bin/env bash
# Runs the Custos demo site on a fresh Debian/Ubuntu machine: installs the
# system packages the build needs (if missing), builds, and starts `custos demo`
# with two synthetic cameras recording. Extra arguments go to `custos demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build-only
# Both binaries: custos, and the custos-av helper it decodes video with.
cargo build --release -p custos
exec "${CARGO_TARGET_DIR:-target}/release/custos" demo "$@"
