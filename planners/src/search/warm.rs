//! Warm start of a cluster's accuracy surrogate from other clusters' models.
//!
//! Accuracy depends on the knobs and on the query's data, not on placement, so clusters of
//! one application that differ in their data (another stratum, another camera) have related
//! accuracy surfaces: the same knobs help, by different amounts, from a different level. A
//! new cluster therefore starts from up to [`MAX_HISTORY`] fitted models of other clusters
//! ("history models") instead of from nothing:
//!
//! - **Similarity.** Each history model gets an offset (the mean of the new cluster's samples
//!   minus its predictions) and a weight ∝ the likelihood of the new samples under it with
//!   leave-one-out offsets: models that agree with the first samples dominate.
//! - **Prior.** The weighted mixture of the offset history models is the prior mean; a
//!   Gaussian process on the residuals (from three samples on) corrects it where the new
//!   data disagree.
//! - **Switch.** From [`MIN_FOR_SWITCH`] samples on, the cluster's own plain model and the warm
//!   model are compared by leave-one-out error on the cluster's samples; the own model takes
//!   over as soon as its error is the smaller.
//!
//! Before the first sample nothing says how similar the histories are: the prior is their
//! plain mixture with its standard deviation widened by their signal scale, enough to rank
//! configurations but not to declare any feasible.

use ndarray::{Array1, Array2};

use super::bo::fit;
use super::encoding::{encode, Encoding};
use super::gp::Gp;
use crate::model::{AppModel, Config};

/// History models used at most (the paper's default).
pub const MAX_HISTORY: usize = 10;

/// Own samples needed before the own model may replace the warm one.
pub const MIN_FOR_SWITCH: usize = 4;

/// Own samples from which a cluster's model counts as mature: the online planner stops
/// fitting history models for it (they would cost a fit each and no longer be used).
pub const MATURE: usize = 8;

/// Samples a history model needs.
pub const MIN_FOR_HISTORY: usize = 2;

/// A history model from another cluster's accuracy samples of `app`'s configurations
/// (encoded one-hot, as the search's accuracy surrogate is). `None` with fewer than
/// [`MIN_FOR_HISTORY`] samples.
pub fn history_model(app: &AppModel, samples: &[(Config, f64)], seed: u64) -> Option<Gp> {
    if samples.len() < MIN_FOR_HISTORY {
        return None;
    }
    let xs: Vec<Array1<f64>> = samples
        .iter()
        .map(|(c, _)| encode(app, c, Encoding::OneHot))
        .collect();
    let ys: Vec<f64> = samples.iter().map(|s| s.1).collect();
    fit(&xs, &ys, seed)
}

/// Samples needed before a residual model is fitted on top of the prior.
const MIN_FOR_RESIDUAL: usize = 3;

/// A cluster's accuracy surrogate built from history models and its own samples.
#[derive(Debug, Clone)]
pub struct WarmModel {
    history: Vec<Gp>,
    /// Per history model: offset and weight (weights sum to 1).
    offsets: Vec<f64>,
    weights: Vec<f64>,
    /// Variance of the offsets' estimate (added to the prior's variance).
    offset_var: f64,
    residual: Option<Gp>,
    own: Option<Gp>,
    use_own: bool,
    /// Leave-one-out mean squared errors (warm, own) when compared.
    pub cv: Option<(f64, f64)>,
}

impl WarmModel {
    /// Fit from `history` (the first [`MAX_HISTORY`] are used) and the cluster's own samples
    /// (`xs`, `ys`, encoded as the history models were); `own` is the plain model the caller
    /// already fitted on them. `None` when there is no history.
    pub fn fit(
        history: &[Gp],
        own: Option<&Gp>,
        xs: &[Array1<f64>],
        ys: &[f64],
        seed: u64,
    ) -> Option<WarmModel> {
        let history: Vec<Gp> = history.iter().take(MAX_HISTORY).cloned().collect();
        if history.is_empty() {
            return None;
        }
        let n = xs.len().min(ys.len());
        // Predictions of every history model at the own samples.
        let at: Vec<Vec<(f64, f64)>> = history
            .iter()
            .map(|h| xs[..n].iter().map(|x| h.predict(x.view())).collect())
            .collect();
        let all: Vec<usize> = (0..n).collect();
        let (offsets, weights, mut offset_var) = similarity(&at, ys, &all);
        if n == 0 {
            offset_var = history
                .iter()
                .map(|h| h.hyper().log_signal_var.exp())
                .sum::<f64>()
                / history.len() as f64;
        }
        let mut model = WarmModel {
            history,
            offsets,
            weights,
            offset_var,
            residual: None,
            own: None,
            use_own: false,
            cv: None,
        };
        if n >= MIN_FOR_RESIDUAL {
            let r: Vec<f64> = (0..n).map(|i| ys[i] - model.prior_at(&at, i).0).collect();
            model.residual = fit(&xs[..n], &r, seed);
        }
        if n >= MIN_FOR_SWITCH {
            model.own = own.cloned();
            if let (Some(own), Some(res)) = (&model.own, &model.residual) {
                let warm_err = loo_warm(&at, xs, ys, res);
                let own_err = loo_plain(xs, ys, own);
                model.cv = Some((warm_err, own_err));
                model.use_own = own_err < warm_err;
            }
        }
        Some(model)
    }

