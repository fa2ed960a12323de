//! Where the generator's choices come from.
//!
//! The generator never calls a random number generator directly: it asks an
//! [`Entropy`] for "a number below n". A seeded PRNG ([`SplitMix64`]) drives
//! `baton run`; a recorded tape of choices ([`Tape`]) lets proptest generate
//! and shrink sequences (shrinking the tape towards zeros makes every choice
//! the first, simplest one, as Hypothesis does); the fuzz targets feed
//! libFuzzer's bytes through the same trait. One generator, three sources.

/// A source of choices.
pub trait Entropy {
    /// A number in `0..n` (`n >= 1`).
    fn below(&mut self, n: u32) -> u32;

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }

    /// An index chosen with the given weights; `None` when all are zero.
    fn weighted(&mut self, weights: &[u32]) -> Option<usize> {
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return Some(i);
            }
            x -= w;
        }
        unreachable!("x < total")
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }
}

/// A small, fast, seedable PRNG (SplitMix64). Runs are reproducible from the
/// seed alone, on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Entropy for SplitMix64 {
    fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n >= 1);
        // Lemire's multiply-shift; the tiny bias is irrelevant here.
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }
}

/// A recorded list of choices, replayed in order; past its end every choice
/// is 0 (the simplest). Values are reduced modulo `n`.
#[derive(Clone, Debug, Default)]
pub struct Tape<'a> {
    choices: &'a [u32],
    pos: usize,
}

impl<'a> Tape<'a> {
    pub fn new(choices: &'a [u32]) -> Tape<'a> {
        Tape { choices, pos: 0 }
    }

    /// How many recorded choices were used.
    pub fn used(&self) -> usize {
        self.pos.min(self.choices.len())
    }
}

impl Entropy for Tape<'_> {
    fn below(&mut self, n: u32) -> u32 {
        let v = self.choices.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v % n
    }
}

/// Bytes as entropy (what a fuzzer provides): each choice takes 4 bytes,
/// zeros once the bytes run out.
#[derive(Clone, Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    pub fn is_exhausted(&self) -> bool {
        self.data.is_empty()
    }
}

impl Entropy for Bytes<'_> {
    fn below(&mut self, n: u32) -> u32 {
        let take = self.data.len().min(4);
        let mut buf = [0u8; 4];
        buf[..take].copy_from_slice(&self.data[..take]);
        self.data = &self.data[take..];
        u32::from_le_bytes(buf) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_reproducible_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for n in 1..500u32 {
            let x = a.below(n);
            assert_eq!(x, b.below(n));
            assert!(x < n);
        }
    }

    #[test]
    fn tape_replays_then_gives_zeros() {
        let mut t = Tape::new(&[5, 9]);
        assert_eq!(t.below(10), 5);
        assert_eq!(t.below(4), 1);
        assert_eq!(t.below(3), 0);
        assert_eq!(t.used(), 2);
    }

    #[test]
    fn weighted_respects_zero_weights() {
        let mut r = SplitMix64::new(1);
        for _ in 0..1000 {
            assert_eq!(r.weighted(&[0, 3, 0]), Some(1));
        }
        assert_eq!(r.weighted(&[0, 0]), None);
    }
}
