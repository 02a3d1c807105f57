#!/usr/bin/python3
r"""A small fake IP camera: a GStreamer RTSP server for Custos' tests and benchmarks.

Run with Debian's /usr/bin/python3 (it needs python3-gi and the GstRtspServer
typelib, see scripts/install-deps.sh):

    /usr/bin/python3 tests/support/rtsp_camera.py --port PORT \
        [--user U --password P [--auth both|basic|digest]] \
        [--exit-with-parent] [--verbose] \
        --mount PATH=SPEC [--mount PATH=SPEC ...]

SPEC is one of
    live-h264:WIDTHxHEIGHT@FPS:GOP[:KBPS][,OPTION=VALUE...]
                                            endless live test pattern, H.264
    live-h265:WIDTHxHEIGHT@FPS:GOP[:KBPS][,OPTION=VALUE...]
                                            endless live test pattern, H.265
    stamp-h264:WIDTHxHEIGHT@FPS:GOP[:KBPS]  endless live H.264 whose every picture
                                            carries its capture time (see below)
    count-CODEC:WIDTHxHEIGHT@FPS:GOP[:KBPS][,OPTION=VALUE...]
                                            endless live stream whose every picture
                                            carries its number (see below); CODEC is
                                            h264, h265 or mjpeg
    file:/abs/path.mp4                      H.264 or H.265 video of an MP4 file (and
                                            its AAC audio as a second stream),
                                            played once in real time per client
FPS is an integer or a fraction such as 30000/1001; GOP is the key frame
interval in frames (every GOPth frame is an IDR frame); KBPS is the encoder
bit rate in kbit/s (default: 1000 for H.264, 800 for H.265).

e.g.  --port 8554 --mount /cam=live-h264:640x360@15:15:800
      --mount /h265=live-h265:1280x720@10:10 --mount /vtest=file:/x/vtest-h264.mp4
      --mount /stamp=stamp-h264:640x360@15:15:800
      --mount /stall=stamp-h264:640x360@15:15:800,stall=5:2

A stamp mount paints each picture when it is made: a grey picture with, at
its top left, blocks that encode the wall-clock time of that moment
(`time.time_ns() // 1_000_000` mod 2^40, ms since the Unix epoch), so a
viewer on the same machine can measure camera-to-glass latency. Blocks are
CELL x CELL pixels, CELL = min(64, WIDTH // 26) rounded down to a multiple of
8 (at least 16, so WIDTH >= 416), starting CELL pixels from the top and the
left, 24 blocks a line. Lines 1-2 hold a 48-block code word (white = 1, black
= 0, read line by line, left to right): the start mark 1011, the 40 bits of
the time (most significant first), an even parity bit over those 40 bits and
the end mark 010. Lines 3-4 hold the same word inverted, so every block is
checked. tests/web/latency.mjs reads it. With `,stall=S:D` the camera stops
making pictures S seconds after its first one, for D seconds, then goes on
(a stalled link or encoder).

A count mount paints the same blocks, but the 40 bits are the picture's
number (0 for the first picture the pipeline makes, then 1, 2, ...), so a
test that decodes the recording can tell exactly which pictures it holds.
Live and count mounts take OPTIONs that shape the stream as cameras send it
(the "camera zoo"); a live mount sends 2 B-frames unless told bframes=0:
    bframes=N       B-frames between reference pictures (H.264/H.265, 0-3)
    pyramid=1       B-frames used as references (a B-pyramid)
    open-gop=1      key frames that are not IDR (CRA / recovery point), with
                    leading pictures referencing the GOP before
    inband=1        no parameter sets in the SDP: SPS/PPS (and VPS) only in
                    the stream, before each key frame
    loss=P          the network drops P % of the video's RTP packets
    reorder=P       the network delays P % of them by 5-40 ms, reordering them
    resize=S:WxH    after S seconds the picture size changes to WxH (new
                    parameter sets mid-stream)

The server listens on 127.0.0.1:PORT only. With --user and --password every
mount requires RTSP Basic or Digest authentication (a wrong password is
answered with 401 Unauthorized). Put mounts that need a password on their own
server: one server is either wholly open or wholly protected.

With --tls-cert and --tls-key the server speaks RTSP over TLS only (rtsps://),
as cameras with a self-signed certificate do; the READY line then says rtsps.

Once listening it prints exactly one line `READY rtsp://127.0.0.1:PORT` on
stdout (flushed); a test waits for that line. SIGTERM or SIGINT stop it at once
(exit 0); with --stats the cameras first stop making pictures and the server
waits a second for those already encoded to leave, so that every picture the
stats count as sent went out on the network (a second signal stops it at
once). --exit-with-parent makes it also stop when the process that started
it dies (so a killed test run leaves no camera behind). Bad arguments: a
message on stderr and exit status 2. A port that can't be bound: exit 1.

Live mounts are shared (every client sees the same encoder, like a real
camera; each new client starts at the next key frame). File mounts are not
shared: each client gets its own pipeline that starts at the beginning of the
file and ends (RTSP session ends with EOS) at its end.
"""