    /// Whether the cluster's own model has taken over.
    pub fn switched(&self) -> bool {
        self.use_own
    }

    /// The weights of the history models (summing to 1), in the order given.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Predictive mean and variance of accuracy at `x`.
    pub fn predict(&self, x: ndarray::ArrayView1<f64>) -> (f64, f64) {
        if self.use_own {
            if let Some(own) = &self.own {
                return own.predict(x);
            }
        }
        let preds: Vec<(f64, f64)> = self.history.iter().map(|h| h.predict(x)).collect();
        let (mean, var) = mixture(&preds, &self.offsets, &self.weights);
        match &self.residual {
            Some(r) => {
                let (rm, rv) = r.predict(x);
                (mean + rm, rv + self.offset_var)
            }
            None => (mean, var + self.offset_var),
        }
    }

    /// The prior (mixture) at own sample `i`, from precomputed history predictions.
    fn prior_at(&self, at: &[Vec<(f64, f64)>], i: usize) -> (f64, f64) {
        let preds: Vec<(f64, f64)> = at.iter().map(|h| h[i]).collect();
        mixture(&preds, &self.offsets, &self.weights)
    }
}

/// Mean and variance of the weighted mixture of offset predictions.
fn mixture(preds: &[(f64, f64)], offsets: &[f64], weights: &[f64]) -> (f64, f64) {
    let mean: f64 = preds
        .iter()
        .zip(offsets)
        .zip(weights)
        .map(|((p, b), w)| w * (p.0 + b))
        .sum();
    let var: f64 = preds
        .iter()
        .zip(offsets)
        .zip(weights)
        .map(|((p, b), w)| w * (p.1 + (p.0 + b - mean).powi(2)))
        .sum();
    (mean, var)
}

/// Offsets, weights and the offsets' variance of the history models, judged on the own
/// samples `use_`. Offsets: mean residual. Weights: Gaussian likelihood of each sample with
/// the offset computed without it (so that one sample cannot agree with itself); with fewer
/// than two samples every model weighs the same.
fn similarity(at: &[Vec<(f64, f64)>], ys: &[f64], use_: &[usize]) -> (Vec<f64>, Vec<f64>, f64) {
    let m = at.len();
    let n = use_.len();
    let offsets: Vec<f64> = at
        .iter()
        .map(|h| {
            if n == 0 {
                0.0
            } else {
                use_.iter().map(|&i| ys[i] - h[i].0).sum::<f64>() / n as f64
            }
        })
        .collect();
    let mut log_lik = vec![0.0f64; m];
    let mut spread = 0.0;
    if n >= 2 {
        for (h, ll) in at.iter().zip(log_lik.iter_mut()) {
            let total: f64 = use_.iter().map(|&i| ys[i] - h[i].0).sum();
            let loo: Vec<f64> = use_
                .iter()
                .map(|&i| ys[i] - h[i].0 - (total - (ys[i] - h[i].0)) / (n - 1) as f64)
                .collect();
            let s2 = (loo.iter().map(|e| e * e).sum::<f64>() / n as f64).max(1e-6);
            *ll = loo
                .iter()
                .zip(use_)
                .map(|(e, &i)| {
                    let v = h[i].1 + s2;
                    -0.5 * (e * e / v + v.ln())
                })
                .sum();
        }
    }
    let top = log_lik.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = log_lik.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = raw.iter().sum::<f64>().max(1e-300);
    let weights: Vec<f64> = raw.iter().map(|r| r / total).collect();
    // The offset is a mean of n residuals: its variance is the residual variance over n.
    // Before any sample, the histories' own signal scale stands in for it.
    for ((h, b), w) in at.iter().zip(&offsets).zip(&weights) {
        let v = if n == 0 {
            0.0
        } else {
            use_.iter()
                .map(|&i| (ys[i] - h[i].0 - b).powi(2) + h[i].1)
                .sum::<f64>()
                / n as f64
        };
        spread += w * v;
    }
    let offset_var = if n == 0 { f64::NAN } else { spread / n as f64 };
    (offsets, weights, offset_var)
}

/// Condition on all samples but `i` with `model`'s hyperparameters.
fn without(xs: &[Array1<f64>], ys: &[f64], i: usize, model: &Gp) -> Option<Gp> {
    let keep: Vec<usize> = (0..ys.len()).filter(|&j| j != i).collect();
    let d = xs.first()?.len();
    let x = Array2::from_shape_fn((keep.len(), d), |(r, c)| xs[keep[r]][c]);
    let y = Array1::from(keep.iter().map(|&j| ys[j]).collect::<Vec<_>>());
    Gp::with_hyper(x.view(), y.view(), model.hyper().clone()).ok()
}

