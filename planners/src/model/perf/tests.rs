//! The formulas pinned on hand-computed cases.

use compass_schemas::{Application, Knob, KnobChoice, Limits, Operator, OperatorKind, Tier};

use super::*;
use crate::model::{AccuracyBound, Device, Link, Placement, Query, SloTargets};

fn choice(value: &str, mem: f64, out: f64) -> KnobChoice {
    KnobChoice {
        value: value.into(),
        gpu_memory_mb: mem,
        work_gflop_per_input: 0.0,
        output_bytes_per_input: out,
        api_usd_per_call: 0.0,
        gpu_memory_factor: 1.0,
    }
}

/// capture (CPU, edge only) → detect (DNN, edge server or cloud; small or large).
fn app() -> AppModel {
    let a = Application {
        app_id: "toy".into(),
        version: 1,
        description: String::new(),
        accuracy_metric: "map".into(),
        accuracy_higher_is_better: true,
        operators: vec![
            Operator {
                name: "capture".into(),
                kind: OperatorKind::Basic,
                inputs: vec![],
                allowed_tiers: vec![Tier::Edge],
                knobs: vec![Knob {
                    name: "res".into(),
                    choices: vec![choice("720p", 0.0, 100_000.0)],
                }],
            },
            Operator {
                name: "detect".into(),
                kind: OperatorKind::Dnn,
                inputs: vec!["capture".into()],
                allowed_tiers: vec![Tier::EdgeServer, Tier::Cloud],
                knobs: vec![Knob {
                    name: "model".into(),
                    choices: vec![
                        choice("small", 500.0, 1000.0),
                        choice("large", 2000.0, 1000.0),
                    ],
                }],
            },
        ],
    };
    AppModel::new(a, &Limits::default()).expect("valid")
}

struct Table;
impl OperatorModel for Table {
    fn reference_ms(&self, app: &AppModel, op: usize, config: &Config) -> f64 {
        match (op, app.op_choices(config, op)[0]) {
            (0, _) => 2.0,
            (1, 0) => 10.0,
            _ => 30.0,
        }
    }
    fn accuracy(&self, app: &AppModel, config: &Config, stratum: &str) -> f64 {
        let base = if app.op_choices(config, 1)[0] == 0 {
            0.40
        } else {
            0.50
        };
        if stratum == "crowded" {
            base - 0.1
        } else {
            base
        }
    }
}

fn device(id: &str, tier: Tier, speed: f64, gpus: u32, price: f64, mbps: f64, rtt: f64) -> Device {
    Device {
        id: id.into(),
        tier,
        hardware_class: id.into(),
        pool: String::new(),
        speed,
        gpu_count: gpus,
        gpu_memory_mb: 80_000.0,
        price_usd_per_hour: price,
        link: Link {
            uplink_mbps: mbps,
            rtt_ms: rtt,
        },
        alive: true,
    }
}

fn devices() -> Vec<Device> {
    vec![
        device("phone", Tier::Edge, 0.1, 0, 0.0, 10.0, 50.0),
        device("server", Tier::EdgeServer, 0.4, 1, 1.29, 20.0, 13.0),
        device("cloud", Tier::Cloud, 1.0, 8, 27.44, 1000.0, 20.0),
    ]
}

fn query(rate: f64) -> Query {
    Query {
        id: "q".into(),
        app_id: "toy".into(),
        source_device_id: "phone".into(),
        rate_per_s: rate,
        weight: 1.0,
        slo: SloTargets {
            latency_ms: 200.0,
            latency_percentile: 95.0,
            accuracy: Some(AccuracyBound {
                threshold: 0.45,
                higher_is_better: true,
            }),
            max_cost_usd_per_hour: Some(2.0),
        },
        stratum: "sparse".into(),
    }
}

