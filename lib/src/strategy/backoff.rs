//! The FleetLock client's retry schedule: exponential backoff with a cap, inside an overall
//! deadline so a one-shot `upgrade` run ends even when the server never answers. Pure: the
//! caller measures elapsed time and sleeps.

use std::time::Duration;

/// When to retry, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after the first failed attempt; doubled after each further one.
    pub first: Duration,
    /// Longest pause.
    pub cap: Duration,
    /// No attempt starts later than this after the first one.
    pub deadline: Duration,
    /// Longest single request (also bounded by what is left of the deadline).
    pub request_timeout: Duration,
}

impl Default for Backoff {
    /// About two minutes of trying: 1, 2, 4, 8, 16, 30, 30, … seconds apart.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The default schedule squeezed into `deadline` (e.g. `--fleet-lock-deadline`).
    pub fn with_deadline(deadline: Duration) -> Self {
        Self {
            deadline,
            ..Self::default()
        }
    }

    /// The pause after failed attempt `attempt` (1-based): `first · 2^(attempt-1)`, at most `cap`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first.saturating_mul(factor).min(self.cap)
    }

    /// After attempt `attempt` failed, `elapsed` after the first one started: how long to wait
    /// before the next attempt, or `None` to give up (it would start at or past the deadline).
    pub fn next(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        let pause = self.delay(attempt);
        (elapsed.saturating_add(pause) < self.deadline).then_some(pause)
    }

    /// The timeout of an attempt starting `elapsed` after the first one: the request timeout,
    /// cut to what is left of the deadline (at least a second, so the first attempt of a tiny
    /// deadline still gets a chance).
    pub fn attempt_timeout(&self, elapsed: Duration) -> Duration {
        let left = self.deadline.saturating_sub(elapsed);
        self.request_timeout.min(left).max(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff::default();
        let table = [
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 30),
            (7, 30),
            (40, 30),
        ];
        for (attempt, secs) in table {
            assert_eq!(b.delay(attempt), S(secs), "attempt {attempt}");
        }
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let b = Backoff::with_deadline(S(10));
        // (failed attempt, elapsed, next pause)
        let table = [
            (1, S(0), Some(S(1))),
            (2, S(1), Some(S(2))),
            (3, S(3), Some(S(4))),
            // 7 + 8 = 15 ≥ 10: the next attempt would start past the deadline.
            (4, S(7), None),
            (1, S(9), None),
            (1, Duration::from_millis(8_999), Some(S(1))),
        ];
        for (attempt, elapsed, want) in table {
            assert_eq!(b.next(attempt, elapsed), want, "{attempt} at {elapsed:?}");
        }
    }

    #[test]
    fn attempts_never_outlive_the_deadline_much() {
        let b = Backoff::with_deadline(S(25));
        let table = [(S(0), S(10)), (S(20), S(5)), (S(24), S(1)), (S(30), S(1))];
        for (elapsed, want) in table {
            assert_eq!(b.attempt_timeout(elapsed), want, "{elapsed:?}");
        }
    }

    proptest! {
        /// Following the schedule, the pauses never grow past the cap, never shrink, and the
        /// last attempt starts before the deadline.
        #[test]
        fn schedule_is_bounded(first in 1u64..5, cap in 5u64..60, deadline in 0u64..600) {
            let b = Backoff { first: S(first), cap: S(cap), deadline: S(deadline), request_timeout: S(10) };
            let (mut elapsed, mut attempt, mut last) = (Duration::ZERO, 1, Duration::ZERO);
            while let Some(p) = b.next(attempt, elapsed) {
                prop_assert!(p <= S(cap) && p >= last);
                last = p;
                elapsed += p;
                attempt += 1;
                prop_assert!(elapsed < S(deadline));
            }
            // Every pause is at least `first`, so the attempts are bounded by the deadline.
            prop_assert!(u64::from(attempt) <= deadline / first + 1);
        }
    }
}
