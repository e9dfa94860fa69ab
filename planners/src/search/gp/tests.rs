//! The GP on functions with known answers.

use ndarray::{array, Array1, Array2};

use super::*;

fn grid(n: usize) -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64 / (n - 1) as f64);
    let y = x.column(0).mapv(|v| (6.0 * v).sin());
    (x, y)
}

#[test]
fn it_fits_a_smooth_function_and_predicts_between_samples() {
    let (x, y) = grid(12);
    let gp = Gp::fit(x.view(), y.view(), 2, 1).expect("fit");
    for t in [0.05, 0.33, 0.71, 0.95] {
        let (m, v) = gp.predict(array![t].view());
        assert!((m - (6.0f64 * t).sin()).abs() < 0.05, "f({t}) = {m}");
        assert!(v < 0.01, "var {v} at {t}");
    }
    // Far from the data the belief returns to the prior: large variance.
    let (_, v) = gp.predict(array![3.0].view());
    assert!(v > 0.1, "{v}");
}

#[test]
fn adding_a_sample_equals_refitting_with_the_same_hyperparameters() {
    let (x, y) = grid(10);
    let gp = Gp::fit(x.view(), y.view(), 0, 2).expect("fit");
    let mut grown = Gp::with_hyper(
        x.slice(ndarray::s![..9, ..]),
        y.slice(ndarray::s![..9]),
        gp.hyper().clone(),
    )
    .expect("gp");
    // Same centring as the full model, so the two must agree exactly.
    grown.y_mean = gp.y_mean;
    grown.y = y.iter().take(9).map(|v| v - gp.y_mean).collect();
    grown.alpha = grown.solve(&grown.y);
    grown.w = forward(&grown.chol, 9, &grown.y);
    grown.add(x.row(9), y[9]).expect("add");
    for t in [0.1, 0.5, 0.77] {
        let a = gp.predict(array![t].view());
        let b = grown.predict(array![t].view());
        assert!(
            (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
            "{a:?} vs {b:?}"
        );
    }
    assert!((gp.log_marginal_likelihood() - grown.log_marginal_likelihood()).abs() < 1e-7);
}

#[test]
fn an_irrelevant_dimension_gets_a_long_length_scale() {
    // y depends on x0 only.
    let n = 30;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        if j == 0 {
            (i % 10) as f64 / 9.0
        } else {
            ((i * 7) % 11) as f64 / 10.0
        }
    });
    let y = x.column(0).mapv(|v| (4.0 * v).cos());
    let gp = Gp::fit(x.view(), y.view(), 2, 3).expect("fit");
    let ls = &gp.hyper().log_lengthscale;
    assert!(ls[1] > ls[0] + 1.0, "length-scales {ls:?}");
}

#[test]
fn bad_input_is_an_error() {
    let x = Array2::<f64>::zeros((0, 2));
    assert_eq!(
        Gp::fit(x.view(), Array1::zeros(0).view(), 0, 0).err(),
        Some(GpError::Empty)
    );
    let x = Array2::<f64>::zeros((2, 2));
    assert_eq!(
        Gp::fit(x.view(), array![1.0].view(), 0, 0).err(),
        Some(GpError::Mismatch { x: 2, y: 1 })
    );
    assert_eq!(
        Gp::fit(x.view(), array![1.0, f64::NAN].view(), 0, 0).err(),
        Some(GpError::NotFinite)
    );
}

#[test]
fn the_candidate_cache_agrees_with_direct_prediction_across_updates() {
    let (x, y) = grid(10);
    let mut gp = Gp::fit(
        x.slice(ndarray::s![..6, ..]),
        y.slice(ndarray::s![..6]),
        1,
        4,
    )
    .expect("fit");
    let cands = Array2::from_shape_fn((25, 1), |(i, _)| i as f64 / 24.0 * 1.2 - 0.1);
    let mut cache = gp.cache(cands.view());
    for i in 6..10 {
        gp.add(x.row(i), y[i]).expect("add");
        cache.update(&gp);
        for j in 0..cands.nrows() {
            let (m1, v1) = gp.predict(cands.row(j));
            let (m2, v2) = cache.mean_var(&gp, j);
            assert!(
                (m1 - m2).abs() < 1e-9 && (v1 - v2).abs() < 1e-9,
                "candidate {j} after {i}: {m1},{v1} vs {m2},{v2}"
            );
        }
    }
}

#[test]
fn a_known_noise_keeps_the_posterior_from_collapsing_onto_one_noisy_point() {
    // Three observations of a constant, one of them far off with a known variance of 4: the
    // posterior there must stay wide (at least the variance of the other information) and
    // the mean must not follow the outlier all the way.
    let x = array![[0.0], [0.5], [1.0]];
    let y = array![70.0, 78.0, 70.0];
    let blind = Gp::fit(x.view(), y.view(), 2, 1).expect("fit");
    let noisy = Gp::fit_noisy(x.view(), y.view(), &[0.0, 4.0, 0.0], 2, 1).expect("fit");
    let (mb, vb) = blind.predict(array![0.5].view());
    let (mn, vn) = noisy.predict(array![0.5].view());
    assert!(vn > vb, "known noise widens the belief: {vn} vs {vb}");
    assert!(mn < mb, "and pulls it less: {mn} vs {mb}");
    // Adding an observation with its noise equals fitting with it, hyperparameters held.
    let mut grown = Gp::condition(
        vec![0.0, 0.5],
        vec![70.0, 78.0],
        vec![0.0, 4.0],
        1,
        noisy.y_mean,
        noisy.hyper().clone(),
    )
    .expect("gp");
    grown.add_noisy(x.row(2), y[2], 0.0).expect("add");
    let (a, b) = (
        noisy.predict(array![0.3].view()),
        grown.predict(array![0.3].view()),
    );
    assert!(
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
        "{a:?} vs {b:?}"
    );
    assert_eq!(
        Gp::fit_noisy(x.view(), y.view(), &[0.0, -1.0, 0.0], 0, 0).err(),
        Some(GpError::BadNoise)
    );
}
