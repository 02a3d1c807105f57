//! Decode times for streams that carry only presentation times.
//!
//! RTP time stamps are presentation times, and a camera sends pictures in
//! decode order: with B-frames the time stamps step back and forth. MP4
//! needs a strictly increasing decode time per sample and stores the
//! presentation time as an offset from it (`trun` composition offsets).
//!
//! The i-th picture in decode order gets as its decode time the i-th
//! smallest presentation time of the stream. Decode times then increase
//! strictly, durations are the stream's own frame intervals, and a closed
//! GOP's key frame (which no later picture is presented before) gets its
//! presentation time as decode time, so every segment starts with a
//! composition offset of zero. The i-th smallest presentation time is known
//! once `depth` more pictures have arrived, where `depth` is the number of
//! pictures the stream may reorder (its SPS says; [`crate::sps`]). So
//! pictures are held back by `depth` frames — no delay at all for streams
//! without B-frames.
//!
//! A stream that reorders deeper than it declared (some encoders understate
//! it) deepens the window and keeps decode times increasing; a time stamp
//! that jumps by more than [`MAX_FRAME_GAP_TICKS`] either way is a reset of
//! the camera's clock: what is held is released and timing starts afresh.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::segment::{Frame, MAX_FRAME_GAP_TICKS};
use crate::sps::MAX_REORDER_DEPTH;

/// A jump of the camera's clock, seen in presentation times (90 kHz units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockJump {
    /// The newest presentation time before the jump.
    pub from: i64,
    /// The first presentation time after it.
    pub to: i64,
    /// How many of the frames appended to `out` by the push that saw the
    /// jump came before it (the rest are on the new clock).
    pub released_before: usize,
}

/// Assigns decode times to one camera session's frames.
#[derive(Debug)]
pub struct DecodeTimer {
    depth: usize,
    /// Frames waiting for their decode time, in decode order.
    held: VecDeque<Frame>,
    /// Presentation times not yet handed out as decode times; as many as
    /// `held` has frames.
    unassigned: BinaryHeap<Reverse<i64>>,
    last_dts: Option<i64>,
    newest_pts: Option<i64>,
    /// How many times the stream reordered deeper than the window.
    pub deepened: u32,
}

impl DecodeTimer {
    /// A timer holding back `depth` frames (capped at the 16 pictures a
    /// decoded picture buffer can hold).
    pub fn new(depth: u32) -> Self {
        DecodeTimer {
            depth: depth.min(MAX_REORDER_DEPTH) as usize,
            held: VecDeque::new(),
            unassigned: BinaryHeap::new(),
            last_dts: None,
            newest_pts: None,
            deepened: 0,
        }
    }

    /// The current window in frames.
    pub fn depth(&self) -> u32 {
        self.depth as u32
    }

