//! Traces, simulated workers and the goodput accountant.

use std::collections::HashMap;

use compass_planners::model::{AccuracyBound, Placement, Plan, Query, SloTargets};
use compass_schemas::{
    KnobSetting, OperatorChoice, ProfileRequest, QueryEventKind, StratumQuota, Tier,
};
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::goodput::Accountant;
use compass_testbed::trace::{self, Arrival, Drift, TraceSpec};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::{Deployed, Realized, World};

fn truths() -> Vec<GroundTruth> {
    catalog::builtin()
        .expect("catalog")
        .into_iter()
        .map(|a| GroundTruth::new(a).expect("valid"))
        .collect()
}

fn spec(seed: u64, arrival: Arrival) -> TraceSpec {
    TraceSpec {
        seed,
        start_ms: 1_795_000_000_000,
        duration_s: 600.0,
        arrival,
        mean_lifetime_s: 120.0,
        app_mix: truths()
            .iter()
            .map(|t| (t.spec.app_id.clone(), 1.0))
            .collect(),
        drift: vec![
            Drift::BandwidthDrop {
                at_s: 300.0,
                fraction: 0.2,
                factor: 0.25,
            },
            Drift::AccuracyShift {
                at_s: 400.0,
                app_id: "speech-recognition".into(),
                stratum: "noisy".into(),
                delta: 3.0,
            },
            Drift::MachineFailure {
                at_s: 500.0,
                count: 1,
            },
        ],
    }
}

#[test]
fn the_same_seed_gives_byte_identical_trace_files_that_load_back() {
    let tables = Tables::builtin().expect("tables");
    let devices = fleet::generate(&FleetSpec::sized(500, 3), &tables).expect("fleet");
    let t = truths();
    let a = trace::generate(
        &spec(11, Arrival::Poisson { rate_per_s: 2.0 }),
        &t,
        &devices,
    )
    .expect("trace");
    let b = trace::generate(
        &spec(11, Arrival::Poisson { rate_per_s: 2.0 }),
        &t,
        &devices,
    )
    .expect("trace");
    let base = std::env::temp_dir().join(format!("compass-trace-{}", std::process::id()));
    a.save(&base.join("a"), 11).expect("save a");
    b.save(&base.join("b"), 11).expect("save b");
    for f in ["queries.avro", "telemetry.avro", "truth-drift.json"] {
        let x = std::fs::read(base.join("a").join(f)).expect("read");
        let y = std::fs::read(base.join("b").join(f)).expect("read");
        assert!(
            x == y,
            "{f} differs between two runs with the same seed ({} vs {} bytes)",
            x.len(),
            y.len()
        );
    }
    assert_eq!(trace::Trace::load(&base.join("a")).expect("load"), a);
    let c = trace::generate(
        &spec(12, Arrival::Poisson { rate_per_s: 2.0 }),
        &t,
        &devices,
    )
    .expect("trace");
    assert_ne!(c.queries, a.queries, "another seed, another trace");
    let _ = std::fs::remove_dir_all(base);

    // Poisson: 1,200 expected arrivals; 5 standard deviations is about 173.
    let arrivals = a
        .queries
        .iter()
        .filter(|q| q.kind == QueryEventKind::Arrive)
        .count();
    assert!((1027..=1373).contains(&arrivals), "{arrivals} arrivals");
    // Every departure follows its arrival; every event is in time order.
    let mut arrived = HashMap::new();
    for q in &a.queries {
        match q.kind {
            QueryEventKind::Arrive => assert!(arrived
                .insert(q.query_id.clone(), q.event_time_ms)
                .is_none()),
            _ => assert!(arrived
                .get(&q.query_id)
                .is_some_and(|t| *t <= q.event_time_ms)),
        }
    }
    assert!(a
        .queries
        .windows(2)
        .all(|w| w[0].event_time_ms <= w[1].event_time_ms));
    assert!(a.telemetry.iter().any(|t| !t.alive), "a machine failed");
    assert!(
        a.telemetry.iter().any(|t| t.alive && t.tier == Tier::Edge),
        "bandwidth dropped"
    );
    assert_eq!(a.accuracy_drift.len(), 1);
}