import argparse
import os
import re
import signal
import sys
import time

DEFAULT_KBPS = {"h264": 1000, "h265": 800, "mjpeg": 4000}


class SpecError(ValueError):
    pass


def parse_fps(text):
    m = re.fullmatch(r"(\d+)(?:/(\d+))?", text)
    if not m:
        raise SpecError(f"bad frame rate {text!r} (want an integer or N/D)")
    num = int(m.group(1))
    den = int(m.group(2) or 1)
    if num <= 0 or den <= 0 or num / den > 240:
        raise SpecError(f"bad frame rate {text!r}")
    return num, den


def parse_live(codec, rest, kind="live"):
    """`WxH@FPS:GOP[:KBPS]` -> dict."""
    m = re.fullmatch(r"(\d+)x(\d+)@([0-9/]+):(\d+)(?::(\d+))?", rest)
    if not m:
        raise SpecError(
            f"bad {kind}-{codec} spec {rest!r} (want WIDTHxHEIGHT@FPS:GOP[:KBPS])"
        )
    width, height = int(m.group(1)), int(m.group(2))
    if not (16 <= width <= 7680 and 16 <= height <= 4320):
        raise SpecError(f"bad size {width}x{height}")
    if width % 2 or height % 2:
        raise SpecError(f"size {width}x{height} must be even (4:2:0 video)")
    fps = parse_fps(m.group(3))
    gop = int(m.group(4))
    if not 1 <= gop <= 10000:
        raise SpecError(f"bad GOP {gop}")
    kbps = int(m.group(5)) if m.group(5) else DEFAULT_KBPS[codec]
    if not 1 <= kbps <= 200000:
        raise SpecError(f"bad bit rate {kbps} kbit/s")
    if kind in ("stamp", "count"):
        cell = stamp_cell(width)
        if cell < 16:
            raise SpecError(f"stamp needs a width of at least 416 (got {width})")
        if height < 5 * cell:
            raise SpecError(f"stamp needs a height of at least {5 * cell} (got {height})")
    return {
        "kind": kind,
        "codec": codec,
        "width": width,
        "height": height,
        "fps": fps,
        "gop": gop,
        "kbps": kbps,
    }


LIVE_DEFAULTS = {"bframes": 2}

COUNT_OPTIONS = {
    "bframes": (0, 3),
    "pyramid": (0, 1),
    "open-gop": (0, 1),
    "inband": (0, 1),
    "loss": (0, 50),
    "reorder": (0, 50),
}


def parse_count(codec, rest, kind="count", defaults=None):
    """`WxH@FPS:GOP[:KBPS][,OPTION=VALUE...]` -> dict with "options"."""
    base, *opts = rest.split(",")
    spec = parse_live(codec, base, kind=kind)
    options = {name: 0 for name in COUNT_OPTIONS}
    options.update(defaults or {})
    options["resize"] = None
    for opt in opts:
        name, sep, value = opt.partition("=")
        if not sep:
            raise SpecError(f"bad count option {opt!r} (want NAME=VALUE)")
        if name == "resize":
            m = re.fullmatch(r"(\d+):(\d+)x(\d+)", value)
            if not m:
                raise SpecError(f"bad resize {value!r} (want SECONDS:WIDTHxHEIGHT)")
            w, h = int(m.group(2)), int(m.group(3))
            if w % 16 or h % 16 or w < 416 or h < 5 * stamp_cell(w):
                raise SpecError(f"bad resize size {w}x{h}")
            options["resize"] = (int(m.group(1)), w, h)
            continue
        if name not in COUNT_OPTIONS or not value.isdigit():
            raise SpecError(f"bad count option {opt!r}")
        lo, hi = COUNT_OPTIONS[name]
        if not lo <= int(value) <= hi:
            raise SpecError(f"count option {name} must be {lo}..{hi}")
        options[name] = int(value)
    if kind == "live" and options["resize"]:
        raise SpecError("resize is for count mounts (their pictures are painted)")
    if codec == "mjpeg" and (options["bframes"] or options["open-gop"] or options["inband"]):
        raise SpecError("MJPEG has no B-frames, GOPs or parameter sets")
    spec["options"] = options
    return spec


