#!/usr/bin/python3
"""Recording benchmark: N RTSP streams recorded by `custos serve`, then by N
`ffmpeg -c copy -f segment` processes (the recorder other NVRs use), from the
same gst-rtsp-server, each for the same wall-clock time.

Reports CPU seconds per stream-minute (user + system, from wait4 of the
recorder processes), memory (peak RSS, and PSS sampled late in the run),
frames recorded against frames expected at the stream's rate, and custos'
fsync and index-commit rates.

    /usr/bin/python3 benches/record.py --streams 16 --seconds 60 [--skip-ffmpeg]

Needs: a release build (cargo build --release -p custos), tests-data/ from
scripts/fixtures.sh (bench-1080p15.mp4: 1080p, 15 fps, ~4 Mbit/s H.264),
ffmpeg/ffprobe, and the GStreamer RTSP server (scripts/install-deps.sh).
"""

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
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


def run_custos(binary, url, streams, seconds, workdir):
    port = free_port()
    cams = "".join(f'[[camera]]\nid = "cam{i:02d}"\nurl = "{url}"\nsegment_seconds = 60\n' for i in range(streams))
    config = os.path.join(workdir, "custos.toml")
    with open(config, "w") as f:
        f.write(f'data_dir = "data"\nsite = "bench"\n[server]\nlisten = "127.0.0.1:{port}"\n{cams}')
    log = open(os.path.join(workdir, "custos.log"), "w")
    env = dict(os.environ, CUSTOS_LOG="info")
    proc = subprocess.Popen([binary, "serve", "--config", config], stderr=log, stdout=subprocess.DEVNULL, env=env)
    started = time.monotonic()
    time.sleep(seconds * 0.8)
    pss = pss_kb(proc.pid)
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
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
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
        "pss_kb": pss,
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/custos"))
    ap.add_argument("--clip", default=os.path.join(ROOT, "tests-data/bench-1080p15.mp4"))
    ap.add_argument("--skip-ffmpeg", action="store_true")
    args = ap.parse_args()
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
            c = run_custos(args.binary, url, n, secs, os.path.join(work, "custos"))
            results["custos"] = c
            if not args.skip_ffmpeg:
                os.makedirs(os.path.join(work, "ffmpeg"))
                results["ffmpeg"] = run_ffmpeg(url, n, secs, os.path.join(work, "ffmpeg"))
        finally:
            cam.terminate()
            cam.wait()
    c = results["custos"]
    print(json.dumps(results, indent=1), file=sys.stderr)
    print(f"\n| N={n}, {secs} s | CPU-s per stream-minute | memory per stream (peak RSS / PSS) | frames recorded / expected |")
    print("|---|---|---|---|")
    print(f"| custos | {c['cpu_s'] / stream_minutes:.3f} | {c['maxrss_kb'] / n / 1024:.2f} MB / {c['pss_kb'] / n / 1024:.2f} MB"
          f" (whole process {c['maxrss_kb'] / 1024:.1f} MB) | {c['frames']} / {c['expected']}, {c['gaps']} gaps |")
    if "ffmpeg" in results:
        f = results["ffmpeg"]
        print(f"| ffmpeg ×{n} | {f['cpu_s'] / stream_minutes:.3f} | {f['maxrss_kb'] / n / 1024:.2f} MB / "
              f"{f['pss_kb'] / n / 1024:.2f} MB | {f['frames']} |")
        print(f"\ncustos / ffmpeg CPU: {c['cpu_s'] / max(f['cpu_s'], 1e-9):.2f}×; "
              f"memory (PSS): {c['pss_kb'] / max(f['pss_kb'], 1):.2f}×")
    print(f"custos group commit: {c['fsyncs_per_s']:.1f} fsyncs/s, {c['commit_ticks_per_s']:.2f} ticks/s, "
          f"{c['transactions_per_s']:.1f} index transactions/s; camera offline events: {c['offline_events']}")


if __name__ == "__main__":
    main()
