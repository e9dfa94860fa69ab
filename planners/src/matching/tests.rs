//! Invariants of the fast matcher on random instances.

use proptest::prelude::*;

use super::greedy::{self, Options};
use super::random::{self, Spec};
use super::repair::repair;
use super::{Instance, Matching, Mode};

fn with_random_current(mut inst: Instance, seed: u64) -> Instance {
    for (i, q) in inst.queries.iter_mut().enumerate() {
        let k = q.candidates.len() as u64;
        if !(seed + i as u64).is_multiple_of(3) {
            q.current = Some(((seed.wrapping_mul(31) + i as u64) % k) as u32);
        }
    }
    inst
}

/// One choice per query, each naming a real candidate, and no resource over capacity.
fn valid_and_within_capacity(inst: &Instance, m: &Matching) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.choice.len(), inst.queries.len());
    for (q, c) in m.choice.iter().enumerate() {
        if let Some(c) = c {
            prop_assert!((*c as usize) < inst.queries[q].candidates.len());
        }
    }
    let s = inst.score(m);
    prop_assert!(s.overloaded.is_empty(), "overloaded: {:?}", s.overloaded);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// Capacity is never exceeded and every choice names a real candidate, in both modes,
    /// with and without warm start, whatever the load.
    #[test]
    fn capacity_is_never_exceeded(seed in 0u64..10_000, queries in 1usize..120, machines in 1usize..25,
                                  load in 0.2f64..4.0, cost_mode in any::<bool>(), warm in any::<bool>(),
                                  rounds in 0usize..4) {
        let mut spec = Spec::new(seed, queries, machines, load);
        spec.mode = if cost_mode { Mode::Cost } else { Mode::Goodput };
        let inst = with_random_current(random::instance(&spec), seed);
        let m = greedy::solve(&inst, &Options { rounds, threads: 1, warm_start: warm, ..Options::default() });
        valid_and_within_capacity(&inst, &m)?;
    }

    /// The incremental repair keeps capacities too, from any plans in force (which may
    /// over-commit together: it keeps only those that still fit), in both modes.
    #[test]
    fn repair_never_exceeds_capacity(seed in 0u64..10_000, queries in 1usize..120, machines in 1usize..25,
                                     load in 0.2f64..4.0, cost_mode in any::<bool>(), rounds in 0usize..4) {
        let mut spec = Spec::new(seed, queries, machines, load);
        spec.mode = if cost_mode { Mode::Cost } else { Mode::Goodput };
        let inst = with_random_current(random::instance(&spec), seed);
        let m = repair(&inst, &Options { rounds, ..Options::default() });
        valid_and_within_capacity(&inst, &m)?;
        prop_assert_eq!(&m, &repair(&inst, &Options { rounds, ..Options::default() }));
    }

    /// Same instance, same matching, on one thread or several.
    #[test]
    fn deterministic_and_thread_independent(seed in 0u64..10_000, queries in 1usize..200, machines in 1usize..40) {
        let inst = random::instance(&Spec::new(seed, queries, machines, 1.5));
        let one = greedy::solve(&inst, &Options::default());
        prop_assert_eq!(&one, &greedy::solve(&inst, &Options::default()));
        prop_assert_eq!(&one, &greedy::solve(&inst, &Options { threads: 3, ..Options::default() }));
    }
}

#[test]
fn an_uncontended_instance_serves_every_query_that_can_meet_its_slo() {
    let inst = random::instance(&Spec::new(3, 50, 20, 0.2));
    let m = greedy::solve(&inst, &Options::default());
    let s = inst.score(&m);
    let possible: f64 = inst
        .queries
        .iter()
        .filter(|q| q.candidates.iter().any(|c| c.meets_slo))
        .map(|q| q.weight)
        .sum();
    assert_eq!(s.goodput, possible);
}

#[test]
fn warm_start_keeps_stable_queries_where_they_are() {
    let inst = random::instance(&Spec::new(5, 80, 10, 0.9));
    let first = greedy::solve(&inst, &Options::default());
    let mut again = inst.clone();
    for (q, c) in again.queries.iter_mut().zip(&first.choice) {
        q.current = *c;
    }
    let second = greedy::solve(&again, &Options::default());
    assert_eq!(
        again.score(&second).churn,
        0,
        "nothing changed, so nothing moves"
    );
    assert_eq!(
        again.score(&repair(&again, &Options::default())).churn,
        0,
        "a repair moves nothing either"
    );
}

/// One large component (every machine in one pool): the local search runs once, on the
/// best greedy order; capacities hold and goodput stays within 1% of searching every order.
#[test]
fn a_large_component_searches_once_and_keeps_capacity() {
    let mut spec = Spec::new(11, 2_500, 100, 3.0);
    spec.machines_per_pool = 100;
    let inst = random::instance(&spec);
    let once = greedy::solve(&inst, &Options::default());
    let every = greedy::solve(
        &inst,
        &Options {
            search_once_above: usize::MAX,
            ..Options::default()
        },
    );
    let (a, b) = (inst.score(&once), inst.score(&every));
    assert!(a.overloaded.is_empty(), "{:?}", a.overloaded);
    assert!(
        a.goodput >= 0.99 * b.goodput,
        "{} vs {}",
        a.goodput,
        b.goodput
    );
}
