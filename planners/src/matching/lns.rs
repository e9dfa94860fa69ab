//! The matcher's large-neighbourhood search, run on a component after the greedy fills and
//! the local search while some servable query is still left out (goodput mode).
//!
//! Why: the greedy orders and the depth-two ejection chains are local; on tight components
//! the optimum can move many queries at once. Each iteration destroys part of the
//! assignment and repairs it, then runs the local search, and keeps the result only if it is
//! better:
//! - even iterations free a pseudo-random fifth of the served queries and refill with a
//!   perturbed greedy order (plain or priced), which escapes where queries do not compete;
//! - odd iterations free every query served on two resources picked by the iteration (a
//!   *related* neighbourhood, where queries do compete) and refill exactly with a budgeted
//!   branch and bound ([`exact`]) when at most 24 queries are open (else with
//!   a perturbed greedy order); a neighbourhood searched to its end holds nothing better and
//!   is skipped until the next improvement.
//!
//! A work budget counted in (query, candidate) pairs is shared among components by size, so
//! small instances get many iterations and large ones few or none; a component stops after
//! 20 iterations without improvement. Deterministic: no clock, pseudo-random choices seeded
//! by the iteration.

use std::collections::{HashMap, HashSet};

use super::exact;
use super::greedy::{fill_goodput, jitter, Component, Order, EPS};
use super::local::improve;

/// Most open queries a large-neighbourhood repair searches exhaustively.
const EXACT_MAX_QUERIES: usize = 24;

/// Most destroy-and-repair iterations per component.
const MAX_LNS_ITERATIONS: usize = 300;

/// Stop a component's search after this many iterations without improvement.
const MAX_STALE_ITERATIONS: usize = 20;

/// Search the component from the assignment in `choice` (worth `best_value`, capacities
/// left in `residual`). Leaves the best assignment found in `choice` and `residual`.
pub(super) fn search(
    component: Component,
    mut best_value: f64,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) {
    let Component {
        inst,
        group,
        scale,
        opts,
        touched,
        price,
    } = component;
    let worth = |q: usize, c: usize| inst.value(q, c, scale) - inst.unserved_value(q, scale);
    let objective = |choice: &[Option<u32>]| inst.value_of(group, choice, scale);
    let pairs: usize = group
        .iter()
        .map(|&q| inst.queries[q].candidates.len())
        .sum::<usize>()
        .max(1);
    let share = opts.lns_budget as f64 * group.len() as f64 / inst.queries.len().max(1) as f64;
    let iterations = ((share / pairs as f64) as usize).min(MAX_LNS_ITERATIONS);
    // When every weight is a whole number, goodput comes in whole units: the exact repair
    // then looks only for a refill that serves at least one more unit (cost is left to the
    // local search), and prunes every node whose bound cannot reach it, which ends most
    // repairs within their budget. Its prices are the component's, in goodput units.
    let whole = inst.whole_weights(group);
    let goodput = |q: usize, c: usize| inst.goodput(q, c);
    let goodput_price: HashMap<u32, f64> = if whole {
        price.iter().map(|(&r, &p)| (r, p / scale)).collect()
    } else {
        HashMap::new()
    };
    let mut stale = 0;
    // Related neighbourhoods an exact repair has searched to the end since the last
    // improvement.
    let mut proven: HashSet<(u32, u32)> = HashSet::new();
    for it in 0..iterations {
        if stale >= MAX_STALE_ITERATIONS {
            break;
        }
        let saved_res: Vec<f64> = touched.iter().map(|&r| residual[r]).collect();
        let saved_choice: Vec<Option<u32>> = group.iter().map(|&q| choice[q]).collect();
        // Odd iterations destroy related queries (every query served on two resources
        // picked by the iteration), even ones a random fifth: related removal frees room
        // where the queries compete, random removal escapes where they do not.
        let related = it % 2 == 1 && touched.len() > 1;
        let (a, b) = (
            touched[(it / 2 * 7 + 3) % touched.len()] as u32,
            touched[(it / 2 * 13 + 5) % touched.len()] as u32,
        );
        // The neighbourhood is the pair as a set: (a, b) and (b, a) free the same queries.
        let (r1, r2) = (a.min(b), a.max(b));
        if related && proven.contains(&(r1, r2)) {
            // Searched exhaustively since the last improvement: nothing there.
            stale += 1;
            continue;
        }
        let (mut freed, mut freed_goodput) = (0.0, 0.0);
        for (i, &q) in group.iter().enumerate() {
            if let Some(c) = choice[q] {
                let out = if related {
                    inst.queries[q].candidates[c as usize]
                        .uses
                        .iter()
                        .any(|&(r, _)| r == r1 || r == r2)
                } else {
                    jitter(q.wrapping_add(7919 * (it + 1)), i) < 0.85
                };
                if out {
                    inst.take(residual, q, c as usize, -1.0);
                    choice[q] = None;
                    freed += worth(q, c as usize);
                    freed_goodput += goodput(q, c as usize);
                }
            }
        }
        let exact_open: Option<Vec<usize>> = (related && opts.exact_budget > 0)
            .then(|| {
                group
                    .iter()
                    .copied()
                    .filter(|&q| choice[q].is_none())
                    .collect::<Vec<usize>>()
            })
            .filter(|open| open.len() <= EXACT_MAX_QUERIES);
        if let Some(open) = exact_open {
            // Repair the freed resources exactly (see `exact`): a better refill of the
            // queries left open, or none.
            let found = if whole {
                exact::search(
                    inst,
                    &open,
                    residual,
                    goodput,
                    &goodput_price,
                    freed_goodput,
                    opts.exact_budget,
                    1.0,
                )
            } else {
                exact::search(
                    inst,
                    &open,
                    residual,
                    worth,
                    price,
                    freed,
                    opts.exact_budget,
                    0.0,
                )
            };
            match found.better {
                Some((_, better)) => {
                    for (&q, c) in open.iter().zip(better) {
                        choice[q] = c;
                        if let Some(c) = c {
                            inst.take(residual, q, c as usize, 1.0);
                        }
                    }
                }
                None if found.complete => {
                    proven.insert((r1, r2));
                }
                None => {}
            }
        } else {
            let order = if opts.prices && it % 4 >= 2 {
                Order::PricedSeeded(it + 1)
            } else {
                Order::Seeded(it + 1)
            };
            fill_goodput(inst, group, scale, order, price, residual, choice);
        }
        for _ in 0..opts.rounds {
            if !improve(inst, group, scale, residual, choice) {
                break;
            }
        }
        let value = objective(choice);
        if value > best_value + EPS {
            best_value = value;
            stale = 0;
            proven.clear();
        } else {
            stale += 1;
            for (i, &r) in touched.iter().enumerate() {
                residual[r] = saved_res[i];
            }
            for (i, &q) in group.iter().enumerate() {
                choice[q] = saved_choice[i];
            }
        }
    }
}
