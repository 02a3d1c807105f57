#!/usr/bin/env bash
# Makes crates/custos/link-order.txt: the functions of `custos` that run
# while a site starts, records RTSP cameras, analyses their pictures and
# serves live view, in the order of the current binary. crates/custos/build.rs
# has lld lay them out together, so that they take a few megabytes of
# resident code instead of touching nearly every 64 KiB of it.
#
#   scripts/link-order.sh
#
# Run it after a toolchain or dependency upgrade, or once benches/record.py
# reports that many listed functions are gone. It runs custos under
# valgrind's callgrind (2 cameras, 1 live viewer, 40 s), which lists every
# function executed, however rarely. Needs valgrind, a release build's
# inputs (scripts/install-deps.sh) and tests-data/ (scripts/fixtures.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
command -v valgrind >/dev/null || {
    echo "link-order.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 1
}
cargo build --release -p custos
BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/release/custos"

WORK="$(mktemp -d /tmp/custos-link-order.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# benches/record.py starts `custos serve` through this wrapper; its other
# commands (token creation) run as they are.
cat >"$WORK/custos" <<EOF
#!/bin/sh
case "\$1" in
serve) exec valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" "$BINARY" "\$@" ;;
esac
exec "$BINARY" "\$@"
EOF
chmod +x "$WORK/custos"
/usr/bin/python3 benches/record.py --streams 2 --viewers 1 --seconds 40 --skip-ffmpeg --analysis \
    --binary "$WORK/custos"

/usr/bin/python3 - "$WORK/callgrind.out" "$BINARY" crates/custos/link-order.txt <<'EOF'
import re
import subprocess
import sys

callgrind, binary, out = sys.argv[1:]
executed = set()
with open(callgrind) as f:
    for line in f:
        m = re.match(r"c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m:
            executed.add(m[1])
address = {}
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        address.setdefault(parts[2], int(parts[0], 16))
names = sorted((n for n in executed if n in address), key=lambda n: address[n])
with open(out, "w") as f:
    f.write("# Functions of custos that run while a site records, analyses and serves\n"
            "# live view, to be laid out together (crates/custos/build.rs).\n"
            "# Made by scripts/link-order.sh; do not edit.\n")
    f.writelines(n + "\n" for n in names)
print(f"{out}: {len(names)} functions")
EOF
