//! `custos bench central`: many simulated sites against one real `custos
//! central serve` (started here as a child process) and its PostgreSQL.
//!
//! Each simulated site has its own log key and a growing Merkle tree. It
//! enrols over HTTP like a real site, then adds a checkpoint (with the
//! consistency proof from the last one co-signed) every `checkpoint_every`
//! and a signed report every `report_every`, at a phase of its own so the
//! load is even. Latency is from sending a request to its answer; a request
//! sent more than a second after it was due is counted as late (the
//! generator could not keep up). At the end every site's state at the
//! centre is compared with what the site was told: none lost, none twice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use custos_central::config::CentralConfig;
use custos_central::{db, now_ms, sites};
use custos_ledger::merkle::{leaf_hash, MemoryTree};
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What to simulate.
pub struct CentralBench {
    pub config: PathBuf,
    pub sites: usize,
    pub seconds: u64,
    pub checkpoint_every: Duration,
    pub report_every: Duration,
    /// Log entries each site adds between two checkpoints.
    pub entries_per_checkpoint: usize,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[derive(Default)]
struct Tally {
    checkpoint_us: Mutex<Vec<u32>>,
    report_us: Mutex<Vec<u32>>,
    cosigned: AtomicU64,
    conflicts: AtomicU64,
    failed: AtomicU64,
    reports_ok: AtomicU64,
    late: AtomicU64,
}

/// CPU seconds (user + system) used so far by process `pid`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// CPU seconds used so far by every process named `postgres`.
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(cpu_seconds)
        .sum()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn post(client: &HttpClient, url: &str, body: String) -> anyhow::Result<(u16, String)> {
    let request = hyper::Request::post(url)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))
        .context("building a request")?;
    let response = client.request(request).await.context("sending")?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading an answer")?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

struct SimSite {
    key: SigningKey,
    tree: MemoryTree,
    cosigned: u64,
    next_entry: u64,
    seq: u64,
}

impl SimSite {
    fn grow(&mut self, n: usize, index: usize) {
        for _ in 0..n {
            self.tree.push(leaf_hash(
                format!("site {index} entry {}", self.next_entry).as_bytes(),
            ));
            self.next_entry += 1;
        }
    }

    fn add_checkpoint_body(&self) -> anyhow::Result<String> {
        let note = sign_checkpoint(
            &Checkpoint {
                origin: self.key.verifier().name().to_owned(),
                size: self.tree.len(),
                root: self.tree.root(),
            },
            &self.key,
        );
        let proof = if self.cosigned > 0 {
            custos_ledger::merkle::consistency_proof(&self.tree, self.cosigned, self.tree.len())
                .map_err(|e| anyhow!("consistency proof: {e}"))?
        } else {
            Vec::new()
        };
        Ok(custos_ledger::witness::add_checkpoint_body(
            self.cosigned,
            &proof,
            &note,
        ))
    }
}

