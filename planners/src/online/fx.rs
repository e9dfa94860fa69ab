//! A float with a total order, so that measured values can live in ordered collections.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// An `f64` ordered by [`f64::total_cmp`] and hashed by its bits: two `Fx` are equal exactly
/// when their bits are, so `-0.0 != 0.0` and every NaN payload is its own value. Rows are
/// built from the same arithmetic on the same inputs, so this never splits values that
/// should be one.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Fx(pub f64);

impl PartialEq for Fx {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Fx {}
impl PartialOrd for Fx {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Fx {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl Hash for Fx {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}
impl From<f64> for Fx {
    fn from(v: f64) -> Self {
        Fx(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_order_and_equality_agree() {
        let mut v = [Fx(2.0), Fx(f64::NAN), Fx(-1.0), Fx(0.5)];
        v.sort();
        assert_eq!(v[0], Fx(-1.0));
        assert_eq!(v[2], Fx(2.0));
        assert!(v[3].0.is_nan());
        assert_eq!(v[3], v[3]);
    }
}