def parse_stamp(rest):
    """`WxH@FPS:GOP[:KBPS][,stall=S:D]` -> dict with "stall" (or None)."""
    base, *opts = rest.split(",")
    spec = parse_live("h264", base, kind="stamp")
    spec["stall"] = None
    for opt in opts:
        m = re.fullmatch(r"stall=(\d+):(\d+)", opt)
        if not m or not 1 <= int(m.group(2)) <= 60:
            raise SpecError(f"bad stamp option {opt!r} (want stall=SECONDS:SECONDS, 1-60 s long)")
        spec["stall"] = (int(m.group(1)), int(m.group(2)))
    return spec


def parse_mount(text):
    """`PATH=SPEC` -> (path, spec dict)."""
    path, sep, spec = text.partition("=")
    if not sep or not path or not spec:
        raise SpecError(f"bad --mount {text!r} (want PATH=SPEC)")
    if not path.startswith("/"):
        path = "/" + path
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path):
        raise SpecError(f"bad mount path {path!r}")
    kind, sep, rest = spec.partition(":")
    # Live mounts send what x264 and x265 send by default, and many cameras
    # too: B-frames (`,bframes=0` for none).
    if kind == "live-h264" and sep:
        return path, parse_count("h264", rest, kind="live", defaults=LIVE_DEFAULTS)
    if kind == "live-h265" and sep:
        return path, parse_count("h265", rest, kind="live", defaults=LIVE_DEFAULTS)
    if kind == "stamp-h264" and sep:
        return path, parse_stamp(rest)
    if kind in ("count-h264", "count-h265", "count-mjpeg") and sep:
        return path, parse_count(kind.split("-")[1], rest)
    if kind == "file" and sep:
        if not os.path.isabs(rest):
            raise SpecError(f"file path {rest!r} must be absolute")
        if not os.path.isfile(rest) or not os.access(rest, os.R_OK):
            raise SpecError(f"file {rest!r} does not exist or is not readable")
        return path, {"kind": "file", "path": rest}
    raise SpecError(
        f"bad spec {spec!r} (want live-h264:..., live-h265:..., stamp-h264:..., "
        "count-h264:..., count-h265:..., count-mjpeg:... or file:/abs/path.mp4)"
    )


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="rtsp_camera.py",
        description="Fake RTSP camera for tests (GStreamer RTSP server on 127.0.0.1).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    p.add_argument("--user", help="require this user name (with --password)")
    p.add_argument("--password", help="require this password (with --user)")
    p.add_argument(
        "--auth",
        choices=("both", "basic", "digest"),
        default="both",
        help="authentication schemes offered with --user/--password (default: both)",
    )
    p.add_argument(
        "--mount",
        action="append",
        required=True,
        metavar="PATH=SPEC",
        help="a stream; may be repeated",
    )
    p.add_argument(
        "--tls-cert",
        help="serve rtsps:// (RTSP over TLS) with this PEM certificate (with --tls-key)",
    )
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    p.add_argument(
        "--stats",
        help="write, every half second and at exit, which pictures each count mount "
        "sent: JSON {PATH: {sent: [[from, to], ...]}} (runs of picture numbers)",
    )
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the parent process goes away",
    )
    p.add_argument(
        "--verbose", action="store_true", help="log mounts and clients on stderr"
    )
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error(f"bad port {args.port} (want 1..65535)")
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if args.user is not None and (not args.user or ":" in args.user):
        p.error("bad --user (must be non-empty, without ':')")
    mounts = {}
    for text in args.mount:
        try:
            path, spec = parse_mount(text)
        except SpecError as e:
            p.error(str(e))
        if path in mounts:
            p.error(f"mount {path} given twice")
        mounts[path] = spec
    args.mounts = mounts
    return args


