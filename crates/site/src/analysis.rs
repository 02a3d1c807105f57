//! Picture analysis: decode a camera's analysis stream (or a file), feed
//! sampled luma pictures to `custos_vision::Analyzer`, and turn its updates
//! into events, snapshots and log entries.
//!
//! Live analysis runs on its own thread per camera, fed through a bounded
//! channel that the recorder fills with `try_send`: when analysis falls
//! behind, frames are dropped here (counted, and decoding resumes at the
//! next key frame), never in the recorder.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::cameras::{AnalysisStatus, CameraRegistry};
use crate::data_dir::DataDir;
use anyhow::Context;
use custos_media::decode::{Decoder, FileDecoder};
use custos_media::params::VideoParams;
use custos_media::segment::Frame;
use custos_media::source::{Source, SourceItem, SourceSpec};
use custos_store::Store;
use custos_vision::{Analyzer, EventKind, LumaFrame, Update};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use crate::analysis_events::OFFLINE_EVENT;
use crate::backoff::Backoff;
use crate::camera::AnalysisSettings;
use crate::clock::now_ms;

/// Frames waiting for the analysis thread; beyond this they are dropped.
pub const QUEUE_FRAMES: usize = 64;
/// Widest snapshot kept.
const SNAPSHOT_WIDTH: u32 = 640;
/// Fewest milliseconds between two snapshots of one event (bounds the JPEG
/// work of a long event whose best frame keeps improving).
const SNAPSHOT_INTERVAL_MS: i64 = 1000;

/// What the analysis thread receives.
pub enum AnalysisInput {
    /// The stream's parameters (first, and whenever they change).
    Params(VideoParams),
    /// A frame, with the wall-clock time it arrived; `after_drop` when
    /// frames before it were dropped (decoding must restart at a key frame).
    Frame {
        frame: Frame,
        wall_ms: i64,
        after_drop: bool,
    },
}

/// The recorder's end of the channel: never blocks.
pub struct AnalysisTap {
    tx: mpsc::Sender<AnalysisInput>,
    dropped: Arc<AtomicU64>,
    dropping: bool,
}

impl AnalysisTap {
    pub fn params(&mut self, params: &VideoParams) {
        // Parameters must not be lost: a full queue drops a frame instead
        // (the next frame is marked after_drop).
        if self
            .tx
            .try_send(AnalysisInput::Params(params.clone()))
            .is_err()
        {
            self.dropping = true;
        }
    }

