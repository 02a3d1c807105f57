//! Behaviour tests on synthetic frames: a textured scene with deterministic
//! sensor noise, a walking blob for a person, lighting steps, a cover, a
//! blur, a shift and a freeze, rendered in Rust.

use super::*;
use crate::config::Polygon;
use crate::events::Event;

/// A deterministic pseudo-random generator (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A fixed hash of a position, for texture that does not repeat.
fn hash(x: usize, y: usize) -> u64 {
    let mut random = Random((x as u64) << 32 ^ y as u64 ^ 0x9e37_79b9_7f4a_7c15);
    random.next();
    random.next()
}

/// What the camera sees at one moment.
#[derive(Clone, Copy)]
struct Look {
    /// A dark textured blob: left edge and width as fractions of the
    /// picture's width, top and height as fractions of its height.
    blob: Option<(f32, f32, f32, f32)>,
    gain: f32,
    cover: bool,
    blur_radius: usize,
    shift: usize,
    freeze: bool,
    /// Sensor noise amplitude instead of the camera's (a camera's gain
    /// turned up on a dark picture).
    noise_amplitude: Option<i32>,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            blob: None,
            gain: 1.0,
            cover: false,
            blur_radius: 0,
            shift: 0,
            freeze: false,
            noise_amplitude: None,
        }
    }
}

/// Shifts the scene can be looked at with (pixels).
const MAX_SHIFT: usize = 64;

/// A camera looking at a still textured scene.
struct Camera {
    width: usize,
    height: usize,
    /// The scene, `MAX_SHIFT` pixels wider than the picture.
    scene: Vec<f32>,
    /// Sensor noise: uniform in -amplitude..=amplitude levels per frame.
    noise_amplitude: i32,
    random: Random,
    frame: Vec<u8>,
    clean: Vec<f32>,
    blurred: Vec<f32>,
}

impl Camera {
    fn new(width: usize, height: usize, noise_amplitude: i32) -> Camera {
        let scene_width = width + MAX_SHIFT;
        let scene = (0..scene_width * height)
            .map(|i| Camera::scene(i % scene_width, i / scene_width, height))
            .collect();
        Camera {
            width,
            height,
            scene,
            noise_amplitude,
            random: Random(0x1234_5678_9abc_def1),
            frame: vec![0; width * height],
            clean: vec![0.0; width * height],
            blurred: vec![0.0; width * height],
        }
    }

    /// Blocks of random brightness with fine random detail and a gradient:
    /// textured everywhere, sharp, and never repeating.
    fn scene(x: usize, y: usize, height: usize) -> f32 {
        let block = (hash(x / 12, y / 12 + 10_000) % 110) as f32;
        let detail = (hash(x, y) % 30) as f32;
        40.0 + block + detail + 40.0 * y as f32 / height as f32
    }

    fn render(&mut self, look: Look) -> &[u8] {
        if look.freeze {
            return &self.frame;
        }
        let (width, height) = (self.width, self.height);
        let scene_width = width + MAX_SHIFT;
        for (y, row) in self.clean.chunks_exact_mut(width).enumerate() {
            let start = y * scene_width + look.shift.min(MAX_SHIFT);
            row.copy_from_slice(&self.scene[start..start + width]);
        }
        if let Some((left, blob_width, top, blob_height)) = look.blob {
            let x0 = (left * width as f32).max(0.0) as usize;
            let x1 = ((left + blob_width) * width as f32).clamp(0.0, width as f32) as usize;
            let y0 = (top * height as f32) as usize;
            let y1 = (((top + blob_height) * height as f32) as usize).min(height);
            for y in y0..y1 {
                for x in x0..x1 {
                    self.clean[y * width + x] = 25.0 + (hash(x - x0, y) % 20) as f32;
                }
            }
        }
        if look.blur_radius > 0 {
            box_blur(
                &mut self.clean,
                &mut self.blurred,
                width,
                height,
                look.blur_radius,
            );
        }
        let noise_amplitude = look.noise_amplitude.unwrap_or(self.noise_amplitude);
        for (out, &value) in self.frame.iter_mut().zip(&self.clean) {
            let noise = if noise_amplitude > 0 {
                (self.random.next() % (2 * noise_amplitude as u64 + 1)) as i32 - noise_amplitude
            } else {
                0
            };
            let level = if look.cover { 16.0 } else { value * look.gain };
            *out = (level.round() as i32 + noise).clamp(0, 255) as u8;
        }
        &self.frame
    }
}

