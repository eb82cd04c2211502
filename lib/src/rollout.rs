//! Phased rollouts: a node's wariness and a rollout's throttle, computed exactly as the
//! Fedora CoreOS Cincinnati policy engine does, so a node planning for itself sees the same
//! edges a Cincinnati server would have served it. Pure: `now` is passed in.

use sha2::{Digest, Sha256};

use crate::graph::Rollout;

/// A node's rollout wariness: 0.0 takes releases first, 1.0 last.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Wariness(f64);

/// Domain separation for the machine-id hash; changing it reshuffles every fleet.
const WARINESS_DOMAIN: &[u8] = b"bootc-checkpoint/rollout-wariness/v1\n";

impl Wariness {
    /// A configured wariness; must be a number in `[0, 1]`.
    pub fn new(value: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!(
                "rollout wariness {value} is out of range: expected 0.0 to 1.0"
            ))
        }
    }

    /// The default wariness of a node, derived from its machine id (`/etc/machine-id`).
    ///
    /// Stable across versions, architectures and processes (unlike Rust's `DefaultHasher`):
    /// SHA-256 over `"bootc-checkpoint/rollout-wariness/v1\n"` followed by the trimmed,
    /// lower-cased machine id; the first 8 bytes as a big-endian `u64`, top 53 bits divided
    /// by 2^53, giving a uniform value in `[0, 1)`.
    pub fn from_machine_id(machine_id: &str) -> Self {
        let mut h = Sha256::new();
        h.update(WARINESS_DOMAIN);
        h.update(machine_id.trim().to_ascii_lowercase().as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let bits = u64::from_be_bytes(first) >> 11;
        Self(bits as f64 / (1u64 << 53) as f64)
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// The fraction of the fleet a rollout has reached at `now` (Unix seconds).
///
/// Mirrors fedora-coreos-cincinnati's `throttle_rollouts` bit for bit: start defaults to the
/// epoch and the start value to 0.0; 0.0 before the start; without a duration the rollout stays
/// at its start value; a duration of 0 counts as one minute; 1.0 strictly after the end.
pub fn throttle(rollout: &Rollout, now: i64) -> f64 {
    let start = rollout.start.map(|t| t.timestamp()).unwrap_or(0);
    let start_value = rollout.start_percentage.unwrap_or(0.0);
    match rollout.duration_minutes {
        Some(minutes) => {
            let minutes = minutes.max(1);
            // Saturating, unlike Cincinnati (whose i64 math wraps for absurd durations): a huge
            // duration must mean "slow", never "already complete".
            let seconds = i64::try_from(minutes.saturating_mul(60)).unwrap_or(i64::MAX);
            let end = start.saturating_add(seconds);
            let rate = (1.0 - start_value) / end.saturating_sub(start) as f64;
            if now < start {
                0.0
            } else if now > end {
                1.0
            } else {
                start_value + rate * (now - start) as f64
            }
        }
        None if now < start => 0.0,
        None => start_value,
    }
}

/// Whether a node of this wariness does not yet see the release (Cincinnati hides the edges
/// into it). A node with wariness 0.0 is never held back, even before the rollout starts.
pub fn holds_back(rollout: &Rollout, wariness: Wariness, now: i64) -> bool {
    wariness.0 > throttle(rollout, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn ro(start: i64, pct: Option<f64>, mins: Option<u64>) -> Rollout {
        Rollout {
            start: Some(DateTime::from_timestamp(start, 0).unwrap()),
            start_percentage: pct,
            duration_minutes: mins,
            ..Default::default()
        }
    }

    #[test]
    fn throttle_table() {
        // (rollout, now, expected throttle)
        let table = [
            (ro(1000, None, Some(10)), 999, 0.0),
            (ro(1000, None, Some(10)), 1000, 0.0),
            (ro(1000, None, Some(10)), 1300, 0.5),
            (ro(1000, None, Some(10)), 1600, 1.0),
            (ro(1000, None, Some(10)), 1601, 1.0),
            (ro(1000, Some(0.5), Some(10)), 1300, 0.75),
            (ro(1000, Some(0.5), None), 5000, 0.5),
            (ro(1000, Some(0.5), None), 10, 0.0),
            (ro(1000, Some(1.0), None), 1000, 1.0),
            // Duration 0 behaves as one minute.
            (ro(1000, None, Some(0)), 1030, 0.5),
            (ro(1000, None, Some(0)), 1061, 1.0),
        ];
        // Absurd durations saturate instead of wrapping to "complete" (or panicking).
        assert!(throttle(&ro(1_700_000_000, None, Some(1 << 58)), 1_700_003_600) < 1e-9);
        let huge = ro(1_700_000_000, None, Some(u64::MAX));
        assert!(throttle(&huge, 1_700_003_600) < 1e-9);
        assert!(
            throttle(
                &ro(1_700_000_000, None, Some(153_722_867_252_579_597)),
                1_700_003_600
            ) < 1e-9
        );
        for (r, now, want) in table {
            assert_eq!(throttle(&r, now), want, "{r:?} at {now}");
        }
        let no_start = Rollout {
            start_percentage: Some(0.2),
            ..Default::default()
        };
        assert_eq!(throttle(&no_start, 1), 0.2);
    }

    #[test]
    fn zero_wariness_sees_rollout_before_start() {
        let r = ro(1_000_000, None, Some(60));
        assert!(!holds_back(&r, Wariness::new(0.0).unwrap(), 10));
        assert!(holds_back(&r, Wariness::new(0.01).unwrap(), 10));
        assert!(!holds_back(
            &r,
            Wariness::new(1.0).unwrap(),
            1_000_000 + 3601
        ));
    }

    #[test]
    fn machine_id_wariness_is_stable() {
        // Fixed vectors: these must never change, or fleets reshuffle on upgrade.
        let w = Wariness::from_machine_id("0123456789abcdef0123456789abcdef").value();
        let same = Wariness::from_machine_id(" 0123456789ABCDEF0123456789abcdef\n").value();
        assert_eq!(w, same);
        assert_eq!(format!("{w:.12}"), KNOWN_VECTOR);
    }
    // Computed independently: python3 hashlib.sha256(domain + id), first 8 bytes >> 11 / 2**53.
    const KNOWN_VECTOR: &str = "0.360345964684";

    proptest! {
        #[test]
        fn wariness_in_unit_interval(id in "[0-9a-f]{32}") {
            let w = Wariness::from_machine_id(&id).value();
            prop_assert!((0.0..1.0).contains(&w));
        }

        #[test]
        fn throttle_monotonic_in_time(start in -10_000i64..10_000, pct in 0.0f64..=1.0,
                                      mins in 0u64..1000, a in -20_000i64..100_000, d in 0i64..50_000) {
            let r = ro(start, Some(pct), Some(mins));
            let (t1, t2) = (throttle(&r, a), throttle(&r, a + d));
            prop_assert!(a < start || t1 <= t2 + 1e-12, "{t1} > {t2}");
            prop_assert!((0.0..=1.0 + 1e-12).contains(&t2));
        }
    }
}
