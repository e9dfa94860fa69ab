//! Composed latency against a plain GP, on the testbed (the paper's contrast).
//!
//!     cargo run --release -p compass-testbed --example composed_latency
//!
//! Application: visual tracking (capture → detect → track), 20 configurations, the detector
//! and tracker placed on the user's laptop, an edge-server A10 or a cloud A100 (data only
//! flowing upward): 120 plans, of which those whose queues keep up with 10 fps are used.
//! From N randomly chosen plans, both models get the same profiling runs:
//! - **composed**: each run measures every operator on the hardware it ran on; one GP per
//!   operator learns its latency in reference-GPU units (measured × the class's speed) from
//!   the whole configuration (an upstream knob can change an operator's work), and
//!   the performance model composes them with the transfer and queueing formulas, so one
//!   measurement informs every placement;
//! - **plain**: one GP over (configuration, placement) one-hot features learns log
//!   end-to-end latency from the same runs.
//!
//! Both predict every plan; the error is against the noise-free ground truth.

use compass_planners::model::{
    enumerate_plans, perf, AppModel, Config, Device, OperatorModel, Plan, Query, SloTargets,
};
use compass_planners::search::encoding::{encode, Encoding};
use compass_planners::search::gp::Gp;
use compass_schemas::{ProfileRequest, StratumQuota, Tier};
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::World;
use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Per-operator GPs predicting log reference latency from the operator's own knobs.
struct Composed {
    per_op: Vec<Option<(Gp, usize)>>,
    fallback: Vec<f64>,
}

impl OperatorModel for Composed {
    fn reference_ms(&self, app: &AppModel, op: usize, config: &Config) -> f64 {
        match &self.per_op[op] {
            Some((gp, _)) => {
                let x = op_features(app, config, op);
                gp.predict(x.view()).0.exp()
            }
            None => self.fallback[op],
        }
    }
    fn accuracy(&self, _: &AppModel, _: &Config, _: &str) -> f64 {
        0.0
    }
}

