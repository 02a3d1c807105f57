#!/usr/bin/env bash
# Builds the media fixtures used by the test suite and the benchmarks into
# tests-data/ at the repository root (gitignored).
#
# Idempotent: each file is written under a temporary name and renamed into
# place only once it is complete and has passed its ffprobe check, so an
# existing file is a complete file. Existing files are re-checked on every run
# (cheap) and rebuilt if the check fails.
#
#   tests-data/vtest.avi           OpenCV's sample clip (768x576, 10 fps, 79.5 s)
#   tests-data/vtest-h264.mp4      vtest.avi as H.264, GOP 10, ~800 kbit/s
#   tests-data/vtest-h265.mp4      first 30 s as H.265 (hvc1), GOP 10
#   tests-data/bench-1080p15.mp4   1920x1080 15 fps 70 s H.264 ~4 Mbit/s, GOP 30
#   tests-data/bench-1080p15-nob.mp4  the same without B-frames (the benchmark's
#                                  comparison: what B-frames cost the recorder)
#   tests-data/sub-360p15.mp4      640x360 15 fps 70 s H.264 ~500 kbit/s, GOP 30 (a sub stream)
#
# Every fixture is encoded as encoders write by default: with B-frames (x264
# and x265 default to 3 and 4 with a pyramid; many cameras send them), except
# bench-1080p15-nob.mp4, which exists to be compared with its twin. The GOPs
# are closed (IDR key frames); open GOPs are tested with clips the tests make.
#
# Needs: ffmpeg/ffprobe with libx264 and libx265, apt-get, dpkg (see
# scripts/install-deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${CUSTOS_TEST_DATA:-$ROOT/tests-data}"
mkdir -p "$OUT"

# One run at a time (two concurrent runs would race on the temp files).
exec 9>"$OUT/.fixtures.lock"
if ! flock -n 9; then
    echo "fixtures: another fixtures.sh is running; waiting for it" >&2
    flock 9
fi

TMPDIR_FIX="$(mktemp -d)"
trap 'rm -rf "$TMPDIR_FIX"; rm -f "$OUT"/*.partial' EXIT