def gst_quote(value):
    """Quote a string for gst_parse_launch."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encoder(s):
    """The encoder and payloader part of a stamp pipeline: no B-frames, no
    look-ahead, so the picture leaves the camera as soon as it is made."""
    if s["codec"] == "h264":
        # tune=zerolatency makes x264 cut each picture into one slice per
        # thread, and rtph264pay (config-interval=-1) then puts SPS and PPS
        # before every IDR slice, i.e. in the middle of the access unit,
        # which a decoder reading the RTP stream takes for the start of a
        # new picture. A stamp picture is one slice, as most cameras send.
        threads = "threads=1 " if s["kind"] == "stamp" else ""
        return (
            f"! x264enc speed-preset=ultrafast tune=zerolatency bframes=0 {threads}"
            f"key-int-max={s['gop']} bitrate={s['kbps']} option-string=scenecut=0 "
            f"! video/x-h264,profile=high "
            f"! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1"
        )
    return (
        f"! x265enc speed-preset=ultrafast tune=zerolatency "
        f"key-int-max={s['gop']} bitrate={s['kbps']} log-level=error "
        f'option-string="bframes=0:scenecut=0:open-gop=0:min-keyint={s["gop"]}:repeat-headers=1" '
        f"! h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1"
    )


def count_encoder(s):
    """The encoder, payloader and network of a count pipeline."""
    o = s["options"]
    gop, kbps = s["gop"], s["kbps"]
    if s["codec"] == "mjpeg":
        enc = "! jpegenc name=encoder quality=85 ! rtpjpegpay"
    elif s["codec"] == "h264":
        # tune=zerolatency turns B-frames off; without them it keeps the
        # stream as the other mounts send it. One slice per picture.
        tune = "" if o["bframes"] else "tune=zerolatency "
        enc = (
            f"! x264enc name=encoder speed-preset=superfast {tune}threads=1 bframes={o['bframes']} "
            f"b-adapt=false b-pyramid={'true' if o['pyramid'] else 'false'} "
            f"key-int-max={gop} bitrate={kbps} "
            f"option-string=scenecut=0:open-gop={o['open-gop']} "
            f"! video/x-h264,profile=high ! h264parse ! rtph264pay config-interval=-1"
        )
    else:
        tune = "" if o["bframes"] else "tune=zerolatency "
        enc = (
            f"! x265enc name=encoder speed-preset=superfast {tune}key-int-max={gop} bitrate={kbps} "
            f"log-level=error option-string=\"bframes={o['bframes']}:b-pyramid={o['pyramid']}:"
            f"b-adapt=0:scenecut=0:open-gop={o['open-gop']}:min-keyint={gop}:"
            f"repeat-headers=1:frame-threads=1:pools=none\" "
            f"! h265parse ! rtph265pay config-interval=-1"
        )
    pt = 26 if s["codec"] == "mjpeg" else 96
    if o["loss"] or o["reorder"]:
        # The network between camera and recorder: netsim drops and delays
        # (reorders) RTP packets; it is the stream's last element, so it is
        # the one the server sends from.
        net = (
            f" pt={pt} name=camerapay ! netsim name=pay0 "
            f"drop-probability={o['loss'] / 100} delay-probability={o['reorder'] / 100} "
            f"min-delay=5 max-delay=40 allow-reordering=true "
        )
    else:
        net = f" name=pay0 pt={pt} "
    return enc + net


def count_launch(s):
    num, den = s["fps"]
    caps = (
        f"video/x-raw,format=I420,width={s['width']},height={s['height']},"
        f"framerate={num}/{den}"
    )
    raw = (
        f"appsrc name={STAMP_SRC} is-live=true format=time "
        f"block=false max-buffers=2 leaky-type=downstream caps={gst_quote(caps)} "
    )
    return "( " + raw + count_encoder(s) + " )"


def live_launch(s):
    num, den = s["fps"]
    raw = (
        # A scrolling SMPTE pattern keeps the encoder near its target bit
        # rate (a ball on black needs only a third of it); the time overlay
        # makes every frame unique.
        f"videotestsrc is-live=true pattern=smpte horizontal-speed={max(2, s['width'] // 160)} "
        f"! video/x-raw,width={s['width']},height={s['height']},framerate={num}/{den} "
        f"! timeoverlay font-desc=\"Sans {max(8, s['height'] // 20)}\" "
        f"! videoconvert ! video/x-raw,format=I420 "
    )
    return "( " + raw + count_encoder(s) + " )"


STAMP_SRC = "stampsrc"
STAMP_COLS = 24
STAMP_BITS = 40
STAMP_START = (1, 0, 1, 1)
STAMP_END = (0, 1, 0)
# Luma of the picture: video-range black, white and a mid grey background.
STAMP_BLACK, STAMP_WHITE, STAMP_GREY = 16, 235, 128


def stamp_cell(width):
    """Side of a stamp block in pixels for a picture `width` wide."""
    return min(64, width // 26) // 8 * 8


def stamp_word(ms):
    """The 48 blocks (1 = white) that encode `ms` mod 2^40."""
    value = ms % (1 << STAMP_BITS)
    bits = [(value >> (STAMP_BITS - 1 - i)) & 1 for i in range(STAMP_BITS)]
    return list(STAMP_START) + bits + [sum(bits) % 2] + list(STAMP_END)


class StampPainter:
    """Makes I420 pictures that carry a time stamp (layout in the module doc)."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.cell = stamp_cell(width)
        chroma = (width // 2) * (height // 2)
        self.template = bytes([STAMP_GREY]) * (width * height) + bytes([128]) * (2 * chroma)
        self.black = bytes([STAMP_BLACK]) * self.cell
        self.white = bytes([STAMP_WHITE]) * self.cell

    def paint(self, ms):
        word = stamp_word(ms)
        lines = [word[:STAMP_COLS], word[STAMP_COLS:]]
        lines += [[1 - b for b in line] for line in lines]
        frame = bytearray(self.template)
        c, w = self.cell, self.width
        for i, line in enumerate(lines):
            row = b"".join(self.white if b else self.black for b in line)
            top = c + i * c
            for y in range(top, top + c):
                start = y * w + c
                frame[start : start + len(row)] = row
        return frame


def stamp_launch(s):
    num, den = s["fps"]
    caps = (
        f"video/x-raw,format=I420,width={s['width']},height={s['height']},"
        f"framerate={num}/{den}"
    )
    # A live source that keeps at most two pictures (the oldest are dropped,
    # never queued up). Stamper sets each picture's time stamp.
    raw = (
        f"appsrc name={STAMP_SRC} is-live=true format=time "
        f"block=false max-buffers=2 leaky-type=downstream caps={gst_quote(caps)} "
    )
    return "( " + raw + encoder(s) + " )"


class Stamper:
    """Feeds one stamp or count pipeline's appsrc from its own thread at the
    frame rate, painting each picture with the wall-clock time at which it
    is made (stamp) or with its number (count)."""

    def __init__(self, Gst, appsrc, spec, log):
        import threading

        self.Gst, self.appsrc, self.log = Gst, appsrc, log
        self.spec = spec
        self.number_caps = Gst.Caps.from_string(NUMBER_CAPS)
        self.counting = spec["kind"] == "count"
        self.resize = (spec.get("options") or {}).get("resize")
        self.stall = spec.get("stall")
        self.painter = StampPainter(spec["width"], spec["height"])
        num, den = spec["fps"]
        self.interval = den / num
        self.duration = Gst.SECOND * den // num
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="stamper", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopped.set()

    def run(self):
        Gst = self.Gst
        next_at = time.monotonic()
        frames = 0
        first_pts = None
        started = None
        while not self.stopped.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self.stopped.wait(delay):
                break
            if self.stall and started is not None and time.monotonic() - started >= self.stall[0]:
                # A camera that stops sending for a while (a stalled link, a
                # busy encoder) and then goes on from the present moment.
                _, seconds = self.stall
                self.stall = None
                self.log(f"stalling for {seconds} s")
                if self.stopped.wait(seconds):
                    break
                next_at = time.monotonic()
            # Only a playing pipeline has a base time to stamp against: a
            # picture stamped before (appsrc's do-timestamp does that when it
            # has a clock but no base time yet) carries the clock's raw
            # time, hours ahead, and the RTSP sinks then wait for it forever.
            # Until then the camera makes no pictures.
            clock = self.appsrc.get_clock()
            _, state, _ = self.appsrc.get_state(0)
            if clock is not None and state == Gst.State.PLAYING:
                pts = clock.get_time() - self.appsrc.get_base_time()
                if self.counting:
                    # A count camera stamps its pictures like an encoder
                    # clock: exactly one frame interval apart.
                    if first_pts is None:
                        first_pts = pts
                    num, den = self.spec["fps"]
                    pts = first_pts + frames * Gst.SECOND * den // num
                if self.resize and pts >= self.resize[0] * Gst.SECOND:
                    self.change_size()
                value = frames if self.counting else time.time_ns() // 1_000_000
                buf = Gst.Buffer.new_wrapped(bytes(self.painter.paint(value)))
                if self.counting:
                    buf.add_reference_timestamp_meta(self.number_caps, frames, Gst.CLOCK_TIME_NONE)
                buf.pts = pts
                buf.duration = self.duration
                self.appsrc.emit("push-buffer", buf)
                frames += 1
                if started is None:
                    started = time.monotonic()
            next_at += self.interval
            # Fell behind by more than a frame (a stalled machine): skip the
            # missed pictures rather than sending a burst.
            now = time.monotonic()
            if next_at < now - self.interval:
                next_at = now
        self.log(f"stamper stopped after {frames} pictures")

    def change_size(self):
        """Switches the picture size, as a camera reconfigured mid-stream."""
        _, width, height = self.resize
        self.resize = None
        num, den = self.spec["fps"]
        caps = self.Gst.Caps.from_string(
            f"video/x-raw,format=I420,width={width},height={height},framerate={num}/{den}"
        )
        self.appsrc.set_property("caps", caps)
        self.painter = StampPainter(width, height)
        self.log(f"picture size changed to {width}x{height}")


# The pictures each count mount's encoder put out, by number. A live camera
# drops pictures before its encoder when the pipeline is blocked (the server
# holds it until a client plays) or busy, and an encoder stopped mid-GOP
# never puts out the B-frames it holds: those were never sent, and a test
# must not look for them. Each count picture carries its number in a
# reference timestamp meta, which encoders copy from picture to frame.
SENT = {}
# Every stamper started, so that a stop can end them all first.
STAMPERS = []
# How long a stop with --stats lets encoded pictures leave (the network's
# delays are at most 40 ms; a loaded machine is slower).
DRAIN_SECONDS = 1.0
NUMBER_CAPS = "timestamp/x-custos-picture-number"


def watch_encoder_output(pipeline, path, Gst):
    """Notes the number of each picture leaving the mount's encoder."""
    numbers = SENT.setdefault(path, set())
    caps = Gst.Caps.from_string(NUMBER_CAPS)
    pad = pipeline.get_by_name("encoder").get_static_pad("src")

    def probe(_pad, info):
        meta = info.get_buffer().get_reference_timestamp_meta(caps)
        if meta is not None:
            numbers.add(meta.timestamp)
        return Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER, probe)


