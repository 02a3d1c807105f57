//! `custos bench catch-up`: a site that was cut off from its central office
//! for days sends its backlog of log entries to a real `custos central
//! serve` (started here on the configured PostgreSQL) through the site's
//! own shipper, gzipped and paced under `[central] max_kbps`.
//!
//! The backlog is what a steady site logs: for each camera a sealed
//! segment every `segment_seconds` and the deletion of the oldest one
//! (retention keeps pace), motion events (start and end), and custody
//! events at the desk. It is co-signed in one checkpoint, as the site's
//! witness thread does when the link is back, then shipped. The figures:
//! bytes on the wire per site-day, against the entries' own bytes and
//! against their base64 notes uncompressed (what went before), the time
//! taken against the cap's floor, and the rate kept.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use custos_central::config::CentralConfig;
use custos_central::{db, mirror, now_ms, sites};
use custos_ledger::catalogue::{
    leaf, AnalysisEvent, AnalysisStarted, CustodyEvent, SealedSegment, SegmentDeleted,
    SegmentSealed,
};
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use custos_site::central_mirror::Shipper;
use custos_site::central_wire::Throttle;

use crate::bench_central::Child;

/// What to simulate.
pub struct CatchUpBench {
    pub config: PathBuf,
    pub days: u32,
    pub cameras: u32,
    pub segment_seconds: u32,
    /// Motion events per camera per day.
    pub motion_per_day: u32,
    /// Custody events per day at the site.
    pub custody_per_day: u32,
    /// The cap; `None`: as fast as the link goes.
    pub max_kbps: Option<u32>,
}

/// A hex string that looks like a SHA-256 (and compresses like one).
fn fake_sha256(n: u64) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(n.to_le_bytes()))
}

/// The entries a steady site logs over `bench.days`, in time order.
fn backlog(bench: &CatchUpBench, start_ms: i64) -> anyhow::Result<Vec<Vec<u8>>> {
    let day_ms = 86_400_000i64;
    let seg_ms = i64::from(bench.segment_seconds) * 1000;
    let mut timed: Vec<(i64, Vec<u8>)> = Vec::new();
    let zones = vec!["desk".to_owned()];
    let mut n = 0u64;
    for c in 0..bench.cameras {
        let camera = format!("camera-{c:02}");
        let mut t = start_ms + i64::from(c) * 97;
        let end = start_ms + i64::from(bench.days) * day_ms;
        while t < end {
            n += 1;
            let path = format!("video/{camera}/{t}.mp4");
            let sha = fake_sha256(n);
            // A 1080p camera at 2 Mbit/s and 15 frames a second.
            let sealed = SegmentSealed {
                segment: SealedSegment {
                    camera: &camera,
                    path: &path,
                    start_ms: t,
                    end_ms: t + seg_ms - 67,
                    bytes: 15_000_000 + n % 400_000,
                    frames: u64::from(bench.segment_seconds) * 15,
                    sha256: &sha,
                },
                recovered: None,
            };
            timed.push((t + seg_ms, leaf(t + seg_ms, &sealed)?));
            // Retention deletes a segment as old as the days kept.
            let old = format!("video/{camera}/{}.mp4", t - 30 * day_ms);
            let old_sha = fake_sha256(n + (1 << 40));
            let deleted = SegmentDeleted {
                camera: &camera,
                path: &old,
                sha256: Some(&old_sha),
                reason: "retention",
                by: "retention",
            };
            timed.push((t + seg_ms + 5, leaf(t + seg_ms + 5, &deleted)?));
            t += seg_ms;
        }
        for day in 0..bench.days {
            for m in 0..bench.motion_per_day {
                let at = start_ms
                    + i64::from(day) * day_ms
                    + i64::from(m) * (day_ms / i64::from(bench.motion_per_day.max(1)));
                let started = AnalysisStarted {
                    camera: &camera,
                    kind: "motion",
                    start_ms: at,
                    zones: &zones,
                    score_milli: 180 + i64::from(m % 500),
                };
                timed.push((at, leaf(at, &started)?));
                let snapshot = fake_sha256(u64::from(m) + (2 << 40));
                let ended = AnalysisEvent {
                    camera: &camera,
                    kind: "motion",
                    event: i64::from(day * 10_000 + m),
                    start_ms: at,
                    end_ms: at + 14_000,
                    zones: &zones,
                    score_milli: 420 + i64::from(m % 500),
                    snapshot_sha256: Some(&snapshot),
                };
                timed.push((at + 14_000, leaf(at + 14_000, &ended)?));
            }
        }
    }
    let cameras = serde_json::json!([{"camera": "camera-00", "zone": "desk"}]);
    for day in 0..bench.days {
        for e in 0..bench.custody_per_day {
            let at = start_ms
                + i64::from(day) * day_ms
                + 8 * 3_600_000
                + i64::from(e) * (9 * 3_600_000 / i64::from(bench.custody_per_day.max(1)));
            let barcode = format!("F-{:05}", (day * 131 + e * 7) % 20_000);
            let checkout = e % 2 == 0;
            let event = CustodyEvent {
                event: i64::from(day * 1000 + e),
                barcode: &barcode,
                action: if checkout { "check_out" } else { "check_in" },
                at_ms: at,
                by: "desk",
                person: Some("r.dubois"),
                holder: checkout.then_some("r.dubois"),
                location: (!checkout).then_some("S-04"),
                details: &serde_json::json!({}),
                cameras: &cameras,
            };
            timed.push((at, leaf(at, &event)?));
        }
    }
    timed.sort_by_key(|(t, _)| *t);
    Ok(timed.into_iter().map(|(_, l)| l).collect())
}

