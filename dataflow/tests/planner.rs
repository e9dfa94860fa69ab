//! The planner's dataflow alone, fed by hand: decisions for arrivals, withdrawals for
//! departures, rejections with reasons for queries it cannot plan, and profile requests
//! that stop once answered.

use compass_dataflow::{Change, Planner, Settings};
use compass_schemas::{QueryEvent, QueryEventKind, QuerySpec, Slo};
use compass_testbed::sim::{Scenario, Simulation};

fn arrive(id: &str, app: &str, device: &str) -> QueryEvent {
    QueryEvent {
        query_id: id.into(),
        kind: QueryEventKind::Arrive,
        event_time_ms: 0,
        spec: Some(QuerySpec {
            app_id: app.into(),
            source_device_id: device.into(),
            rate_per_s: 0.2,
            weight: 1.0,
            slo: Slo {
                latency_ms: 2000.0,
                latency_percentile: 95.0,
                accuracy_threshold: None,
                max_cost_usd_per_hour: None,
            },
            data_stratum: "clean".into(),
        }),
    }
}

fn depart(id: &str) -> QueryEvent {
    QueryEvent {
        query_id: id.into(),
        kind: QueryEventKind::Depart,
        event_time_ms: 1,
        spec: None,
    }
}

/// The constrained-small world of seed 2.
fn world() -> Simulation {
    Simulation::new(Scenario::named("constrained-small", 2).expect("scenario")).expect("sim")
}

/// Tell the planner the world's applications and machines.
fn introduce(p: &mut Planner, sim: &Simulation) {
    for a in sim.applications() {
        p.app(&a);
    }
    for t in sim.initial_telemetry() {
        p.telemetry(&t).expect("telemetry");
    }
}

#[test]
fn arrivals_departures_and_bad_queries() {
    let mut sim = world();
    let settings = Settings {
        hardware_speed: sim.hardware_speed(),
        ..Settings::default()
    };
    timely::execute_directly(move |worker| {
        let mut p = Planner::new(worker, settings);
        introduce(&mut p, &sim);
        p.query(&arrive("good", "speech-recognition", "edge-0"))
            .expect("query");
        p.query(&arrive("no-app", "no-such-app", "edge-0"))
            .expect("query");
        p.query(&arrive("no-device", "speech-recognition", "nowhere"))
            .expect("query");
        let mut reasons = std::collections::BTreeMap::new();
        let mut requests = 0;
        let mut assigned = false;
        for _ in 0..20 {
            let changes = p.advance(worker);
            let mut asked = false;
            for c in &changes {
                match c {
                    Change::Decided { decision, .. } => {
                        reasons.insert(decision.query_id.clone(), decision.reason.clone());
                        assigned |= decision.query_id == "good" && decision.assigned();
                    }
                    Change::Profile { epoch, ask } => {
                        asked = true;
                        requests += 1;
                        let req = compass_dataflow::records::profile_request(
                            *epoch,
                            ask,
                            "a100-80gb",
                            16,
                            0,
                        );
                        for s in sim.answer(&req).expect("answer") {
                            p.sample(&s).expect("sample");
                        }
                    }
                    Change::Withdrawn { .. } => panic!("nobody departed yet"),
                }
            }
            if !asked && assigned {
                break;
            }
        }
        assert_eq!(reasons["no-app"], "unknown application");
        assert_eq!(reasons["no-device"], "unknown source device");
        assert!(assigned, "the good query was never assigned: {reasons:?}");
        assert!(
            requests >= 3,
            "the search profiled only {requests} configurations"
        );
        // Quiet now: nothing changes without input.
        assert!(p.advance(worker).is_empty());
        p.query(&depart("good")).expect("depart");
        let changes = p.advance(worker);
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Withdrawn { query_id, .. } if query_id == "good")),
            "{changes:?}"
        );
        // A sample for an application the planner never saw is refused with a reason.
        let mut bad = sim
            .answer(&compass_dataflow::records::profile_request(
                0,
                &compass_dataflow::graph::Ask {
                    app_id: "speech-recognition".into(),
                    stratum: "clean".into(),
                    scope: String::new(),
                    next: compass_planners::online::search::NextProfile {
                        config: 0,
                        ops: Vec::new(),
                        round: 0,
                    },
                },
                "a100-80gb",
                1,
                0,
            ))
            .unwrap_or_default();
        if let Some(s) = bad.first_mut() {
            s.app_id = "no-such-app".into();
            assert!(p.sample(s).is_err());
        }
    });
}

