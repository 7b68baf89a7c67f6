//! How long ingest waits before reconnecting to IMAP.
//!
//! The delay doubles after every failed session, up to [`RECONNECT_CAP`], and starts over
//! after a session that worked (see [`super::run`] for what counts). Without the reset,
//! every brief server restart doubled the wait for good: after nine Dovecot restarts a 2 s
//! outage cost 256 s, and a complaint waited 108 s to be taken in.
//!
//! Each delay is drawn with "equal jitter": half the exponential step, plus a random part
//! of the other half. The random half keeps several daemons (or a restarted fleet) from
//! reconnecting in lock-step to a server that just came back; the fixed half keeps a server
//! that is down from being asked again within milliseconds, which full jitter (anything from
//! zero up to the step) would allow on every draw. The randomness is a parameter, so tests
//! pin it.

use std::time::Duration;

use rand::Rng;

/// First step: a server that dropped one connection is tried again within a second.
pub const RECONNECT_BASE: Duration = Duration::from_secs(1);

/// Longest step. The daemon pings the systemd watchdog only after healthy rounds
/// (`WatchdogSec=5min` in systemd/mailcase.service), so a wait near five minutes would get a
/// daemon killed whose server came back long ago; 30 s is a tenth of that, and a
/// complaint arriving after an outage is taken in at most about 30 s after the server returns.
pub const RECONNECT_CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with a cap, equal jitter and a reset; a pure value, no clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// Failures since the last reset.
    failures: u32,
}

impl Backoff {
    /// Steps of `base`, doubling up to `cap` (a `cap` below `base` is raised to it).
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// The ingest reconnect backoff: [`RECONNECT_BASE`] doubling to [`RECONNECT_CAP`].
    pub fn reconnect() -> Backoff {
        Backoff::new(RECONNECT_BASE, RECONNECT_CAP)
    }

    /// The un-jittered step of the next failure: `base * 2^failures`, at most `cap`.
    pub fn step(&self) -> Duration {
        // 2^31 seconds is past any cap; saturating keeps the arithmetic from overflowing.
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Records a failure and returns how long to wait before trying again: at least half
    /// the step, less than the whole step.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let step = self.step();
        self.failures = self.failures.saturating_add(1);
        let half = step / 2;
        // A uniform fraction in [0, 1): no rejection sampling, so any generator (a fixed
        // one in tests included) gives an answer at once.
        half + (step - half).mul_f64(rng.gen::<f64>())
    }

    /// Forgets the failures: the next delay is one of `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn steps_double_from_the_base_and_stop_at_the_cap() {
        let mut b = Backoff::new(secs(1), secs(30));
        let mut steps = Vec::new();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..8 {
            steps.push(b.step());
            b.next_delay(&mut rng);
        }
        assert_eq!(
            steps,
            [1, 2, 4, 8, 16, 30, 30, 30].map(secs).to_vec(),
            "doubling, capped"
        );
        // Many failures later: still the cap, no overflow.
        for _ in 0..100 {
            b.next_delay(&mut rng);
        }
        assert_eq!(b.step(), secs(30));
        assert_eq!(b.failures(), 108);
    }

    #[test]
    fn a_reset_starts_again_from_the_base() {
        let mut b = Backoff::reconnect();
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..9 {
            b.next_delay(&mut rng);
        }
        assert_eq!(b.step(), RECONNECT_CAP);
        b.reset();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.step(), RECONNECT_BASE);
        let d = b.next_delay(&mut rng);
        assert!(d <= RECONNECT_BASE, "{d:?}");
    }

    #[test]
    fn jitter_stays_between_half_the_step_and_the_step() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let mut b = Backoff::reconnect();
            for _ in 0..8 {
                let step = b.step();
                let d = b.next_delay(&mut rng);
                assert!(
                    d >= step / 2 && d <= step,
                    "{d:?} outside [{step:?}/2, {step:?}]"
                );
            }
        }
    }

    #[test]
    fn the_injected_randomness_decides_where_in_the_range_a_delay_falls() {
        // A generator that always returns 0 gives the floor, one that returns the maximum
        // comes within a millisecond of the step: where a delay falls is the generator's.
        let mut low = StepRng::new(0, 0);
        let mut high = StepRng::new(u64::MAX, 0);
        let (mut a, mut b) = (Backoff::reconnect(), Backoff::reconnect());
        for _ in 0..3 {
            a.next_delay(&mut low);
            b.next_delay(&mut high);
        }
        assert_eq!(a.step(), secs(8));
        assert_eq!(a.next_delay(&mut low), secs(4));
        let top = b.next_delay(&mut high);
        assert!(
            top > secs(8) - Duration::from_millis(1) && top <= secs(8),
            "{top:?}"
        );
        // The same seed gives the same sequence.
        let seq = |seed| {
            let mut r = StdRng::seed_from_u64(seed);
            let mut b = Backoff::reconnect();
            (0..6).map(|_| b.next_delay(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(seq(9), seq(9));
    }

    #[test]
    fn a_cap_below_the_base_is_the_base() {
        let mut b = Backoff::new(secs(5), secs(1));
        assert_eq!(b.step(), secs(5));
        b.next_delay(&mut StdRng::seed_from_u64(4));
        assert_eq!(b.step(), secs(5));
    }
}
