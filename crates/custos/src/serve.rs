//! `custos serve`: recover, then record every camera, enforce retention and
//! answer the API until told to stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use custos_media::recorder::RecorderConfig;
use custos_site::cameras::CameraRegistry;
use custos_site::data_dir::DataDir;
use custos_store::pool::StorePool;
use tokio::sync::watch;

use crate::config::Config;
use custos_site::clock::now_ms;
use custos_site::commit::Committer;
use custos_site::recording::CameraTask;
use custos_site::segments::{recover, RetentionRule};

/// How often the group commit runs: the bound on what power loss can take
/// beyond the fragment being written.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// Why [`serve`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// SIGINT or SIGTERM: the process ends.
    Stopped,
    /// The settings changed (through the API): start again with the file
    /// as it now is.
    Restart,
}

/// Runs the site until a signal, or until a settings change asks for a
/// restart (only with `settings`, the file the API may change).
pub async fn serve(
    config: Config,
    settings: Option<Arc<crate::site_settings::FileSettings>>,
) -> anyhow::Result<Outcome> {
    // TLS files are checked first: a bad one stops the start before any
    // camera is touched.
    let tls = match &config.server.tls {
        Some((cert, key)) => Some(custos_server::tls::server_config(cert, key)?),
        _ => None,
    };
    let data_dir = config.data_dir.clone();
    let (store, _lock) = custos_site::open::site(&data_dir)?;
    tracing::info!(site = %config.site, config_sha256 = %config.source_hash, data_dir = %data_dir.display(), "configuration loaded");

    let recovery_dir = data_dir.clone();
    let (store, report) = tokio::task::spawn_blocking(move || {
        let report = recover(&store, &recovery_dir, now_ms());
        (store, report)
    })
    .await?;
    let report = report.context("crash recovery")?;
    // A full disk is made room on before any camera writes.
    let mut disk = custos_site::disk::policy(
        &data_dir,
        config.disk_reserve,
        config.delete_oldest_when_full,
    );
    disk.escrow = config
        .escrow
        .as_ref()
        .map(|e| custos_site::segments::EscrowRetention {
            required: e.required,
            all_footage_of: e.all_footage_of.clone(),
        });
    custos_site::disk::make_room(&store, &data_dir, &disk, now_ms())
        .context("making room on a full disk")?;
    if let Err(e) = custos_site::disk::restore_ballast(&data_dir, &disk) {
        tracing::warn!("keeping a ballast file for a full disk: {e}");
    }
    store.enqueue_log(vec![custos_site::facts::config_loaded(
        &config.source_hash,
        config.cameras.len(),
    )?])?;
    let key = custos_site::sitelog::signing_key(&data_dir, &config.site)?;
    let log_verifier = key.verifier();
    // Reports and batches to the central office are signed with the log key.
    let central_key = config.central.as_ref().map(|_| key.clone());
    let site_log =
        custos_site::sitelog::SiteLog::start(custos_site::open::index(&data_dir)?, &data_dir, key)?;
    // The witnesses given in the file are pinned as it says; the central
    // office's is pinned when the site enrols, on the uplink thread.
    let configured: Vec<_> = config.witnesses.iter().map(|w| w.pinned()).collect();
    store
        .sync_config_witnesses(&configured, now_ms())
        .context("pinning the [[witness]] keys")?;
    if report.is_clean() {
        tracing::info!("index and video files agree");
    } else {
        tracing::warn!(?report, "recovered from an unclean stop");
    }

    let registry = Arc::new(CameraRegistry::new(
        config
            .cameras
            .iter()
            .filter(|c| c.settings.enabled)
            .map(|c| (c.settings.id.as_str(), c.settings.name.as_str())),
        now_ms(),
    ));
    let reload = settings.as_ref().map(|s| s.reload_requested());
    for cam in config.cameras.iter().map(|c| &c.settings) {
        registry.update(&cam.id, |s| {
            s.retain_days = cam.retain_days;
            s.retain_bytes = cam.retain_bytes;
        });
    }
    let committer = Committer::start(
        custos_site::open::index(&data_dir)?,
        data_dir.clone(),
        COMMIT_INTERVAL,
    )
    .context("starting the group commit thread")?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let live_hub = Arc::new(custos_site::live::LiveHub::default());
    let mut camera_tasks = Vec::new();
    let mut analysis_threads = Vec::new();
    for cam in config.cameras.iter().filter(|c| c.settings.enabled) {
        let settings = &cam.settings;
        let spec = cam.source_spec()?;
        // Analysis reads the camera's sub stream when it has one, else it
        // taps the recorded stream (dropping frames rather than slowing it).
        let mut tap = None;
        if settings.analysis.enabled {
            let (t, thread) =
                custos_site::analysis::start(custos_site::analysis::CameraAnalysis {
                    camera: settings.id.clone(),
                    config: settings.analysis.clone(),
                    store: custos_site::open::index(&data_dir)?,
                    data_dir: data_dir.clone(),
                    registry: registry.clone(),
                    stats: Default::default(),
                })?;
            analysis_threads.push(thread);
            match cam.analysis_source_spec()? {
                Some(analysis_spec) => {
                    camera_tasks.push(tokio::spawn(custos_site::analysis::read_analysis_stream(
                        settings.id.clone(),
                        analysis_spec,
                        t,
                        shutdown_rx.clone(),
                    )));
                }
                None => tap = Some(Mutex::new(t)),
            }
        }
        tracing::info!(camera = %settings.id, url = %custos_site::camera::shown(&settings.url), "starting camera");
        let task = CameraTask {
            id: settings.id.clone(),
            spec,
            recorder: RecorderConfig {
                disk_reserve: disk.reserve,
                ..RecorderConfig::new(
                    &settings.id,
                    DataDir::new(&data_dir).camera_video(&settings.id),
                    settings.segment_seconds,
                )
            },
            registry: registry.clone(),
            commits: committer.sender(),
            shutdown: shutdown_rx.clone(),
            analysis: tap,
            live: live_hub.clone(),
        };
        camera_tasks.push(tokio::spawn(task.run()));
    }

    let escrow_retention = disk.escrow.clone();
    let rules: Vec<RetentionRule> = config
        .cameras
        .iter()
        .map(|c| &c.settings)
        .filter(|c| c.retain_days.is_some() || c.retain_bytes.is_some())
        .map(|c| RetentionRule {
            camera: c.id.clone(),
            retain_days: c.retain_days,
            retain_bytes: c.retain_bytes,
            escrow: escrow_retention.clone(),
        })
        .collect();
    let retention = tokio::spawn(custos_site::disk::run_retention(
        custos_site::open::index(&data_dir)?,
        data_dir.clone(),
        rules,
        disk.clone(),
        Duration::from_secs(u64::from(config.retention_check_seconds)),
        shutdown_rx.clone(),
    ));

    // Alerts and notifications: secrets are read now, so a missing one
    // stops the start with its name rather than failing every delivery.
    let destinations = crate::destinations::destinations(&config)?;
    let alert_destinations: Vec<String> = config
        .notify
        .iter()
        .filter(|n| n.alerts)
        .map(|n| n.name.clone())
        .collect();
    let state_destinations: Vec<String> = config
        .notify
        .iter()
        .filter(|n| n.camera_states)
        .map(|n| n.name.clone())
        .collect();
    let background_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let db_path = DataDir::new(&data_dir).index();
    let rules_thread = {
        let rules = custos_site::rules::Rules {
            site: config.site.clone(),
            data_dir: data_dir.clone(),
            alert_destinations: alert_destinations.clone(),
            state_destinations,
            hours: config.hours.clone(),
            disk_full_percent: config.alerts.disk_full_percent,
            disk_reserve: disk.reserve,
        };
        let interval = Duration::from_secs(u64::from(config.alerts.check_seconds));
        let (db, stop) = (db_path.clone(), background_stop.clone());
        std::thread::Builder::new()
            .name("alert-rules".into())
            .spawn(move || custos_site::rules::run(db, rules, interval, stop))
            .context("starting the alert rules thread")?
    };
    let notifier_thread = {
        let (db, stop, site) = (
            db_path.clone(),
            background_stop.clone(),
            config.site.clone(),
        );
        std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || custos_site::notifier::run(db, site, destinations, stop))
            .context("starting the notification thread")?
    };

    // Enrolment and witnessing: their own thread, so an unreachable centre
    // never holds up recording. Everything sent up (checkpoints, reports,
    // the mirror) shares one cap.
    let witness_board = custos_site::uplink::WitnessBoard::default();
    let uplink_throttle = Arc::new(custos_site::central_wire::Throttle::new(
        config.central.as_ref().and_then(|c| c.max_kbps),
    ));
    let uplink_thread = {
        let uplink = custos_site::uplink::Uplink {
            db_path: db_path.clone(),
            log_dir: DataDir::new(&data_dir).log(),
            log_key: log_verifier.clone(),
            central: config.central.clone(),
            timeout: custos_site::uplink::DEFAULT_TIMEOUT,
            poll: Duration::from_secs(1),
            board: witness_board.clone(),
            throttle: uplink_throttle.clone(),
        };
        let stop = background_stop.clone();
        std::thread::Builder::new()
            .name("witnesses".into())
            .spawn(move || custos_site::uplink::run(uplink, stop))
            .context("starting the witness thread")?
    };
    // Reports and the log mirror, once enrolled.
    let central_thread = match (central_key, &config.central) {
        (Some(key), Some(central)) => {
            let link = custos_site::central_link::CentralLink {
                site: custos_site::central_report::ReporterSite {
                    db_path: db_path.clone(),
                    data_dir: data_dir.clone(),
                    site: config.site.clone(),
                    alert_destinations: alert_destinations.clone(),
                    report_every: Duration::from_secs(u64::from(central.report_seconds)),
                    escrow_all_footage_of: config.escrow.as_ref().map(|e| e.all_footage_of.clone()),
                },
                log_dir: DataDir::new(&data_dir).log(),
                key,
                cameras: registry.clone(),
                throttle: uplink_throttle.clone(),
            };
            let stop = background_stop.clone();
            Some(
                std::thread::Builder::new()
                    .name("central".into())
                    .spawn(move || custos_site::central_link::run(link, stop))
                    .context("starting the central office thread")?,
            )
        }
        _ => None,
    };

    // The log published to the escrow bucket: its own thread, under the
    // same cap as everything else sent off site.
    let escrow_board = custos_escrow::run::EscrowBoard::default();
    let escrow_thread = match &config.escrow {
        Some(escrow) => {
            let bucket = &escrow.bucket;
            // Missing credentials or a malformed endpoint stop the start
            // here rather than in a retry loop nobody reads.
            custos_escrow::bucket::Bucket::open(bucket).context("[escrow]")?;
            let escrow = custos_escrow::run::Escrow {
                bucket: bucket.clone(),
                db_path: db_path.clone(),
                data_dir: data_dir.clone(),
                all_footage_of: escrow.all_footage_of.clone(),
                log_dir: DataDir::new(&data_dir).log(),
                log_key: log_verifier.clone(),
                site: config.site.clone(),
                alert_destinations: alert_destinations.clone(),
                throttle: uplink_throttle.clone(),
                poll: Duration::from_secs(5),
                board: escrow_board.clone(),
            };
            let stop = background_stop.clone();
            Some(
                std::thread::Builder::new()
                    .name("escrow".into())
                    .spawn(move || custos_escrow::run::run(escrow, stop))
                    .context("starting the escrow thread")?,
            )
        }
        None => None,
    };

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("API listening on {scheme}://{}", listener.local_addr()?);
    let metrics = if config.server.metrics {
        let token = match &config.server.metrics_token_env {
            Some(var) => match std::env::var(var) {
                Ok(t) if t.len() >= 16 => Some(t),
                Ok(_) => anyhow::bail!(
                    "metrics_token_env: the environment variable {var} holds fewer than 16 \
                     characters; set it to a long random token"
                ),
                Err(_) => anyhow::bail!(
                    "metrics_token_env: the environment variable {var} is not set; set it to \
                     the token Prometheus sends, or remove metrics_token_env"
                ),
            },
            None => None,
        };
        Some(Arc::new(custos_server::metrics::MetricsAccess::new(
            token.as_deref(),
        )))
    } else {
        None
    };
    let state = custos_server::AppState {
        store: Arc::new(
            StorePool::with_writer(store, &DataDir::new(&data_dir).index(), API_READERS)
                .context("opening the index's readers for the API")?,
        ),
        data_dir: data_dir.clone(),
        cameras: registry.clone(),
        site: config.site.clone(),
        log: custos_server::LogAccess {
            dir: DataDir::new(&data_dir).log(),
            verifier: log_verifier,
        },
        login_throttle: Default::default(),
        secure_cookies: tls.is_some(),
        alert_destinations,
        live: live_hub.clone(),
        metrics,
        settings: settings.map(|s| s as Arc<dyn custos_site::settings::SiteSettings>),
        jobs: Default::default(),
        escrow: config
            .escrow
            .as_ref()
            .map(|e| custos_server::escrow::EscrowAccess {
                board: escrow_board.clone(),
                all_footage_of: e.all_footage_of.clone(),
            }),
    };
    let mut http_shutdown = shutdown_rx.clone();
    let stopped = async move {
        let _ = http_shutdown.changed().await;
    };
    let http = match tls {
        Some(config) => {
            let listener = custos_server::tls::TlsListener::new(listener, config)?;
            tokio::spawn(custos_server::serve_tls(listener, state, stopped))
        }
        None => tokio::spawn(custos_server::serve(listener, state, stopped)),
    };

    let outcome = match reload {
        Some(reload) => tokio::select! {
            () = wait_for_signal() => Outcome::Stopped,
            () = reload.notified() => Outcome::Restart,
        },
        None => {
            wait_for_signal().await;
            Outcome::Stopped
        }
    };
    if outcome == Outcome::Restart {
        tracing::info!("settings changed: restarting the pipeline");
    }
    tracing::info!("stopping: sealing open segments");
    let _ = shutdown_tx.send(true);
    for t in camera_tasks {
        let _ = t.await;
    }
    // The taps are gone with the tasks: each analysis thread ends its open
    // events and stops.
    tokio::task::spawn_blocking(move || {
        for t in analysis_threads {
            let _ = t.join();
        }
    })
    .await?;
    let _ = retention.await;
    background_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        let _ = rules_thread.join();
        let _ = notifier_thread.join();
        let _ = uplink_thread.join();
        for t in [central_thread, escrow_thread].into_iter().flatten() {
            let _ = t.join();
        }
    })
    .await?;
    let stats = committer.stats.clone();
    tokio::task::spawn_blocking(move || committer.shutdown()).await?;
    let commit_errors = stats.errors.load(std::sync::atomic::Ordering::Relaxed);
    {
        use std::sync::atomic::Ordering::Relaxed;
        tracing::info!(
            ticks = stats.ticks.load(Relaxed),
            fsyncs = stats.fsyncs.load(Relaxed),
            transactions = stats.transactions.load(Relaxed),
            sealed = stats.segments_sealed.load(Relaxed),
            errors = stats.errors.load(Relaxed),
            "group commit totals"
        );
    }
    // Last: every fact above is in the outbox; the final drain signs a checkpoint.
    tokio::task::spawn_blocking(move || site_log.shutdown()).await?;
    match http.await {
        Ok(Err(e)) => tracing::error!("HTTP server: {e}"),
        Err(e) => tracing::error!("HTTP server task: {e}"),
        Ok(Ok(())) => {}
    }
    if commit_errors > 0 {
        // The files are whole, but the index missed some of what happened
        // to them: say so instead of "cleanly", and let the next start's
        // recovery bring the index up to date.
        anyhow::bail!(
            "stopped, but {commit_errors} index update(s) failed (see the errors above); \
             the next start recovers them from the files"
        );
    }
    tracing::info!("stopped cleanly");
    Ok(outcome)
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch for SIGTERM ({e}); stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Read-only connections the API reads the index through: requests read in
/// parallel up to this many, beside the one writer. Small, as the box has
/// few cores.
const API_READERS: usize = 4;