/// With `per_query_profiles` each query's search reads only the samples of its own requests:
/// answering one query's requests never moves the other's search, and answering the other's
/// moves it on.
#[test]
fn per_query_profiles_are_not_shared() {
    let mut sim = world();
    let settings = Settings {
        hardware_speed: sim.hardware_speed(),
        per_query_profiles: true,
        ..Settings::default()
    };
    timely::execute_directly(move |worker| {
        let mut p = Planner::new(worker, settings);
        introduce(&mut p, &sim);
        p.query(&arrive("a", "speech-recognition", "edge-0"))
            .expect("query");
        p.query(&arrive("b", "speech-recognition", "edge-0"))
            .expect("query");
        // Answer only a's requests; keep b's for later.
        let (mut asks_a, mut held_b) = (0, Vec::new());
        for _ in 0..12 {
            let mut answered = false;
            for c in p.advance(worker) {
                let Change::Profile { epoch, ask } = c else {
                    continue;
                };
                let req =
                    compass_dataflow::records::profile_request(epoch, &ask, "a100-80gb", 16, 0);
                match ask.scope.as_str() {
                    "a" => {
                        assert!(req.request_id.ends_with("@a"), "{}", req.request_id);
                        asks_a += 1;
                        answered = true;
                        for s in sim.answer(&req).expect("answer") {
                            p.sample(&s).expect("sample");
                        }
                    }
                    "b" => held_b.push(req),
                    other => panic!("an ask of scope `{other}`"),
                }
            }
            if !answered {
                break;
            }
        }
        assert!(asks_a >= 3, "a's search asked only {asks_a} times");
        // b's search saw none of a's samples: it still asks for its first profile only.
        assert_eq!(held_b.len(), 1, "b asked {held_b:?}");
        for s in sim.answer(&held_b[0]).expect("answer") {
            p.sample(&s).expect("sample");
        }
        let next_b = p
            .advance(worker)
            .into_iter()
            .filter(|c| matches!(c, Change::Profile { ask, .. } if ask.scope == "b"))
            .count();
        assert!(next_b >= 1, "b's own sample did not move its search");
    });
}

/// A query that arrives before its application, or before its source device's telemetry, is
/// rejected with the reason; when the missing piece arrives the rejection is replaced (not
/// withdrawn: the query is still live), and nothing else is said about it.
#[test]
fn rejections_for_missing_pieces_are_replaced_when_they_arrive() {
    let sim = world();
    let settings = Settings {
        hardware_speed: sim.hardware_speed(),
        ..Settings::default()
    };
    timely::execute_directly(move |worker| {
        let mut p = Planner::new(worker, settings);
        let telemetry = sim.initial_telemetry();
        let (late, early): (Vec<_>, Vec<_>) =
            telemetry.into_iter().partition(|t| t.device_id == "edge-0");
        assert_eq!(late.len(), 1, "the world has an edge-0");
        for t in &early {
            p.telemetry(t).expect("telemetry");
        }
        p.query(&arrive("a", "speech-recognition", "edge-1"))
            .expect("query");
        p.query(&arrive("b", "speech-recognition", "edge-0"))
            .expect("query");
        let reasons = |changes: &[Change]| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = changes
                .iter()
                .map(|c| match c {
                    Change::Decided { decision, .. } => {
                        (decision.query_id.clone(), decision.reason.clone())
                    }
                    Change::Withdrawn { query_id, .. } => (query_id.clone(), "withdrawn".into()),
                    Change::Profile { .. } => (String::new(), "profile".into()),
                })
                .filter(|(q, _)| !q.is_empty())
                .collect();
            v.sort();
            v
        };
        let got = reasons(&p.advance(worker));
        assert_eq!(
            got,
            vec![
                ("a".to_string(), "unknown application".to_string()),
                ("b".to_string(), "unknown application".to_string())
            ]
        );
        for a in sim.applications() {
            p.app(&a);
        }
        let got = reasons(&p.advance(worker));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "a");
        assert!(!got[0].1.starts_with("unknown"), "{got:?}");
        assert_eq!(got[1], ("b".into(), "unknown source device".into()));
        p.telemetry(&late[0]).expect("telemetry");
        let got = reasons(&p.advance(worker));
        assert!(
            got.iter()
                .any(|(q, r)| q == "b" && !r.starts_with("unknown") && r != "withdrawn"),
            "{got:?}"
        );
        assert!(got.iter().all(|(_, r)| r != "withdrawn"), "{got:?}");
    });
}
