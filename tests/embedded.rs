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
