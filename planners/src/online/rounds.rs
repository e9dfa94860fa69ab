//! Precision-aware profiling online: another round of inputs for a configuration the search
//! would hand out while its accuracy interval still straddles the cluster's threshold.
//!
//! Why: among many configurations measured on a few inputs each, the one that reads just
//! above the threshold is more often lucky than good (the winner's curse; BENCHMARKS.md,
//! tenth session: every miss of the search test was such a pick). The sequential test of
//! [`compass_profilers::decision`] tells the two apart; online its looks are rounds of
//! profile requests, each round a request of its own (its own id, hence its own inputs)
//! whose samples add to the configuration's statistics.
//!
//! The search stays a function of its inputs: the round to ask for follows from the number
//! of samples measured, so a replay asks for the same rounds, and the searches of one
//! application that share statistics ask for the same round (the dataflow keeps one).

use compass_profilers::decision::{Test, Verdict};
use compass_profilers::stratified::{Running, Stratified};

use super::stats::Moments;
use crate::model::AccuracyBound;

/// How many rounds, of how many inputs, at what error rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rounds {
    /// Most rounds per configuration and stratum, the first included.
    pub max_rounds: u64,
    /// Probability of a wrong meets/fails verdict over all rounds (split across them).
    pub alpha: f64,
}

impl Default for Rounds {
    fn default() -> Self {
        Rounds {
            max_rounds: 2,
            alpha: 0.2,
        }
    }
}

/// The round to ask for next (1 for the second) for a configuration whose accuracy on the
/// cluster's stratum is `m`, measured `inputs` inputs per request
/// ([`super::search::OnlineSettings::profile_inputs`]), or `None`: the test has decided, the
/// rounds are spent, or the last round is still arriving (its samples do not make a whole
/// round yet).
pub fn next_round(m: &Moments, bound: &AccuracyBound, rounds: &Rounds, inputs: u64) -> Option<u32> {
    let inputs = inputs.max(1);
    if m.n == 0 || !m.n.is_multiple_of(inputs) {
        return None;
    }
    let done = m.n / inputs;
    if done >= rounds.max_rounds {
        return None;
    }
    let test = Test {
        threshold: bound.threshold,
        higher_is_better: bound.higher_is_better,
        alpha: rounds.alpha,
        max_looks: usize::try_from(rounds.max_rounds).unwrap_or(usize::MAX),
        incumbent: None,
    };
    let est = Stratified::single("", Running::from_moments(m.n, m.mean.0, m.m2.0));
    (test.look(&est) == Verdict::Undecided).then(|| u32::try_from(done).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> Moments {
        let mut m = Moments::default();
        for &x in xs {
            m.push(x);
        }
        m
    }

    const AT_LEAST_75: AccuracyBound = AccuracyBound {
        threshold: 75.0,
        higher_is_better: true,
    };

    const THREE: Rounds = Rounds {
        max_rounds: 3,
        alpha: 0.1,
    };

    #[test]
    fn a_mean_near_the_threshold_asks_for_the_next_round() {
        // Mean 75.5, sd ~2.6 over four inputs: the interval straddles 75.
        let m = moments(&[72.0, 78.0, 74.0, 78.0]);
        assert_eq!(next_round(&m, &AT_LEAST_75, &THREE, 4), Some(1));
        let m = moments(&[72.0, 78.0, 74.0, 78.0, 73.0, 77.0, 76.0, 75.0]);
        assert_eq!(next_round(&m, &AT_LEAST_75, &THREE, 4), Some(2));
    }

    #[test]
    fn a_clear_verdict_a_spent_budget_or_a_round_in_flight_asks_nothing() {
        // Far above, and far below (an error metric where lower is better reads the same).
        let high = moments(&[90.0, 91.0, 89.0, 90.0]);
        assert_eq!(next_round(&high, &AT_LEAST_75, &THREE, 4), None);
        let at_most_75 = AccuracyBound {
            threshold: 75.0,
            higher_is_better: false,
        };
        assert_eq!(next_round(&high, &at_most_75, &THREE, 4), None);
        // Undecided, but three rounds of four are all there is.
        let close: Vec<f64> = [72.0, 78.0, 74.0, 78.0].repeat(3);
        assert_eq!(next_round(&moments(&close), &AT_LEAST_75, &THREE, 4), None);
        // Undecided, but only half of round two has arrived.
        let half = moments(&[72.0, 78.0, 74.0, 78.0, 73.0, 77.0]);
        assert_eq!(next_round(&half, &AT_LEAST_75, &THREE, 4), None);
        assert_eq!(
            next_round(&Moments::default(), &AT_LEAST_75, &THREE, 4),
            None
        );
    }
}