/// Leave-one-out mean squared error of a plain model (hyperparameters fixed).
fn loo_plain(xs: &[Array1<f64>], ys: &[f64], model: &Gp) -> f64 {
    let n = ys.len();
    (0..n)
        .map(|i| match without(xs, ys, i, model) {
            Some(g) => (ys[i] - g.predict(xs[i].view()).0).powi(2),
            None => f64::INFINITY,
        })
        .sum::<f64>()
        / n as f64
}

/// Leave-one-out mean squared error of the warm model: offsets, weights and residual model
/// all recomputed without the left-out sample.
fn loo_warm(at: &[Vec<(f64, f64)>], xs: &[Array1<f64>], ys: &[f64], residual: &Gp) -> f64 {
    let n = ys.len();
    (0..n)
        .map(|i| {
            let rest: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            let (offsets, weights, _) = similarity(at, ys, &rest);
            let prior = |j: usize| {
                let preds: Vec<(f64, f64)> = at.iter().map(|h| h[j]).collect();
                mixture(&preds, &offsets, &weights).0
            };
            let r: Vec<f64> = (0..n).map(|j| ys[j] - prior(j)).collect();
            let correction = match without(xs, &r, i, residual) {
                Some(g) => g.predict(xs[i].view()).0,
                None => 0.0,
            };
            (ys[i] - prior(i) - correction).powi(2)
        })
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-dimensional "accuracy" surface and a shifted copy.
    fn surface(x: f64) -> f64 {
        60.0 + 20.0 * x - 8.0 * x * x
    }

    fn gp_on(f: impl Fn(f64) -> f64, points: &[f64]) -> Gp {
        let x = Array2::from_shape_fn((points.len(), 1), |(i, _)| points[i]);
        let y = Array1::from(points.iter().map(|&p| f(p)).collect::<Vec<_>>());
        Gp::fit(x.view(), y.view(), 1, 0).expect("fit")
    }

    fn xs(points: &[f64]) -> Vec<Array1<f64>> {
        points.iter().map(|&p| Array1::from(vec![p])).collect()
    }

    #[test]
    fn the_model_that_agrees_with_the_first_samples_gets_the_weight() {
        let grid: Vec<f64> = (0..11).map(|i| i as f64 / 10.0).collect();
        let similar = gp_on(|x| surface(x) - 2.5, &grid);
        let unrelated = gp_on(|x| 80.0 - 25.0 * x, &grid);
        let own = [0.1, 0.5, 0.9];
        let ys: Vec<f64> = own.iter().map(|&x| surface(x) - 5.0).collect();
        let m = WarmModel::fit(&[unrelated, similar], None, &xs(&own), &ys, 0).expect("warm");
        assert!(m.weights()[1] > 0.9, "weights {:?}", m.weights());
        // Predicts the unseen point from the similar model's shape plus the offset.
        let (mean, _) = m.predict(Array1::from(vec![0.7]).view());
        assert!((mean - (surface(0.7) - 5.0)).abs() < 1.0, "mean {mean}");
    }

    #[test]
    fn the_own_model_takes_over_when_the_history_misleads() {
        let fine: Vec<f64> = (0..41).map(|i| i as f64 / 40.0).collect();
        let misleading = gp_on(|x| 70.0 + 15.0 * (12.0 * x).sin(), &fine);
        let own: Vec<f64> = (0..8).map(|i| i as f64 / 7.0).collect();
        let ys: Vec<f64> = own.iter().map(|&x| surface(x)).collect();
        let plain = fit(&xs(&own), &ys, 0);
        let m = WarmModel::fit(&[misleading], plain.as_ref(), &xs(&own), &ys, 0).expect("warm");
        let (warm, plain) = m.cv.expect("compared");
        assert!(m.switched(), "warm error {warm}, own error {plain}");
    }

    #[test]
    fn before_any_sample_the_prior_is_the_history_widened() {
        let grid: Vec<f64> = (0..11).map(|i| i as f64 / 10.0).collect();
        let h = gp_on(surface, &grid);
        let m = WarmModel::fit(std::slice::from_ref(&h), None, &[], &[], 0).expect("warm");
        let x = Array1::from(vec![0.3]);
        let (mean, var) = m.predict(x.view());
        assert!((mean - h.predict(x.view()).0).abs() < 1e-9);
        assert!(var.is_finite() && var > h.predict(x.view()).1, "var {var}");
    }

    #[test]
    fn no_history_no_warm_model() {
        assert!(WarmModel::fit(&[], None, &xs(&[0.5]), &[1.0], 0).is_none());
    }
}
