//! The constrained acquisition: expected improvement in cost, times the probability that
//! latency meets its bound, times the probability that accuracy meets its bound. A plan the
//! surrogates believe cheap but probably infeasible scores low; so does a feasible plan that
//! cannot beat the incumbent.

/// Standard normal density.
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal CDF, from the complementary error function (Numerical Recipes' Chebyshev
/// fit of erfc, fractional error below 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Expected improvement below `best` of a normal belief (mean, standard deviation): the
/// quantity to maximize when minimizing.
pub fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    if sd <= 0.0 {
        return (best - mean).max(0.0);
    }
    let z = (best - mean) / sd;
    (best - mean) * normal_cdf(z) + sd * normal_pdf(z)
}

/// P(value ≤ bound) under a normal belief.
pub fn prob_at_most(mean: f64, sd: f64, bound: f64) -> f64 {
    if sd <= 0.0 {
        return if mean <= bound { 1.0 } else { 0.0 };
    }
    normal_cdf((bound - mean) / sd)
}

/// P(latency meets its bound) × P(accuracy meets its bound) of a predicted plan, for `slo`:
/// latency log-normal (median `latency_ms`, `latency_log_sd` in log space), accuracy normal;
/// an accuracy with no model yet (NaN) counts as a coin flip. The cost SLO is left to the
/// caller: a plan's cost is known exactly.
pub fn p_latency_accuracy(
    slo: &crate::model::SloTargets,
    latency_ms: f64,
    latency_log_sd: f64,
    accuracy: f64,
    accuracy_sd: f64,
) -> f64 {
    let p_lat = if latency_ms.is_finite() && latency_ms > 0.0 {
        normal_cdf((slo.latency_ms.ln() - latency_ms.ln()) / latency_log_sd.max(1e-6))
    } else {
        0.0
    };
    p_lat * p_accuracy(slo, accuracy, accuracy_sd)
}

/// P(accuracy meets its bound) under a normal belief (1 without an accuracy SLO; a coin flip
/// without a model yet).
pub fn p_accuracy(slo: &crate::model::SloTargets, accuracy: f64, accuracy_sd: f64) -> f64 {
    match slo.accuracy {
        None => 1.0,
        Some(_) if accuracy.is_nan() => 0.5,
        Some(b) if b.higher_is_better => 1.0 - prob_at_most(accuracy, accuracy_sd, b.threshold),
        Some(b) => prob_at_most(accuracy, accuracy_sd, b.threshold),
    }
}

/// A normal belief about one metric of one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Belief {
    pub mean: f64,
    pub sd: f64,
}

/// The constraints a candidate must meet, in the surrogates' (transformed) units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    pub latency_at_most: f64,
    /// Accuracy bound and its direction; `None` when the query has no accuracy SLO.
    pub accuracy: Option<(f64, bool)>,
}

/// P(latency ok) × P(accuracy ok).
pub fn feasibility(latency: Belief, accuracy: Belief, c: &Constraints) -> f64 {
    let pl = prob_at_most(latency.mean, latency.sd, c.latency_at_most);
    let pa = match c.accuracy {
        None => 1.0,
        Some((bound, true)) => 1.0 - prob_at_most(accuracy.mean, accuracy.sd, bound),
        Some((bound, false)) => prob_at_most(accuracy.mean, accuracy.sd, bound),
    };
    pl * pa
}

/// EI(cost) × P(feasible). Without a feasible incumbent yet (`best_cost` = None) the search
/// looks for feasibility first: the score is P(feasible) alone.
pub fn constrained_ei(
    cost: Belief,
    latency: Belief,
    accuracy: Belief,
    best_cost: Option<f64>,
    c: &Constraints,
) -> f64 {
    let pf = feasibility(latency, accuracy, c);
    match best_cost {
        Some(best) => expected_improvement(cost.mean, cost.sd, best) * pf,
        None => pf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_cdf_matches_tabulated_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (2.5, 0.993_790_335),
            (-4.0, 3.167_124e-5),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 2e-7,
                "Φ({z}) = {} vs {p}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn expected_improvement_is_nonnegative_and_grows_with_uncertainty() {
        assert!((expected_improvement(5.0, 0.0, 3.0)).abs() < 1e-12);
        assert!((expected_improvement(1.0, 0.0, 3.0) - 2.0).abs() < 1e-12);
        let narrow = expected_improvement(4.0, 0.5, 3.0);
        let wide = expected_improvement(4.0, 2.0, 3.0);
        assert!(narrow >= 0.0 && wide > narrow);
    }

    #[test]
    fn infeasible_beliefs_score_low() {
        let c = Constraints {
            latency_at_most: 100.0,
            accuracy: Some((0.8, true)),
        };
        let cheap_but_slow = constrained_ei(
            Belief { mean: 1.0, sd: 0.1 },
            Belief {
                mean: 300.0,
                sd: 10.0,
            },
            Belief {
                mean: 0.9,
                sd: 0.01,
            },
            Some(2.0),
            &c,
        );
        let fine = constrained_ei(
            Belief { mean: 1.5, sd: 0.1 },
            Belief {
                mean: 50.0,
                sd: 10.0,
            },
            Belief {
                mean: 0.9,
                sd: 0.01,
            },
            Some(2.0),
            &c,
        );
        assert!(fine > 100.0 * cheap_but_slow);
        let wer = Constraints {
            latency_at_most: 100.0,
            accuracy: Some((0.1, false)),
        };
        assert!(
            feasibility(
                Belief {
                    mean: 50.0,
                    sd: 1.0
                },
                Belief {
                    mean: 0.05,
                    sd: 0.01
                },
                &wer
            ) > 0.99
        );
    }
}
