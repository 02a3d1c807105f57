//! Reconnection delays for a camera's stream, shared by the recorder and
//! the analysis of a sub stream.

use std::time::Duration;

use rand::Rng;

/// Reconnection delays: doubling from `initial` up to `max`, each with up
/// to `jitter` added at random so that many cameras behind one failed switch
/// do not all reconnect in the same instant.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: f64,
    next: Duration,
}

impl Backoff {
    /// The recorder's policy: the cap keeps recording resuming within 5 s of a
    /// camera coming back (3 s + 25 % jitter + connection setup).
    pub fn recorder_default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(3), 0.25)
    }
    pub fn new(initial: Duration, max: Duration, jitter: f64) -> Self {
        Backoff {
            initial,
            max,
            jitter,
            next: initial,
        }
    }
    /// The delay before the next attempt.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(1.0 + rng.gen_range(0.0..=self.jitter))
    }
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_to_its_cap_with_bounded_jitter_and_resets() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3), 0.25);
        let delays: Vec<Duration> = (0..6).map(|_| b.next_delay(&mut rng)).collect();
        let bases = [500u64, 1000, 2000, 3000, 3000, 3000];
        for (d, base) in delays.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *d >= base && *d <= base.mul_f64(1.25),
                "{d:?} not within jitter of {base:?}"
            );
        }
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_millis(625));
    }
}
