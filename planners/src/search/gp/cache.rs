//! A model's posterior over a fixed set of candidates, updated as observations arrive
//! instead of recomputed: what the acquisition reads at every step.

use super::Gp;

/// A model's posterior over fixed candidates, kept up to date incrementally.
///
/// For candidate j, v_j = L⁻¹ k(X, x_j); the mean is ȳ + v_j·w (w = L⁻¹ y) and the variance
/// s² − |v_j|². A new observation appends one entry to every v_j and to w, and leaves the
/// others unchanged, so both sums grow by one term.
#[derive(Debug, Clone)]
pub struct CandidateCache {
    pub(super) d: usize,
    pub(super) x: Vec<f64>,
    pub(super) m: usize,
    /// Observations folded in so far.
    pub(super) seen: usize,
    /// v entries, one row of m per observation.
    pub(super) v: Vec<f64>,
    pub(super) sum_mean: Vec<f64>,
    pub(super) sum_var: Vec<f64>,
}

impl CandidateCache {
    pub fn len(&self) -> usize {
        self.m
    }

    pub fn is_empty(&self) -> bool {
        self.m == 0
    }

    /// Fold in the observations `gp` gained since the last update. The cache must have been
    /// made by this model (same hyperparameters, observations only appended).
    pub fn update(&mut self, gp: &Gp) {
        let n = gp.len();
        for i in self.seen..n {
            let li = &gp.chol[i * n..i * n + i];
            let lii = gp.chol[i * n + i];
            let xi = gp.row(i);
            let mut row = vec![0.0; self.m];
            for (j, out) in row.iter_mut().enumerate() {
                let xj = &self.x[j * self.d..(j + 1) * self.d];
                let mut dot = 0.0;
                for (k, lik) in li.iter().enumerate() {
                    dot += lik * self.v[k * self.m + j];
                }
                let vij = (gp.kernel(xi, xj) - dot) / lii;
                *out = vij;
                self.sum_mean[j] += vij * gp.w[i];
                self.sum_var[j] += vij * vij;
            }
            self.v.extend_from_slice(&row);
        }
        self.seen = n;
    }

    /// Posterior mean and variance of candidate `j`.
    pub fn mean_var(&self, gp: &Gp, j: usize) -> (f64, f64) {
        (
            gp.y_mean + self.sum_mean[j],
            (gp.signal - self.sum_var[j]).max(1e-12),
        )
    }
}