def sent_ranges(numbers):
    """[[from, to], ...] of the contiguous runs in a set of numbers."""
    runs = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def write_stats(path):
    """Writes the runs of SENT to `path` atomically."""
    import json

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({p: {"sent": sent_ranges(numbers)} for p, numbers in SENT.items()}, f)
    os.replace(tmp, path)


_INBAND_MEDIA = None


def inband_media_type(GstRtspServer):
    """An RTSPMedia whose SDP carries no parameter sets (no sprop-* in the
    fmtp line): a decoder learns them only from the stream, as from cameras
    that send SPS/PPS in band only."""
    global _INBAND_MEDIA
    if _INBAND_MEDIA is not None:
        return _INBAND_MEDIA

    class InbandMedia(GstRtspServer.RTSPMedia):
        def do_setup_sdp(self, sdp, info):
            if not GstRtspServer.RTSPMedia.do_setup_sdp(self, sdp, info):
                return False
            for i in range(sdp.medias_len()):
                media = sdp.get_media(i)
                fmtp = [
                    (j, media.get_attribute(j).value)
                    for j in range(media.attributes_len())
                    if media.get_attribute(j).key == "fmtp"
                ]
                for j, value in reversed(fmtp):
                    pt, _, params = value.partition(" ")
                    kept = [
                        p.strip()
                        for p in params.split(";")
                        if p.strip() and not p.strip().startswith("sprop-")
                    ]
                    media.remove_attribute(j)
                    media.add_attribute("fmtp", f"{pt} {';'.join(kept)}")
            return True

    _INBAND_MEDIA = InbandMedia
    return InbandMedia


