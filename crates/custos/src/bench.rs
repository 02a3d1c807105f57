//! `custos bench verify-site`: how long `custos verify --config` takes on a
//! site holding many cameras' worth of sealed segments.
//!
//! It builds a site through the real paths (segment rows and their log
//! entries committed together in the index, the site log writer moving them
//! into the Merkle log and signing checkpoints), then times `verify_site`
//! on it, and times `sha256sum` over the same files as a peer doing only
//! the hashing part of the job.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use custos_site::data_dir::DataDir;
use custos_store::{RecoveredSegment, Store};
use sha2::{Digest, Sha256};

use custos_site::facts;

/// What to build.
pub struct VerifySiteBench {
    pub cameras: u32,
    pub days: u32,
    pub segment_seconds: u32,
    pub file_bytes: usize,
    /// Parent directory of the site (a fresh subdirectory is made).
    pub dir: PathBuf,
    pub keep: bool,
}

/// Rows (and log entries) per index transaction while building.
const BUILD_BATCH: usize = 10_000;

pub fn verify_site(bench: &VerifySiteBench) -> anyhow::Result<()> {
    if bench.cameras == 0 || bench.days == 0 || bench.segment_seconds == 0 {
        bail!("--cameras, --days and --segment-seconds must be positive");
    }
    let per_camera = u64::from(bench.days) * 86_400 / u64::from(bench.segment_seconds);
    let total = per_camera * u64::from(bench.cameras);
    std::fs::create_dir_all(&bench.dir)
        .with_context(|| format!("creating {}", bench.dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("custos-bench-site-")
        .tempdir_in(&bench.dir)
        .with_context(|| format!("creating a site directory in {}", bench.dir.display()))?;
    let data_dir = tmp.path().to_owned();
    println!(
        "building a site: {} cameras x {} days of {} s segments = {total} segments of {} bytes in {}",
        bench.cameras,
        bench.days,
        bench.segment_seconds,
        bench.file_bytes,
        data_dir.display()
    );

    let build = Instant::now();
    let layout = DataDir::new(&data_dir);
    let store = Store::open(&layout.index())?;
    let key = custos_site::sitelog::signing_key(&data_dir, "bench")?;
    let verifier = key.verifier();
    let site_log =
        custos_site::sitelog::SiteLog::start(Store::open(&layout.index())?, &data_dir, key)?;
    let start_ms: i64 = 1_767_225_600_000; // 2026-01-01
    let seg_ms = i64::from(bench.segment_seconds) * 1000;
    let mut rows = Vec::with_capacity(BUILD_BATCH);
    let mut leaves = Vec::with_capacity(BUILD_BATCH);
    let mut content = vec![0u8; bench.file_bytes];
    let mut bytes_total = 0u64;
    for camera in 0..bench.cameras {
        let name = format!("cam-{camera:02}");
        std::fs::create_dir_all(layout.camera_video(&name))?;
        for n in 0..per_camera {
            let seg_start = start_ms + n as i64 * seg_ms;
            let file = layout.camera_video(&name).join(format!("{seg_start}.mp4"));
            let path = layout.relative(&file);
            fill(&mut content, u64::from(camera) << 40 | n);
            let mut f = std::fs::File::create(&file).with_context(|| format!("writing {path}"))?;
            f.write_all(&content)?;
            let sha256 = hex::encode(Sha256::digest(&content));
            bytes_total += content.len() as u64;
            let row = RecoveredSegment {
                camera: name.clone(),
                path,
                start_ms: seg_start,
                end_ms: seg_start + seg_ms,
                bytes: content.len() as u64,
                frames: u64::from(bench.segment_seconds) * 15,
                sha256,
                codec: "avc1.640028".into(),
                width: Some(1920),
                height: Some(1080),
                sealed_ms: seg_start + seg_ms,
            };
            leaves.push(facts::segment_sealed(
                &facts::SealedSegment {
                    camera: &row.camera,
                    path: &row.path,
                    start_ms: row.start_ms,
                    end_ms: row.end_ms,
                    bytes: row.bytes,
                    frames: row.frames,
                    sha256: &row.sha256,
                },
                false,
            )?);
            rows.push(row);
            if rows.len() == BUILD_BATCH {
                commit(&store, &mut rows, &mut leaves)?;
            }
        }
    }
    commit(&store, &mut rows, &mut leaves)?;
    // Shutting the writer down drains the outbox and signs the last checkpoint.
    site_log.shutdown();
    if store.log_applied_size()? != total {
        bail!(
            "the log holds {} entries, expected {total}",
            store.log_applied_size()?
        );
    }
    println!(
        "built in {:.1} s ({:.1} MB of files)",
        build.elapsed().as_secs_f64(),
        bytes_total as f64 / 1e6
    );

    let t = Instant::now();
    let report = custos_site::integrity::verify_site(&store, &data_dir, &verifier)?;
    let ours = t.elapsed().as_secs_f64();
    if !report.ok() {
        bail!("the benchmark site does not verify: {report}");
    }
    println!(
        "custos verify: {ours:.2} s for {} segments, {} log entries, {} checkpoints \
         ({:.1} µs per segment)",
        report.checked_segments,
        report.checked_entries,
        report.checked_checkpoints,
        ours * 1e6 / report.checked_segments.max(1) as f64
    );

    let t = Instant::now();
    let peer = sha256sum_all(&layout.video())?;
    let theirs = t.elapsed().as_secs_f64();
    println!(
        "peer: sha256sum over the same {peer} files: {theirs:.2} s; custos verify / sha256sum = {:.2}",
        ours / theirs
    );
    if bench.keep {
        let kept = tmp.keep();
        println!("site kept in {}", kept.display());
    }
    Ok(())
}

fn commit(
    store: &Store,
    rows: &mut Vec<RecoveredSegment>,
    leaves: &mut Vec<Vec<u8>>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    store.write("adopting segments", |tx| {
        tx.log_all(std::mem::take(leaves));
        tx.insert_sealed_segments(rows)
    })?;
    rows.clear();
    Ok(())
}

/// Fills `buf` with bytes that differ for every `seed` (xorshift64*), so
/// every file has its own hash.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// Runs `sha256sum` over every file under `dir` (via `find | xargs`, as an
/// administrator would); returns how many files it hashed.
fn sha256sum_all(dir: &Path) -> anyhow::Result<usize> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 sha256sum")
        .arg("sh")
        .arg(dir)
        .output()
        .context("running find | xargs sha256sum")?;
    if !out.status.success() {
        bail!(
            "sha256sum failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count())
}

/// CPU time this thread has used, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass; RUSAGE_THREAD is Linux's.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// One pass over `file`: decode every picture on one thread (of the libav
/// helper) and analyse them at `analyse` pictures per second (`None`:
/// none). Returns (pictures, pictures analysed, CPU seconds of this thread
/// and the helper, seconds of video).
fn analysis_pass(file: &Path, analyse: Option<u32>) -> anyhow::Result<(u64, u64, f64, f64)> {
    use custos_vision::Analyzer;
    let settings = custos_site::camera::AnalysisSettings::default();
    let mut analyzer =
        Analyzer::new(settings.analyzer_config()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut decoder = custos_media::decode::FileDecoder::open(file, 1)?;
    let mut sampler = analyse.map(custos_site::analysis::Sampler::new);
    // Decoding happens in the helper: its CPU time is part of the path.
    let helper_cpu = || custos_media::decode::helper_cpu_seconds().unwrap_or(0.0);
    let cpu0 = thread_cpu_seconds() + helper_cpu();
    let (mut pictures, mut analysed) = (0u64, 0u64);
    let mut checksum = 0u64;
    let (mut first_ms, mut last_ms) = (None, 0i64);
    while let Some(t) = decoder.next_picture()? {
        pictures += 1;
        first_ms.get_or_insert(t);
        last_ms = last_ms.max(t);
        let luma = decoder.decoder().luma()?;
        // Touch the picture even when not analysing it, so that the
        // decode-only pass pays for getting at the pixels too.
        checksum = checksum.wrapping_add(u64::from(luma.data[luma.data.len() / 2]));
        if let Some(s) = sampler.as_mut() {
            if s.take(t) {
                analyser_push(&mut analyzer, &luma, t);
                analysed += 1;
            }
        }
    }
    std::hint::black_box(checksum);
    let cpu = thread_cpu_seconds() + helper_cpu() - cpu0;
    // The last picture lasts one frame interval too.
    let span_ms = last_ms - first_ms.unwrap_or(0);
    let video_s = span_ms as f64 / 1000.0 * pictures as f64 / (pictures.max(2) - 1) as f64;
    Ok((pictures, analysed, cpu, video_s))
}

fn analyser_push(
    analyzer: &mut custos_vision::Analyzer,
    luma: &custos_media::decode::Luma<'_>,
    t: i64,
) {
    let updates = analyzer.push(&custos_vision::LumaFrame {
        width: luma.width,
        height: luma.height,
        stride: luma.stride,
        data: luma.data,
        pts_ms: t,
    });
    std::hint::black_box(updates);
}

/// CPU seconds `custos-av decode-cpu` takes to decode `file` and take
/// every picture's luma on one thread, in its own process.
fn libav_alone(file: &Path) -> anyhow::Result<f64> {
    let helper = custos_media::decode::helper_path()?;
    let out = std::process::Command::new(&helper)
        .arg("decode-cpu")
        .arg(file)
        .output()
        .with_context(|| format!("running {}", helper.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let cpu = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok());
    match cpu {
        Some(cpu) if out.status.success() => Ok(cpu),
        _ => bail!(
            "{} decode-cpu failed: {}",
            helper.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// `custos bench analysis`: decode alone, decode + analysis of every
/// picture, and decode + analysis at 5 fps, each on one thread, beside
/// `ffmpeg -threads 1` decoding the same file.
pub fn analysis(file: &Path) -> anyhow::Result<()> {
    println!("file: {}", file.display());
    // Peer: FFmpeg's own command-line decoder, one thread, no output.
    let t = Instant::now();
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-threads",
            "1",
            "-i",
        ])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .context("running ffmpeg")?;
    if !out.status.success() {
        bail!(
            "ffmpeg failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let ffmpeg_s = t.elapsed().as_secs_f64();

    // The passes alternate and each keeps its fastest round: the least
    // disturbed by whatever else the machine does. The first measures
    // libav alone in the helper's binary, without the pipe.
    const ROUNDS: usize = 5;
    let (mut decode_s, mut every_s, mut five_s) = (f64::MAX, f64::MAX, f64::MAX);
    let (mut pictures, mut all, mut five, mut video_s) = (0, 0, 0, 0.0);
    let mut libav_s = f64::MAX;
    for _ in 0..ROUNDS {
        libav_s = libav_s.min(libav_alone(file)?);
        let (p, _, s, v) = analysis_pass(file, None)?;
        (pictures, video_s, decode_s) = (p, v, decode_s.min(s));
        let (_, a, s, _) = analysis_pass(file, Some(1000))?;
        (all, every_s) = (a, every_s.min(s));
        let (_, f, s, _) = analysis_pass(file, Some(5))?;
        (five, five_s) = (f, five_s.min(s));
    }
    println!("best of {ROUNDS} rounds, CPU time of this thread and the decoding helper");
    let fps = |s: f64| pictures as f64 / s;
    println!(
        "ffmpeg -threads 1 decode:          {pictures} pictures in {ffmpeg_s:.2} s wall = {:.0} pictures/s",
        fps(ffmpeg_s)
    );
    println!(
        "custos decode only:                {pictures} pictures in {decode_s:.2} CPU-s = {:.0} pictures/s ({:.2}x ffmpeg's time)",
        fps(decode_s),
        decode_s / ffmpeg_s
    );
    println!(
        "libav alone, in custos-av:         {pictures} pictures in {libav_s:.2} CPU-s; the pipe to the helper adds {:.1} %",
        (decode_s / libav_s - 1.0) * 100.0
    );
    println!(
        "custos decode + analyse all:       {all} analysed in {every_s:.2} CPU-s = {:.0} pictures/s; analysis adds {:.1} % to decoding, {:.3} ms per picture",
        fps(every_s),
        (every_s / decode_s - 1.0) * 100.0,
        (every_s - decode_s) * 1000.0 / all.max(1) as f64
    );
    println!(
        "custos decode + analyse at 5 fps:  {five} analysed in {five_s:.2} CPU-s; analysis adds {:.1} % to decoding",
        (five_s / decode_s - 1.0) * 100.0
    );
    println!(
        "one core keeps up with {:.0} such cameras ({:.0} fps decoded, 5 fps analysed)",
        video_s / five_s,
        pictures as f64 / video_s
    );
    Ok(())
}

/// `custos bench import`: a fresh register gets 100 rooms, 1,000 people and
/// `items` items from CSV through the same path as `custos register
/// import` (parse and check every row, insert in one transaction with a log
/// entry per row, durable commit); beside it, the sqlite3 shell's `.import`
/// of the same items.csv into a table with the same primary key (no checks,
/// no log).
pub fn import(items: usize, dir: &Path) -> anyhow::Result<()> {
    use custos_site::register::{import, ImportKind};

    let work = tempfile::Builder::new()
        .prefix("custos-bench-import-")
        .tempdir_in(dir)
        .with_context(|| format!("creating a directory in {}", dir.display()))?;
    let store = custos_store::Store::open(&DataDir::new(work.path()).index())?;
    let RegisterCsv {
        locations,
        people,
        items: csv,
    } = register_csv(items);
    let csv_path = work.path().join("items.csv");
    std::fs::write(&csv_path, &csv).context("writing items.csv")?;
    let no_cameras = |_: &str| true;
    let now = custos_site::clock::now_ms();
    import(
        &store,
        "bench",
        ImportKind::Locations,
        locations.as_bytes(),
        &no_cameras,
        now,
        &mut |_, _| {},
    )
    .map_err(|e| anyhow::anyhow!("locations: {e}"))?;
    import(
        &store,
        "bench",
        ImportKind::People,
        people.as_bytes(),
        &no_cameras,
        now,
        &mut |_, _| {},
    )
    .map_err(|e| anyhow::anyhow!("people: {e}"))?;

    let t = Instant::now();
    let summary = import(
        &store,
        "bench",
        ImportKind::Items,
        csv.as_bytes(),
        &no_cameras,
        now,
        &mut |_, _| {},
    )
    .map_err(|e| anyhow::anyhow!("items: {e}"))?;
    let custos_s = t.elapsed().as_secs_f64();

    let peer_db = work.path().join("peer.db");
    let t = Instant::now();
    let out = std::process::Command::new("sqlite3")
        .arg(&peer_db)
        .arg("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE items (barcode TEXT PRIMARY KEY, title TEXT, reference TEXT, classification TEXT, home_location TEXT);")
        .arg(format!(".import --csv --skip 1 {} items", csv_path.display()))
        .output()
        .context("running sqlite3 (Debian package sqlite3)")?;
    let peer_s = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "sqlite3 failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    println!(
        "items.csv: {} rows, {:.1} MB",
        summary.rows,
        csv.len() as f64 / 1e6
    );
    println!(
        "custos register import: {:.2} s = {:.0} rows/s (checks every row, one transaction, {} log entries queued)",
        custos_s,
        summary.rows as f64 / custos_s,
        summary.rows + 1
    );
    println!(
        "sqlite3 .import:        {:.2} s = {:.0} rows/s; custos / sqlite3 = {:.2}",
        peer_s,
        summary.rows as f64 / peer_s,
        custos_s / peer_s
    );
    Ok(())
}

/// The CSV files of a register: 100 rooms, 1,000 people and many items.
struct RegisterCsv {
    locations: String,
    people: String,
    items: String,
}

fn register_csv(items: usize) -> RegisterCsv {
    use std::fmt::Write as _;
    let rooms = 100;
    let mut locations = String::from("code,name,kind,room,coverage\n");
    for r in 0..rooms {
        let _ = writeln!(locations, "R{r:03},Room {r},room,,");
    }
    let mut people = String::from("staff_id,name,role,badge\n");
    for p in 0..1000 {
        let _ = writeln!(people, "S{p:04},Person {p},staff,B{p:04}");
    }
    let mut csv = String::from("barcode,title,reference,classification,home_location\n");
    for i in 0..items {
        let _ = writeln!(
            csv,
            "BX{i:08},\"Correspondence, box {i}\",F{}/S{}/{i},open,R{:03}",
            i % 97,
            i % 13,
            i % rooms
        );
    }
    RegisterCsv {
        locations,
        people,
        items: csv,
    }
}

/// `custos bench api-latency`: a real site (`custos serve` from the binary
/// `custos`, over HTTP on loopback) imports `items` items through
/// `POST /api/v1/register/import` while two clients poll
/// `GET /api/v1/cameras` and `GET /api/v1/items?limit=1` with a bearer token;
/// prints the latency percentiles of the polls made during the import.
pub fn api_latency(items: usize, dir: &Path, custos: &Path) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let work = tempfile::Builder::new()
        .prefix("custos-bench-api-")
        .tempdir_in(dir)
        .with_context(|| format!("creating a directory in {}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let config = work.path().join("custos.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"data\"\nsite = \"bench\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .context("writing custos.toml")?;
    let cli = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<String> {
        let mut child = std::process::Command::new(custos)
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("running {} {}", custos.display(), args.join(" ")))?;
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes()).context("writing stdin")?;
        }
        let out = child.wait_with_output().context("waiting for custos")?;
        if !out.status.success() {
            bail!(
                "custos {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    cli(
        &[
            "user",
            "add",
            "bench",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long bench password\n"),
    )?;
    let token = cli(&["token", "create", "bench"], None)?;
    let log = std::fs::File::create(work.path().join("serve.log")).context("creating serve.log")?;
    let mut serve = ServeProcess(
        std::process::Command::new(custos)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} serve", custos.display()))?,
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while http(addr, "GET", "/api/v1/health", None, &[])
        .ok()
        .map(|(status, _)| status)
        != Some(200)
    {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            bail!("custos serve did not answer within 30 s (see serve.log)");
        }
        if let Some(status) = serve.0.try_wait().context("watching custos serve")? {
            bail!("custos serve exited: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let csv = register_csv(items);
    for (kind, body) in [("locations", &csv.locations), ("people", &csv.people)] {
        let (status, text) = http(
            addr,
            "POST",
            &format!("/api/v1/register/import?kind={kind}"),
            Some(&token),
            body.as_bytes(),
        )?;
        if status != 201 {
            bail!("importing {kind}: {status} {text}");
        }
    }

    let importing = Arc::new(AtomicBool::new(true));
    let pollers: Vec<_> = ["/api/v1/cameras", "/api/v1/items?limit=1"]
        .into_iter()
        .map(|path| {
            let (importing, token) = (Arc::clone(&importing), token.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
                let mut ms = Vec::new();
                while importing.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let (status, text) = http(addr, "GET", path, Some(&token), &[])?;
                    if status != 200 {
                        bail!("GET {path}: {status} {text}");
                    }
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                Ok(ms)
            })
        })
        .collect();
    let t = Instant::now();
    let imported = http(
        addr,
        "POST",
        "/api/v1/register/import?kind=items",
        Some(&token),
        csv.items.as_bytes(),
    );
    let import_s = t.elapsed().as_secs_f64();
    importing.store(false, Ordering::Relaxed);
    let mut polled = Vec::new();
    for poller in pollers {
        polled.push(
            poller
                .join()
                .map_err(|_| anyhow::anyhow!("a polling thread panicked"))??,
        );
    }
    let (status, text) = imported?;
    if status != 201 {
        bail!("importing items: {status} {text}");
    }
    println!(
        "POST /api/v1/register/import?kind=items: {} rows, {:.1} MB, {import_s:.2} s",
        items,
        csv.items.len() as f64 / 1e6
    );
    for (path, mut ms) in ["GET /api/v1/cameras", "GET /api/v1/items?limit=1"]
        .into_iter()
        .zip(polled)
    {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        if ms.is_empty() {
            println!("{path}: no request completed during the import");
            continue;
        }
        println!(
            "{path}: {} requests during the import; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    Ok(())
}

/// `custos serve` started by the benchmark, stopped when dropped (also when
/// the benchmark fails half way).
struct ServeProcess(std::process::Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`, so the
/// answer ends with the connection): its status and body. Enough for a
/// loopback benchmark; the binary has no HTTP client otherwise.
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> anyhow::Result<(u16, String)> {
    use std::io::Read;
    let mut stream =
        std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: text/csv\r\n"
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .and_then(|()| stream.write_all(body))
    .with_context(|| format!("sending {method} {path}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .with_context(|| format!("reading the answer to {method} {path}"))?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{method} {path}: not an HTTP answer: {:.80}", text))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_owned()))
}