#[test]
fn bursty_and_diurnal_arrivals_have_the_right_mean() {
    let tables = Tables::builtin().expect("tables");
    let devices = fleet::generate(&FleetSpec::sized(100, 3), &tables).expect("fleet");
    let t = truths();
    let count = |arrival| {
        let mut s = spec(5, arrival);
        s.duration_s = 20_000.0;
        s.drift.clear();
        trace::generate(&s, &t, &devices)
            .expect("trace")
            .queries
            .iter()
            .filter(|q| q.kind == QueryEventKind::Arrive)
            .count() as f64
    };
    // Equal calm and burst means: the average rate is (0.5 + 4.5) / 2 = 2.5 per second.
    let bursty = count(Arrival::Bursty {
        calm_rate_per_s: 0.5,
        burst_rate_per_s: 4.5,
        mean_calm_s: 60.0,
        mean_burst_s: 60.0,
    });
    assert!(
        (bursty / 20_000.0 - 2.5).abs() < 0.4,
        "bursty rate {}",
        bursty / 20_000.0
    );
    let diurnal = count(Arrival::Diurnal {
        mean_rate_per_s: 1.0,
        amplitude: 0.8,
        period_s: 2_000.0,
    });
    assert!(
        (diurnal / 20_000.0 - 1.0).abs() < 0.1,
        "diurnal rate {}",
        diurnal / 20_000.0
    );
}

fn world(noise_free: bool) -> World {
    let mut t = truths();
    if noise_free {
        for x in &mut t {
            x.spec.noise.latency_cv = 0.0;
            x.spec.noise.accuracy_sd = 0.0;
        }
    }
    let tables = Tables::builtin().expect("tables");
    let devices = fleet::generate(&FleetSpec::sized(200, 9), &tables).expect("fleet");
    World::new(t, devices, tables, 42)
}

fn tracking_query(id: &str, source: &str) -> Query {
    Query {
        id: id.into(),
        app_id: "visual-tracking".into(),
        source_device_id: source.into(),
        rate_per_s: 10.0,
        weight: 1.0,
        slo: SloTargets {
            latency_ms: 300.0,
            latency_percentile: 95.0,
            accuracy: Some(AccuracyBound {
                threshold: 70.0,
                higher_is_better: true,
            }),
            max_cost_usd_per_hour: None,
        },
        stratum: "sparse".into(),
    }
}

/// capture on `edge`, detect (yolov8m) on `gpu_device` with `share`, track next to it.
fn tracking_plan(w: &World, edge: usize, gpu_device: usize, share: f64) -> Plan {
    let t = &w.truths["visual-tracking"];
    Plan {
        config: t
            .config_with(&[("detect", "model", "yolov8m")])
            .expect("config"),
        placements: vec![
            Placement {
                device: edge,
                gpu_share: 0.0,
            },
            Placement {
                device: gpu_device,
                gpu_share: share,
            },
            Placement {
                device: gpu_device,
                gpu_share: 0.0,
            },
        ],
    }
}

#[test]
fn latency_rises_monotonically_with_co_location() {
    let mut w = world(true);
    let edge = w.device_index("edge-0").expect("edge");
    let gpu = w.device_index("a10-24gb-0").expect("a single-GPU machine");
    let mut previous = 0.0;
    for k in 1..=12 {
        let deployed: Vec<Deployed> = (0..k)
            .map(|i| Deployed {
                query: tracking_query(&format!("q{i}"), "edge-0"),
                plan: tracking_plan(&w, edge, gpu, 0.25),
            })
            .collect();
        let r = w.realize(&deployed, 10.0);
        let lat = r[0].latency_ms;
        assert!(lat.is_finite(), "{k} co-located: {lat}");
        assert!(
            lat > previous,
            "{k} co-located: {lat} ms is not above {previous} ms"
        );
        previous = lat;
    }
}

