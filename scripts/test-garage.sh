#!/usr/bin/env bash
# The longer test target: footage and log escrow against Garage, an S3 store
# that ignores create-only puts (If-None-Match: *), so Custos' check before
# and after every write is what keeps evidence from being overwritten there
# (crates/escrow/tests/garage.rs). Garage is built once from crates.io
# (about 15 minutes on 2 cores) into ~/.cache/custos/garage and reused.
#
#   scripts/test-garage.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GARAGE_VERSION=2.5.0
ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/custos/garage"
if ! "$ROOT/bin/garage" --version 2>/dev/null | grep -qF "$GARAGE_VERSION"; then
    echo "test-garage: building garage $GARAGE_VERSION into $ROOT (about 15 minutes)"
    cargo install garage --version "$GARAGE_VERSION" --locked --root "$ROOT"
fi
CUSTOS_GARAGE="$ROOT/bin/garage" cargo test -p custos-escrow --test garage -- --ignored
