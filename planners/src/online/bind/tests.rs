//! Bindings kept across matchings: capacity, coverage, reuse and renumbering.

use std::collections::BTreeMap;

use super::*;
use crate::online::fixtures::{device, query};
use crate::online::search::{OpChoice, TierPlan};
use crate::online::Fx;

/// Decisions by query id, as the dataflow keeps them.
fn by_id(decisions: &[Decision]) -> HashMap<String, Decision> {
    decisions
        .iter()
        .map(|d| (d.query_id.clone(), d.clone()))
        .collect()
}

/// A member whose one candidate runs a DNN on an `a10` with the given GPU share.
fn member(id: usize, share: f64) -> Member {
    let source = device(&format!("phone-{id}"), 0, 0);
    Member {
        query: query(&format!("q{id:03}"), &source, None),
        higher_is_better: true,
        source,
        candidates: std::sync::Arc::new(vec![TierPlan {
            config: 1,
            ops: vec![OpChoice {
                name: "dnn".into(),
                knobs: vec![("model".into(), "small".into())],
                gpu_memory_mb: Fx(4_000.0),
                dnn: true,
            }],
            slots: vec![Some("a10".into())],
            gpu_share: Fx(share),
            latency_ms: Fx(50.0),
            latency_log_sd: Fx(0.1),
            accuracy: Fx(f64::NAN),
            accuracy_sd: Fx(0.0),
            cost_usd_per_hour: Fx(share),
            p_feasible: Fx(1.0),
            resources: Fx(share),
        }]),
        searching: false,
    }
}

/// A member arrives if it is not live, else departs (its decision with it); its id.
fn toggle(
    live: &mut BTreeMap<Name, Member>,
    decided: &mut HashMap<String, Decision>,
    m: Member,
) -> Name {
    let key = m.query.id.clone();
    if live.remove(&key).is_some() {
        decided.remove(key.as_str());
    } else {
        live.insert(key.clone(), m);
    }
    key
}

/// The GPU share the decisions in force hold on each machine.
fn gpu_shares(decided: &HashMap<String, Decision>) -> HashMap<&str, f64> {
    let mut share: HashMap<&str, f64> = HashMap::new();
    for d in decided.values() {
        for op in &d.operators {
            *share.entry(op.device_id.as_str()).or_default() += op.gpu_share.0;
        }
    }
    share
}

/// Arrivals and departures epoch by epoch, full solves every fifth: the decisions in
/// force never over-commit a machine, every live member has one, and an epoch without
/// changes changes nothing.
#[test]
fn incremental_decisions_keep_capacity_and_cover_every_member() {
    let servers: Vec<DeviceRow> = (0..3).map(|i| device(&format!("s{i}"), 2, 1)).collect();
    let machines: Vec<&DeviceRow> = servers.iter().collect();
    let settings = MatchSettings::default();
    let mut live: BTreeMap<Name, Member> = BTreeMap::new();
    let mut decided: HashMap<String, Decision> = HashMap::new();
    let mut bindings = Bindings::default();
    let mut rng: u64 = 7;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    for epoch in 0..40 {
        let mut changed: std::collections::HashSet<Name> = Default::default();
        for _ in 0..3 {
            let id = next() % 20;
            let m = member(id, [0.2, 0.3, 0.5][next() % 3]);
            changed.insert(toggle(&mut live, &mut decided, m));
        }
        let members: Vec<&Member> = live.values().collect();
        let out = bindings.plan(
            &members,
            &machines,
            &decided,
            &settings,
            epoch % 5 == 0,
            |i| changed.contains(&members[i].query.id),
        );
        for d in out {
            decided.insert(d.query_id.clone(), d);
        }
        assert_eq!(decided.len(), live.len(), "epoch {epoch}");
        for (dev, s) in gpu_shares(&decided) {
            assert!(s <= 1.0 + 1e-9, "epoch {epoch}: {dev} holds {s}");
        }
        assert!(decided.values().any(Decision::assigned));
    }
    let members: Vec<&Member> = live.values().collect();
    let out = bindings.plan(&members, &machines, &decided, &settings, false, |_| false);
    assert!(out.is_empty(), "{out:?}");
}