#[test]
fn memory_is_a_hard_limit_and_dead_machines_fail() {
    let mut w = world(true);
    let edge = w.device_index("edge-0").expect("edge");
    let gpu = w.device_index("a10-24gb-0").expect("machine");
    // 1 GB per detector on a 24 GB A10: the 25th does not fit. One frame per second keeps
    // each 1% share stable, so memory is the only limit that binds.
    let query = |i: usize| Query {
        rate_per_s: 1.0,
        ..tracking_query(&format!("q{i}"), "edge-0")
    };
    let deployed: Vec<Deployed> = (0..30)
        .map(|i| Deployed {
            query: query(i),
            plan: tracking_plan(&w, edge, gpu, 0.01),
        })
        .collect();
    let r = w.realize(&deployed, 10.0);
    assert_eq!(r.iter().filter(|x| x.latency_ms.is_infinite()).count(), 6);
    let mut dead = compass_testbed::fleet::telemetry(&w.devices[gpu], 0);
    dead.alive = false;
    w.apply_telemetry(&dead);
    let r = w.realize(&deployed[..1], 10.0);
    assert!(r[0].latency_ms.is_infinite());
}

#[test]
fn profile_requests_get_per_input_samples_with_strata() {
    let mut w = world(false);
    let knobs = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| KnobSetting::new(*k, *v))
            .collect::<Vec<_>>()
    };
    let req = |ops: Vec<OperatorChoice>| ProfileRequest {
        request_id: "r1".into(),
        app_id: "speech-recognition".into(),
        hardware_class: "a100-80gb".into(),
        operators: ops,
        quotas: vec![
            StratumQuota {
                stratum: "clean".into(),
                inputs: 3,
            },
            StratumQuota {
                stratum: "noisy".into(),
                inputs: 5,
            },
        ],
        decision_epoch: 1,
        reason: String::new(),
        event_time_ms: 0,
    };
    let whole = req(vec![
        OperatorChoice {
            operator: "capture".into(),
            knobs: knobs(&[("sample_rate_hz", "16000")]),
        },
        OperatorChoice {
            operator: "asr".into(),
            knobs: knobs(&[("model", "whisper-small"), ("precision", "fp16")]),
        },
    ]);
    let samples = w.answer(&whole, 5).expect("answer");
    assert_eq!(samples.len(), 8);
    assert_eq!(samples.iter().filter(|s| s.stratum == "noisy").count(), 5);
    assert!(samples
        .iter()
        .all(|s| s.accuracy.is_some() && s.gpu_seconds > 0.0 && s.operators.len() == 2));
    let prefix = req(vec![OperatorChoice {
        operator: "capture".into(),
        knobs: knobs(&[("sample_rate_hz", "16000")]),
    }]);
    assert!(
        w.answer(&prefix, 5)
            .expect("answer")
            .iter()
            .all(|s| s.accuracy.is_none()),
        "a prefix has no accuracy"
    );
    let bad = req(vec![OperatorChoice {
        operator: "asr".into(),
        knobs: knobs(&[("model", "whisper-huge")]),
    }]);
    assert!(w.answer(&bad, 5).is_err());
}

#[test]
fn the_accountant_matches_a_hand_computed_case() {
    let w = world(true);
    let edge = w.device_index("edge-0").expect("edge");
    let gpu = w.device_index("a10-24gb-0").expect("machine");
    let q = |id: &str, weight: f64| Query {
        weight,
        ..tracking_query(id, "edge-0")
    };
    let live = vec![q("a", 2.0), q("b", 1.0), q("c", 1.0)];
    let plan = tracking_plan(&w, edge, gpu, 0.5);
    let plans: HashMap<String, Plan> = [
        ("a".to_string(), plan.clone()),
        ("b".to_string(), plan.clone()),
        ("gone".to_string(), plan.clone()),
    ]
    .into();
    let realized = vec![
        Realized {
            query_id: "a".into(),
            latency_ms: 100.0,
            accuracy: 75.0,
            cost_usd_per_hour: 0.6,
        },
        Realized {
            query_id: "b".into(),
            latency_ms: 400.0,
            accuracy: 75.0,
            cost_usd_per_hour: 0.6,
        },
        // A departed query's figures must never count.
        Realized {
            query_id: "gone".into(),
            latency_ms: 1.0,
            accuracy: 99.0,
            cost_usd_per_hour: 0.6,
        },
    ];
    let mut acct = Accountant::new();
    let r = acct.account(0, 60.0, &live, &plans, &realized, None);
    assert_eq!((r.live, r.assigned, r.met), (3, 2, 1));
    assert_eq!(r.weighted_goodput, 2.0);
    assert!((r.latency_attainment - 1.0 / 3.0).abs() < 1e-12);
    assert!((r.accuracy_attainment - 2.0 / 3.0).abs() < 1e-12);
    assert!((r.cost_attainment - 2.0 / 3.0).abs() < 1e-12);
    assert!((r.cost_usd - 2.0 * 0.6 / 60.0).abs() < 1e-12);
    assert_eq!(r.churn, 0);

    // Next window: a moves to another share, b loses its plan, c gets one: churn 2.
    let mut moved = plan.clone();
    moved.placements[1].gpu_share = 0.25;
    let plans: HashMap<String, Plan> = [("a".to_string(), moved), ("c".to_string(), plan)].into();
    let r = acct.account(1, 60.0, &live, &plans, &realized, None);
    assert_eq!(r.churn, 2);
    assert_eq!(r.met, 1);
}

