//! The embedded planner against the simulated deployment: invariants that must hold in
//! every window, and determinism under a seed.

use compass::embedded::{run, RunOptions, RunReport};
use compass_dataflow::Settings;
use compass_testbed::sim::Scenario;

fn small(seed: u64) -> Scenario {
    let mut s = Scenario::named("constrained-small", seed).expect("scenario");
    s.trace.duration_s = 200.0;
    s
}

fn go(s: Scenario, settings: Settings) -> RunReport {
    run(s, settings, RunOptions::default()).expect("run")
}

#[test]
fn every_live_query_holds_a_record_and_no_machine_is_overcommitted() {
    for settings in [Settings::default(), Settings::default().cost_mode()] {
        let r = go(small(3), settings);
        let live: usize = r.windows.iter().map(|w| w.live).sum();
        assert!(live > 100, "the scenario must carry load, had {live}");
        assert_eq!(r.uncovered, 0, "live queries without a record");
        assert!(
            r.overcommitted.is_empty(),
            "over-committed: {:?}",
            r.overcommitted
        );
        assert_eq!(r.bad_assignments, 0);
        assert!(r.goodput > 0.0 && r.profiles > 0);
    }
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let a = go(small(5), Settings::default());
    let b = go(small(5), Settings::default());
    let strip = |r: &RunReport| {
        r.windows
            .iter()
            .map(|w| {
                (
                    w.live,
                    w.assigned,
                    w.met,
                    w.goodput.to_bits(),
                    w.churn,
                    w.rounds,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.reasons, b.reasons);
    assert_eq!((a.profiles, a.searches), (b.profiles, b.searches));
    let c = go(small(6), Settings::default());
    assert_ne!(
        strip(&a),
        strip(&c),
        "a different seed should change something"
    );
}

/// On a simulated profiling pool, profiling takes time: the pool never does more GPU-seconds
/// than it has, and a query planned alone on profiles of its own asks for more of them and
/// waits longer for a plan than one whose cluster shares them.
#[test]
fn a_profiling_pool_makes_searches_take_time() {
    let gpus = 2;
    let mut s = small(3);
    s.profile_gpus = Some(gpus);
    let seconds = s.trace.duration_s;
    let shared = go(s.clone(), Settings::default());
    let alone = go(
        s,
        Settings {
            per_query_profiles: true,
            ..Settings::default()
        },
    );
    for r in [&shared, &alone] {
        assert!(r.profiles > 0);
        assert!(
            r.profile_gpu_seconds <= gpus as f64 * seconds + 1e-6,
            "{} GPU-s on {gpus} GPUs in {seconds} s",
            r.profile_gpu_seconds
        );
        assert!(r.overcommitted.is_empty() && r.uncovered == 0);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    assert!(
        alone.profiles > shared.profiles,
        "per-query profiles {} vs shared {}",
        alone.profiles,
        shared.profiles
    );
    assert!(
        mean(&alone.plan_wait_s) > mean(&shared.plan_wait_s),
        "waits: alone {:?}, shared {:?}",
        mean(&alone.plan_wait_s),
        mean(&shared.plan_wait_s)
    );
    // Instant profiling, for contrast: the first search's profiles come back at once.
    let instant = go(small(3), Settings::default());
    assert!(instant.plan_wait_s.contains(&0.0));
}

/// A bounded run: the spend on misses is part of the spend, the met queries' least cost is
/// reported for every window, and the planner does not beat the ground truth's least cost by
/// more than noise allows (a met query's plan costs at least its least feasible cost, unless
/// the workers' per-input noise let a cheaper, nominally infeasible plan through).
#[test]
fn a_bounded_run_accounts_its_spend_against_the_least_cost() {
    let r = run(
        small(3),
        Settings::default().cost_mode(),
        RunOptions {
            bound: Some(compass_testbed::bound::Cache::new(&[0.25, 1.0])),
            ..RunOptions::default()
        },
    )
    .expect("run");
    assert!(r.cost_usd > 0.0);
    assert!((0.0..=r.cost_usd + 1e-12).contains(&r.cost_missed_usd));
    assert!(r.windows.iter().all(|w| w.least_cost_met_usd.is_some()));
    let least = r.least_cost_met_usd.expect("bounded");
    let spent_on_met = r.cost_usd - r.cost_missed_usd;
    assert!(least > 0.0, "the met queries cost something at least");
    assert!(
        least <= spent_on_met * 1.05,
        "least {least} above the spend on met queries {spent_on_met}"
    );
    let unbounded = go(small(3), Settings::default().cost_mode());
    assert_eq!(unbounded.least_cost_met_usd, None);
    assert_eq!(
        unbounded.goodput.to_bits(),
        r.goodput.to_bits(),
        "bounding changes nothing"
    );
}
