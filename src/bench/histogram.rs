//! A latency histogram with bounded relative error, cheap enough to record
//! every request of a load run.
//!
//! Values (nanoseconds) below 64 have a bucket each; above, every power of
//! two is split into 64 buckets, so a bucket's width is at most 1/64 of its
//! lower bound. A quantile is reported as the upper bound of the bucket it
//! falls in (clamped to the largest value seen), so it is never below the
//! true value and at most 1.6 % above it.

use std::time::Duration;

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Buckets for 0..64, then 64 per power of two from 2^6 to 2^63.
const BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    max_ns: u64,
    min_ns: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min_ns", &self.min_ns)
            .field("max_ns", &self.max_ns)
            .finish_non_exhaustive()
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) as usize & (SUB - 1);
    SUB + (exp - SUB_BITS) as usize * SUB + sub
}

/// The largest value that falls in bucket `b`.
fn upper_bound(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let exp = ((b - SUB) / SUB) as u32 + SUB_BITS;
    let sub = ((b - SUB) % SUB) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    let lower = (1u64 << exp) + sub * width;
    lower + (width - 1)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            max_ns: 0,
            min_ns: u64::MAX,
            sum_ns: 0,
        }
    }

    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn record_ns(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.min_ns = self.min_ns.min(ns);
        self.sum_ns += ns as u128;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.min_ns = self.min_ns.min(other.min_ns);
        self.sum_ns += other.sum_ns;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((self.sum_ns / self.count as u128) as u64)
    }

    /// The smallest recorded value `v` (up to the bucket resolution) such
    /// that at least `q` of all values are ≤ `v`; zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let q = q.clamp(0.0, 1.0);
        // The rank (1-based) of the value we want.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = upper_bound(b).min(self.max_ns).max(self.min_ns);
                return Duration::from_nanos(v);
            }
        }
        Duration::from_nanos(self.max_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values_in_order() {
        let mut prev = 0;
        for v in (0..5000u64).chain([1 << 20, (1 << 20) + 1, u64::MAX / 3, u64::MAX]) {
            let b = bucket(v);
            assert!(b < BUCKETS);
            assert!(v <= upper_bound(b), "{v} above its bucket {b}");
            if b > 0 {
                assert!(v > upper_bound(b - 1), "{v} at or below bucket {}", b - 1);
            }
            assert!(b >= prev);
            prev = b;
        }
        assert_eq!(upper_bound(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn quantiles_of_known_data() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.99), Duration::ZERO);
        // 1..=1000 µs: p50 = 500 µs, p99 = 990 µs, max = 1000 µs.
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let close = |d: Duration, us: u64| {
            let got = d.as_nanos() as f64;
            let want = (us * 1000) as f64;
            got >= want && got <= want * (1.0 + 1.0 / 64.0)
        };
        assert!(close(h.quantile(0.5), 500), "{:?}", h.quantile(0.5));
        assert!(close(h.quantile(0.99), 990), "{:?}", h.quantile(0.99));
        assert_eq!(h.quantile(1.0), Duration::from_micros(1000));
        assert_eq!(h.max(), Duration::from_micros(1000));
        assert!(close(h.quantile(0.0), 1));
        assert_eq!(h.mean(), Duration::from_nanos(500_500));

        // One slow request in a hundred moves p99 but not p50.
        let mut h = Histogram::new();
        for _ in 0..99 {
            h.record(Duration::from_micros(100));
        }
        h.record(Duration::from_millis(80));
        assert!(close(h.quantile(0.5), 100));
        assert!(close(h.quantile(0.99), 100));
        assert_eq!(h.quantile(0.999), Duration::from_millis(80));
    }

    #[test]
    fn merging_is_adding() {
        let (mut a, mut b, mut both) = (Histogram::new(), Histogram::new(), Histogram::new());
        for i in 0..300u64 {
            let v = i * i * 37;
            if i % 3 == 0 { &mut a } else { &mut b }.record_ns(v);
            both.record_ns(v);
        }
        a.merge(&b);
        assert_eq!(a.count(), 300);
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(a.quantile(q), both.quantile(q));
        }
        assert_eq!(a.max(), both.max());
    }
}
