//! The matcher's local search: served queries move to a better candidate that fits, and an
//! unserved query may take a candidate by ejecting one served query, which moves to another
//! of its candidates or stays out if it is worth less (an ejection chain of depth two).
//!
//! Rivals are only tried where they can make room: a rival must free enough of every short
//! resource on its own, so it is looked for among the users of the first one. And an
//! attempt (candidate uses, gain) that found no rival finds none again until something
//! changes, so copies of one spec (common in a cluster) cost one attempt per round, not one
//! each. Neither prunes an ejection that could succeed.

use super::Instance;

const EPS: f64 = 1e-9;

/// A hash of a candidate's resource uses and a gain (no allocation: it runs for every
/// ejection attempt). A hit is confirmed against the attempt it names, so a collision
/// never skips anything.
fn signature(uses: &[(u32, f64)], gain: f64) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    for &(r, a) in uses {
        r.hash(&mut h);
        a.to_bits().hash(&mut h);
    }
    gain.to_bits().hash(&mut h);
    h.finish()
}

/// An attempt that found no rival: (query, candidate, gain, changes made before it).
type Failed = (usize, usize, f64, usize);

/// The served queries of a group by resource, at the start of a round.
enum Users {
    /// A list per resource of the instance: cheap when the group uses most of them.
    Dense(Vec<Vec<usize>>),
    /// (resource, query) pairs in order: a small component of a large instance touches few
    /// of its resources, and zeroing a table over all of them for every round cost a fifth
    /// of the 100,000-query solve.
    Sparse(Vec<(u32, usize)>),
}

impl Users {
    fn of(inst: &Instance, group: &[usize], choice: &[Option<u32>]) -> Users {
        let served_uses: usize = group
            .iter()
            .filter_map(|&q| choice[q].map(|c| inst.queries[q].candidates[c as usize].uses.len()))
            .sum();
        Users::build(inst, group, choice, inst.resources.len() <= 4 * served_uses)
    }

    fn build(inst: &Instance, group: &[usize], choice: &[Option<u32>], dense: bool) -> Users {
        let pairs = group
            .iter()
            .filter_map(|&q| choice[q].map(|c| (q, c)))
            .flat_map(|(q, c)| {
                inst.queries[q].candidates[c as usize]
                    .uses
                    .iter()
                    .map(move |&(r, _)| (r, q))
            });
        if dense {
            let mut users = vec![Vec::new(); inst.resources.len()];
            for (r, q) in pairs {
                if let Some(u) = users.get_mut(r as usize) {
                    u.push(q);
                }
            }
            Users::Dense(users)
        } else {
            let mut users: Vec<(u32, usize)> = pairs.collect();
            users.sort_unstable();
            Users::Sparse(users)
        }
    }

    /// Append the queries served on resource `r` to `out`.
    fn push_users_of(&self, r: u32, out: &mut Vec<usize>) {
        match self {
            Users::Dense(users) => out.extend(users.get(r as usize).into_iter().flatten()),
            Users::Sparse(users) => {
                let from = users.partition_point(|&(x, _)| x < r);
                let to = users.partition_point(|&(x, _)| x <= r);
                out.extend(users[from..to].iter().map(|&(_, q)| q));
            }
        }
    }
}

/// One round of local search over `group`; true if anything improved.
pub(super) fn improve(
    inst: &Instance,
    group: &[usize],
    scale: f64,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) -> bool {
    improve_among(inst, group, group, scale, residual, choice)
}