/// Separable box blur of `image` in place (`scratch` of the same size).
fn box_blur(image: &mut [f32], scratch: &mut [f32], width: usize, height: usize, radius: usize) {
    for y in 0..height {
        for x in 0..width {
            let (a, b) = (x.saturating_sub(radius), (x + radius + 1).min(width));
            scratch[y * width + x] =
                image[y * width + a..y * width + b].iter().sum::<f32>() / (b - a) as f32;
        }
    }
    for y in 0..height {
        for x in 0..width {
            let (a, b) = (y.saturating_sub(radius), (y + radius + 1).min(height));
            image[y * width + x] =
                (a..b).map(|yy| scratch[yy * width + x]).sum::<f32>() / (b - a) as f32;
        }
    }
}

/// What an analyzer reported over a run: each update with the time of the
/// frame that produced it.
struct Run {
    analyzer: Analyzer,
    updates: Vec<(i64, Update)>,
}

impl Run {
    fn started(&self) -> Vec<(i64, &Event)> {
        self.updates
            .iter()
            .filter_map(|(t, u)| match u {
                Update::Started(e) => Some((*t, e)),
                _ => None,
            })
            .collect()
    }

    fn ended(&self) -> Vec<(i64, &Event)> {
        self.updates
            .iter()
            .filter_map(|(t, u)| match u {
                Update::Ended(e) => Some((*t, e)),
                _ => None,
            })
            .collect()
    }

    fn tamper_started(&self) -> Vec<(i64, &Event)> {
        self.started()
            .into_iter()
            .filter(|(_, e)| e.kind.is_tamper())
            .collect()
    }

    fn motion_started(&self) -> Vec<(i64, &Event)> {
        self.started()
            .into_iter()
            .filter(|(_, e)| e.kind == EventKind::Motion)
            .collect()
    }
}

/// Pushes `seconds` of frames at `fps` from `camera`, with `look(t)` giving
/// what it sees at `t` seconds; then finishes.
fn run(
    config: AnalyzerConfig,
    camera: &mut Camera,
    fps: u32,
    seconds: u32,
    look: impl Fn(f32) -> Look,
) -> Run {
    let mut analyzer = Analyzer::new(config).unwrap();
    let mut updates = Vec::new();
    let frames = fps * seconds;
    for index in 0..frames {
        let pts_ms = i64::from(index) * 1000 / i64::from(fps);
        let (width, height) = (camera.width, camera.height);
        let data = camera.render(look(pts_ms as f32 / 1000.0));
        let frame = LumaFrame {
            width,
            height,
            stride: width,
            data,
            pts_ms,
        };
        for update in analyzer.push(&frame) {
            updates.push((pts_ms, update));
        }
    }
    let end_ms = i64::from(frames) * 1000 / i64::from(fps);
    for update in analyzer.finish(end_ms) {
        updates.push((end_ms, update));
    }
    Run { analyzer, updates }
}

fn camera() -> Camera {
    Camera::new(320, 180, 3)
}

/// A blob a tenth of the picture wide walking across it from `start` s in
/// `duration` s.
fn walker(t: f32, start: f32, duration: f32) -> Option<(f32, f32, f32, f32)> {
    let progress = (t - start) / duration;
    (0.0..1.0)
        .contains(&progress)
        .then(|| (-0.1 + 1.1 * progress, 0.1, 0.3, 0.5))
}

