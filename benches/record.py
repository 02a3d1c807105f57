#!/usr/bin/python3
"""Recording benchmark: N RTSP streams recorded by `custos serve`, then by N
`ffmpeg -c copy -f segment` processes (the recorder other NVRs use), from the
same gst-rtsp-server, each for the same wall-clock time.

Reports CPU seconds per stream-minute (user + system, from wait4 of the
recorder processes), memory (the whole process's resident memory, VmRSS,
sampled every second while it records: its peak and mean, and PSS late in
the run), pictures recorded against pictures sent, and custos' fsync and
index-commit rates. While custos records, --viewers of the cameras (a
quarter by default) are watched live over the WebSocket, as a guard would.

    /usr/bin/python3 benches/record.py --streams 16 --seconds 60 [--skip-ffmpeg]
        [--clip tests-data/bench-1080p15-nob.mp4] [--viewers K] [--analysis]

It also says how many of the functions crates/custos/link-order.txt lists
the binary still has (scripts/link-order.sh makes the list again).

Needs: a release build (cargo build --release -p custos), tests-data/ from
scripts/fixtures.sh (bench-1080p15.mp4: 1080p, 15 fps, ~4 Mbit/s H.264 with
the encoder's default B-frames; bench-1080p15-nob.mp4 the same without),
ffmpeg/ffprobe, and the GStreamer RTSP server (scripts/install-deps.sh).
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FPS = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_camera(clip):
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(ROOT, "tests/support/rtsp_camera.py"), "--port", str(port),
         "--exit-with-parent", "--mount", f"/bench=file:{clip}"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        sys.exit(f"camera did not start: {line!r}")
    return proc, f"rtsp://127.0.0.1:{port}/bench"


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_breakdown_kb(pid):
    """Resident memory by kind of mapping, from /proc/PID/smaps: the
    binary itself, shared libraries, anonymous memory (heap, stacks,
    malloc arenas) and other files."""
    parts = {"binary": 0, "libraries": 0, "anonymous": 0, "other": 0}
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        kind = "other"
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if not fields:
                    continue
                if "-" in fields[0] and not fields[0].endswith(":"):
                    path = fields[5] if len(fields) > 5 else ""
                    if path == exe:
                        kind = "binary"
                    elif ".so" in path:
                        kind = "libraries"
                    elif path == "" or path.startswith("["):
                        kind = "anonymous"
                    else:
                        kind = "other"
                elif fields[0] == "Rss:":
                    parts[kind] += int(fields[1])
    except OSError:
        pass
    return parts


def children_rss_kb(pid):
    """VmRSS of each child process (the decoding helper, if any)."""
    out = {}
    try:
        # Each thread has its own list: the helper is started from a worker.
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in open(f"/proc/{pid}/task/{task}/children").read().split():
                out[os.path.basename(os.readlink(f"/proc/{child}/exe"))] = vm_rss_kb(int(child))
    except OSError:
        pass
    return out


class LiveViewer(threading.Thread):
    """A live viewer: the WebSocket of GET /api/v1/cameras/{id}/live, read
    as fast as it comes (what a browser's live view receives)."""

    def __init__(self, port, token, camera):
        super().__init__(daemon=True)
        self.port, self.token, self.camera = port, token, camera
        self.bytes = 0
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET /api/v1/cameras/{self.camera}/live HTTP/1.1\r\n"
                       f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                       f"Authorization: Bearer {self.token}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("closed during the handshake")
                head += chunk
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                raise OSError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            self.bytes += len(head.split(b"\r\n\r\n", 1)[1])
            while not self.stop.is_set():
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                self.bytes += len(chunk)
        except OSError as e:
            self.error = str(e)


def custos_token(binary, config):
    """An admin and a token for the live viewers."""
    add = subprocess.run([binary, "user", "add", "bench", "--role", "admin", "--password-stdin",
                          "--config", config], input="a long bench password\n", text=True,
                         capture_output=True)
    if add.returncode != 0:
        sys.exit(f"user add: {add.stderr}")
    tok = subprocess.run([binary, "token", "create", "bench", "--config", config], text=True,
                         capture_output=True)
    if tok.returncode != 0:
        sys.exit(f"token create: {tok.stderr}")
    return tok.stdout.strip()


def run_custos(binary, url, streams, seconds, workdir, viewers, analysis):
    port = free_port()
    # Recording alone by default: the analysis of pictures has its own
    # benchmark (`custos bench analysis`).
    cams = "".join(f'[[camera]]\nid = "cam{i:02d}"\nurl = "{url}"\nsegment_seconds = 60\n'
                   f'analysis = {"true" if analysis else "false"}\n'
                   for i in range(streams))
    config = os.path.join(workdir, "custos.toml")
    with open(config, "w") as f:
        f.write(f'data_dir = "data"\nsite = "bench"\n[server]\nlisten = "127.0.0.1:{port}"\n{cams}')
    token = custos_token(binary, config) if viewers else None
    log = open(os.path.join(workdir, "custos.log"), "w")
    env = dict(os.environ, CUSTOS_LOG="info")
    proc = subprocess.Popen([binary, "serve", "--config", config], stderr=log, stdout=subprocess.DEVNULL, env=env)
    started = time.monotonic()
    # Viewers join once the cameras record, as guards open the live page.
    time.sleep(min(5.0, seconds * 0.1))
    watching = [LiveViewer(port, token, f"cam{i:02d}") for i in range(viewers)]
    for v in watching:
        v.start()
    rss = []
    pss = 0
    breakdown, children = {}, {}
    while time.monotonic() - started < seconds:
        time.sleep(1.0)
        rss.append(vm_rss_kb(proc.pid))
        if not pss and time.monotonic() - started >= seconds * 0.8:
            pss = pss_kb(proc.pid)
            breakdown = rss_breakdown_kb(proc.pid)
            children = children_rss_kb(proc.pid)
    for v in watching:
        v.stop.set()
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    log.close()
    if status != 0:
        sys.exit(f"custos exited with status {status}; see {workdir}/custos.log")
    text = open(os.path.join(workdir, "custos.log")).read()
    m = re.search(r"group commit totals.*?ticks\W*=\W*(\d+).*?fsyncs\W*=\W*(\d+).*?transactions\W*=\W*(\d+)",
                  re.sub(r"\x1b\[[0-9;]*m", "", text))
    ticks, fsyncs, txns = (int(x) for x in m.groups()) if m else (0, 0, 0)
    db = sqlite3.connect(os.path.join(workdir, "data", "custos.db"))
    frames, expected, gaps = 0, 0, 0
    for cam in range(streams):
        rows = db.execute("SELECT start_ms, end_ms, frames FROM segments WHERE camera = ? AND state = 'sealed' "
                          "ORDER BY start_ms", (f"cam{cam:02d}",)).fetchall()
        frames += sum(r[2] for r in rows)
        if rows:
            expected += round((rows[-1][1] - rows[0][0]) * FPS / 1000)
            gaps += sum(1 for a, b in zip(rows, rows[1:]) if b[0] - a[1] > 100)
    offline = len(re.findall(r"camera offline", text))
    steady = rss[len(rss) // 4:] or rss or [0]
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
        "rss_peak_kb": max(rss or [0]),
        "rss_mean_kb": sum(steady) / len(steady),
        "pss_kb": pss,
        "rss_breakdown_kb": breakdown,
        "children_rss_kb": children,
        "viewers": viewers,
        "viewer_mbytes": sum(v.bytes for v in watching) / 1e6,
        "viewer_errors": [v.error for v in watching if v.error],
        "frames": frames,
        "expected": expected,
        "gaps": gaps,
        "offline_events": offline,
        "fsyncs_per_s": fsyncs / seconds,
        "commit_ticks_per_s": ticks / seconds,
        "transactions_per_s": txns / seconds,
    }


def run_ffmpeg(url, streams, seconds, workdir):
    procs = []
    for i in range(streams):
        out = os.path.join(workdir, f"ff{i:02d}")
        os.makedirs(out, exist_ok=True)
        procs.append(subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
             "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1", os.path.join(out, "%03d.mp4")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(out, "ffmpeg.log"), "w")))
    time.sleep(seconds * 0.8)
    pss = sum(pss_kb(p.pid) for p in procs)
    time.sleep(seconds * 0.2)
    cpu, maxrss = 0.0, 0
    for p in procs:
        p.send_signal(signal.SIGINT)  # ffmpeg finishes its files on SIGINT
    for p in procs:
        _, _, usage = os.wait4(p.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        maxrss += usage.ru_maxrss
    frames = 0
    for i in range(streams):
        out = os.path.join(workdir, f"ff{i:02d}")
        for name in sorted(os.listdir(out)):
            if name.endswith(".mp4"):
                r = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                    "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                                    os.path.join(out, name)], capture_output=True, text=True)
                frames += int(r.stdout.strip() or 0)
    return {"cpu_s": cpu, "maxrss_kb": maxrss, "pss_kb": pss, "frames": frames}


def link_order_report(binary):
    """How many of the functions listed in crates/custos/link-order.txt the
    binary still has (the rest were renamed or removed since the list was
    made: scripts/link-order.sh makes it again). None when not an ELF file."""
    listed = []
    path = os.path.join(ROOT, "crates/custos/link-order.txt")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            name = line.split("#", 1)[0].strip()
            if name:
                listed.append(name)
    r = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    present = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
    return sum(1 for name in listed if name in present), len(listed)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/custos"))
    ap.add_argument("--clip", default=os.path.join(ROOT, "tests-data/bench-1080p15.mp4"))
    ap.add_argument("--skip-ffmpeg", action="store_true")
    ap.add_argument("--viewers", type=int, default=None,
                    help="cameras watched live while custos records (default: a quarter)")
    ap.add_argument("--analysis", action="store_true",
                    help="analyse every camera's pictures too (off: recording alone)")
    args = ap.parse_args()
    viewers = args.streams // 4 if args.viewers is None else args.viewers
    for path in (args.binary, args.clip):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing (cargo build --release -p custos; scripts/fixtures.sh)")
    if args.seconds > 65:
        sys.exit("the bench clip is 70 s long and each client plays it once: use --seconds 65 or less")
    n, secs = args.streams, args.seconds
    stream_minutes = n * secs / 60
    results = {"streams": n, "seconds": secs}
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as work:
        cam, url = start_camera(args.clip)
        try:
            os.makedirs(os.path.join(work, "custos"))
            c = run_custos(args.binary, url, n, secs, os.path.join(work, "custos"), viewers, args.analysis)
            results["custos"] = c
            if not args.skip_ffmpeg:
                os.makedirs(os.path.join(work, "ffmpeg"))
                results["ffmpeg"] = run_ffmpeg(url, n, secs, os.path.join(work, "ffmpeg"))
        finally:
            cam.terminate()
            cam.wait()
    c = results["custos"]
    print(json.dumps(results, indent=1), file=sys.stderr)
    print(f"\nclip {os.path.basename(args.clip)}; {c['viewers']} cameras watched live "
          f"({c['viewer_mbytes']:.0f} MB received{', errors: ' + '; '.join(c['viewer_errors']) if c['viewer_errors'] else ''})")
    print(f"\n| N={n}, {secs} s | CPU-s per stream-minute | memory per stream (VmRSS peak / mean while recording; PSS) | frames recorded / expected |")
    print("|---|---|---|---|")
    print(f"| custos | {c['cpu_s'] / stream_minutes:.3f} | {c['rss_peak_kb'] / n / 1024:.2f} MB / {c['rss_mean_kb'] / n / 1024:.2f} MB;"
          f" {c['pss_kb'] / n / 1024:.2f} MB (whole process peak {c['rss_peak_kb'] / 1024:.1f} MB) |"
          f" {c['frames']} / {c['expected']}, {c['gaps']} gaps |")
    parts = ", ".join(f"{k} {v / 1024:.1f} MB" for k, v in c["rss_breakdown_kb"].items())
    kids = ", ".join(f"{k} {v / 1024:.1f} MB" for k, v in c["children_rss_kb"].items()) or "none"
    print(f"\ncustos resident at 80 % of the run: {parts}; child processes: {kids}\n")
    if "ffmpeg" in results:
        f = results["ffmpeg"]
        print(f"| ffmpeg ×{n} | {f['cpu_s'] / stream_minutes:.3f} | {f['maxrss_kb'] / n / 1024:.2f} MB / "
              f"{f['pss_kb'] / n / 1024:.2f} MB | {f['frames']} |")
        print(f"\ncustos / ffmpeg CPU: {c['cpu_s'] / max(f['cpu_s'], 1e-9):.2f}×; "
              f"memory (PSS): {c['pss_kb'] / max(f['pss_kb'], 1):.2f}×")
    order = link_order_report(args.binary)
    if order:
        print(f"functions of crates/custos/link-order.txt in the binary: {order[0]} of {order[1]}")
    print(f"custos group commit: {c['fsyncs_per_s']:.1f} fsyncs/s, {c['commit_ticks_per_s']:.2f} ticks/s, "
          f"{c['transactions_per_s']:.1f} index transactions/s; camera offline events: {c['offline_events']}")


if __name__ == "__main__":
    main()