/// An operator's latency can depend on knobs of other operators (the capture resolution
/// scales the detector), so each operator's surrogate sees the whole configuration.
fn op_features(app: &AppModel, config: &Config, _op: usize) -> Array1<f64> {
    encode(app, config, Encoding::Ordinal)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tables = Tables::builtin()?;
    let spec = catalog::builtin()?
        .into_iter()
        .find(|a| a.app_id == "visual-tracking")
        .ok_or("no app")?;
    let mut truth = GroundTruth::new(spec)?;
    truth.spec.noise.latency_cv = 0.0;
    let devices = fleet::generate(&FleetSpec::sized(200, 1), &tables)?;
    let laptop = devices
        .iter()
        .position(|d| d.hardware_class == "laptop-snapdragon-x-elite" && d.link.uplink_mbps > 20.0)
        .ok_or("laptop")?;
    let es = devices
        .iter()
        .position(|d| d.tier == Tier::EdgeServer)
        .ok_or("edge server")?;
    let cloud = devices
        .iter()
        .position(|d| d.hardware_class == "a100-80gb")
        .ok_or("a100")?;
    let app = truth.model.clone();
    let query = Query {
        id: "q".into(),
        app_id: app.id().into(),
        source_device_id: devices[laptop].id.clone(),
        rate_per_s: 10.0,
        weight: 1.0,
        slo: SloTargets {
            latency_ms: 1e9,
            latency_percentile: 95.0,
            accuracy: None,
            max_cost_usd_per_hour: None,
        },
        stratum: "sparse".into(),
    };
    // Every plan: 20 configurations x (detect, track) placements with data flowing upward.
    let places = [laptop, es, cloud];
    // Every plan: each configuration with the detector and tracker on any of the three
    // devices, data flowing upward.
    let plans = enumerate_plans(&app, &devices, &places, 0.5)?;
    // Plans whose queue cannot keep up have infinite latency: leave them out.
    let mut truth_ms = Vec::new();
    let mut stable = Vec::new();
    for p in plans {
        let ms = perf::estimate(&truth, &app, &p, &query, &devices)?.latency_ms;
        if ms.is_finite() {
            truth_ms.push(ms);
            stable.push(p);
        }
    }
    let plans = stable;
    println!(
        "{} stable plans (of {} configurations x 6 placements)\n",
        plans.len(),
        app.space_size()
    );

    // Profiling runs keep the testbed's 15% per-input noise.
    let mut noisy = truth.clone();
    noisy.spec.noise.latency_cv = 0.15;
    let mut world = World::new(vec![noisy], devices.clone(), tables.clone(), 9);
    let class_speed = |d: &Device| tables.classes[&d.hardware_class].speed;

    println!("| profiled plans | composed: median / p90 relative error | plain GP: median / p90 relative error |");
    println!("|---|---|---|");
    for n in [5usize, 10, 20, 40] {
        let mut errs_c = Vec::new();
        let mut errs_p = Vec::new();
        for seed in 0..5u64 {
            let mut order: Vec<usize> = (0..plans.len()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed * 100 + n as u64));
            let train = &order[..n];
            // One profiling run per training plan: every operator measured where it runs.
            let mut per_op: Vec<(Vec<Array1<f64>>, Vec<f64>)> =
                vec![(Vec::new(), Vec::new()); app.operator_count()];
            let mut plain_x = Vec::new();
            let mut plain_y = Vec::new();
            for &pi in train {
                let plan = &plans[pi];
                let mut end_to_end = 0.0;
                for op in 0..app.operator_count() {
                    let dev = &devices[plan.placements[op].device];
                    let req = ProfileRequest {
                        request_id: format!("r{pi}-{op}"),
                        app_id: app.id().into(),
                        hardware_class: dev.hardware_class.clone(),
                        operators: app.operator_choices(&plan.config, op + 1),
                        quotas: vec![StratumQuota {
                            stratum: "sparse".into(),
                            inputs: 1,
                        }],
                        decision_epoch: 0,
                        reason: String::new(),
                        event_time_ms: 0,
                    };
                    let sample = world.answer(&req, 0)?;
                    let measured = sample[0].operators[op].latency_ms;
                    per_op[op].0.push(op_features(&app, &plan.config, op));
                    per_op[op].1.push((measured * class_speed(dev)).ln());
                    end_to_end += measured;
                }
                // The plain model sees the run's end-to-end latency: the measured compute plus
                // the network and queueing the plan met.
                let truth_est = perf::estimate(&truth, &app, plan, &query, &devices)?;
                let compute_truth: f64 = (0..app.operator_count())
                    .map(|op| {
                        truth.reference_ms(&app, op, &plan.config)
                            / devices[plan.placements[op].device].speed
                    })
                    .sum();
                plain_x.push(plain_features(&app, plan, &places));
                plain_y.push((truth_est.latency_ms - compute_truth + end_to_end).ln());
            }
            let composed = Composed {
                per_op: per_op
                    .iter()
                    .map(|(xs, ys)| {
                        let d = xs[0].len();
                        if d == 0 {
                            return None;
                        }
                        let x = Array2::from_shape_fn((xs.len(), d), |(i, j)| xs[i][j]);
                        Gp::fit(x.view(), Array1::from(ys.clone()).view(), 2, seed)
                            .ok()
                            .map(|g| (g, d))
                    })
                    .collect(),
                fallback: per_op
                    .iter()
                    .map(|(_, ys)| (ys.iter().sum::<f64>() / ys.len().max(1) as f64).exp())
                    .collect(),
            };
            let px =
                Array2::from_shape_fn((plain_x.len(), plain_x[0].len()), |(i, j)| plain_x[i][j]);
            let plain = Gp::fit(px.view(), Array1::from(plain_y).view(), 2, seed)?;
            for (pi, plan) in plans.iter().enumerate() {
                let c = perf::estimate(&composed, &app, plan, &query, &devices)?.latency_ms;
                let p = plain
                    .predict(plain_features(&app, plan, &places).view())
                    .0
                    .exp();
                errs_c.push((c - truth_ms[pi]).abs() / truth_ms[pi]);
                errs_p.push((p - truth_ms[pi]).abs() / truth_ms[pi]);
            }
        }
        let q = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * p) as usize]
        };
        println!(
            "| {n} | {:.1}% / {:.1}% | {:.1}% / {:.1}% |",
            100.0 * q(&mut errs_c, 0.5),
            100.0 * q(&mut errs_c, 0.9),
            100.0 * q(&mut errs_p, 0.5),
            100.0 * q(&mut errs_p, 0.9)
        );
    }
    Ok(())
}

fn plain_features(app: &AppModel, plan: &Plan, places: &[usize]) -> Array1<f64> {
    let mut f = encode(app, &plan.config, Encoding::OneHot).to_vec();
    for p in &plan.placements[1..] {
        f.extend(
            places
                .iter()
                .map(|&d| if d == p.device { 1.0 } else { 0.0 }),
        );
    }
    Array1::from(f)
}