die() {
    echo "fixtures: ERROR: $*" >&2
    exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

FF=(ffmpeg -hide_banner -nostdin -loglevel error -y)

# probe FILE -> prints key=value lines for the first video stream and the container.
probe() {
    ffprobe -v error -select_streams v:0 \
        -show_entries stream=codec_name,codec_tag_string,width,height,avg_frame_rate,pix_fmt \
        -show_entries format=duration,bit_rate,nb_streams \
        -of default=noprint_wrappers=1 "$1"
}

# field KEY <<< probe output
field() { awk -F= -v k="$1" '$1 == k { print $2; exit }'; }

# Number of key frames in the video stream.
keyframes() {
    ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$1" |
        grep -c K || true
}

# Number of IDR pictures (H.264 type 5, H.265 types 19/20). Every key frame of
# a fixture must be one: x265's default open GOP makes CRA key frames instead,
# which recorders that cut at IDR pictures never see.
idr_pictures() {
    ffmpeg -hide_banner -nostdin -v trace -i "$1" -map 0:v:0 -c copy \
        -bsf:v trace_headers -f null - 2>&1 |
        grep -cE 'trace_headers.*nal_unit_type: +(5|19|20)\((IDR|IDR_W_RADL|IDR_N_LP)\)' || true
}

# check FILE CODEC WIDTH HEIGHT FPS MIN_DUR MAX_DUR [MIN_KBPS MAX_KBPS [TAG [KEYFRAMES_MIN KEYFRAMES_MAX [BFRAMES]]]]
# BFRAMES: "yes" (the stream reorders pictures) or "no".
# Prints a one-line summary; returns non-zero (with the reason on stderr) if wrong.
check() {
    local f="$1" codec="$2" w="$3" h="$4" fps="$5" dmin="$6" dmax="$7"
    local kmin="${8:-}" kmax="${9:-}" tag="${10:-}" kfmin="${11:-}" kfmax="${12:-}" bf="${13:-}"
    [[ -s "$f" ]] || { echo "$f: missing or empty" >&2; return 1; }
    local p
    p="$(probe "$f" 2>&1)" || { echo "$f: ffprobe failed: $p" >&2; return 1; }
    local c W H r d br ns t
    c="$(field codec_name <<<"$p")"
    W="$(field width <<<"$p")"
    H="$(field height <<<"$p")"
    r="$(field avg_frame_rate <<<"$p")"
    d="$(field duration <<<"$p")"
    br="$(field bit_rate <<<"$p")"
    ns="$(field nb_streams <<<"$p")"
    t="$(field codec_tag_string <<<"$p")"
    local bad=()
    [[ "$c" == "$codec" ]] || bad+=("codec $c, want $codec")
    [[ "$W" == "$w" && "$H" == "$h" ]] || bad+=("size ${W}x${H}, want ${w}x${h}")
    # avg_frame_rate is a fraction such as 10/1 or 15/1.
    if ! awk -v r="$r" -v want="$fps" 'BEGIN { split(r, a, "/"); if (a[2] == 0) exit 1;
            v = a[1] / a[2]; exit !(v > want - 0.05 && v < want + 0.05) }'; then
        bad+=("frame rate $r, want $fps")
    fi
    if ! awk -v d="$d" -v lo="$dmin" -v hi="$dmax" 'BEGIN { exit !(d + 0 >= lo && d + 0 <= hi) }'; then
        bad+=("duration $d s, want $dmin..$dmax")
    fi
    [[ "$ns" == 1 ]] || bad+=("$ns streams, want 1 (video only)")
    if [[ -n "$kmin" ]]; then
        if ! awk -v b="$br" -v lo="$kmin" -v hi="$kmax" 'BEGIN { exit !(b / 1000 >= lo && b / 1000 <= hi) }'; then
            bad+=("bit rate $br b/s, want $kmin..$kmax kbit/s")
        fi
    fi
    if [[ -n "$tag" && "$t" != "$tag" ]]; then
        bad+=("codec tag $t, want $tag")
    fi
    local kf=""
    if [[ -n "$kfmin" ]]; then
        kf="$(keyframes "$f")"
        if ((kf < kfmin || kf > kfmax)); then
            bad+=("$kf key frames, want $kfmin..$kfmax")
        fi
        local idr
        idr="$(idr_pictures "$f")"
        if ((idr != kf)); then
            bad+=("$idr IDR pictures for $kf key frames (open GOP?)")
        fi
    fi
    if [[ -n "$bf" ]]; then
        local reorder
        reorder="$(ffprobe -v error -select_streams v:0 -show_entries stream=has_b_frames -of csv=p=0 "$f")"
        if [[ "$bf" == yes && "${reorder:-0}" == 0 ]]; then
            bad+=("no B-frames, want the encoder's default B-frames")
        elif [[ "$bf" == no && "${reorder:-0}" != 0 ]]; then
            bad+=("B-frames (has_b_frames=$reorder), want none")
        fi
    fi
    if ((${#bad[@]})); then
        local IFS=';'
        echo "$f: ${bad[*]}" >&2
        return 1
    fi
    printf '  %-20s %s %sx%s %s fps %.1f s %d kbit/s %s bytes%s\n' \
        "$(basename "$f")" "$c" "$W" "$H" "$r" "$d" "$((br / 1000))" "$(stat -c %s "$f")" \
        "${kf:+ $kf keyframes}"
}

# fixture NAME CHECK_ARGS... -- BUILD_FUNCTION
# Skips NAME if it exists and passes its check; else builds NAME.partial with
# BUILD_FUNCTION (which gets the partial path as $1), checks it, renames it.
fixture() {
    local name="$1"
    shift
    local args=()
    while [[ "$1" != "--" ]]; do
        args+=("$1")
        shift
    done
    shift
    local build="$1"
    local dst="$OUT/$name" part="$OUT/$name.partial"
    if [[ -e "$dst" ]]; then
        if check "$dst" "${args[@]}" >/dev/null; then
            echo "fixtures: $name: present, ok (skipped)"
            return 0
        fi
        echo "fixtures: $name: present but wrong; rebuilding" >&2
        rm -f "$dst"
    fi
    echo "fixtures: $name: building..."
    local t0
    t0="$(now)"
    rm -f "$part"
    "$build" "$part" || die "$name: build failed"
    if ! check "$part" "${args[@]}"; then
        mv -f "$part" "$part.bad"
        die "$name: built file is wrong (kept as $part.bad)"
    fi
    mv -f "$part" "$dst"
    echo "fixtures: $name: built in $(elapsed "$t0") s"
}

build_vtest_avi() {
    local dst="$1" d="$TMPDIR_FIX/opencv-doc"
    mkdir -p "$d"
    # apt-get download works as root and as a user; it needs package lists.
    if ! (cd "$d" && apt-get download opencv-doc >"$d/apt.log" 2>&1); then
        echo "fixtures: apt-get download failed, refreshing package lists" >&2
        if [[ $EUID -eq 0 ]]; then apt-get update -qq; else sudo apt-get update -qq; fi
        (cd "$d" && apt-get download opencv-doc) || die "apt-get download opencv-doc failed"
    fi
    local deb
    deb="$(ls "$d"/opencv-doc_*.deb 2>/dev/null | head -n1)"
    [[ -n "$deb" ]] || die "no opencv-doc .deb downloaded"
    dpkg -x "$deb" "$d/x"
    rm -f "$deb"
    local src="$d/x/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    [[ -f "$src" ]] || die "vtest.avi not found in opencv-doc"
    cp "$src" "$dst"
    rm -rf "$d"
}

build_vtest_h264() {
    "${FF[@]}" -i "$OUT/vtest.avi" -an -map 0:v:0 \
        -vf fps=10,format=yuv420p -c:v libx264 -preset veryfast -profile:v high \
        -b:v 800k -maxrate 1200k -bufsize 1600k \
        -g 10 -keyint_min 10 -sc_threshold 0 \
        -movflags +faststart -f mp4 "$1"
}

build_vtest_h265() {
    "${FF[@]}" -i "$OUT/vtest.avi" -an -map 0:v:0 -t 30 \
        -vf fps=10,format=yuv420p -c:v libx265 -preset veryfast -tag:v hvc1 \
        -b:v 800k \
        -x265-params keyint=10:min-keyint=10:scenecut=0:open-gop=0:log-level=error \
        -movflags +faststart -f mp4 "$1"
}

build_bench_1080p15() {
    # vtest.avi upscaled to 1080p with light temporal noise (a real camera's
    # sensor noise), so the encoder has real work at 4 Mbit/s instead of
    # coasting on smooth upscaled pixels and repeated frames.
    bench_1080p15 "$1"
}

build_bench_1080p15_nob() {
    bench_1080p15 "$1" -bf 0
}

# bench_1080p15 OUT [EXTRA ENCODER ARGS]
bench_1080p15() {
    local out="$1"
    shift
    "${FF[@]}" -i "$OUT/vtest.avi" -an -map 0:v:0 -t 70 \
        -vf "scale=1920:1080:flags=bicubic,fps=15,noise=alls=6:allf=t,format=yuv420p" \
        -c:v libx264 -preset veryfast -profile:v high \
        -b:v 4M -maxrate 4M -bufsize 8M -g 30 -keyint_min 30 -sc_threshold 0 "$@" \
        -movflags +faststart -f mp4 "$out"
}

build_sub_360p15() {
    # A camera's sub stream: 640x360 at 15 fps, ~500 kbit/s, with sensor
    # noise, people walking (vtest); the analysis benchmark's input.
    "${FF[@]}" -i "$OUT/vtest.avi" -an -map 0:v:0 -t 70 \
        -vf "scale=640:360:flags=bicubic,fps=15,noise=alls=4:allf=t,format=yuv420p" \
        -c:v libx264 -preset veryfast -profile:v main \
        -b:v 500k -maxrate 600k -bufsize 1M -g 30 -keyint_min 30 -sc_threshold 0 \
        -movflags +faststart -f mp4 "$1"
}

T_ALL="$(now)"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null ||
    die "ffmpeg/ffprobe not found (run scripts/install-deps.sh)"

# name                  codec      W    H    fps dur       kbit/s     tag  keyframes B-frames
fixture vtest.avi             msmpeg4v3 768  576  10  79   80                              -- build_vtest_avi
fixture vtest-h264.mp4        h264      768  576  10  79   80   500  1100 avc1 79 81 yes  -- build_vtest_h264
fixture vtest-h265.mp4        hevc      768  576  10  29.9 30.1 400  1100 hvc1 30 30 yes  -- build_vtest_h265
fixture bench-1080p15.mp4     h264      1920 1080 15  69.9 70.1 3200 4400 avc1 35 36 yes  -- build_bench_1080p15
fixture bench-1080p15-nob.mp4 h264      1920 1080 15  69.9 70.1 3200 4400 avc1 35 36 no   -- build_bench_1080p15_nob
fixture sub-360p15.mp4        h264      640  360  15  69.9 70.1 300  700  avc1 35 36 yes  -- build_sub_360p15

echo "fixtures: all fixtures in $OUT ok ($(elapsed "$T_ALL") s):"
for f in vtest.avi vtest-h264.mp4 vtest-h265.mp4 bench-1080p15.mp4 bench-1080p15-nob.mp4 sub-360p15.mp4; do
    case "$f" in
    vtest.avi) check "$OUT/$f" msmpeg4v3 768 576 10 79 80 ;;
    vtest-h264.mp4) check "$OUT/$f" h264 768 576 10 79 80 ;;
    vtest-h265.mp4) check "$OUT/$f" hevc 768 576 10 29.9 30.1 ;;
    bench-1080p15.mp4 | bench-1080p15-nob.mp4) check "$OUT/$f" h264 1920 1080 15 69.9 70.1 ;;
    sub-360p15.mp4) check "$OUT/$f" h264 640 360 15 69.9 70.1 ;;
    esac
done
