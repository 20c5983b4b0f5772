//! Sums that do not depend on the order of their terms. A report must come out byte for byte
//! the same from the same records in any order (a shard merge, a shuffled file, a hash map's
//! per-process order), and a plain floating-point sum differs in its last digits with the
//! order. [`ExactSum`] keeps the running sum exactly, as non-overlapping partials (Shewchuk's
//! algorithm, as Python's `math.fsum`), and rounds it once at the end: the correctly rounded
//! sum, which has one value whatever the order.

/// The exact sum of the values added so far.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    /// Non-overlapping partials, smallest magnitude first; their exact sum is the sum.
    partials: Vec<f64>,
    /// The sum of infinite and NaN terms, kept apart (they would poison the partials).
    special: f64,
}

impl ExactSum {
    /// An empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a term.
    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// Starts again from zero, keeping the allocation.
    pub fn clear(&mut self) {
        self.partials.clear();
        self.special = 0.0;
    }

    /// The sum, correctly rounded.
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases the way the exact sum lies: the partials below decide.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

impl FromIterator<f64> for ExactSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = ExactSum::new();
        for x in iter {
            s.add(x);
        }
        s
    }
}

/// The correctly rounded sum of `xs`: the same whatever their order.
pub fn exact_sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    xs.into_iter().collect::<ExactSum>().value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_is_exact_and_the_same_in_any_order() {
        // Plain summation loses the small terms beside the large ones, and differs by order.
        let xs = [1e16, 1.0, -1e16, 1.0, 0.1, 0.2, 0.3];
        assert_eq!(exact_sum(xs), 2.6);
        let mut v: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() / 7.0).collect();
        let forward = exact_sum(v.iter().copied());
        v.reverse();
        assert_eq!(exact_sum(v.iter().copied()).to_bits(), forward.to_bits());
        v.sort_by(f64::total_cmp);
        assert_eq!(exact_sum(v.iter().copied()).to_bits(), forward.to_bits());
        let plain: Vec<f64> = [v.iter().sum::<f64>(), v.iter().rev().sum::<f64>()].into();
        assert!((plain[0] - forward).abs() < 1e-12 && (plain[1] - forward).abs() < 1e-12);
    }

    #[test]
    fn empty_infinite_and_half_way_sums() {
        assert_eq!(exact_sum([]), 0.0);
        assert_eq!(exact_sum([f64::INFINITY, 1.0]), f64::INFINITY);
        assert!(exact_sum([f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        // 1 + 2^-53 + 2^-106 lies just above the half-way point: rounds up, as exactly.
        let (a, b) = (2f64.powi(-53), 2f64.powi(-106));
        assert_eq!(exact_sum([1.0, a, b]), 1.0 + 2f64.powi(-52));
        assert_eq!(exact_sum([b, a, 1.0]), 1.0 + 2f64.powi(-52));
        assert_eq!(exact_sum([1.0, a]), 1.0);
    }
}
