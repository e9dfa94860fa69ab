//! The fast online matcher.
//!
//! 1. **Components.** Queries whose candidates share no resource never compete, so the
//!    instance splits into independent components (in practice, resource pools), solved one
//!    after another or on scoped threads.
//! 2. **Warm start.** Every query keeps its current candidate while it still fits: stable
//!    assignments, little churn.
//! 3. **Greedy by value density.** The remaining (query, candidate) pairs, in decreasing
//!    order of objective value per unit of normalized footprint, are placed if they fit.
//!    Three orders are tried (summed footprint, bottleneck footprint, a fixed perturbation)
//!    and the best result kept. In cost mode, where every query must be served, queries go
//!    largest footprint first and each takes its cheapest candidate that fits (first-fit
//!    decreasing).
//! 4. **Local search.** An unserved query may take a candidate by ejecting one served query
//!    that moves to another of its candidates (or stays out if it is worth less): an
//!    ejection chain of depth two (see `local`). Served queries move to a better candidate
//!    when it fits. Rounds repeat until nothing improves or the round limit is hit. On a
//!    component of `search_once_above` queries or more, the orders are compared after their
//!    greedy fills and the local search runs once, on the best (it costs several fills).
//! 5. **Lagrangian step** (goodput mode, only while some servable query is left out, on
//!    components small enough for their share of the budget): bound the component's goodput
//!    by relaxing "one plan per query", take the better assignments the relaxation suggests,
//!    search for one more unit where the bound leaves room; a component proven optimal is
//!    done (see `certify`).
//! 6. **Large-neighbourhood search** (otherwise): destroy part of the assignment, repair it
//!    (perturbed greedy, or exactly), local search, keep the result if it is better (see
//!    `lns`).
//!
//! Every step keeps capacities: the result never over-commits a resource.

use std::collections::HashMap;

use super::local::improve;
use super::{certify, lns, prices, Instance, Matching, Mode};

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Local-search rounds at most (0: greedy only).
    pub rounds: usize,
    /// Solve independent components on this many threads (1: sequential).
    pub threads: usize,
    /// Start from each query's current candidate.
    pub warm_start: bool,
    /// Work budget of the large-neighbourhood search, in (query, candidate) pairs examined,
    /// shared among components by size: small instances get many destroy-and-repair
    /// iterations, large ones few or none. Deterministic (counted, not timed).
    pub lns_budget: usize,
    /// Also try the greedy orders that use Lagrangian resource prices (see `prices`).
    pub prices: bool,
    /// Node budget of each exact repair in the large-neighbourhood search (see `exact`;
    /// 0: off, every repair is greedy). Deterministic (counted, not timed).
    pub exact_budget: usize,
    /// Components with at least this many queries compare the greedy orders before local
    /// search and run it once, on the best: there the local search costs several times the
    /// greedy fills, and the warm start leaves the orders little to differ in.
    pub search_once_above: usize,
    /// Work budget of the Lagrangian step run before the large-neighbourhood search, in
    /// knapsack nodes, shared among components by size like `lns_budget` (0: off). The step
    /// bounds a component's goodput, searches for more where the bound leaves room, and a
    /// component it proves optimal skips the large-neighbourhood search (see `certify`).
    /// Deterministic (counted, not timed).
    pub certify_budget: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 4,
            lns_budget: 200_000,
            threads: 1,
            warm_start: true,
            prices: true,
            exact_budget: 2_000,
            search_once_above: 2_000,
            certify_budget: 20_000,
        }
    }
}

pub(super) const EPS: f64 = 1e-9;

/// What the steps after the greedy fills (the Lagrangian step, the large-neighbourhood
/// search) know about the component they work on.
#[derive(Clone, Copy)]
pub(super) struct Component<'a> {
    pub inst: &'a Instance,
    /// The component's queries.
    pub group: &'a [usize],
    /// The objective's goodput scale ([`Instance::goodput_scale`]).
    pub scale: f64,
    pub opts: &'a Options,
    /// The resources the component's candidates use.
    pub touched: &'a [usize],
    /// The component's Lagrangian resource prices (empty if none were computed).
    pub price: &'a HashMap<u32, f64>,
}

