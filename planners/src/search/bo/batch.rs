//! Batches of profile requests: several configurations proposed at once, so that the
//! workers profile them in parallel and a search takes fewer rounds.

use super::Search;
use crate::model::Config;
use crate::search::encoding::{encode, Encoding};

impl Search<'_> {
    /// The next batch of up to `k` distinct configurations to profile at once (profile
    /// requests go out together and run in parallel on the workers).
    ///
    /// Why a "believer" batch: taking the top `k` of one acquisition would spend the batch
    /// on near-copies of one configuration. Instead each pick is pretended measured at its
    /// predicted mean (hyperparameters held, one rank-one update per surrogate), which
    /// shrinks the uncertainty around it without moving the means, and the next pick is
    /// made under that belief. The pretence is undone before returning, so
    /// `ask_batch(1)` is exactly [`Search::ask`]. Fewer than `k` come back when the search
    /// is done sooner.
    pub fn ask_batch(&mut self, k: usize) -> Vec<Config> {
        let saved = (self.op_models.clone(), self.acc_model.clone());
        let mut batch: Vec<Config> = Vec::new();
        let mut pretended: Vec<u128> = Vec::new();
        // Pretended profiles are as noisy as a typical real one of this search.
        let noise = typical(&self.acc_known);
        while batch.len() < k {
            let Some(config) = self.ask() else { break };
            let Ok(index) = self.app.index_of(&config) else {
                break;
            };
            if batch.len() + 1 < k {
                self.believe(&config, noise);
            }
            // Counted as profiled while the batch is built: no repeats, and the budget
            // covers the whole batch.
            self.profiled.insert(index);
            pretended.push(index);
            batch.push(config);
        }
        for index in pretended {
            self.profiled.remove(&index);
        }
        (self.op_models, self.acc_model) = saved;
        batch
    }

    /// Pretend `config` was measured at the surrogates' predicted means, its accuracy with
    /// known noise variance `noise`.
    fn believe(&mut self, config: &Config, noise: f64) {
        let xo = encode(self.app, config, Encoding::Ordinal);
        for g in self.op_models.iter_mut().flatten() {
            let (mean, _) = g.predict(xo.view());
            // A failed update (a near-duplicate point) leaves that surrogate as it was.
            let _ = g.add(xo.view(), mean);
        }
        // With a warm start the history model speaks for accuracy; its own surrogate is
        // refitted from real samples only, so the pretence touches the latencies alone.
        if self.warm.is_none() {
            if let Some(g) = self.acc_model.as_mut() {
                let xa = encode(self.app, config, Encoding::OneHot);
                let (mean, _) = g.predict(xa.view());
                let _ = g.add_noisy(xa.view(), mean, noise);
            }
        }
    }
}

/// The median of the known noise variances (0 without any).
fn typical(known: &[f64]) -> f64 {
    let mut v: Vec<f64> = known.to_vec();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