async fn run_site(
    index: usize,
    mut site: SimSite,
    bench: Arc<(CentralBench, String)>,
    client: HttpClient,
    tally: Arc<Tally>,
    start: Instant,
    end: Instant,
) -> (String, u64) {
    let (bench, base) = (&bench.0, &bench.1);
    let phase = |period: Duration| period.mul_f64(index as f64 / bench.sites as f64);
    let mut next_checkpoint = start + phase(bench.checkpoint_every);
    let mut next_report = start + phase(bench.report_every);
    let add_url = format!("{base}/witness/add-checkpoint");
    let report_url = format!("{base}/api/v1/report");
    loop {
        let due = next_checkpoint.min(next_report);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        if Instant::now().duration_since(due) > Duration::from_secs(1) {
            tally.late.fetch_add(1, Ordering::Relaxed);
        }
        if due == next_checkpoint {
            next_checkpoint += bench.checkpoint_every;
            site.grow(bench.entries_per_checkpoint, index);
            let Ok(body) = site.add_checkpoint_body() else {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let sent = Instant::now();
            let outcome = post(&client, &add_url, body).await;
            let us = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            tally.checkpoint_us.lock().map(|mut v| v.push(us)).ok();
            match outcome {
                Ok((200, _)) => {
                    site.cosigned = site.tree.len();
                    tally.cosigned.fetch_add(1, Ordering::Relaxed);
                }
                Ok((409, latest)) => {
                    tally.conflicts.fetch_add(1, Ordering::Relaxed);
                    if let Ok(n) = latest.trim().parse() {
                        site.cosigned = n;
                    }
                }
                _ => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            next_report += bench.report_every;
            site.seq = site.seq.max(u64::try_from(now_ms()).unwrap_or(0));
            let health = custos_report::Health {
                sent_ms: now_ms(),
                version: env!("CARGO_PKG_VERSION").into(),
                cameras: (0..2)
                    .map(|c| custos_report::CameraHealth {
                        id: format!("cam{c}"),
                        name: format!("Camera {c}"),
                        state: "recording".into(),
                        since_ms: 0,
                        tamper: None,
                        pictures_dropped: 0,
                    })
                    .collect(),
                checkpoint: Some((site.tree.len(), now_ms())),
                ..custos_report::Health::default()
            };
            let Ok(note) = custos_report::sign(&health, site.seq, &site.key) else {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            site.seq += 1;
            let sent = Instant::now();
            let outcome = post(&client, &report_url, note).await;
            let us = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            tally.report_us.lock().map(|mut v| v.push(us)).ok();
            match outcome {
                Ok((200, _)) => {
                    tally.reports_ok.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    (format!("bench-{index}"), site.cosigned)
}

/// Stops the child on every way out.
pub(crate) struct Child(pub(crate) std::process::Child);

impl Child {
    /// `custos central serve --config config`, this very program.
    pub(crate) fn central_serve(config: &std::path::Path) -> anyhow::Result<Child> {
        let exe = std::env::current_exe().context("finding this program")?;
        Ok(Child(
            std::process::Command::new(exe)
                .args(["central", "serve", "--config"])
                .arg(config)
                .env("CUSTOS_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .context("starting custos central serve")?,
        ))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

pub fn central(bench: CentralBench) -> anyhow::Result<()> {
    if bench.sites == 0 || bench.seconds == 0 {
        bail!("--sites and --seconds must be positive");
    }
    let config = CentralConfig::load(&bench.config).map_err(|e| anyhow!("{e}"))?;
    let runtime = crate::runtime()?;
    runtime.block_on(run(bench, config))
}

async fn run(bench: CentralBench, config: CentralConfig) -> anyhow::Result<()> {
    let pool = db::connect(&config.database.url, 4).await?;
    let base = format!("http://{}", config.listen);
    let child = Child::central_serve(&bench.config)?;
    let http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .build_http::<Full<Bytes>>();
    wait_until_up(&http, &base).await?;

    // Sites are added in the database, each enrols over HTTP.
    println!("enrolling {} sites…", bench.sites);
    let run_tag = now_ms();
    let mut sims = Vec::with_capacity(bench.sites);
    let enrol_start = Instant::now();
    for i in 0..bench.sites {
        let name = format!("bench-{run_tag}-{i}");
        let new = sites::add(&pool, &name, "bench").await?;
        let key = SigningKey::generate(&format!("{name}.bench/log")).map_err(|e| anyhow!("{e}"))?;
        let body = serde_json::json!({ "code": new.code, "log_key": key.verifier().to_string() });
        let request = hyper::Request::post(format!("{base}/api/v1/enrol"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let status = http.request(request).await.context("enrolling")?.status();
        if !status.is_success() {
            bail!("enrolling site {name}: {status}");
        }
        sims.push((name, key));
    }
    println!("enrolled in {:.1} s", enrol_start.elapsed().as_secs_f64());

    let tally = Arc::new(Tally::default());
    let shared = Arc::new((bench, base));
    let bench = &shared.0;
    let rows_before = witness_rows(&pool).await?;
    let central_cpu = cpu_seconds(child.0.id()).unwrap_or(0.0);
    let pg_cpu = postgres_cpu_seconds();
    let start = Instant::now() + Duration::from_millis(500);
    let end = start + Duration::from_secs(bench.seconds);
    let mut tasks = Vec::with_capacity(sims.len());
    for (i, (name, key)) in sims.into_iter().enumerate() {
        let site = SimSite {
            key,
            tree: MemoryTree::new(),
            cosigned: 0,
            next_entry: 0,
            seq: 1,
        };
        let (shared, http, tally) = (shared.clone(), http.clone(), tally.clone());
        tasks.push((
            name,
            tokio::spawn(run_site(i, site, shared, http, tally, start, end)),
        ));
    }
    let mut told = Vec::with_capacity(tasks.len());
    for (name, task) in tasks {
        let (_, cosigned) = task.await.context("a simulated site")?;
        told.push((name, cosigned));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let central_cpu = cpu_seconds(child.0.id()).unwrap_or(0.0) - central_cpu;
    let pg_cpu = postgres_cpu_seconds() - pg_cpu;
    let rows = witness_rows(&pool).await? - rows_before;

    // What the centre holds against what each site was told.
    let client = pool.get().await?;
    let mut lost = 0;
    for (name, cosigned) in &told {
        let held: Option<i64> = client
            .query_opt(
                "SELECT w.size FROM witness_latest w JOIN sites s ON s.id = w.site_id WHERE s.name = $1",
                &[name],
            )
            .await?
            .map(|r| r.get(0));
        if held.map_or(0, |h| u64::try_from(h).unwrap_or(0)) != *cosigned {
            lost += 1;
        }
    }
    let cosigned = tally.cosigned.load(Ordering::Relaxed);
    let mut cp = tally
        .checkpoint_us
        .lock()
        .map_err(|_| anyhow!("tally"))?
        .clone();
    let mut rp = tally
        .report_us
        .lock()
        .map_err(|_| anyhow!("tally"))?
        .clone();
    cp.sort_unstable();
    rp.sort_unstable();
    let requests = cp.len() + rp.len();
    println!(
        "sites {}, {:.0} s, checkpoint every {} s, report every {} s",
        bench.sites,
        elapsed,
        bench.checkpoint_every.as_secs(),
        bench.report_every.as_secs()
    );
    println!(
        "add-checkpoint: {} sent, {cosigned} co-signed, {} conflicts; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        cp.len(),
        tally.conflicts.load(Ordering::Relaxed),
        percentile(&cp, 0.5),
        percentile(&cp, 0.99),
        percentile(&cp, 1.0)
    );
    println!(
        "report: {} sent, {} accepted; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        rp.len(),
        tally.reports_ok.load(Ordering::Relaxed),
        percentile(&rp, 0.5),
        percentile(&rp, 0.99),
        percentile(&rp, 1.0)
    );
    println!(
        "throughput {:.0} requests/s; failed {}, sent late (>1 s) {}",
        requests as f64 / elapsed,
        tally.failed.load(Ordering::Relaxed),
        tally.late.load(Ordering::Relaxed)
    );
    println!(
        "CPU: central {:.1} % of one core ({:.2} % per 1,000 sites), PostgreSQL {:.1} %",
        100.0 * central_cpu / elapsed,
        100.0 * central_cpu / elapsed / (bench.sites as f64 / 1000.0),
        100.0 * pg_cpu / elapsed
    );
    println!(
        "PostgreSQL: {:.0} co-signed checkpoint rows/s (+ {:.0} report upserts/s)",
        rows as f64 / elapsed,
        tally.reports_ok.load(Ordering::Relaxed) as f64 / elapsed
    );
    println!(
        "consistency: {} of {} sites' state at the centre differs from what they were told; rows {rows} vs cosignatures {cosigned}",
        lost,
        told.len()
    );
    let (listed, page_ms) = sites_page(&http, &shared.1, &pool, run_tag).await?;
    println!(
        "sites page (GET /api/v1/sites as an admin, after the load): {listed} sites, p50 {:.0} ms, max {:.0} ms of {} reads",
        page_ms[page_ms.len() / 2],
        page_ms[page_ms.len() - 1],
        page_ms.len()
    );
    drop(child);
    if lost > 0 || rows != cosigned {
        bail!("the centre lost or duplicated updates");
    }
    Ok(())
}

/// Reads of the web app's sites page over every site: signs in as a new
/// admin of this run and times five reads; the sites listed and the times
/// in ms, sorted.
async fn sites_page(
    http: &HttpClient,
    base: &str,
    pool: &deadpool_postgres::Pool,
    run_tag: i64,
) -> anyhow::Result<(usize, Vec<f64>)> {
    let name = format!("bench-admin-{run_tag}");
    let password = format!("bench password {run_tag}");
    let hash = custos_webapp::credentials::hash_password(&password)?;
    custos_central::users::add(
        pool,
        &name,
        custos_central::users::Role::Admin,
        None,
        &hash,
        "bench",
    )
    .await?;
    let body = serde_json::json!({ "user": name, "password": password });
    let request = hyper::Request::post(format!("{base}/api/v1/login"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let answer = http.request(request).await.context("signing in")?;
    let cookie = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("signing in: {} and no session cookie", answer.status()))?;
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..5 {
        let request = hyper::Request::get(format!("{base}/api/v1/sites"))
            .header("cookie", &cookie)
            .body(Full::new(Bytes::new()))?;
        let started = Instant::now();
        let answer = http.request(request).await.context("reading the sites")?;
        let status = answer.status();
        let bytes = answer.into_body().collect().await?.to_bytes();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            bail!("reading the sites: {status}");
        }
        let page: serde_json::Value = serde_json::from_slice(&bytes)?;
        listed = page["sites"].as_array().map_or(0, Vec::len);
    }
    times.sort_by(f64::total_cmp);
    Ok((listed, times))
}

async fn witness_rows(pool: &deadpool_postgres::Pool) -> anyhow::Result<u64> {
    let n: i64 = pool
        .get()
        .await?
        .query_one("SELECT COUNT(*) FROM witness_checkpoints", &[])
        .await?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn wait_until_up(http: &HttpClient, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request =
            hyper::Request::get(format!("{base}/healthz")).body(Full::new(Bytes::new()))?;
        if let Ok(r) = http.request(request).await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("custos central serve did not answer on {base} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