    /// Frames held back, waiting for their decode time.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Takes a frame (its `dts` is ignored) and appends to `out` the frames
    /// whose decode time is now known, in decode order. Returns the clock
    /// jump when this frame's time stamp broke from the stream's: the frames
    /// before it are then all in `out`, and this frame starts a new timeline.
    pub fn push(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Option<ClockJump> {
        let mut jump = None;
        if let Some(newest) = self.newest_pts {
            // Distance from the newest presentation time so far: B-frames
            // lie a few frame intervals behind it, never seconds.
            if (frame.pts - newest).abs() > MAX_FRAME_GAP_TICKS {
                let before = out.len();
                self.drain(out);
                jump = Some(ClockJump {
                    from: newest,
                    to: frame.pts,
                    released_before: out.len() - before,
                });
                self.last_dts = None;
                self.newest_pts = None;
            }
        }
        if let Some(last) = self.last_dts {
            if frame.pts <= last && self.depth < MAX_REORDER_DEPTH as usize {
                // Presented before a decode time already handed out: the
                // stream reorders deeper than the window.
                self.depth += 1;
                self.deepened += 1;
            }
        }
        self.newest_pts = Some(self.newest_pts.map_or(frame.pts, |n| n.max(frame.pts)));
        self.unassigned.push(Reverse(frame.pts));
        self.held.push_back(frame);
        while self.held.len() > self.depth {
            self.release_one(out);
        }
        jump
    }

    /// Releases every held frame (end of the session, or new parameters).
    pub fn drain(&mut self, out: &mut Vec<Frame>) {
        while !self.held.is_empty() {
            self.release_one(out);
        }
    }

    /// Sets the window for new stream parameters. Call [`drain`](Self::drain)
    /// first: frames held belong to the old parameters.
    pub fn set_depth(&mut self, depth: u32) {
        self.depth = depth.min(MAX_REORDER_DEPTH) as usize;
    }

    fn release_one(&mut self, out: &mut Vec<Frame>) {
        let (Some(mut frame), Some(Reverse(smallest))) =
            (self.held.pop_front(), self.unassigned.pop())
        else {
            return;
        };
        // Strictly increasing even when time stamps repeat or the stream
        // reordered deeper than the window.
        let dts = match self.last_dts {
            Some(last) if smallest <= last => last + 1,
            _ => smallest,
        };
        self.last_dts = Some(dts);
        frame.dts = dts;
        out.push(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(pts: i64, is_key: bool) -> Frame {
        Frame {
            pts,
            dts: 0,
            data: Bytes::new(),
            is_key,
        }
    }

    /// Feeds presentation times (in frame intervals of 3000 ticks) in decode
    /// order and returns (pts, dts) pairs as released.
    fn run(depth: u32, order: &[i64]) -> (Vec<(i64, i64)>, DecodeTimer) {
        let mut t = DecodeTimer::new(depth);
        let mut out = Vec::new();
        for (i, &n) in order.iter().enumerate() {
            t.push(frame(n * 3000, i == 0), &mut out);
        }
        t.drain(&mut out);
        (out.iter().map(|f| (f.pts, f.dts)).collect(), t)
    }

    fn check_invariants(pairs: &[(i64, i64)], input: &[i64]) {
        // Every frame comes out once, in the order it went in.
        let pts: Vec<i64> = pairs.iter().map(|p| p.0 / 3000).collect();
        assert_eq!(pts, input);
        // Decode times increase strictly.
        for w in pairs.windows(2) {
            assert!(w[1].1 > w[0].1, "{pairs:?}");
        }
    }

    #[test]
    fn without_reordering_decode_time_is_presentation_time_and_nothing_waits() {
        let mut t = DecodeTimer::new(0);
        let mut out = Vec::new();
        for n in 0..10 {
            t.push(frame(n * 3000, n == 0), &mut out);
            assert_eq!(out.len() as i64, n + 1, "released at once");
        }
        assert!(out.iter().all(|f| f.dts == f.pts));
    }

    #[test]
    fn one_b_frame_deep_gives_sorted_presentation_times_as_decode_times() {
        // I0 P3 B1 B2 P6 B4 B5 I9 B7 B8 (x264 -bf 2 without a pyramid).
        let order = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let (pairs, t) = run(1, &order);
        check_invariants(&pairs, &order);
        let dts: Vec<i64> = pairs.iter().map(|p| p.1 / 3000).collect();
        assert_eq!(dts, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        // The key frame's composition offset is zero; B-frames' negative.
        assert_eq!(pairs[0].0, pairs[0].1);
        assert!(pairs[2].0 < pairs[2].1);
        assert_eq!(t.deepened, 0);
    }

    #[test]
    fn b_pyramids_need_depth_two() {
        // I0 P4 B2 b1 b3 P8 B6 b5 b7 (x264's default pyramid).
        let order = [0, 4, 2, 1, 3, 8, 6, 5, 7];
        let (pairs, t) = run(2, &order);
        check_invariants(&pairs, &order);
        let dts: Vec<i64> = pairs.iter().map(|p| p.1 / 3000).collect();
        assert_eq!(dts, (0..9).collect::<Vec<_>>());
        assert_eq!(t.deepened, 0);
    }

    #[test]
    fn a_stream_deeper_than_declared_deepens_the_window_and_stays_increasing() {
        let order = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11];
        let (pairs, t) = run(0, &order);
        check_invariants(&pairs, &order);
        assert!(t.depth() >= 2, "window grew to {}", t.depth());
        assert!(t.deepened >= 1);
        // Once deep enough, decode times are the sorted presentation times again.
        let tail: Vec<i64> = pairs[9..].iter().map(|p| p.1 / 3000).collect();
        assert_eq!(tail, vec![9, 10, 11, 12]);
    }

    #[test]
    fn repeated_time_stamps_still_give_increasing_decode_times() {
        let order = [0, 1, 1, 1, 2];
        let (pairs, _) = run(0, &order);
        check_invariants(&pairs, &order);
    }

    #[test]
    fn a_clock_jump_releases_what_is_held_and_starts_afresh() {
        let mut t = DecodeTimer::new(1);
        let mut out = Vec::new();
        for n in [0, 3, 1, 2] {
            assert!(t.push(frame(n * 3000, n == 0), &mut out).is_none());
        }
        assert_eq!(t.held(), 1);
        let jump = t.push(frame(-5_000_000, true), &mut out).expect("jump");
        assert_eq!(
            jump,
            ClockJump {
                from: 9000,
                to: -5_000_000,
                released_before: 1
            }
        );
        // The four frames before the jump are out, with their own times.
        assert_eq!(out.len(), 4);
        assert_eq!(out[3].dts, 9000);
        t.drain(&mut out);
        assert_eq!(out[4].dts, -5_000_000);
        // And forwards.
        let jump = t.push(frame(-5_000_000 + 1_000_000, true), &mut out);
        assert!(jump.is_some());
    }

    #[test]
    fn random_decode_orders_within_the_depth_give_sorted_decode_times() {
        // Every permutation in which no frame moves more than `depth`
        // places later than its rank: decode times are exactly the ranks.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for depth in 1..=3usize {
            for _ in 0..200 {
                let mut order: Vec<i64> = (0..40).collect();
                // Swap neighbours inside windows of depth + 1.
                for start in (1..order.len()).step_by(depth + 1) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let end = (start + depth + 1).min(order.len());
                    order[start..end].rotate_left((seed as usize) % (end - start));
                }
                let (pairs, t) = run(depth as u32, &order);
                check_invariants(&pairs, &order);
                let dts: Vec<i64> = pairs.iter().map(|p| p.1 / 3000).collect();
                assert_eq!(dts, (0..40).collect::<Vec<_>>(), "{order:?}");
                assert_eq!(t.deepened, 0);
            }
        }
    }
}
