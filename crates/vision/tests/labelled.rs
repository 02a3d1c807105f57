//! Labelled suite on real footage: OpenCV's `vtest.avi` (people walking in a
//! hall) and synthetic scenes, each clip with one known tamper (or none)
//! applied by ffmpeg filters and encoded to H.264. The first set is reduced
//! to 5 fps and 320 px before a veryfast encode; the camera-encoded set
//! (`tests-data/vtest-h264.mp4` and noise-free or night scenes) is encoded
//! at full size with libx264's defaults (B-frames) and sampled at 5 fps
//! when decoded, as the recorder does.
//!
//! Asserts per clip: the expected tamper is detected, reported within 5 s of
//! its onset, its end reported within 5 s of the recovery, and no other
//! tamper event at all (clean and lighting clips: none). Prints with
//! `--nocapture` a precision/recall table, the covered-vs-defocused
//! confusion matrix and the frozen recall.
//!
//! Fails, naming what is missing, when ffmpeg, `vtest.avi` or
//! `vtest-h264.mp4` is absent (`scripts/fixtures.sh` makes both). Generated
//! clips are cached under the target directory, keyed by their ffmpeg
//! command.
//!
//! `CUSTOS_VISION_TRACE=<clip name>` prints that clip's per-frame features;
//! `CUSTOS_VISION_CLIPS=a,b` runs those clips only.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use custos_vision::{Analyzer, AnalyzerConfig, EventKind, LumaFrame, Update};

/// Analysis frame rate and size (the product's sub-stream pipeline).
const FPS: i64 = 5;
const WIDTH: usize = 320;
/// The tamper is applied from this time...
const ONSET_S: f64 = 20.0;
/// ...until this one.
const RECOVERY_S: f64 = 40.0;
/// Detection and end must be reported within this of the truth.
const LATENCY_LIMIT_MS: i64 = 5000;
/// Clip length (the first minute of vtest.avi).
const CLIP_S: f64 = 60.0;
/// In the second after a lighting step, at most this fraction of the
/// picture may be seen moving (vtest's walkers alone make about 5 %).
const MOTION_AT_STEP_LIMIT: f32 = 0.1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// vtest.avi, 768x576 at 10 fps.
    Vtest,
    /// A still Mandelbrot picture with a large box walking across it (a
    /// person close to the camera, up to 46 % of the picture) and temporal
    /// sensor noise, 640x360 at 10 fps.
    Synthetic,
    /// `vtest-h264.mp4` (vtest.avi as a camera's H.264, 768x576 at 10 fps),
    /// filtered, then encoded again as a camera would: libx264 with its
    /// defaults (B-frames, CRF 23, key frame every 250 pictures) at full
    /// size and rate; decoded at full size and sampled at 5 fps, as the
    /// recorder hands pictures to the analysis.
    Hall,
    /// The hall at night, empty and still: a temporal median of
    /// `vtest-h264.mp4` (the walkers removed) held as one picture,
    /// darkened, with the strong temporal noise of a camera's gain
    /// (`noise=alls=20:allf=t`); encoded and decoded as `Hall`.
    NightRoom,
    /// A still Mandelbrot picture without any noise, 640x360 at 10 fps:
    /// a scene that was always still (its frames are identical from the
    /// start); encoded and decoded as `Hall`.
    StillSynthetic,
    /// The synthetic scene (the still Mandelbrot picture, the dark box
    /// crossing it every 10 s) without any noise, 640x360 at 10 fps:
    /// people walking in footage whose still parts repeat exactly; encoded
    /// and decoded as `Hall`.
    QuietSynthetic,
}

