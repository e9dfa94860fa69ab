//! Gaussian-process regression with a Matérn 5/2 kernel and one length-scale per input
//! dimension (automatic relevance determination).
//!
//! - **Hyperparameters** (length-scales, signal and noise variance, all in log space) maximize
//!   the log marginal likelihood: a pattern search from a data-derived start plus seeded
//!   random restarts. There are no gradients: with tens of observations one likelihood
//!   evaluation costs microseconds, so a few hundred of them are cheaper than the code that
//!   gradients would need.
//! - **Incremental updates.** The Cholesky factor of K + σ²I is kept; a new observation adds
//!   one row in O(n²) instead of refactoring in O(n³). Hyperparameters stay as fitted until
//!   the caller refits.
//! - **Known measurement noise.** An observation may carry its own noise variance (a profile's
//!   accuracy is a mean over a few inputs: its standard error is known). It is added to the
//!   diagonal on top of the fitted noise, so a noisy point cannot pull the posterior to itself
//!   however well the likelihood would like to explain it as signal.
//! - **Targets** are centred on their mean at fit time. Callers transform them first: log for
//!   latency and cost, logit for accuracies in (0, 1).
//!
//! The linear algebra is hand-written on flat buffers: at these sizes (n ≤ ~100) a library
//! call costs more than the arithmetic (measured for this project: a hand-rolled factor took
//! 0.2 ms at n = 100, libraries 0.1–55 ms); `ndarray` carries data in and out.

mod cache;
mod linalg;

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use cache::CandidateCache;
use linalg::{cholesky, forward};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpError {
    #[error("no observations")]
    Empty,
    #[error("{x} input rows but {y} targets")]
    Mismatch { x: usize, y: usize },
    #[error("an input has {found} dimensions, the model has {expected}")]
    Dimensions { expected: usize, found: usize },
    #[error("a target is not finite")]
    NotFinite,
    #[error("a known noise variance is negative or not finite")]
    BadNoise,
    #[error("the kernel matrix is not positive definite even with jitter")]
    NotPositiveDefinite,
}

/// Kernel hyperparameters, in log space.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    pub log_lengthscale: Vec<f64>,
    pub log_signal_var: f64,
    pub log_noise_var: f64,
}

/// A fitted Gaussian process.
#[derive(Debug, Clone)]
pub struct Gp {
    d: usize,
    x: Vec<f64>,
    y: Vec<f64>,
    y_mean: f64,
    /// Per observation, known noise variance added to the fitted one.
    known: Vec<f64>,
    hyper: Hyper,
    inv_ls: Vec<f64>,
    signal: f64,
    noise: f64,
    /// Lower Cholesky factor of K + σ²I + diag(known), row-major n × n.
    chol: Vec<f64>,
    /// (K + σ²I + diag(known))⁻¹ y.
    alpha: Vec<f64>,
    /// L⁻¹ y: grows by one entry per observation, earlier entries never change.
    w: Vec<f64>,
}

const SQRT5: f64 = 2.236_067_977_499_79;

fn matern52(r2: f64, signal: f64) -> f64 {
    let r = r2.sqrt();
    signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * (-SQRT5 * r).exp()
}

impl Gp {
    /// Fit hyperparameters by marginal likelihood (`restarts` extra random starts), then
    /// condition on the data.
    pub fn fit(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        restarts: usize,
        seed: u64,
    ) -> Result<Gp, GpError> {
        Gp::fit_noisy(x, y, &vec![0.0; y.len()], restarts, seed)
    }