/// Asserts one tamper event of `kind`, reported within 5 s of `onset` and
/// ended within 5 s of `recovery`, and no other tamper event.
fn assert_one_tamper(run: &Run, kind: EventKind, onset_s: f32, recovery_s: f32) {
    let started = run.tamper_started();
    assert_eq!(
        started.len(),
        1,
        "{:?}",
        started
            .iter()
            .map(|(t, e)| (*t, e.kind))
            .collect::<Vec<_>>()
    );
    let (reported_ms, event) = started[0];
    assert_eq!(event.kind, kind);
    let onset_ms = (onset_s * 1000.0) as i64;
    assert!(
        (onset_ms..=onset_ms + 5000).contains(&reported_ms),
        "{kind:?} reported at {reported_ms} ms for an onset at {onset_ms} ms"
    );
    assert!(event.start_ms >= onset_ms, "{}", event.start_ms);
    let ended: Vec<_> = run
        .ended()
        .into_iter()
        .filter(|(_, e)| e.id == event.id)
        .collect();
    assert_eq!(ended.len(), 1);
    let recovery_ms = (recovery_s * 1000.0) as i64;
    let (ended_at, ended_event) = ended[0];
    assert!(
        (recovery_ms..=recovery_ms + 5000).contains(&ended_at),
        "{kind:?} end reported at {ended_at} ms for a recovery at {recovery_ms} ms"
    );
    assert!(ended_event
        .end_ms
        .is_some_and(|end| end >= recovery_ms - 1000));
    assert!(run
        .updates
        .iter()
        .any(|(_, u)| *u == Update::Snapshot { event_id: event.id }));
}

#[test]
fn a_still_noisy_scene_reports_nothing() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 90, |_| {
        Look::default()
    });
    assert!(run.updates.is_empty(), "{:?}", run.updates);
    let stats = run.analyzer.stats();
    assert_eq!(stats.frames_analyzed, 450);
    assert_eq!(stats.learning_state, LearningState::Watching);
    assert!(stats.noise > 0.2, "{}", stats.noise);
    assert!(stats.frozen_armed);
}

#[test]
fn a_walker_is_one_motion_event_listing_the_zones_touched() {
    let left = Polygon {
        name: "left".into(),
        points: vec![(0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)],
    };
    let right = Polygon {
        name: "right".into(),
        points: vec![(0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0)],
    };
    let far = Polygon {
        name: "ceiling".into(),
        points: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.0, 0.1)],
    };
    let config = AnalyzerConfig {
        zones: vec![left, right, far],
        ..Default::default()
    };
    let run = run(config, &mut camera(), 5, 30, |t| Look {
        blob: walker(t, 10.0, 6.0),
        ..Default::default()
    });
    let started = run.motion_started();
    assert_eq!(started.len(), 1, "{:?}", run.updates);
    assert!(
        (10_000..=10_600).contains(&started[0].0),
        "{}",
        started[0].0
    );
    assert!(run.tamper_started().is_empty());
    let ended = run.ended();
    assert_eq!(ended.len(), 1);
    let event = ended[0].1;
    assert_eq!(event.zones, vec!["left".to_string(), "right".to_string()]);
    let end_ms = event.end_ms.unwrap();
    assert!((15_000..=16_200).contains(&end_ms), "{end_ms}");
    // Reported once the merge gap has passed.
    assert!((end_ms + 3000..=end_ms + 3400).contains(&ended[0].0));
    let snapshots = run
        .updates
        .iter()
        .filter(|(_, u)| matches!(u, Update::Snapshot { .. }))
        .count();
    assert!(snapshots >= 1);
}

#[test]
fn motion_without_zones_lists_none() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 25, |t| Look {
        blob: walker(t, 8.0, 5.0),
        ..Default::default()
    });
    let ended = run.ended();
    assert_eq!(ended.len(), 1);
    assert!(ended[0].1.zones.is_empty());
}

#[test]
fn masked_motion_is_ignored() {
    let config = AnalyzerConfig {
        masks: vec![Polygon {
            name: "corridor".into(),
            points: vec![(0.0, 0.2), (1.0, 0.2), (1.0, 0.9), (0.0, 0.9)],
        }],
        ..Default::default()
    };
    let run = run(config, &mut camera(), 5, 25, |t| Look {
        blob: walker(t, 8.0, 5.0),
        ..Default::default()
    });
    assert!(run.updates.is_empty(), "{:?}", run.updates);
}

#[test]
fn small_motion_below_min_area_is_ignored() {
    let config = AnalyzerConfig {
        min_area: 0.2,
        ..Default::default()
    };
    let run = run(config, &mut camera(), 5, 25, |t| Look {
        blob: walker(t, 8.0, 5.0),
        ..Default::default()
    });
    assert!(run.motion_started().is_empty());
}