def file_codec(Gst, GstPbutils, path):
    """('h264' or 'h265', has AAC audio) for an MP4 file, else raises SpecError."""
    disc = GstPbutils.Discoverer.new(10 * Gst.SECOND)
    try:
        info = disc.discover_uri(Gst.filename_to_uri(path))
    except Exception as e:  # GLib.Error
        raise SpecError(f"cannot read {path!r}: {e}")
    container = info.get_stream_info()
    ccaps = container.get_caps().to_string() if container else ""
    if not ccaps.startswith("video/quicktime"):
        raise SpecError(f"{path!r} is not an MP4/QuickTime file ({ccaps or 'unknown'})")
    audio = any(
        a.get_caps().to_string().startswith("audio/mpeg") for a in info.get_audio_streams()
    )
    for v in info.get_video_streams():
        caps = v.get_caps().to_string()
        if caps.startswith("video/x-h264"):
            return "h264", audio
        if caps.startswith("video/x-h265"):
            return "h265", audio
        raise SpecError(f"{path!r}: video is {caps.split(',')[0]}, want H.264 or H.265")
    raise SpecError(f"{path!r} has no video stream")


def file_launch(path, codec, audio):
    """A file's video (and AAC audio, as a second stream, when it has some)."""
    video = f"d.video_0 ! queue ! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1"
    sound = " d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97" if audio else ""
    return f"( filesrc location={gst_quote(path)} ! qtdemux name=d {video}{sound} )"