    /// [`Gp::fit`] where observation i also carries a known noise variance `known[i]` (0:
    /// only the fitted noise).
    pub fn fit_noisy(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        known: &[f64],
        restarts: usize,
        seed: u64,
    ) -> Result<Gp, GpError> {
        let (xs, ys, d) = flatten(x, y)?;
        let known = check_known(known, ys.len())?;
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let var = (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ys.len() as f64).max(1e-6);
        let start = Hyper {
            log_lengthscale: vec![0.5f64.ln(); d],
            log_signal_var: var.ln(),
            log_noise_var: (var * 0.01).ln(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut best: Option<(f64, Hyper)> = None;
        for attempt in 0..=restarts {
            let init = if attempt == 0 {
                start.clone()
            } else {
                Hyper {
                    log_lengthscale: (0..d)
                        .map(|_| rng.random_range(0.05f64..2.0).ln())
                        .collect(),
                    log_signal_var: (var * rng.random_range(0.3..3.0)).ln(),
                    log_noise_var: (var * rng.random_range(1e-4..0.1)).ln(),
                }
            };
            let h = pattern_search(&xs, &ys, &known, d, mean, init);
            if let Ok(gp) = Gp::condition(xs.clone(), ys.clone(), known.clone(), d, mean, h.clone())
            {
                let lml = gp.log_marginal_likelihood();
                if best.as_ref().is_none_or(|b| lml > b.0) {
                    best = Some((lml, h));
                }
            }
        }
        let (_, h) = best.ok_or(GpError::NotPositiveDefinite)?;
        Gp::condition(xs, ys, known, d, mean, h)
    }

    /// Condition on the data with given hyperparameters (no fitting).
    pub fn with_hyper(x: ArrayView2<f64>, y: ArrayView1<f64>, hyper: Hyper) -> Result<Gp, GpError> {
        let (xs, ys, d) = flatten(x, y)?;
        if hyper.log_lengthscale.len() != d {
            return Err(GpError::Dimensions {
                expected: hyper.log_lengthscale.len(),
                found: d,
            });
        }
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let known = vec![0.0; ys.len()];
        Gp::condition(xs, ys, known, d, mean, hyper)
    }

    fn condition(
        x: Vec<f64>,
        y: Vec<f64>,
        known: Vec<f64>,
        d: usize,
        y_mean: f64,
        hyper: Hyper,
    ) -> Result<Gp, GpError> {
        let inv_ls = hyper.log_lengthscale.iter().map(|l| (-l).exp()).collect();
        let signal = hyper.log_signal_var.exp();
        let noise = hyper.log_noise_var.exp().max(1e-10 * signal);
        let mut gp = Gp {
            d,
            x,
            y: Vec::new(),
            y_mean,
            known,
            hyper,
            inv_ls,
            signal,
            noise,
            chol: Vec::new(),
            alpha: Vec::new(),
            w: Vec::new(),
        };
        gp.y = y.iter().map(|v| v - y_mean).collect();
        let n = gp.y.len();
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = gp.kernel(gp.row(i), gp.row(j));
                k[i * n + j] = v;
                k[j * n + i] = v;
            }
            k[i * n + i] += gp.noise + gp.known[i];
        }
        gp.chol = cholesky(&k, n).ok_or(GpError::NotPositiveDefinite)?;
        gp.alpha = gp.solve(&gp.y);
        gp.w = forward(&gp.chol, n, &gp.y);
        Ok(gp)
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn hyper(&self) -> &Hyper {
        &self.hyper
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn kernel(&self, a: &[f64], b: &[f64]) -> f64 {
        let r2: f64 = a
            .iter()
            .zip(b)
            .zip(&self.inv_ls)
            .map(|((p, q), s)| ((p - q) * s).powi(2))
            .sum();
        matern52(r2, self.signal)
    }

    /// (K + σ²I)⁻¹ v through the Cholesky factor.
    fn solve(&self, v: &[f64]) -> Vec<f64> {
        let n = self.len();
        let mut z = forward(&self.chol, n, v);
        for i in (0..n).rev() {
            let tail: f64 = z[i + 1..]
                .iter()
                .enumerate()
                .map(|(off, zk)| self.chol[(i + 1 + off) * n + i] * zk)
                .sum();
            z[i] = (z[i] - tail) / self.chol[i * n + i];
        }
        z
    }

    /// Add one observation: the factor grows by a row, in O(n²).
    pub fn add(&mut self, x: ArrayView1<f64>, y: f64) -> Result<(), GpError> {
        self.add_noisy(x, y, 0.0)
    }

    /// [`Gp::add`] with a known noise variance for the new observation.
    pub fn add_noisy(&mut self, x: ArrayView1<f64>, y: f64, known: f64) -> Result<(), GpError> {
        if !known.is_finite() || known < 0.0 {
            return Err(GpError::BadNoise);
        }
        if x.len() != self.d {
            return Err(GpError::Dimensions {
                expected: self.d,
                found: x.len(),
            });
        }
        if !y.is_finite() {
            return Err(GpError::NotFinite);
        }
        let n = self.len();
        let xv: Vec<f64> = x.iter().copied().collect();
        let kx: Vec<f64> = (0..n).map(|i| self.kernel(self.row(i), &xv)).collect();
        let l = forward(&self.chol, n, &kx);
        let diag2 =
            self.kernel(&xv, &xv) + self.noise + known - l.iter().map(|v| v * v).sum::<f64>();
        if diag2 <= 0.0 {
            return Err(GpError::NotPositiveDefinite);
        }
        let mut chol = vec![0.0; (n + 1) * (n + 1)];
        for i in 0..n {
            chol[i * (n + 1)..i * (n + 1) + n].copy_from_slice(&self.chol[i * n..(i + 1) * n]);
        }
        chol[n * (n + 1)..n * (n + 1) + n].copy_from_slice(&l);
        chol[n * (n + 1) + n] = diag2.sqrt();
        let w_new = (y - self.y_mean - l.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>())
            / diag2.sqrt();
        self.chol = chol;
        self.x.extend_from_slice(&xv);
        self.y.push(y - self.y_mean);
        self.known.push(known);
        self.w.push(w_new);
        self.alpha = self.solve(&self.y);
        Ok(())
    }

    /// A cache of this model's posterior over a fixed set of candidates (rows of `xs`). It
    /// stays valid across [`Gp::add`]: [`CandidateCache::update`] folds in only the new
    /// observations, in O(n) per candidate instead of O(n²).
    pub fn cache(&self, xs: ArrayView2<f64>) -> CandidateCache {
        let mut c = CandidateCache {
            d: self.d,
            x: xs.iter().copied().collect(),
            m: xs.nrows(),
            seen: 0,
            v: Vec::new(),
            sum_mean: vec![0.0; xs.nrows()],
            sum_var: vec![0.0; xs.nrows()],
        };
        c.update(self);
        c
    }

    /// Posterior mean and variance of the latent function at `x`.
    pub fn predict(&self, x: ArrayView1<f64>) -> (f64, f64) {
        let xv: Vec<f64> = x.iter().copied().collect();
        self.predict_slice(&xv)
    }

    fn predict_slice(&self, x: &[f64]) -> (f64, f64) {
        let n = self.len();
        let kx: Vec<f64> = (0..n).map(|i| self.kernel(self.row(i), x)).collect();
        let mean = self.y_mean + kx.iter().zip(&self.alpha).map(|(a, b)| a * b).sum::<f64>();
        let v = forward(&self.chol, n, &kx);
        let var = (self.signal - v.iter().map(|a| a * a).sum::<f64>()).max(1e-12);
        (mean, var)
    }

    /// Means and variances for every row of `xs`.
    pub fn predict_many(&self, xs: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
        let mut means = Array1::zeros(xs.nrows());
        let mut vars = Array1::zeros(xs.nrows());
        let mut buf = vec![0.0; self.d];
        for (i, row) in xs.rows().into_iter().enumerate() {
            for (b, v) in buf.iter_mut().zip(row.iter()) {
                *b = *v;
            }
            let (m, v) = self.predict_slice(&buf);
            means[i] = m;
            vars[i] = v;
        }
        (means, vars)
    }

    /// log p(y | X, θ).
    pub fn log_marginal_likelihood(&self) -> f64 {
        let n = self.len();
        let fit: f64 = self.y.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let logdet: f64 = (0..n).map(|i| self.chol[i * n + i].ln()).sum::<f64>() * 2.0;
        -0.5 * fit - 0.5 * logdet - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
    }
}

fn flatten(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(Vec<f64>, Vec<f64>, usize), GpError> {
    if x.nrows() == 0 {
        return Err(GpError::Empty);
    }
    if x.nrows() != y.len() {
        return Err(GpError::Mismatch {
            x: x.nrows(),
            y: y.len(),
        });
    }
    if y.iter().any(|v| !v.is_finite()) || x.iter().any(|v| !v.is_finite()) {
        return Err(GpError::NotFinite);
    }
    Ok((x.iter().copied().collect(), y.to_vec(), x.ncols()))
}

/// `known` as noise variances for `n` observations: finite and not negative.
fn check_known(known: &[f64], n: usize) -> Result<Vec<f64>, GpError> {
    if known.len() != n {
        return Err(GpError::Mismatch {
            x: n,
            y: known.len(),
        });
    }
    if known.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(GpError::BadNoise);
    }
    Ok(known.to_vec())
}

/// Hooke–Jeeves pattern search on the log marginal likelihood, in log-hyperparameter space.
fn pattern_search(x: &[f64], y: &[f64], known: &[f64], d: usize, mean: f64, start: Hyper) -> Hyper {
    let lml = |h: &Hyper| -> f64 {
        Gp::condition(x.to_vec(), y.to_vec(), known.to_vec(), d, mean, h.clone())
            .map(|g| g.log_marginal_likelihood())
            .unwrap_or(f64::NEG_INFINITY)
    };
    let pack = |h: &Hyper| -> Vec<f64> {
        let mut v = h.log_lengthscale.clone();
        v.push(h.log_signal_var);
        v.push(h.log_noise_var);
        v
    };
    let unpack = |v: &[f64]| Hyper {
        log_lengthscale: v[..d].iter().map(|l| l.clamp(-5.0, 5.0)).collect(),
        log_signal_var: v[d],
        log_noise_var: v[d + 1].max(v[d] - 25.0),
    };
    let mut p = pack(&start);
    let mut best = lml(&unpack(&p));
    let mut step = 1.0;
    let mut evals = 0;
    while step > 0.02 && evals < 400 {
        let mut improved = false;
        for i in 0..p.len() {
            for dir in [step, -step] {
                let mut q = p.clone();
                q[i] += dir;
                evals += 1;
                let v = lml(&unpack(&q));
                if v > best {
                    best = v;
                    p = q;
                    improved = true;
                    break;
                }
            }
        }
        if !improved {
            step /= 2.0;
        }
    }
    unpack(&p)
}

#[cfg(test)]
mod tests;
