//! Durable append throughput and inclusion-proof latency of the log.
//!
//! ```sh
//! cargo run --release -p custos-ledger --example append_bench -- [N] [BATCH] [DIR]
//! ```
//!
//! Appends N entries (default 1,000,000) of about 200 bytes in batches of
//! BATCH (default 1000), each batch durable (fsynced) before the next, and
//! prints appends per second; then times 1000 inclusion proofs of random
//! entries at the final size, each generated from the files, checked against
//! the entry's bytes and verified against the root (warm page cache: the
//! files were just written). The log goes in a fresh temporary directory,
//! under DIR when given (put it on the disk you want to measure).

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use custos_ledger::merkle;
use custos_ledger::storage::LogStorage;
use rand::{Rng, SeedableRng};

fn arg<T: std::str::FromStr>(n: usize, default: T) -> Result<T, Box<dyn Error>>
where
    T::Err: std::fmt::Display,
{
    match std::env::args().nth(n) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|e| format!("argument {n} ({s:?}): {e}").into()),
    }
}

/// An entry of about 200 bytes, shaped like a logged fact.
fn entry(i: u64, rng: &mut impl Rng) -> Vec<u8> {
    format!(
        "{{\"kind\":\"segment.sealed\",\"seq\":{i},\"camera\":\"cam-{:02}\",\"path\":\"video/cam/{i:012}.mp4\",\
         \"sha256\":\"{:016x}{:016x}{:016x}{:016x}\",\"at_ms\":{},\"bytes\":{:08}}}",
        i % 17,
        rng.gen::<u64>(),
        rng.gen::<u64>(),
        rng.gen::<u64>(),
        rng.gen::<u64>(),
        1_700_000_000_000u64 + i * 1000,
        (i * 7_919) % 100_000_000,
    )
    .into_bytes()
}

fn main() -> Result<(), Box<dyn Error>> {
    let n: u64 = arg(1, 1_000_000)?;
    let batch: u64 = arg(2, 1000)?;
    let base: Option<PathBuf> = std::env::args().nth(3).map(PathBuf::from);
    if n == 0 || batch == 0 {
        return Err("N and BATCH must be positive".into());
    }
    let tmp = match &base {
        Some(b) => tempfile::tempdir_in(b)?,
        None => tempfile::tempdir()?,
    };
    let dir = tmp.path().join("log");
    let mut log = LogStorage::open(&dir)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);

    let mut bytes = 0u64;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    let mut at = 0;
    while at < n {
        let count = batch.min(n - at);
        let entries: Vec<Vec<u8>> = (at..at + count).map(|i| entry(i, &mut rng)).collect();
        bytes += entries.iter().map(|e| e.len() as u64).sum::<u64>();
        let t = Instant::now();
        log.append_batch(&entries)?;
        slowest = slowest.max(t.elapsed());
        at += count;
    }
    let elapsed = start.elapsed();
    let batches = n.div_ceil(batch);
    println!(
        "appended {n} entries ({:.1} bytes each) in {batches} durable batches of {batch}: {:.2} s, {:.0} appends/s, \
         {:.2} ms per batch (slowest {:.2} ms)",
        bytes as f64 / n as f64,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / batches as f64,
        slowest.as_secs_f64() * 1000.0,
    );
    let on_disk: u64 = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "on disk: {:.1} MB ({:.1} bytes per entry)",
        on_disk as f64 / 1e6,
        on_disk as f64 / n as f64
    );

    let size = log.size();
    let t = Instant::now();
    let root = log.root(size)?;
    let root_time = t.elapsed();
    const PROOFS: u32 = 1000;
    let (mut generate, mut verify) = (Duration::ZERO, Duration::ZERO);
    let mut hashes = 0;
    for _ in 0..PROOFS {
        let index = rng.gen_range(0..size);
        let t = Instant::now();
        let leaf = log.entry(index)?;
        let proof = log.inclusion_proof(index, size)?;
        let t2 = Instant::now();
        merkle::verify_inclusion(&merkle::leaf_hash(&leaf), index, size, &proof, &root)?;
        verify += t2.elapsed();
        generate += t2 - t;
        hashes += proof.len();
    }
    println!(
        "root at size {size}: {:.1} µs; {PROOFS} random inclusion proofs ({:.1} hashes each): \
         mean {:.1} µs (read entry + generate {:.1} µs, verify {:.1} µs)",
        root_time.as_secs_f64() * 1e6,
        hashes as f64 / f64::from(PROOFS),
        (generate + verify).as_secs_f64() * 1e6 / f64::from(PROOFS),
        generate.as_secs_f64() * 1e6 / f64::from(PROOFS),
        verify.as_secs_f64() * 1e6 / f64::from(PROOFS),
    );
    Ok(())
}