/// Members out of id order cannot be walked beside the kept entries: all are bound
/// afresh (and decided again), rather than matched to the wrong entries.
#[test]
fn members_out_of_order_are_bound_afresh() {
    let servers: Vec<DeviceRow> = (0..2).map(|i| device(&format!("s{i}"), 2, 1)).collect();
    let machines: Vec<&DeviceRow> = servers.iter().collect();
    let members: Vec<Member> = (0..5).map(|i| member(i, 0.3)).collect();
    let mut refs: Vec<&Member> = members.iter().collect();
    let settings = MatchSettings::default();
    let mut b = Bindings::default();
    let first = b.plan(&refs, &machines, &HashMap::new(), &settings, true, |_| {
        false
    });
    let decided = by_id(&first);
    assert!(b
        .plan(&refs, &machines, &decided, &settings, false, |_| false)
        .is_empty());
    refs.reverse();
    let again = b.plan(&refs, &machines, &decided, &settings, false, |_| false);
    assert_eq!(again.len(), members.len());
    for d in &again {
        assert_eq!(Some(d), decided.get(&d.query_id), "a kept plan stays");
    }
}

/// A member whose one candidate runs its DNN on its own source device (one GPU).
fn on_source(id: usize) -> Member {
    let mut m = member(id, 0.5);
    m.source = device(&format!("phone-{id}"), 0, 1);
    m.query.source_device_id = m.source.id.clone();
    let plan = &mut std::sync::Arc::make_mut(&mut m.candidates)[0];
    plan.slots = vec![None];
    m
}

/// The devices of members that left are dropped from the instance's resources at the
/// next full solve, and the members that stay keep their plans.
#[test]
fn a_full_solve_drops_the_resources_of_members_that_left() {
    let settings = MatchSettings::default();
    let members: Vec<Member> = (0..6).map(on_source).collect();
    let mut b = Bindings::default();
    let all: Vec<&Member> = members.iter().collect();
    let first = b.plan(&all, &[], &HashMap::new(), &settings, true, |_| false);
    assert!(first.iter().all(Decision::assigned), "{first:?}");
    assert_eq!(
        b.registry.resources.len(),
        12,
        "a GPU and its memory per device"
    );
    let decided = by_id(&first);
    let stay: Vec<&Member> = members.iter().skip(4).collect();
    assert!(b
        .plan(&stay, &[], &decided, &settings, false, |_| false)
        .is_empty());
    assert_eq!(b.registry.resources.len(), 12, "a repair keeps them");
    assert!(b
        .plan(&stay, &[], &decided, &settings, true, |_| false)
        .is_empty());
    let names: Vec<&str> = b
        .registry
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["gpu:phone-4", "mem:phone-4", "gpu:phone-5", "mem:phone-5"]
    );
    // The renumbered uses still point at each member's own device.
    for (id, e) in &b.entries {
        let phone = format!("phone-{}", &id[1..].trim_start_matches('0'));
        for c in &e.demand.candidates {
            for &(r, _) in &c.uses {
                let name = &b.registry.resources[r as usize].name;
                assert!(name.ends_with(&phone), "{id} uses {name}");
            }
        }
    }
    let again = b.plan(&stay, &[], &decided, &settings, false, |_| true);
    for d in &again {
        assert_eq!(Some(d), decided.get(&d.query_id), "a kept plan stays");
    }
    assert_eq!(b.registry.resources.len(), 4);
}