/// One round of local search in which only `movers` try to move or enter; any served query
/// of `group` may be ejected to make room for them. With `movers` = `group` this is the
/// whole round; the incremental repair passes the few queries an epoch left without a plan.
pub(super) fn improve_among(
    inst: &Instance,
    group: &[usize],
    movers: &[usize],
    scale: f64,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) -> bool {
    let value_of = |q: usize, c: Option<u32>| match c {
        Some(c) => inst.value(q, c as usize, scale),
        None => inst.unserved_value(q, scale),
    };
    let users = Users::of(inst, group, choice);
    let mut improved = false;
    // Served queries move to a better candidate that fits.
    for &q in movers {
        let Some(cur) = choice[q] else { continue };
        inst.take(residual, q, cur as usize, -1.0);
        let mut best = (value_of(q, Some(cur)), cur as usize);
        for c in 0..inst.queries[q].candidates.len() {
            let v = inst.value(q, c, scale);
            if v > best.0 + EPS && inst.fits(residual, q, c) {
                best = (v, c);
            }
        }
        inst.take(residual, q, best.1, 1.0);
        if best.1 != cur as usize {
            choice[q] = Some(best.1 as u32);
            improved = true;
        }
    }
    // Unserved queries eject one served query, which moves elsewhere or leaves.
    // A (candidate, gain) that found no rival to eject finds none again until something
    // changes: queries with the same candidates (copies of one spec, common in a cluster)
    // are then skipped, which keeps a round linear in them instead of quadratic.
    let mut changes = 0usize;
    // Sized up front for the attempts the round can make (up to a bound; beyond it growth is
    // amortized): growing it attempt by attempt from empty cost a tenth of a small
    // component's whole solve in rehashing.
    let attempts: usize = movers
        .iter()
        .filter(|&&q| choice[q].is_none())
        .map(|&q| inst.queries[q].candidates.len())
        .sum::<usize>()
        .min(1024);
    let mut failed: foldhash::HashMap<u64, Failed> =
        foldhash::HashMap::with_capacity_and_hasher(attempts, Default::default());
    // Buffers reused by every attempt.
    let (mut short, mut rivals): (Vec<(u32, f64)>, Vec<usize>) = (Vec::new(), Vec::new());
    for &q in movers {
        if choice[q].is_some() {
            continue;
        }
        'candidates: for c in 0..inst.queries[q].candidates.len() {
            let gain_q = inst.value(q, c, scale) - inst.unserved_value(q, scale);
            if gain_q <= EPS {
                continue;
            }
            if inst.fits(residual, q, c) {
                inst.take(residual, q, c, 1.0);
                choice[q] = Some(c as u32);
                improved = true;
                changes += 1;
                break 'candidates;
            }
            let uses = &inst.queries[q].candidates[c].uses;
            let key = signature(uses, gain_q);
            if failed.get(&key).is_some_and(|&(fq, fc, fg, at)| {
                at == changes
                    && fg.to_bits() == gain_q.to_bits()
                    && inst.queries[fq].candidates[fc].uses == *uses
            }) {
                continue;
            }
            // Only a rival that frees enough of every short resource on its own can make
            // room, so it uses the first short resource: look among its users only.
            short.clear();
            short.extend(
                uses.iter()
                    .filter(|&&(r, a)| residual[r as usize] + 1e-9 < a)
                    .map(|&(r, a)| (r, a - residual[r as usize])),
            );
            let Some(&(first, _)) = short.first() else {
                continue;
            };
            rivals.clear();
            users.push_users_of(first, &mut rivals);
            rivals.retain(|&p| {
                p != q
                    && choice[p].is_some_and(|pc| {
                        let held = &inst.queries[p].candidates[pc as usize].uses;
                        short.iter().all(|&(r, need)| {
                            held.iter().any(|&(hr, ha)| hr == r && ha + 1e-9 >= need)
                        })
                    })
            });
            rivals.sort_unstable();
            rivals.dedup();
            failed.insert(key, (q, c, gain_q, changes));
            for &p in &rivals {
                let Some(pc) = choice[p] else { continue };
                inst.take(residual, p, pc as usize, -1.0);
                if inst.fits(residual, q, c) {
                    inst.take(residual, q, c, 1.0);
                    // Where can p go now?
                    let mut alt = (inst.unserved_value(p, scale), None);
                    for c2 in 0..inst.queries[p].candidates.len() {
                        let v = inst.value(p, c2, scale);
                        if v > alt.0 + EPS && inst.fits(residual, p, c2) {
                            alt = (v, Some(c2));
                        }
                    }
                    let gain = gain_q + alt.0 - value_of(p, Some(pc));
                    if gain > EPS {
                        if let Some(c2) = alt.1 {
                            inst.take(residual, p, c2, 1.0);
                        }
                        choice[q] = Some(c as u32);
                        choice[p] = alt.1.map(|x| x as u32);
                        improved = true;
                        changes += 1;
                        break 'candidates;
                    }
                    inst.take(residual, q, c, -1.0);
                }
                inst.take(residual, p, pc as usize, 1.0);
            }
        }
    }
    improved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::greedy::{self, Options};
    use crate::matching::random::{self, Spec};

    #[test]
    fn both_ways_of_listing_users_give_the_same_users() {
        for seed in 0..5 {
            let inst = random::instance(&Spec::new(seed, 60, 12, 1.5));
            let choice = greedy::solve(&inst, &Options::default()).choice;
            let group: Vec<usize> = (0..inst.queries.len()).collect();
            let dense = Users::build(&inst, &group, &choice, true);
            let sparse = Users::build(&inst, &group, &choice, false);
            for r in 0..inst.resources.len() as u32 + 1 {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                dense.push_users_of(r, &mut a);
                sparse.push_users_of(r, &mut b);
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "seed {seed}, resource {r}");
            }
        }
    }
}