def set_auth_methods(auth, which, GstRtsp):
    """Offer Basic, Digest or both (a 401 then carries one WWW-Authenticate each)."""
    basic, digest = GstRtsp.RTSPAuthMethod.BASIC, GstRtsp.RTSPAuthMethod.DIGEST
    if which == "basic":
        auth.set_supported_methods(basic)
        return
    if which == "digest":
        auth.set_supported_methods(digest)
        return
    # GstRTSPAuthMethod is a flags-like enum, but PyGObject refuses the value
    # BASIC|DIGEST, so make this one call through ctypes.
    import ctypes

    capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    capsule_ptr.restype = ctypes.c_void_p
    capsule_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    fn = lib.gst_rtsp_auth_set_supported_methods
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
    fn(capsule_ptr(auth.__gpointer__, None), int(basic) | int(digest))


def main(argv):
    args = parse_args(argv)

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstPbutils", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstPbutils, GstRtsp, GstRtspServer

    Gst.init(None)

    def log(msg):
        if args.verbose:
            try:
                print(
                    f"rtsp_camera[{os.getpid()}] {time.monotonic():.3f}: {msg}",
                    file=sys.stderr,
                    flush=True,
                )
            except OSError:  # stderr gone with the test that started us
                pass

    launches = {}
    for path, spec in args.mounts.items():
        if spec["kind"] == "live":
            launches[path] = (live_launch(spec), True)
        elif spec["kind"] == "stamp":
            launches[path] = (stamp_launch(spec), True)
        elif spec["kind"] == "count":
            launches[path] = (count_launch(spec), True)
        else:
            try:
                codec, audio = file_codec(Gst, GstPbutils, spec["path"])
            except SpecError as e:
                print(f"rtsp_camera.py: error: {e}", file=sys.stderr)
                return 2
            launches[path] = (file_launch(spec["path"], codec, audio), False)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    permissions = None
    if args.user is not None:
        role = "camera-user"
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", role)
        if args.auth in ("both", "basic"):
            auth.add_basic(
                GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token
            )
        if args.auth in ("both", "digest"):
            auth.add_digest(args.user, args.password, token)
        set_auth_methods(auth, args.auth, GstRtsp)
        auth.set_realm("custos-test-camera")
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role(role, "media.factory.access", True)
        permissions.add_permission_for_role(role, "media.factory.construct", True)

    if args.tls_cert is not None:
        from gi.repository import Gio

        try:
            cert = Gio.TlsCertificate.new_from_files(args.tls_cert, args.tls_key)
        except Exception as e:  # GLib.Error
            print(f"rtsp_camera.py: error: --tls-cert/--tls-key: {e}", file=sys.stderr)
            return 2
        tls_auth = server.get_auth() or GstRtspServer.RTSPAuth()
        tls_auth.set_tls_certificate(cert)
        if args.user is None:
            # Anyone may watch: TLS only, no account.
            role = "camera-user"
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", role)
            tls_auth.set_default_token(token)
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role(role, "media.factory.access", True)
            permissions.add_permission_for_role(role, "media.factory.construct", True)
        server.set_auth(tls_auth)

    mounts = server.get_mount_points()
    for path, (launch, shared) in launches.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(shared)
        if permissions is not None:
            factory.set_permissions(permissions)
        spec = args.mounts[path]
        if spec["kind"] == "count" and spec["options"]["inband"]:
            factory.set_media_gtype(inband_media_type(GstRtspServer))
        if spec["kind"] in ("stamp", "count"):

            def on_configure(_factory, media, spec=spec, path=path):
                if spec["kind"] == "count":
                    watch_encoder_output(media.get_element(), path, Gst)
                appsrc = media.get_element().get_by_name(STAMP_SRC)
                stamper = Stamper(Gst, appsrc, spec, log)
                STAMPERS.append(stamper)
                media.connect("unprepared", lambda _m: stamper.stop())
                stamper.start()
                log(f"mount {path}: stamper started")

            factory.connect("media-configure", on_configure)
        mounts.add_factory(path, factory)
        log(f"mount {path}: {'shared' if shared else 'per-client'} {launch}")

    if args.verbose:

        def on_client(_server, client):
            conn = client.get_connection()
            ip = conn.get_ip() if conn else "?"
            log(f"client connected from {ip}")
            client.connect("closed", lambda _c: log(f"client from {ip} closed"))

        server.connect("client-connected", on_client)

    loop = GLib.MainLoop()

    draining = []

    def stop(signum=None):
        if signum is not None:
            log(f"signal {signum}, stopping")
        if args.stats and STAMPERS and not draining:
            # Pictures already encoded are still between the encoder and the
            # network: let them out before the clients go, or the stats
            # would count as sent pictures that never left.
            draining.append(True)
            for stamper in STAMPERS:
                stamper.stop()
            log(f"no more pictures; {DRAIN_SECONDS} s for those encoded to leave")
            GLib.timeout_add(int(DRAIN_SECONDS * 1000), lambda: loop.quit() or GLib.SOURCE_REMOVE)
            return GLib.SOURCE_CONTINUE
        loop.quit()
        return GLib.SOURCE_REMOVE

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, stop, sig)

    if args.exit_with_parent:
        parent = os.getppid()

        def check_parent():
            if os.getppid() != parent:
                log("parent gone, stopping")
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        if parent == 1:
            print(
                "rtsp_camera.py: error: --exit-with-parent but no parent",
                file=sys.stderr,
            )
            return 2
        GLib.timeout_add(250, check_parent)

    try:
        source_id = server.attach(None)
    except Exception as e:  # GLib.Error on some versions
        source_id = 0
        log(f"attach: {e}")
    if not source_id:
        print(
            f"rtsp_camera.py: cannot listen on 127.0.0.1:{args.port} (in use?)",
            file=sys.stderr,
            flush=True,
        )
        return 1

    if args.stats:

        def stats_tick():
            write_stats(args.stats)
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(500, stats_tick)

    scheme = "rtsps" if args.tls_cert else "rtsp"
    print(f"READY {scheme}://127.0.0.1:{args.port}", flush=True)
    loop.run()

    # Drop the clients so their media pipelines stop, then leave without
    # waiting on anything (a stuck pipeline must not delay the exit).
    try:
        server.client_filter(lambda _s, _c: GstRtspServer.RTSPFilterResult.REMOVE)
    except Exception:
        pass
    GLib.source_remove(source_id)
    if args.stats:
        write_stats(args.stats)
    log("exiting")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