/// Blobs at 8-9 s and 10.5-11.5 s (1.5 s apart), then at 20-21 s.
fn three_blobs(merge_gap_ms: i64) -> Run {
    let blob = |t: f32| {
        let on = (8.0..9.0).contains(&t) || (10.5..11.5).contains(&t) || (20.0..21.0).contains(&t);
        on.then_some((0.4, 0.1, 0.3, 0.4))
    };
    let config = AnalyzerConfig {
        motion_merge_gap_ms: merge_gap_ms,
        ..Default::default()
    };
    run(config, &mut camera(), 5, 30, |t| Look {
        blob: blob(t),
        ..Default::default()
    })
}

#[test]
fn motion_closer_than_the_merge_gap_is_one_event() {
    let merged = three_blobs(3000);
    let starts: Vec<i64> = merged.motion_started().iter().map(|(t, _)| *t).collect();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!((8000..=8400).contains(&starts[0]));
    assert!((20_000..=20_400).contains(&starts[1]));
    let ends: Vec<Option<i64>> = merged.ended().iter().map(|(_, e)| e.end_ms).collect();
    assert!(
        ends[0].is_some_and(|end| (11_000..=11_800).contains(&end)),
        "{ends:?}"
    );
    assert_eq!(three_blobs(1000).motion_started().len(), 3);
}

#[test]
fn brightness_steps_are_neither_motion_nor_tamper() {
    for (gain_up, gain_down) in [(1.4, 0.6), (1.2, 0.8)] {
        let run = run(AnalyzerConfig::default(), &mut camera(), 5, 80, |t| Look {
            gain: if (20.0..40.0).contains(&t) {
                gain_up
            } else if (40.0..60.0).contains(&t) {
                gain_down
            } else {
                1.0
            },
            ..Default::default()
        });
        assert!(run.updates.is_empty(), "gain {gain_up}: {:?}", run.updates);
        assert!(run.analyzer.stats().lighting_changes >= 3);
    }
}

#[test]
fn a_slow_exposure_drift_is_not_motion() {
    // Auto exposure: +30 % over 3 s, back over 3 s.
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 40, |t| Look {
        gain: 1.0 + 0.3 * ((t - 15.0) / 3.0).clamp(0.0, 1.0)
            - 0.3 * ((t - 25.0) / 3.0).clamp(0.0, 1.0),
        ..Default::default()
    });
    assert!(run.updates.is_empty(), "{:?}", run.updates);
}

#[test]
fn a_black_cover_is_covered_and_nothing_else() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        cover: (20.0..40.0).contains(&t),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Covered, 20.0, 40.0);
}

#[test]
fn a_dark_noisy_cover_is_covered_not_defocused() {
    // Something dark over the lens: a faint trace of the scene at 15 % of
    // its brightness, and the strong noise of the camera's gain on it. The
    // layout is still there and the edges are gone, as in a blur.
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| {
        let covered = (20.0..40.0).contains(&t);
        Look {
            gain: if covered { 0.15 } else { 1.0 },
            noise_amplitude: covered.then_some(20),
            ..Default::default()
        }
    });
    assert_one_tamper(&run, EventKind::Covered, 20.0, 40.0);
}

#[test]
fn a_blur_is_defocused() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        blur_radius: if (20.0..40.0).contains(&t) { 3 } else { 0 },
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Defocused, 20.0, 40.0);
}

#[test]
fn a_shift_is_moved() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        shift: if (20.0..40.0).contains(&t) { 60 } else { 0 },
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Moved, 20.0, 40.0);
}

#[test]
fn a_small_nudge_is_moved() {
    // 8 px of 320: 4 work pixels.
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        shift: if (20.0..40.0).contains(&t) { 8 } else { 0 },
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Moved, 20.0, 40.0);
}

#[test]
fn a_partial_cover_is_covered_when_it_lasts() {
    // The left 60 % blacked out, like a blob that never leaves.
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        blob: (20.0..40.0).contains(&t).then_some((0.0, 0.6, 0.0, 1.0)),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Covered, 20.0, 40.0);
}

