//! Incremental repair: what the online matcher does between full solves.
//!
//! Why: in a live partition most queries are the same from one epoch to the next, and a
//! full solve ([`greedy::solve`](super::greedy::solve)) redoes all of them: several greedy
//! orders, each followed by local search over every served query. `perf` of the steady
//! stream of `compass bench --throughput` (10,000 live queries, 4,000 changes an epoch) put
//! a third of the planner in that local search. The repair keeps every plan in force that
//! still fits, places only the queries left without one (arrivals, queries whose plan no
//! longer exists or fits, queries that were left out before), and lets only them take part
//! in the local search: they may still eject a served query, which then moves or leaves if
//! that gains.
//!
//! What it gives up: served queries do not move to cheaper plans, queries left out and
//! unchanged since the last matching take free room but eject no one ([`repair_settled`]),
//! and the other greedy orders and the large-neighbourhood search do not run. The caller
//! runs a full solve every few epochs and whenever capacities change, so that nothing it
//! gives up is lost for long.
//!
//! Like the full solve, the result never exceeds a capacity and depends on nothing but the
//! instance (no clock, no randomness).

use std::collections::HashMap;

use super::greedy::{fill_cost, fill_goodput, keep_current, Options, Order};
use super::local::improve_among;
use super::{Instance, Matching, Mode};

/// Keep the plans in force that fit; place the queries left without one.
pub fn repair(inst: &Instance, opts: &Options) -> Matching {
    repair_settled(inst, opts, |_| false)
}

/// [`repair`], where `settled(q)` says query `q` was left out by the last matching and has
/// not changed since: it still takes room that the epoch freed (the greedy fill), but does
/// not try to eject a served query. Its ejections were tried at that matching, and the next
/// full solve tries them again; until then, an epoch costs its own changes, not a retry of
/// every query left out. (`perf` of the steady stream of `compass bench --throughput`, four
/// partitions: the retries' local search was 4.0% of the workers' time, 40% of the repair.)
pub fn repair_settled(
    inst: &Instance,
    opts: &Options,
    settled: impl Fn(usize) -> bool,
) -> Matching {
    let scale = inst.goodput_scale();
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice: Vec<Option<u32>> = vec![None; inst.queries.len()];
    keep_current(
        inst,
        0..inst.queries.len(),
        scale,
        &mut residual,
        &mut choice,
    );
    let worth = |q: usize, c: usize| inst.value(q, c, scale) - inst.unserved_value(q, scale);
    let movers: Vec<usize> = (0..inst.queries.len())
        .filter(|&q| {
            choice[q].is_none() && (0..inst.queries[q].candidates.len()).any(|c| worth(q, c) > 0.0)
        })
        .collect();
    if movers.is_empty() {
        return Matching { choice };
    }
    match inst.mode {
        Mode::Cost => fill_cost(inst, &movers, scale, &mut residual, &mut choice),
        Mode::Goodput => fill_goodput(
            inst,
            &movers,
            scale,
            Order::Sum,
            &HashMap::new(),
            &mut residual,
            &mut choice,
        ),
    }
    let everyone: Vec<usize> = (0..inst.queries.len()).collect();
    let movers: Vec<usize> = movers
        .into_iter()
        .filter(|&q| choice[q].is_some() || !settled(q))
        .collect();
    for _ in 0..opts.rounds {
        if !improve_among(inst, &everyone, &movers, scale, &mut residual, &mut choice) {
            break;
        }
    }
    Matching { choice }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::greedy;
    use crate::matching::random::{instance, Spec};

    /// An instance whose first half runs the plans a full solve chose and whose second half
    /// arrives new.
    fn half_new(seed: u64) -> Instance {
        let mut inst = instance(&Spec::new(seed, 200, 10, 1.5));
        let first = greedy::solve(&inst, &Options::default());
        for (q, query) in inst.queries.iter_mut().enumerate() {
            query.current = if q < 100 { first.choice[q] } else { None };
        }
        inst
    }

    #[test]
    fn keeps_plans_that_fit_and_never_overcommits() {
        for seed in 0..8 {
            let inst = half_new(seed);
            let m = repair(&inst, &Options::default());
            let s = inst.score(&m);
            assert!(s.overloaded.is_empty(), "seed {seed}: {:?}", s.overloaded);
            // The first half's plans fitted together before, so none of them moved off
            // unless a newcomer's ejection gained from it.
            let kept = (0..100)
                .filter(|&q| inst.queries[q].current.is_some())
                .filter(|&q| m.choice[q] == inst.queries[q].current)
                .count();
            let had = (0..100)
                .filter(|&q| inst.queries[q].current.is_some())
                .count();
            assert!(kept * 10 >= had * 9, "seed {seed}: kept {kept} of {had}");
            assert!(s.goodput > 0.0);
        }
    }

    #[test]
    fn a_settled_query_takes_free_room_but_ejects_no_one() {
        use crate::matching::{Candidate, QueryDemand, Resource};
        // One machine that holds one query. "a" runs there (worth 1); "b" (worth 3) was left
        // out. Unsettled, "b" ejects "a"; settled, it leaves "a" where it is. And when "a"
        // no longer fits (its plan outgrew the machine), a settled "b" takes the free room.
        let query = |id: &str, weight: f64, current: Option<u32>| QueryDemand {
            id: id.into(),
            weight,
            candidates: vec![Candidate {
                uses: vec![(0, 1.0)],
                cost_usd_per_hour: 0.0,
                meets_slo: true,
            }],
            current,
        };
        let inst = Instance {
            resources: vec![Resource {
                name: "gpu".into(),
                capacity: 1.0,
                pool: 0,
            }],
            queries: vec![query("a", 1.0, Some(0)), query("b", 3.0, None)],
            mode: Mode::Goodput,
            churn_penalty: 0.1,
        };
        let opts = Options::default();
        assert_eq!(repair(&inst, &opts).choice, vec![None, Some(0)]);
        assert_eq!(
            repair_settled(&inst, &opts, |q| q == 1).choice,
            vec![Some(0), None]
        );
        let mut alone = inst.clone();
        alone.queries[0].candidates[0].uses = vec![(0, 2.0)];
        alone.queries[0].current = None;
        assert_eq!(
            repair_settled(&alone, &opts, |q| q == 1).choice,
            vec![None, Some(0)]
        );
    }

    #[test]
    fn is_deterministic() {
        let inst = half_new(3);
        assert_eq!(
            repair(&inst, &Options::default()),
            repair(&inst, &Options::default())
        );
    }
}