/// Groups of queries that share resources (union-find over the resources they use).
fn components(inst: &Instance) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..inst.resources.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for q in &inst.queries {
        let mut first = None;
        for c in &q.candidates {
            for &(r, _) in &c.uses {
                let r = find(&mut parent, r as usize);
                match first {
                    None => first = Some(r),
                    Some(f) if f != r => parent[r] = f,
                    _ => {}
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut free = Vec::new();
    for (i, q) in inst.queries.iter().enumerate() {
        match q.candidates.iter().flat_map(|c| c.uses.first()).next() {
            Some(&(r, _)) => groups
                .entry(find(&mut parent, r as usize))
                .or_default()
                .push(i),
            None => free.push(i),
        }
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    if !free.is_empty() {
        out.push(free);
    }
    out.sort_by_key(|g| g[0]);
    out
}

/// Solve `inst`; the result never exceeds a capacity.
pub fn solve(inst: &Instance, opts: &Options) -> Matching {
    let groups = components(inst);
    let scale = inst.goodput_scale();
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice = vec![None; inst.queries.len()];
    if opts.threads <= 1 || groups.len() < 2 {
        for g in &groups {
            solve_group(inst, g, scale, opts, &mut residual, &mut choice);
        }
        return Matching { choice };
    }
    // Components touch disjoint resources and queries: solve them on scoped threads, each
    // with its own copy of the capacities, and merge the choices.
    let chunks: Vec<Vec<&Vec<usize>>> = {
        let mut c: Vec<Vec<&Vec<usize>>> = vec![Vec::new(); opts.threads];
        for (i, g) in groups.iter().enumerate() {
            c[i % opts.threads].push(g);
        }
        c
    };
    let results: Vec<Vec<(usize, Option<u32>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut residual: Vec<f64> =
                        inst.resources.iter().map(|r| r.capacity).collect();
                    let mut local = vec![None; inst.queries.len()];
                    for g in chunk {
                        solve_group(inst, g, scale, opts, &mut residual, &mut local);
                    }
                    chunk
                        .iter()
                        .flat_map(|g| g.iter().map(|&q| (q, local[q])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for r in results {
        for (q, c) in r {
            choice[q] = c;
        }
    }
    Matching { choice }
}

fn footprint(inst: &Instance, q: usize, c: usize) -> f64 {
    inst.queries[q].candidates[c]
        .uses
        .iter()
        .map(|&(r, a)| a / inst.resources[r as usize].capacity.max(EPS))
        .sum::<f64>()
        .max(EPS)
}

/// How the greedy orders (query, candidate) pairs in goodput mode; each order is tried and
/// the best result kept, because no single order wins on every instance.
#[derive(Debug, Clone, Copy)]
pub(super) enum Order {
    /// Value per unit of summed normalized footprint.
    Sum,
    /// Value per unit of the largest normalized use (the bottleneck resource).
    Bottleneck,
    /// `Sum`, perturbed by a deterministic ±25% factor per pair.
    Perturbed,
    /// `Sum`, perturbed differently for each large-neighbourhood iteration.
    Seeded(usize),
    /// Value per unit of priced footprint (Lagrangian resource prices, see `prices`).
    Priced,
    /// Value minus priced footprint (the pair's reduced profit).
    Reduced,
    /// `Priced`, perturbed differently for each large-neighbourhood iteration.
    PricedSeeded(usize),
}

fn bottleneck(inst: &Instance, q: usize, c: usize) -> f64 {
    inst.queries[q].candidates[c]
        .uses
        .iter()
        .map(|&(r, a)| a / inst.resources[r as usize].capacity.max(EPS))
        .fold(EPS, f64::max)
}

/// A fixed pseudo-random factor in [0.75, 1.25) for a pair (SplitMix64 of its indices).
pub(super) fn jitter(q: usize, c: usize) -> f64 {
    let mut z = (q as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (c as u64).wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    0.75 + (z >> 11) as f64 / (1u64 << 53) as f64 * 0.5
}

/// Warm start: each query of `queries`, in order, keeps its current candidate while that is
/// worth serving and still fits in `residual`.
pub(super) fn keep_current(
    inst: &Instance,
    queries: impl Iterator<Item = usize>,
    scale: f64,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) {
    for q in queries {
        let Some(cur) = inst.queries[q].current else {
            continue;
        };
        let c = cur as usize;
        if c < inst.queries[q].candidates.len()
            && inst.value(q, c, scale) - inst.unserved_value(q, scale) > 0.0
            && inst.fits(residual, q, c)
        {
            inst.take(residual, q, c, 1.0);
            choice[q] = Some(cur);
        }
    }
}

fn solve_group(
    inst: &Instance,
    group: &[usize],
    scale: f64,
    opts: &Options,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) {
    let worth = |q: usize, c: usize| inst.value(q, c, scale) - inst.unserved_value(q, scale);
    if opts.warm_start {
        keep_current(inst, group.iter().copied(), scale, residual, choice);
    }
    if inst.mode == Mode::Cost {
        fill_cost(inst, group, scale, residual, choice);
        for _ in 0..opts.rounds {
            if !improve(inst, group, scale, residual, choice) {
                break;
            }
        }
        return;
    }
    // Try each order from the same warm start; keep the best. Only this group's resources
    // and queries change, so only they are saved and restored.
    let mut touched: Vec<usize> = group
        .iter()
        .flat_map(|&q| {
            inst.queries[q]
                .candidates
                .iter()
                .flat_map(|c| c.uses.iter().map(|&(r, _)| r as usize))
        })
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let start_residual: Vec<f64> = touched.iter().map(|&r| residual[r]).collect();
    let start_choice: Vec<Option<u32>> = group.iter().map(|&q| choice[q]).collect();
    let objective = |choice: &[Option<u32>]| inst.value_of(group, choice, scale);
    // The priced orders run only where the plain ones left a servable query out: on
    // uncontended components the prices would cost a subgradient pass for nothing.
    let plain = [Order::Sum, Order::Bottleneck, Order::Perturbed];
    let priced: &[Order] = if opts.prices {
        &[Order::Priced, Order::Reduced]
    } else {
        &[]
    };
    let mut price = HashMap::new();
    let search_once = group.len() >= opts.search_once_above;
    let mut best: Option<(f64, Vec<f64>, Vec<Option<u32>>)> = None;
    for (k, &order) in plain.iter().chain(priced).enumerate() {
        for (i, &r) in touched.iter().enumerate() {
            residual[r] = start_residual[i];
        }
        for (i, &q) in group.iter().enumerate() {
            choice[q] = start_choice[i];
        }
        if k == plain.len() {
            let left_out = best.as_ref().is_some_and(|b| {
                starved(inst, group.iter().copied().zip(b.2.iter().copied()), worth)
            });
            if !left_out {
                break;
            }
            price = prices::prices(inst, group, residual, worth, |q| choice[q].is_none());
        }
        fill_goodput(inst, group, scale, order, &price, residual, choice);
        if !search_once {
            for _ in 0..opts.rounds {
                if !improve(inst, group, scale, residual, choice) {
                    break;
                }
            }
        }
        let value = objective(choice);
        if best.as_ref().is_none_or(|b| value > b.0 + EPS) {
            best = Some((
                value,
                touched.iter().map(|&r| residual[r]).collect(),
                group.iter().map(|&q| choice[q]).collect(),
            ));
        }
    }
    let Some((_, res, ch)) = best else {
        return;
    };
    for (i, &r) in touched.iter().enumerate() {
        residual[r] = res[i];
    }
    for (i, &q) in group.iter().enumerate() {
        choice[q] = ch[i];
    }
    if search_once {
        for _ in 0..opts.rounds {
            if !improve(inst, group, scale, residual, choice) {
                break;
            }
        }
    }
    if starved(inst, group.iter().map(|&q| (q, choice[q])), worth) {
        let component = Component {
            inst,
            group,
            scale,
            opts,
            touched: &touched,
            price: &price,
        };
        if opts.certify_budget > 0 && certify::certify(component, residual, choice) {
            return;
        }
        let value = objective(choice);
        lns::search(component, value, residual, choice);
    }
}

/// Whether some query without a plan (`None`) has a candidate worth serving.
fn starved(
    inst: &Instance,
    mut choices: impl Iterator<Item = (usize, Option<u32>)>,
    worth: impl Fn(usize, usize) -> f64,
) -> bool {
    choices.any(|(q, c)| {
        c.is_none() && (0..inst.queries[q].candidates.len()).any(|c| worth(q, c) > 0.0)
    })
}

pub(super) fn fill_goodput(
    inst: &Instance,
    group: &[usize],
    scale: f64,
    order: Order,
    price: &HashMap<u32, f64>,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) {
    let worth = |q: usize, c: usize| inst.value(q, c, scale) - inst.unserved_value(q, scale);
    let priced = |q: usize, c: usize| prices::priced_use(inst, price, q, c);
    let mut pairs: Vec<(f64, usize, usize)> = group
        .iter()
        .flat_map(|&q| (0..inst.queries[q].candidates.len()).map(move |c| (q, c)))
        // Capacities only shrink during the fill, so a pair that does not fit now never
        // will: left out before the sort (on a contended partition, most of them).
        .filter(|&(q, c)| choice[q].is_none() && worth(q, c) > 0.0 && inst.fits(residual, q, c))
        .map(|(q, c)| {
            let key = match order {
                Order::Sum => worth(q, c) / footprint(inst, q, c),
                Order::Bottleneck => worth(q, c) / bottleneck(inst, q, c),
                Order::Perturbed => worth(q, c) / footprint(inst, q, c) * jitter(q, c),
                Order::Seeded(s) => {
                    worth(q, c) / footprint(inst, q, c)
                        * jitter(q.wrapping_mul(31).wrapping_add(s), c)
                }
                // Ties among unpriced pairs go to the smaller footprint.
                Order::Priced => {
                    worth(q, c) / (priced(q, c) + EPS * footprint(inst, q, c) * worth(q, c))
                }
                Order::Reduced => worth(q, c) - priced(q, c),
                Order::PricedSeeded(s) => {
                    worth(q, c) / (priced(q, c) + EPS * footprint(inst, q, c) * worth(q, c))
                        * jitter(q.wrapping_mul(31).wrapping_add(s), c)
                }
            };
            (key, q, c)
        })
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (_, q, c) in pairs {
        if choice[q].is_none() && inst.fits(residual, q, c) {
            inst.take(residual, q, c, 1.0);
            choice[q] = Some(c as u32);
        }
    }
}

pub(super) fn fill_cost(
    inst: &Instance,
    group: &[usize],
    scale: f64,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) {
    let mut order: Vec<(f64, usize)> = group
        .iter()
        .filter(|&&q| choice[q].is_none())
        .map(|&q| {
            let min = (0..inst.queries[q].candidates.len())
                .map(|c| footprint(inst, q, c))
                .fold(f64::INFINITY, f64::min);
            (min, q)
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, q) in order {
        let best = (0..inst.queries[q].candidates.len())
            .filter(|&c| inst.fits(residual, q, c))
            .max_by(|&a, &b| {
                inst.value(q, a, scale)
                    .total_cmp(&inst.value(q, b, scale))
                    .then(b.cmp(&a))
            });
        if let Some(c) = best {
            inst.take(residual, q, c, 1.0);
            choice[q] = Some(c as u32);
        }
    }
}