#[test]
fn a_freeze_is_frozen() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 60, |t| Look {
        freeze: (20.0..40.0).contains(&t),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Frozen, 20.0, 40.0);
}

#[test]
fn a_noise_free_scene_cannot_be_told_frozen() {
    let mut camera = Camera::new(320, 180, 0);
    let run = run(AnalyzerConfig::default(), &mut camera, 5, 60, |t| Look {
        freeze: (20.0..40.0).contains(&t),
        ..Default::default()
    });
    assert!(run.updates.is_empty(), "{:?}", run.updates);
    assert!(!run.analyzer.stats().frozen_armed);
}

/// Someone crossing the picture every 4 s (3 s to cross), from 2 s on.
fn walkers(t: f32) -> Option<(f32, f32, f32, f32)> {
    (t >= 2.0)
        .then(|| walker((t - 2.0) % 4.0, 0.0, 3.0))
        .flatten()
}

#[test]
fn a_freeze_of_a_noise_free_scene_while_someone_walks_is_frozen() {
    // Compressed footage of a still scene has no noise left: the picture
    // stops dead in the middle of a walk and then repeats exactly.
    let mut camera = Camera::new(320, 180, 0);
    let run = run(AnalyzerConfig::default(), &mut camera, 5, 60, |t| Look {
        blob: walkers(t),
        // Mid-crossing: the walker stops two thirds of the way across.
        freeze: (20.0..35.0).contains(&t),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Frozen, 20.0, 35.0);
}

#[test]
fn a_room_that_empties_after_a_freeze_is_not_frozen_again() {
    // The tamper's start reseeds the motion background with the frozen
    // picture, walker included; once the room empties, that ghost must not
    // be taken for someone left standing.
    let mut camera = Camera::new(320, 180, 0);
    let run = run(AnalyzerConfig::default(), &mut camera, 5, 60, |t| Look {
        blob: walkers(t).filter(|_| t < 38.0),
        freeze: (20.0..35.0).contains(&t),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Frozen, 20.0, 35.0);
}

#[test]
fn a_noise_free_scene_that_empties_is_not_frozen() {
    // The last person walks out at the picture's edge at 25 s; the empty
    // room that remains repeats exactly, as a frozen picture would.
    let mut camera = Camera::new(320, 180, 0);
    let run = run(AnalyzerConfig::default(), &mut camera, 5, 60, |t| Look {
        blob: walkers(t).filter(|_| t < 26.0),
        ..Default::default()
    });
    assert!(run.tamper_started().is_empty(), "{:?}", run.updates);
    assert!(!run.motion_started().is_empty());
}

#[test]
fn a_person_close_to_the_camera_is_motion_not_tamper() {
    // Half the picture dark and moving slowly for 6 s, then standing for 2 s.
    let blob = |t: f32| {
        (10.0..18.0)
            .contains(&t)
            .then(|| (-0.2 + 0.06 * (t - 10.0).min(6.0), 0.5, 0.0, 1.0))
    };
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 40, |t| Look {
        blob: blob(t),
        ..Default::default()
    });
    assert!(run.tamper_started().is_empty(), "{:?}", run.updates);
    assert_eq!(run.motion_started().len(), 1);
}

#[test]
fn nothing_is_reported_while_learning() {
    let run = run(AnalyzerConfig::default(), &mut camera(), 5, 20, |t| Look {
        cover: (1.0..4.0).contains(&t),
        blob: walker(t, 0.0, 4.0),
        ..Default::default()
    });
    assert!(run.tamper_started().is_empty(), "{:?}", run.updates);
    assert!(
        run.updates
            .iter()
            .all(|(t, _)| *t >= LEARN_AND_CALIBRATE_MS),
        "{:?}",
        run.updates
    );
}

/// The whole learning period.
const LEARN_AND_CALIBRATE_MS: i64 = crate::scene::LEARN_MS + crate::scene::CALIBRATE_MS;

#[test]
fn timing_follows_pts_at_any_frame_rate() {
    for fps in [1, 2, 10, 30] {
        let run = run(AnalyzerConfig::default(), &mut camera(), fps, 30, |t| {
            Look {
                cover: (12.0..20.0).contains(&t),
                ..Default::default()
            }
        });
        assert_one_tamper(&run, EventKind::Covered, 12.0, 20.0);
    }
}

#[test]
fn a_long_tamper_is_not_learnt() {
    // Three minutes covered: the reference must not adapt to the cover.
    let run = run(AnalyzerConfig::default(), &mut camera(), 2, 240, |t| Look {
        cover: (20.0..200.0).contains(&t),
        ..Default::default()
    });
    assert_one_tamper(&run, EventKind::Covered, 20.0, 200.0);
}

#[test]
fn tamper_can_be_switched_off() {
    let config = AnalyzerConfig {
        tamper: false,
        ..Default::default()
    };
    let run = run(config, &mut camera(), 5, 60, |t| Look {
        freeze: (20.0..40.0).contains(&t),
        ..Default::default()
    });
    assert!(run.tamper_started().is_empty());
}

#[test]
fn finish_ends_open_events_at_the_time_given() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let mut camera = camera();
    let mut starts = 0;
    for index in 0..150 {
        let pts_ms = index * 200;
        let look = Look {
            cover: pts_ms >= 15_000,
            ..Default::default()
        };
        let frame = LumaFrame {
            width: 320,
            height: 180,
            stride: 320,
            data: camera.render(look),
            pts_ms,
        };
        starts += analyzer
            .push(&frame)
            .iter()
            .filter(|u| matches!(u, Update::Started(_)))
            .count();
    }
    assert_eq!(starts, 2, "motion as the cover comes, then covered");
    let ended = analyzer.finish(30_000);
    let kinds: Vec<_> = ended
        .iter()
        .filter_map(|u| match u {
            Update::Ended(e) => Some((e.kind, e.end_ms)),
            _ => None,
        })
        .collect();
    assert!(
        kinds.contains(&(EventKind::Covered, Some(30_000))),
        "{kinds:?}"
    );
    assert!(analyzer.finish(31_000).is_empty());
    assert_eq!(analyzer.stats().open_tamper, None);
}