impl Source {
    /// True for the sources encoded as a camera would (encoder defaults,
    /// full size and rate) and sampled at decoding; false for the first
    /// suite's clips (5 fps, 320 px, veryfast, GOP 2 s before encoding).
    fn camera_encoded(self) -> bool {
        matches!(
            self,
            Source::Hall | Source::NightRoom | Source::StillSynthetic | Source::QuietSynthetic
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Category {
    Clean,
    Lighting,
    Tamper(EventKind),
    /// A tamper the analyzer cannot see by design: a frozen picture of a
    /// scene without sensor noise where nothing moves. No tamper event may
    /// be reported.
    Undetectable(EventKind),
}

struct Clip {
    name: &'static str,
    source: Source,
    category: Category,
    /// Filter applied to the scene (before sensor noise for the synthetic
    /// source): may use `enable='between(t,ONSET,RECOVERY)'` and labels.
    tamper: String,
    /// Filter applied after the synthetic sensor noise (a frozen camera
    /// repeats its noise too).
    after_noise: String,
    /// When the tamper is applied and removed (seconds).
    onset_s: f64,
    recovery_s: f64,
}

fn window() -> String {
    format!("enable='between(t,{ONSET_S},{RECOVERY_S})'")
}

/// `freezeframes` replaces frames ONSET..RECOVERY (10 fps input) with the
/// frame just before: the picture stops while frames keep coming.
fn freeze() -> String {
    freeze_between(ONSET_S, RECOVERY_S)
}

/// The picture stops from `onset_s` to `recovery_s` (10 fps input).
fn freeze_between(onset_s: f64, recovery_s: f64) -> String {
    let first = (onset_s * 10.0) as i64;
    let last = (recovery_s * 10.0) as i64 - 1;
    format!(
        "split[fa][fb];[fa][fb]freezeframes=first={first}:last={last}:replace={}",
        first - 1
    )
}

/// The camera turned: a view 80 % of the picture's size that shifts right
/// by `fraction` of the width during the tamper, scaled back to `size`.
fn turned(fraction: f64, size: &str) -> String {
    format!(
        "crop=w=iw*0.8:h=ih*0.8:x='if(between(t,{ONSET_S},{RECOVERY_S}),iw*{fraction},0)':\
         y=ih*0.1,scale={size}"
    )
}

/// A dark textured figure half the picture wide and 90 % high walking
/// across it at `speed` pixels (of 768) per second, from 8 s on: someone
/// close to the camera, covering up to 45 % of the picture.
fn person_close(speed: u32) -> String {
    let period = (768 + 384) * 3 / 2;
    format!(
        "[v0];color=c=0x282830:s=384x520:r=10,format=yuv420p,noise=alls=30:allf=t+u[figure];\
         [v0][figure]overlay=x='mod((t-8)*{speed},{period})-384':y=40:shortest=1"
    )
}

fn clips() -> Vec<Clip> {
    let w = window();
    let clip = |name, source, category, tamper: String| Clip {
        name,
        source,
        category,
        tamper,
        after_noise: String::new(),
        onset_s: ONSET_S,
        recovery_s: RECOVERY_S,
    };
    use Category::*;
    use Source::*;
    vec![
        clip("vtest-clean", Vtest, Clean, String::new()),
        clip(
            "vtest-cover-black",
            Vtest,
            Tamper(EventKind::Covered),
            format!("drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:{w}"),
        ),
        clip(
            "vtest-cover-hand",
            Vtest,
            Tamper(EventKind::Covered),
            // A flat skin-coloured patch over 90 % of the picture.
            format!("drawbox=x=0:y=0:w=iw:h=ih*0.9:color=0xa08070:t=fill:{w}"),
        ),
        clip(
            "vtest-cover-cloth",
            Vtest,
            Tamper(EventKind::Covered),
            // A textured cloth: blurred noise, moving a little every frame.
            format!(
                "[v0];color=c=0x6a5a50:s=768x576:r=10,format=yuv420p,noise=alls=40:allf=t+u,\
                 boxblur=3[cloth];[v0][cloth]overlay=shortest=1:{w}"
            ),
        ),
        clip(
            "vtest-defocus-box",
            Vtest,
            Tamper(EventKind::Defocused),
            format!("boxblur=luma_radius=12:luma_power=1:{w}"),
        ),
        clip(
            "vtest-defocus-gauss",
            Vtest,
            Tamper(EventKind::Defocused),
            format!("gblur=sigma=8:{w}"),
        ),
        clip(
            "vtest-moved-shift",
            Vtest,
            Tamper(EventKind::Moved),
            // The camera turns: the view shifts by 20 % of its width.
            turned(0.2, "768:576"),
        ),
        clip(
            "vtest-moved-mirror",
            Vtest,
            Tamper(EventKind::Moved),
            // A different scene with the same statistics.
            format!("hflip={w}"),
        ),
        // vtest.avi after H.264 has no temporal noise left (P-frames copy
        // the still background exactly), but the people stop dead.
        clip("vtest-frozen", Vtest, Tamper(EventKind::Frozen), freeze()),
        clip(
            "vtest-lights-up",
            Vtest,
            Lighting,
            format!("lutyuv=y='clip(val*1.4,minval,maxval)':{w}"),
        ),
        clip(
            "vtest-lights-down",
            Vtest,
            Lighting,
            format!("lutyuv=y='val*0.6':{w}"),
        ),
        clip(
            "vtest-lights-gamma",
            Vtest,
            Lighting,
            format!("eq=gamma=1.5:{w}"),
        ),
        clip(
            "vtest-cover-partial",
            Vtest,
            Tamper(EventKind::Covered),
            // The top 60 % blacked out: the busy part of the scene hidden.
            format!("drawbox=x=0:y=0:w=iw:h=ih*0.6:color=black:t=fill:{w}"),
        ),
        clip(
            "vtest-defocus-mild",
            Vtest,
            Tamper(EventKind::Defocused),
            format!("boxblur=luma_radius=4:luma_power=1:{w}"),
        ),
        clip(
            "vtest-moved-nudge",
            Vtest,
            Tamper(EventKind::Moved),
            // A nudge: the view shifts by 5 % of its width.
            turned(0.05, "768:576"),
        ),
        clip(
            "vtest-noisy-clean",
            Vtest,
            Clean,
            "noise=alls=10:allf=t".to_string(),
        ),
        clip(
            "vtest-noisy-frozen",
            Vtest,
            Tamper(EventKind::Frozen),
            format!("noise=alls=10:allf=t,{}", freeze()),
        ),
        clip(
            "vtest-lights-offset",
            Vtest,
            Lighting,
            format!("eq=brightness=0.15:{w}"),
        ),
        clip(
            "vtest-lights-contrast",
            Vtest,
            Lighting,
            format!("eq=contrast=0.6:{w}"),
        ),
        clip("vtest-person-close", Vtest, Clean, person_close(150)),
        clip("vtest-person-slow", Vtest, Clean, person_close(80)),
        clip("synth-clean", Synthetic, Clean, String::new()),
        clip(
            "synth-cover-black",
            Synthetic,
            Tamper(EventKind::Covered),
            format!("drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:{w}"),
        ),
        clip(
            "synth-defocus-gauss",
            Synthetic,
            Tamper(EventKind::Defocused),
            format!("gblur=sigma=6:{w}"),
        ),
        clip(
            "synth-moved-shift",
            Synthetic,
            Tamper(EventKind::Moved),
            turned(0.2, "640:360"),
        ),
        Clip {
            name: "synth-frozen",
            source: Synthetic,
            category: Tamper(EventKind::Frozen),
            tamper: String::new(),
            after_noise: freeze(),
            onset_s: ONSET_S,
            recovery_s: RECOVERY_S,
        },
        clip(
            "synth-lights-up",
            Synthetic,
            Lighting,
            format!("lutyuv=y='clip(val*1.4,minval,maxval)':{w}"),
        ),
        clip(
            "synth-lights-down",
            Synthetic,
            Lighting,
            format!("lutyuv=y='val*0.6':{w}"),
        ),
        // Camera-encoded footage of the hall (encoder defaults, B-frames).
        clip("hall-clean", Hall, Clean, String::new()),
        clip(
            "hall-cover-dark-noise",
            Hall,
            Tamper(EventKind::Covered),
            // Something dark over the lens; the camera's gain turns it into
            // a dark picture of strong temporal noise, a faint trace of the
            // scene's layout left in it.
            darkened(0.15, 20),
        ),
        clip(
            "hall-cover-grey-cloth",
            Hall,
            Tamper(EventKind::Covered),
            // A flat mid-grey cloth against the lens: its weave (a fixed
            // pattern) out of focus, and the sensor's noise on it.
            cover_with(
                "color=c=0x7a7a7a:s=768x576:r=10,format=yuv420p,noise=alls=30:all_seed=11,\
                 gblur=sigma=3,noise=alls=6:allf=t",
            ),
        ),
        clip(
            "hall-cover-hand",
            Hall,
            Tamper(EventKind::Covered),
            // A hand close to the lens: a blurred skin-toned blob filling
            // the picture, lit unevenly and moving a little, with noise.
            cover_with(&hand(0.55, 170.0, 10)),
        ),
        clip(
            "hall-defocus-gauss",
            Hall,
            Tamper(EventKind::Defocused),
            format!("gblur=sigma=8:{w}"),
        ),
        clip(
            "hall-defocus-box",
            Hall,
            Tamper(EventKind::Defocused),
            format!("boxblur=luma_radius=12:luma_power=1:{w}"),
        ),
        // The picture stops for 15 s while people walk: the encoder then
        // sends the same picture again and again.
        frozen_clip("hall-frozen", Hall, "", ONSET_S, FROZEN_RECOVERY_S),
        // Added after the fix, from clips it was not tuned on: a lighter
        // darkening with less noise; a dimmer, wider hand with more noise
        // (found on the slower partial-cover path); the mirrored hall frozen
        // later for 12 s.
        clip(
            "hall-cover-dim-noise",
            Hall,
            Tamper(EventKind::Covered),
            darkened(0.3, 10),
        ),
        clip(
            "hall-cover-hand-dim",
            Hall,
            Tamper(EventKind::Covered),
            cover_with(&hand(0.8, 120.0, 20)),
        ),
        frozen_clip("hall-frozen-mirrored", Hall, "hflip", 44.0, 56.0),
        // Noise-free footage with someone crossing every 10 s, frozen while
        // the box is in the picture; after the freeze the box leaves and the
        // picture repeats exactly again (no freeze, no person).
        clip("quiet-synth-clean", QuietSynthetic, Clean, String::new()),
        frozen_clip("quiet-synth-frozen", QuietSynthetic, "", 23.5, 38.0),
        // Scenes that are always still: no tamper may be reported.
        clip("night-room-clean", NightRoom, Clean, String::new()),
        clip("still-synth-clean", StillSynthetic, Clean, String::new()),
        // Nothing moves and there is no noise: a freeze changes nothing.
        clip(
            "still-synth-frozen",
            StillSynthetic,
            Undetectable(EventKind::Frozen),
            freeze(),
        ),
    ]
}

/// A clip whose picture `freeze_between(onset_s, recovery_s)` after the
/// filter `before` (may be empty).
fn frozen_clip(
    name: &'static str,
    source: Source,
    before: &str,
    onset_s: f64,
    recovery_s: f64,
) -> Clip {
    Clip {
        name,
        source,
        category: Category::Tamper(EventKind::Frozen),
        tamper: chain(&[before, &freeze_between(onset_s, recovery_s)]),
        after_noise: String::new(),
        onset_s,
        recovery_s,
    }
}

/// The 15 s freeze of `hall-frozen` ends here.
const FROZEN_RECOVERY_S: f64 = 35.0;

/// Blends the picture into `layer` (a 768x576 10 fps yuv420p source) over
/// 0.8 s from the onset, and back over 0.4 s before the recovery: a cover
/// brought up to the lens and taken away.
fn cover_with(layer: &str) -> String {
    format!(
        "[v0];{layer}[cover];[v0][cover]blend=shortest=1:\
         all_expr='A+(B-A)*clip(min((T-{ONSET_S})/0.8,({RECOVERY_S}-T)/0.4),0,1)'"
    )
}

/// The picture fades to `scale` of its brightness with temporal noise of
/// strength `noise` on it, over 0.8 s from the onset, and back over 0.4 s
/// before the recovery.
fn darkened(scale: f64, noise: u32) -> String {
    format!(
        "split[lit][dim];[dim]lutyuv=y='val*{scale}',noise=alls={noise}:allf=t[dark];\
         [lit][dark]blend=shortest=1:\
         all_expr='A+(B-A)*clip(min((T-{ONSET_S})/0.8,({RECOVERY_S}-T)/0.4),0,1)'"
    )
}

/// A hand close to the lens: a skin-toned blob (brightest `peak` luma at
/// its centre, falling off over `spread` of the picture), drifting a few
/// per cent of the picture, rendered small and scaled up (it is out of
/// focus), with temporal noise of strength `noise`.
fn hand(spread: f64, peak: f64, noise: u32) -> String {
    let falloff = peak - 50.0;
    format!(
        "color=c=black:s=192x144:r=10,format=yuv444p,\
         geq=lum='50+{falloff}*exp(-(pow(X/W-0.5-0.05*sin(T*1.7),2)+pow(Y/H-0.6-0.04*cos(T*1.1),2))/({spread}*{spread}/2))':\
         cb=112:cr=150,scale=768:576:flags=bicubic,format=yuv420p,noise=alls={noise}:allf=t"
    )
}

/// The synthetic scene: a still Mandelbrot picture and a person, a dark box
/// 320x330 on 640x360, crossing in 3.2 s every 10 s from 2.5 s on (so it is
/// away at 20 s and 40 s, and back 2.5 s later).
const SYNTHETIC_SCENE: &str = "mandelbrot=s=640x360:r=10:start_scale=1.5:end_scale=1.5,\
     trim=end_frame=1,loop=loop=-1:size=1,format=yuv420p[bg];\
     color=c=0x303030:s=320x330:r=10,format=yuv420p[person];\
     [bg][person]overlay=x='mod((t-2.5)*300,3000)-320':y=15:shortest=1";

/// Joins filters with commas, skipping empty ones; a filter starting with
/// `[` continues a labelled graph and is joined without a comma.
fn chain(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if !out.is_empty() && !part.starts_with('[') {
            out.push(',');
        }
        out.push_str(part);
    }
    out
}

impl Clip {
    /// The size of the decoded pictures handed to the analyzer.
    fn decoded_size(&self) -> (usize, usize) {
        match self.source {
            Source::Vtest => (WIDTH, 240),
            Source::Synthetic => (WIDTH, 180),
            Source::Hall | Source::NightRoom => (768, 576),
            Source::StillSynthetic | Source::QuietSynthetic => (640, 360),
        }
    }

    /// The ffmpeg arguments that make the clip's H.264 file (without the
    /// output path).
    fn encode_args(&self, vtest: &Path, hall: &Path) -> Vec<String> {
        let scale = if self.source.camera_encoded() {
            "format=yuv420p".to_string()
        } else {
            let (width, height) = self.decoded_size();
            format!("fps={FPS},scale={width}:{height},format=yuv420p")
        };
        let (input, graph) = match self.source {
            Source::Hall => (
                vec!["-i".to_string(), hall.display().to_string()],
                format!("[0:v]{}[out]", chain(&["null", &self.tamper, &scale])),
            ),
            Source::NightRoom => {
                // The walkers removed by a 4 s temporal median, one picture
                // of it held, darkened, the gain's noise on top. tmedian's
                // first picture is the median of its first 41: trimming
                // before it computes only the one median that is kept: the
                // same picture as taking the 300th median of the whole clip,
                // and the clip is built in 54 s instead of 116 s.
                let room = "trim=start_frame=300:end_frame=341,tmedian=radius=20,\
                            loop=loop=-1:size=1,setpts=N/(10*TB),lutyuv=y='val*0.3',\
                            noise=alls=20:allf=t";
                (
                    vec!["-i".to_string(), hall.display().to_string()],
                    format!("[0:v]{}[out]", chain(&[room, &self.tamper, &scale])),
                )
            }
            Source::QuietSynthetic => (
                Vec::new(),
                format!("{}[out]", chain(&[SYNTHETIC_SCENE, &self.tamper, &scale])),
            ),
            Source::StillSynthetic => {
                let scene = "mandelbrot=s=640x360:r=10:start_scale=1.5:end_scale=1.5,\
                             trim=end_frame=1,loop=loop=-1:size=1,setpts=N/(10*TB),\
                             format=yuv420p";
                (
                    Vec::new(),
                    format!("{}[out]", chain(&[scene, &self.tamper, &scale])),
                )
            }
            Source::Vtest => (
                vec!["-i".to_string(), vtest.display().to_string()],
                format!("[0:v]{}[out]", chain(&["null", &self.tamper, &scale])),
            ),
            Source::Synthetic => {
                let scene = SYNTHETIC_SCENE;
                let noise = "noise=alls=12:allf=t";
                (
                    Vec::new(),
                    format!(
                        "{}[out]",
                        chain(&[scene, &self.tamper, noise, &self.after_noise, &scale])
                    ),
                )
            }
        };
        let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(input);
        args.extend(
            [
                "-filter_complex",
                &graph,
                "-map",
                "[out]",
                "-an",
                "-t",
                &CLIP_S.to_string(),
                "-c:v",
                "libx264",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        if !self.source.camera_encoded() {
            args.extend(
                ["-preset", "veryfast", "-crf", "23", "-g", "10"]
                    .iter()
                    .map(|s| s.to_string()),
            );
        }
        args.extend(["-f", "mp4"].iter().map(|s| s.to_string()));
        args
    }

    /// The ffmpeg filter that decodes the clip for the analyzer: the
    /// camera-encoded clips are sampled at the analysis rate here.
    fn decode_filter(&self) -> String {
        if self.source.camera_encoded() {
            format!("fps={FPS},format=gray")
        } else {
            "format=gray".to_string()
        }
    }
}

struct ClipResult {
    name: &'static str,
    category: Category,
    onset_s: f64,
    recovery_s: f64,
    /// True if analysed at the decoded size (not 320 px).
    full_size: bool,
    /// (event, the pts at which it was reported started, reported ended).
    events: Vec<(custos_vision::Event, i64, Option<i64>)>,
    /// Highest motion score within 1 s after each lighting step.
    motion_at_steps: f32,
    /// Whether frozen detection was armed at the end.
    frozen_armed: bool,
    frames: usize,
    analysis_ms: f64,
}

fn test_data_dir() -> PathBuf {
    std::env::var_os("CUSTOS_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests-data"))
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vision-clips")
}

/// The clip's H.264 file, made if not cached.
fn encoded(clip: &Clip, vtest: &Path, hall: &Path) -> PathBuf {
    let args = clip.encode_args(vtest, hall);
    let mut hasher = DefaultHasher::new();
    args.hash(&mut hasher);
    let path = cache_dir().join(format!("{}-{:016x}.mp4", clip.name, hasher.finish()));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(cache_dir()).unwrap();
    let partial = path.with_extension("partial.mp4");
    let output = Command::new("ffmpeg")
        .args(&args)
        .arg(&partial)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}: ffmpeg {:?} failed: {}",
        clip.name,
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, &path).unwrap();
    path
}

fn analyse(clip: &Clip, vtest: &Path, hall: &Path) -> ClipResult {
    let path = encoded(clip, vtest, hall);
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(&path)
        .args(["-vf", &clip.decode_filter(), "-f", "rawvideo", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (width, height) = clip.decoded_size();
    let mut buffer = vec![0u8; width * height];
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let trace = std::env::var("CUSTOS_VISION_TRACE").is_ok_and(|t| t == clip.name);
    let mut events: Vec<(custos_vision::Event, i64, Option<i64>)> = Vec::new();
    let mut motion_at_steps = 0.0f32;
    let mut frames = 0usize;
    let mut analysis = std::time::Duration::ZERO;
    let record = |updates: Vec<Update>, now: i64, events: &mut Vec<_>| {
        for update in updates {
            match update {
                Update::Started(event) => events.push((event, now, None)),
                Update::Ended(event) => {
                    if let Some(entry) = events.iter_mut().find(|(e, _, _)| e.id == event.id) {
                        entry.0 = event;
                        entry.2 = Some(now);
                    }
                }
                Update::Snapshot { .. } => {}
            }
        }
    };
    while reader.read_exact(&mut buffer).is_ok() {
        let pts_ms = frames as i64 * 1000 / FPS;
        frames += 1;
        let frame = LumaFrame {
            width,
            height,
            stride: width,
            data: &buffer,
            pts_ms,
        };
        let started = std::time::Instant::now();
        let updates = analyzer.push(&frame);
        analysis += started.elapsed();
        let stats = analyzer.stats();
        for step in [clip.onset_s, clip.recovery_s] {
            let step_ms = (step * 1000.0) as i64;
            if (step_ms..step_ms + 1000).contains(&pts_ms) {
                motion_at_steps = motion_at_steps.max(stats.motion.moving);
            }
        }
        if trace {
            let t = stats.tamper;
            let m = stats.motion;
            println!(
                "{:6.1}s {:?} noise {:.2} armed {} | lost {:.2} soft {:.2} mism {:.2} layout {:.2} bright {:.2} spread {:.2} edges {:.2} diff {:.2} tex {} shift {:?} {} | thr {:.1} gain {:.2} chg {:.3} mov {:.3}{} {}",
                pts_ms as f64 / 1000.0,
                stats.learning_state,
                stats.noise,
                stats.frozen_armed,
                t.contrast_lost,
                t.softened,
                t.mismatched,
                t.layout,
                t.brightness,
                t.spread,
                t.edges,
                t.frame_difference,
                t.textured_cells,
                t.shift,
                t.shifted,
                m.threshold,
                m.gain,
                m.changed,
                m.moving,
                if m.lighting_change { " LIGHT" } else { "" },
                updates
                    .iter()
                    .filter_map(|u| match u {
                        Update::Started(e) => Some(format!("START {}", e.kind.as_str())),
                        Update::Ended(e) => Some(format!("END {}", e.kind.as_str())),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        record(updates, pts_ms, &mut events);
    }
    let end_ms = frames as i64 * 1000 / FPS;
    record(analyzer.finish(end_ms), end_ms, &mut events);
    let frozen_armed = analyzer.stats().frozen_armed;
    let status = child.wait().unwrap();
    assert!(status.success(), "{}: decoding failed", clip.name);
    ClipResult {
        name: clip.name,
        category: clip.category,
        onset_s: clip.onset_s,
        recovery_s: clip.recovery_s,
        full_size: clip.source.camera_encoded(),
        events,
        motion_at_steps,
        frozen_armed,
        frames,
        analysis_ms: analysis.as_secs_f64() * 1000.0,
    }
}

/// How one clip's tamper events compare with the truth.
struct Judgement {
    /// The tamper applied, if any.
    expected: Option<EventKind>,
    /// False for a tamper that cannot be seen by design.
    detectable: bool,
    detected: bool,
    onset_latency_ms: Option<i64>,
    end_latency_ms: Option<i64>,
    /// Tamper events that do not match the truth: kind and description.
    false_alarms: Vec<(EventKind, String)>,
}

fn judge(result: &ClipResult) -> Judgement {
    let onset_ms = (result.onset_s * 1000.0) as i64;
    let recovery_ms = (result.recovery_s * 1000.0) as i64;
    let (expected, detectable) = match result.category {
        Category::Tamper(kind) => (Some(kind), true),
        Category::Undetectable(kind) => (Some(kind), false),
        Category::Clean | Category::Lighting => (None, false),
    };
    let mut judgement = Judgement {
        expected,
        detectable,
        detected: false,
        onset_latency_ms: None,
        end_latency_ms: None,
        false_alarms: Vec::new(),
    };
    for (event, reported_start, reported_end) in &result.events {
        if !event.kind.is_tamper() {
            continue;
        }
        let matches = detectable
            && Some(event.kind) == expected
            && !judgement.detected
            && *reported_start >= onset_ms
            && event.start_ms < recovery_ms;
        if matches {
            judgement.detected = true;
            judgement.onset_latency_ms = Some(reported_start - onset_ms);
            judgement.end_latency_ms = reported_end.map(|end| end - recovery_ms);
        } else {
            let description = format!(
                "{} {:.1}..{} s (reported at {:.1} s)",
                event.kind.as_str(),
                event.start_ms as f64 / 1000.0,
                event
                    .end_ms
                    .map_or("open".to_string(), |e| format!("{:.1}", e as f64 / 1000.0)),
                *reported_start as f64 / 1000.0
            );
            judgement.false_alarms.push((event.kind, description));
        }
    }
    judgement
}

/// The kind of the first tamper event reported during the clip's tamper
/// (reported after the onset, started before the recovery), if any.
fn reported_kind(result: &ClipResult) -> Option<EventKind> {
    let onset_ms = (result.onset_s * 1000.0) as i64;
    let recovery_ms = (result.recovery_s * 1000.0) as i64;
    result
        .events
        .iter()
        .find(|(event, reported_start, _)| {
            event.kind.is_tamper() && *reported_start >= onset_ms && event.start_ms < recovery_ms
        })
        .map(|(event, _, _)| event.kind)
}

/// Covered against defocused: for the clips of either truth, which kind
/// was reported first during the tamper. Then frozen recall.
fn print_confusion(results: &[ClipResult], judgements: &[Judgement]) {
    const REPORTED: [Option<EventKind>; 5] = [
        Some(EventKind::Covered),
        Some(EventKind::Defocused),
        Some(EventKind::Moved),
        Some(EventKind::Frozen),
        None,
    ];
    println!();
    println!(
        "covered vs defocused: clips by the tamper applied and the kind first reported during it"
    );
    println!(
        "{:<22} {:>8} {:>10} {:>6} {:>7} {:>5}",
        "applied \\ reported", "covered", "defocused", "moved", "frozen", "none"
    );
    for truth in [EventKind::Covered, EventKind::Defocused] {
        let reported: Vec<Option<EventKind>> = results
            .iter()
            .filter(|r| r.category == Category::Tamper(truth))
            .map(reported_kind)
            .collect();
        let count = |kind: Option<EventKind>| reported.iter().filter(|&&r| r == kind).count();
        let counts: Vec<usize> = REPORTED.iter().map(|&kind| count(kind)).collect();
        println!(
            "{:<22} {:>8} {:>10} {:>6} {:>7} {:>5}",
            truth.as_str(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4]
        );
    }
    let frozen: Vec<&Judgement> = judgements
        .iter()
        .filter(|j| j.expected == Some(EventKind::Frozen))
        .collect();
    let detectable = frozen.iter().filter(|j| j.detectable).count();
    let detected = frozen.iter().filter(|j| j.detected).count();
    let false_frozen = judgements
        .iter()
        .flat_map(|j| &j.false_alarms)
        .filter(|(kind, _)| *kind == EventKind::Frozen)
        .count();
    println!(
        "frozen recall: {detected} of {detectable} freezes ({}), {} more not detectable by design; \
         frozen events on other clips: {false_frozen}",
        percent(detected, detectable),
        frozen.len() - detectable
    );
}

/// Mean and maximum, or dashes.
fn mean_and_max(values: &[i64]) -> (String, String) {
    match values.iter().max() {
        Some(max) => (
            (values.iter().sum::<i64>() / values.len() as i64).to_string(),
            max.to_string(),
        ),
        None => ("-".to_string(), "-".to_string()),
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

fn print_table(results: &[ClipResult], judgements: &[Judgement]) {
    println!();
    println!(
        "{:<22} {:<18} {:>6} {:>9} {:>7} {:>7} {:>8}  notes",
        "clip", "tamper applied", "frames", "onset ms", "end ms", "motion", "moving"
    );
    println!(
        "{:<22} {:<18} {:>6} {:>9} {:>7} {:>7} {:>8}",
        "", "", "", "latency", "latency", "events", "at step"
    );
    for (result, judgement) in results.iter().zip(judgements) {
        let motion_events = result
            .events
            .iter()
            .filter(|(e, _, _)| e.kind == EventKind::Motion)
            .count();
        let mut notes: Vec<String> = judgement
            .false_alarms
            .iter()
            .map(|(_, description)| format!("FALSE {description}"))
            .collect();
        if judgement.expected.is_some() && !judgement.detectable {
            notes.push("not detectable by design".to_string());
        }
        let latency = |value: Option<i64>| value.map_or("-".to_string(), |l| l.to_string());
        println!(
            "{:<22} {:<18} {:>6} {:>9} {:>7} {:>7} {:>8.3}  {}",
            result.name,
            judgement.expected.map_or("-", |k| k.as_str()),
            result.frames,
            latency(judgement.onset_latency_ms),
            latency(judgement.end_latency_ms),
            motion_events,
            result.motion_at_steps,
            notes.join("; ")
        );
    }
    println!();
    println!(
        "{:<17} {:>5} {:>8} {:>6} {:>6} {:>6} {:>7} {:>9} {:>6} {:>6} {:>6} {:>6}",
        "kind",
        "clips",
        "detected",
        "missed",
        "unseen",
        "false",
        "recall",
        "precision",
        "onset",
        "onset",
        "end",
        "end"
    );
    println!(
        "{:<17} {:>5} {:>8} {:>6} {:>6} {:>6} {:>7} {:>9} {:>6} {:>6} {:>6} {:>6}",
        "", "", "", "", "design", "alarms", "", "", "mean", "max", "mean", "max"
    );
    for kind in [
        EventKind::Covered,
        EventKind::Defocused,
        EventKind::Moved,
        EventKind::Frozen,
    ] {
        let rows: Vec<&Judgement> = judgements
            .iter()
            .filter(|j| j.expected == Some(kind))
            .collect();
        let detectable = rows.iter().filter(|j| j.detectable).count();
        let detected = rows.iter().filter(|j| j.detected).count();
        let false_alarms = judgements
            .iter()
            .flat_map(|j| &j.false_alarms)
            .filter(|(k, _)| *k == kind)
            .count();
        let onsets: Vec<i64> = rows.iter().filter_map(|j| j.onset_latency_ms).collect();
        let ends: Vec<i64> = rows.iter().filter_map(|j| j.end_latency_ms).collect();
        let (onset_mean, onset_max) = mean_and_max(&onsets);
        let (end_mean, end_max) = mean_and_max(&ends);
        println!(
            "{:<17} {:>5} {:>8} {:>6} {:>6} {:>6} {:>7} {:>9} {:>6} {:>6} {:>6} {:>6}",
            kind.as_str(),
            rows.len(),
            detected,
            detectable - detected,
            rows.len() - detectable,
            false_alarms,
            percent(detected, detectable),
            percent(detected, detected + false_alarms),
            onset_mean,
            onset_max,
            end_mean,
            end_max
        );
    }
    let untampered: Vec<&Judgement> = judgements.iter().filter(|j| j.expected.is_none()).collect();
    let untampered_false: usize = untampered.iter().map(|j| j.false_alarms.len()).sum();
    println!(
        "untampered clips (clean, lighting, people close): {}, tamper events on them: {}",
        untampered.len(),
        untampered_false
    );
    // The first suite's clips are analysed at 320 px, the camera-encoded
    // ones at full size (the downscale to the work size costs more).
    for (label, full_size) in [("320 px", false), ("full size", true)] {
        let (frames, analysis_ms) = results
            .iter()
            .filter(|r| r.full_size == full_size)
            .fold((0usize, 0.0f64), |(frames, ms), r| {
                (frames + r.frames, ms + r.analysis_ms)
            });
        if frames > 0 {
            println!(
                "analysis: {frames} frames at {label}, {:.3} ms per frame (this build's profile)",
                analysis_ms / frames as f64
            );
        }
    }
}

#[test]
fn labelled_clips() {
    let vtest = test_data_dir().join("vtest.avi");
    let hall = test_data_dir().join("vtest-h264.mp4");
    let ffmpeg_present = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    // Missing inputs fail rather than skip: a suite that quietly passes when
    // it could not run would hide a broken CI setup.
    let found = |present: bool| if present { "found" } else { "missing" };
    assert!(
        ffmpeg_present && vtest.exists() && hall.exists(),
        "labelled_clips needs ffmpeg on PATH ({}), {} ({}) and {} ({}); \
         run scripts/fixtures.sh or set CUSTOS_TEST_DATA",
        found(ffmpeg_present),
        vtest.display(),
        found(vtest.exists()),
        hall.display(),
        found(hall.exists()),
    );
    let only = std::env::var("CUSTOS_VISION_CLIPS").ok();
    let clips: Vec<Clip> = clips()
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == c.name))
        })
        .collect();
    assert!(
        !clips.is_empty(),
        "CUSTOS_VISION_CLIPS={only:?} names no clip"
    );
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(clip) = clips.get(index) else {
                    break;
                };
                let result = analyse(clip, &vtest, &hall);
                results.lock().unwrap().push((index, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _)| *index);
    let results: Vec<ClipResult> = results.into_iter().map(|(_, r)| r).collect();
    let judgements: Vec<Judgement> = results.iter().map(judge).collect();
    print_table(&results, &judgements);
    print_confusion(&results, &judgements);

    let mut failures = Vec::new();
    for (result, judgement) in results.iter().zip(&judgements) {
        let name = result.name;
        if let (Some(kind), true) = (judgement.expected, judgement.detectable) {
            if !judgement.detected {
                failures.push(format!("{name}: {} not detected", kind.as_str()));
            }
            if judgement
                .onset_latency_ms
                .is_some_and(|l| l > LATENCY_LIMIT_MS)
            {
                failures.push(format!(
                    "{name}: onset reported {} ms late",
                    judgement.onset_latency_ms.unwrap_or(0)
                ));
            }
            if judgement.detected
                && judgement
                    .end_latency_ms
                    .is_none_or(|l| !(0..=LATENCY_LIMIT_MS).contains(&l))
            {
                failures.push(format!(
                    "{name}: end reported {:?} ms after recovery",
                    judgement.end_latency_ms
                ));
            }
        }
        if !judgement.false_alarms.is_empty() {
            let descriptions: Vec<&str> = judgement
                .false_alarms
                .iter()
                .map(|(_, description)| description.as_str())
                .collect();
            failures.push(format!(
                "{name}: false tamper events: {}",
                descriptions.join("; ")
            ));
        }
        if result.category == Category::Undetectable(EventKind::Frozen) && result.frozen_armed {
            failures.push(format!(
                "{name}: frozen detection armed on a noise-free scene, yet it missed the freeze"
            ));
        }
        if result.frames < (CLIP_S as usize - 2) * FPS as usize {
            failures.push(format!("{name}: only {} frames decoded", result.frames));
        }
        if result.category == Category::Lighting && result.motion_at_steps >= MOTION_AT_STEP_LIMIT {
            failures.push(format!(
                "{name}: the lighting step was seen as motion over {:.0} % of the picture",
                result.motion_at_steps * 100.0
            ));
        }
        let motion_events = || {
            result
                .events
                .iter()
                .filter(|(e, _, _)| e.kind == EventKind::Motion)
        };
        if name == "vtest-clean" && motion_events().count() == 0 {
            failures.push(format!("{name}: people walking produced no motion event"));
        }
        if result.category == Category::Lighting && name.starts_with("synth") {
            // The synthetic person is away at both steps: any motion event
            // starting there is the lighting step.
            for step in [ONSET_S, RECOVERY_S] {
                let step_ms = (step * 1000.0) as i64;
                if let Some((event, _, _)) = motion_events()
                    .find(|(e, _, _)| (step_ms - 500..step_ms + 2000).contains(&e.start_ms))
                {
                    failures.push(format!(
                        "{name}: motion event at the lighting step ({} ms)",
                        event.start_ms
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
