#!/usr/bin/env bash
# Fuzzes the parsers that read what comes from outside (register CSV
# imports, signed checkpoints and verifier keys, log entries, segment
# files, site reports, a published log's entry bundles read from a bucket),
# each for SECONDS (default 30), with libFuzzer through cargo-fuzz.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# Each target starts from the seeds in fuzz/corpus/TARGET and keeps what it
# finds in target/fuzz-corpus/TARGET (not committed). A crash stops the run
# and leaves its input in fuzz/artifacts/TARGET/, named by the message.
# cargo-fuzz needs unstable compiler flags: RUSTC_BOOTSTRAP=1 allows them
# on the stable toolchain, for this build only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
    TARGETS=(register_csv checkpoint_note log_entry segment_file site_report log_tiles av_wire)
fi

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -O
for t in "${TARGETS[@]}"; do
    mkdir -p "target/fuzz-corpus/$t"
    echo "fuzz.sh: $t for $SECONDS_EACH s"
    if ! cargo fuzz run -s none -O "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" \
        -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"target/fuzz-$t.log" 2>&1; then
        tail -n 40 "target/fuzz-$t.log" >&2
        echo "fuzz.sh: $t found a crash (input in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "target/fuzz-$t.log" || true
done
echo "fuzz.sh: ${TARGETS[*]} ran $SECONDS_EACH s each without a crash"
