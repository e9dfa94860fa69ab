//! The early stop's wrong-decision rate stays within its nominal α, over many synthetic
//! trials with the truth just beside the threshold, on both sides.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::*;

/// Two strata (60% with mean μ+0.1, sd 0.1; 40% with mean μ−0.15, sd 0.3): true mean μ.
fn run(mu: f64, threshold: f64, seed: u64, incumbent: Option<f64>) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = Normal::new(mu + 0.1, 0.1).expect("normal");
    let b = Normal::new(mu - 0.15, 0.3).expect("normal");
    let est = Stratified::new(&[("a", 0.6), ("b", 0.4)]).expect("strata");
    let test = Test {
        threshold,
        higher_is_better: true,
        alpha: 0.05,
        max_looks: 20,
        incumbent,
    };
    profile(est, &test, 8, 160, |s| {
        if s == "a" {
            a.sample(&mut rng)
        } else {
            b.sample(&mut rng)
        }
    })
}

#[test]
fn wrong_decisions_stay_within_alpha() {
    let trials = 2_000;
    for gap in [0.01, 0.03, 0.06] {
        for (mu, threshold) in [(0.7 + gap, 0.7), (0.7 - gap, 0.7)] {
            let truth_meets = mu >= threshold;
            let (mut wrong, mut decided, mut samples) = (0, 0, 0u64);
            for seed in 0..trials {
                let o = run(mu, threshold, seed, None);
                samples += o.samples;
                match o.verdict {
                    Verdict::Meets => {
                        decided += 1;
                        wrong += usize::from(!truth_meets);
                    }
                    Verdict::Fails => {
                        decided += 1;
                        wrong += usize::from(truth_meets);
                    }
                    _ => {}
                }
            }
            let rate = wrong as f64 / trials as f64;
            eprintln!(
                "gap {gap}: truth {} — wrong {wrong}/{trials} ({rate:.4}), decided {decided}, mean samples {:.1} of 160",
                if truth_meets { "meets" } else { "fails" },
                samples as f64 / trials as f64
            );
            assert!(rate <= 0.05, "wrong-decision rate {rate} above α = 0.05");
        }
    }
}

#[test]
fn clear_cases_stop_early_and_dominated_plans_are_dropped() {
    let o = run(0.9, 0.7, 1, None);
    assert_eq!(o.verdict, Verdict::Meets);
    assert!(
        o.samples <= 24,
        "a clear case needs few inputs: {}",
        o.samples
    );
    let o = run(0.5, 0.7, 2, None);
    assert_eq!(o.verdict, Verdict::Fails);
    let o = run(0.75, 0.3, 3, Some(0.95));
    assert_eq!(o.verdict, Verdict::Dominated);
}

#[test]
fn error_metrics_decide_in_the_other_direction() {
    let mut est = Stratified::new(&[("x", 1.0)]).expect("strata");
    for v in [0.05, 0.06, 0.04, 0.05, 0.055, 0.045] {
        est.add("x", v).expect("add");
    }
    let wer = Test {
        threshold: 0.1,
        higher_is_better: false,
        alpha: 0.05,
        max_looks: 1,
        incumbent: None,
    };
    assert_eq!(wer.look(&est), Verdict::Meets);
    let strict = Test {
        threshold: 0.02,
        ..wer
    };
    assert_eq!(strict.look(&est), Verdict::Fails);
}