#[test]
fn assignment_records_become_deployments() {
    use compass_schemas::{
        Assignment, AssignmentStatus, KnobSetting, PlacedOperator, Plan as PlanRecord,
    };
    let mut w = world(true);
    let placed =
        |op: &str, knobs: &[(&str, &str)], tier: Tier, device: &str, share: f64| PlacedOperator {
            operator: op.into(),
            knobs: knobs
                .iter()
                .map(|(k, v)| KnobSetting::new(*k, *v))
                .collect(),
            tier,
            device_id: device.into(),
            gpu_share: share,
            gpu_memory_mb: 0.0,
        };
    let record = Assignment {
        query_id: "q1".into(),
        decision_epoch: 3,
        status: AssignmentStatus::Assigned,
        plan: Some(PlanRecord {
            app_id: "visual-tracking".into(),
            operators: vec![
                placed("capture", &[("input_px", "640")], Tier::Edge, "edge-0", 0.0),
                placed(
                    "detect",
                    &[("model", "yolov8m"), ("precision", "fp16")],
                    Tier::Cloud,
                    "a100-80gb-0",
                    0.5,
                ),
                placed(
                    "track",
                    &[("tracker", "bytetrack")],
                    Tier::Cloud,
                    "a100-80gb-0",
                    0.0,
                ),
            ],
        }),
        predicted: None,
        reason: String::new(),
        decided_at_ms: 0,
    };
    let d = w
        .deployment(&record, &tracking_query("q1", "edge-0"))
        .expect("valid")
        .expect("assigned");
    let t = &w.truths["visual-tracking"];
    assert_eq!(
        d.plan.config,
        t.config_with(&[("detect", "model", "yolov8m")])
            .expect("config")
    );
    assert_eq!(
        d.plan.placements[1].device,
        w.device_index("a100-80gb-0").expect("a100")
    );
    let r = w.realize(&[d], 10.0);
    assert!(r[0].latency_ms.is_finite() && r[0].cost_usd_per_hour > 0.0);

    let mut unknown = record.clone();
    if let Some(p) = unknown.plan.as_mut() {
        p.operators[1].device_id = "nowhere".into();
    }
    assert!(w
        .deployment(&unknown, &tracking_query("q1", "edge-0"))
        .is_err());
    let withdrawn = Assignment {
        status: AssignmentStatus::Withdrawn,
        plan: None,
        ..record
    };
    assert!(w
        .deployment(&withdrawn, &tracking_query("q1", "edge-0"))
        .expect("ok")
        .is_none());
}

#[test]
fn every_named_scenario_builds_and_single_query_has_one_query() {
    for name in [
        "constrained-small",
        "constrained-large",
        "abundant",
        "dynamics",
        "single-query",
        "oracle",
        "scale",
        "ablation",
        "e2e",
        "demo",
    ] {
        let s = compass_testbed::sim::Scenario::named(name, 1).expect(name);
        assert!(s.windows() > 0, "{name}");
    }
    assert!(compass_testbed::sim::Scenario::named("no-such", 1).is_none());
    let mut sim = compass_testbed::sim::Simulation::new(
        compass_testbed::sim::Scenario::named("single-query", 4).expect("scenario"),
    )
    .expect("world");
    let mut events = Vec::new();
    for w in 0..sim.windows() {
        events.extend(sim.window_inputs(w).0);
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(sim.live_ids().len(), 1);
}
