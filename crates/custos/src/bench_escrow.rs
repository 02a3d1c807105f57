//! `custos bench escrow`: footage escrow's upload path against `s3cmd put`
//! of the same files to the same store, and how closely the uplink's cap
//! holds.
//!
//! Every file is a copy of a real recording (the bench clip) with its
//! number appended, so no two are alike. Three passes, each to its own
//! prefix of the bucket:
//! - custos put: `Bucket::put_once` (create-only) of each file;
//! - custos escrow: `escrow_segment` (SHA-256 of the file, a put in
//!   8 MiB parts above 16 MiB, read back whole and SHA-256 again), the
//!   whole path a segment takes;
//! - `s3cmd put` of the same files in one process (MD5 checked against the
//!   ETag, multipart above 15 MB, its defaults).
//!
//! CPU is this process's user + system time around its passes, and
//! s3cmd's from `wait4`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use custos_escrow::bucket::{Bucket, BucketConfig};
use custos_escrow::footage::{escrow_segment, SegmentToEscrow};
use sha2::{Digest, Sha256};

/// What `custos bench escrow` is given.
pub struct EscrowBench {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub clip: PathBuf,
    pub files: usize,
    /// A cap to measure (kbit/s), with how many bytes to send under it.
    pub max_kbps: Option<u32>,
    pub capped_bytes: usize,
}

fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs `command` to its end; its status and CPU seconds (from `wait4`).
fn run_measured(mut command: Command) -> anyhow::Result<(bool, f64)> {
    let child = command.spawn().context("starting the peer")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: waits for our own child and fills the structs we pass.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    anyhow::ensure!(rc == pid, "waiting for the peer failed");
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, tv(u.ru_utime) + tv(u.ru_stime)))
}

struct Pass {
    name: &'static str,
    bytes: u64,
    wall_s: f64,
    cpu_s: f64,
}

impl Pass {
    fn line(&self) -> String {
        let mb = self.bytes as f64 / 1e6;
        format!(
            "| {} | {:.0} MB | {:.2} s | {:.1} MB/s | {:.2} CPU-s | {:.4} CPU-s/MB |",
            self.name,
            mb,
            self.wall_s,
            mb / self.wall_s,
            self.cpu_s,
            self.cpu_s / mb
        )
    }
}

fn credentials() -> anyhow::Result<(String, String)> {
    let get = |v: &str| {
        std::env::var(v).with_context(|| format!("{v} must be set (the store's credentials)"))
    };
    Ok((get("AWS_ACCESS_KEY_ID")?, get("AWS_SECRET_ACCESS_KEY")?))
}

/// Prepares the files: `segments/video/bench/<i>.mp4` under `dir`.
fn prepare(dir: &Path, clip: &Path, files: usize) -> anyhow::Result<Vec<(String, String)>> {
    let base = std::fs::read(clip).with_context(|| format!("reading {}", clip.display()))?;
    let video = dir.join("video/bench");
    std::fs::create_dir_all(&video).with_context(|| format!("creating {}", video.display()))?;
    let mut out = Vec::new();
    for i in 0..files {
        let mut bytes = base.clone();
        bytes.extend_from_slice(&(i as u64).to_be_bytes());
        let rel = format!("video/bench/{i}.mp4");
        std::fs::write(dir.join(&rel), &bytes).with_context(|| format!("writing {rel}"))?;
        out.push((rel, hex::encode(Sha256::digest(&bytes))));
    }
    Ok(out)
}