/// When the machines change, every member is bound afresh and decided again, even one
/// that did not change; when they do not, a full solve reuses the bindings.
#[test]
fn members_are_bound_afresh_when_the_machines_change() {
    let servers: Vec<DeviceRow> = (0..3).map(|i| device(&format!("s{i}"), 2, 1)).collect();
    let two: Vec<&DeviceRow> = servers.iter().take(2).collect();
    let three: Vec<&DeviceRow> = servers.iter().collect();
    let members: Vec<Member> = (0..4).map(|i| member(i, 0.3)).collect();
    let refs: Vec<&Member> = members.iter().collect();
    let settings = MatchSettings::default();
    let mut b = Bindings::default();
    let first = b.plan(&refs, &two, &HashMap::new(), &settings, true, |_| false);
    let decided = by_id(&first);
    assert!(b
        .plan(&refs, &two, &decided, &settings, true, |_| false)
        .is_empty());
    let again = b.plan(&refs, &three, &decided, &settings, true, |_| false);
    assert_eq!(again.len(), members.len());
}

/// A full call decides exactly as `plan_partition` does.
#[test]
fn a_full_call_is_plan_partition() {
    let servers: Vec<DeviceRow> = (0..2).map(|i| device(&format!("s{i}"), 2, 1)).collect();
    let machines: Vec<&DeviceRow> = servers.iter().collect();
    let members: Vec<Member> = (0..9).map(|i| member(i, 0.3)).collect();
    let refs: Vec<&Member> = members.iter().collect();
    let settings = MatchSettings::default();
    let none = HashMap::new();
    let mut b = Bindings::default();
    let got = b.plan(&refs, &machines, &none, &settings, true, |_| false);
    let want = crate::online::expand::plan_partition(&refs, &machines, &none, &settings);
    assert_eq!(got, want);
    assert_eq!(got.iter().filter(|d| d.assigned()).count(), 6);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the sequence of arrivals, departures, machines resized, lost and back, and
        /// full solves or repairs: the decisions in force never over-commit a machine as it is
        /// now, name only machines that are alive, and cover every live member.
        #[test]
        fn decisions_fit_the_machines_as_they_are_now(
            // Per epoch: members toggled (id, GPU share), then one server's new GPU count and
            // liveness, and whether the matching is a full solve.
            steps in prop::collection::vec(
                (
                    prop::collection::vec((0usize..16, 0usize..3), 0..5),
                    0usize..3,
                    0u32..3,
                    any::<bool>(),
                    any::<bool>(),
                ),
                1..30,
            )
        ) {
            let settings = MatchSettings::default();
            let mut servers: Vec<DeviceRow> = (0..3).map(|i| device(&format!("s{i}"), 2, 2)).collect();
            let mut live: BTreeMap<Name, Member> = BTreeMap::new();
            let mut decided: HashMap<String, Decision> = HashMap::new();
            let mut bindings = Bindings::default();
            for (epoch, (toggles, server, gpus, alive, full)) in steps.into_iter().enumerate() {
                servers[server].gpu_count = gpus;
                servers[server].gpu_memory_mb = Fx(24_000.0 * f64::from(gpus));
                servers[server].alive = alive;
                let mut changed: std::collections::HashSet<Name> = Default::default();
                for (id, share) in toggles {
                    let m = member(id, [0.2, 0.5, 1.0][share]);
                    changed.insert(toggle(&mut live, &mut decided, m));
                }
                let machines: Vec<&DeviceRow> = servers.iter().collect();
                let members: Vec<&Member> = live.values().collect();
                let out = bindings.plan(&members, &machines, &decided, &settings, full, |i| {
                    changed.contains(&members[i].query.id)
                });
                for d in out {
                    decided.insert(d.query_id.clone(), d);
                }
                prop_assert_eq!(decided.len(), live.len(), "epoch {}", epoch);
                for (dev, s) in gpu_shares(&decided) {
                    let Some(row) = servers.iter().find(|r| r.id.as_str() == dev) else {
                        return Err(TestCaseError::fail(format!("epoch {epoch}: unknown machine {dev}")));
                    };
                    prop_assert!(row.alive, "epoch {}: {} is lost but holds {}", epoch, dev, s);
                    prop_assert!(
                        s <= f64::from(row.gpu_count) + 1e-9,
                        "epoch {}: {} holds {} of {} GPUs", epoch, dev, s, row.gpu_count
                    );
                }
            }
        }
    }
}