pub fn catch_up(bench: CatchUpBench) -> anyhow::Result<()> {
    let config = CentralConfig::load(&bench.config).map_err(|e| anyhow!("{e}"))?;
    let runtime = crate::runtime()?;
    let dir = tempfile::tempdir().context("a temporary directory for the site's log")?;

    // The backlog, written to a real log as the site writes it.
    let made = Instant::now();
    let start_ms = now_ms() - i64::from(bench.days) * 86_400_000;
    let entries = backlog(&bench, start_ms)?;
    let leaf_bytes: usize = entries.iter().map(Vec::len).sum();
    let mut log = LogStorage::open(&dir.path().join("log"))?;
    for chunk in entries.chunks(10_000) {
        log.append_batch(chunk)?;
    }
    let size = log.size();
    println!(
        "backlog: {} days × {} cameras, segments of {} s: {size} entries, {:.1} MB of entries (made in {:.1} s)",
        bench.days,
        bench.cameras,
        bench.segment_seconds,
        leaf_bytes as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );
    let name = format!("catchup-{}", now_ms());
    let key = SigningKey::generate(&format!("{name}.bench/log")).map_err(|e| anyhow!("{e}"))?;
    // What the same batches weigh as notes, uncompressed.
    let mut note_bytes = 0usize;
    let mut from = 0usize;
    while from < entries.len() {
        let mut to = from;
        let mut bytes = 0;
        while to < entries.len() && (to == from || bytes < custos_report::entries::MAX_BATCH_BYTES)
        {
            bytes += entries[to].len();
            to += 1;
        }
        note_bytes += custos_report::entries::sign(from as u64, &entries[from..to], &key)
            .map_err(|e| anyhow!("{e}"))?
            .len();
        from = to;
    }
    drop(entries);

    let base = format!("http://{}", config.listen);
    let _centre = Child::central_serve(&bench.config)?;
    let pool = runtime.block_on(db::connect(&config.database.url, 2))?;
    let code = runtime.block_on(sites::add(&pool, &name, "bench"))?.code;
    wait_until_up(&base)?;

    // Enrolled and co-signed as the site's own threads do it.
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    agent
        .post(&format!("{base}/api/v1/enrol"))
        .send_json(serde_json::json!({"code": code, "log_key": key.verifier().to_string()}))
        .context("enrolling")?;
    let checkpoint = sign_checkpoint(
        &Checkpoint {
            origin: key.verifier().name().to_owned(),
            size,
            root: log.root(size)?,
        },
        &key,
    );
    agent
        .post(&format!("{base}/witness/add-checkpoint"))
        .send_string(&custos_ledger::witness::add_checkpoint_body(
            0,
            &[],
            &checkpoint,
        ))
        .context("having the backlog co-signed")?;

    let throttle = Arc::new(Throttle::new(bench.max_kbps));
    let mut shipper =
        Shipper::new(&base, key, &[], throttle.clone()).map_err(|e| anyhow!("{e}"))?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let done = shipper.ship(&log, size).map_err(|e| anyhow!("{e}"))?;
        if done >= size {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            println!(
                "  {done} of {size} entries after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let took = started.elapsed().as_secs_f64();
    let (mirrored, verified) = runtime.block_on(mirror::mirror_size(&pool, &name))?;
    if mirrored != size || verified != size {
        bail!("the centre mirrors {mirrored} entries, proven to {verified}, of {size}");
    }
    let wire = throttle.sent();
    let days = f64::from(bench.days);
    println!("caught up: {size} entries mirrored and proven at the centre");
    println!(
        "  on the wire: {:.2} MB ({:.2} MB per site-day); entries {:.2} MB per site-day \
         ({:.2}×), as plain notes {:.2} MB per site-day ({:.2}×)",
        wire as f64 / 1e6,
        wire as f64 / 1e6 / days,
        leaf_bytes as f64 / 1e6 / days,
        leaf_bytes as f64 / wire as f64,
        note_bytes as f64 / 1e6 / days,
        note_bytes as f64 / wire as f64
    );
    let rate_kbps = wire as f64 * 8.0 / 1000.0 / took;
    match bench.max_kbps {
        Some(cap) => {
            let floor = wire as f64 * 8.0 / 1000.0 / f64::from(cap);
            println!(
                "  took {took:.1} s at {rate_kbps:.1} kbit/s under a cap of {cap} kbit/s \
                 ({:.3}× the cap's floor of {floor:.1} s); {:.1} h of backlog a minute",
                took / floor,
                days * 24.0 * 60.0 / took
            );
        }
        None => println!("  took {took:.1} s at {rate_kbps:.1} kbit/s, uncapped"),
    }
    Ok(())
}

fn wait_until_up(base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(&format!("{base}/healthz")).call().is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("custos central serve did not answer at {base} within 30 s")
}