#[test]
fn a_new_frame_size_ends_events_and_learns_again() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let mut big = Camera::new(640, 360, 3);
    let mut small = Camera::new(320, 240, 3);
    let mut updates = Vec::new();
    // 640x360 until 30 s, covered from 15 s; then 320x240, covered from 50 s.
    for index in 0..300i64 {
        let pts_ms = index * 200;
        let (camera, covered) = if pts_ms < 30_000 {
            (&mut big, pts_ms >= 15_000)
        } else {
            (&mut small, pts_ms >= 50_000)
        };
        let (width, height) = (camera.width, camera.height);
        let frame = LumaFrame {
            width,
            height,
            stride: width,
            data: camera.render(Look {
                cover: covered,
                ..Default::default()
            }),
            pts_ms,
        };
        updates.extend(analyzer.push(&frame).into_iter().map(|u| (pts_ms, u)));
    }
    let stats = analyzer.stats();
    assert_eq!(stats.relearns, 1);
    assert_eq!((stats.work_width, stats.work_height), (160, 120));
    let tamper: Vec<_> = updates
        .iter()
        .filter_map(|(t, u)| match u {
            Update::Started(e) if e.kind.is_tamper() => Some(("start", *t, e.kind, e.end_ms)),
            Update::Ended(e) if e.kind.is_tamper() => Some(("end", *t, e.kind, e.end_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(tamper.len(), 3, "{tamper:?}");
    assert_eq!(tamper[0].2, EventKind::Covered);
    assert!((15_000..=20_000).contains(&tamper[0].1));
    assert_eq!(tamper[1], ("end", 30_000, EventKind::Covered, Some(29_800)));
    assert_eq!(tamper[2].2, EventKind::Covered);
    assert!((50_000..=55_000).contains(&tamper[2].1));
}

#[test]
fn malformed_frames_are_counted_and_ignored() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let data = vec![100u8; 320 * 180];
    let good = LumaFrame {
        width: 320,
        height: 180,
        stride: 320,
        data: &data,
        pts_ms: 0,
    };
    let bad = [
        LumaFrame { width: 0, ..good },
        LumaFrame { height: 0, ..good },
        LumaFrame {
            stride: 100,
            ..good
        },
        LumaFrame {
            data: &data[..1000],
            ..good
        },
        LumaFrame {
            width: 8,
            height: 8,
            stride: 8,
            ..good
        },
        LumaFrame {
            stride: usize::MAX / 2,
            ..good
        },
    ];
    for (index, frame) in bad.iter().enumerate() {
        assert!(analyzer
            .push(&LumaFrame {
                pts_ms: index as i64 * 200,
                ..*frame
            })
            .is_empty());
        assert!(analyzer
            .push(&LumaFrame {
                pts_ms: index as i64 * 200 + 100,
                ..good
            })
            .is_empty());
    }
    let stats = analyzer.stats();
    assert_eq!(stats.frames_seen, 12);
    assert_eq!(stats.frames_malformed, 6);
    assert_eq!(stats.frames_analyzed, 6);
    assert_eq!(stats.relearns, 0);
}

#[test]
fn small_and_odd_frames_work() {
    for (width, height, stride) in [(16, 12, 16), (17, 13, 20), (100, 50, 128), (4000, 12, 4000)] {
        let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
        let mut random = Random(7);
        let mut data = vec![0u8; stride * height];
        for index in 0..60 {
            for (i, value) in data.iter_mut().enumerate() {
                *value = (hash(i % stride, i / stride) % 200) as u8 + (random.next() % 4) as u8;
            }
            analyzer.push(&LumaFrame {
                width,
                height,
                stride,
                data: &data,
                pts_ms: index * 200,
            });
        }
        let stats = analyzer.stats();
        assert_eq!(stats.frames_analyzed, 60);
        assert!(stats.work_width <= width.min(160));
        assert_eq!(stats.learning_state, LearningState::Watching);
    }
}

#[test]
fn time_going_backwards_ends_events_and_goes_on() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let mut camera = camera();
    let mut updates = Vec::new();
    // 30 s with a cover from 15 s, then the stream restarts at pts 0.
    for index in 0..250i64 {
        let pts_ms = if index < 150 {
            index * 200
        } else {
            (index - 150) * 200
        };
        let look = Look {
            cover: (75..150).contains(&index),
            ..Default::default()
        };
        let frame = LumaFrame {
            width: 320,
            height: 180,
            stride: 320,
            data: camera.render(look),
            pts_ms,
        };
        updates.extend(analyzer.push(&frame).into_iter().map(|u| (index, u)));
    }
    let covered_end = updates.iter().find_map(|(index, u)| match u {
        Update::Ended(e) if e.kind == EventKind::Covered => Some((*index, e.end_ms)),
        _ => None,
    });
    assert_eq!(covered_end, Some((150, Some(29_800))));
    assert_eq!(analyzer.stats().relearns, 0);
    assert_eq!(analyzer.stats().learning_state, LearningState::Watching);
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let data = vec![100u8; 320 * 180];
    for pts_ms in [i64::MIN, 0, i64::MAX, i64::MIN, i64::MAX, i64::MAX, -5, 7] {
        analyzer.push(&LumaFrame {
            width: 320,
            height: 180,
            stride: 320,
            data: &data,
            pts_ms,
        });
    }
    analyzer.finish(i64::MIN);
    assert_eq!(analyzer.stats().frames_analyzed, 8);
}

#[test]
fn relearn_accepts_a_new_view() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
    let mut camera = camera();
    let mut moved_events = 0;
    for index in 0..300i64 {
        let pts_ms = index * 200;
        if pts_ms == 30_000 {
            analyzer.relearn(pts_ms);
        }
        let look = Look {
            shift: if pts_ms >= 15_000 { 60 } else { 0 },
            ..Default::default()
        };
        let frame = LumaFrame {
            width: 320,
            height: 180,
            stride: 320,
            data: camera.render(look),
            pts_ms,
        };
        moved_events += analyzer
            .push(&frame)
            .iter()
            .filter(|u| matches!(u, Update::Started(e) if e.kind == EventKind::Moved))
            .count();
    }
    assert_eq!(moved_events, 1);
    assert_eq!(analyzer.stats().open_tamper, None);
}

#[test]
fn a_bad_configuration_is_refused() {
    let error = Analyzer::new(AnalyzerConfig {
        work_width: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert!(error.to_string().starts_with("work_width"), "{error}");
}
