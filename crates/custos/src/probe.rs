//! `custos camera probe`: what a camera sends, measured from its stream.

use std::time::{Duration, Instant};

use custos_media::fmp4::TIMESCALE;
use custos_media::source::{Source, SourceError, SourceItem, SourceSpec};

/// What a probe saw (the type the API answers with, so `custos camera probe --json` and
/// `POST /api/v1/settings/probe` answer alike).
pub use custos_site::settings::ProbeResult as ProbeReport;

/// Everything must be known within this time (the promise is 10 s).
const PROBE_BUDGET: Duration = Duration::from_secs(9);
/// Enough stream to measure a GOP of up to this many seconds.
const SAMPLE_TARGET: Duration = Duration::from_secs(4);

pub async fn probe(spec: &SourceSpec) -> Result<ProbeReport, SourceError> {
    let started = Instant::now();
    let mut source = tokio::time::timeout(PROBE_BUDGET, Source::connect(spec))
        .await
        .map_err(|_| SourceError::Unreachable("no answer within the probe's time".into()))??;
    let mut params = None;
    let mut first_pts: Option<i64> = None;
    let mut last_pts = 0i64;
    let mut frames = 0u32;
    let mut bytes = 0u64;
    let mut key_positions: Vec<u32> = Vec::new();
    loop {
        let remaining = PROBE_BUDGET.saturating_sub(started.elapsed());
        let item = match tokio::time::timeout(remaining, source.next()).await {
            Ok(item) => item?,
            Err(_) => break,
        };
        match item {
            SourceItem::Params(p) => params = Some(p),
            SourceItem::Lost(_) | SourceItem::BeforeParameters => {}
            SourceItem::Frame(f) => {
                // Decode times: they increase even with B-frames.
                first_pts.get_or_insert(f.dts);
                last_pts = f.dts;
                if f.is_key {
                    key_positions.push(frames);
                }
                frames += 1;
                bytes += f.data.len() as u64;
                let media =
                    (last_pts - first_pts.unwrap_or(last_pts)) as f64 / f64::from(TIMESCALE);
                if key_positions.len() >= 3 && media >= SAMPLE_TARGET.as_secs_f64() {
                    break;
                }
            }
        }
    }
    let params =
        params.ok_or_else(|| SourceError::Stream("no video parameters received".into()))?;
    let span_ticks = (last_pts - first_pts.unwrap_or(last_pts)).max(0);
    let seconds = span_ticks as f64 / f64::from(TIMESCALE);
    let fps = if seconds > 0.0 {
        f64::from(frames.saturating_sub(1)) / seconds
    } else {
        0.0
    };
    let gop_frames = key_positions.windows(2).last().map(|w| w[1] - w[0]);
    let bitrate_bps = if seconds > 0.0 {
        (bytes as f64 * 8.0 / seconds) as u64
    } else {
        0
    };
    let reorder_depth = custos_media::sps::reorder_depth(&params).pictures;
    Ok(ProbeReport {
        reorder_depth,
        codec: params.codec.name().to_owned(),
        rfc6381: params.rfc6381,
        width: params.width,
        height: params.height,
        fps: (fps * 100.0).round() / 100.0,
        gop_frames,
        bitrate_bps,
        sampled_seconds: (seconds * 100.0).round() / 100.0,
    })
}

/// The report as `custos camera probe` prints it.
pub fn describe(r: &ProbeReport) -> String {
    let gop = match r.gop_frames {
        Some(g) => format!("{g} frames ({:.2} s)", f64::from(g) / r.fps.max(0.001)),
        None => format!("longer than the {:.1} s sampled", r.sampled_seconds),
    };
    let b_frames = match r.reorder_depth {
        0 => "none".to_owned(),
        n => format!("yes (reorder depth {n})"),
    };
    format!(
        "codec:      {} ({})\nresolution: {}x{}\nframe rate: {:.2} fps\nGOP:        {gop}\nB-frames:   {b_frames}\nbitrate:    {:.0} kbit/s",
        r.codec,
        r.rfc6381,
        r.width,
        r.height,
        r.fps,
        r.bitrate_bps as f64 / 1000.0
    )
}
