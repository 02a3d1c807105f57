//! A picture that stopped dead: frozen detection for footage without
//! sensor noise.
//!
//! Compressed footage of a still scene often has no noise left (the encoder
//! copies still blocks exactly), so "nothing changes" alone cannot tell a
//! frozen camera from an empty room. What a freeze does that a room does
//! not: the change that was going on (people walking) stops in every pixel
//! at once, from one picture to the next, and the pictures after it are
//! identical, with the people still standing where they were moving. A room
//! that empties ends with a last change where someone left (a door, the
//! picture's edge), after which those places show the scene as learnt
//! again; a scene that was always still never had change to stop.
//!
//! A still picture is one whose most changed cell differs from the previous
//! picture by at most `STILL_LEVEL` (decoding the same picture again gives
//! 0; an encoder refining a repeated picture a few hundredths of a level).
//! The stop is abrupt when the picture just before changed by at least
//! `CHANGE_LEVEL` in some cell. It is a freeze when the cells that changed
//! last still hold something the learnt scene does not (the caller checks
//! the first still picture against its reference picture, which neither
//! people walking through nor a tamper teach; the motion detector's
//! background would not do, since it is reseeded with the frozen picture).
//! The freeze lasts until change resumes; a key frame refreshing the frozen
//! picture (a small change everywhere) interrupts the evidence for one
//! picture only.

use crate::grid::CELLS;

/// A picture is still when its most changed cell differs from the previous
/// picture by at most this (mean absolute difference, luma levels).
const STILL_LEVEL: f32 = 0.1;
/// A cell is changing when it differs by at least this: someone walking,
/// not a key frame refreshing a repeated picture.
const CHANGE_LEVEL: f32 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No previous picture, or still since before anything changed (a
    /// scene that was always still, or one that settled gradually).
    Settled,
    /// The last picture changed.
    Changing,
    /// The first still picture right after a changing one: the caller must
    /// say whether something was left standing (`confirm`).
    Stopping,
    /// Stopped dead, with something left standing: a frozen picture.
    Stopped,
}

/// Follows whether the picture stopped dead while something was moving.
#[derive(Debug)]
pub(crate) struct Stillness {
    state: State,
    /// True if the last picture was still.
    still: bool,
    /// The cells that changed in the last changing picture.
    changed_cells: [bool; CELLS],
}

impl Default for Stillness {
    fn default() -> Self {
        Stillness {
            state: State::Settled,
            still: false,
            changed_cells: [false; CELLS],
        }
    }
}

impl Stillness {
    /// Takes one picture's per-cell mean absolute differences from the
    /// previous picture (`None` when there is no previous picture; cells
    /// left out, such as masked ones, as 0). Returns true if the picture
    /// stopped dead just now: the caller then checks `changed_cells`
    /// against the learnt scene and calls `confirm`.
    pub(crate) fn observe(&mut self, differences: Option<&[f32; CELLS]>) -> bool {
        let Some(differences) = differences else {
            self.state = State::Settled;
            self.still = false;
            return false;
        };
        let largest = differences.iter().fold(0.0f32, |a, &b| a.max(b));
        self.still = largest <= STILL_LEVEL;
        self.state = if largest >= CHANGE_LEVEL {
            for (changed, &difference) in self.changed_cells.iter_mut().zip(differences) {
                *changed = difference >= CHANGE_LEVEL;
            }
            State::Changing
        } else if self.still {
            match self.state {
                State::Changing => State::Stopping,
                // A stop is decided by its first still picture.
                State::Stopping | State::Settled => State::Settled,
                State::Stopped => State::Stopped,
            }
        } else {
            match self.state {
                // Slowing down before stopping is no freeze.
                State::Changing | State::Stopping | State::Settled => State::Settled,
                // A key frame refreshing the frozen picture.
                State::Stopped => State::Stopped,
            }
        };
        self.state == State::Stopping
    }

    /// The cells that changed in the last changing picture.
    pub(crate) fn changed_cells(&self) -> &[bool; CELLS] {
        &self.changed_cells
    }

    /// Says whether the picture that just stopped still shows something
    /// standing in the cells that changed last: a freeze if so, the scene
    /// settling (the last person left) if not.
    pub(crate) fn confirm(&mut self, something_left_standing: bool) {
        if self.state == State::Stopping {
            self.state = if something_left_standing {
                State::Stopped
            } else {
                State::Settled
            };
        }
    }

    /// True if the last picture is still and the picture stopped dead
    /// before it: frozen.
    pub(crate) fn stopped(&self) -> bool {
        self.state == State::Stopped && self.still
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds pictures whose cell 0 changed by each difference (the others
    /// not at all), answering every stop with `left_standing`.
    fn run(differences: &[f32], left_standing: bool) -> Vec<bool> {
        let mut stillness = Stillness::default();
        differences
            .iter()
            .map(|&difference| {
                let mut cells = [0.0; CELLS];
                cells[0] = difference;
                if stillness.observe(Some(&cells)) {
                    assert!(stillness.changed_cells()[0]);
                    assert!(!stillness.changed_cells()[1]);
                    stillness.confirm(left_standing);
                }
                stillness.stopped()
            })
            .collect()
    }

    #[test]
    fn an_abrupt_stop_with_people_standing_is_stopped() {
        let stopped = run(&[20.0, 30.0, 0.0, 0.0, 0.4, 0.01, 0.0, 25.0, 0.0], true);
        assert_eq!(
            stopped,
            [false, false, true, true, false, true, true, false, true]
        );
    }

    #[test]
    fn a_scene_that_was_always_still_never_stopped() {
        assert!(run(&[0.0; 20], true).iter().all(|&s| !s));
    }

    #[test]
    fn a_scene_that_emptied_is_not_stopped() {
        // The last person left: the scene as learnt where they were.
        assert!(run(&[20.0, 8.0, 0.0, 0.0, 0.0], false).iter().all(|&s| !s));
    }

    #[test]
    fn a_gradual_stop_is_not_stopped() {
        assert!(run(&[20.0, 1.0, 0.3, 0.0, 0.0], true).iter().all(|&s| !s));
    }

    #[test]
    fn no_previous_picture_forgets_the_stop() {
        let mut stillness = Stillness::default();
        let mut cells = [0.0; CELLS];
        cells[3] = 20.0;
        assert!(!stillness.observe(Some(&cells)));
        assert!(stillness.observe(Some(&[0.0; CELLS])));
        stillness.confirm(true);
        assert!(stillness.stopped());
        assert!(!stillness.observe(None));
        assert!(!stillness.stopped());
    }
}