fn plan(config: u128, detect_on: usize, share: f64) -> Plan {
    Plan {
        config: app().config(config).expect("config"),
        placements: vec![
            Placement {
                device: 0,
                gpu_share: 0.0,
            },
            Placement {
                device: detect_on,
                gpu_share: share,
            },
        ],
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn edge_to_cloud_by_hand() {
    // capture: 2 ms / 0.1 = 20 ms; rho = 0.02; mean wait 0.02*20/(2*0.98); p95 factor ln 20.
    let wait = 0.02 * 20.0 / (2.0 * 0.98) * 20f64.ln();
    // transfer: phone uplink (100 kB * 8 / 10 Mb/s = 80 ms, + 50 ms RTT), then the cloud's
    // backhaul (0.8 ms + 20 ms RTT).
    let transfer = 80.0 + 50.0 + 0.8 + 20.0;
    // detect small on half a cloud GPU: 10 ms / (1.0 * 0.5) = 20 ms, same wait.
    let e = estimate(&Table, &app(), &plan(0, 2, 0.5), &query(1.0), &devices()).expect("estimate");
    assert!(
        close(e.latency_ms, 20.0 + wait + transfer + 20.0 + wait),
        "{e:?}"
    );
    assert!(close(e.transfer_ms, transfer));
    assert!(close(e.cost_usd_per_hour, 0.5 * 27.44 / 8.0));
    assert!(close(e.accuracy, 0.40));
}

#[test]
fn edge_to_edge_server_crosses_one_link() {
    // detect large on a whole edge-server GPU: 30 / 0.4 = 75 ms; rho = 0.075 at 1/s.
    let e = estimate(&Table, &app(), &plan(1, 1, 1.0), &query(1.0), &devices()).expect("estimate");
    let w = |s: f64| {
        let rho = s / 1000.0;
        rho * s / (2.0 * (1.0 - rho)) * 20f64.ln()
    };
    let expected = (20.0 + w(20.0)) + (80.0 + 50.0) + (75.0 + w(75.0));
    assert!(
        close(e.latency_ms, expected),
        "{} vs {expected}",
        e.latency_ms
    );
    assert!(close(e.cost_usd_per_hour, 1.29));
}

#[test]
fn accuracy_depends_on_knobs_and_stratum_not_placement() {
    let on_server = estimate(&Table, &app(), &plan(1, 1, 1.0), &query(1.0), &devices()).expect("e");
    let on_cloud = estimate(&Table, &app(), &plan(1, 2, 0.25), &query(1.0), &devices()).expect("e");
    assert_eq!(on_server.accuracy, on_cloud.accuracy);
    let mut crowded = query(1.0);
    crowded.stratum = "crowded".into();
    let e = estimate(&Table, &app(), &plan(1, 2, 0.25), &crowded, &devices()).expect("e");
    assert!(close(e.accuracy, 0.40));
}

#[test]
fn an_overloaded_operator_has_infinite_latency() {
    // 60 inputs/s at 20 ms service: rho = 1.2.
    let e = estimate(&Table, &app(), &plan(0, 2, 0.5), &query(60.0), &devices()).expect("e");
    assert!(e.latency_ms.is_infinite());
}

#[test]
fn smaller_gpu_shares_and_slower_devices_are_slower() {
    let full = estimate(&Table, &app(), &plan(0, 2, 1.0), &query(1.0), &devices()).expect("e");
    let quarter = estimate(&Table, &app(), &plan(0, 2, 0.25), &query(1.0), &devices()).expect("e");
    assert!(quarter.latency_ms > full.latency_ms);
    assert!(quarter.cost_usd_per_hour < full.cost_usd_per_hour);
}

#[test]
fn malformed_plans_are_rejected() {
    let bad_tier = plan(0, 0, 1.0); // detect on the phone: tier not allowed
    assert!(matches!(
        estimate(&Table, &app(), &bad_tier, &query(1.0), &devices()),
        Err(PlanError::TierNotAllowed { .. })
    ));
    let mut down = plan(0, 1, 1.0);
    down.placements[0].device = 2; // capture on the cloud: not allowed either
    assert!(estimate(&Table, &app(), &down, &query(1.0), &devices()).is_err());
    let bad_share = plan(0, 2, 0.0);
    assert!(matches!(
        estimate(&Table, &app(), &bad_share, &query(1.0), &devices()),
        Err(PlanError::BadShare { .. })
    ));
}

#[test]
fn configurations_number_the_space_in_mixed_radix() {
    let a = app();
    assert_eq!(a.space_size(), 2);
    for i in 0..2 {
        assert_eq!(a.index_of(&a.config(i).expect("c")).expect("i"), i);
    }
    assert!(a.config(2).is_err());
    assert_eq!(a.gpu_memory_mb(&a.config(1).expect("c"), 1), 2000.0);
}

#[test]
fn slo_checks_respect_metric_direction() {
    let wer = AccuracyBound {
        threshold: 0.1,
        higher_is_better: false,
    };
    assert!(wer.met_by(0.08) && !wer.met_by(0.12));
    let q = query(1.0);
    assert!(q.slo.all_met(150.0, 0.5, 1.0));
    assert!(!q.slo.all_met(250.0, 0.5, 1.0));
    assert!(!q.slo.all_met(150.0, 0.4, 1.0));
    assert!(!q.slo.all_met(150.0, 0.5, 3.0));
}

#[test]
fn enumeration_keeps_only_plans_that_pass_the_checks() {
    // capture may only run on the phone; detect on the server or the cloud (the phone has
    // no GPU): 2 configurations x 2 placements.
    let plans = crate::model::enumerate_plans(&app(), &devices(), &[0, 1, 2], 0.5).expect("plans");
    assert_eq!(plans.len(), 4);
    for p in &plans {
        p.check(&app(), &devices())
            .expect("every enumerated plan is valid");
        assert_eq!(
            p.placements[0],
            Placement {
                device: 0,
                gpu_share: 0.0
            }
        );
        assert_eq!(p.placements[1].gpu_share, 0.5);
    }
    assert_eq!(
        plans[0].placements[1].device, 1,
        "last operator varies fastest"
    );
    assert_eq!(plans[1].placements[1].device, 2);
    assert!(crate::model::enumerate_plans(&app(), &devices(), &[], 0.5)
        .expect("plans")
        .is_empty());
}