pub fn escrow(bench: EscrowBench) -> anyhow::Result<()> {
    let (access, secret) = credentials()?;
    let work = tempfile::tempdir().context("a temporary directory")?;
    let files = prepare(work.path(), &bench.clip, bench.files)?;
    let total: u64 = files
        .iter()
        .map(|(rel, _)| std::fs::metadata(work.path().join(rel)).map_or(0, |m| m.len()))
        .sum();
    let run_id = format!("{:x}", custos_site::clock::now_ms());
    let bucket_at = |prefix: String| {
        Bucket::open_with_keys(
            &BucketConfig {
                endpoint: bench.endpoint.clone(),
                bucket: bench.bucket.clone(),
                region: bench.region.clone(),
                prefix,
            },
            &access,
            &secret,
            None,
        )
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime")?;
    let mut passes = Vec::new();

    // custos put: the create-only put alone.
    let mut bucket = bucket_at(format!("bench/{run_id}/put"))?;
    let honoured = runtime.block_on(bucket.probe())?;
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for (rel, _) in &files {
        let bytes =
            std::fs::read(work.path().join(rel)).with_context(|| format!("reading {rel}"))?;
        runtime.block_on(bucket.put_once(rel, Bytes::from(bytes)))?;
    }
    passes.push(Pass {
        name: "custos put (create-only)",
        bytes: total,
        wall_s: t.elapsed().as_secs_f64(),
        cpu_s: process_cpu_seconds() - c,
    });

    // custos escrow: what a segment goes through.
    let mut bucket = bucket_at(format!("bench/{run_id}/escrow"))?;
    runtime.block_on(bucket.probe())?;
    let none = |_: usize| {};
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for (rel, sha) in &files {
        let segment = SegmentToEscrow {
            camera: "bench".into(),
            path: rel.clone(),
            sha256: sha.clone(),
        };
        runtime
            .block_on(escrow_segment(&bucket, work.path(), &segment, None, &none))
            .with_context(|| format!("escrowing {rel}"))?;
    }
    passes.push(Pass {
        name: "custos escrow (SHA-256, put in parts, read back, SHA-256)",
        bytes: total,
        wall_s: t.elapsed().as_secs_f64(),
        cpu_s: process_cpu_seconds() - c,
    });

    // s3cmd put of the same files, one process.
    let endpoint = url::Url::parse(&bench.endpoint).context("--endpoint")?;
    let host = format!(
        "{}:{}",
        endpoint.host_str().unwrap_or("127.0.0.1"),
        endpoint.port_or_known_default().unwrap_or(80)
    );
    let config = work.path().join("s3cmd.cfg");
    std::fs::write(
        &config,
        format!(
            "[default]\naccess_key = {access}\nsecret_key = {secret}\nhost_base = {host}\n\
             host_bucket = {host}\nuse_https = {}\nbucket_location = {}\n",
            if endpoint.scheme() == "https" {
                "True"
            } else {
                "False"
            },
            bench.region
        ),
    )
    .context("writing the s3cmd configuration")?;
    let mut command = Command::new("s3cmd");
    command
        .arg("--config")
        .arg(&config)
        .args(["--quiet", "put"])
        .args(files.iter().map(|(rel, _)| work.path().join(rel)))
        .arg(format!("s3://{}/bench/{run_id}/s3cmd/", bench.bucket));
    let t = Instant::now();
    let (ok, cpu) = run_measured(command).context("s3cmd (apt-get install s3cmd)")?;
    anyhow::ensure!(ok, "s3cmd put failed");
    passes.push(Pass {
        name: "s3cmd put",
        bytes: total,
        wall_s: t.elapsed().as_secs_f64(),
        cpu_s: cpu,
    });

    println!(
        "{} files of {:.1} MB (copies of {}), to {} bucket {} (create-only honoured: {honoured})",
        files.len(),
        total as f64 / files.len().max(1) as f64 / 1e6,
        bench.clip.display(),
        bench.endpoint,
        bench.bucket
    );
    println!();
    println!("| pass | bytes | wall | throughput | CPU | CPU per MB |");
    println!("|---|---|---|---|---|---|");
    for p in &passes {
        println!("{}", p.line());
    }
    let peer = &passes[2];
    for p in &passes[..2] {
        println!(
            "{}: {:.2}x s3cmd's CPU per MB, {:.2}x its throughput",
            p.name,
            (p.cpu_s / p.bytes as f64) / (peer.cpu_s / peer.bytes as f64),
            (p.bytes as f64 / p.wall_s) / (peer.bytes as f64 / peer.wall_s)
        );
    }

    if let Some(kbps) = bench.max_kbps {
        // The cap as the escrow thread applies it: the uplink's throttle
        // taken before each object is sent.
        let throttle = custos_site::central_wire::Throttle::new(Some(kbps));
        let bucket = bucket_at(format!("bench/{run_id}/capped"))?;
        let chunk = 64 * 1024;
        let (t, mut sent) = (Instant::now(), 0usize);
        let mut n = 0;
        while sent < bench.capped_bytes {
            let bytes = vec![(n % 251) as u8; chunk];
            throttle.take(bytes.len());
            runtime.block_on(bucket.put_once(&format!("{n}"), Bytes::from(bytes)))?;
            sent += chunk;
            n += 1;
        }
        let rate = sent as f64 * 8.0 / 1000.0 / t.elapsed().as_secs_f64();
        println!();
        println!(
            "under a cap of {kbps} kbit/s: {sent} bytes in {:.1} s = {rate:.1} kbit/s ({:.3}x the cap)",
            t.elapsed().as_secs_f64(),
            rate / f64::from(kbps)
        );
    }
    Ok(())
}