    pub fn frame(&mut self, frame: &Frame, wall_ms: i64) {
        let input = AnalysisInput::Frame {
            frame: frame.clone(),
            wall_ms,
            after_drop: self.dropping,
        };
        match self.tx.try_send(input) {
            Ok(()) => self.dropping = false,
            Err(_) => {
                self.dropping = true;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Picks pictures at `fps` from a stream of any rate (by their times in ms).
pub struct Sampler {
    interval_ms: i64,
    next_ms: Option<i64>,
}

impl Sampler {
    pub fn new(fps: u32) -> Sampler {
        Sampler {
            interval_ms: 1000 / i64::from(fps.max(1)),
            next_ms: None,
        }
    }

    pub fn take(&mut self, t_ms: i64) -> bool {
        if let Some(next) = self.next_ms {
            if t_ms < next {
                if next - t_ms <= 10_000 {
                    return false;
                }
                // A jump back (a new session, a clock step) starts over.
                self.next_ms = None;
            }
        }
        // Advance on a grid, so 15 fps sampled at 5 takes every third
        // picture rather than drifting.
        let base = self
            .next_ms
            .map_or(t_ms, |n| n.max(t_ms - self.interval_ms));
        self.next_ms = Some(base + self.interval_ms);
        true
    }
}

/// Counters a camera's analysis keeps, for logs and metrics.
#[derive(Default)]
pub struct AnalysisStats {
    pub decoded: AtomicU64,
    pub analysed: AtomicU64,
    /// Frames the recorder could not hand over (queue full).
    pub dropped: Arc<AtomicU64>,
    /// Frames skipped while waiting for a key frame after a drop.
    pub skipped: AtomicU64,
}

impl AnalysisStats {
    /// Shows the counters (and `error`, if any) in the camera's status.
    fn publish(&self, registry: &CameraRegistry, camera: &str, error: Option<String>) {
        let status = AnalysisStatus {
            frames_decoded: self.decoded.load(Ordering::Relaxed),
            frames_analysed: self.analysed.load(Ordering::Relaxed),
            frames_dropped: self.dropped.load(Ordering::Relaxed),
            frames_skipped: self.skipped.load(Ordering::Relaxed),
            error,
        };
        registry.update(camera, |s| s.analysis = Some(status));
    }
}

/// Turns analyzer updates into stored events, snapshots and log entries.
struct EventSink {
    store: Store,
    data_dir: PathBuf,
    camera: String,
    /// Analyzer event id → stored event id.
    ids: HashMap<u64, i64>,
    last_snapshot_ms: HashMap<u64, i64>,
    registry: Arc<CameraRegistry>,
}

impl EventSink {
    fn apply(&mut self, updates: Vec<Update>, decoder: &Decoder, wall_ms: i64) {
        for update in updates {
            if let Err(e) = self.apply_one(update, decoder, wall_ms) {
                tracing::error!(camera = %self.camera, "recording an analysis event: {e:#}");
            }
        }
    }

    fn apply_one(&mut self, update: Update, decoder: &Decoder, wall_ms: i64) -> anyhow::Result<()> {
        match update {
            Update::Started(ev) => {
                let id = crate::analysis_events::start(
                    &self.store,
                    &self.camera,
                    ev.kind.as_str(),
                    ev.start_ms,
                    &ev.zones,
                    f64::from(ev.score),
                )?;
                self.ids.insert(ev.id, id);
                if ev.kind != EventKind::Motion {
                    tracing::warn!(camera = %self.camera, kind = ev.kind.as_str(), "camera tampering detected");
                    let kind = ev.kind.as_str().to_owned();
                    self.registry
                        .update(&self.camera, |s| s.tamper = Some(kind));
                }
            }
            Update::Ended(ev) => {
                let Some(id) = self.ids.remove(&ev.id) else {
                    return Ok(());
                };
                self.last_snapshot_ms.remove(&ev.id);
                if let Some(stored) = self.store.event(id)? {
                    let end = ev.end_ms.unwrap_or(wall_ms);
                    crate::analysis_events::end(
                        &self.store,
                        &stored,
                        end,
                        &ev.zones,
                        f64::from(ev.score),
                    )?;
                }
                if ev.kind != EventKind::Motion {
                    tracing::info!(camera = %self.camera, kind = ev.kind.as_str(), "camera tampering ended");
                    let kind = ev.kind.as_str();
                    self.registry.update(&self.camera, |s| {
                        if s.tamper.as_deref() == Some(kind) {
                            s.tamper = None;
                        }
                    });
                }
            }
            Update::Snapshot { event_id } => {
                let Some(&id) = self.ids.get(&event_id) else {
                    return Ok(());
                };
                let last = self.last_snapshot_ms.get(&event_id).copied();
                if last.is_some_and(|t| wall_ms - t < SNAPSHOT_INTERVAL_MS) {
                    return Ok(());
                }
                self.last_snapshot_ms.insert(event_id, wall_ms);
                let jpeg = decoder.jpeg(SNAPSHOT_WIDTH)?;
                let rel = DataDir::snapshot(&self.camera, id);
                write_atomically(&self.data_dir.join(&rel), &jpeg)?;
                let sha = hex::encode(Sha256::digest(&jpeg));
                self.store.set_event_snapshot(id, &rel, &sha)?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader never sees half a snapshot.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("jpg.partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}

/// Everything a camera's analysis thread needs.
pub struct CameraAnalysis {
    pub camera: String,
    pub config: AnalysisSettings,
    pub store: Store,
    pub data_dir: PathBuf,
    pub registry: Arc<CameraRegistry>,
    pub stats: Arc<AnalysisStats>,
}

/// Starts the analysis thread of a camera and returns the recorder's tap.
pub fn start(
    analysis: CameraAnalysis,
) -> anyhow::Result<(AnalysisTap, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
    let tap = AnalysisTap {
        tx,
        dropped: Arc::clone(&analysis.stats.dropped),
        dropping: false,
    };
    let name = format!("analysis-{}", analysis.camera);
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(analysis, rx))
        .context("starting an analysis thread")?;
    Ok((tap, handle))
}

/// Reads a separate analysis stream (the camera's sub stream) into a tap,
/// reconnecting with backoff, until shutdown.
pub async fn read_analysis_stream(
    camera: String,
    spec: SourceSpec,
    mut tap: AnalysisTap,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::recorder_default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let session = async {
            let mut source = Source::connect(&spec).await?;
            loop {
                match source.next().await? {
                    SourceItem::Params(p) => tap.params(&p),
                    SourceItem::Lost(_) | SourceItem::BeforeParameters => {}
                    SourceItem::Frame(f) => {
                        backoff.reset();
                        tap.frame(&f, now_ms());
                    }
                }
            }
        };
        let outcome: Result<(), custos_media::source::SourceError> = tokio::select! {
            r = session => r,
            _ = shutdown.changed() => return,
        };
        if let Err(e) = outcome {
            tracing::warn!(camera = %camera, "analysis stream: {e}");
        }
        let delay = backoff.next_delay(&mut rand::thread_rng());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn run(a: CameraAnalysis, mut rx: mpsc::Receiver<AnalysisInput>) {
    // Events left open by a previous run (a crash) end where it stopped
    // knowing; offline periods are the recorder's to end.
    match a.store.open_events(&a.camera, None) {
        Ok(open) => {
            for ev in open.iter().filter(|e| e.kind != OFFLINE_EVENT) {
                let at = now_ms();
                if let Err(e) = crate::analysis_events::end(&a.store, ev, at, &ev.zones, ev.score) {
                    tracing::error!(camera = %a.camera, "ending an event left open: {e:#}");
                }
            }
        }
        Err(e) => tracing::error!(camera = %a.camera, "reading open events: {e}"),
    }
    let mut analyzer = match Analyzer::new(a.config.analyzer_config()) {
        Ok(an) => an,
        Err(e) => {
            tracing::error!(camera = %a.camera, "analysis settings: {e}");
            a.stats.publish(
                &a.registry,
                &a.camera,
                Some(format!("analysis settings: {e}")),
            );
            return;
        }
    };
    let mut sink = EventSink {
        store: a.store,
        data_dir: a.data_dir,
        camera: a.camera.clone(),
        ids: HashMap::new(),
        last_snapshot_ms: HashMap::new(),
        registry: Arc::clone(&a.registry),
    };
    let mut sampler = Sampler::new(a.config.fps);
    let mut decoder: Option<Decoder> = None;
    // Kept to open a new decoder if the decoding helper dies.
    let mut params: Option<VideoParams> = None;
    let mut need_key = true;
    // Decode order to wall clock: pictures come out of the decoder by pts.
    let mut arrivals: VecDeque<(i64, i64)> = VecDeque::new();
    let mut last_wall = now_ms();
    // Why the current stream cannot be analysed, shown in the camera status.
    let mut stream_error: Option<String> = None;
    let mut published_at = Instant::now();
    a.stats.publish(&a.registry, &a.camera, None);
    while let Some(input) = rx.blocking_recv() {
        if published_at.elapsed().as_secs() >= 1 {
            published_at = Instant::now();
            a.stats
                .publish(&a.registry, &a.camera, stream_error.clone());
        }
        match input {
            AnalysisInput::Params(p) => match Decoder::for_params(&p, 1) {
                Ok(d) => {
                    decoder = Some(d);
                    params = Some(p);
                    need_key = true;
                    arrivals.clear();
                    stream_error = None;
                }
                Err(e) => {
                    tracing::error!(camera = %a.camera, codec = %p.codec, "cannot analyse this stream: {e}");
                    let message = format!("cannot analyse {} video: {e}", p.codec);
                    a.stats
                        .publish(&a.registry, &a.camera, Some(message.clone()));
                    stream_error = Some(message);
                    decoder = None;
                }
            },
            AnalysisInput::Frame {
                frame,
                wall_ms,
                after_drop,
            } => {
                let Some(dec) = decoder.as_mut() else {
                    continue;
                };
                if after_drop {
                    need_key = true;
                }
                if need_key && !frame.is_key {
                    a.stats.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                need_key = false;
                last_wall = wall_ms;
                arrivals.push_back((frame.pts, wall_ms));
                if arrivals.len() > 64 {
                    arrivals.pop_front();
                }
                if let Err(e) = dec.send(&frame.data, frame.pts, frame.dts) {
                    need_key = true;
                    if !e.is_helper_gone() {
                        tracing::debug!(camera = %a.camera, "undecodable frame: {e}");
                        continue;
                    }
                    // The helper died (and took this decoder with it): a
                    // new decoder starts a new helper, from the next key frame.
                    tracing::warn!(camera = %a.camera, "analysis lost its decoder: {e}");
                    arrivals.clear();
                    match params.as_ref().map(|p| Decoder::for_params(p, 1)) {
                        Some(Ok(d)) => decoder = Some(d),
                        Some(Err(e)) => {
                            tracing::error!(camera = %a.camera, "cannot analyse this stream: {e}");
                            let message = format!("cannot analyse the video: {e}");
                            a.stats
                                .publish(&a.registry, &a.camera, Some(message.clone()));
                            stream_error = Some(message);
                            decoder = None;
                        }
                        None => decoder = None,
                    }
                    continue;
                }
                loop {
                    let pts = match dec.receive() {
                        Ok(Some(pts)) => pts,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(camera = %a.camera, "decoding: {e}");
                            need_key = true;
                            break;
                        }
                    };
                    a.stats.decoded.fetch_add(1, Ordering::Relaxed);
                    let wall = pts
                        .and_then(|p| arrivals.iter().find(|(q, _)| *q == p).map(|(_, w)| *w))
                        .unwrap_or(wall_ms);
                    if !sampler.take(wall) {
                        continue;
                    }
                    let updates = match dec.luma() {
                        Ok(l) => analyzer.push(&LumaFrame {
                            width: l.width,
                            height: l.height,
                            stride: l.stride,
                            data: l.data,
                            pts_ms: wall,
                        }),
                        Err(e) => {
                            tracing::debug!(camera = %a.camera, "reading a picture: {e}");
                            continue;
                        }
                    };
                    a.stats.analysed.fetch_add(1, Ordering::Relaxed);
                    sink.apply(updates, dec, wall);
                }
            }
        }
    }
    // Shutdown: every open event ends at the last frame seen.
    let updates = analyzer.finish(last_wall);
    if let Some(dec) = decoder.as_ref() {
        sink.apply(updates, dec, last_wall);
    } else {
        for u in updates {
            if let Update::Ended(ev) = u {
                if let Some(id) = sink.ids.remove(&ev.id) {
                    if let Ok(Some(stored)) = sink.store.event(id) {
                        let _ = crate::analysis_events::end(
                            &sink.store,
                            &stored,
                            last_wall,
                            &ev.zones,
                            f64::from(ev.score),
                        );
                    }
                }
            }
        }
    }
    a.stats.publish(&a.registry, &a.camera, stream_error);
    tracing::info!(
        camera = %a.camera,
        decoded = a.stats.decoded.load(Ordering::Relaxed),
        analysed = a.stats.analysed.load(Ordering::Relaxed),
        dropped = a.stats.dropped.load(Ordering::Relaxed),
        skipped = a.stats.skipped.load(Ordering::Relaxed),
        "analysis stopped"
    );
}

/// One line of `custos analyze --json` per event.
#[derive(serde::Serialize)]
struct AnalyzedEvent<'a> {
    kind: &'a str,
    start_s: f64,
    end_s: f64,
    zones: &'a [String],
    score: f32,
}

/// `custos analyze FILE --json`: the live analysis, over a file, as fast as
/// it decodes. Prints one JSON object per event as it ends, then a summary.
pub fn analyze_file(path: &Path, config: &AnalysisSettings, json: bool) -> anyhow::Result<()> {
    let mut analyzer = Analyzer::new(config.analyzer_config())
        .map_err(|e| anyhow::anyhow!("analysis settings: {e}"))?;
    let mut file = FileDecoder::open(path, 0)?;
    let mut sampler = Sampler::new(config.fps);
    let started = Instant::now();
    let (mut frames, mut analysed) = (0u64, 0u64);
    let mut first_ms: Option<i64> = None;
    let mut last_ms = 0i64;
    let print = |updates: Vec<Update>, first: i64| -> anyhow::Result<()> {
        for u in updates {
            let Update::Ended(ev) = u else { continue };
            let start_s = (ev.start_ms - first) as f64 / 1000.0;
            let end_s = (ev.end_ms.unwrap_or(ev.start_ms) - first) as f64 / 1000.0;
            let line = AnalyzedEvent {
                kind: ev.kind.as_str(),
                start_s: (start_s * 1000.0).round() / 1000.0,
                end_s: (end_s * 1000.0).round() / 1000.0,
                zones: &ev.zones,
                score: (ev.score * 1000.0).round() / 1000.0,
            };
            if json {
                println!("{}", serde_json::to_string(&line)?);
            } else {
                println!(
                    "{:>9.3} s – {:>9.3} s  {:<17} score {:.3}{}",
                    line.start_s,
                    line.end_s,
                    line.kind,
                    line.score,
                    if line.zones.is_empty() {
                        String::new()
                    } else {
                        format!("  zones: {}", line.zones.join(", "))
                    }
                );
            }
        }
        Ok(())
    };
    while let Some(t_ms) = file.next_picture()? {
        frames += 1;
        let first = *first_ms.get_or_insert(t_ms);
        last_ms = last_ms.max(t_ms);
        if !sampler.take(t_ms) {
            continue;
        }
        let luma = file.decoder().luma()?;
        let updates = analyzer.push(&LumaFrame {
            width: luma.width,
            height: luma.height,
            stride: luma.stride,
            data: luma.data,
            pts_ms: t_ms,
        });
        analysed += 1;
        print(updates, first)?;
    }
    let first = first_ms.unwrap_or(0);
    print(analyzer.finish(last_ms), first)?;
    let wall = started.elapsed().as_secs_f64();
    let seconds = (last_ms - first) as f64 / 1000.0;
    let fps = if wall > 0.0 {
        frames as f64 / wall
    } else {
        0.0
    };
    let summary = serde_json::json!({
        "summary": {
            "frames": frames,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "fps": (fps * 10.0).round() / 10.0,
            "analysed": analysed,
            "codec": file.codec(),
        }
    });
    if json {
        println!("{summary}");
    } else {
        println!(
            "{frames} pictures ({seconds:.1} s of video, {analysed} analysed) decoded and analysed at {fps:.0} pictures/s"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_keeps_a_steady_rate_from_any_input_rate() {
        for (input_fps, want) in [(15, 50), (30, 50), (5, 50), (10, 50), (25, 50)] {
            let mut s = Sampler::new(5);
            let step = 1000.0 / f64::from(input_fps);
            let taken = (0..input_fps * 10)
                .filter(|n| s.take((f64::from(*n) * step).round() as i64))
                .count();
            assert!(
                (want - 1..=want + 1).contains(&taken),
                "{input_fps} fps: took {taken}"
            );
        }
        // Slower than the rate: every picture.
        let mut s = Sampler::new(5);
        assert_eq!((0..10).filter(|n| s.take(n * 1000)).count(), 10);
        // A jump back starts over instead of waiting.
        let mut s = Sampler::new(5);
        assert!(s.take(100_000));
        assert!(s.take(0));
    }
}
